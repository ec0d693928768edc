//! Runs of plans: what a run does (its kind), the states a run and each of its steps go
//! through, every move a run's state may make, and which operator actions a state allows. One
//! set of rules for the worker, the server that enforces them and the page that offers them.

use serde::{Deserialize, Serialize};

use super::stored_enum;

stored_enum! {
    /// What a run does.
    pub enum RunKind {
        /// Runs an approved plan.
        Apply = "apply",
        /// Undoes, in reverse, the steps an earlier run completed.
        Rollback = "rollback",
    }
}

stored_enum! {
    /// Where a run is in its life.
    pub enum RunState {
        /// A rollback waiting for a second person to approve its undo plan.
        AwaitingApproval = "awaiting_approval",
        /// Waiting for a worker (and for its time, and for its site to be free).
        Queued = "queued",
        /// A worker holds its lease and runs it.
        Running = "running",
        Succeeded = "succeeded",
        /// A step failed.
        Failed = "failed",
        /// Stopped for a person to look at (a re-check failed, retries ran out, a step without
        /// a read-only check was interrupted).
        NeedsAttention = "needs_attention",
        Cancelled = "cancelled",
    }
}

stored_enum! {
    /// Where one step of a run is.
    pub enum StepState {
        /// Its read-only check is running.
        Started = "started",
        /// Its commands are being sent.
        Applying = "applying",
        Done = "done",
        Failed = "failed",
    }
}

/// Where a request's change stands on the servers, by its latest run: what lists and pages
/// show beside the request's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeStatus {
    pub run: i32,
    pub kind: RunKind,
    pub state: RunState,
    /// When the run last changed (its end, for a finished run).
    pub at: chrono::DateTime<chrono::Utc>,
}

impl ChangeStatus {
    /// In words, for a request that integrates (`turns_off` false) or turns IM off.
    pub fn label(&self, turns_off: bool) -> &'static str {
        match (self.kind, self.state) {
            (RunKind::Apply, RunState::Succeeded) if turns_off => "IM turned off",
            (RunKind::Apply, RunState::Succeeded) => "Integrated",
            (RunKind::Rollback, RunState::Succeeded) => "Rolled back",
            (RunKind::Rollback, RunState::AwaitingApproval) => "Rollback awaiting approval",
            (_, RunState::AwaitingApproval) => "Awaiting approval",
            (_, RunState::Queued) => "Run queued",
            (_, RunState::Running) => "Running",
            (_, RunState::Failed) => "Run failed",
            (_, RunState::NeedsAttention) => "Run needs attention",
            (_, RunState::Cancelled) => "Run cancelled",
        }
    }

    /// The badge's style: done, under way, or stopped.
    pub fn class(&self) -> &'static str {
        match self.state {
            RunState::Succeeded => "badge badge-approved",
            RunState::Queued | RunState::Running | RunState::AwaitingApproval => {
                "badge badge-submitted"
            }
            RunState::Failed | RunState::NeedsAttention | RunState::Cancelled => {
                "badge badge-rejected"
            }
        }
    }
}

/// What an operator can do to a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunAction {
    Cancel,
    Resume,
    RollBack,
}

impl RunAction {
    /// The action done: `cancelled`, `resumed`, `rolled back`.
    pub fn past(self) -> &'static str {
        match self {
            RunAction::Cancel => "cancelled",
            RunAction::Resume => "resumed",
            RunAction::RollBack => "rolled back",
        }
    }
}

impl RunState {
    /// Every move a run's state may make. Anything else is refused.
    pub const TRANSITIONS: &[(RunState, RunState)] = {
        use RunState::*;
        &[
            // A second person approves a rollback's undo plan, or it is cancelled.
            (AwaitingApproval, Queued),
            (AwaitingApproval, Cancelled),
            // A worker claims it; an operator cancels it, or editing the request withdraws it.
            (Queued, Running),
            (Queued, Cancelled),
            // The worker finishes it, parks it, or gives it back (a retry later, a shutdown,
            // the rescuer after its lease ran out); an operator cancels it.
            (Running, Succeeded),
            (Running, Failed),
            (Running, NeedsAttention),
            (Running, Queued),
            (Running, Cancelled),
            // An operator resumes or cancels a stopped run.
            (Failed, Queued),
            (Failed, Cancelled),
            (NeedsAttention, Queued),
            (NeedsAttention, Cancelled),
            (Cancelled, Queued),
        ]
    };

    /// For people: `needs attention`.
    pub fn label(self) -> String {
        self.as_str().replace('_', " ")
    }

    /// Whether a run may move from this state to `to`.
    pub fn can_become(self, to: RunState) -> bool {
        Self::TRANSITIONS.contains(&(self, to))
    }

    /// Whether the run still has work ahead of it (at most one such run per request).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RunState::AwaitingApproval | RunState::Queued | RunState::Running
        )
    }

    /// Whether an operator may take `action` on a run in this state. Resuming is for stopped
    /// runs (a worker gives running ones back itself); only finished or stopped runs roll back.
    pub fn allows(self, action: RunAction) -> bool {
        use RunState::*;
        match action {
            RunAction::Cancel => self.can_become(Cancelled),
            RunAction::Resume => matches!(self, Failed | NeedsAttention | Cancelled),
            RunAction::RollBack => matches!(self, Succeeded | Failed | NeedsAttention | Cancelled),
        }
    }
}

impl StepState {
    /// Whether the step's commands may have taken effect (what a rollback undoes).
    pub fn may_have_applied(self) -> bool {
        matches!(self, StepState::Done | StepState::Applying)
    }
}

/// Whether a run of `kind` in `state`, with `applied` steps that may have taken effect, can be
/// rolled back.
pub fn can_roll_back(kind: RunKind, state: RunState, applied: bool) -> bool {
    kind == RunKind::Apply && state.allows(RunAction::RollBack) && applied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_table_is_exactly_the_allowed_moves() {
        use RunState::*;
        let allowed = |from: RunState, to: RunState| {
            matches!(
                (from, to),
                (AwaitingApproval, Queued | Cancelled)
                    | (Queued, Running | Cancelled)
                    | (
                        Running,
                        Succeeded | Failed | NeedsAttention | Queued | Cancelled
                    )
                    | (Failed | NeedsAttention, Queued | Cancelled)
                    | (Cancelled, Queued)
            )
        };
        for &from in RunState::ALL {
            for &to in RunState::ALL {
                assert_eq!(from.can_become(to), allowed(from, to), "{from:?} -> {to:?}");
            }
        }
        // Nothing leaves a success, and nothing goes back to waiting for approval.
        assert!(RunState::ALL.iter().all(|&to| !Succeeded.can_become(to)));
        assert!(
            RunState::ALL
                .iter()
                .all(|&from| !from.can_become(AwaitingApproval))
        );
    }

    #[test]
    fn operator_actions_by_state() {
        use RunAction::*;
        use RunState::*;
        let table: &[(RunState, [bool; 3])] = &[
            // state              cancel resume roll back
            (AwaitingApproval, [true, false, false]),
            (Queued, [true, false, false]),
            (Running, [true, false, false]),
            (Succeeded, [false, false, true]),
            (Failed, [true, true, true]),
            (NeedsAttention, [true, true, true]),
            (Cancelled, [false, true, true]),
        ];
        assert_eq!(table.len(), RunState::ALL.len());
        for (state, [cancel, resume, roll_back]) in table {
            assert_eq!(state.allows(Cancel), *cancel, "{state:?}");
            assert_eq!(state.allows(Resume), *resume, "{state:?}");
            assert_eq!(state.allows(RollBack), *roll_back, "{state:?}");
        }
    }

    #[test]
    fn only_applied_work_of_a_finished_apply_run_rolls_back() {
        use RunKind::*;
        assert!(can_roll_back(Apply, RunState::Succeeded, true));
        assert!(!can_roll_back(Apply, RunState::Succeeded, false));
        assert!(!can_roll_back(Rollback, RunState::Succeeded, true));
        assert!(!can_roll_back(Apply, RunState::Running, true));
        assert!(!can_roll_back(Apply, RunState::Queued, true));
    }

    #[test]
    fn names_round_trip_through_serde() {
        for &state in RunState::ALL {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(serde_json::from_str::<RunState>(&json).unwrap(), state);
        }
        assert!(StepState::Applying.may_have_applied());
        assert!(!StepState::Started.may_have_applied());
        assert_eq!(RunKind::Rollback.as_str(), "rollback");
    }
}
