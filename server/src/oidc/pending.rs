//! Sign-ins in progress: what the callback needs (nonce, PKCE verifier, return path), single
//! use, for 10 minutes, and only for the browser that started it. The only module that reads
//! or writes `oidc_sign_ins`; rows are found by digests of the `state` and of the browser's
//! cookie, never by the values themselves.

use app::ssr::entities::oidc_sign_ins;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

/// How long a started sign-in can be finished.
pub const LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// A started sign-in, as the callback gets it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Stores a sign-in started with `state` by the browser holding `browser` (its cookie).
pub async fn store(
    db: &DatabaseConnection,
    state: &str,
    browser: &str,
    pending: &Pending,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    oidc_sign_ins::Entity::insert(oidc_sign_ins::ActiveModel {
        state_hash: Set(digest(state)),
        browser_hash: Set(digest(browser)),
        nonce: Set(pending.nonce.clone()),
        pkce_verifier: Set(pending.pkce_verifier.clone()),
        return_to: Set(pending.return_to.clone()),
        expires_at: Set(now + LIFETIME),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// Takes the sign-in started with `state` by the browser holding `browser`: at most once (of
/// two callbacks racing, one gets it), and only before it expires. A `state` from another
/// browser finds nothing and leaves that browser's sign-in alone.
pub async fn take(
    db: &DatabaseConnection,
    state: &str,
    browser: &str,
    now: DateTime<Utc>,
) -> Result<Option<Pending>, DbErr> {
    let (state_hash, browser_hash) = (digest(state), digest(browser));
    let Some(row) = oidc_sign_ins::Entity::find_by_id(state_hash.clone())
        .filter(oidc_sign_ins::Column::BrowserHash.eq(&browser_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let taken = oidc_sign_ins::Entity::delete_many()
        .filter(oidc_sign_ins::Column::StateHash.eq(&state_hash))
        .filter(oidc_sign_ins::Column::BrowserHash.eq(&browser_hash))
        .exec(db)
        .await?
        .rows_affected;
    if taken != 1 || row.expires_at <= now {
        return Ok(None);
    }
    Ok(Some(Pending {
        nonce: row.nonce,
        pkce_verifier: row.pkce_verifier,
        return_to: row.return_to,
    }))
}

/// Removes the sign-ins that expired by `now` (the worker's sweep); returns how many.
pub async fn remove_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(oidc_sign_ins::Entity::delete_many()
        .filter(oidc_sign_ins::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}
