//! Worker benchmarks (run by `.ci/bench.sh`; prints figures, asserts nothing about time):
//! - from an approval's commit to the run's claim and to its first step (median, p90), on
//!   SQLite with the worker in the approving process (as `imlink serve` runs it: the approval
//!   wakes it) and on PostgreSQL with a worker woken by `NOTIFY` (as a separate `imlink worker`);
//! - a whole Litware run on the lab, claim to end (median);
//! - queue throughput on PostgreSQL: many small jobs (a re-check and nothing to change) with
//!   two workers.

#[path = "../tests/common/mod.rs"]
mod common;

use app::domain::runs::RunState;
use std::time::{Duration, Instant};

use app::ssr::entities::{audit_events, jobs, run_steps};
use app::ssr::lab::Lab;
use chrono::{DateTime, Utc};
use common::{Backend, TestDb, approved, lab_state};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use server::config::ExecutorConfig;
use server::executor::Executor;
use server::lab::store::LabStore;
use server::worker::Worker;

const LATENCY_SAMPLES: usize = 15;
const SMALL_JOBS: usize = 200;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn millis(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0) as f64 / 1000.0
}

/// Starts `n` workers on `t`'s database (woken by the approving process when `same_process`);
/// returns a sender that stops them.
fn workers(
    t: &TestDb,
    s: &app::ssr::state::AppState,
    store: &LabStore,
    n: usize,
    same_process: bool,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handles = (0..n)
        .map(|i| {
            let executor = Executor::new(&ExecutorConfig::default(), store.clone());
            let mut worker = Worker::new(
                t.db.clone(),
                s.settings.clone(),
                executor,
                format!("bench-{i}"),
            );
            if same_process {
                worker.wake = s.run_queued.clone();
            }
            let mut stopped = stopped.clone();
            tokio::spawn(worker.run_until(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }))
        })
        .collect();
    (stop, handles)
}

async fn ended(t: &TestDb, requests: &[i32]) -> Vec<jobs::Model> {
    loop {
        let all = jobs::Entity::find()
            .filter(jobs::Column::RequestId.is_in(requests.to_vec()))
            .all(&t.db)
            .await
            .unwrap();
        if all.len() == requests.len()
            && all
                .iter()
                .all(|j| !["queued", "running"].contains(&j.state.as_str()))
        {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Approval to claim and to first step, and whole runs, on `backend`.
async fn latency(backend: Backend, label: &str) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    // One worker waits; each sample approves a request on a fresh lab.
    let same_process = matches!(backend, Backend::Sqlite);
    let (stop, handles) = workers(&t, &s, &store, 1, same_process);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut to_claim, mut to_step, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LATENCY_SAMPLES {
        common::lab_change(&t.db, async |txn| store.reset(txn, "litware").await)
            .await
            .unwrap();
        let id = approved(&t.db, &s).await;
        let committed = Utc::now();
        let job = ended(&t, &[id]).await.remove(0);
        assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
        let claimed = audit_events::Entity::find()
            .filter(audit_events::Column::Action.eq("run.start"))
            .filter(audit_events::Column::EntityId.eq(id.to_string()))
            .one(&t.db)
            .await
            .unwrap()
            .unwrap()
            .occurred_at;
        let first = run_steps::Entity::find()
            .filter(run_steps::Column::JobId.eq(job.id))
            .order_by_asc(run_steps::Column::StartedAt)
            .one(&t.db)
            .await
            .unwrap()
            .unwrap()
            .started_at;
        to_claim.push(millis(committed, claimed));
        to_step.push(millis(committed, first));
        whole.push(millis(claimed, job.updated_at));
    }
    for v in [&mut to_claim, &mut to_step, &mut whole] {
        v.sort_by(f64::total_cmp);
    }
    println!("{label}, lab executor, {LATENCY_SAMPLES} samples");
    println!(
        "approval commit -> run claimed:         median {:7.1} ms   p90 {:7.1} ms",
        percentile(&to_claim, 0.5),
        percentile(&to_claim, 0.9)
    );
    println!(
        "approval commit -> first step started:   median {:7.1} ms   p90 {:7.1} ms",
        percentile(&to_step, 0.5),
        percentile(&to_step, 0.9)
    );
    println!(
        "whole litware run (claim -> end):       median {:7.1} ms   p90 {:7.1} ms",
        percentile(&whole, 0.5),
        percentile(&whole, 0.9)
    );
    let _ = stop.send(true);
    for h in handles {
        h.await.unwrap();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    latency(Backend::Sqlite, "SQLite, worker in the approving process").await;
    latency(Backend::Postgres, "PostgreSQL, worker woken by NOTIFY").await;

    // Throughput: once the lab is integrated, every further request is a small job.
    let t = TestDb::new(Backend::Postgres).await;
    let (s, store) = lab_state(&t.db);
    let first = approved(&t.db, &s).await;
    let (stop, handles) = workers(&t, &s, &store, 1, false);
    ended(&t, &[first]).await;
    let _ = stop.send(true);
    for h in handles {
        h.await.unwrap();
    }
    let mut requests = Vec::with_capacity(SMALL_JOBS);
    for _ in 0..SMALL_JOBS {
        requests.push(approved(&t.db, &s).await);
    }
    let started = Instant::now();
    let (stop, handles) = workers(&t, &s, &store, 2, false);
    let done = ended(&t, &requests).await;
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    for h in handles {
        h.await.unwrap();
    }
    assert!(
        done.iter()
            .all(|j| j.state == RunState::Succeeded && j.attempts == 1)
    );
    println!(
        "queue throughput, two workers:          {:7.1} jobs/s ({SMALL_JOBS} jobs in {:.2} s; one site, so one run at a time)",
        SMALL_JOBS as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}
