//! Audit actions in people's words: what each action code says, the groups the audit log
//! filters by, and who a machine actor is.

/// Every action code imlink records, with what it says after the actor's name.
pub const ACTIONS: &[(&str, &str)] = &[
    ("request.create", "filed a request as a draft"),
    ("request.edit", "edited a request"),
    ("request.submit", "submitted a request for approval"),
    (
        "request.replan",
        "re-planned a request against the current facts",
    ),
    ("request.vote", "voted on a request"),
    ("request.approve", "approved a request"),
    ("request.reject", "rejected a request"),
    ("request.cancel", "cancelled a request"),
    ("request.expire", "let a request's approvals time out"),
    ("run.start", "started a run"),
    ("run.step", "finished a step of a run"),
    ("run.retry", "will retry a run after a passing fault"),
    ("run.waiting", "held a run until its change window opens"),
    (
        "run.interrupted",
        "put a run back in the queue while shutting down",
    ),
    (
        "run.rescued",
        "took over a run whose worker stopped answering",
    ),
    ("run.succeeded", "finished a run: it succeeded"),
    ("run.failed", "stopped a run: it failed"),
    ("run.needs_attention", "stopped a run: it needs attention"),
    ("run.cancelled", "stopped a cancelled run"),
    ("run.cancel", "cancelled a run"),
    ("run.resume", "resumed a run"),
    ("run.rollback", "asked for a rollback"),
    ("run.rollback_approve", "approved a rollback"),
    ("lab.sign_in", "simulated an OWA sign-in in the lab"),
    ("lab.reset", "reset the lab"),
    (
        "lab.install_cu",
        "installed an Exchange cumulative update in the lab",
    ),
    (
        "eligibility.check",
        "checked whether a person gets presence in OWA",
    ),
    ("eligibility.view", "opened a person's eligibility check"),
    ("eligibility.scan", "asked for a bulk eligibility check"),
    (
        "eligibility.scan.requested",
        "asked for a bulk eligibility check",
    ),
    (
        "eligibility.scan.running",
        "started a bulk eligibility check",
    ),
    (
        "eligibility.scan.succeeded",
        "finished a bulk eligibility check",
    ),
    (
        "eligibility.scan.failed",
        "gave up a bulk eligibility check",
    ),
    (
        "eligibility.scan.cancel",
        "stopped a bulk eligibility check",
    ),
    (
        "eligibility.scan.cancelled",
        "stopped a bulk eligibility check",
    ),
    ("eligibility.scan.view", "opened a bulk eligibility check"),
    (
        "eligibility.scan.list",
        "listed the bulk eligibility checks",
    ),
    (
        "eligibility.scan.compare",
        "compared two bulk eligibility checks",
    ),
    ("session.sign_in", "signed in"),
    ("session.sign_out", "signed out"),
    ("user.list", "listed the people who use imlink"),
    ("user.manage", "changed a person's access to imlink"),
    ("user.end_sessions", "ended a person's sessions"),
    ("user.disable", "disabled a person in imlink"),
    ("user.enable", "enabled a person in imlink again"),
    ("audit.view", "opened the audit log"),
];

/// The groups of actions, by code prefix, in the order filters offer them.
pub const GROUPS: &[(&str, &str)] = &[
    ("request.", "Requests"),
    ("run.", "Runs"),
    ("lab.", "Lab"),
    ("eligibility.", "People's eligibility"),
    ("session.", "Sign-in and sign-out"),
    ("user.", "People who use imlink"),
    ("audit.", "Audit log"),
];

/// What `action` says after the actor's name; an unknown code as itself.
pub fn describe(action: &str) -> &str {
    ACTIONS
        .iter()
        .find(|(code, _)| *code == action)
        .map_or(action, |(_, says)| says)
}

/// Whether an audit log filter value is a group (matching every code it prefixes) rather
/// than one action.
pub fn is_group(filter: &str) -> bool {
    filter.ends_with('.')
}

/// What a filter offers: each group with its actions, as `(group label, [(value, label)])`,
/// the group itself first.
pub fn filter_options() -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    GROUPS
        .iter()
        .map(|(prefix, label)| {
            let all = (*prefix, format!("Any of: {}", label.to_lowercase()));
            let each = ACTIONS
                .iter()
                .filter(|(code, _)| code.starts_with(prefix))
                .map(|(code, says)| (*code, capitalized(says)));
            (*label, std::iter::once(all).chain(each).collect())
        })
        .collect()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Who `actor` is, for people: their name when known (`display_name`), a worker by its host
/// and process, anything else as recorded.
pub fn actor_label(actor: &str, display_name: Option<&str>) -> String {
    if let Some(name) = display_name {
        return name.to_string();
    }
    match actor
        .strip_prefix("worker:")
        .map(|w| w.split(':').collect::<Vec<_>>())
    {
        Some(parts) if parts.len() >= 2 => {
            format!("The worker on {} (process {})", parts[0], parts[1])
        }
        Some(_) => "The worker".to_string(),
        None if actor == "system" => "imlink".to_string(),
        None => actor.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_a_group_and_said_once() {
        for (code, says) in ACTIONS {
            assert!(
                GROUPS.iter().any(|(prefix, _)| code.starts_with(prefix)),
                "{code} has no group"
            );
            assert!(!says.is_empty() && !says.contains('.'), "{code}: {says}");
            assert_eq!(
                ACTIONS.iter().filter(|(c, _)| c == code).count(),
                1,
                "{code}"
            );
        }
        assert_eq!(describe("run.step"), "finished a step of a run");
        assert_eq!(describe("something.new"), "something.new");
    }

    #[test]
    fn filters_offer_every_action_under_its_group() {
        let options = filter_options();
        let offered: Vec<&str> = options
            .iter()
            .flat_map(|(_, o)| o.iter().map(|(v, _)| *v))
            .collect();
        for (code, _) in ACTIONS {
            assert!(offered.contains(code), "{code} is not offered");
        }
        assert_eq!(options[1].1[0], ("run.", "Any of: runs".to_string()));
        assert!(is_group("run.") && !is_group("run.rollback"));
    }

    #[test]
    fn machine_actors_read_as_what_they_are() {
        assert_eq!(actor_label("bob", Some("Bob Chen")), "Bob Chen");
        assert_eq!(
            actor_label("worker:imlink:3571:1", None),
            "The worker on imlink (process 3571)"
        );
        assert_eq!(actor_label("mallory", None), "mallory");
    }
}
