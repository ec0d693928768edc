//! What server functions send to pages: plain serializable views, never database entities.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::request::{ChangeWindow, RequestInput, RequestState};
use crate::domain::roles::Account;
use crate::domain::runs::{RunKind, RunState, StepState};
use crate::domain::workflow::Verdict;
use crate::procedure::plan::{Difference, Plan};

/// A person as shown beside what they did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: i32,
    pub username: String,
    pub display_name: String,
}

/// One line of a request list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSummary {
    pub id: i32,
    pub state: RequestState,
    pub site_id: String,
    pub kind: crate::domain::request::RequestKind,
    /// Empty for a request that turns IM off.
    pub owa_pool_fqdn: String,
    pub requester: UserRef,
    pub approvals: u32,
    pub quorum: u32,
    pub updated_at: DateTime<Utc>,
    /// When approvals time out, for a request awaiting approval.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where its change stands on the servers (its latest run), once it has a run.
    pub change: Option<crate::domain::runs::ChangeStatus>,
}

/// An approver's vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteView {
    pub approver: UserRef,
    pub decision: Verdict,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
    pub revision: i32,
    /// Withdrawn because the request was edited after the vote.
    pub withdrawn: bool,
}

/// What the viewer may do to a request right now, as decided on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub edit: bool,
    pub submit: bool,
    pub cancel: bool,
    pub vote: bool,
    /// Why the viewer cannot vote, when they are an approver or the requester.
    pub vote_blocked: Option<String>,
    /// Plan again against fresh facts.
    pub replan: bool,
}

/// A plan as a request carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanView {
    /// What approvals are bound to.
    pub hash: String,
    pub planned_at: Option<DateTime<Utc>>,
    pub plan: Plan,
    /// What the last re-plan changed, when it changed anything.
    pub changes: Vec<Difference>,
}

/// The environment plans are made against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentView {
    /// e.g. `facts file /etc/imlink/facts.json`.
    pub label: String,
    pub collected_at: Option<DateTime<Utc>>,
    /// The discovered Lync sites: (SiteId, display name).
    pub sites: Vec<(String, String)>,
}

/// The request page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDetail {
    pub summary: RequestSummary,
    /// The stored (validated, normalized) values.
    pub values: RequestInput,
    pub window: Option<ChangeWindow>,
    pub revision: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub votes: Vec<VoteView>,
    pub timeline: Vec<AuditEntry>,
    pub can: Permissions,
    /// The plan the request carries (none before an environment is configured).
    pub plan: Option<PlanView>,
    /// The latest run of the approved plan.
    pub run: Option<RunView>,
}

/// The latest run of a request, as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    pub id: i32,
    pub kind: RunKind,
    pub state: RunState,
    pub reason: Option<String>,
    pub attempts: i32,
    /// How many steps the run has in all (for its progress).
    pub total: usize,
    pub steps: Vec<RunStepView>,
    /// What the run's verification found, per back-end server (a finished apply run).
    pub evidence: Vec<ServerVerification>,
    /// A rollback's undo plan and its hash (what its approval is bound to).
    pub undo_plan: Option<(String, Plan)>,
    /// The run a rollback undoes.
    pub target_run: Option<i32>,
    /// Who asked for a rollback, and who approved it.
    pub requested_by: Option<UserRef>,
    pub approved_by: Option<UserRef>,
    /// What the viewer may do with the run.
    pub can_cancel: bool,
    pub can_resume: bool,
    pub can_roll_back: bool,
    pub can_approve: bool,
    /// Why the viewer, an approver, may not approve this rollback.
    pub approval_blocked: Option<String>,
}

/// What verification found on one back-end server after a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVerification {
    pub server: String,
    /// Whether the run recycled MSExchangeOWAAppPool (`None`: web.config was unchanged, so no
    /// recycle was needed).
    pub recycled: Option<bool>,
    /// Event 112 from MSExchange OWA (the IM endpoint manager started); logged at the first
    /// OWA sign-in after the change.
    pub event_112: Option<bool>,
    /// `Logging\OWA\InstantMessaging` exists; created at the first OWA sign-in.
    pub im_log_folder: Option<bool>,
    /// Why the evidence could not be read, if it could not.
    pub error: Option<String>,
    /// What to check next while event 112 is missing (empty once it is logged).
    #[serde(default)]
    pub next_checks: Vec<crate::procedure::diagnostics::NextCheck>,
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStepView {
    pub step_id: String,
    /// The plan step's title.
    pub title: String,
    pub state: StepState,
    pub output: String,
    pub output_sha256: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The username (or machine actor) recorded.
    pub actor: String,
    /// Who that is, for people: their name, or what the machine actor is.
    pub actor_name: String,
    pub action: String,
    pub outcome: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub detail: Option<String>,
}

/// Filters of the audit log page; empty strings mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub actor: String,
    pub action: String,
    pub request: String,
    pub outcome: String,
    pub page: u32,
}

/// One page of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: u64,
    pub page: u32,
    pub pages: u32,
}

/// The home page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub mine: Vec<RequestSummary>,
    /// `None` when the viewer cannot approve.
    pub awaiting_me: Option<Vec<RequestSummary>>,
    pub recent: Vec<AuditEntry>,
}

/// The local sign-in page: the demo accounts, when local sign-in is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    pub local_accounts: Option<Vec<Account>>,
    /// Local sign-in is on, but only for a browser on the server's own machine.
    pub local_elsewhere: bool,
    /// The organization's identity provider, by name, when sign-in goes through one.
    pub provider: Option<String>,
}

/// A person who has signed in to imlink, as admins manage them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalUser {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    /// The roles their sign-in gave them, as last seen.
    pub roles: Vec<crate::domain::roles::Role>,
    pub method: crate::domain::sign_in::SignInMethod,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub open_sessions: u64,
    pub disabled_at: Option<DateTime<Utc>>,
    /// The admin looking at the list.
    pub is_you: bool,
}

/// The lab page: the simulated organization at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabView {
    pub scenario: String,
    pub scenarios: Vec<String>,
    pub sites: Vec<(String, String)>,
    pub pools: Vec<String>,
    /// Trusted application pools: (FQDN, registrar, published?).
    pub trusted_pools: Vec<(String, String, bool)>,
    /// Trusted applications: (pool FQDN, application id, port, published?).
    pub trusted_applications: Vec<(String, String, u16, bool)>,
    /// Exchange servers: (FQDN, roles, version).
    pub exchange_servers: Vec<(String, String, String)>,
    /// OWA virtual directories: (identity, back end?, IM enabled, IM type).
    pub owa_virtual_directories: Vec<(String, bool, bool, String)>,
    /// OWA mailbox policies: (name, IM enabled, IM type).
    pub owa_mailbox_policies: Vec<(String, bool, String)>,
    pub backends: Vec<LabBackend>,
    /// A few directory users with what their OWA sign-in would show.
    pub people: Vec<LabSignIn>,
    /// What the sign-in of the person last tried on the page would show now (the page's
    /// answer to a sign-in posted without JavaScript).
    pub tried: Option<LabSignIn>,
    pub users: usize,
}

/// One Exchange back-end server in the lab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabBackend {
    pub server: String,
    pub im_certificate_thumbprint: Option<String>,
    pub im_server_name: Option<String>,
    pub ucma: bool,
    pub recycles: u32,
    pub event_112: bool,
    pub im_log_folder: bool,
}

/// A simulated OWA sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabSignIn {
    pub upn: String,
    pub presence: bool,
    pub reasons: Vec<String>,
}

/// A person as lists and suggestions name them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonEntry {
    pub upn: String,
    pub display_name: String,
    pub sam_account_name: String,
    /// `msRTCSIP-PrimaryUserAddress`.
    pub sip_address: Option<String>,
    /// The primary SMTP address.
    pub mail: Option<String>,
}

/// One stored eligibility check, whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityView {
    pub id: i64,
    pub upn: String,
    pub display_name: String,
    /// Which directory answered (`lab`).
    pub source: String,
    pub verdict: crate::procedure::eligibility::Verdict,
    pub checks: Vec<crate::procedure::eligibility::Check>,
    pub asked_by: String,
    pub asked_at: DateTime<Utc>,
}

/// A stored check in a person's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub id: i64,
    pub verdict: crate::procedure::eligibility::Verdict,
    pub reasons: Vec<crate::procedure::eligibility::Code>,
    pub asked_by: String,
    pub asked_at: DateTime<Utc>,
}

/// A person's page: the check shown, what changed since the one before it, and the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonView {
    pub check: EligibilityView,
    /// The checks whose outcome differs from the previous check's, when there is one.
    pub changes: Option<Vec<crate::procedure::eligibility::Change>>,
    /// Every stored check of the person, newest first.
    pub history: Vec<CheckSummary>,
    /// Whether the lab can simulate the person's OWA sign-in.
    pub can_simulate: bool,
}

/// A bulk eligibility check at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSummary {
    pub id: i64,
    pub scope: crate::domain::scans::ScopeKind,
    /// The distinguished name or site it covers.
    pub target: Option<String>,
    /// How many people a list names (a directory's size is not known in advance).
    pub listed: Option<usize>,
    pub state: crate::domain::scans::ScanState,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub checked: i64,
    pub eligible: i64,
    pub not_eligible: i64,
    pub unknown: i64,
}

/// One person in a bulk check's results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPerson {
    pub upn: String,
    pub display_name: String,
    pub verdict: crate::procedure::eligibility::Verdict,
    pub reasons: Vec<crate::procedure::eligibility::Code>,
}

/// Which results a bulk check's page shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanFilter {
    pub verdict: Option<crate::procedure::eligibility::Verdict>,
    pub reason: Option<crate::procedure::eligibility::Code>,
    /// 1-based.
    pub page: u64,
}

/// A bulk check's page: its progress and counts, counts per reason, the list's bad lines, and
/// one page of its people as filtered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanView {
    pub summary: ScanSummary,
    /// Which directory answered.
    pub source: String,
    /// Why it failed, or what a retry waits for.
    pub reason: Option<String>,
    /// How many people fail each reason code, in the rules' order.
    pub reason_counts: Vec<(crate::procedure::eligibility::Code, i64)>,
    pub bad_lines: Vec<crate::domain::scans::BadLine>,
    pub filter: ScanFilter,
    pub people: Vec<ScanPerson>,
    /// How many people match the filter.
    pub matching: u64,
    pub pages: u64,
    /// Whether the viewer may stop it now.
    pub can_cancel: bool,
    /// The other finished bulk checks it can be compared with, newest first.
    pub comparable: Vec<ScanSummary>,
}

/// A person whose verdict differs between two bulk checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanChange {
    pub upn: String,
    pub display_name: String,
    pub before: crate::procedure::eligibility::Verdict,
    pub after: crate::procedure::eligibility::Verdict,
    /// The failing codes in the later check.
    pub reasons: Vec<crate::procedure::eligibility::Code>,
}

/// Two bulk checks compared: who became eligible, who no longer is, and other changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanComparison {
    pub before: ScanSummary,
    pub after: ScanSummary,
    pub became_eligible: Vec<ScanChange>,
    pub became_ineligible: Vec<ScanChange>,
    /// Verdicts that changed otherwise (to or from unknown).
    pub other: Vec<ScanChange>,
    /// How many became eligible, are no longer eligible, and changed otherwise (the lists
    /// show at most 1,000 each).
    pub counts: [u64; 3],
    /// People only in the earlier or only in the later check.
    pub only_before: u64,
    pub only_after: u64,
    /// Whether a list was cut (each shows at most 1,000 people).
    pub truncated: bool,
}
