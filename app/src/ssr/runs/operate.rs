//! What people do with runs: an approval queues a run of the plan it approved; admins cancel
//! and resume runs and ask for rollbacks; a rollback's undo plan runs only once an approver
//! other than the admin who asked has approved it, bound to its hash. Each operation checks
//! its own authorization, and every refusal is audited.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, Set, SqlErr, sea_query::Expr,
};
use serde_json::json;

use super::super::audit::{self, AuditRecord};
use super::super::db::begin_write;
use super::super::entities::{jobs, run_steps};
use super::super::requests::{ENTITY, record_denial};
use super::super::state::AppState;
use super::{applied_positions, latest, new_fence, plan_of, steps, transition};
use crate::domain::roles::{CurrentUser, Role};
use crate::domain::runs::{RunAction, RunKind, RunState, StepState, can_roll_back};
use crate::domain::workflow::ApprovalPolicy;
use crate::error::AppError;
use crate::procedure::plan::Plan;

/// A new run row of `kind` for request `request_id` executing `plan`.
fn new_run(
    request_id: i32,
    kind: RunKind,
    state: RunState,
    plan: &Plan,
    run_after: DateTime<Utc>,
) -> Result<jobs::ActiveModel, DbErr> {
    let now = Utc::now();
    Ok(jobs::ActiveModel {
        request_id: Set(request_id),
        kind: Set(kind),
        state: Set(state),
        plan_hash: Set(plan.hash()),
        plan_json: Set(Some(
            serde_json::to_string(plan).map_err(|e| DbErr::Custom(e.to_string()))?,
        )),
        attempts: Set(0),
        lease_owner: Set(None),
        lease_until: Set(None),
        fence: Set(0),
        run_after: Set(run_after),
        reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        report: Set(None),
        target_run: Set(None),
        requested_by: Set(None),
        approved_by: Set(None),
        approved_at: Set(None),
        ..Default::default()
    })
}

/// The answer to a write that would give request `id` a second active run.
fn another_active_run(error: DbErr, id: i32) -> AppError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(format!(
            "Request #{id} already has a run that is waiting or running; reload the request to see it."
        )),
        _ => error.into(),
    }
}

/// Queues the run of `plan`, approved for request `request_id`, not before `run_after`: in the
/// transaction of the approval that makes the request runnable. Returns the run's id.
pub async fn enqueue_apply(
    txn: &DatabaseTransaction,
    request_id: i32,
    plan: &Plan,
    run_after: DateTime<Utc>,
) -> Result<i32, DbErr> {
    let row = new_run(
        request_id,
        RunKind::Apply,
        RunState::Queued,
        plan,
        run_after,
    )?;
    Ok(row.insert(txn).await?.id)
}

/// Settles request `id`'s run before the request is edited or cancelled (`cancelling`): a
/// waiting run is withdrawn (a new approval queues a new one); a running one is stopped when
/// the request is cancelled (a new fence: its worker stops before the next step) and makes an
/// edit wait. Returns why the action must wait, if it must.
pub async fn settle(
    txn: &DatabaseTransaction,
    id: i32,
    cancelling: bool,
    actor: &str,
) -> Result<Option<String>, DbErr> {
    let Some(job) = latest(txn, id).await? else {
        return Ok(None);
    };
    let reason = match (job.state, cancelling) {
        (RunState::Running, false) => {
            return Ok(Some(format!(
                "Run #{} is running: cancel the run before editing the request.",
                job.id
            )));
        }
        (RunState::Queued | RunState::Running | RunState::AwaitingApproval, true) => {
            "the request was cancelled"
        }
        (RunState::Queued | RunState::AwaitingApproval, false) => {
            "the request was edited; its next approval queues a new run"
        }
        _ => return Ok(None),
    };
    if transition(txn, &job, RunState::Cancelled, |u| {
        new_fence(u).col_expr(jobs::Column::Reason, Expr::value(reason))
    })
    .await?
    {
        audit::append(
            txn,
            AuditRecord::ok(actor, "run.cancel")
                .entity(ENTITY, id)
                .before(json!({ "run": job.id, "state": job.state }))
                .after(json!({ "run": job.id, "state": RunState::Cancelled }))
                .detail(reason),
        )
        .await?;
    }
    Ok(None)
}

/// Refuses `user` (audited) unless `allowed`.
async fn authorize(
    state: &AppState,
    user: &CurrentUser,
    allowed: bool,
    action: &str,
    id: i32,
    reason: &str,
) -> Result<(), AppError> {
    if allowed {
        return Ok(());
    }
    record_denial(&state.db, &user.username, action, Some(id), reason).await;
    Err(AppError::Forbidden(reason.to_string()))
}

/// Refuses (audited, as a conflict) an action the run's state does not allow.
async fn not_now(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    action: &str,
    reason: String,
) -> AppError {
    record_denial(&state.db, &user.username, action, Some(id), &reason).await;
    AppError::Conflict(reason)
}

const ADMINS_ONLY: &str = "Only admins operate runs.";

/// Moves the latest run of request `id` to `to` for an operator's `action` (admins only),
/// with a new fence (a worker still holding the old lease writes nothing more), audited.
async fn operate(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    action: RunAction,
    to: RunState,
    audit_action: &str,
) -> Result<(), AppError> {
    authorize(
        state,
        user,
        user.has(Role::Admin),
        audit_action,
        id,
        ADMINS_ONLY,
    )
    .await?;
    let txn = begin_write(&state.db).await?;
    let job = latest(&txn, id).await?.ok_or(AppError::NotFound)?;
    if !job.state.allows(action) {
        drop(txn);
        let reason = format!(
            "Run #{} is {} and cannot be {}.",
            job.id,
            job.state.label(),
            action.past()
        );
        return Err(not_now(state, user, id, audit_action, reason).await);
    }
    let now = Utc::now();
    let resuming = to == RunState::Queued;
    let moved = transition(&txn, &job, to, |u| {
        let u = new_fence(u).col_expr(jobs::Column::RunAfter, Expr::value(now));
        if resuming {
            u.col_expr(jobs::Column::Attempts, Expr::value(0))
        } else {
            u
        }
    })
    .await
    .map_err(|e| another_active_run(e, id))?;
    if !moved {
        drop(txn);
        let reason = format!("Run #{} changed meanwhile; reload the request.", job.id);
        return Err(not_now(state, user, id, audit_action, reason).await);
    }
    if resuming {
        // Resuming is the operator's word that a step interrupted while its commands ran may
        // run again: it is marked failed, so the worker checks it and applies it anew.
        run_steps::Entity::update_many()
            .col_expr(
                run_steps::Column::State,
                Expr::value(StepState::Failed.as_str()),
            )
            .filter(run_steps::Column::JobId.eq(job.id))
            .filter(run_steps::Column::State.eq(StepState::Applying.as_str()))
            .exec(&txn)
            .await?;
    }
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, audit_action)
            .entity(ENTITY, id)
            .before(json!({ "run": job.id, "state": job.state }))
            .after(json!({ "run": job.id, "state": to })),
    )
    .await?;
    txn.commit().await?;
    if resuming {
        state.run_queued.notify_one();
    }
    Ok(())
}

/// Cancels the latest run of request `id` (admins); a worker running it stops before its next
/// step.
pub async fn cancel(state: &AppState, user: &CurrentUser, id: i32) -> Result<(), AppError> {
    operate(
        state,
        user,
        id,
        RunAction::Cancel,
        RunState::Cancelled,
        "run.cancel",
    )
    .await
}

/// Queues the latest run of request `id` again after it stopped (admins); done steps are
/// skipped.
pub async fn resume(state: &AppState, user: &CurrentUser, id: i32) -> Result<(), AppError> {
    operate(
        state,
        user,
        id,
        RunAction::Resume,
        RunState::Queued,
        "run.resume",
    )
    .await
}

/// Asks for a rollback of the latest run of request `id` (admins): a rollback run whose undo
/// plan undoes, last first, exactly the steps that run completed or left applying, with the
/// undo commands stored with that run. It waits for another person's approval. Returns its id.
pub async fn request_rollback(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
) -> Result<i32, AppError> {
    let action = "run.rollback";
    authorize(state, user, user.has(Role::Admin), action, id, ADMINS_ONLY).await?;
    let txn = begin_write(&state.db).await?;
    let target = latest(&txn, id).await?.ok_or(AppError::NotFound)?;
    let target_steps = steps(&txn, target.id).await?;
    let positions = applied_positions(&target_steps);
    let plan = plan_of(&target);
    let refusal = if !can_roll_back(target.kind, target.state, !positions.is_empty()) {
        Some(format!(
            "Run #{} ({} {}) has nothing that can be rolled back.",
            target.id,
            target.kind.as_str(),
            target.state.label()
        ))
    } else if plan.is_none() {
        Some(format!(
            "Run #{} was made before runs kept their plans, so imlink cannot tell what would undo it.",
            target.id
        ))
    } else {
        None
    };
    let (Some(plan), None) = (plan, refusal.clone()) else {
        drop(txn);
        return Err(not_now(state, user, id, action, refusal.unwrap_or_default()).await);
    };
    let undo = plan.undo(
        &positions,
        format!(
            "Undoes what run #{} applied: {} step(s), last first, with the undo commands stored with that run.",
            target.id,
            positions.len()
        ),
    );
    let mut row = new_run(
        id,
        RunKind::Rollback,
        RunState::AwaitingApproval,
        &undo,
        Utc::now(),
    )?;
    row.target_run = Set(Some(target.id));
    row.requested_by = Set(Some(user.id));
    let rollback = match row.insert(&txn).await {
        Ok(run) => run.id,
        Err(e) => {
            drop(txn);
            let error = another_active_run(e, id);
            if let AppError::Conflict(reason) = &error {
                record_denial(&state.db, &user.username, action, Some(id), reason).await;
            }
            return Err(error);
        }
    };
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, action)
            .entity(ENTITY, id)
            .after(json!({
                "run": target.id,
                "rollback": rollback,
                "steps": positions.len(),
                "plan_hash": undo.hash(),
                "state": RunState::AwaitingApproval,
            }))
            .detail("the undo plan waits for another approver"),
    )
    .await?;
    txn.commit().await?;
    Ok(rollback)
}

/// Approves the undo plan `plan_hash` of request `id`'s rollback: only an approver who did not
/// ask for the rollback, and only for the undo plan they saw. The rollback is then queued.
pub async fn approve_rollback(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    plan_hash: &str,
) -> Result<(), AppError> {
    let action = "run.rollback_approve";
    let policy = &state.settings.approval;
    authorize(
        state,
        user,
        policy.is_approver(user),
        action,
        id,
        &format!(
            "Approving a rollback needs one of these roles: {}.",
            Role::list(&policy.approver_roles)
        ),
    )
    .await?;
    let txn = begin_write(&state.db).await?;
    let job = latest(&txn, id).await?.ok_or(AppError::NotFound)?;
    if job.kind != RunKind::Rollback || job.state != RunState::AwaitingApproval {
        drop(txn);
        let reason = format!("Run #{} is not a rollback waiting for approval.", job.id);
        return Err(not_now(state, user, id, action, reason).await);
    }
    if job.requested_by == Some(user.id) {
        drop(txn);
        return Err(authorize(
            state,
            user,
            false,
            action,
            id,
            "You asked for this rollback, so another approver must approve it.",
        )
        .await
        .unwrap_err());
    }
    if job.plan_hash != plan_hash {
        drop(txn);
        let reason = format!(
            "The undo plan of run #{} is not the one you saw; reload the request and review it again.",
            job.id
        );
        return Err(not_now(state, user, id, action, reason).await);
    }
    let now = Utc::now();
    let approved = transition(&txn, &job, RunState::Queued, |u| {
        u.col_expr(jobs::Column::ApprovedBy, Expr::value(user.id))
            .col_expr(jobs::Column::ApprovedAt, Expr::value(now))
            .col_expr(jobs::Column::RunAfter, Expr::value(now))
    })
    .await?;
    if !approved {
        drop(txn);
        let reason = format!("Run #{} changed meanwhile; reload the request.", job.id);
        return Err(not_now(state, user, id, action, reason).await);
    }
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, action)
            .entity(ENTITY, id)
            .before(json!({ "run": job.id, "state": job.state }))
            .after(json!({ "run": job.id, "state": RunState::Queued, "plan_hash": plan_hash })),
    )
    .await?;
    txn.commit().await?;
    state.run_queued.notify_one();
    Ok(())
}

/// Whether rollback `job` may run: approved, by someone other than who asked, who still holds
/// an approver role, for the undo plan stored with it. The undo plan, or why not.
pub async fn rollback_runnable(
    db: &DatabaseConnection,
    policy: &ApprovalPolicy,
    job: &jobs::Model,
) -> Result<Plan, String> {
    let (Some(asked), Some(approver)) = (job.requested_by, job.approved_by) else {
        return Err("the rollback was not approved".into());
    };
    if asked == approver {
        return Err("the rollback was approved by the person who asked for it".into());
    }
    let approver = super::super::users::find(db, approver)
        .await
        .map_err(|e| e.to_string())?;
    if !approver.is_some_and(|a| policy.is_approver(&a)) {
        return Err("the rollback's approver no longer holds an approver role".into());
    }
    let plan = plan_of(job).ok_or("the rollback has no undo plan")?;
    if plan.hash() != job.plan_hash {
        return Err("the undo plan is not the one that was approved".into());
    }
    Ok(plan)
}
