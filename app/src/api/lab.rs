//! The lab page: look at the simulated organization, simulate OWA sign-ins, reset it to a
//! scenario and install cumulative updates (admins).

use leptos::prelude::*;

use crate::error::AppError;
use crate::views::{LabSignIn, LabView};

#[cfg(feature = "ssr")]
use crate::ssr::{
    audit::{self, AuditRecord},
    auth,
    db::begin_write,
    state::AppState,
};

/// The lab, or `None` when imlink plans against a facts file instead.
#[cfg(feature = "ssr")]
fn lab(state: &AppState) -> Option<std::sync::Arc<dyn crate::ssr::lab::Lab>> {
    match &state.settings.environment {
        crate::ssr::environment::Environment::Lab(lab) => Some(lab.clone()),
        _ => None,
    }
}

#[cfg(feature = "ssr")]
fn no_lab() -> AppError {
    AppError::NotFound
}

#[cfg(feature = "ssr")]
fn failed(e: crate::ssr::lab::LabError) -> AppError {
    tracing::warn!(error = %e, "lab action failed");
    AppError::Unavailable(format!("The lab could not do that: {e}"))
}

/// A refusal of the lab as a message beside `field` (keeping what was chosen); anything else
/// as the lab being unavailable.
#[cfg(feature = "ssr")]
fn refused(e: crate::ssr::lab::LabError, field: &'static str, value: &str) -> AppError {
    use crate::ssr::lab::LabError;
    match e {
        LabError::UnknownScenario(_) | LabError::Refused(_) => {
            AppError::invalid_field(field, e.to_string(), [(field, value.to_string())])
        }
        LabError::Storage(_) => failed(e),
    }
}

/// The organization at a glance, with what `tried`'s OWA sign-in would show now.
#[server(endpoint = "get_lab")]
pub async fn get_lab(tried: Option<String>) -> Result<Option<LabView>, AppError> {
    crate::ssr::reply(
        async move {
            auth::require_user().await?;
            let state = AppState::current()?;
            let tried = tried.as_deref().map(str::trim).filter(|t| valid_upn(t));
            match lab(&state) {
                Some(lab) => lab.view(tried).await.map(Some).map_err(failed),
                None => Ok(None),
            }
        }
        .await,
    )
}

/// Whether `upn` can be tried at all (any text a directory might hold, within reason).
#[cfg(feature = "ssr")]
fn valid_upn(upn: &str) -> bool {
    !upn.is_empty() && upn.len() <= 256 && !upn.chars().any(char::is_control)
}

/// Simulates a user's OWA sign-in (anyone signed in: helpdesk staff ask exactly this). The
/// simulation changes the lab (event 112, the IM log folder), so it is audited with it. A form
/// posted without JavaScript is answered with the lab page showing the result.
#[server(endpoint = "simulate_sign_in")]
pub async fn simulate_sign_in(upn: String) -> Result<LabSignIn, AppError> {
    crate::ssr::reply(
        async move {
            let user = auth::require_actor(&[], "lab.sign_in").await?;
            let state = AppState::current()?;
            let lab = lab(&state).ok_or_else(no_lab)?;
            let upn = upn.trim().to_string();
            if !valid_upn(&upn) {
                return Err(AppError::invalid_field("upn", "Enter a user principal name, like user0001@litwareinc.com.", [("upn", upn)]));
            }
            let txn = begin_write(&state.db).await?;
            let outcome = lab.sign_in(&txn, &upn).await.map_err(failed)?;
            audit::append(
                &txn,
                AuditRecord::ok(&user.username, "lab.sign_in")
                    .entity("lab_user", &outcome.upn)
                    .detail(if outcome.presence {
                        format!("{}: presence and IM work in OWA", outcome.upn)
                    } else {
                        format!("{}: no presence in OWA ({})", outcome.upn, outcome.reasons.join("; "))
                    })
                    .after(serde_json::json!({ "presence": outcome.presence, "reasons": outcome.reasons })),
            )
            .await?;
            txn.commit().await?;
            if crate::ssr::plain_form() {
                leptos_axum::redirect(&format!(
                    "/lab?tried={}#signin-result",
                    crate::pages::people::query_value(&outcome.upn)
                ));
            }
            Ok(outcome)
        }
        .await,
    )
}

/// Replaces the lab with a fresh copy of a scenario (admins).
#[server(endpoint = "reset_lab")]
pub async fn reset_lab(scenario: String) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::roles::Role;
            let user = auth::require_actor(&[Role::Admin], "lab.reset").await?;
            let state = AppState::current()?;
            let lab = lab(&state).ok_or_else(no_lab)?;
            let txn = begin_write(&state.db).await?;
            lab.reset(&txn, &scenario)
                .await
                .map_err(|e| refused(e, "scenario", &scenario))?;
            audit::append(
                &txn,
                AuditRecord::ok(&user.username, "lab.reset")
                    .entity("lab", 1)
                    .detail(format!("reset to scenario {scenario}")),
            )
            .await?;
            txn.commit().await?;
            Ok(())
        }
        .await,
    )
}

/// Installs an Exchange cumulative update on a back-end server (admins).
#[server(endpoint = "lab_install_cu")]
pub async fn lab_install_cu(server: String) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::roles::Role;
            let user = auth::require_actor(&[Role::Admin], "lab.install_cu").await?;
            let state = AppState::current()?;
            let lab = lab(&state).ok_or_else(no_lab)?;
            let txn = begin_write(&state.db).await?;
            lab.install_cumulative_update(&txn, &server)
                .await
                .map_err(|e| refused(e, "server", &server))?;
            audit::append(
                &txn,
                AuditRecord::ok(&user.username, "lab.install_cu")
                    .entity("lab", 1)
                    .detail(format!(
                        "installed a cumulative update on {server}; web.config was rewritten"
                    )),
            )
            .await?;
            txn.commit().await?;
            Ok(())
        }
        .await,
    )
}
