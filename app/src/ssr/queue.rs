//! Enqueueing runs: a job is created in the same transaction as the approval that makes a
//! request runnable, so an approved request is never without its run.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};

use super::entities::jobs;

/// Queues a run of the plan `plan_hash` for `request_id`, not before `run_after`.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    request_id: i32,
    plan_hash: &str,
    run_after: DateTime<Utc>,
) -> Result<i32, DbErr> {
    enqueue_kind(db, request_id, plan_hash, run_after, "apply").await
}

/// Queues a run of `kind` (`apply` or `rollback`).
pub async fn enqueue_kind<C: ConnectionTrait>(
    db: &C,
    request_id: i32,
    plan_hash: &str,
    run_after: DateTime<Utc>,
    kind: &str,
) -> Result<i32, DbErr> {
    let now = Utc::now();
    let job = jobs::ActiveModel {
        request_id: Set(request_id),
        plan_hash: Set(plan_hash.to_string()),
        state: Set("queued".into()),
        attempts: Set(0),
        lease_owner: Set(None),
        lease_until: Set(None),
        fence: Set(0),
        run_after: Set(run_after),
        reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set(kind.to_string()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(job.id)
}
