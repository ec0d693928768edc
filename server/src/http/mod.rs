//! The HTTP service: Leptos pages and server functions, downloads, live run events, health
//! endpoints, and the guards every request passes through (see [`guards`]).

pub mod downloads;
pub mod guards;
pub mod live;
pub mod oidc;

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::{
    Router,
    extract::{Request, State},
    handler::Handler,
    http::{Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter, on},
};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use app::ssr::state::AppState;
use app::{App, shell};

/// One of imlink's own routes (besides the pages and server functions Leptos registers).
pub struct OwnRoute {
    pub path: &'static str,
    pub method: Method,
    handler: MethodRouter<AppState>,
}

fn own<H, T>(path: &'static str, method: Method, handler: H) -> OwnRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
    OwnRoute {
        path,
        method,
        handler: on(filter, handler),
    }
}

/// imlink's own routes, each with its method: the router is built from this table, and the
/// tests walk it.
pub fn own_routes() -> Vec<OwnRoute> {
    vec![
        own("/healthz", Method::GET, healthz),
        own("/readyz", Method::GET, readyz),
        own("/auth/oidc/login", Method::GET, oidc::login),
        own("/auth/oidc/callback", Method::GET, oidc::callback),
        own(
            app::ssr::state::PROVIDER_SIGN_OUT_PATH,
            Method::GET,
            oidc::signed_out,
        ),
        own(
            "/requests/{id}/plan.ps1",
            Method::GET,
            downloads::runbook_file,
        ),
        own("/requests/{id}/plan.txt", Method::GET, downloads::plan_file),
        own(
            "/requests/{id}/facts.json",
            Method::GET,
            downloads::facts_file,
        ),
        own(
            "/runs/{id}/transcript.txt",
            Method::GET,
            downloads::transcript_file,
        ),
        own("/requests/{id}/run/events", Method::GET, live::run_events),
        own(
            "/people/scans/{id}/results.csv",
            Method::GET,
            downloads::scan_csv,
        ),
        own(
            "/people/scans/{id}/results.json",
            Method::GET,
            downloads::scan_json,
        ),
    ]
}

/// Builds the complete router for `state`.
pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let options = state.leptos_options.clone();
    let mut router = Router::new();
    for route in own_routes() {
        router = router.route(route.path, route.handler);
    }
    // Layers run outermost last-added: tracing, gzip for clients that accept it (pages,
    // scripts, styles; not the live event streams, which must not be buffered, nor the
    // WebAssembly, whose megabytes would be compressed again for every page load, nor the
    // streamed exports, whose downloads Chromium cancelled when compressed), then the security headers (so every answer, refusals included, carries them),
    // the Host check, the cross-origin guard, and the handling of no-JavaScript form errors and
    // cross-site navigations.
    router
        .leptos_routes_with_context(&state, routes, || (), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(server_function_error_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guards::navigation,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guards::cross_origin,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guards::allowed_host,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guards::security_headers,
        ))
        .layer(
            CompressionLayer::new().gzip(true).compress_when(
                DefaultPredicate::new()
                    .and(NotForContentType::const_new("application/wasm"))
                    .and(NotForContentType::const_new("text/csv"))
                    .and(NotForContentType::const_new("application/x-ndjson")),
            ),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// The pages' routes, generated once per process. Generating them suppresses the loading of
/// resources in the whole process while it runs (leptos#4773): a page rendering at that moment
/// would wait forever, as one did when tests started portals side by side.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Serves the portal on `listener` until `shutdown` resolves. Handlers see the connection's
/// peer address (the demo sign-in and the sign-in rate limit need it).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match app::ssr::requests::ping(&state.db).await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// Gives a server function's error answer the status of its error. Errors raised inside a
/// function get theirs from it (`app::ssr::reply`); those raised before it runs (arguments
/// that cannot be read) would otherwise all be 500.
async fn server_function_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response
            .headers()
            .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
