//! Sessions and the role checks every server function starts with.
//!
//! Sign-in methods (local demo accounts now, OIDC later) differ only in how they establish
//! an [`Account`]; they all end in [`sign_in`], which records the user and opens a session.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use leptos::prelude::use_context;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use super::entities::sessions;
use super::state::AppState;
use super::users;
use crate::domain::roles::{Account, CurrentUser, Role};
use crate::error::AppError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "imlink_session";

/// The session token carried by the cookie of an incoming request, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Resolves the person behind a session token, if the session is live.
pub async fn user_for_token(
    db: &DatabaseConnection,
    token: &str,
) -> Result<Option<CurrentUser>, AppError> {
    let Some(session) = sessions::Entity::find_by_id(token_id(token))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if session.expires_at <= Utc::now() {
        sessions::Entity::delete_by_id(session.id).exec(db).await?;
        return Ok(None);
    }
    users::find(db, session.user_id).await
}

/// The person making the current server-function call or page render, if signed in.
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    let state = AppState::current()?;
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return Ok(None);
    };
    match session_token(&parts.headers) {
        Some(token) => user_for_token(&state.db, &token).await,
        None => Ok(None),
    }
}

/// The signed-in person, or [`AppError::Unauthenticated`].
pub async fn require_user() -> Result<CurrentUser, AppError> {
    current_user().await?.ok_or(AppError::Unauthenticated)
}

/// The signed-in person if they hold one of `roles`; otherwise the refusal is audited.
pub async fn require_any(roles: &[Role], action: &str) -> Result<CurrentUser, AppError> {
    let user = require_user().await?;
    if user.has_any(roles) {
        return Ok(user);
    }
    let reason = format!("This needs one of these roles: {}.", Role::list(roles));
    let state = AppState::current()?;
    super::requests::record_denial(&state.db, &user.username, action, None, &reason).await;
    Err(AppError::Forbidden(reason))
}

/// Records `account` as a user and opens a session; returns the `Set-Cookie` value.
pub async fn sign_in(
    state: &AppState,
    account: &Account,
    source: &str,
) -> Result<HeaderValue, AppError> {
    let user = users::upsert(&state.db, account, source).await?;
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| {
        tracing::error!(error = %e, "no randomness for a session token");
        AppError::Internal
    })?;
    let token = hex::encode(raw);
    let now = Utc::now();
    sessions::Entity::insert(sessions::ActiveModel {
        id: Set(token_id(&token)),
        user_id: Set(user.id),
        created_at: Set(now),
        expires_at: Set(now + state.settings.session_ttl),
    })
    .exec_without_returning(&state.db)
    .await?;
    super::audit::append(
        &state.db,
        super::audit::AuditRecord::ok(&user.username, "session.sign_in")
            .entity("user", user.id)
            .detail(format!("signed in with {source}")),
    )
    .await?;
    cookie(
        &token,
        state.settings.session_ttl.num_seconds(),
        state.settings.secure_cookie,
    )
}

/// Ends the session behind `token` (if any); returns a `Set-Cookie` value that clears it.
pub async fn sign_out(state: &AppState, token: Option<&str>) -> Result<HeaderValue, AppError> {
    if let Some(token) = token {
        if let Some(user) = user_for_token(&state.db, token).await? {
            super::audit::append(
                &state.db,
                super::audit::AuditRecord::ok(&user.username, "session.sign_out")
                    .entity("user", user.id),
            )
            .await?;
        }
        sessions::Entity::delete_many()
            .filter(sessions::Column::Id.eq(token_id(token)))
            .exec(&state.db)
            .await?;
    }
    cookie("", 0, state.settings.secure_cookie)
}

fn cookie(token: &str, max_age: i64, secure: bool) -> Result<HeaderValue, AppError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|_| AppError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_token_is_read_only_from_a_well_formed_cookie() {
        let token = "a".repeat(64);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {SESSION_COOKIE}={token}; y=2")).unwrap(),
        );
        assert_eq!(session_token(&headers), Some(token));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("imlink_session=../../etc/passwd"),
        );
        assert_eq!(session_token(&headers), None);
        assert_eq!(session_token(&HeaderMap::new()), None);
    }
}
