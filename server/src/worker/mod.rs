//! The worker: claims queued runs (through [`app::ssr::runs`], which owns them), re-checks
//! that they may still run, and drives each step of the run's stored plan on the executor
//! ([`run`]), then verifies an integration ([`verify`]). It holds a run with a lease and a
//! fence: once the run is no longer its own, nothing it writes lands.
//!
//! Besides the loop: a PostgreSQL listener (`NOTIFY imlink_jobs` wakes idle workers at once),
//! a wake-up from the same process (an approval in `imlink serve`), and the sweep (the rescuer
//! for runs whose worker died, and the removal of ended sessions and unfinished sign-ins).

mod run;
mod scans;
mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseBackend, DatabaseConnection};
use tracing::Instrument;

use app::domain::runs::RunState;
use app::ssr::runs::{self, Lease};
use app::ssr::state::Settings;

use crate::executor::Executor;

pub use run::OUTPUT_LIMIT;

/// Attempts before a run that keeps failing transiently stops for attention.
pub const MAX_ATTEMPTS: i32 = 5;

/// The wait before retrying attempt `attempt` (1-based): exponential from 5 s, capped at
/// 5 minutes, with up to 25 % jitter (`jitter` in 0..=1) so workers do not retry in step.
pub fn backoff(attempt: i32, jitter: f64) -> chrono::Duration {
    let base = std::cmp::min(
        5_i64.saturating_mul(1_i64 << attempt.clamp(1, 16).saturating_sub(1)),
        300,
    );
    let jittered = base as f64 * (1.0 + 0.25 * jitter.clamp(0.0, 1.0));
    chrono::Duration::milliseconds((jittered * 1000.0) as i64)
}

/// A random number in 0..=1 for the retry jitter.
fn jitter() -> f64 {
    let mut raw = [0u8; 2];
    match getrandom::fill(&mut raw) {
        Ok(()) => f64::from(u16::from_le_bytes(raw)) / f64::from(u16::MAX),
        Err(_) => 0.5,
    }
}

/// Wakes the worker's runs and scans whenever PostgreSQL announces a queued job or scan;
/// reconnects after errors.
async fn listen(db: DatabaseConnection, wakes: [Arc<tokio::sync::Notify>; 2]) {
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
            for wake in &wakes {
                wake.notify_one();
            }
        }
    }
}

/// The worker's sweep, every half lease: the rescuers of runs and scans (waking the worker
/// when they re-queued something), and the removal of sessions that have ended.
async fn sweep_every(worker: Worker, wake: Arc<tokio::sync::Notify>) {
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
        match crate::oidc::pending::remove_expired(&worker.db, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sign_ins = n, "removed sign-ins that were never finished"),
            Err(e) => tracing::warn!(error = %e, "could not remove expired sign-ins"),
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
        match app::ssr::eligibility::scans::rescue(&worker.db, MAX_ATTEMPTS).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    scans = n,
                    "re-queued bulk checks whose worker stopped renewing its lease"
                );
                worker.scan_wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "the rescuer could not look for stale scans"),
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
    /// Wakes the worker from the same process (an approval in `imlink serve`).
    pub wake: Arc<tokio::sync::Notify>,
    /// Wakes its bulk eligibility checks from the same process (a request in `imlink serve`).
    pub scan_wake: Arc<tokio::sync::Notify>,
    /// Pinged whenever the worker changed a run, so the live views of this process look at once.
    pub changed: Arc<tokio::sync::Notify>,
    /// Set on shutdown: the run in hand stops before its next step and goes back to the queue.
    stopping: Arc<AtomicBool>,
}

/// Why a claimed run stopped early.
#[derive(Debug)]
pub(crate) enum Halt {
    /// Another worker now holds the run: write nothing more.
    LostLease,
    /// The run cannot go on; it is parked with this state and reason.
    Park(RunState, String),
    /// The executor could not be reached (a connection, a timeout): try again later.
    Transient(String),
    /// The worker is shutting down: the run goes back to the queue at once.
    Interrupted,
    /// A step's commands, sent by a worker that died, may still be running: the run goes back
    /// to the queue until they cannot be, then the step is checked.
    Wait(chrono::DateTime<Utc>, String),
}

impl From<crate::executor::ExecError> for Halt {
    fn from(e: crate::executor::ExecError) -> Self {
        if e.is_transient() {
            Halt::Transient(e.to_string())
        } else {
            Halt::Park(RunState::NeedsAttention, e.to_string())
        }
    }
}

impl From<sea_orm::DbErr> for Halt {
    fn from(e: sea_orm::DbErr) -> Self {
        Halt::Park(RunState::NeedsAttention, format!("database error: {e}"))
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
            wake: Arc::default(),
            scan_wake: Arc::default(),
            changed: Arc::default(),
            stopping: Arc::default(),
        }
    }

    /// Runs until `shutdown` resolves: works while there is work, then waits for a wake-up
    /// (PostgreSQL, the same process) or the poll interval; bulk eligibility checks are worked
    /// beside the runs. On shutdown the step (or scan page) in hand finishes, and its run (or
    /// scan) goes back to the queue for the next worker.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let wake = self.wake.clone();
        let listener = (self.db.get_database_backend() == DatabaseBackend::Postgres).then(|| {
            tokio::spawn(listen(
                self.db.clone(),
                [wake.clone(), self.scan_wake.clone()],
            ))
        });
        let sweeper = tokio::spawn(sweep_every(self.clone(), wake.clone()));
        let scanner = tokio::spawn(self.clone().scan_until_stopped());
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
        self.stopping.store(true, Ordering::SeqCst);
        self.scan_wake.notify_one();
        if let Err(e) = scanner.await {
            tracing::warn!(error = %e, "the scan loop ended abnormally");
        }
        sweeper.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
    }

    /// Claims and runs one run; `false` when there was none.
    pub async fn tick(&self) -> Result<bool, sea_orm::DbErr> {
        let Some(lease) = self.claim().await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("run", id = lease.job.id, request = lease.job.request_id);
        self.work(&lease).instrument(span).await?;
        Ok(true)
    }

    /// Runs the claimed run and gives it back in the state its outcome calls for.
    async fn work(&self, lease: &Lease) -> Result<(), sea_orm::DbErr> {
        let job = &lease.job;
        let (to, reason, run_after, action, detail) = match self.execute(lease).await {
            Ok(()) => (
                RunState::Succeeded,
                None,
                None,
                "run.succeeded".to_string(),
                format!("run #{} finished", job.id),
            ),
            Err(Halt::LostLease) => {
                tracing::warn!("lost the lease; stopping without writing");
                return Ok(());
            }
            Err(Halt::Park(state, reason)) => (
                state,
                Some(reason.clone()),
                None,
                format!("run.{}", state.as_str()),
                format!("run #{}: {reason}", job.id),
            ),
            Err(Halt::Transient(reason)) if job.attempts >= MAX_ATTEMPTS => {
                let reason = format!("gave up after {} attempts: {reason}", job.attempts);
                (
                    RunState::NeedsAttention,
                    Some(reason.clone()),
                    None,
                    "run.needs_attention".to_string(),
                    format!("run #{}: {reason}", job.id),
                )
            }
            Err(Halt::Transient(reason)) => {
                let at = Utc::now() + backoff(job.attempts, jitter());
                (
                    RunState::Queued,
                    Some(format!("retrying: {reason}")),
                    Some(at),
                    "run.retry".to_string(),
                    format!(
                        "run #{} attempt {} failed transiently ({reason}); next try at {at}",
                        job.id, job.attempts
                    ),
                )
            }
            Err(Halt::Wait(until, reason)) => (
                RunState::Queued,
                Some(reason.clone()),
                Some(until),
                "run.waiting".to_string(),
                format!("run #{}: {reason}", job.id),
            ),
            Err(Halt::Interrupted) => (
                RunState::Queued,
                None,
                Some(Utc::now()),
                "run.interrupted".to_string(),
                format!(
                    "run #{} attempt {} stopped between steps: the worker shut down",
                    job.id, job.attempts
                ),
            ),
        };
        lease
            .release(&self.db, to, reason, run_after, &action, detail)
            .await?;
        self.changed.notify_waiters();
        Ok(())
    }

    /// Takes the oldest queued run that is due and whose site is free.
    pub async fn claim(&self) -> Result<Option<Lease>, sea_orm::DbErr> {
        runs::claim(&self.db, &self.owner, self.lease).await
    }

    /// Puts back in the queue every running run whose lease ran out (see
    /// [`app::ssr::runs::rescue`]); returns how many it moved.
    pub async fn rescue(&self) -> Result<u64, sea_orm::DbErr> {
        runs::rescue(&self.db, &self.owner, MAX_ATTEMPTS).await
    }

    /// Whether `lease` still holds its run: renews it if so.
    pub async fn holds(&self, lease: &Lease) -> Result<bool, sea_orm::DbErr> {
        lease.renew(&self.db).await
    }

    /// Renews the lease, or stops: once the run is not ours, nothing more is written.
    async fn heartbeat(&self, lease: &Lease) -> Result<(), Halt> {
        if lease.renew(&self.db).await? {
            Ok(())
        } else {
            Err(Halt::LostLease)
        }
    }

    /// Before each step: stop here if the worker is shutting down, else renew the lease.
    async fn between_steps(&self, lease: &Lease) -> Result<(), Halt> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(Halt::Interrupted);
        }
        self.heartbeat(lease).await
    }
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
        let j = jitter();
        assert!((0.0..=1.0).contains(&j));
    }
}
