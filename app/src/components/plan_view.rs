//! A plan as approvers read it: preflight, steps with their decisions, commands and rollback.

use leptos::prelude::*;

use crate::domain::runs::{RunKind, RunState, StepState};
use crate::domain::time;
use crate::procedure::plan::{CheckOutcome, Decision, Step};
use crate::views::{PlanView, RunView};

/// What the run of a plan did with one of its changing steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ran {
    run: i32,
    /// The step's state in the run; `None` before the run reached it.
    state: Option<StepState>,
    /// Whether the run has ended (a step it never reached then never will be).
    ended: bool,
}

impl Ran {
    fn badge(self) -> (&'static str, String) {
        let run = self.run;
        match self.state {
            Some(StepState::Done) => ("badge badge-run-done", format!("done by run #{run}")),
            Some(StepState::Failed) => ("badge badge-run-failed", format!("failed in run #{run}")),
            Some(StepState::Started | StepState::Applying) => {
                ("badge badge-run-applying", format!("running in run #{run}"))
            }
            None if self.ended => ("badge badge-skipped", format!("not reached by run #{run}")),
            None => ("badge badge-change", format!("waiting in run #{run}")),
        }
    }
}

/// The apply run whose steps the plan shows instead of its decisions (a rollback's plan is the
/// undo plan, shown with the rollback).
fn applied_by(run: Option<&RunView>) -> Option<&RunView> {
    run.filter(|r| r.kind == RunKind::Apply && r.state != RunState::AwaitingApproval)
}

/// The decision of a step as a badge.
#[component]
fn DecisionBadge(decision: Decision) -> impl IntoView {
    let class = match decision {
        Decision::Change => "badge badge-change",
        Decision::Satisfied(_) => "badge badge-satisfied",
        Decision::Skipped(_) => "badge badge-skipped",
    };
    view! { <span class=class>{decision.label()}</span> }
}

/// Commands in a block that one click selects whole, ready to copy.
#[component]
fn Commands(lines: Vec<String>) -> impl IntoView {
    view! {
        <pre class="commands" tabindex="0">
            <code>{lines.join("\n")}</code>
        </pre>
    }
}

#[component]
fn StepItem(
    number: usize,
    step: Step,
    /// What the plan's run did with it, when the plan is shown after its run started.
    ran: Option<Ran>,
) -> impl IntoView {
    let reason = step.decision.reason().map(str::to_string);
    let change = step.decision == Decision::Change;
    view! {
        <li class="step" class:step-idle=!change data-step=step.id.clone()>
            <div class="step-head">
                <span class="step-number">{number}</span>
                <strong class="step-title">{step.title.clone()}</strong>
                {match ran.filter(|_| change) {
                    Some(ran) => {
                        let (class, text) = ran.badge();
                        view! { <span class=class data-testid="step-ran">{text}</span> }.into_any()
                    }
                    None => view! { <DecisionBadge decision=step.decision.clone() /> }.into_any(),
                }}
            </div>
            <p class="step-target">{step.target.label()}</p>
            {reason.map(|r| view! { <p class="step-reason">{r}</p> })}
            <p class="step-why">{step.explanation.clone()}</p>
            <p class="step-ref">{step.reference.clone()}</p>
            <Commands lines=step.apply.clone() />
            {step
                .expect_output
                .clone()
                .map(|e| view! { <p class="step-expect">"Must print: " <code>{e}</code></p> })}
            <details class="step-more">
                <summary>"Read-only check"</summary>
                <Commands lines=vec![step.check.clone()] />
            </details>
            {(!step.rollback.is_empty())
                .then(|| {
                    view! {
                        <details class="step-more">
                            <summary>"Rollback"</summary>
                            <Commands lines=step.rollback.clone() />
                        </details>
                    }
                })}
        </li>
    }
}

/// The whole plan; `request` (the request number) adds download links. With `run` (the
/// request's latest run, when it applies this plan), each changing step says what the run did
/// with it instead of "will change".
#[component]
pub fn PlanPanel(
    view: PlanView,
    #[prop(optional)] request: Option<i32>,
    #[prop(optional)] run: Option<RunView>,
) -> impl IntoView {
    let plan = view.plan;
    let failures = plan.failures().len();
    let warnings = plan.warnings().len();
    let changes = plan.changes().count();
    let short = view.hash.chars().take(12).collect::<String>();
    let run = applied_by(run.as_ref()).cloned();
    let run_id = run.as_ref().map(|r| r.id);
    let ran = move |step: &Step| {
        run.as_ref().map(|r| Ran {
            run: r.id,
            state: r
                .steps
                .iter()
                .find(|s| s.step_id == step.id)
                .map(|s| s.state),
            ended: matches!(
                r.state,
                RunState::Succeeded | RunState::Failed | RunState::Cancelled
            ),
        })
    };
    let done = plan
        .changes()
        .filter(|s| ran(s).is_some_and(|r| r.state == Some(StepState::Done)))
        .count();
    let summary = match run_id {
        Some(id) => format!(" · run #{id} did {done} of its {changes} changes"),
        None => format!(
            " · {changes} of {} steps change something",
            plan.steps.len()
        ),
    };
    view! {
        <section class="panel plan" aria-labelledby="plan-h">
            <div class="panel-head">
                <h2 id="plan-h">"Plan"</h2>
                <span class="meta">
                    "Plan " <code title=view.hash.clone() data-testid="plan-hash">{short}</code>
                    {view.planned_at.map(|at| format!(" · planned {}", time::display(at)))}
                    <span data-testid="plan-summary">{summary}</span>
                </span>
            </div>
            {request
                .map(|id| {
                    view! {
                        <p class="downloads">
                            "Download: "
                            <a href=format!("/requests/{id}/plan.ps1") download="" rel="external">"runbook (.ps1)"</a>
                            " · "
                            <a href=format!("/requests/{id}/plan.txt") download="" rel="external">"plan (text)"</a>
                            " · "
                            <a href=format!("/requests/{id}/facts.json") download="" rel="external">"facts it was planned from (JSON)"</a>
                        </p>
                    }
                })}
            {(!view.changes.is_empty())
                .then(|| {
                    view! {
                        <div class="notice notice-warn" role="note">
                            <p>
                                <strong>"The last re-plan changed the plan"</strong>
                                "; approvals given before it were withdrawn:"
                            </p>
                            <ul class="plan-changes">
                                {view.changes.iter().map(|c| view! { <li>{c.what.clone()}</li> }).collect_view()}
                            </ul>
                        </div>
                    }
                })}
            {(changes == 0 && failures == 0 && !plan.steps.is_empty())
                .then(|| {
                    view! {
                        <p class="notice notice-warn" role="note" data-testid="nothing-to-change">
                            <strong>"This plan changes nothing"</strong>
                            ": every step is already in effect in the environment. Approved, its run only checks each step \
                             and reads the verification; nothing on the servers is changed."
                        </p>
                    }
                })}
            {plan.notes.iter().map(|n| view! { <p class="notice notice-info" role="note">{n.clone()}</p> }).collect_view()}
            <h3>
                {if failures == 0 && warnings > 0 {
                    format!("Preflight: every check passed, {warnings} with a warning")
                } else if failures == 0 {
                    "Preflight: every check passed".to_string()
                } else {
                    format!("Preflight: {failures} check(s) failed — the request cannot be submitted or approved")
                }}
            </h3>
            <ul class="preflight">
                {plan
                    .preflight
                    .iter()
                    .map(|c| {
                        view! {
                            <li
                                class:check-failed=!c.passed
                                class:check-warning=c.outcome() == CheckOutcome::Warning
                                data-check=c.id.clone()
                            >
                                <span class="check-mark">{c.outcome().label()}</span>
                                <strong>{c.title.clone()}</strong>
                                " — "
                                {c.detail.clone()}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <h3>"Steps"</h3>
            {steps(plan.steps, ran)}
        </section>
    }
    .into_any()
}

/// A plan's steps, numbered, each with its decision, commands, check and rollback.
#[component]
pub fn StepList(steps: Vec<Step>) -> impl IntoView {
    view! {
        {self::steps(steps, |_| None)}
    }
}

/// Steps, numbered, each with what `ran` says its run did with it (when it has a run).
fn steps(steps: Vec<Step>, ran: impl Fn(&Step) -> Option<Ran>) -> impl IntoView {
    view! {
        <ol class="steps">
            {steps
                .into_iter()
                .enumerate()
                .map(|(i, step)| {
                    let ran = ran(&step);
                    view! { <StepItem number=i + 1 step ran /> }
                })
                .collect_view()}
        </ol>
    }
}
