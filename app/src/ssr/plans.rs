//! Planning requests against the environment: the plan a request carries, previews, and
//! re-planning against fresh facts.

use chrono::{DateTime, Utc};
use sea_orm::Set;

use super::entities::change_requests;
use super::state::AppState;
use crate::domain::request::{IntegrationSpec, RequestInput};
use crate::error::AppError;
use crate::procedure::facts::Facts;
use crate::procedure::plan::{self, Plan};
use crate::views::PlanView;

/// A plan with the facts it was made from.
pub struct Planned {
    pub plan: Plan,
    pub facts: Facts,
}

/// The facts previews use: reused for a few seconds (see [`super::environment::FactsCache`]).
pub async fn preview_facts(state: &AppState) -> Result<Facts, AppError> {
    Ok(state
        .preview_facts
        .facts(&state.settings.environment)
        .await?)
}

/// Plans `spec` against the current facts of the configured environment.
pub async fn plan_now(state: &AppState, spec: &IntegrationSpec) -> Result<Planned, AppError> {
    let facts = state.settings.environment.facts().await?;
    Ok(Planned {
        plan: plan::plan(spec, &facts, Utc::now()),
        facts,
    })
}

/// Sets the columns that store a plan and its facts on a request (clearing them for `None`).
pub fn set(row: &mut change_requests::ActiveModel, planned: Option<&Planned>, now: DateTime<Utc>) {
    row.plan_json = Set(planned.and_then(|p| serde_json::to_string(&p.plan).ok()));
    row.plan_hash = Set(planned.map(|p| p.plan.hash()));
    row.planned_at = Set(planned.map(|_| now));
    row.facts_json = Set(planned.and_then(|p| serde_json::to_string(&p.facts).ok()));
}

/// The plan stored on `row`, if any.
pub fn stored(row: &change_requests::Model) -> Option<Plan> {
    let json = row.plan_json.as_deref()?;
    serde_json::from_str(json)
        .map_err(|e| tracing::error!(request = row.id, error = %e, "stored plan is unreadable"))
        .ok()
}

/// The plan view of `row`, with what the last re-plan changed.
pub fn view(row: &change_requests::Model) -> Option<PlanView> {
    let plan = stored(row)?;
    let changes = row
        .previous_plan_json
        .as_deref()
        .and_then(|json| serde_json::from_str::<Plan>(json).ok())
        .map(|previous| plan::diff(&previous, &plan))
        .unwrap_or_default();
    Some(PlanView {
        hash: plan.hash(),
        planned_at: row.planned_at,
        plan,
        changes,
    })
}

/// The plan the form's current values would get, for the live preview.
pub async fn preview(state: &AppState, input: &RequestInput) -> Result<PlanView, AppError> {
    let spec = IntegrationSpec::validate(input, Utc::now()).map_err(AppError::Invalid)?;
    let plan = plan::plan(&spec, &preview_facts(state).await?, Utc::now());
    Ok(PlanView {
        hash: plan.hash(),
        planned_at: Some(Utc::now()),
        plan,
        changes: Vec::new(),
    })
}
