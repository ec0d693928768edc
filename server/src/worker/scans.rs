//! The worker's bulk eligibility checks, beside its runs: claims a queued scan (through
//! [`app::ssr::eligibility::scans`], which owns them), reads the people it covers from the
//! configured directory a page at a time, judges them and stores each page under the scan's
//! lease. A scan taken over after a crash reads again from the start; people already stored
//! are not stored or counted again. A directory that cannot be read is retried with backoff,
//! then the scan fails with the reason.

use std::sync::atomic::Ordering;

use chrono::Utc;
use sea_orm::DbErr;

use app::domain::scans::{BadLine, ScanState};
use app::ssr::directory::DirectoryError;
use app::ssr::eligibility::Judge;
use app::ssr::eligibility::scans::{self, Judged, ScanLease, Work};

use super::{MAX_ATTEMPTS, Worker, backoff, jitter};

/// People read, judged and stored at a time.
pub const PAGE: usize = 500;

/// Why a scan stopped before its end.
#[derive(Debug)]
enum Halt {
    /// The scan is no longer this worker's (cancelled, or taken over): write nothing more.
    LostLease,
    /// The worker is shutting down: the scan goes back to the queue at once.
    Interrupted,
    /// The directory, the environment or the database could not be read: try again later.
    Unavailable(String),
    /// It cannot be done (no directory, an unreadable stored list).
    Broken(String),
}

impl From<DbErr> for Halt {
    fn from(e: DbErr) -> Self {
        Halt::Unavailable(format!("database error: {e}"))
    }
}

impl From<DirectoryError> for Halt {
    fn from(e: DirectoryError) -> Self {
        Halt::Unavailable(e.to_string())
    }
}

impl Worker {
    /// Claims and works one scan; `false` when there was none.
    pub async fn scan_tick(&self) -> Result<bool, DbErr> {
        let Some(lease) = scans::claim(&self.db, &self.owner, self.lease).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("scan", id = lease.scan.id);
        let outcome = tracing::Instrument::instrument(self.scan(&lease), span).await;
        let attempts = lease.scan.attempts;
        let (to, reason, run_after) = match outcome {
            Ok(()) => (ScanState::Succeeded, None, None),
            Err(Halt::LostLease) => {
                tracing::info!(scan = lease.scan.id, "the scan is no longer ours; stopping");
                return Ok(true);
            }
            Err(Halt::Interrupted) => (ScanState::Queued, None, Some(Utc::now())),
            Err(Halt::Unavailable(why)) if attempts >= MAX_ATTEMPTS => (
                ScanState::Failed,
                Some(format!("gave up after {attempts} attempts: {why}")),
                None,
            ),
            Err(Halt::Unavailable(why)) => (
                ScanState::Queued,
                Some(format!("retrying: {why}")),
                Some(Utc::now() + backoff(attempts, jitter())),
            ),
            Err(Halt::Broken(why)) => (ScanState::Failed, Some(why), None),
        };
        if let Some(why) = &reason {
            tracing::warn!(scan = lease.scan.id, state = to.as_str(), %why, "scan stopped");
        }
        lease.release(&self.db, to, reason, run_after).await?;
        Ok(true)
    }

    /// Reads, judges and stores everyone the scan covers.
    async fn scan(&self, lease: &ScanLease) -> Result<(), Halt> {
        let directory = self
            .settings
            .directory
            .clone()
            .ok_or_else(|| Halt::Broken("no directory is configured".into()))?;
        let judge = Judge::load(&self.db, &self.settings)
            .await
            .map_err(|e| Halt::Unavailable(e.to_string()))?;
        let (base, site) = match lease.work().map_err(Halt::Broken)? {
            Work::People { base } => (base, None),
            Work::Site(site) => (None, Some(site)),
            Work::List(listed) => return self.scan_list(lease, &*directory, &judge, &listed).await,
        };
        let judged = |records: Vec<app::ssr::directory::Record>| -> Vec<Judged> {
            records
                .into_iter()
                .filter(|r| {
                    site.as_deref().is_none_or(|s| {
                        judge
                            .site_of(r)
                            .is_some_and(|of| of.eq_ignore_ascii_case(s))
                    })
                })
                .map(|record| Judged::by(&judge, record))
                .collect()
        };
        let mut pages = directory.people(base.as_deref(), PAGE).await?;
        let mut next = pages.next().await?.map(judged);
        while let Some(page) = next {
            self.between_pages()?;
            // The next page is read and judged while the database stores this one.
            let ahead = async { Ok::<_, DirectoryError>(pages.next().await?.map(judged)) };
            let (ahead, stored) = tokio::join!(ahead, self.store(lease, &page, &[]));
            stored?;
            next = ahead?;
        }
        Ok(())
    }

    /// Finds, judges and stores a list's people a page at a time; lines naming nobody (or
    /// several people) are kept as bad lines.
    async fn scan_list(
        &self,
        lease: &ScanLease,
        directory: &dyn app::ssr::directory::Directory,
        judge: &Judge,
        listed: &[app::domain::scans::Listed],
    ) -> Result<(), Halt> {
        for chunk in listed.chunks(PAGE) {
            self.between_pages()?;
            let mut judged = Vec::with_capacity(chunk.len());
            let mut bad = Vec::new();
            for item in chunk {
                match directory.find(&item.identity).await {
                    Ok(record) => judged.push(Judged::by(judge, record)),
                    Err(e @ (DirectoryError::NotFound(_) | DirectoryError::Ambiguous { .. })) => {
                        bad.push(BadLine {
                            line: item.line,
                            message: e.to_string(),
                        })
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            self.store(lease, &judged, &bad).await?;
        }
        Ok(())
    }

    async fn store(
        &self,
        lease: &ScanLease,
        judged: &[Judged],
        bad: &[BadLine],
    ) -> Result<(), Halt> {
        if lease.store(&self.db, judged, bad).await? {
            Ok(())
        } else {
            Err(Halt::LostLease)
        }
    }

    fn between_pages(&self) -> Result<(), Halt> {
        if self.stopping.load(Ordering::SeqCst) {
            Err(Halt::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Works scans until the worker stops: whenever one is queued (woken by PostgreSQL or the
    /// same process) or at the poll interval.
    pub(super) async fn scan_until_stopped(self) {
        while !self.stopping.load(Ordering::SeqCst) {
            match self.scan_tick().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "scan tick failed"),
            }
            tokio::select! {
                _ = self.scan_wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}
