//! What workers do with runs. A worker claims a run with a lease (renewed while it works) and
//! a fence (a number that grows at every claim, rescue and cancel). Every write a [`Lease`]
//! makes carries its fence in the statement itself, so a worker whose run was taken from it
//! (its lease ran out, an operator cancelled) changes nothing at all afterwards.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query, SimpleExpr},
};
use sha2::{Digest, Sha256};

use super::super::audit::{self, AuditRecord};
use super::super::db::begin_write;
use super::super::entities::{change_requests, jobs, run_steps};
use super::super::requests::ENTITY;
use super::{new_fence, transition};
use crate::domain::runs::{RunState, StepState};

/// How many runnable jobs a claim looks at to find one whose site is free.
const CLAIM_WINDOW: u64 = 16;
/// Serializes claims on PostgreSQL (`pg_advisory_xact_lock`), so two workers never both see
/// a site as free.
const CLAIM_LOCK: i64 = 0x696d_6c69_6e6b; // "imlink"

/// A run claimed by a worker: the run as claimed (with its fence), who holds it, and for how
/// long a renewal lasts.
#[derive(Clone, Debug)]
pub struct Lease {
    pub job: jobs::Model,
    pub owner: String,
    pub length: Duration,
}

/// The audit actor of worker `owner`.
fn actor(owner: &str) -> String {
    format!("worker:{owner}")
}

/// Takes the oldest queued run that is due and whose Lync site has no other running run.
/// Claims are serialized on PostgreSQL (an advisory lock), and other workers skip the locked
/// rows.
pub async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    length: Duration,
) -> Result<Option<Lease>, DbErr> {
    let txn = begin_write(db).await?;
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK})"))
            .await?;
    }
    let now = Utc::now();
    let mut query = jobs::Entity::find()
        .filter(jobs::Column::State.eq(RunState::Queued.as_str()))
        .filter(jobs::Column::RunAfter.lte(now))
        .order_by_asc(jobs::Column::RunAfter)
        .order_by_asc(jobs::Column::Id)
        .limit(CLAIM_WINDOW);
    if postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let candidates = query.all(&txn).await?;
    let busy = busy_sites(&txn, now).await?;
    let mut chosen = None;
    for job in candidates {
        let site = change_requests::Entity::find_by_id(job.request_id)
            .one(&txn)
            .await?
            .map(|r| r.site_id);
        if site.is_none_or(|s| !busy.contains(&s)) {
            chosen = Some(job);
            break;
        }
    }
    let Some(job) = chosen else {
        return Ok(None);
    };
    let fence = job.fence + 1;
    let attempts = job.attempts + 1;
    let claimed = transition(&txn, &job, RunState::Running, |u| {
        u.col_expr(jobs::Column::Attempts, Expr::value(attempts))
            .col_expr(jobs::Column::LeaseOwner, Expr::value(owner))
            .col_expr(jobs::Column::LeaseUntil, Expr::value(now + length))
            .col_expr(jobs::Column::Fence, Expr::value(fence))
    })
    .await?;
    if !claimed {
        return Ok(None);
    }
    audit::append(
        &txn,
        AuditRecord::ok(&actor(owner), "run.start")
            .entity(ENTITY, job.request_id)
            .detail(format!("run #{} attempt {attempts}", job.id)),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(Lease {
        job: jobs::Model {
            state: RunState::Running,
            attempts,
            fence,
            lease_owner: Some(owner.to_string()),
            lease_until: Some(now + length),
            ..job
        },
        owner: owner.to_string(),
        length,
    }))
}

/// The Lync sites of runs that hold a live lease, in one query.
async fn busy_sites(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<String>, DbErr> {
    let running = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::RequestId)
        .filter(jobs::Column::State.eq(RunState::Running.as_str()))
        .filter(jobs::Column::LeaseUntil.gte(now))
        .into_query();
    change_requests::Entity::find()
        .select_only()
        .column(change_requests::Column::SiteId)
        .filter(change_requests::Column::Id.in_subquery(running))
        .into_tuple()
        .all(db)
        .await
}

/// The rescuer: puts back in the queue every running run whose lease ran out (its worker died
/// or lost the database), with a new fence so that worker can write nothing more; a run that
/// has used up `max_attempts` this way stops for attention instead. Returns how many it moved.
pub async fn rescue(db: &DatabaseConnection, owner: &str, max_attempts: i32) -> Result<u64, DbErr> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let mut query = jobs::Entity::find()
        .filter(jobs::Column::State.eq(RunState::Running.as_str()))
        .filter(jobs::Column::LeaseUntil.lt(now));
    if db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let stale = query.all(&txn).await?;
    let mut moved = 0;
    for job in &stale {
        let (to, reason, action) = if job.attempts >= max_attempts {
            (
                RunState::NeedsAttention,
                format!(
                    "its worker stopped renewing the lease on attempt {} of {max_attempts}; stopped for attention",
                    job.attempts
                ),
                "run.needs_attention",
            )
        } else {
            (
                RunState::Queued,
                "its worker stopped renewing the lease; queued again".to_string(),
                "run.rescued",
            )
        };
        let reason_value = reason.clone();
        let rescued = transition(&txn, job, to, |u| {
            new_fence(u)
                .col_expr(jobs::Column::Reason, Expr::value(reason_value))
                .col_expr(jobs::Column::RunAfter, Expr::value(now))
        })
        .await?;
        if !rescued {
            continue;
        }
        moved += 1;
        audit::append(
            &txn,
            AuditRecord::ok(&actor(owner), action)
                .entity(ENTITY, job.request_id)
                .detail(format!(
                    "run #{}: the lease of {} ran out at {}; {reason}",
                    job.id,
                    job.lease_owner.as_deref().unwrap_or("a worker"),
                    job.lease_until.map(|t| t.to_rfc3339()).unwrap_or_default()
                )),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(moved)
}

/// The SHA-256 of `text`, hex-encoded.
pub fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Lease {
    /// The condition, for any statement, that this lease still holds its run.
    fn holds(&self) -> SimpleExpr {
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(jobs::Entity)
                .and_where(Expr::col((jobs::Entity, jobs::Column::Id)).eq(self.job.id))
                .and_where(Expr::col((jobs::Entity, jobs::Column::Fence)).eq(self.job.fence))
                .and_where(
                    Expr::col((jobs::Entity, jobs::Column::State)).eq(RunState::Running.as_str()),
                )
                .to_owned(),
        )
    }

    /// Renews the lease; `false` once the run is no longer this lease's.
    pub async fn renew(&self, db: &DatabaseConnection) -> Result<bool, DbErr> {
        let now = Utc::now();
        let renewed = jobs::Entity::update_many()
            .col_expr(jobs::Column::LeaseUntil, Expr::value(now + self.length))
            .filter(jobs::Column::Id.eq(self.job.id))
            .filter(jobs::Column::Fence.eq(self.job.fence))
            .filter(jobs::Column::State.eq(RunState::Running.as_str()))
            .exec(db)
            .await?;
        Ok(renewed.rows_affected == 1)
    }

    /// The steps this run has started so far.
    pub async fn steps(&self, db: &DatabaseConnection) -> Result<Vec<run_steps::Model>, DbErr> {
        super::steps(db, self.job.id).await
    }

    /// Records that step `position` (`step_id`) starts (its check runs first): a new record,
    /// or the earlier attempt's record started again. `None` once the run is no longer this
    /// lease's.
    pub async fn start_step(
        &self,
        db: &DatabaseConnection,
        position: i32,
        step_id: &str,
    ) -> Result<Option<run_steps::Model>, DbErr> {
        let now = Utc::now();
        let values = Query::select()
            .expr(Expr::val(self.job.id))
            .expr(Expr::val(position))
            .expr(Expr::val(step_id))
            .expr(Expr::val(StepState::Started.as_str()))
            .expr(Expr::val(""))
            .expr(Expr::val(sha256("")))
            .expr(Expr::val(now))
            .and_where(self.holds())
            .to_owned();
        let insert = Query::insert()
            .into_table(run_steps::Entity)
            .columns([
                run_steps::Column::JobId,
                run_steps::Column::Position,
                run_steps::Column::StepId,
                run_steps::Column::State,
                run_steps::Column::Output,
                run_steps::Column::OutputSha256,
                run_steps::Column::StartedAt,
            ])
            .select_from(values)
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .on_conflict(
                OnConflict::columns([run_steps::Column::JobId, run_steps::Column::Position])
                    .update_columns([
                        run_steps::Column::State,
                        run_steps::Column::StartedAt,
                        run_steps::Column::Output,
                        run_steps::Column::OutputSha256,
                    ])
                    .value(run_steps::Column::FinishedAt, Option::<DateTime<Utc>>::None)
                    .to_owned(),
            )
            .to_owned();
        if db.execute(&insert).await?.rows_affected() != 1 {
            return Ok(None);
        }
        run_steps::Entity::find()
            .filter(run_steps::Column::JobId.eq(self.job.id))
            .filter(run_steps::Column::Position.eq(position))
            .one(db)
            .await
    }

    /// Marks `step` as applying: its commands are about to be sent. `false` once the run is
    /// no longer this lease's.
    pub async fn mark_applying(
        &self,
        db: &DatabaseConnection,
        step: &run_steps::Model,
    ) -> Result<bool, DbErr> {
        let marked = run_steps::Entity::update_many()
            .col_expr(
                run_steps::Column::State,
                Expr::value(StepState::Applying.as_str()),
            )
            .col_expr(run_steps::Column::ApplyingSince, Expr::value(Utc::now()))
            .filter(run_steps::Column::Id.eq(step.id))
            .filter(self.holds())
            .exec(db)
            .await?;
        Ok(marked.rows_affected == 1)
    }

    /// Saves the output `step` has printed so far, and renews the lease. `false` once the run
    /// is no longer this lease's.
    pub async fn progress(
        &self,
        db: &DatabaseConnection,
        step: &run_steps::Model,
        output: Option<&str>,
    ) -> Result<bool, DbErr> {
        if !self.renew(db).await? {
            return Ok(false);
        }
        let Some(output) = output else {
            return Ok(true);
        };
        let saved = run_steps::Entity::update_many()
            .col_expr(run_steps::Column::Output, Expr::value(output))
            .filter(run_steps::Column::Id.eq(step.id))
            .filter(self.holds())
            .exec(db)
            .await?;
        Ok(saved.rows_affected == 1)
    }

    /// Ends `step` in `state` with its (bounded) output and the SHA-256 of the whole output,
    /// audited in the same transaction. `false` once the run is no longer this lease's.
    pub async fn end_step(
        &self,
        db: &DatabaseConnection,
        step: &run_steps::Model,
        state: StepState,
        output: &str,
        sha256: &str,
    ) -> Result<bool, DbErr> {
        let txn = begin_write(db).await?;
        let ended = run_steps::Entity::update_many()
            .col_expr(run_steps::Column::State, Expr::value(state.as_str()))
            .col_expr(run_steps::Column::Output, Expr::value(output))
            .col_expr(run_steps::Column::OutputSha256, Expr::value(sha256))
            .col_expr(run_steps::Column::FinishedAt, Expr::value(Utc::now()))
            .filter(run_steps::Column::Id.eq(step.id))
            .filter(self.holds())
            .exec(&txn)
            .await?;
        if ended.rows_affected != 1 {
            return Ok(false);
        }
        audit::append(
            &txn,
            AuditRecord::ok(&actor(&self.owner), "run.step")
                .entity(ENTITY, self.job.request_id)
                .detail(format!(
                    "run #{} step {} ({}): {}; {}",
                    self.job.id,
                    step.position + 1,
                    step.step_id,
                    state.as_str(),
                    if output.is_empty() {
                        "no output".to_string()
                    } else {
                        format!("output SHA-256 {sha256}")
                    }
                )),
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Keeps the run's verification report. `false` once the run is no longer this lease's.
    pub async fn save_report(&self, db: &DatabaseConnection, report: &str) -> Result<bool, DbErr> {
        let saved = jobs::Entity::update_many()
            .col_expr(jobs::Column::Report, Expr::value(report))
            .filter(jobs::Column::Id.eq(self.job.id))
            .filter(self.holds())
            .exec(db)
            .await?;
        Ok(saved.rows_affected == 1)
    }

    /// Gives the run up in state `to` with `reason` (queued again not before `run_after`, when
    /// given), audited as `action` with `detail`. Nothing happens once the run is no longer
    /// this lease's; returns whether it was given up.
    pub async fn release(
        &self,
        db: &DatabaseConnection,
        to: RunState,
        reason: Option<String>,
        run_after: Option<DateTime<Utc>>,
        action: &str,
        detail: String,
    ) -> Result<bool, DbErr> {
        let txn = begin_write(db).await?;
        let released = transition(&txn, &self.job, to, |u| {
            let u = u
                .col_expr(jobs::Column::Reason, Expr::value(reason))
                .col_expr(
                    jobs::Column::LeaseOwner,
                    Expr::value(Option::<String>::None),
                );
            match run_after {
                Some(at) => u.col_expr(jobs::Column::RunAfter, Expr::value(at)),
                None => u,
            }
        })
        .await?;
        if released {
            audit::append(
                &txn,
                AuditRecord::ok(&actor(&self.owner), action)
                    .entity(ENTITY, self.job.request_id)
                    .detail(detail),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(released)
    }
}
