//! Operators' actions on runs: cancel one, or resume one that stopped (it skips the steps that
//! are already done and checks the one that was interrupted before applying it again).

use chrono::Utc;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};

use super::audit::{self, AuditRecord};
use super::db::begin_write;
use super::entities::jobs;
use super::state::AppState;
use crate::domain::roles::CurrentUser;
use crate::error::AppError;

/// States a run can be cancelled from.
const CANCELLABLE: &[&str] = &["queued", "running", "needs_attention", "failed"];
/// States a run can be resumed from.
const RESUMABLE: &[&str] = &["needs_attention", "failed", "cancelled"];

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
    let job = jobs::Entity::find()
        .filter(jobs::Column::RequestId.eq(id))
        .order_by_desc(jobs::Column::Id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
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
