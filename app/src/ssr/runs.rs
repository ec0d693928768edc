//! Operators' actions on runs: cancel one, or resume one that stopped (it skips the steps that
//! are already done and checks the one that was interrupted before applying it again).

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};

use super::audit::{self, AuditRecord};
use super::db::begin_write;
use super::entities::{jobs, run_steps};
use super::state::AppState;
use crate::domain::roles::CurrentUser;
use crate::domain::runs::{CANCELLABLE, RESUMABLE, can_roll_back};
use crate::error::AppError;

/// The latest run of request `id`.
pub async fn latest(db: &impl ConnectionTrait, id: i32) -> Result<Option<jobs::Model>, DbErr> {
    jobs::Entity::find()
        .filter(jobs::Column::RequestId.eq(id))
        .order_by_desc(jobs::Column::Id)
        .one(db)
        .await
}

/// The steps run `job` has started, in plan order.
pub async fn steps(db: &impl ConnectionTrait, job: i32) -> Result<Vec<run_steps::Model>, DbErr> {
    run_steps::Entity::find()
        .filter(run_steps::Column::JobId.eq(job))
        .order_by_asc(run_steps::Column::Position)
        .all(db)
        .await
}

/// The apply run of request `id` that came last before run `before`, with the steps it
/// completed (what a rollback run undoes).
pub async fn applied_before(
    db: &impl ConnectionTrait,
    id: i32,
    before: i32,
) -> Result<Option<(jobs::Model, Vec<run_steps::Model>)>, DbErr> {
    let Some(run) = jobs::Entity::find()
        .filter(jobs::Column::RequestId.eq(id))
        .filter(jobs::Column::Kind.eq("apply"))
        .filter(jobs::Column::Id.lt(before))
        .order_by_desc(jobs::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let done = run_steps::Entity::find()
        .filter(run_steps::Column::JobId.eq(run.id))
        .filter(run_steps::Column::State.eq("done"))
        .all(db)
        .await?;
    Ok(Some((run, done)))
}

/// Settles request `id`'s run before the request is edited or cancelled (`cancelling`): a
/// queued run is withdrawn (a new approval queues a new one); a running one is stopped when
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
    let reason = match (job.state.as_str(), cancelling) {
        ("running", false) => {
            return Ok(Some(format!(
                "Run #{} is running: cancel the run before editing the request.",
                job.id
            )));
        }
        ("queued" | "running", true) => "the request was cancelled",
        ("queued", false) => "the request was edited; its next approval queues a new run",
        _ => return Ok(None),
    };
    let now = Utc::now();
    jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value("cancelled"))
        .col_expr(jobs::Column::Reason, Expr::value(reason))
        .col_expr(jobs::Column::Fence, Expr::col(jobs::Column::Fence).add(1))
        .col_expr(
            jobs::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(job.id))
        .exec(txn)
        .await?;
    audit::append(
        txn,
        AuditRecord::ok(actor, "run.cancel")
            .entity(super::requests::ENTITY, id)
            .before(serde_json::json!({ "run": job.id, "state": job.state }))
            .after(serde_json::json!({ "run": job.id, "state": "cancelled" }))
            .detail(reason),
    )
    .await?;
    Ok(None)
}

/// Moves the latest run of request `id` from one of `from` to `to`, audited as `action`.
async fn transition(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    from: &[&str],
    to: &str,
    action: &str,
) -> Result<(), AppError> {
    let txn = begin_write(&state.db).await?;
    let job = latest(&txn, id).await?.ok_or(AppError::NotFound)?;
    if !from.contains(&job.state.as_str()) {
        drop(txn);
        let reason = format!(
            "Run #{} is {} and cannot be {}.",
            job.id,
            job.state.replace('_', " "),
            action.trim_start_matches("run.")
        );
        super::requests::record_denial(&state.db, &user.username, action, Some(id), &reason).await;
        return Err(AppError::Conflict(reason));
    }
    let now = Utc::now();
    // A new fence: a worker still holding the old lease can write nothing more.
    jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(to))
        .col_expr(jobs::Column::Fence, Expr::col(jobs::Column::Fence).add(1))
        .col_expr(
            jobs::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(jobs::Column::RunAfter, Expr::value(now))
        .col_expr(
            jobs::Column::Attempts,
            Expr::value(if to == "queued" { 0 } else { job.attempts }),
        )
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(job.id))
        .exec(&txn)
        .await?;
    if to == "queued" {
        // Resuming is the operator's word that a step interrupted while its commands ran may
        // run again: it is marked failed, so the worker checks it and applies it anew.
        run_steps::Entity::update_many()
            .col_expr(run_steps::Column::State, Expr::value("failed"))
            .filter(run_steps::Column::JobId.eq(job.id))
            .filter(run_steps::Column::State.eq("applying"))
            .exec(&txn)
            .await?;
    }
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, action)
            .entity(super::requests::ENTITY, id)
            .before(serde_json::json!({ "run": job.id, "state": job.state }))
            .after(serde_json::json!({ "run": job.id, "state": to })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Cancels the latest run of request `id`; a worker running it stops before its next step.
pub async fn cancel(state: &AppState, user: &CurrentUser, id: i32) -> Result<(), AppError> {
    transition(state, user, id, CANCELLABLE, "cancelled", "run.cancel").await
}

/// Queues the latest run of request `id` again after it stopped.
pub async fn resume(state: &AppState, user: &CurrentUser, id: i32) -> Result<(), AppError> {
    transition(state, user, id, RESUMABLE, "queued", "run.resume").await
}

/// Queues a rollback of what the latest run of request `id` applied, step by step in reverse.
pub async fn rollback(state: &AppState, user: &CurrentUser, id: i32) -> Result<i32, AppError> {
    let txn = begin_write(&state.db).await?;
    let job = latest(&txn, id).await?.ok_or(AppError::NotFound)?;
    let applied = run_steps::Entity::find()
        .filter(run_steps::Column::JobId.eq(job.id))
        .filter(run_steps::Column::State.eq("done"))
        .all(&txn)
        .await?;
    if !can_roll_back(&job.kind, &job.state, !applied.is_empty()) {
        drop(txn);
        let reason = format!(
            "Run #{} ({} {}) has nothing that can be rolled back.",
            job.id,
            job.kind,
            job.state.replace('_', " ")
        );
        super::requests::record_denial(
            &state.db,
            &user.username,
            "run.rollback",
            Some(id),
            &reason,
        )
        .await;
        return Err(AppError::Conflict(reason));
    }
    let rollback =
        super::queue::enqueue_kind(&txn, id, &job.plan_hash, Utc::now(), "rollback").await?;
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, "run.rollback")
            .entity(super::requests::ENTITY, id)
            .after(
                serde_json::json!({ "run": job.id, "rollback": rollback, "steps": applied.len() }),
            ),
    )
    .await?;
    txn.commit().await?;
    Ok(rollback)
}
