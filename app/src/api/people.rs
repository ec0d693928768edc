//! People: look someone up, check whether they get IM and presence in OWA (stored, with the
//! evidence), and read a stored check with the person's history.

use leptos::prelude::*;

use crate::error::AppError;
use crate::views::{PersonEntry, PersonView, ScanComparison, ScanFilter, ScanSummary, ScanView};

#[cfg(feature = "ssr")]
use crate::ssr::{
    auth::{current_user, require_actor, require_any},
    eligibility::{self as service, ROLES},
    state::AppState,
};

/// Whether people can be looked up here (a directory is configured); the navigation offers
/// the People page only then. Signed out: `false`, not a refusal (every page's header asks).
#[server(endpoint = "has_directory")]
pub async fn has_directory() -> Result<bool, AppError> {
    crate::ssr::reply(
        async move {
            Ok(
                current_user().await?.is_some()
                    && AppState::current()?.settings.directory.is_some(),
            )
        }
        .await,
    )
}

/// Suggestions for what is being typed: people whose names begin with `text`.
#[server(endpoint = "search_people")]
pub async fn search_people(text: String) -> Result<Vec<PersonEntry>, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_any(&ROLES, "people.search").await?;
            service::search(&AppState::current()?, &user, &text).await
        }
        .await,
    )
}

/// Checks one person (by UPN, SIP or e-mail address, or account name), stores the check and
/// opens it.
#[server(endpoint = "check_person")]
pub async fn check_person(identity: String) -> Result<i64, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&ROLES, "eligibility.check").await?;
            let id = service::check(&AppState::current()?, &user, &identity).await?;
            leptos_axum::redirect(&format!("/people/checks/{id}"));
            Ok(id)
        }
        .await,
    )
}

/// A stored check, what changed since the one before, and the person's history.
#[server(endpoint = "get_person_check")]
pub async fn get_person_check(id: i64) -> Result<PersonView, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_any(&ROLES, "eligibility.view").await?;
            service::view(&AppState::current()?, &user, id).await
        }
        .await,
    )
}

/// Asks for a bulk check (everyone, below a distinguished name, a site's people, or a list)
/// and opens it.
#[server(endpoint = "request_scan")]
pub async fn request_scan(
    scope: String,
    base_dn: String,
    site_id: String,
    list: String,
) -> Result<i64, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&ROLES, "eligibility.scan").await?;
            let input = crate::domain::scans::ScanInput {
                scope,
                base_dn,
                site_id,
                list,
            };
            let id = service::scans::request(&AppState::current()?, &user, &input).await?;
            leptos_axum::redirect(&format!("/people/scans/{id}"));
            Ok(id)
        }
        .await,
    )
}

/// Stops a queued or running bulk check (what was checked stays) and shows it again.
#[server(endpoint = "cancel_scan")]
pub async fn cancel_scan(id: i64) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&ROLES, "eligibility.scan.cancel").await?;
            service::scans::cancel(&AppState::current()?, &user, id).await?;
            leptos_axum::redirect(&format!("/people/scans/{id}"));
            Ok(())
        }
        .await,
    )
}

/// The most recent bulk checks.
#[server(endpoint = "get_scans")]
pub async fn get_scans() -> Result<Vec<ScanSummary>, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_any(&ROLES, "eligibility.scan.list").await?;
            service::scans::recent(&AppState::current()?, &user).await
        }
        .await,
    )
}

/// A bulk check with one page of its people, filtered by verdict and reason code.
#[server(endpoint = "get_scan")]
pub async fn get_scan(id: i64, filter: ScanFilter) -> Result<ScanView, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_any(&ROLES, "eligibility.scan.view").await?;
            service::scans::view(&AppState::current()?, &user, id, filter).await
        }
        .await,
    )
}

/// Two bulk checks compared: who became eligible or ineligible from `before` to `after`.
#[server(endpoint = "compare_scans")]
pub async fn compare_scans(before: i64, after: i64) -> Result<ScanComparison, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_any(&ROLES, "eligibility.scan.compare").await?;
            service::scans::compare(&AppState::current()?, &user, before, after).await
        }
        .await,
    )
}
