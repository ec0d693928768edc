//! A plan as approvers read it: preflight, steps with their decisions, commands and rollback.

use leptos::prelude::*;

use crate::domain::time;
use crate::procedure::plan::{CheckOutcome, Decision, Step};
use crate::views::PlanView;

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
fn StepItem(number: usize, step: Step) -> impl IntoView {
    let reason = step.decision.reason().map(str::to_string);
    let change = step.decision == Decision::Change;
    view! {
        <li class="step" class:step-idle=!change data-step=step.id.clone()>
            <div class="step-head">
                <span class="step-number">{number}</span>
                <strong class="step-title">{step.title.clone()}</strong>
                <DecisionBadge decision=step.decision.clone() />
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

/// The whole plan; `request` (the request number) adds download links.
#[component]
pub fn PlanPanel(view: PlanView, #[prop(optional)] request: Option<i32>) -> impl IntoView {
    let plan = view.plan;
    let failures = plan.failures().len();
    let warnings = plan.warnings().len();
    let changes = plan.changes().count();
    let short = view.hash.chars().take(12).collect::<String>();
    view! {
        <section class="panel plan" aria-labelledby="plan-h">
            <div class="panel-head">
                <h2 id="plan-h">"Plan"</h2>
                <span class="meta">
                    "Plan " <code title=view.hash.clone() data-testid="plan-hash">{short}</code>
                    {view.planned_at.map(|at| format!(" · planned {}", time::display(at)))}
                    {format!(" · {changes} of {} steps change something", plan.steps.len())}
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
            <StepList steps=plan.steps />
        </section>
    }
}

/// A plan's steps, numbered, each with its decision, commands, check and rollback.
#[component]
pub fn StepList(steps: Vec<Step>) -> impl IntoView {
    view! {
        <ol class="steps">
            {steps
                .into_iter()
                .enumerate()
                .map(|(i, step)| view! { <StepItem number=i + 1 step /> })
                .collect_view()}
        </ol>
    }
}
