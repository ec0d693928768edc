//! Server-only code: state, storage, sign-in sessions, the audit trail and the request service.

pub mod audit;
pub mod auth;
pub mod csp;
pub mod db;
pub mod directory;
pub mod eligibility;
pub mod entities;
pub mod environment;
pub mod lab;
pub mod limits;
pub mod plans;
pub mod requests;
pub mod runs;
pub mod state;
pub mod users;

/// Whether the server function was called by a form posted without JavaScript (the browser
/// then expects a page, not data).
pub fn plain_form() -> bool {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.headers.get(axum::http::header::ACCEPT).cloned())
        .and_then(|v| v.to_str().ok().map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

/// Finishes a server function: a failure gets its HTTP status (so API callers see 401, 403,
/// 409, 422…), except for plain form posts, which must stay redirects back to the form.
pub fn reply<T>(result: Result<T, crate::error::AppError>) -> Result<T, crate::error::AppError> {
    if let Err(error) = &result {
        if !plain_form()
            && let (Some(response), Ok(status)) = (
                leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
                axum::http::StatusCode::from_u16(error.status()),
            )
        {
            response.set_status(status);
        }
        if let (Some(response), Some(seconds)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            error.retry_after(),
        ) {
            response.insert_header(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
    }
    result
}
