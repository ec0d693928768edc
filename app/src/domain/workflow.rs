//! The approval workflow as a pure state machine: who may do what to a request, and what
//! state it moves to. The server applies these decisions inside a transaction.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::request::RequestState;
use super::roles::{CurrentUser, Role};

/// How many sign-offs a request needs, how long they may take, and who may give them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    pub quorum: u32,
    pub expiry_hours: u32,
    pub approver_roles: Vec<Role>,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            quorum: 1,
            expiry_hours: 72,
            approver_roles: vec![Role::Approver],
        }
    }
}

impl ApprovalPolicy {
    /// When a request submitted at `submitted_at` stops accepting approvals.
    pub fn expires_at(&self, submitted_at: DateTime<Utc>) -> DateTime<Utc> {
        submitted_at + Duration::hours(i64::from(self.expiry_hours))
    }

    /// Whether `user` holds a role that may approve.
    pub fn is_approver(&self, user: &CurrentUser) -> bool {
        user.has_any(&self.approver_roles)
    }
}

/// Something a person does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Edit,
    Submit,
    Cancel,
    Approve,
    Reject,
    /// Plan again against fresh facts; a different plan withdraws the votes.
    Replan,
}

impl Action {
    /// The stored lower-case name, also used as the audit action suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Edit => "edit",
            Action::Submit => "submit",
            Action::Cancel => "cancel",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Replan => "replan",
        }
    }
}

/// An approver's vote on the current revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "approve" => Some(Verdict::Approve),
            "reject" => Some(Verdict::Reject),
            _ => None,
        }
    }
}

/// A vote that still counts: cast on the current revision and not withdrawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub approver_id: i32,
    pub decision: Verdict,
    /// The plan hash the vote was cast on.
    pub plan_hash: Option<String>,
}

/// What the workflow needs to know about a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFacts {
    pub state: RequestState,
    pub requester_id: i32,
    pub submitted_at: Option<DateTime<Utc>>,
    pub votes: Vec<Vote>,
    /// The hash of the plan the request currently carries.
    pub plan_hash: Option<String>,
}

impl RequestFacts {
    /// Approving votes on the current revision.
    pub fn approvals(&self) -> usize {
        self.votes
            .iter()
            .filter(|v| v.decision == Verdict::Approve)
            .count()
    }

    /// Whether the request has waited longer than the policy allows.
    pub fn is_expired(&self, policy: &ApprovalPolicy, now: DateTime<Utc>) -> bool {
        self.state == RequestState::Submitted
            && self
                .submitted_at
                .is_some_and(|at| now >= policy.expires_at(at))
    }
}

/// Why an action is refused. Every denial is shown to the person and written to the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Denial {
    #[error("You need the requester role to file integration requests.")]
    NotARequester,
    #[error("Only the person who filed this request can {0} it.")]
    NotTheRequester(String),
    #[error("You cannot approve or reject your own request: another person must sign off.")]
    OwnRequest,
    #[error("Approving and rejecting needs one of these roles: {0}.")]
    NotAnApprover(String),
    #[error("A request that is {state} cannot be {verb}.")]
    WrongState { state: String, verb: String },
    #[error("You have already voted on this revision of the request.")]
    AlreadyVoted,
    #[error("Approvals for this request timed out; the requester must submit it again.")]
    Expired,
    #[error("This approved request no longer meets the approval policy: {0}")]
    NotRunnable(String),
    #[error("Re-planning is for the requester and for approvers.")]
    NotAllowedToReplan,
}

/// Decides whether `actor` may perform `action` and, if so, the state the request moves to.
pub fn decide(
    action: Action,
    actor: &CurrentUser,
    facts: &RequestFacts,
    policy: &ApprovalPolicy,
    now: DateTime<Utc>,
) -> Result<RequestState, Denial> {
    use RequestState::*;
    let wrong_state = |verb: &str| Denial::WrongState {
        state: facts.state.label().to_lowercase(),
        verb: verb.to_string(),
    };
    match action {
        Action::Edit | Action::Submit | Action::Cancel => {
            if actor.id != facts.requester_id {
                return Err(Denial::NotTheRequester(action.as_str().into()));
            }
            match (action, facts.state) {
                (Action::Edit, Draft) => Ok(Draft),
                (Action::Edit, Submitted | Approved) => Ok(Submitted),
                (Action::Edit, _) => Err(wrong_state("edited")),
                (Action::Submit, Draft) => Ok(Submitted),
                (Action::Submit, _) => Err(wrong_state("submitted")),
                (Action::Cancel, Draft | Submitted | Approved) => Ok(Cancelled),
                (_, _) => Err(wrong_state("cancelled")),
            }
        }
        Action::Replan => {
            if actor.id != facts.requester_id && !policy.is_approver(actor) {
                return Err(Denial::NotAllowedToReplan);
            }
            match facts.state {
                Draft => Ok(Draft),
                Submitted | Approved => Ok(Submitted),
                _ => Err(wrong_state("re-planned")),
            }
        }
        Action::Approve | Action::Reject => {
            let verb = if action == Action::Approve {
                "approved"
            } else {
                "rejected"
            };
            if actor.id == facts.requester_id {
                return Err(Denial::OwnRequest);
            }
            if !policy.is_approver(actor) {
                return Err(Denial::NotAnApprover(Role::list(&policy.approver_roles)));
            }
            if facts.state != Submitted {
                return Err(wrong_state(verb));
            }
            if facts.is_expired(policy, now) {
                return Err(Denial::Expired);
            }
            if facts.votes.iter().any(|v| v.approver_id == actor.id) {
                return Err(Denial::AlreadyVoted);
            }
            if action == Action::Reject {
                Ok(Rejected)
            } else if facts.approvals() + 1 >= policy.quorum as usize {
                Ok(Approved)
            } else {
                Ok(Submitted)
            }
        }
    }
}

/// Re-checks an approved request before anything acts on it: still approved, enough approvals,
/// and none of them from the requester.
pub fn check_runnable(facts: &RequestFacts, policy: &ApprovalPolicy) -> Result<(), Denial> {
    if facts.state != RequestState::Approved {
        return Err(Denial::NotRunnable(format!(
            "it is {}",
            facts.state.label().to_lowercase()
        )));
    }
    if facts
        .votes
        .iter()
        .any(|v| v.approver_id == facts.requester_id)
    {
        return Err(Denial::NotRunnable(
            "the requester's own vote is among the approvals".into(),
        ));
    }
    if facts.votes.iter().any(|v| v.decision == Verdict::Reject) {
        return Err(Denial::NotRunnable("it carries a rejection".into()));
    }
    let Some(plan_hash) = &facts.plan_hash else {
        return Err(Denial::NotRunnable("it carries no plan".into()));
    };
    if facts
        .votes
        .iter()
        .any(|v| v.plan_hash.as_ref() != Some(plan_hash))
    {
        return Err(Denial::NotRunnable(
            "an approval was given for a different plan".into(),
        ));
    }
    let approvals = facts.approvals();
    if approvals < policy.quorum as usize {
        return Err(Denial::NotRunnable(format!(
            "{approvals} of {} required approvals",
            policy.quorum
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn user(id: i32, roles: &[Role]) -> CurrentUser {
        CurrentUser {
            id,
            username: format!("u{id}"),
            display_name: format!("User {id}"),
            roles: roles.to_vec(),
        }
    }

    fn t(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, hour, 0, 0).unwrap()
    }

    fn facts(state: RequestState, votes: Vec<Vote>) -> RequestFacts {
        RequestFacts {
            state,
            requester_id: 1,
            submitted_at: Some(t(8)),
            votes,
            plan_hash: Some("p1".into()),
        }
    }

    fn approve(id: i32) -> Vote {
        Vote {
            approver_id: id,
            decision: Verdict::Approve,
            plan_hash: Some("p1".into()),
        }
    }

    #[test]
    fn requester_actions() {
        use RequestState::*;
        let me = user(1, &[Role::Requester]);
        let other = user(2, &[Role::Requester, Role::Admin]);
        let p = ApprovalPolicy::default();
        let table: &[(Action, RequestState, Result<RequestState, ()>)] = &[
            (Action::Submit, Draft, Ok(Submitted)),
            (Action::Submit, Submitted, Err(())),
            (Action::Edit, Draft, Ok(Draft)),
            (Action::Edit, Submitted, Ok(Submitted)),
            (Action::Edit, Approved, Ok(Submitted)),
            (Action::Edit, Rejected, Err(())),
            (Action::Cancel, Draft, Ok(Cancelled)),
            (Action::Cancel, Approved, Ok(Cancelled)),
            (Action::Cancel, Expired, Err(())),
            (Action::Cancel, Cancelled, Err(())),
        ];
        for (action, from, want) in table {
            let got = decide(*action, &me, &facts(*from, vec![]), &p, t(9));
            assert_eq!(got.map_err(|_| ()), *want, "{action:?} from {from:?}");
            assert!(matches!(
                decide(*action, &other, &facts(*from, vec![]), &p, t(9)),
                Err(Denial::NotTheRequester(_))
            ));
        }
    }

    #[test]
    fn the_requester_can_never_approve_even_as_approver_and_admin() {
        let me = user(1, &Role::ALL);
        let p = ApprovalPolicy::default();
        for action in [Action::Approve, Action::Reject] {
            assert_eq!(
                decide(
                    action,
                    &me,
                    &facts(RequestState::Submitted, vec![]),
                    &p,
                    t(9)
                ),
                Err(Denial::OwnRequest)
            );
        }
    }

    #[test]
    fn quorum_counts_distinct_approvers() {
        let p = ApprovalPolicy {
            quorum: 2,
            ..ApprovalPolicy::default()
        };
        let bob = user(2, &[Role::Approver]);
        let carol = user(3, &[Role::Approver]);
        let f0 = facts(RequestState::Submitted, vec![]);
        assert_eq!(
            decide(Action::Approve, &bob, &f0, &p, t(9)),
            Ok(RequestState::Submitted)
        );
        let f1 = facts(RequestState::Submitted, vec![approve(2)]);
        assert_eq!(
            decide(Action::Approve, &bob, &f1, &p, t(9)),
            Err(Denial::AlreadyVoted)
        );
        assert_eq!(
            decide(Action::Approve, &carol, &f1, &p, t(9)),
            Ok(RequestState::Approved)
        );
        assert_eq!(
            decide(Action::Reject, &carol, &f1, &p, t(9)),
            Ok(RequestState::Rejected)
        );
    }

    #[test]
    fn approvers_need_the_role_and_a_live_submitted_request() {
        let p = ApprovalPolicy::default();
        let dave = user(4, &[Role::Auditor]);
        let bob = user(2, &[Role::Approver]);
        let f = facts(RequestState::Submitted, vec![]);
        assert!(matches!(
            decide(Action::Approve, &dave, &f, &p, t(9)),
            Err(Denial::NotAnApprover(_))
        ));
        assert!(matches!(
            decide(
                Action::Approve,
                &bob,
                &facts(RequestState::Draft, vec![]),
                &p,
                t(9)
            ),
            Err(Denial::WrongState { .. })
        ));
        // Submitted at 08:00 with a 72-hour expiry.
        let late = t(8) + Duration::hours(72);
        assert_eq!(
            decide(Action::Approve, &bob, &f, &p, late),
            Err(Denial::Expired)
        );
        assert!(f.is_expired(&p, late));
        assert!(!f.is_expired(&p, late - Duration::seconds(1)));
    }

    #[test]
    fn runnable_rechecks_separation_of_duties_and_quorum() {
        let p = ApprovalPolicy {
            quorum: 2,
            ..ApprovalPolicy::default()
        };
        let ok = facts(RequestState::Approved, vec![approve(2), approve(3)]);
        assert_eq!(check_runnable(&ok, &p), Ok(()));
        let short = facts(RequestState::Approved, vec![approve(2)]);
        assert!(check_runnable(&short, &p).is_err());
        let own = facts(RequestState::Approved, vec![approve(1), approve(2)]);
        assert!(check_runnable(&own, &p).is_err());
        let not_approved = facts(RequestState::Submitted, vec![approve(2), approve(3)]);
        assert!(check_runnable(&not_approved, &p).is_err());
        let other_plan = RequestFacts {
            plan_hash: Some("p2".into()),
            ..ok.clone()
        };
        assert!(check_runnable(&other_plan, &p).is_err());
        let no_plan = RequestFacts {
            plan_hash: None,
            ..ok
        };
        assert!(check_runnable(&no_plan, &p).is_err());
    }

    #[test]
    fn replanning_is_for_the_requester_and_approvers() {
        use RequestState::*;
        let p = ApprovalPolicy::default();
        let (alice, bob, dave) = (
            user(1, &[Role::Requester]),
            user(2, &[Role::Approver]),
            user(4, &[Role::Auditor]),
        );
        assert_eq!(
            decide(Action::Replan, &alice, &facts(Draft, vec![]), &p, t(9)),
            Ok(Draft)
        );
        assert_eq!(
            decide(
                Action::Replan,
                &bob,
                &facts(Approved, vec![approve(2)]),
                &p,
                t(9)
            ),
            Ok(Submitted)
        );
        assert_eq!(
            decide(Action::Replan, &dave, &facts(Submitted, vec![]), &p, t(9)),
            Err(Denial::NotAllowedToReplan)
        );
        assert!(decide(Action::Replan, &alice, &facts(Rejected, vec![]), &p, t(9)).is_err());
    }
}
