//! Live run feeds: one watcher per request that someone is looking at, however many people
//! look. The watcher reads a digest of the request's latest run (its state, attempts, reason,
//! report and every step's state and output length) at most every [`CHECK_EVERY`], sooner when
//! a worker of this process says a run changed, and fans it out to every viewer. It stops when
//! the last viewer leaves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

use super::super::entities::run_steps;
use super::latest;

/// How often a watcher reads its run when nothing says it changed.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// A digest of the latest run of request `id` and its steps; `none` when it has no run.
pub async fn digest(db: &impl ConnectionTrait, id: i32) -> Result<String, DbErr> {
    let Some(job) = latest(db, id).await? else {
        return Ok("none".into());
    };
    // Positions, states and output lengths: outputs can be large and are read when the page
    // reloads. (The lease's renewal time is left out: it moves every second.)
    let steps: Vec<(i32, String, i64)> = run_steps::Entity::find()
        .select_only()
        .columns([run_steps::Column::Position, run_steps::Column::State])
        .column_as(Expr::cust("CAST(LENGTH(output) AS BIGINT)"), "length")
        .filter(run_steps::Column::JobId.eq(job.id))
        .order_by_asc(run_steps::Column::Position)
        .into_tuple()
        .all(db)
        .await?;
    let mut digest = Sha256::new();
    digest.update(format!(
        "{}|{}|{}|{}|{:?}|{}",
        job.id,
        job.fence,
        job.state,
        job.attempts,
        job.reason,
        job.report.is_some()
    ));
    for (position, state, length) in steps {
        digest.update(format!("|{position}:{state}:{length}"));
    }
    Ok(hex::encode(&digest.finalize()[..12]))
}

/// The watchers of this process.
pub struct RunFeeds {
    db: DatabaseConnection,
    feeds: Mutex<HashMap<i32, Arc<watch::Sender<Option<String>>>>>,
    changed: Arc<Notify>,
    reads: AtomicU64,
}

impl RunFeeds {
    pub fn new(db: DatabaseConnection) -> Self {
        RunFeeds {
            db,
            feeds: Mutex::default(),
            changed: Arc::default(),
            reads: AtomicU64::new(0),
        }
    }

    /// What a worker of this process pings when it changed a run: every watcher reads at once.
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// How many times watchers have read a run (what the feeds cost the database).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Follows request `id`'s run: the latest digest (`None` until the first read), and every
    /// change after it.
    pub fn subscribe(self: &Arc<Self>, id: i32) -> watch::Receiver<Option<String>> {
        let mut feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = feeds.get(&id) {
            return feed.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        let sender = Arc::new(sender);
        feeds.insert(id, sender.clone());
        tokio::spawn(self.clone().watch(id, sender));
        receiver
    }

    /// Reads request `id`'s run for its viewers until the last one leaves.
    async fn watch(self: Arc<Self>, id: i32, feed: Arc<watch::Sender<Option<String>>>) {
        loop {
            self.reads.fetch_add(1, Ordering::Relaxed);
            match digest(&self.db, id).await {
                Ok(now) => {
                    feed.send_if_modified(|seen| {
                        let changed = seen.as_deref() != Some(now.as_str());
                        if changed {
                            *seen = Some(now);
                        }
                        changed
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, request = id, "cannot read the run for live updates")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(CHECK_EVERY) => {}
                _ = self.changed.notified() => {}
            }
            if feed.receiver_count() == 0 {
                let mut feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
                if feed.receiver_count() == 0 {
                    feeds.remove(&id);
                    return;
                }
            }
        }
    }
}
