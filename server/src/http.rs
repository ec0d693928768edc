//! The HTTP service: Leptos pages and server functions, health endpoints, and the layers
//! every request passes through (tracing, cross-origin protection).

use axum::{
    Router,
    extract::{Path, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use app::ssr::state::AppState;
use app::{App, shell};

/// Builds the complete router for `state`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/requests/{id}/plan.ps1", get(runbook_file))
        .route("/requests/{id}/plan.txt", get(plan_file))
        .route("/requests/{id}/facts.json", get(facts_file))
        .route("/runs/{id}/transcript.txt", get(transcript_file))
        .route("/requests/{id}/run/events", get(crate::live::run_events))
        .leptos_routes_with_context(&state, routes, || (), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(cross_origin_guard))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
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

/// Whether the request carries a valid session.
pub(crate) async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    use app::ssr::auth;
    match auth::session_token(headers) {
        Some(token) => matches!(auth::user_for_token(&state.db, &token).await, Ok(Some(_))),
        None => false,
    }
}

/// `text` as a file named `name`.
fn attachment(name: &str, content_type: &'static str, text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response()
}

fn database_error(e: sea_orm::DbErr) -> Response {
    tracing::error!(error = %e, "loading a download");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// A request's stored plan or facts, as a download for the signed-in person.
async fn download(
    state: &AppState,
    headers: &HeaderMap,
    id: i32,
    name: &str,
    content_type: &'static str,
    body: impl FnOnce(&app::ssr::entities::change_requests::Model) -> Option<String>,
) -> Response {
    use app::ssr::entities::change_requests;
    use sea_orm::EntityTrait;
    if !signed_in(state, headers).await {
        return (StatusCode::UNAUTHORIZED, "Sign in to download plans.").into_response();
    }
    let row = match change_requests::Entity::find_by_id(id).one(&state.db).await {
        Ok(Some(row)) => row,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such request.").into_response(),
        Err(e) => return database_error(e),
    };
    match body(&row) {
        Some(text) => attachment(&format!("imlink-request-{id}-{name}"), content_type, text),
        None => (StatusCode::NOT_FOUND, "This request has not been planned.").into_response(),
    }
}

/// A run's transcript (see [`crate::render::transcript`]).
async fn transcript_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    headers: HeaderMap,
) -> Response {
    use app::ssr::entities::jobs;
    use sea_orm::EntityTrait;
    if !signed_in(&state, &headers).await {
        return (StatusCode::UNAUTHORIZED, "Sign in to download transcripts.").into_response();
    }
    let job = match jobs::Entity::find_by_id(id).one(&state.db).await {
        Ok(Some(job)) => job,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such run.").into_response(),
        Err(e) => return database_error(e),
    };
    let steps = match app::ssr::runs::steps(&state.db, id).await {
        Ok(steps) => steps,
        Err(e) => return database_error(e),
    };
    attachment(
        &format!("imlink-run-{id}-transcript.txt"),
        "text/plain; charset=utf-8",
        crate::render::transcript(&job, &steps),
    )
}

/// The plan as one runbook script (UTF-8 with BOM).
async fn runbook_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    headers: HeaderMap,
) -> Response {
    download(
        &state,
        &headers,
        id,
        "plan.ps1",
        "text/plain; charset=utf-8",
        |row| app::ssr::plans::stored(row).map(|plan| crate::render::runbook(&plan)),
    )
    .await
}

/// The plan for people to read.
async fn plan_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    headers: HeaderMap,
) -> Response {
    download(
        &state,
        &headers,
        id,
        "plan.txt",
        "text/plain; charset=utf-8",
        |row| app::ssr::plans::stored(row).map(|plan| crate::render::text(&plan)),
    )
    .await
}

/// The environment facts the plan was made from, to replay it with `imlink plan`.
async fn facts_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    headers: HeaderMap,
) -> Response {
    download(
        &state,
        &headers,
        id,
        "facts.json",
        "application/json",
        |row| row.facts_json.clone(),
    )
    .await
}

/// Refuses state-changing requests sent by another site (CSRF). Server functions have no
/// token of their own, so every non-safe method goes through this check, which follows the
/// Fetch Metadata / Origin algorithm of Go's `CrossOriginProtection`.
async fn cross_origin_guard(request: Request, next: Next) -> Response {
    if is_cross_origin(request.method(), request.headers()) {
        tracing::warn!(uri = %request.uri(), "refused a cross-origin request");
        return (
            StatusCode::FORBIDDEN,
            "Cross-origin requests that change data are refused.",
        )
            .into_response();
    }
    next.run(request).await
}

/// Whether a request must be refused as cross-origin.
pub fn is_cross_origin(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser request: nothing ambient to abuse.
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin_host.is_none() || origin_host != host
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    /// Method, request headers, and whether the request is refused.
    type Case = (Method, &'static [(&'static str, &'static str)], bool);

    #[test]
    fn cross_origin_table() {
        let cases: &[Case] = &[
            (Method::GET, &[("sec-fetch-site", "cross-site")], false),
            (Method::POST, &[("sec-fetch-site", "same-origin")], false),
            (Method::POST, &[("sec-fetch-site", "none")], false),
            (Method::POST, &[("sec-fetch-site", "cross-site")], true),
            (Method::POST, &[("sec-fetch-site", "same-site")], true),
            (Method::POST, &[], false),
            (
                Method::POST,
                &[
                    ("origin", "http://127.0.0.1:3000"),
                    ("host", "127.0.0.1:3000"),
                ],
                false,
            ),
            (
                Method::POST,
                &[
                    ("origin", "http://evil.example"),
                    ("host", "127.0.0.1:3000"),
                ],
                true,
            ),
            (
                Method::POST,
                &[("origin", "null"), ("host", "127.0.0.1:3000")],
                true,
            ),
        ];
        for (method, pairs, refused) in cases {
            assert_eq!(
                is_cross_origin(method, &headers(pairs)),
                *refused,
                "{method} {pairs:?}"
            );
        }
    }
}
