//! People: look someone up, check whether they get IM and presence in OWA (stored, with the
//! evidence), and read a stored check with the person's history.

use leptos::prelude::*;

use crate::error::AppError;
use crate::views::{PersonEntry, PersonView};

#[cfg(feature = "ssr")]
use crate::ssr::{
    auth::{require_actor, require_any},
    eligibility::{self as service, ROLES},
    state::AppState,
};

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
