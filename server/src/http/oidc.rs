//! The OpenID Connect routes: `GET /auth/oidc/login` starts a sign-in at the provider,
//! `GET /auth/oidc/callback` finishes it, `GET /auth/oidc/signed-out` sends a browser on to the
//! provider's sign-out.
//!
//! The browser that starts a sign-in gets a short-lived `SameSite=Lax` cookie (it must come back
//! with the provider's redirect, a cross-site navigation); the sign-in is finished only for that
//! browser. The session cookie stays `SameSite=Strict`: the callback answers with a page of the
//! portal that moves on to the return path, a same-origin step.

use std::net::SocketAddr;

use askama::Template;
use axum::{
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use serde::Deserialize;

use app::domain::sign_in::{SignInMethod, SignInRefusal, safe_return_to};
use app::ssr::{auth, state::AppState};

use crate::oidc::{Failure, Provider, pending};

/// The cookie tying a sign-in in progress to its browser.
const BROWSER_COOKIE: &str = "imlink_oidc";
/// Its name over HTTPS (host-only, `Secure`, for `/`).
const SECURE_BROWSER_COOKIE: &str = "__Host-imlink_oidc";

fn browser_cookie_name(state: &AppState) -> &'static str {
    if state.settings.session.secure_cookie {
        SECURE_BROWSER_COOKIE
    } else {
        BROWSER_COOKIE
    }
}

/// The `Set-Cookie` value of the browser cookie (`max_age` 0 clears it).
fn browser_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.settings.session.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        browser_cookie_name(state)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A page of the portal that moves on to `target` (a same-origin step, so the `Strict`
/// session cookie it sets is sent along).
#[derive(Template)]
#[template(path = "continue.html")]
struct Continue<'a> {
    target: &'a str,
    message: &'a str,
}

fn continue_page(target: &str, message: &str) -> Response {
    match (Continue { target, message }).render() {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not render the continue page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// To the sign-in page with `refusal` explained, clearing the browser cookie.
fn refused(state: &AppState, refusal: SignInRefusal) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [
            (
                header::LOCATION,
                format!("/signin?refused={}", refusal.code()),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, browser_cookie(state, "", 0));
    response
}

/// Counts a sign-in attempt from the caller's address; `false` when over the limit.
fn within_limit(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    state
        .limits
        .take_sign_in(Some(peer), headers, &state.settings.trusted_proxies)
        .is_ok()
}

/// A new random token (hex of 32 bytes).
fn random_token() -> Option<String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).ok()?;
    Some(hex::encode(raw))
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    login_hint: Option<String>,
}

/// `GET /auth/oidc/login?return_to=PATH`: records the sign-in (state, nonce, PKCE verifier,
/// return path) and sends the browser to the provider.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(provider) = Provider::of(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !within_limit(&state, peer, &headers) {
        return refused(&state, SignInRefusal::TooMany);
    }
    let return_to = safe_return_to(query.return_to.as_deref().unwrap_or("/"));
    let hint = query
        .login_hint
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty() && h.len() <= 256 && !h.chars().any(char::is_control));
    let (url, csrf, started) = match provider.start(&return_to, hint).await {
        Ok(started) => started,
        Err(failure) => {
            tracing::warn!(error = %failure, "could not start a sign-in");
            auth::record_refused_sign_in(&state.db, None, &failure.to_string()).await;
            return refused(&state, refusal_for(&failure));
        }
    };
    let Some(browser) = random_token() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Err(e) = pending::store(&state.db, &csrf, &browser, &started, Utc::now()).await {
        tracing::error!(error = %e, "could not store a sign-in in progress");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut response = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        browser_cookie(&state, &browser, pending::LIFETIME.num_seconds()),
    );
    response
}

fn refusal_for(failure: &Failure) -> SignInRefusal {
    match failure {
        Failure::Unreachable(_) => SignInRefusal::ProviderUnreachable,
        Failure::Invalid(_) => SignInRefusal::Invalid,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// The first `max` characters of `text` that are not control characters (for the audit trail).
fn clip(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// `GET /auth/oidc/callback`: finishes the sign-in this browser started, opens a session (with
/// a new id, ending the browser's previous one) and moves on to the return path; or explains
/// the refusal on the sign-in page. Every outcome is audited, never with a token.
pub async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(provider) = Provider::of(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !within_limit(&state, peer, &headers) {
        return refused(&state, SignInRefusal::TooMany);
    }
    let browser = auth::cookie(&headers, browser_cookie_name(&state)).unwrap_or_default();
    let started = match (&query.state, browser.is_empty()) {
        (Some(csrf), false) => match pending::take(&state.db, csrf, browser, Utc::now()).await {
            Ok(started) => started,
            Err(e) => {
                tracing::error!(error = %e, "could not read a sign-in in progress");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
        _ => None,
    };
    let Some(started) = started else {
        let why = "the sign-in's state is missing, unknown, already used, expired or from another browser";
        auth::record_refused_sign_in(&state.db, None, why).await;
        return refused(&state, SignInRefusal::Expired);
    };
    if let Some(error) = &query.error {
        let why = format!("the provider answered {:?}", clip(error, 64));
        auth::record_refused_sign_in(&state.db, None, &why).await;
        return refused(&state, SignInRefusal::Cancelled);
    }
    if let Some(iss) = &query.iss
        && iss.trim_end_matches('/') != provider.issuer().trim_end_matches('/')
    {
        let why = format!("the callback names another issuer: {:?}", clip(iss, 200));
        auth::record_refused_sign_in(&state.db, None, &why).await;
        return refused(&state, SignInRefusal::Invalid);
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        auth::record_refused_sign_in(&state.db, None, "the callback carries no code").await;
        return refused(&state, SignInRefusal::Invalid);
    };
    let identity = match provider.finish(code, &started).await {
        Ok(identity) => identity,
        Err(failure) => {
            tracing::warn!(error = %failure, "a sign-in failed");
            auth::record_refused_sign_in(&state.db, None, &failure.to_string()).await;
            return refused(&state, refusal_for(&failure));
        }
    };
    let Some(account) = provider.mapping().account(&identity) else {
        let groups = if identity.groups.is_empty() {
            "none".to_string()
        } else {
            clip(&identity.groups.join(", "), 500)
        };
        let why = format!("no role: the person's groups ({groups}) map to no imlink role");
        auth::record_refused_sign_in(&state.db, Some(&identity.username), &why).await;
        return refused(&state, SignInRefusal::NoAccess);
    };
    let previous = auth::session_token(&headers, &state.settings.session);
    match auth::sign_in(&state, &account, SignInMethod::Oidc, previous.as_deref()).await {
        Ok(cookie) => {
            let mut response = continue_page(&started.return_to, "Signed in.");
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, cookie);
            headers.append(header::SET_COOKIE, browser_cookie(&state, "", 0));
            response
        }
        Err(auth::SignInError::Disabled) => refused(&state, SignInRefusal::Disabled),
        Err(auth::SignInError::Failed(e)) => {
            tracing::error!(error = %e, "could not open a session");
            StatusCode::from_u16(e.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
    }
}

/// `GET /auth/oidc/signed-out`: after imlink's sign-out, on to the provider's end-session
/// endpoint (a page of the portal, since a form's answer may not redirect to another origin);
/// to the sign-in page when the provider offers none.
pub async fn signed_out(State(state): State<AppState>) -> Response {
    let target = match Provider::of(&state) {
        Some(provider) => provider.sign_out_url().await,
        None => None,
    };
    match target {
        Some(url) => continue_page(
            &url,
            "Signed out of imlink; now signing out at the identity provider.",
        ),
        None => (StatusCode::SEE_OTHER, [(header::LOCATION, "/signin")]).into_response(),
    }
}
