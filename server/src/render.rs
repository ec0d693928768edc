//! Renders a plan with askama: the human-readable text and the executable runbook come from
//! the same [`Plan`]. Every value in the runbook is already a literal built by
//! `app::procedure::powershell`; text placed in comments is flattened to one line.

use askama::Template;

use app::procedure::plan::{Decision, Plan, Step};
use app::procedure::powershell::quote;
use app::ssr::entities::{jobs, run_steps};

/// One step as the templates show it.
struct StepView {
    number: usize,
    title: String,
    heading: String,
    decision: &'static str,
    reason: Option<String>,
    target: String,
    explanation: String,
    reference: String,
    apply: Vec<String>,
    check: String,
    expect_output: Option<String>,
    rollback: Vec<String>,
    run: bool,
    /// The step's script exactly as the executor sends it (see [`app::procedure::plan::Target::script`]).
    body: String,
    expect_check: Option<String>,
}

struct EvidenceView {
    target: String,
    explanation: String,
    script: String,
}

#[derive(Template)]
#[template(path = "plan.txt", escape = "none")]
struct PlanText<'a> {
    hash: String,
    plan: &'a Plan,
    failures: usize,
    steps: Vec<StepView>,
    evidence: Vec<EvidenceView>,
}

#[derive(Template)]
#[template(path = "runbook.ps1", escape = "none")]
struct Runbook {
    hash: String,
    integrate: bool,
    owa: String,
    registrar: String,
    site: String,
    steps: Vec<StepView>,
}

/// Text fit for a PowerShell `#` comment: line breaks and other control characters become
/// spaces, so nothing after them can become code.
pub fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn step_view(number: usize, step: &Step) -> StepView {
    let reason = step.decision.reason().map(str::to_string);
    let heading = comment(&match &reason {
        Some(r) => format!("{} ({}: {r})", step.title, step.decision.label()),
        None => format!("{} ({})", step.title, step.decision.label()),
    });
    let expect_check = step.expect_output.as_ref().map(|expected| {
        format!(
            "if (-not (($output | Out-String).Contains({}))) {{ throw {} }}",
            quote(expected),
            quote(&comment(&format!(
                "Step {number} did not print the expected output: {expected}"
            )))
        )
    });
    StepView {
        number,
        title: step.title.clone(),
        heading,
        decision: step.decision.label(),
        reason,
        target: step.target.label(),
        explanation: step.explanation.clone(),
        reference: step.reference.clone(),
        apply: step.apply.clone(),
        check: step.check.clone(),
        expect_output: step.expect_output.clone(),
        rollback: step.rollback.clone(),
        run: step.decision == Decision::Change,
        body: step.target.script(&step.apply),
        expect_check,
    }
}

fn steps(plan: &Plan) -> Vec<StepView> {
    plan.steps
        .iter()
        .enumerate()
        .map(|(i, s)| step_view(i + 1, s))
        .collect()
}

/// The plan for people to read.
pub fn text(plan: &Plan) -> String {
    PlanText {
        hash: plan.hash(),
        plan,
        failures: plan.failures().len(),
        steps: steps(plan),
        evidence: plan
            .evidence
            .iter()
            .map(|e| EvidenceView {
                target: e.target.label(),
                explanation: e.explanation.clone(),
                script: e.script.clone(),
            })
            .collect(),
    }
    .render()
    .unwrap_or_else(|e| format!("(the plan could not be rendered: {e})"))
}

/// The whole plan as one runbook script: UTF-8 with a byte-order mark, so Windows PowerShell
/// reads non-ASCII literals correctly.
pub fn runbook(plan: &Plan) -> String {
    let body = Runbook {
        hash: plan.hash(),
        integrate: plan.kind.is_integrate(),
        owa: comment(&plan.owa_pool_fqdn),
        registrar: comment(&plan.registrar_fqdn),
        site: comment(&plan.site_id),
        steps: steps(plan),
    }
    .render()
    .unwrap_or_else(|e| {
        format!(
            "throw 'the runbook could not be rendered: {}'",
            comment(&e.to_string()).replace('\'', "''")
        )
    });
    format!("\u{FEFF}{body}\n")
}

#[derive(Template)]
#[template(path = "transcript.txt", escape = "none")]
struct Transcript<'a> {
    job: &'a jobs::Model,
    steps: &'a [run_steps::Model],
    evidence: Vec<app::views::ServerVerification>,
}

/// A run's transcript: the run, then each step with its times, the SHA-256 of its whole output
/// and the output as stored (bounded), every output line prefixed so it cannot pass for ours.
pub fn transcript(job: &jobs::Model, steps: &[run_steps::Model]) -> String {
    let evidence: Vec<app::views::ServerVerification> = job
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    Transcript {
        job,
        steps,
        evidence,
    }
    .render()
    .unwrap_or_else(|e| format!("the transcript could not be rendered: {e}"))
        + "\n"
}

/// The plan as JSON, with its hash.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "hash": plan.hash(), "plan": plan }))
        .unwrap_or_default()
}
