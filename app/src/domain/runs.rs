//! Which operator actions a run allows, by its state: one rule for the server that enforces
//! them and the page that offers them.

/// States a run can be cancelled from.
pub const CANCELLABLE: &[&str] = &["queued", "running", "needs_attention", "failed"];
/// States a run can be resumed from.
pub const RESUMABLE: &[&str] = &["needs_attention", "failed", "cancelled"];
/// States an `apply` run can be rolled back from (when it completed at least one step).
pub const ROLLBACKABLE: &[&str] = &["succeeded", "failed", "needs_attention", "cancelled"];

/// Whether a run of `kind` in `state`, with `applied` steps done, can be rolled back.
pub fn can_roll_back(kind: &str, state: &str, applied: bool) -> bool {
    kind == "apply" && ROLLBACKABLE.contains(&state) && applied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_applied_work_of_a_finished_apply_run_rolls_back() {
        assert!(can_roll_back("apply", "succeeded", true));
        assert!(!can_roll_back("apply", "succeeded", false));
        assert!(!can_roll_back("rollback", "succeeded", true));
        assert!(!can_roll_back("apply", "running", true));
        assert!(!can_roll_back("apply", "queued", true));
    }
}
