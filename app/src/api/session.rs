//! Who is signed in, and the local (demo) sign-in.

use leptos::prelude::*;

use crate::domain::roles::CurrentUser;
use crate::error::AppError;
use crate::views::SignInOptions;

/// The signed-in person, if any.
#[server(endpoint = "get_current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    crate::ssr::reply(async move { crate::ssr::auth::current_user().await }.await)
}

/// What the sign-in page offers this caller: the demo accounts only where they may be used.
#[server(endpoint = "get_sign_in_options")]
pub async fn get_sign_in_options() -> Result<SignInOptions, AppError> {
    crate::ssr::reply(
        async move {
            use crate::ssr::{auth, state::AppState};
            let state = AppState::current()?;
            let (parts, peer) = auth::caller()?;
            Ok(
                match auth::local_accounts(&state.settings, peer, &parts.headers) {
                    Ok(accounts) => SignInOptions {
                        local_accounts: Some(accounts.to_vec()),
                        local_elsewhere: false,
                        provider: None,
                    },
                    Err(refusal) => SignInOptions {
                        local_accounts: None,
                        local_elsewhere: refusal != auth::LocalRefusal::Off,
                        provider: state
                            .settings
                            .identity_provider
                            .as_ref()
                            .map(|p| p.name().to_string()),
                    },
                },
            )
        }
        .await,
    )
}

/// Signs in as one of the configured demo accounts: only from this machine (see
/// [`crate::ssr::auth::local_accounts`]), and at most `limits.sign_ins_per_minute` attempts per
/// client address. Refused attempts are counted and logged, never written to the audit trail
/// under the name they give. Then goes to `return_to` when it is a path of this site (the
/// page that sent the person to sign in), else to the dashboard.
#[server(endpoint = "sign_in_local")]
pub async fn sign_in_local(
    username: String,
    #[server(default)] return_to: Option<String>,
) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::sign_in::{SignInMethod, SignInRefusal};
            use crate::ssr::{auth, limits, state::AppState};
            let state = AppState::current()?;
            let (parts, peer) = auth::caller()?;
            let trusted = &state.settings.trusted_proxies;
            if let Err(wait) = state.limits.take_sign_in(peer, &parts.headers, trusted) {
                return Err(AppError::RateLimited(limits::retry_after_seconds(wait)));
            }
            let key = limits::client_key(peer, &parts.headers, trusted);
            let accounts = match auth::local_accounts(&state.settings, peer, &parts.headers) {
                Ok(accounts) => accounts,
                Err(refusal) => {
                    let refused = state.limits.count_refused_local_sign_in();
                    tracing::warn!(
                        client = %key,
                        host = ?parts.headers.get(axum::http::header::HOST),
                        %refusal,
                        refused_so_far = refused,
                        "refused a local sign-in"
                    );
                    return Err(AppError::Forbidden(match refusal {
                        auth::LocalRefusal::Off => "Local sign-in is turned off on this server.",
                        _ => "Local sign-in is only for a browser on the server's own machine, at its own address.",
                    }
                    .into()));
                }
            };
            let Some(account) = accounts.iter().find(|a| a.username == username) else {
                return Err(AppError::invalid_field(
                    "username",
                    "Pick one of the listed accounts.",
                    [("username", username)],
                ));
            };
            let previous = auth::session_token(&parts.headers, &state.settings.session);
            let cookie = auth::sign_in(&state, account, SignInMethod::Local, previous.as_deref())
                .await
                .map_err(|e| match e {
                    auth::SignInError::Disabled => {
                        AppError::Forbidden(SignInRefusal::Disabled.explain().into())
                    }
                    auth::SignInError::Failed(e) => e,
                })?;
            let response = expect_context::<leptos_axum::ResponseOptions>();
            response.insert_header(axum::http::header::SET_COOKIE, cookie);
            leptos_axum::redirect(&crate::domain::sign_in::safe_return_to(
                return_to.as_deref().unwrap_or("/"),
            ));
            Ok(())
        }
        .await,
    )
}

/// Ends the current session; with RP-initiated sign-out configured, the browser then goes on to
/// the identity provider to end its session there too.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::ssr::{auth, state::AppState};
            let state = AppState::current()?;
            let token = use_context::<axum::http::request::Parts>()
                .and_then(|parts| auth::session_token(&parts.headers, &state.settings.session));
            let cookie = auth::sign_out(&state, token.as_deref()).await?;
            let response = expect_context::<leptos_axum::ResponseOptions>();
            response.insert_header(axum::http::header::SET_COOKIE, cookie);
            let at_provider = state
                .settings
                .identity_provider
                .as_ref()
                .is_some_and(|p| p.ends_provider_session());
            // The provider is another origin: a form's answer may not redirect there
            // (`form-action 'self'`), so a page of the portal sends the browser on.
            leptos_axum::redirect(if at_provider {
                crate::ssr::state::PROVIDER_SIGN_OUT_PATH
            } else {
                "/signin"
            });
            Ok(())
        }
        .await,
    )
}
