//! The worker: claims queued runs, re-checks that they may still run, and runs each step of the
//! approved plan (check, then apply, then the expected output) on the executor, recording every
//! step's result. A claim is a lease with a fence: the worker renews the lease at each step and
//! writes only while its fence is still the job's, so a worker that lost its lease records
//! nothing more.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};
use sha2::{Digest, Sha256};

use app::api::models::Evidence;
use app::domain::plan::{Decision, Plan, Target};
use app::domain::workflow::{self, Vote};
use app::ssr::entities::{approvals, change_requests, jobs, run_steps};
use app::ssr::state::Settings;

use crate::executor::{ExecError, Executor, ScriptRun};

/// How much of a step's output is stored (the SHA-256 covers all of it).
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// How many runnable jobs a claim looks at to find one whose site is free.
const CLAIM_WINDOW: u64 = 16;
/// Attempts before a run that keeps failing transiently stops for attention.
pub const MAX_ATTEMPTS: i32 = 5;
/// How often a running step renews the lease and saves the output it has printed so far.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// Serializes claims on PostgreSQL (`pg_advisory_xact_lock`), so two workers never both see
/// a site as free.
const CLAIM_LOCK: i64 = 0x696d_6c69_6e6b; // "imlink"

/// The wait before retrying attempt `attempt` (1-based): exponential from 5 s, capped at
/// 5 minutes, with up to 25 % jitter so workers do not retry in step.
pub fn backoff(attempt: i32, jitter: f64) -> chrono::Duration {
    let base = std::cmp::min(
        5_i64.saturating_mul(1_i64 << attempt.clamp(1, 16).saturating_sub(1)),
        300,
    );
    let jittered = base as f64 * (1.0 + 0.25 * jitter.clamp(0.0, 1.0));
    chrono::Duration::milliseconds((jittered * 1000.0) as i64)
}

/// Wakes the worker whenever PostgreSQL announces a queued job; reconnects after errors.
async fn listen(db: DatabaseConnection, wake: Arc<tokio::sync::Notify>) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut delay = Duration::from_millis(250);
    loop {
        let mut listener = match PgListener::connect_with(db.get_postgres_connection_pool()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for queued jobs; polling meanwhile");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if let Err(e) = listener.listen("imlink_jobs").await {
            tracing::warn!(error = %e, "LISTEN imlink_jobs failed; polling meanwhile");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
            continue;
        }
        delay = Duration::from_millis(250);
        while listener.recv().await.is_ok() {
            wake.notify_one();
        }
    }
}

/// The worker's sweep, every half lease: the rescuer (waking the worker when it re-queued
/// something), and the removal of sessions that have ended.
async fn rescue_every(worker: Worker, wake: Arc<tokio::sync::Notify>) {
    let every = (worker.lease / 2)
        .to_std()
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(every).await;
        match app::ssr::auth::remove_ended_sessions(
            &worker.db,
            &worker.settings.session,
            Utc::now(),
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "removed sessions that have ended"),
            Err(e) => tracing::warn!(error = %e, "could not remove ended sessions"),
        }
        match worker.rescue().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    jobs = n,
                    "re-queued runs whose worker stopped renewing its lease"
                );
                wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "the rescuer could not look for stale runs"),
        }
    }
}

/// One worker.
#[derive(Clone)]
pub struct Worker {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub executor: Executor,
    /// Who holds a lease, e.g. `host:pid:n`.
    pub owner: String,
    pub lease: chrono::Duration,
    /// How often to look for work when nothing wakes the worker.
    pub poll: Duration,
    /// Set on shutdown: the run in hand stops before its next step and goes back to the queue.
    stopping: Arc<AtomicBool>,
}

/// Why a claimed job stopped early.
#[derive(Debug)]
enum Stop {
    /// Another worker now holds the job: write nothing more.
    LostLease,
    /// The run cannot go on; the job is parked with this state and reason.
    Park(&'static str, String),
    /// The executor could not be reached (a connection, a timeout): try again later.
    Transient(String),
    /// The worker is shutting down: the job goes back to the queue at once.
    Interrupted,
}

impl From<ExecError> for Stop {
    fn from(e: ExecError) -> Self {
        if e.is_transient() {
            Stop::Transient(e.to_string())
        } else {
            Stop::Park("needs_attention", e.to_string())
        }
    }
}

impl From<sea_orm::DbErr> for Stop {
    fn from(e: sea_orm::DbErr) -> Self {
        Stop::Park("needs_attention", format!("database error: {e}"))
    }
}

impl Worker {
    /// A worker named `owner` with a one-minute lease, polling every two seconds.
    pub fn new(
        db: DatabaseConnection,
        settings: Arc<Settings>,
        executor: Executor,
        owner: String,
    ) -> Worker {
        Worker {
            db,
            settings,
            executor,
            owner,
            lease: chrono::Duration::seconds(60),
            poll: Duration::from_secs(2),
            stopping: Arc::default(),
        }
    }

    /// Runs until `shutdown` resolves: works while there is work, then waits for a
    /// notification (PostgreSQL) or the poll interval. On shutdown the step in hand finishes,
    /// and its run goes back to the queue for the next worker.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let wake = Arc::new(tokio::sync::Notify::new());
        let listener = (self.db.get_database_backend() == DatabaseBackend::Postgres)
            .then(|| tokio::spawn(listen(self.db.clone(), wake.clone())));
        let rescuer = tokio::spawn(rescue_every(self.clone(), wake.clone()));
        while !self.stopping.load(Ordering::SeqCst) {
            let work = self.tick();
            tokio::pin!(work);
            let worked = tokio::select! {
                worked = &mut work => worked,
                _ = &mut shutdown => {
                    self.stopping.store(true, Ordering::SeqCst);
                    work.await
                }
            };
            match worked {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "worker tick failed"),
            }
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        rescuer.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
    }

    /// Claims and runs one job; `false` when there was none.
    pub async fn tick(&self) -> Result<bool, sea_orm::DbErr> {
        let Some(job) = self.claim().await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("job", id = job.id, request = job.request_id);
        let _guard = span.enter();
        match self.execute(&job).await {
            Ok(()) => self.finish(&job, "succeeded", None).await?,
            Err(Stop::LostLease) => tracing::warn!("lost the lease; stopping without writing"),
            Err(Stop::Park(state, reason)) => self.finish(&job, state, Some(reason)).await?,
            Err(Stop::Transient(reason)) if job.attempts >= MAX_ATTEMPTS => {
                let reason = format!("gave up after {} attempts: {reason}", job.attempts);
                self.finish(&job, "needs_attention", Some(reason)).await?
            }
            Err(Stop::Transient(reason)) => self.retry_later(&job, reason).await?,
            Err(Stop::Interrupted) => {
                let detail = format!(
                    "run #{} attempt {} stopped between steps: the worker shut down",
                    job.id, job.attempts
                );
                self.release(
                    &job,
                    "queued",
                    None,
                    Some(Utc::now()),
                    "run.interrupted",
                    detail,
                )
                .await?
            }
        }
        Ok(true)
    }

    /// Takes the oldest queued job that is due and whose site is free. Claims are serialized
    /// on PostgreSQL (an advisory lock), and other workers skip the locked rows.
    pub async fn claim(&self) -> Result<Option<jobs::Model>, sea_orm::DbErr> {
        let txn = app::ssr::db::begin_write(&self.db).await?;
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            use sea_orm::ConnectionTrait;
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK})"))
                .await?;
        }
        let now = Utc::now();
        let mut query = jobs::Entity::find()
            .filter(jobs::Column::State.eq("queued"))
            .filter(jobs::Column::RunAfter.lte(now))
            .order_by_asc(jobs::Column::Id)
            .limit(CLAIM_WINDOW);
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let mut chosen = None;
        for candidate in query.all(&txn).await? {
            if !self.site_busy(&txn, &candidate, now).await? {
                chosen = Some(candidate);
                break;
            }
        }
        let Some(job) = chosen else {
            return Ok(None);
        };
        let claimed = jobs::ActiveModel {
            id: Set(job.id),
            state: Set("running".into()),
            attempts: Set(job.attempts + 1),
            lease_owner: Set(Some(self.owner.clone())),
            lease_until: Set(Some(now + self.lease)),
            fence: Set(job.fence + 1),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        app::ssr::audit::append(
            &txn,
            app::ssr::audit::AuditRecord::ok(&format!("worker:{}", self.owner), "run.start")
                .entity(app::ssr::requests::ENTITY, job.request_id)
                .detail(format!("run #{} attempt {}", job.id, claimed.attempts)),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(claimed))
    }

    /// The rescuer: puts back in the queue every running job whose lease ran out (its worker
    /// died or lost the database), with a new fence so that worker can write nothing more; a
    /// job that has used up its attempts this way stops for attention instead. Returns how many
    /// jobs it moved.
    pub async fn rescue(&self) -> Result<u64, sea_orm::DbErr> {
        let now = Utc::now();
        let txn = app::ssr::db::begin_write(&self.db).await?;
        let mut query = jobs::Entity::find()
            .filter(jobs::Column::State.eq("running"))
            .filter(jobs::Column::LeaseUntil.lt(now));
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let stale = query.all(&txn).await?;
        for job in &stale {
            let worn = job.attempts >= MAX_ATTEMPTS;
            let (state, reason, action) = if worn {
                let reason = format!(
                    "its worker stopped renewing the lease on attempt {} of {MAX_ATTEMPTS}; stopped for attention",
                    job.attempts
                );
                ("needs_attention", Some(reason), "run.needs_attention")
            } else {
                (
                    "queued",
                    Some("its worker stopped renewing the lease; queued again".to_string()),
                    "run.rescued",
                )
            };
            jobs::Entity::update_many()
                .col_expr(jobs::Column::State, Expr::value(state))
                .col_expr(jobs::Column::Reason, Expr::value(reason.clone()))
                .col_expr(jobs::Column::Fence, Expr::col(jobs::Column::Fence).add(1))
                .col_expr(
                    jobs::Column::LeaseOwner,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(jobs::Column::RunAfter, Expr::value(now))
                .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
                .filter(jobs::Column::Id.eq(job.id))
                .filter(jobs::Column::Fence.eq(job.fence))
                .exec(&txn)
                .await?;
            app::ssr::audit::append(
                &txn,
                app::ssr::audit::AuditRecord::ok(&format!("worker:{}", self.owner), action)
                    .entity(app::ssr::requests::ENTITY, job.request_id)
                    .detail(format!(
                        "run #{}: the lease of {} ran out at {}",
                        job.id,
                        job.lease_owner.as_deref().unwrap_or("a worker"),
                        job.lease_until.map(|t| t.to_rfc3339()).unwrap_or_default()
                    )),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(stale.len() as u64)
    }

    /// Whether another run holds a live lease on the same Lync site: one run per site at a time.
    async fn site_busy(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        job: &jobs::Model,
        now: chrono::DateTime<Utc>,
    ) -> Result<bool, sea_orm::DbErr> {
        let Some(request) = change_requests::Entity::find_by_id(job.request_id)
            .one(txn)
            .await?
        else {
            return Ok(false);
        };
        let running = jobs::Entity::find()
            .filter(jobs::Column::State.eq("running"))
            .filter(jobs::Column::LeaseUntil.gte(now))
            .filter(jobs::Column::Id.ne(job.id))
            .all(txn)
            .await?;
        for other in running {
            let same_site = change_requests::Entity::find_by_id(other.request_id)
                .one(txn)
                .await?
                .is_some_and(|r| r.site_id == request.site_id);
            if same_site {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `job` (as claimed) is still this worker's: renews its lease if so.
    pub async fn holds(&self, job: &jobs::Model) -> Result<bool, sea_orm::DbErr> {
        match self.heartbeat(job).await {
            Ok(()) => Ok(true),
            Err(Stop::LostLease) => Ok(false),
            Err(Stop::Park(_, reason) | Stop::Transient(reason)) => {
                Err(sea_orm::DbErr::Custom(reason))
            }
            Err(Stop::Interrupted) => Ok(true),
        }
    }

    /// Renews the lease if the job is still ours; refuses once it is not.
    async fn heartbeat(&self, job: &jobs::Model) -> Result<(), Stop> {
        let now = Utc::now();
        let renewed = jobs::Entity::update_many()
            .col_expr(jobs::Column::LeaseUntil, Expr::value(now + self.lease))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(job.id))
            .filter(jobs::Column::Fence.eq(job.fence))
            .filter(jobs::Column::State.eq("running"))
            .exec(&self.db)
            .await?;
        if renewed.rows_affected == 1 {
            Ok(())
        } else {
            Err(Stop::LostLease)
        }
    }

    async fn execute(&self, job: &jobs::Model) -> Result<(), Stop> {
        if job.kind == "rollback" {
            return self.roll_back(job).await;
        }
        let plan = self.recheck(job).await?;
        let done: Vec<run_steps::Model> = run_steps::Entity::find()
            .filter(run_steps::Column::JobId.eq(job.id))
            .all(&self.db)
            .await?;
        for (position, step) in plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.decision == Decision::Change)
        {
            let position = position as i32;
            if done
                .iter()
                .any(|d| d.position == position && d.state == "done")
            {
                continue;
            }
            self.between_steps(job).await?;
            // A step whose commands were being sent when its worker died may have taken
            // effect. Its check decides; a step without one is never re-run blindly.
            if !step.checkable() {
                never_blindly_again(&done, position, &step.title)?;
            }
            let record = self.record_start(job, position, &step.id, &done).await?;
            // Checked first: a step that already took effect is adopted, not applied again.
            let check = self
                .run_watched(
                    job,
                    &record,
                    &step.target,
                    std::slice::from_ref(&step.check),
                )
                .await?;
            let (state, output, sha256) =
                if check.failure.is_none() && check.output.trim() == "True" {
                    let note = "Already in place (the read-only check passed); not applied again.";
                    (
                        "done",
                        note.to_string(),
                        hex::encode(Sha256::digest(note.as_bytes())),
                    )
                } else {
                    self.heartbeat(job).await?;
                    self.mark(&record, "applying").await?;
                    let applied = self
                        .run_watched(job, &record, &step.target, &step.apply)
                        .await?;
                    let mut text = applied.output.clone();
                    let state = match (&applied.failure, &step.expect_output) {
                        (Some(f), _) => {
                            text.push_str(f);
                            "failed"
                        }
                        (None, Some(expected)) if !applied.output.contains(expected.as_str()) => {
                            text.push_str(&format!("\nThe output does not contain: {expected}"));
                            "failed"
                        }
                        _ => "done",
                    };
                    (state, text, applied.sha256)
                };
            self.heartbeat(job).await?;
            self.record_end(job, record, state, &output, sha256).await?;
            if state == "failed" {
                return Err(Stop::Park(
                    "failed",
                    format!("step “{}” failed: {}", step.title, output.trim()),
                ));
            }
        }
        self.verify(job, &plan).await
    }

    /// Runs the plan's read-only evidence scripts on each back-end server and keeps what they
    /// found, with whether the run recycled OWA there, as the run's report. Evidence that
    /// cannot be read is reported as such; it does not fail the run.
    async fn verify(&self, job: &jobs::Model, plan: &Plan) -> Result<(), Stop> {
        let steps = app::ssr::runs::steps(&self.db, job.id).await?;
        let mut report = Vec::new();
        for evidence in &plan.evidence {
            let Target::Backend(server) = &evidence.target else {
                continue;
            };
            let recycled = plan
                .steps
                .iter()
                .position(|s| {
                    s.id == app::domain::plan::recycle_step_id(server)
                        && s.decision == Decision::Change
                })
                .map(|p| {
                    steps
                        .iter()
                        .any(|s| s.position == p as i32 && s.state == "done")
                });
            self.between_steps(job).await?;
            let found = self
                .executor
                .run(
                    &evidence.target,
                    std::slice::from_ref(&evidence.script),
                    &|_: &str| {},
                )
                .await;
            let read = |output: &str| -> Result<(Option<bool>, Option<bool>), String> {
                let value: serde_json::Value =
                    serde_json::from_str(output.trim()).map_err(|e| {
                        format!("the evidence script printed something unexpected: {e}")
                    })?;
                Ok((value["Event112"].as_bool(), value["LogFolder"].as_bool()))
            };
            let (event_112, im_log_folder, error) = match found {
                Ok(run) => match run.failure.map_or_else(|| read(&run.output), Err) {
                    Ok((event, folder)) => (event, folder, None),
                    Err(e) => (None, None, Some(e)),
                },
                Err(e) => (None, None, Some(e.to_string())),
            };
            report.push(Evidence {
                server: server.clone(),
                recycled,
                event_112,
                im_log_folder,
                error,
            });
        }
        self.heartbeat(job).await?;
        jobs::Entity::update_many()
            .col_expr(
                jobs::Column::Report,
                Expr::value(serde_json::to_string(&report).ok()),
            )
            .filter(jobs::Column::Id.eq(job.id))
            .filter(jobs::Column::Fence.eq(job.fence))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Before each step: stop here if the worker is shutting down, else renew the lease.
    async fn between_steps(&self, job: &jobs::Model) -> Result<(), Stop> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(Stop::Interrupted);
        }
        self.heartbeat(job).await
    }

    /// Runs `lines` on `target` for step `record`, renewing the lease and saving the output
    /// printed so far every [`PROGRESS_INTERVAL`]; gives up at once if the lease is lost.
    async fn run_watched(
        &self,
        job: &jobs::Model,
        record: &run_steps::Model,
        target: &Target,
        lines: &[String],
    ) -> Result<ScriptRun, Stop> {
        let seen = Mutex::new(String::new());
        let sink = |chunk: &str| {
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() < OUTPUT_LIMIT {
                seen.push_str(chunk);
            }
        };
        let run = self.executor.run(target, lines, &sink);
        tokio::pin!(run);
        let mut beat = tokio::time::interval(PROGRESS_INTERVAL);
        beat.tick().await;
        let mut saved = 0;
        loop {
            tokio::select! {
                result = &mut run => return Ok(result?),
                _ = beat.tick() => {
                    self.heartbeat(job).await?;
                    let text = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    if text.len() != saved {
                        saved = text.len();
                        run_steps::Entity::update_many()
                            .col_expr(run_steps::Column::Output, Expr::value(bounded(&text)))
                            .filter(run_steps::Column::Id.eq(record.id))
                            .exec(&self.db)
                            .await?;
                    }
                }
            }
        }
    }

    /// Undoes, in reverse order, the steps the request's previous apply run completed, with each
    /// step's rollback commands. Steps without any (publishing, recycling, a repair) are recorded
    /// as having nothing to undo.
    async fn roll_back(&self, job: &jobs::Model) -> Result<(), Stop> {
        let row = change_requests::Entity::find_by_id(job.request_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Stop::Park("failed", "the request is gone".into()))?;
        let plan = app::ssr::plans::stored(&row)
            .ok_or_else(|| Stop::Park("failed", "the request has no plan".into()))?;
        let (_, mut applied) = app::ssr::runs::applied_before(&self.db, job.request_id, job.id)
            .await?
            .ok_or_else(|| Stop::Park("failed", "there is no run to roll back".into()))?;
        applied.sort_by_key(|s| std::cmp::Reverse(s.position));
        let done: Vec<run_steps::Model> = run_steps::Entity::find()
            .filter(run_steps::Column::JobId.eq(job.id))
            .all(&self.db)
            .await?;
        for original in applied {
            if done
                .iter()
                .any(|d| d.position == original.position && d.state == "done")
            {
                continue;
            }
            let Some(step) = plan.steps.get(original.position as usize) else {
                continue;
            };
            self.between_steps(job).await?;
            // Undo commands have no check of their own.
            never_blindly_again(&done, original.position, &format!("Undo {}", step.title))?;
            let record = self
                .record_start(job, original.position, &step.id, &done)
                .await?;
            let (state, output, sha256) = if step.rollback.is_empty() {
                let note = format!("Nothing to undo for “{}”.", step.title);
                let sha256 = hex::encode(Sha256::digest(note.as_bytes()));
                ("done", note, sha256)
            } else {
                self.heartbeat(job).await?;
                self.mark(&record, "applying").await?;
                let undone = self
                    .run_watched(job, &record, &step.target, &step.rollback)
                    .await?;
                match undone.failure {
                    Some(f) => ("failed", format!("{}{f}", undone.output), undone.sha256),
                    None => ("done", undone.output, undone.sha256),
                }
            };
            self.heartbeat(job).await?;
            self.record_end(job, record, state, &output, sha256).await?;
            if state == "failed" {
                return Err(Stop::Park(
                    "failed",
                    format!("rolling back “{}” failed: {}", step.title, output.trim()),
                ));
            }
        }
        Ok(())
    }

    /// Before running: still approved by others than the requester, in the window, and the
    /// environment still gives the approved plan.
    async fn recheck(&self, job: &jobs::Model) -> Result<Plan, Stop> {
        let row = change_requests::Entity::find_by_id(job.request_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Stop::Park("failed", "the request is gone".into()))?;
        let votes: Vec<Vote> = approvals::Entity::find()
            .filter(approvals::Column::RequestId.eq(row.id))
            .filter(approvals::Column::Revision.eq(row.revision))
            .filter(approvals::Column::WithdrawnAt.is_null())
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|v| {
                Some(Vote {
                    approver_id: v.approver_id,
                    decision: workflow::Decision::parse(&v.decision)?,
                    plan_hash: v.plan_hash,
                })
            })
            .collect();
        let facts = workflow::RequestFacts {
            state: app::domain::request::RequestState::parse(&row.state)
                .unwrap_or(app::domain::request::RequestState::Draft),
            requester_id: row.requester_id,
            submitted_at: row.submitted_at,
            votes,
            plan_hash: row.plan_hash.clone(),
        };
        workflow::check_runnable(&facts, &self.settings.approval)
            .map_err(|d| Stop::Park("needs_attention", d.to_string()))?;
        if row.plan_hash.as_deref() != Some(job.plan_hash.as_str()) {
            return Err(Stop::Park(
                "needs_attention",
                "the request's plan changed after this run was queued".into(),
            ));
        }
        if let Some(end) = row.window_end
            && Utc::now() >= end
        {
            return Err(Stop::Park("needs_attention", "the change window ended before the run could start; the request needs a new window and approval".into()));
        }
        let spec =
            app::ssr::requests::spec_of(&row).map_err(|e| Stop::Park("failed", e.to_string()))?;
        let environment =
            self.settings.environment.as_ref().ok_or_else(|| {
                Stop::Park("needs_attention", "no environment is configured".into())
            })?;
        // Unreachable servers are worth another try; the lease is given back meanwhile.
        let current = environment
            .facts()
            .await
            .map_err(|e| Stop::Transient(e.to_string()))?;
        let replanned = app::domain::plan::plan(&spec, &current, Utc::now());
        let approved = app::ssr::plans::stored(&row)
            .ok_or_else(|| Stop::Park("failed", "the request has no plan".into()))?;
        if replanned.hash() != approved.hash() && !self.resuming(job).await? {
            return Err(Stop::Park(
                "needs_attention",
                "the environment changed since approval: planning again gives a different plan, so it needs re-approval".into(),
            ));
        }
        Ok(approved)
    }

    /// Whether an earlier attempt already changed something (then the re-plan naturally differs).
    async fn resuming(&self, job: &jobs::Model) -> Result<bool, Stop> {
        Ok(run_steps::Entity::find()
            .filter(run_steps::Column::JobId.eq(job.id))
            .one(&self.db)
            .await?
            .is_some())
    }

    async fn record_start(
        &self,
        job: &jobs::Model,
        position: i32,
        step_id: &str,
        done: &[run_steps::Model],
    ) -> Result<run_steps::Model, Stop> {
        let now = Utc::now();
        if let Some(existing) = done.iter().find(|d| d.position == position) {
            let mut again: run_steps::ActiveModel = existing.clone().into();
            again.state = Set("started".into());
            again.started_at = Set(now);
            again.finished_at = Set(None);
            return Ok(again.update(&self.db).await?);
        }
        Ok(run_steps::ActiveModel {
            job_id: Set(job.id),
            position: Set(position),
            step_id: Set(step_id.to_string()),
            state: Set("started".into()),
            output: Set(String::new()),
            output_sha256: Set(hex::encode(Sha256::digest(b""))),
            started_at: Set(now),
            finished_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await?)
    }

    /// Moves step `record` to `state` (`applying`: its commands are about to be sent).
    async fn mark(&self, record: &run_steps::Model, state: &str) -> Result<(), Stop> {
        run_steps::Entity::update_many()
            .col_expr(run_steps::Column::State, Expr::value(state))
            .filter(run_steps::Column::Id.eq(record.id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Ends step `record` of `job` in `state` with its output (bounded) and the SHA-256 of the
    /// command's whole output, and audits the step in the same transaction.
    async fn record_end(
        &self,
        job: &jobs::Model,
        record: run_steps::Model,
        state: &str,
        output: &str,
        sha256: String,
    ) -> Result<(), Stop> {
        let detail = format!(
            "run #{} step {} ({}): {state}; output SHA-256 {sha256}",
            job.id,
            record.position + 1,
            record.step_id
        );
        let txn = app::ssr::db::begin_write(&self.db).await?;
        let mut end: run_steps::ActiveModel = record.into();
        end.state = Set(state.to_string());
        end.output = Set(bounded(output));
        end.output_sha256 = Set(sha256);
        end.finished_at = Set(Some(Utc::now()));
        end.update(&txn).await?;
        app::ssr::audit::append(
            &txn,
            app::ssr::audit::AuditRecord::ok(&format!("worker:{}", self.owner), "run.step")
                .entity(app::ssr::requests::ENTITY, job.request_id)
                .detail(detail),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Puts the job back in the queue after a transient failure, with backoff and jitter.
    async fn retry_later(&self, job: &jobs::Model, reason: String) -> Result<(), sea_orm::DbErr> {
        let jitter = f64::from(std::process::id() % 97) / 97.0;
        let at = Utc::now() + backoff(job.attempts, jitter);
        let detail = format!(
            "run #{} attempt {} failed transiently ({reason}); next try at {at}",
            job.id, job.attempts
        );
        self.release(
            job,
            "queued",
            Some(format!("retrying: {reason}")),
            Some(at),
            "run.retry",
            detail,
        )
        .await
    }

    /// Ends the job (only while it is still ours) and records the outcome in the audit trail.
    async fn finish(
        &self,
        job: &jobs::Model,
        state: &str,
        reason: Option<String>,
    ) -> Result<(), sea_orm::DbErr> {
        let detail = match &reason {
            Some(r) => format!("run #{}: {r}", job.id),
            None => format!("run #{} finished", job.id),
        };
        self.release(job, state, reason, None, &format!("run.{state}"), detail)
            .await
    }

    /// Gives the job up in `state` (only while this worker's fence is still the job's) and
    /// audits it as `action`.
    async fn release(
        &self,
        job: &jobs::Model,
        state: &str,
        reason: Option<String>,
        run_after: Option<chrono::DateTime<Utc>>,
        action: &str,
        detail: String,
    ) -> Result<(), sea_orm::DbErr> {
        let txn = app::ssr::db::begin_write(&self.db).await?;
        let mut update = jobs::Entity::update_many()
            .col_expr(jobs::Column::State, Expr::value(state))
            .col_expr(jobs::Column::Reason, Expr::value(reason))
            .col_expr(
                jobs::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(at) = run_after {
            update = update.col_expr(jobs::Column::RunAfter, Expr::value(at));
        }
        let released = update
            .filter(jobs::Column::Id.eq(job.id))
            .filter(jobs::Column::Fence.eq(job.fence))
            .exec(&txn)
            .await?;
        if released.rows_affected == 1 {
            app::ssr::audit::append(
                &txn,
                app::ssr::audit::AuditRecord::ok(&format!("worker:{}", self.owner), action)
                    .entity(app::ssr::requests::ENTITY, job.request_id)
                    .detail(detail),
            )
            .await?;
        }
        txn.commit().await
    }
}

/// Refuses to run step `position` again when its commands were being sent as its worker
/// died (`applying` in `done`) and nothing can tell whether they took effect: the run stops
/// for attention, and an admin's resume (which marks the step failed) lets it run again.
fn never_blindly_again(done: &[run_steps::Model], position: i32, title: &str) -> Result<(), Stop> {
    if done
        .iter()
        .any(|d| d.position == position && d.state == "applying")
    {
        return Err(Stop::Park(
            "needs_attention",
            format!(
                "step “{title}” was interrupted while its commands ran, and it has no read-only check, so imlink cannot tell whether it took effect; check it, then resume the run to run it again"
            ),
        ));
    }
    Ok(())
}

/// `output` cut to [`OUTPUT_LIMIT`] bytes, saying so when it was cut.
fn bounded(output: &str) -> String {
    if output.len() <= OUTPUT_LIMIT {
        return output.to_string();
    }
    let mut cut = OUTPUT_LIMIT;
    while !output.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n… (output truncated; the SHA-256 covers all of it)",
        &output[..cut]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_bounded_jitter() {
        let secs = |a, j| backoff(a, j).num_milliseconds() as f64 / 1000.0;
        assert_eq!(secs(1, 0.0), 5.0);
        assert_eq!(secs(2, 0.0), 10.0);
        assert_eq!(secs(3, 0.0), 20.0);
        assert_eq!(secs(10, 0.0), 300.0);
        assert_eq!(secs(1, 1.0), 6.25);
        assert!(secs(100, 1.0) <= 375.0);
    }
}
