//! Runs: the one owner of the `jobs` and `run_steps` tables. A run executes the plan stored
//! with it (an approved plan, or a rollback's undo plan) step by step; its state changes only
//! through [`transition`], which follows [`RunState::TRANSITIONS`].
//!
//! - [`lease`]: what workers do: claim a run (one per Lync site at a time), hold it with a
//!   lease and a fence, record its steps, give it back, and rescue runs whose worker died.
//!   Every write a lease makes is fenced in its own statement.
//! - [`operate`]: what people do: queue a run with an approval, cancel, resume, ask for a
//!   rollback and approve it.
//! - [`feed`]: one live watcher per looked-at run, fanned out to every viewer.

pub mod feed;
pub mod lease;
pub mod operate;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, UpdateMany,
    sea_query::Expr,
};

use super::entities::{jobs, run_steps};
use super::state::AppState;
use crate::domain::roles::{CurrentUser, Role};
use crate::domain::runs::{RunAction, RunKind, RunState, StepState, can_roll_back};
use crate::error::AppError;
use crate::procedure::plan::Plan;
use crate::views::{RunStepView, RunView};

pub use lease::{Lease, claim, rescue};

/// The latest run of request `id`.
pub async fn latest(db: &impl ConnectionTrait, id: i32) -> Result<Option<jobs::Model>, DbErr> {
    jobs::Entity::find()
        .filter(jobs::Column::RequestId.eq(id))
        .order_by_desc(jobs::Column::Id)
        .one(db)
        .await
}

/// Run `id`.
pub async fn find(db: &impl ConnectionTrait, id: i32) -> Result<Option<jobs::Model>, DbErr> {
    jobs::Entity::find_by_id(id).one(db).await
}

/// The steps run `job` has started, in plan order.
pub async fn steps(db: &impl ConnectionTrait, job: i32) -> Result<Vec<run_steps::Model>, DbErr> {
    run_steps::Entity::find()
        .filter(run_steps::Column::JobId.eq(job))
        .order_by_asc(run_steps::Column::Position)
        .all(db)
        .await
}

/// The Lync sites (their SiteIds, as requests name them) that are integrated now, by the
/// successful runs in order: an integration's run integrates its site, its rollback undoes
/// that; a run that turns IM off leaves the site not integrated, and its rollback puts back
/// what the site was before it.
pub async fn integrated_sites(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    use super::entities::change_requests;
    use crate::domain::request::RequestKind;
    use sea_orm::QuerySelect;
    let succeeded: Vec<(i32, RunKind)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::RequestId)
        .column(jobs::Column::Kind)
        .filter(jobs::Column::State.eq(RunState::Succeeded.as_str()))
        .order_by_asc(jobs::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let requests: Vec<i32> = succeeded.iter().map(|(request, _)| *request).collect();
    let sites: std::collections::HashMap<i32, (String, RequestKind)> =
        change_requests::Entity::find()
            .select_only()
            .column(change_requests::Column::Id)
            .column(change_requests::Column::SiteId)
            .column(change_requests::Column::Kind)
            .filter(change_requests::Column::Id.is_in(requests))
            .into_tuple::<(i32, String, RequestKind)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(id, site, kind)| (id, (site, kind)))
            .collect();
    let mut integrated: std::collections::BTreeMap<String, bool> = Default::default();
    let mut before_turn_off: std::collections::HashMap<i32, bool> = Default::default();
    for (request, run) in succeeded {
        let Some((site, kind)) = sites.get(&request) else {
            continue;
        };
        let state = integrated.entry(site.to_ascii_lowercase()).or_insert(false);
        *state = match (kind, run) {
            (RequestKind::Integrate, RunKind::Apply) => true,
            (RequestKind::Integrate, RunKind::Rollback) => false,
            (RequestKind::TurnOff, RunKind::Apply) => {
                before_turn_off.insert(request, *state);
                false
            }
            (RequestKind::TurnOff, RunKind::Rollback) => {
                before_turn_off.get(&request).copied().unwrap_or(false)
            }
        };
    }
    Ok(integrated
        .into_iter()
        .filter(|(_, integrated)| *integrated)
        .map(|(site, _)| site)
        .collect())
}

/// Where each of `requests` stands on the servers: its latest run, for those that have one.
pub async fn latest_status(
    db: &impl ConnectionTrait,
    requests: &[i32],
) -> Result<std::collections::HashMap<i32, crate::domain::runs::ChangeStatus>, DbErr> {
    use sea_orm::QuerySelect;
    let rows: Vec<(i32, i32, RunKind, RunState, chrono::DateTime<Utc>)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Id)
        .column(jobs::Column::RequestId)
        .column(jobs::Column::Kind)
        .column(jobs::Column::State)
        .column(jobs::Column::UpdatedAt)
        .filter(jobs::Column::RequestId.is_in(requests.iter().copied()))
        .order_by_asc(jobs::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(run, request, kind, state, at)| {
            (
                request,
                crate::domain::runs::ChangeStatus {
                    run,
                    kind,
                    state,
                    at,
                },
            )
        })
        .collect())
}

/// The plan run `job` executes.
pub fn plan_of(job: &jobs::Model) -> Option<Plan> {
    let json = job.plan_json.as_deref()?;
    serde_json::from_str(json)
        .map_err(|e| tracing::error!(run = job.id, error = %e, "stored run plan is unreadable"))
        .ok()
}

/// Why a run's state could not change.
fn refused_move(job: &jobs::Model, to: RunState) -> DbErr {
    DbErr::Custom(format!(
        "run #{} cannot go from {} to {}",
        job.id,
        job.state.as_str(),
        to.as_str()
    ))
}

/// The one way a run's state changes: `job` (as it was read) moves to `to` if the transition
/// table allows it, and only while its row still has the state and the fence it was read with;
/// `also` sets the other columns that change with it. Returns whether it moved (`false`: the
/// run changed meanwhile, e.g. another worker or an operator got there first).
pub(crate) async fn transition<C: ConnectionTrait>(
    db: &C,
    job: &jobs::Model,
    to: RunState,
    also: impl FnOnce(UpdateMany<jobs::Entity>) -> UpdateMany<jobs::Entity>,
) -> Result<bool, DbErr> {
    if !job.state.can_become(to) {
        return Err(refused_move(job, to));
    }
    let update = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(to.as_str()))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(jobs::Column::Id.eq(job.id))
        .filter(jobs::Column::State.eq(job.state.as_str()))
        .filter(jobs::Column::Fence.eq(job.fence));
    Ok(also(update).exec(db).await?.rows_affected == 1)
}

/// A new fence: whoever held the run before can write nothing more.
pub(crate) fn new_fence(update: UpdateMany<jobs::Entity>) -> UpdateMany<jobs::Entity> {
    use sea_orm::sea_query::ExprTrait;
    update
        .col_expr(jobs::Column::Fence, Expr::col(jobs::Column::Fence).add(1))
        .col_expr(
            jobs::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
}

/// The latest run of request `id` as `viewer` sees it on the request page: its steps with
/// their titles from the run's own plan, the undo plan of a rollback, and what `viewer` may
/// do with it.
pub async fn view(
    state: &AppState,
    viewer: &CurrentUser,
    id: i32,
) -> Result<Option<RunView>, AppError> {
    let db = &state.db;
    let Some(job) = latest(db, id).await? else {
        return Ok(None);
    };
    let plan = plan_of(&job);
    let title = |position: i32| {
        plan.as_ref()
            .and_then(|p| p.steps.get(position as usize))
            .map(|s| s.title.clone())
    };
    let rows = steps(db, job.id).await?;
    let applied = rows.iter().any(|s| s.state.may_have_applied());
    let steps: Vec<RunStepView> = rows
        .into_iter()
        .map(|s| RunStepView {
            title: title(s.position).unwrap_or_else(|| s.step_id.clone()),
            step_id: s.step_id,
            state: s.state,
            output: s.output,
            output_sha256: s.output_sha256,
            started_at: s.started_at,
            finished_at: s.finished_at,
        })
        .collect();
    let total = plan
        .as_ref()
        .map_or(steps.len(), |p| p.changes().count().max(steps.len()));
    let admin = viewer.has(Role::Admin);
    let people = super::users::refs(
        db,
        [job.requested_by, job.approved_by].into_iter().flatten(),
    )
    .await?;
    let name = |id: Option<i32>| id.and_then(|id| people.get(&id).cloned());
    let awaiting = job.state == RunState::AwaitingApproval;
    Ok(Some(RunView {
        id: job.id,
        kind: job.kind,
        state: job.state,
        reason: job.reason,
        attempts: job.attempts,
        total,
        steps,
        evidence: job
            .report
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default(),
        undo_plan: (job.kind == RunKind::Rollback)
            .then(|| plan.clone())
            .flatten()
            .map(|p| (job.plan_hash.clone(), p)),
        target_run: job.target_run,
        requested_by: name(job.requested_by),
        approved_by: name(job.approved_by),
        can_cancel: admin && job.state.allows(RunAction::Cancel),
        can_resume: admin && job.state.allows(RunAction::Resume),
        can_roll_back: admin && can_roll_back(job.kind, job.state, applied),
        can_approve: awaiting
            && state.settings.approval.is_approver(viewer)
            && job.requested_by != Some(viewer.id),
        approval_blocked: (awaiting && job.requested_by == Some(viewer.id)).then(|| {
            "You asked for this rollback, so another approver must approve it.".to_string()
        }),
    }))
}

/// Steps of `rows` whose commands may have taken effect, by position.
pub(crate) fn applied_positions(rows: &[run_steps::Model]) -> Vec<usize> {
    rows.iter()
        .filter(|s| s.state.may_have_applied())
        .map(|s| s.position as usize)
        .collect()
}

/// Whether step `position` is done in `rows`.
pub fn is_done(rows: &[run_steps::Model], position: i32) -> bool {
    rows.iter()
        .any(|s| s.position == position && s.state == StepState::Done)
}
