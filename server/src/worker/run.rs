//! Driving a claimed run: the re-checks before anything runs, then one step driver for apply
//! and rollback runs alike. Each step that will change something: its read-only check first
//! (a step already in effect is adopted, not applied again), then its commands (the step is
//! marked applying just before they are sent), then its expected output.

use std::sync::Mutex;

use chrono::Utc;

use app::domain::runs::{RunKind, RunState, StepState};
use app::procedure::plan::{Decision, Plan, Target};
use app::ssr::entities::run_steps;
use app::ssr::runs::{self, Lease, lease::sha256};

use super::{Halt, Worker};
use crate::executor::ScriptRun;

/// How much of a step's output is stored (the SHA-256 covers all of it).
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// How often a running step renews the lease and saves the output it has printed so far.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

fn park(reason: impl Into<String>) -> Halt {
    Halt::Park(RunState::NeedsAttention, reason.into())
}

impl Worker {
    /// Re-checks the run, then runs each step of its plan that will change something, then
    /// (for an apply run) verifies.
    pub(super) async fn execute(&self, lease: &Lease) -> Result<(), Halt> {
        let plan = match lease.job.kind {
            RunKind::Apply => self.recheck_apply(lease).await?,
            RunKind::Rollback => self.recheck_rollback(lease).await?,
        };
        let done = lease.steps(&self.db).await?;
        for (position, step) in plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.decision == Decision::Change)
        {
            let position = position as i32;
            if runs::is_done(&done, position) {
                continue;
            }
            self.between_steps(lease).await?;
            // A step whose commands were being sent when its worker died may have taken
            // effect. Its check decides, once the commands cannot still be running; a step
            // without a check is never re-run blindly.
            if !step.checkable() {
                never_blindly_again(&done, position, &step.title)?;
            }
            self.wait_for_orphans(&done, position, &step.title)?;
            let record = lease
                .start_step(&self.db, position, &step.id)
                .await?
                .ok_or(Halt::LostLease)?;
            self.changed.notify_waiters();
            // Checked first: a step that already took effect is adopted, not applied again.
            let check = self
                .run_watched(
                    lease,
                    &record,
                    &step.target,
                    std::slice::from_ref(&step.check),
                )
                .await?;
            let (state, output, digest) =
                if check.failure.is_none() && check.output.trim() == "True" {
                    let note = "Already in place (the read-only check passed); not applied again.";
                    (StepState::Done, note.to_string(), sha256(note))
                } else {
                    self.heartbeat(lease).await?;
                    if !lease.mark_applying(&self.db, &record).await? {
                        return Err(Halt::LostLease);
                    }
                    self.changed.notify_waiters();
                    let applied = self
                        .run_watched(lease, &record, &step.target, &step.apply)
                        .await?;
                    let mut text = applied.output.clone();
                    let state = match (&applied.failure, &step.expect_output) {
                        (Some(f), _) => {
                            text.push_str(f);
                            StepState::Failed
                        }
                        (None, Some(expected)) if !applied.output.contains(expected.as_str()) => {
                            text.push_str(&format!("\nThe output does not contain: {expected}"));
                            StepState::Failed
                        }
                        _ => StepState::Done,
                    };
                    (state, text, applied.sha256)
                };
            self.heartbeat(lease).await?;
            if !lease
                .end_step(&self.db, &record, state, &bounded(&output), &digest)
                .await?
            {
                return Err(Halt::LostLease);
            }
            self.changed.notify_waiters();
            if state == StepState::Failed {
                return Err(Halt::Park(
                    RunState::Failed,
                    format!("step “{}” failed: {}", step.title, output.trim()),
                ));
            }
        }
        if lease.job.kind == RunKind::Apply {
            self.verify(lease, &plan).await?;
        }
        Ok(())
    }

    /// An apply run may run while its request is still approved by others than the requester,
    /// on the plan stored with the run, within its window, and while the environment still gives
    /// that plan. Returns the plan.
    async fn recheck_apply(&self, lease: &Lease) -> Result<Plan, Halt> {
        let job = &lease.job;
        let plan = runs::plan_of(job).ok_or_else(|| park("the run carries no plan"))?;
        if plan.hash() != job.plan_hash {
            return Err(park("the run's plan is not the plan it was queued with"));
        }
        let runnable = app::ssr::requests::runnable(&self.db, &self.settings.approval, job)
            .await
            .map_err(|e| park(e.to_string()))?;
        if runnable.window_end.is_some_and(|end| Utc::now() >= end) {
            return Err(park(
                "the change window ended before the run could start; the request needs a new window and approval",
            ));
        }
        // Unreachable servers are worth another try; the lease is given back meanwhile.
        let current = self
            .settings
            .environment
            .facts()
            .await
            .map_err(|e| Halt::Transient(e.to_string()))?;
        let replanned = app::procedure::plan::plan(&runnable.spec, &current, Utc::now());
        // An earlier attempt that already changed something makes the re-plan differ.
        let resuming = !lease.steps(&self.db).await?.is_empty();
        if replanned.hash() != plan.hash() && !resuming {
            return Err(park(
                "the environment changed since approval: planning again gives a different plan, so it needs re-approval",
            ));
        }
        Ok(plan)
    }

    /// A rollback runs only its approved undo plan (see [`app::ssr::runs::operate::rollback_runnable`]).
    async fn recheck_rollback(&self, lease: &Lease) -> Result<Plan, Halt> {
        app::ssr::runs::operate::rollback_runnable(&self.db, &self.settings.approval, &lease.job)
            .await
            .map_err(park)
    }

    /// Runs `lines` on `target` for step `record`, renewing the lease and saving the output
    /// printed so far every [`PROGRESS_INTERVAL`]; gives up at once if the lease is lost.
    pub(super) async fn run_watched(
        &self,
        lease: &Lease,
        record: &run_steps::Model,
        target: &Target,
        lines: &[String],
    ) -> Result<ScriptRun, Halt> {
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
                    let text = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let changed = (text.len() != saved).then(|| bounded(&text));
                    saved = text.len();
                    if !lease.progress(&self.db, record, changed.as_deref()).await? {
                        return Err(Halt::LostLease);
                    }
                }
            }
        }
    }
}

impl Worker {
    /// Waits out commands a dead worker sent for step `position`: they may still be running
    /// (on a server, a process nobody killed), and checking the step before they end could
    /// apply it a second time. They can no longer be running once the step timeout has passed
    /// since they were sent.
    fn wait_for_orphans(
        &self,
        done: &[run_steps::Model],
        position: i32,
        title: &str,
    ) -> Result<(), Halt> {
        // Sent and never recorded as ended: still `applying`, or marked failed by an admin's
        // resume (which lets the step run again, but not while its commands may still run).
        let Some(since) = done
            .iter()
            .find(|d| d.position == position && d.finished_at.is_none())
            .and_then(|d| d.applying_since)
        else {
            return Ok(());
        };
        let timeout = chrono::Duration::from_std(self.executor.step_timeout())
            .unwrap_or(chrono::Duration::zero());
        let until = since + timeout + chrono::Duration::seconds(1);
        if Utc::now() >= until {
            return Ok(());
        }
        Err(Halt::Wait(
            until,
            format!(
                "step “{title}” was interrupted while its commands ran; waiting until {} for them to end before checking whether they took effect",
                until.format("%H:%M:%S UTC")
            ),
        ))
    }
}

/// Refuses to run step `position` again when its commands were being sent as its worker
/// died (`applying` in `done`) and nothing can tell whether they took effect: the run stops
/// for attention, and an admin's resume (which marks the step failed) lets it run again.
fn never_blindly_again(done: &[run_steps::Model], position: i32, title: &str) -> Result<(), Halt> {
    if done
        .iter()
        .any(|d| d.position == position && d.state == StepState::Applying)
    {
        return Err(park(format!(
            "step “{title}” was interrupted while its commands ran, and it has no read-only check, so imlink cannot tell whether it took effect; check it, then resume the run to run it again"
        )));
    }
    Ok(())
}

/// `output` cut to [`OUTPUT_LIMIT`] bytes, saying so when it was cut.
pub(super) fn bounded(output: &str) -> String {
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
