//! What every request handler and server function can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use chrono::Duration;
use leptos::prelude::{LeptosOptions, use_context};
use sea_orm::DatabaseConnection;

use crate::domain::roles::Account;
use crate::domain::workflow::ApprovalPolicy;
use crate::error::AppError;

/// Settings the portal's behaviour depends on, resolved from the server's configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub approval: ApprovalPolicy,
    /// The demo accounts offered by local sign-in; `None` when local sign-in is off.
    pub local_accounts: Option<Vec<Account>>,
    pub session_ttl: Duration,
    /// Whether to mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookie: bool,
    /// Where plans get their facts; `None` when no environment is configured.
    pub environment: Option<super::environment::Environment>,
}

/// Shared application state, provided to Leptos as context and to axum as router state.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
}

impl AppState {
    /// The state from the Leptos context of the current server function or render.
    pub fn current() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }
}
