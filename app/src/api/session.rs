//! Who is signed in, and the local (demo) sign-in.

use leptos::prelude::*;

use super::models::SignInOptions;
use crate::domain::roles::CurrentUser;
use crate::error::AppError;

/// The signed-in person, if any.
#[server(endpoint = "get_current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    crate::ssr::reply(async move { crate::ssr::auth::current_user().await }.await)
}

/// What the sign-in page offers.
#[server(endpoint = "get_sign_in_options")]
pub async fn get_sign_in_options() -> Result<SignInOptions, AppError> {
    crate::ssr::reply(
        async move {
            let state = crate::ssr::state::AppState::current()?;
            Ok(SignInOptions {
                local_accounts: state.settings.local_accounts.clone(),
            })
        }
        .await,
    )
}

/// Signs in as one of the configured demo accounts (local sign-in only).
#[server(endpoint = "sign_in_local")]
pub async fn sign_in_local(username: String) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::ssr::{auth, requests::record_denial, state::AppState};
            let state = AppState::current()?;
            let Some(accounts) = state.settings.local_accounts.as_ref() else {
                let reason = "Local sign-in is turned off on this server.";
                record_denial(&state.db, &username, "session.sign_in", None, reason).await;
                return Err(AppError::Forbidden(reason.into()));
            };
            let Some(account) = accounts.iter().find(|a| a.username == username) else {
                return Err(AppError::invalid_field(
                    "username",
                    "Pick one of the listed accounts.",
                    [("username", username)],
                ));
            };
            let cookie = auth::sign_in(&state, account, "local").await?;
            let response = expect_context::<leptos_axum::ResponseOptions>();
            response.insert_header(axum::http::header::SET_COOKIE, cookie);
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

/// Ends the current session.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::ssr::{auth, state::AppState};
            let state = AppState::current()?;
            let token = use_context::<axum::http::request::Parts>()
                .and_then(|parts| auth::session_token(&parts.headers));
            let cookie = auth::sign_out(&state, token.as_deref()).await?;
            let response = expect_context::<leptos_axum::ResponseOptions>();
            response.insert_header(axum::http::header::SET_COOKIE, cookie);
            leptos_axum::redirect("/signin");
            Ok(())
        }
        .await,
    )
}
