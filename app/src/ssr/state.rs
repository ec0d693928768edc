//! What every request handler and server function can reach.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::FromRef;
use chrono::Duration;
use leptos::prelude::{LeptosOptions, use_context};
use sea_orm::DatabaseConnection;

use super::environment::FactsCache;
use super::limits::Limits;
use crate::domain::roles::Account;
use crate::domain::workflow::ApprovalPolicy;
use crate::error::AppError;

/// Settings the portal's behaviour depends on, resolved from the server's configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub approval: ApprovalPolicy,
    /// The demo accounts offered by local sign-in; `None` when local sign-in is off.
    pub local_accounts: Option<Vec<Account>>,
    /// The organization's identity provider, when people sign in through one (never together
    /// with the demo accounts).
    pub identity_provider: Option<Arc<dyn IdentityProvider>>,
    pub session: SessionPolicy,
    /// Where plans get their facts: a facts file, the lab (the default) or the servers.
    pub environment: super::environment::Environment,
    /// Where people are looked up for eligibility checks; `None` when no directory is
    /// configured for this environment.
    pub directory: Option<Arc<dyn super::directory::Directory>>,
    /// How long the facts behind plan previews and the environment view are reused.
    pub preview_facts_ttl: std::time::Duration,
    pub limits: LimitPolicy,
    /// The address the portal listens on (a `Host` naming it may use the demo sign-in).
    pub listen: SocketAddr,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Host names the portal answers for (lower case, without port; IPv6 in brackets).
    pub allowed_hosts: Vec<String>,
    /// Origins accepted as the portal's own besides its `Host` (a reverse proxy's public one).
    pub trusted_origins: Vec<String>,
}

/// The portal's page that sends a browser on to the identity provider's sign-out.
pub const PROVIDER_SIGN_OUT_PATH: &str = "/auth/oidc/signed-out";

/// The organization's identity provider as pages see it (the server's OpenID Connect client).
pub trait IdentityProvider: Send + Sync + std::fmt::Debug {
    /// Its name, as the sign-in page offers it: "Sign in with …".
    fn name(&self) -> &str;
    /// Whether a browser whose imlink session ended goes on to the provider to end its session
    /// there too (RP-initiated sign-out, through [`PROVIDER_SIGN_OUT_PATH`]).
    fn ends_provider_session(&self) -> bool;
    /// The provider itself, for the server's sign-in routes.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// How sessions are kept.
#[derive(Clone, Debug)]
pub struct SessionPolicy {
    /// The absolute lifetime of a session.
    pub ttl: Duration,
    /// A session unused this long ends.
    pub idle: Duration,
    /// Served over HTTPS: the cookie is `Secure` and named with the `__Host-` prefix.
    pub secure_cookie: bool,
}

/// How much one client may ask of this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitPolicy {
    /// Sign-in attempts per client address per minute.
    pub sign_ins_per_minute: u32,
    /// State-changing server-function calls per session per minute.
    pub actions_per_minute: u32,
    /// Live-run streams one session may hold open at once.
    pub streams_per_session: u32,
}

impl Default for LimitPolicy {
    fn default() -> Self {
        LimitPolicy {
            sign_ins_per_minute: 20,
            actions_per_minute: 60,
            streams_per_session: 8,
        }
    }
}

/// Shared application state, provided to Leptos as context and to axum as router state.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    /// This process's rate limits and stream slots.
    pub limits: Arc<Limits>,
    /// The facts previews are planned against, reused briefly.
    pub preview_facts: Arc<FactsCache>,
    /// Wakes the worker of this process when a run is queued (an approval, a resume).
    pub run_queued: Arc<tokio::sync::Notify>,
    /// Wakes the worker of this process when a bulk eligibility check is queued.
    #[from_ref(skip)]
    pub scan_queued: Arc<tokio::sync::Notify>,
    /// The live feeds of the runs people are looking at.
    pub run_feeds: Arc<super::runs::feed::RunFeeds>,
}

impl AppState {
    /// The state for `settings`, with fresh limits and an empty facts cache.
    pub fn new(leptos_options: LeptosOptions, db: DatabaseConnection, settings: Settings) -> Self {
        AppState {
            leptos_options,
            db: db.clone(),
            limits: Arc::new(Limits::new(settings.limits)),
            preview_facts: Arc::new(FactsCache::new(settings.preview_facts_ttl)),
            run_queued: Arc::default(),
            scan_queued: Arc::default(),
            run_feeds: Arc::new(super::runs::feed::RunFeeds::new(db.clone())),
            settings: Arc::new(settings),
        }
    }

    /// The state from the Leptos context of the current server function or render.
    pub fn current() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }
}
