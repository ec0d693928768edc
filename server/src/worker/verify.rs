//! After an apply run's last step: the plan's read-only evidence scripts on each back-end
//! server, kept as the run's report with whether the run recycled OWA there. Evidence that
//! cannot be read is reported as such; it does not fail the run.

use app::domain::runs::StepState;
use app::procedure::plan::{Decision, Plan, Target};
use app::ssr::runs::Lease;
use app::views::ServerVerification;

use super::{Halt, Worker};

impl Worker {
    pub(super) async fn verify(&self, lease: &Lease, plan: &Plan) -> Result<(), Halt> {
        let steps = lease.steps(&self.db).await?;
        let mut report = Vec::new();
        for evidence in &plan.evidence {
            let Target::Backend(server) = &evidence.target else {
                continue;
            };
            let recycled = plan
                .steps
                .iter()
                .position(|s| {
                    s.id == app::procedure::plan::recycle_step_id(server)
                        && s.decision == Decision::Change
                })
                .map(|p| {
                    steps
                        .iter()
                        .any(|s| s.position == p as i32 && s.state == StepState::Done)
                });
            self.between_steps(lease).await?;
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
            report.push(ServerVerification {
                server: server.clone(),
                recycled,
                next_checks: if event_112 == Some(true) {
                    Vec::new()
                } else {
                    evidence.next_checks.clone()
                },
                event_112,
                im_log_folder,
                error,
            });
        }
        self.heartbeat(lease).await?;
        let report = serde_json::to_string(&report).unwrap_or_default();
        if !lease.save_report(&self.db, &report).await? {
            return Err(Halt::LostLease);
        }
        Ok(())
    }
}
