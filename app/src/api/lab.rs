//! The lab page: look at the simulated organization, simulate OWA sign-ins, reset it to a
//! scenario and install cumulative updates (admins).

use leptos::prelude::*;

use super::models::{LabSignIn, LabView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
use crate::ssr::{audit::AuditRecord, auth, state::AppState};

/// The lab, or `None` when imlink plans against a facts file instead.
#[cfg(feature = "ssr")]
fn lab(state: &AppState) -> Option<std::sync::Arc<dyn crate::ssr::lab::Lab>> {
    match &state.settings.environment {
        Some(crate::ssr::environment::Environment::Lab(lab)) => Some(lab.clone()),
        _ => None,
    }
}

#[cfg(feature = "ssr")]
fn no_lab() -> AppError {
    AppError::NotFound
}

#[cfg(feature = "ssr")]
fn failed(e: String) -> AppError {
    tracing::warn!(error = %e, "lab action failed");
    AppError::Unavailable(format!("The lab could not do that: {e}"))
}

/// Records a lab action in the audit trail.
#[cfg(feature = "ssr")]
async fn record(state: &AppState, record: AuditRecord) -> Result<(), AppError> {
    let txn = crate::ssr::db::begin_write(&state.db).await?;
    crate::ssr::audit::append(&txn, record).await?;
    txn.commit().await?;
    Ok(())
}

/// The organization at a glance.
#[server(endpoint = "get_lab")]
pub async fn get_lab() -> Result<Option<LabView>, AppError> {
    crate::ssr::reply(
        async move {
            auth::require_user().await?;
            let state = AppState::current()?;
            match lab(&state) {
                Some(lab) => lab.view().await.map(Some).map_err(failed),
                None => Ok(None),
            }
        }
        .await,
    )
}

/// Simulates a user's OWA sign-in (anyone signed in: helpdesk staff ask exactly this).
#[server(endpoint = "simulate_sign_in")]
pub async fn simulate_sign_in(upn: String) -> Result<LabSignIn, AppError> {
    crate::ssr::reply(
        async move {
            let user = auth::require_user().await?;
            let state = AppState::current()?;
            let lab = lab(&state).ok_or_else(no_lab)?;
            let upn = upn.trim().to_string();
            if upn.is_empty() || upn.len() > 256 || upn.chars().any(char::is_control) {
                return Err(AppError::invalid_field("upn", "Enter a user principal name, like user0001@litwareinc.com.", [("upn", upn)]));
            }
            let outcome = lab.sign_in(&upn).await.map_err(failed)?;
            record(
                &state,
                AuditRecord::ok(&user.username, "lab.sign_in")
                    .entity("lab_user", &outcome.upn)
                    .after(serde_json::json!({ "presence": outcome.presence, "reasons": outcome.reasons })),
            )
            .await?;
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
            let user = auth::require_any(&[Role::Admin], "lab.reset").await?;
            let state = AppState::current()?;
            let lab = lab(&state).ok_or_else(no_lab)?;
            lab.reset(&scenario).await.map_err(|e| {
                AppError::invalid_field("scenario", e, [("scenario", scenario.clone())])
            })?;
            record(
                &state,
                AuditRecord::ok(&user.username, "lab.reset")
                    .entity("lab", 1)
                    .detail(format!("reset to scenario {scenario}")),
            )
            .await
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
            let user = auth::require_any(&[Role::Admin], "lab.install_cu").await?;
            let state = AppState::current()?;
            let lab = lab(&state).ok_or_else(no_lab)?;
            lab.install_cumulative_update(&server)
                .await
                .map_err(|e| AppError::invalid_field("server", e, [("server", server.clone())]))?;
            record(
                &state,
                AuditRecord::ok(&user.username, "lab.install_cu")
                    .entity("lab", 1)
                    .detail(format!(
                        "installed a cumulative update on {server}; web.config was rewritten"
                    )),
            )
            .await
        }
        .await,
    )
}
