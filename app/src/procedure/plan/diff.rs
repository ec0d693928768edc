//! What changed between two plans, in words (shown after a re-plan that withdrew approvals).

use serde::{Deserialize, Serialize};

use super::{CheckOutcome, Plan};

/// One difference between two plans, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The step or preflight check id.
    pub id: String,
    pub what: String,
}

/// What changed from `old` to `new`: steps added, removed, decided differently or with other
/// commands, and preflight checks whose result changed.
pub fn diff(old: &Plan, new: &Plan) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut say = |id: &str, what: String| {
        out.push(Difference {
            id: id.to_string(),
            what,
        })
    };
    for field in [
        ("site_id", &old.site_id, &new.site_id),
        ("owa_pool_fqdn", &old.owa_pool_fqdn, &new.owa_pool_fqdn),
        ("registrar_fqdn", &old.registrar_fqdn, &new.registrar_fqdn),
    ] {
        if field.1 != field.2 {
            say(field.0, format!("{} → {}", field.1, field.2));
        }
    }
    for check in &new.preflight {
        match old.preflight.iter().find(|c| c.id == check.id) {
            Some(before) if before.outcome() != check.outcome() => say(
                &check.id,
                format!(
                    "preflight “{}” now {}: {}",
                    check.title,
                    match check.outcome() {
                        CheckOutcome::Passed => "passes",
                        CheckOutcome::Warning => "passes with a warning",
                        CheckOutcome::Failed => "fails",
                    },
                    check.detail
                ),
            ),
            None if !check.passed => say(
                &check.id,
                format!("new failed preflight “{}”: {}", check.title, check.detail),
            ),
            _ => {}
        }
    }
    for step in &new.steps {
        match old.steps.iter().find(|s| s.id == step.id) {
            None => say(
                &step.id,
                format!("new step “{}” ({})", step.title, step.decision.label()),
            ),
            Some(before) => {
                if before.decision != step.decision {
                    say(
                        &step.id,
                        format!(
                            "“{}”: {} → {}",
                            step.title,
                            before.decision.label(),
                            step.decision.label()
                        ),
                    );
                } else if before.apply != step.apply || before.rollback != step.rollback {
                    say(&step.id, format!("“{}”: the commands changed", step.title));
                }
            }
        }
    }
    for step in &old.steps {
        if !new.steps.iter().any(|s| s.id == step.id) {
            say(&step.id, format!("step “{}” is gone", step.title));
        }
    }
    out
}
