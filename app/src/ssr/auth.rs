//! Sessions and the role checks every server function starts with.
//!
//! Sign-in methods (the local demo accounts, the organization's OpenID Connect provider) differ
//! only in how they establish an [`Account`]; they all end in [`sign_in`], which records the user, ends the browser's
//! previous session and opens a new one, with its audit event, in one transaction.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use leptos::prelude::use_context;
use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use sha2::{Digest, Sha256};

use super::audit::{self, AuditRecord};
use super::db::begin_write;
use super::entities::sessions;
use super::state::{AppState, SessionPolicy, Settings};
use super::users;
use crate::domain::roles::{Account, CurrentUser, Role};
use crate::domain::sign_in::SignInMethod;
use crate::error::AppError;

/// The session cookie's name over plain HTTP (local use).
pub const SESSION_COOKIE: &str = "imlink_session";
/// The session cookie's name over HTTPS: the browser keeps a `__Host-` cookie only when it is
/// `Secure`, host-only and for `/`, so no other host or path can plant or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-imlink_session";

/// The session cookie's name under `policy`.
pub fn cookie_name(policy: &SessionPolicy) -> &'static str {
    if policy.secure_cookie {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The value of cookie `name` in `headers`, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The session token carried by the cookie of an incoming request, if well formed.
pub fn session_token(headers: &HeaderMap, policy: &SessionPolicy) -> Option<String> {
    cookie(headers, cookie_name(policy))
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

/// The stored id of a session: the SHA-256 of its token.
fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A live session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The stored id (SHA-256 of the token): a key for per-session limits.
    pub id: String,
    pub user: CurrentUser,
}

/// How often a session's last use is written (at most; and at least four times per idle
/// timeout, so a session in use never times out).
fn touch_every(policy: &SessionPolicy) -> chrono::Duration {
    std::cmp::min(chrono::Duration::minutes(1), policy.idle / 4)
}

/// Whether a session has ended by `now`: past its absolute lifetime or unused too long.
fn ended(session: &sessions::Model, policy: &SessionPolicy, now: DateTime<Utc>) -> bool {
    let last_seen = session.last_seen_at.unwrap_or(session.created_at);
    session.expires_at <= now || last_seen + policy.idle <= now
}

/// The live session behind the request `headers`, if any; an ended one is removed.
pub async fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, AppError> {
    let policy = &state.settings.session;
    let Some(token) = session_token(headers, policy) else {
        return Ok(None);
    };
    let db = &state.db;
    let Some(row) = sessions::Entity::find_by_id(token_id(&token))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if ended(&row, policy, now) {
        sessions::Entity::delete_by_id(row.id).exec(db).await?;
        return Ok(None);
    }
    if row.last_seen_at.unwrap_or(row.created_at) + touch_every(policy) <= now {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastSeenAt, Expr::value(now))
            .filter(sessions::Column::Id.eq(&row.id))
            .exec(db)
            .await?;
    }
    Ok(users::find(db, row.user_id)
        .await?
        .map(|user| Session { id: row.id, user }))
}

/// The live session of the request, for axum handlers: without one the request is answered
/// 401.
impl axum::extract::FromRequestParts<AppState> for Session {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        match session(state, &parts.headers).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => Err((
                axum::http::StatusCode::UNAUTHORIZED,
                AppError::Unauthenticated.to_string(),
            )
                .into_response()),
            Err(e) => Err(axum::http::StatusCode::from_u16(e.status())
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()),
        }
    }
}

/// Removes every session that has ended by `now` (the worker's sweep); returns how many.
pub async fn remove_ended_sessions(
    db: &DatabaseConnection,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let idle_since = now - policy.idle;
    let result = sessions::Entity::delete_many()
        .filter(
            Condition::any()
                .add(sessions::Column::ExpiresAt.lte(now))
                .add(
                    Expr::expr(
                        Expr::col(sessions::Column::LastSeenAt)
                            .if_null(Expr::col(sessions::Column::CreatedAt)),
                    )
                    .lte(idle_since),
                ),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The request of the current server-function call or page render.
fn request_parts() -> Option<axum::http::request::Parts> {
    use_context::<axum::http::request::Parts>()
}

/// The head of the current server-function call, and the connection's peer address (known
/// when the portal is served by `server::http::serve`).
pub fn caller() -> Result<(axum::http::request::Parts, Option<SocketAddr>), AppError> {
    let parts = request_parts().ok_or_else(|| {
        tracing::error!("no request in the server function's context");
        AppError::Internal
    })?;
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    Ok((parts, peer))
}

/// The live session of the current server-function call or page render, if any.
pub async fn current_session() -> Result<Option<Session>, AppError> {
    let state = AppState::current()?;
    match request_parts() {
        Some(parts) => session(&state, &parts.headers).await,
        None => Ok(None),
    }
}

/// The person making the current server-function call or page render, if signed in.
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    Ok(current_session().await?.map(|s| s.user))
}

/// The signed-in person, or [`AppError::Unauthenticated`].
pub async fn require_user() -> Result<CurrentUser, AppError> {
    current_user().await?.ok_or(AppError::Unauthenticated)
}

/// Refuses `user` (auditing it) unless they hold one of `roles`.
async fn check_roles(user: &CurrentUser, roles: &[Role], action: &str) -> Result<(), AppError> {
    if user.has_any(roles) {
        return Ok(());
    }
    let reason = Role::needed(roles);
    let state = AppState::current()?;
    super::requests::record_denial(&state.db, &user.username, action, None, &reason).await;
    Err(AppError::Forbidden(reason))
}

/// The signed-in person if they hold one of `roles`; otherwise the refusal is audited.
pub async fn require_any(roles: &[Role], action: &str) -> Result<CurrentUser, AppError> {
    let user = require_user().await?;
    check_roles(&user, roles, action).await?;
    Ok(user)
}

/// The signed-in person about to change something: they hold one of `roles` (anyone signed
/// in when `roles` is empty; a refusal is audited), and their session has not used up its
/// budget of state-changing calls ([`AppError::RateLimited`] otherwise).
pub async fn require_actor(roles: &[Role], action: &str) -> Result<CurrentUser, AppError> {
    let session = current_session().await?.ok_or(AppError::Unauthenticated)?;
    if !roles.is_empty() {
        check_roles(&session.user, roles, action).await?;
    }
    let state = AppState::current()?;
    if let Err(wait) = state.limits.actions.take(&session.id) {
        tracing::warn!(user = %session.user.username, action, "rate limited");
        return Err(AppError::RateLimited(super::limits::retry_after_seconds(
            wait,
        )));
    }
    Ok(session.user)
}

/// Why the demo sign-in was refused to a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocalRefusal {
    #[error("local sign-in is turned off")]
    Off,
    #[error("the caller is not on this machine")]
    NotLoopback,
    #[error("the request names another host")]
    ForeignHost,
    #[error("the request came through a proxy")]
    Proxied,
}

/// Whether `host` (a `Host` header) names a loopback address or the address imlink listens on.
fn is_local_host(host: &str, listen: SocketAddr) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback() || ip == listen.ip(),
        Err(_) => false,
    }
}

/// The demo accounts, when the demo sign-in is allowed for this caller: only from this machine
/// (the connection's peer is a loopback address, no proxy relayed it) and only under a `Host`
/// naming a loopback address or the listen address (a DNS-rebinding page sends its own name).
pub fn local_accounts<'a>(
    settings: &'a Settings,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<&'a [Account], LocalRefusal> {
    let accounts = settings
        .local_accounts
        .as_deref()
        .ok_or(LocalRefusal::Off)?;
    if !peer.is_some_and(|p| p.ip().to_canonical().is_loopback()) {
        return Err(LocalRefusal::NotLoopback);
    }
    if ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return Err(LocalRefusal::Proxied);
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(|h| is_local_host(h, settings.listen)) {
        return Err(LocalRefusal::ForeignHost);
    }
    Ok(accounts)
}

/// Why [`sign_in`] opened no session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The person is disabled in imlink (the refusal is audited).
    #[error("this person is disabled in imlink")]
    Disabled,
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl From<sea_orm::DbErr> for SignInError {
    fn from(e: sea_orm::DbErr) -> Self {
        SignInError::Failed(e.into())
    }
}

/// Records `account` as a user, ends the browser's previous session (`previous`, its token),
/// and opens a new session with a new token, all with the sign-in's audit event in one
/// transaction. Returns the `Set-Cookie` value. A disabled person gets no session; the refusal
/// is audited.
pub async fn sign_in(
    state: &AppState,
    account: &Account,
    method: SignInMethod,
    previous: Option<&str>,
) -> Result<HeaderValue, SignInError> {
    let policy = &state.settings.session;
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| {
        tracing::error!(error = %e, "no randomness for a session token");
        AppError::Internal
    })?;
    let token = hex::encode(raw);
    let now = Utc::now();
    let txn = begin_write(&state.db).await?;
    let known = users::upsert(&txn, account, method, now).await?;
    let user = known.user;
    if known.disabled {
        audit::append(
            &txn,
            AuditRecord::denied(
                &user.username,
                "session.sign_in",
                &format!("signed in with {method}, but is disabled in imlink"),
            )
            .entity("user", user.id),
        )
        .await?;
        txn.commit().await?;
        return Err(SignInError::Disabled);
    }
    let ended = match previous {
        Some(old) => {
            sessions::Entity::delete_many()
                .filter(sessions::Column::Id.eq(token_id(old)))
                .exec(&txn)
                .await?
                .rows_affected
        }
        None => 0,
    };
    sessions::Entity::insert(sessions::ActiveModel {
        id: Set(token_id(&token)),
        user_id: Set(user.id),
        created_at: Set(now),
        expires_at: Set(now + policy.ttl),
        last_seen_at: Set(Some(now)),
    })
    .exec_without_returning(&txn)
    .await?;
    let mut detail = format!(
        "signed in with {method} as {} with roles: {}",
        user.display_name,
        if user.roles.is_empty() {
            "none".to_string()
        } else {
            Role::list(&user.roles)
        }
    );
    if ended > 0 {
        detail.push_str("; this browser's previous session ended");
    }
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, "session.sign_in")
            .entity("user", user.id)
            .detail(detail),
    )
    .await?;
    txn.commit().await?;
    Ok(set_cookie(policy, &token, policy.ttl.num_seconds())?)
}

/// Records a refused sign-in (`who`: the name the provider gave, when it got that far), with
/// the reason and never a token.
pub async fn record_refused_sign_in(db: &DatabaseConnection, who: Option<&str>, reason: &str) {
    super::requests::record_denial(
        db,
        who.unwrap_or("(not signed in)"),
        "session.sign_in",
        None,
        reason,
    )
    .await;
}

/// How many live sessions each person has at `now`.
pub async fn open_session_counts(
    db: &DatabaseConnection,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
) -> Result<HashMap<i32, u64>, AppError> {
    let rows: Vec<(i32, i64)> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::UserId)
        .column_as(sessions::Column::Id.count(), "open")
        .filter(sessions::Column::ExpiresAt.gt(now))
        .filter(
            Expr::expr(
                Expr::col(sessions::Column::LastSeenAt)
                    .if_null(Expr::col(sessions::Column::CreatedAt)),
            )
            .gt(now - policy.idle),
        )
        .group_by(sessions::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user, open)| (user, u64::try_from(open).unwrap_or(0)))
        .collect())
}

/// Ends every session of person `user_id` inside `txn`; returns how many there were.
pub async fn end_sessions_of<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<u64, AppError> {
    Ok(sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// Ends the session behind `token` (if any), with its audit event in the same transaction;
/// returns a `Set-Cookie` value that clears the cookie.
pub async fn sign_out(state: &AppState, token: Option<&str>) -> Result<HeaderValue, AppError> {
    let policy = &state.settings.session;
    if let Some(token) = token {
        let txn = begin_write(&state.db).await?;
        if let Some(row) = sessions::Entity::find_by_id(token_id(token))
            .one(&txn)
            .await?
        {
            sessions::Entity::delete_by_id(row.id).exec(&txn).await?;
            if let Some(user) = users::find(&txn, row.user_id).await? {
                audit::append(
                    &txn,
                    AuditRecord::ok(&user.username, "session.sign_out").entity("user", user.id),
                )
                .await?;
            }
        }
        txn.commit().await?;
    }
    set_cookie(policy, "", 0)
}

/// The session cookie: `HttpOnly`, `SameSite=Strict` (never sent with another site's request,
/// not even a top-level link; the portal reloads such a navigation from itself), and over
/// HTTPS `Secure` with the `__Host-` name.
fn set_cookie(policy: &SessionPolicy, token: &str, max_age: i64) -> Result<HeaderValue, AppError> {
    let secure = if policy.secure_cookie { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        cookie_name(policy)
    ))
    .map_err(|_| AppError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(secure: bool) -> SessionPolicy {
        SessionPolicy {
            ttl: chrono::Duration::hours(12),
            idle: chrono::Duration::minutes(60),
            secure_cookie: secure,
        }
    }

    #[test]
    fn session_token_is_read_only_from_a_well_formed_cookie_of_the_right_name() {
        let token = "a".repeat(64);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {SESSION_COOKIE}={token}; y=2")).unwrap(),
        );
        assert_eq!(session_token(&headers, &policy(false)), Some(token.clone()));
        // Over HTTPS only the __Host- cookie counts.
        assert_eq!(session_token(&headers, &policy(true)), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{SECURE_SESSION_COOKIE}={token}")).unwrap(),
        );
        assert_eq!(session_token(&headers, &policy(true)), Some(token));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("imlink_session=../../etc/passwd"),
        );
        assert_eq!(session_token(&headers, &policy(false)), None);
        assert_eq!(session_token(&HeaderMap::new(), &policy(false)), None);
    }

    #[test]
    fn the_cookie_is_strict_and_over_https_secure_and_host_prefixed() {
        let plain = set_cookie(&policy(false), "t", 60).unwrap();
        assert_eq!(
            plain.to_str().unwrap(),
            "imlink_session=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        let secure = set_cookie(&policy(true), "t", 60).unwrap();
        assert_eq!(
            secure.to_str().unwrap(),
            "__Host-imlink_session=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
    }

    #[test]
    fn local_hosts() {
        let listen: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        for host in [
            "127.0.0.1:3000",
            "127.0.0.1",
            "localhost:3000",
            "LOCALHOST",
            "[::1]:3000",
            "127.0.0.2:3000",
        ] {
            assert!(is_local_host(host, listen), "{host}");
        }
        for host in [
            "evil.test:3000",
            "127.0.0.1.evil.test",
            "localhost.evil.test:3000",
            "10.0.0.1:3000",
            "",
        ] {
            assert!(!is_local_host(host, listen), "{host}");
        }
        let wide: SocketAddr = "192.168.1.10:3000".parse().unwrap();
        assert!(is_local_host("192.168.1.10:3000", wide));
    }

    #[test]
    fn sessions_end_at_their_lifetime_or_when_idle() {
        let now = Utc::now();
        let p = policy(false);
        let row = |created: i64, seen: Option<i64>, expires: i64| sessions::Model {
            id: String::new(),
            user_id: 1,
            created_at: now - chrono::Duration::minutes(created),
            expires_at: now + chrono::Duration::minutes(expires),
            last_seen_at: seen.map(|m| now - chrono::Duration::minutes(m)),
        };
        assert!(!ended(&row(90, Some(59), 30), &p, now));
        assert!(ended(&row(90, Some(60), 30), &p, now), "idle an hour");
        assert!(
            ended(&row(61, None, 30), &p, now),
            "never seen since created"
        );
        assert!(ended(&row(10, Some(0), 0), &p, now), "past its lifetime");
    }
}
