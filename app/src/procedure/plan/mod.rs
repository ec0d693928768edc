//! The integration plan: the documented procedure (`lync-owa-integration.md` §1, "ARTICLE"),
//! decided step by step against the environment facts.
//!
//! [`plan`] is pure: the same request and facts always give the same plan, and its
//! [`Plan::hash`] is what approvers sign.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::fields::PolicySelection;
use crate::domain::request::{Integration, IntegrationSpec, RequestKind};
use crate::procedure::facts::same_name;
use crate::procedure::facts::{Backend, Certificate, Facts, Site};
use crate::procedure::powershell::{Command, Value, quote};

mod diff;
mod planner;
mod steps;

pub use diff::{Difference, diff};
pub use planner::plan;

/// The version of the plan format (part of the hash).
pub const FORMAT: u32 = 1;
/// The DLL the UCMA 4.0 registry value must name (ARTICLE §1.2).
pub const UCMA_DLL: &str = "Microsoft.Rtc.Internal.Ucweb.dll";
/// The registry key holding `ImplementationDLLPath`.
pub const UCMA_KEY: &str =
    r"HKLM:\SYSTEM\CurrentControlSet\Services\MSExchange OWA\InstantMessaging";
/// The line `appcmd` prints when the OWA application pool was recycled.
pub const RECYCLED: &str = "\"MSExchangeOWAAppPool\" successfully recycled";
/// The documented recycle command (ARTICLE §1.6 step 4).
pub const RECYCLE_COMMAND: &str = r#"C:\Windows\System32\Inetsrv\Appcmd.exe recycle apppool /apppool.name:"MSExchangeOWAAppPool""#;

/// Where a step runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "server", rename_all = "snake_case")]
pub enum Target {
    /// The Lync Server Management Shell.
    LyncShell,
    /// The Exchange Management Shell.
    ExchangeShell,
    /// One Exchange back-end (Mailbox) server, by FQDN.
    Backend(String),
}

impl Target {
    /// The script that runs `lines` here, exactly as the executor sends it (after its
    /// preamble) and as the runbook shows it: a back-end server's commands wrapped in
    /// `Invoke-Command`, a management shell's as they are.
    pub fn script(&self, lines: &[String]) -> String {
        let body = lines.join("\n");
        match self {
            Target::Backend(server) => format!(
                "Invoke-Command -ComputerName {} -ScriptBlock {{\n{body}\n}}",
                crate::procedure::powershell::quote(server)
            ),
            Target::LyncShell | Target::ExchangeShell => body,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Target::LyncShell => "Lync Server Management Shell".into(),
            Target::ExchangeShell => "Exchange Management Shell".into(),
            Target::Backend(server) => format!("Exchange back-end server {server}"),
        }
    }
}

/// The IM setting an OWA step leaves in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Im {
    /// IM enabled with type OCS (Lync), for an integration.
    On,
    /// IM disabled, for an organization that does not integrate.
    Off,
}

impl Im {
    /// Whether a directory or policy with these settings is already as wanted.
    pub fn holds(self, enabled: bool, kind: &str) -> bool {
        match self {
            Im::On => enabled && kind.eq_ignore_ascii_case("Ocs"),
            Im::Off => !enabled,
        }
    }

    /// The `Set-OwaVirtualDirectory` / `Set-OwaMailboxPolicy` parameters that set it.
    pub fn parameters(self) -> &'static str {
        match self {
            Im::On => "-InstantMessagingEnabled $True -InstantMessagingType OCS",
            Im::Off => "-InstantMessagingEnabled $False",
        }
    }

    /// The PowerShell condition that `variable` (e.g. `$_`) is as wanted.
    pub fn condition(self, variable: &str) -> String {
        match self {
            Im::On => format!(
                "{variable}.InstantMessagingEnabled -and {variable}.InstantMessagingType -eq 'Ocs'"
            ),
            Im::Off => format!("-not {variable}.InstantMessagingEnabled"),
        }
    }

    /// The PowerShell condition that `variable` is not yet as wanted.
    pub fn unmet(self, variable: &str) -> String {
        match self {
            Im::On => format!("-not ({})", self.condition(variable)),
            Im::Off => format!("{variable}.InstantMessagingEnabled"),
        }
    }
}

/// What the plan will do with a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
pub enum Decision {
    /// The step will change the environment.
    Change,
    /// The environment is already as the step would leave it.
    Satisfied(String),
    /// The step does not apply here.
    Skipped(String),
}

impl Decision {
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Change => "will change",
            Decision::Satisfied(_) => "already satisfied",
            Decision::Skipped(_) => "skipped",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Decision::Change => None,
            Decision::Satisfied(r) | Decision::Skipped(r) => Some(r),
        }
    }
}

/// One step of the procedure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable key, e.g. `trusted-pool` or `web-config:ex01.litwareinc.com`.
    pub id: String,
    pub title: String,
    pub target: Target,
    /// The commands that make the change.
    pub apply: Vec<String>,
    /// A read-only script that prints `True` when the change is already in place.
    pub check: String,
    /// Text the apply output must contain for the step to count as done, when there is one.
    pub expect_output: Option<String>,
    /// What the step does and why, in plain words.
    pub explanation: String,
    /// Where the procedure says so.
    pub reference: String,
    pub decision: Decision,
    /// The commands that undo the step (empty when it is not undone, with the reason in
    /// `explanation`).
    pub rollback: Vec<String>,
}

/// The id of the step that recycles OWA on back-end `server`.
pub fn recycle_step_id(server: &str) -> String {
    format!("recycle:{server}")
}

/// The check of a step that has no read-only way to tell whether it took effect.
pub const NO_CHECK: &str = "$False";

impl Step {
    /// Whether the step's check can tell that it already took effect (publishing the topology
    /// cannot: its check is [`NO_CHECK`]).
    pub fn checkable(&self) -> bool {
        self.check.trim() != NO_CHECK
    }
}

/// One preflight check. A failed one blocks submission; a passed one may carry a warning the
/// approver should see (a certificate that expires soon).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preflight {
    pub id: String,
    pub title: String,
    pub passed: bool,
    pub detail: String,
    /// Passed, but with something to act on soon (stored only when set, so plans hashed
    /// before warnings existed keep their hash).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
}

/// How a preflight check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    Passed,
    Warning,
    Failed,
}

impl CheckOutcome {
    pub fn label(self) -> &'static str {
        match self {
            CheckOutcome::Passed => "Passed",
            CheckOutcome::Warning => "Warning",
            CheckOutcome::Failed => "Failed",
        }
    }
}

impl Preflight {
    pub fn outcome(&self) -> CheckOutcome {
        match (self.passed, self.warning) {
            (false, _) => CheckOutcome::Failed,
            (true, true) => CheckOutcome::Warning,
            (true, false) => CheckOutcome::Passed,
        }
    }
}

/// Evidence to collect after the first OWA sign-in (ARTICLE §1.9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub target: Target,
    pub script: String,
    pub explanation: String,
    /// What to check next on this server when the evidence shows no event 112 after people
    /// signed in (stored only when set, so older plans keep their hash).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_checks: Vec<crate::procedure::diagnostics::NextCheck>,
}

/// The whole plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    /// What the plan changes (stored only for turning IM off, so integration plans keep the
    /// hash they had before requests had kinds).
    #[serde(default, skip_serializing_if = "RequestKind::is_integrate")]
    pub kind: RequestKind,
    /// The SiteId passed to `-Site` (resolved from a display name when needed).
    pub site_id: String,
    pub owa_pool_fqdn: String,
    pub registrar_fqdn: String,
    /// Things the approver should know (site resolution, autodiscovery).
    pub notes: Vec<String>,
    pub preflight: Vec<Preflight>,
    pub steps: Vec<Step>,
    pub evidence: Vec<Evidence>,
}

impl Plan {
    /// The failed preflight checks; any blocks submission.
    pub fn failures(&self) -> Vec<&Preflight> {
        self.preflight.iter().filter(|p| !p.passed).collect()
    }

    /// The checks that passed with a warning.
    pub fn warnings(&self) -> Vec<&Preflight> {
        self.preflight
            .iter()
            .filter(|p| p.outcome() == CheckOutcome::Warning)
            .collect()
    }

    /// Steps that will change something.
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.decision == Decision::Change)
    }

    /// SHA-256 of the plan's canonical JSON, hex-encoded: what an approval is bound to.
    pub fn hash(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(json.as_bytes()))
    }

    /// The plan that undoes the steps at `positions` of this plan (those a run completed or
    /// left applying), last first: each runs the step's rollback commands on its target. A step
    /// without any is kept, marked as having nothing to undo. Undo commands have no read-only
    /// check, so an undo interrupted while it ran is never repeated without a person. The undo
    /// plan verifies nothing and has no preflight; `note` says what it undoes.
    pub fn undo(&self, positions: &[usize], note: String) -> Plan {
        let mut positions = positions.to_vec();
        positions.sort_unstable();
        positions.dedup();
        let steps = positions
            .into_iter()
            .rev()
            .filter_map(|p| self.steps.get(p))
            .map(|step| Step {
                id: format!("undo:{}", step.id),
                title: format!("Undo: {}", step.title),
                target: step.target.clone(),
                apply: step.rollback.clone(),
                check: NO_CHECK.to_string(),
                expect_output: None,
                explanation: if step.rollback.is_empty() {
                    format!(
                        "“{}” has no undo commands: {}",
                        step.title, step.explanation
                    )
                } else {
                    format!("Runs the undo commands of “{}”.", step.title)
                },
                reference: step.reference.clone(),
                decision: if step.rollback.is_empty() {
                    Decision::Skipped("nothing to undo".to_string())
                } else {
                    Decision::Change
                },
                rollback: Vec::new(),
            })
            .collect();
        Plan {
            notes: vec![note],
            preflight: Vec::new(),
            steps,
            evidence: Vec::new(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests;
