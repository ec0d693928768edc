//! `/requests/:id`: the request, its votes and timeline, and what the viewer may do.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::requests::{
    ApproveRollback, CancelRequest, CancelRun, ReplanRequest, ResumeRun, RollbackRun,
    SubmitRequest, VoteRequest, get_request,
};
use crate::components::audit_table::AuditTable;
use crate::components::confirm::ConfirmSubmit;
use crate::components::feedback::{ActionError, Empty, ErrorNotice, Loading, jump_to};
use crate::components::plan_view::{PlanPanel, StepList};
use crate::components::request_table::{ChangeBadge, StateBadge};
use crate::components::text_area::TextArea;
use crate::domain::runs::{RunKind, RunState, StepState};
use crate::domain::time;
use crate::domain::workflow::Verdict;
use crate::error::AppError;
use crate::views::{RequestDetail, RunView, VoteView};

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i32>().ok());
    let submit = ServerAction::<SubmitRequest>::new();
    let cancel = ServerAction::<CancelRequest>::new();
    let vote = ServerAction::<VoteRequest>::new();
    let replan = ServerAction::<ReplanRequest>::new();
    let cancel_run = ServerAction::<CancelRun>::new();
    let resume_run = ServerAction::<ResumeRun>::new();
    let rollback_run = ServerAction::<RollbackRun>::new();
    let approve_rollback = ServerAction::<ApproveRollback>::new();
    let detail = Resource::new(
        move || {
            (
                id(),
                submit.version().get(),
                cancel.version().get(),
                vote.version().get(),
                replan.version().get(),
                cancel_run.version().get()
                    + resume_run.version().get()
                    + rollback_run.version().get()
                    + approve_rollback.version().get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => get_request(id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(id) = id() {
            follow_run(id, move || detail.refetch());
        }
    });
    let failed = |v: Option<Result<(), AppError>>| v.and_then(Result::err);
    let submit_error = Signal::derive(move || failed(submit.value().get()));
    let cancel_error = Signal::derive(move || failed(cancel.value().get()));
    let vote_error = Signal::derive(move || failed(vote.value().get()));
    let replan_error = Signal::derive(move || replan.value().get().and_then(Result::err));
    let run_error = Signal::derive(move || {
        cancel_run
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| resume_run.value().get().and_then(Result::err))
            .or_else(|| rollback_run.value().get().and_then(Result::err))
            .or_else(|| approve_rollback.value().get().and_then(Result::err))
    });
    // What the person's last action did, said where they are looking.
    let query = leptos_router::hooks::use_query_map();
    let outcome = move || -> Option<Outcome> {
        fn ok<T>(v: Option<Result<T, AppError>>) -> bool {
            matches!(v, Some(Ok(_)))
        }
        let done = [
            (ok(submit.value().get()), Outcome::Submitted),
            (ok(cancel.value().get()), Outcome::Cancelled),
            (ok(vote.value().get()), Outcome::Voted),
            (ok(cancel_run.value().get()), Outcome::RunCancelled),
            (ok(resume_run.value().get()), Outcome::RunResumed),
            (ok(rollback_run.value().get()), Outcome::RollbackAsked),
            (
                ok(approve_rollback.value().get()),
                Outcome::RollbackApproved,
            ),
        ];
        done.into_iter()
            .find_map(|(happened, outcome)| happened.then_some(outcome))
            .or_else(|| match query.read().get("done").as_deref() {
                Some("saved") => Some(Outcome::Saved),
                Some("updated") => Some(Outcome::Updated),
                _ => None,
            })
    };
    // Focus follows each new outcome to its message, so keyboard and screen-reader users
    // start from what happened rather than from the top of the page. The message may be drawn
    // only once the request has loaded (after a redirect to this page), so the focus waits.
    #[cfg(feature = "hydrate")]
    {
        let focus_pending = StoredValue::new(false);
        Effect::new(move |last: Option<Option<Outcome>>| {
            let now = outcome();
            if now.is_some() && last.flatten() != now {
                focus_pending.set_value(true);
            }
            detail.track();
            if focus_pending.get_value() {
                request_animation_frame(move || {
                    if focus_pending.get_value() && focus("outcome") {
                        focus_pending.set_value(false);
                    }
                });
            }
            now
        });
    }
    // Run progress for screen readers, in a region that outlives the page's re-renders.
    let announced = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(Ok(d)) = detail.get() {
            let line = d.run.as_ref().map(run_line).unwrap_or_default();
            if announced.get_untracked() != line {
                announced.set(line);
            }
        }
    });
    let replan_outcome = move || match replan.value().get() {
        Some(Ok(false)) => Some("Re-planned against the current facts: the plan is unchanged."),
        Some(Ok(true)) => Some(
            "Re-planned against the current facts: the plan changed, and approvals were withdrawn.",
        ),
        _ => None,
    };
    view! {
        <p class="visually-hidden" role="status" aria-live="polite" data-testid="run-live">{announced}</p>
        // Outside the request's transition, so that reloading the request keeps the message
        // (and the focus it took). Only the outcomes of actions taken here read the request:
        // none of them is shown while the page hydrates.
        {move || outcome().map(|o| {
            let loaded = move || detail.get().and_then(Result::ok);
            view! {
                <p class="notice notice-ok" role="status" id="outcome" tabindex="-1" data-testid="outcome">
                    {o.message(|| loaded().map_or(1, |d| d.summary.quorum))}
                    {move || (o.concerns_run() && loaded().is_some_and(|d| d.run.is_some())).then(|| view! {
                        " " <a href="#run" on:click=|ev| jump_to(ev, "run")>"Follow the run"</a>
                    })}
                </p>
            }
        })}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! {
                        <Title text=format!("Request #{}", d.summary.id) />
                        <RequestHeader d=d.clone() />
                        {d.run.as_ref().map(|run| view! {
                            <p class="meta run-summary" data-testid="run-summary">
                                {run_line(run)} " " <a href="#run" on:click=|ev| jump_to(ev, "run")>"See the run"</a>
                            </p>
                        })}
                        <ActionError error=submit_error />
                        <ActionError error=cancel_error />
                        <ActionError error=vote_error />
                        <ActionError error=replan_error />
                        <ActionError error=run_error />
                        {move || replan_outcome().map(|m| view! { <p class="notice notice-info" role="status">{m}</p> })}
                        <RequesterActions d=d.clone() submit cancel replan />
                        <VoteBox d=d.clone() vote error=vote_error />
                        <div class="columns">
                            <RequestValues d=d.clone() />
                            <section class="panel" aria-labelledby="votes-h">
                                <h2 id="votes-h">"Approvals"</h2>
                                <VoteList votes=d.votes.clone() />
                            </section>
                        </div>
                        {match d.plan.clone() {
                            Some(view) => match d.run.clone() {
                                Some(run) => view! { <PlanPanel view request=d.summary.id run /> }.into_any(),
                                None => view! { <PlanPanel view request=d.summary.id /> }.into_any(),
                            },
                            None => view! {
                                <section class="panel" aria-labelledby="plan-h">
                                    <h2 id="plan-h">"Plan"</h2>
                                    <p class="empty">
                                        "Not planned yet: no environment was configured when this request was saved. It is planned when it is submitted."
                                    </p>
                                </section>
                            }
                            .into_any(),
                        }}
                        {d.run.clone().map(|run| {
                            let request = d.summary.id;
                            let site = d.summary.site_id.clone();
                            view! { <RunPanel run request site cancel_run resume_run rollback_run approve_rollback /> }
                        })}
                        <section class="panel" aria-labelledby="timeline-h">
                            <h2 id="timeline-h">"Timeline"</h2>
                            <AuditTable entries=d.timeline.clone() empty="Nothing has happened yet." show_values=true />
                        </section>
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What the viewer's last action on this page did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Saved,
    Updated,
    Submitted,
    Cancelled,
    Voted,
    RunCancelled,
    RunResumed,
    RollbackAsked,
    RollbackApproved,
}

impl Outcome {
    /// The confirmation shown for it; `quorum` gives the request's number of approvals needed
    /// (asked only for a submission).
    fn message(self, quorum: impl FnOnce() -> u32) -> String {
        match self {
            Outcome::Saved => "Draft saved. Review its plan below, then submit it for approval.".into(),
            Outcome::Updated => "Changes saved.".into(),
            Outcome::Submitted => {
                let quorum = quorum();
                format!(
                    "Submitted: waiting for approval by {quorum} approver{} other than you.",
                    if quorum == 1 { "" } else { "s" }
                )
            }
            Outcome::Cancelled => "Request cancelled.".into(),
            Outcome::Voted => "Your vote is recorded.".into(),
            Outcome::RunCancelled => "The run is cancelled: it stops before its next step.".into(),
            Outcome::RunResumed => "The run is back in the queue.".into(),
            Outcome::RollbackAsked => {
                "Rollback asked: its undo plan is with the run, and it runs once another approver approves it.".into()
            }
            Outcome::RollbackApproved => "Rollback approved: it runs now.".into(),
        }
    }

    /// Whether the outcome starts, stops or changes a run (the message then links to it).
    fn concerns_run(self) -> bool {
        !matches!(self, Outcome::Saved | Outcome::Updated | Outcome::Cancelled)
    }
}

/// One line on where the run stands, for the summary at the top and for screen readers.
fn run_line(run: &RunView) -> String {
    let what = match run.kind {
        RunKind::Rollback => "Rollback run",
        RunKind::Apply => "Run",
    };
    let done = run
        .steps
        .iter()
        .filter(|s| s.state == StepState::Done)
        .count();
    let progress = if run.total > 0 {
        format!(", {done} of {} steps done", run.total)
    } else {
        String::new()
    };
    format!("{what} #{}: {}{progress}.", run.id, run.state.label())
}

/// Moves focus to the element `id`; whether it was there to take it.
#[cfg(feature = "hydrate")]
fn focus(id: &str) -> bool {
    use wasm_bindgen::JsCast;
    document()
        .get_element_by_id(id)
        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
        .is_some_and(|el| el.focus().is_ok())
}

#[component]
fn RequestHeader(d: RequestDetail) -> impl IntoView {
    let s = d.summary;
    view! {
        <div class="page-head">
            <h1>{format!("Request #{} · {}", s.id, s.site_id)}</h1>
            <StateBadge state=s.state />
            <ChangeBadge change=s.change kind=s.kind />
        </div>
        <p class="meta">
            {format!(
                "Filed by {} on {} · revision {} · {} of {} approvals",
                s.requester.display_name,
                time::display(d.created_at),
                d.revision,
                s.approvals,
                s.quorum,
            )}
            {s.expires_at.map(|at| format!(" · approvals time out at {}", time::display(at)))}
        </p>
    }
    .into_any()
}

#[component]
fn RequesterActions(
    d: RequestDetail,
    submit: ServerAction<SubmitRequest>,
    cancel: ServerAction<CancelRequest>,
    replan: ServerAction<ReplanRequest>,
) -> impl IntoView {
    let (id, version) = (d.summary.id, d.version);
    let can = d.can;
    let blocked = d
        .plan
        .as_ref()
        .is_some_and(|p| !p.plan.failures().is_empty());
    let idle = d
        .plan
        .as_ref()
        .is_some_and(|p| p.plan.changes().next().is_none() && !p.plan.steps.is_empty());
    if !(can.edit || can.submit || can.cancel || can.replan) {
        return None;
    }
    Some(view! {
        {(can.submit && !blocked && idle).then(|| view! {
            <p class="notice notice-warn" role="note" data-testid="submit-changes-nothing">
                "Its plan changes nothing: every step is already in effect (see the plan below). Submitted and approved, \
                 its run would only check the steps and read the verification."
            </p>
        })}
        {(can.submit && blocked).then(|| view! {
            <p class="notice notice-error" role="note">
                "The plan's preflight checks fail (see the plan below), so this request cannot be submitted yet. Fix the environment or the request, then re-plan."
            </p>
        })}
        <div class="toolbar" role="group" aria-label="Request actions">
            {(can.submit && !blocked).then(|| view! {
                <ActionForm action=submit>
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="version" value=version />
                    <button type="submit" class="button" disabled=move || submit.pending().get()>
                        "Submit for approval"
                    </button>
                </ActionForm>
            })}
            {can.edit.then(|| view! {
                <a class="button-secondary" href=format!("/requests/{id}/edit")>"Edit"</a>
            })}
            {can.replan.then(|| view! {
                <ActionForm action=replan>
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="version" value=version />
                    <button type="submit" class="button-secondary" disabled=move || replan.pending().get()>
                        "Re-plan against current facts"
                    </button>
                </ActionForm>
            })}
            {can.cancel.then(|| view! {
                <ActionForm action=cancel>
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="version" value=version />
                    <button type="submit" class="button-danger" disabled=move || cancel.pending().get()>
                        "Cancel request"
                    </button>
                </ActionForm>
            })}
        </div>
    }.into_any())
}

#[component]
fn VoteBox(
    d: RequestDetail,
    vote: ServerAction<VoteRequest>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let (id, version) = (d.summary.id, d.version);
    if let Some(reason) = d.can.vote_blocked {
        return Some(
            view! {
                <p class="notice notice-info" role="note" data-testid="vote-blocked">{reason}</p>
            }
            .into_any(),
        );
    }
    if !d.can.vote {
        return None;
    }
    let Some(plan) = d.plan.clone() else {
        return Some(view! {
            <p class="notice notice-info" role="note">"This request carries no plan yet, so there is nothing to approve."</p>
        }
        .into_any());
    };
    let short = plan.hash.chars().take(12).collect::<String>();
    let field = move || error.get().and_then(|e| e.field_errors().cloned());
    let comment_error = move || field().and_then(|f| f.get("comment").map(str::to_string));
    let typed = move || {
        field()
            .and_then(|f| f.value("comment").map(str::to_string))
            .unwrap_or_default()
    };
    Some(view! {
        <section class="panel vote" aria-labelledby="vote-h">
            <h2 id="vote-h">"Your decision"</h2>
            <p class="meta">"You are deciding on plan " <code>{short}</code> ", shown below. Your vote is bound to it: if the plan changes, the vote is withdrawn."</p>
            <ActionForm action=vote attr:class="form">
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="version" value=version />
                <input type="hidden" name="plan_hash" value=plan.hash.clone() />
                <div class="field" class:field-invalid=move || comment_error().is_some()>
                    <label for="f-comment">"Comment"</label>
                    <TextArea
                        id="f-comment"
                        name="comment"
                        rows=2
                        value=Signal::derive(typed)
                        invalid=Signal::derive(move || comment_error().is_some())
                        described_by="f-comment-hint f-comment-error"
                    />
                    <p class="hint" id="f-comment-hint">"Optional when approving; required when rejecting."</p>
                    {move || comment_error().map(|e| view! { <p class="error" id="f-comment-error">{e}</p> })}
                </div>
                <div class="actions">
                    <button type="submit" name="decision" value=Verdict::Approve.as_str() class="button" disabled=move || vote.pending().get()>
                        "Approve"
                    </button>
                    <button type="submit" name="decision" value=Verdict::Reject.as_str() class="button-danger" disabled=move || vote.pending().get()>
                        "Reject"
                    </button>
                </div>
            </ActionForm>
        </section>
    }
    .into_any())
}

#[component]
fn RequestValues(d: RequestDetail) -> impl IntoView {
    let v = d.values;
    let policies = if v.policy_scope == "all" {
        "All OWA mailbox policies".to_string()
    } else {
        v.policies.clone()
    };
    let window = d
        .window
        .map(|w| format!("{} – {}", time::display(w.start), time::display(w.end)))
        .unwrap_or_else(|| "Any time after approval".into());
    let kind = d.summary.kind;
    let mut rows: Vec<(&str, String, bool)> = vec![
        ("Change", kind.label().to_string(), false),
        ("Lync site (SiteId)", v.site_id, false),
    ];
    if kind == crate::domain::request::RequestKind::Integrate {
        rows.extend([
            ("Lync registrar pool", v.registrar_fqdn, true),
            ("OWA trusted application pool", v.owa_pool_fqdn, true),
            ("Application ID", v.application_id, true),
            ("Port", v.port, true),
            ("Certificate thumbprint", v.thumbprint, true),
        ]);
    }
    rows.extend([
        ("OWA mailbox policies", policies, false),
        ("Change window", window, false),
        ("Justification", v.justification, false),
    ]);
    view! {
        <section class="panel" aria-labelledby="values-h">
            <h2 id="values-h">"What is requested"</h2>
            <dl class="values">
                {rows
                    .into_iter()
                    .map(|(k, value, mono)| view! {
                        <dt>{k}</dt>
                        <dd class:mono=mono>{value}</dd>
                    })
                    .collect_view()}
            </dl>
        </section>
    }
}

#[component]
fn VoteList(votes: Vec<VoteView>) -> impl IntoView {
    if votes.is_empty() {
        return view! { <Empty>"No votes yet."</Empty> }.into_any();
    }
    view! {
        <ul class="votes">
            {votes
                .into_iter()
                .map(|v| {
                    let label = match v.decision {
                        Verdict::Approve => "approved",
                        Verdict::Reject => "rejected",
                    };
                    view! {
                        <li class="vote-item" class:withdrawn=v.withdrawn>
                            <strong>{v.approver.display_name}</strong>
                            {format!(" {label} revision {} on {}", v.revision, time::display(v.at))}
                            {v.withdrawn.then_some(" (withdrawn by a later edit)")}
                            {v.comment.map(|c| view! { <blockquote>{c}</blockquote> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// Calls `changed` whenever the server announces a change to request `id`'s run (see the
/// server's `live` module); stops when the calling effect is cleaned up. The browser reconnects
/// by itself.
#[cfg(feature = "hydrate")]
fn follow_run(id: i32, changed: impl Fn() + 'static) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Ok(source) = web_sys::EventSource::new(&format!("/requests/{id}/run/events")) else {
        return;
    };
    let on_run =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            if event.data().as_string().as_deref() != Some("none") {
                changed();
            }
        });
    let _ = source.add_event_listener_with_callback("run", on_run.as_ref().unchecked_ref());
    let held = send_wrapper::SendWrapper::new((source, on_run));
    on_cleanup(move || held.0.close());
}

/// What the run's verification found on each back-end server.
#[component]
fn Verification(evidence: Vec<crate::views::ServerVerification>) -> impl IntoView {
    let seen = |found: Option<bool>, yes: &'static str, not_yet: &'static str| match found {
        Some(true) => ("ok", yes),
        Some(false) => ("pending", not_yet),
        None => ("unknown", "Could not be read."),
    };
    view! {
        <div class="verification" data-testid="run-verification">
            <h3>"Verification"</h3>
            {evidence
                .into_iter()
                .map(|e| {
                    let recycled = match e.recycled {
                        Some(true) => ("ok", "MSExchangeOWAAppPool was recycled by this run."),
                        Some(false) => ("failed", "MSExchangeOWAAppPool was not recycled."),
                        None => ("ok", "No recycle was needed: web.config was already right."),
                    };
                    let event = seen(
                        e.event_112,
                        "Event 112 is logged: OWA's IM endpoint manager started.",
                        "Event 112 is not logged yet: OWA logs it at the first sign-in after the change.",
                    );
                    let folder = seen(
                        e.im_log_folder,
                        "The IM log folder (Logging\\OWA\\InstantMessaging) exists.",
                        "The IM log folder is not there yet: OWA creates it at the first sign-in.",
                    );
                    view! {
                        <section class="evidence" aria-label=format!("Evidence from {}", e.server)>
                            <p class="mono">{e.server.clone()}</p>
                            <ul>
                                {[recycled, event, folder]
                                    .into_iter()
                                    .map(|(class, text)| view! { <li class=format!("evidence-{class}")>{text}</li> })
                                    .collect_view()}
                            </ul>
                            {e.error.map(|err| view! { <p class="notice notice-warn" role="note">{format!("The evidence could not be read: {err}")}</p> })}
                            {(!e.next_checks.is_empty()).then(|| view! { <NextChecks server=e.server.clone() checks=e.next_checks.clone() /> })}
                        </section>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// The documented checks for a server where event 112 is missing.
#[component]
fn NextChecks(
    server: String,
    checks: Vec<crate::procedure::diagnostics::NextCheck>,
) -> impl IntoView {
    view! {
        <details class="next-checks" data-testid="next-checks">
            <summary>{format!("If event 112 is still missing on {server} after people sign in to OWA: what to check next")}</summary>
            <ol>
                {checks
                    .into_iter()
                    .map(|c| view! {
                        <li>
                            <strong>{c.title}</strong>
                            " ("{c.target.label()}")"
                            {c.command.map(|command| view! { <pre class="command"><code>{command}</code></pre> })}
                            <p>{c.look_for}</p>
                        </li>
                    })
                    .collect_view()}
            </ol>
        </details>
    }
}

/// When a step started, and how long it took once it has finished.
fn step_timing(
    started: chrono::DateTime<chrono::Utc>,
    finished: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    let at = started.format("%H:%M:%S UTC");
    match finished {
        Some(end) => {
            let ms = (end - started).num_milliseconds().max(0);
            format!(
                "Started {at}, took {}.{:01} s",
                ms / 1000,
                (ms % 1000) / 100
            )
        }
        None => format!("Started {at}, still running"),
    }
}

#[component]
fn RunPanel(
    run: RunView,
    request: i32,
    /// The request's Lync site (a successful integration links to a bulk check of its people).
    site: String,
    cancel_run: ServerAction<CancelRun>,
    resume_run: ServerAction<ResumeRun>,
    rollback_run: ServerAction<RollbackRun>,
    approve_rollback: ServerAction<ApproveRollback>,
) -> impl IntoView {
    let rollback = run.kind == RunKind::Rollback;
    let done_steps = run
        .steps
        .iter()
        .filter(|s| s.state == StepState::Done)
        .count();
    let label = match run.state {
        RunState::AwaitingApproval => {
            "Waiting for approval: the undo plan below runs only once an approver other than the admin who asked for it approves it."
        }
        RunState::Queued => {
            "Queued: the worker runs it once a worker is free (and the change window has opened)."
        }
        RunState::Running => "Running.",
        RunState::Succeeded if run.total == 0 && rollback => "Succeeded: nothing needed undoing.",
        RunState::Succeeded if run.total == 0 => {
            "Succeeded: nothing needed to change, every step was already in place. The verification still ran."
        }
        RunState::Succeeded => "Succeeded: every step ran.",
        RunState::Failed => "Failed.",
        RunState::NeedsAttention => "Needs attention.",
        RunState::Cancelled => "Cancelled.",
    };
    let heading = match (rollback, run.target_run) {
        (true, Some(target)) => format!("Rollback run #{} (undoes run #{target})", run.id),
        (true, None) => format!("Rollback run #{}", run.id),
        _ => format!("Run #{}", run.id),
    };
    let people = match (&run.requested_by, &run.approved_by) {
        (Some(asked), Some(approved)) => Some(format!(
            "Asked for by {}; approved by {}.",
            asked.display_name, approved.display_name
        )),
        (Some(asked), None) => Some(format!("Asked for by {}.", asked.display_name)),
        _ => None,
    };
    let finished = matches!(
        run.state,
        RunState::Succeeded | RunState::Failed | RunState::Cancelled
    );
    let nothing_ran = if finished {
        "No step needed to run."
    } else {
        "No step has run yet."
    };
    view! {
        <section class="panel" id="run" tabindex="-1" aria-labelledby="run-h">
            <div class="panel-head">
                <h2 id="run-h">{heading}</h2>
                <div class="toolbar">
                    <a href=format!("/runs/{}/transcript.txt", run.id) class="button-secondary" download="" rel="external">"Transcript"</a>
                    <a href="" class="button-secondary" rel="external">"Refresh"</a>
                </div>
            </div>
            <p class="meta" data-testid="run-state" data-state=run.state.as_str()>
                {format!("{label} Attempt {}.", run.attempts.max(1))}
            </p>
            {people.map(|p| view! { <p class="meta">{p}</p> })}
            {run.reason.clone().map(|r| view! { <p class="notice notice-warn" role="note">{r}</p> })}
            {run.approval_blocked.clone().map(|r| view! { <p class="notice notice-info" role="note" data-testid="rollback-blocked">{r}</p> })}
            {(run.can_cancel || run.can_resume || run.can_roll_back || run.can_approve).then(|| view! {
                <div class="toolbar" role="group" aria-label="Run actions">
                    {run.can_approve.then(|| run.undo_plan.clone().map(|(hash, _)| view! {
                        <ActionForm action=approve_rollback>
                            <input type="hidden" name="id" value=request />
                            <input type="hidden" name="plan_hash" value=hash />
                            <button type="submit" class="button">"Approve rollback"</button>
                        </ActionForm>
                    }))}
                    {run.can_cancel.then(|| view! {
                        <ActionForm action=cancel_run>
                            <input type="hidden" name="id" value=request />
                            <ConfirmSubmit
                                opener="Cancel run…"
                                consequence="Cancelling stops the run before its next step; the step in hand finishes first. Steps already done stay done: roll back to undo them.".to_string()
                                confirm="Cancel the run"
                            />
                        </ActionForm>
                    })}
                    {run.can_resume.then(|| view! {
                        <ActionForm action=resume_run>
                            <input type="hidden" name="id" value=request />
                            <button type="submit" class="button-secondary">"Resume run"</button>
                        </ActionForm>
                    })}
                    {run.can_roll_back.then(|| view! {
                        <ActionForm action=rollback_run>
                            <input type="hidden" name="id" value=request />
                            <ConfirmSubmit
                                opener="Roll back…"
                                consequence=format!(
                                    "Asks to undo what this run did ({done_steps} step(s) done), last first, with the undo commands stored with the run. The undo plan is shown here and runs only once an approver other than you approves it."
                                )
                                confirm="Ask for the rollback"
                            />
                        </ActionForm>
                    })}
                </div>
            })}
            {(run.total > 0).then(|| {
                let done = run.steps.iter().filter(|s| s.state == StepState::Done).count();
                let text = format!("{done} of {} steps done", run.total);
                view! {
                    <div class="run-progress">
                        <progress max=run.total value=done aria-label="Run progress" data-testid="run-progress"></progress>
                        <span class="meta">{text}</span>
                    </div>
                }
            })}
            {(!run.evidence.is_empty()).then(|| view! { <Verification evidence=run.evidence.clone() /> })}
            {(run.state == RunState::Succeeded && !rollback).then(|| view! {
                <p>
                    <a class="button-link" data-testid="check-site-people"
                        href=format!("/people?scan_site={}#bulk-h", crate::pages::people::query_value(&site))>
                        {format!("Check who in {site} now gets presence in OWA")}
                    </a>
                </p>
            })}
            {if run.steps.is_empty() {
                view! { <Empty>{nothing_ran}</Empty> }.into_any()
            } else {
                view! {
                    <ol class="steps">
                        {run
                            .steps
                            .into_iter()
                            .map(|s| view! {
                                <li class="step" data-step=s.step_id.clone()>
                                    <div class="step-head">
                                        <strong class="step-title">{s.title.clone()}</strong>
                                        <span class=format!("badge badge-run-{}", s.state.as_str())>{s.state.as_str()}</span>
                                    </div>
                                    <p class="meta">{step_timing(s.started_at, s.finished_at)}</p>
                                    {if s.output.is_empty() {
                                        view! { <p class="meta">"No output."</p> }.into_any()
                                    } else {
                                        view! { <pre class="commands">{s.output.clone()}</pre> }.into_any()
                                    }}
                                    <p class="step-ref mono">{format!("{} · SHA-256 of the output: {}", s.step_id, s.output_sha256)}</p>
                                </li>
                            })
                            .collect_view()}
                    </ol>
                }
                .into_any()
            }}
            {run.undo_plan.clone().map(|(hash, plan)| {
                let short = hash.chars().take(12).collect::<String>();
                view! {
                    <h3>"Undo plan " <code title=hash data-testid="undo-plan-hash">{short}</code></h3>
                    {plan.notes.iter().map(|n| view! { <p class="notice notice-info" role="note">{n.clone()}</p> }).collect_view()}
                    <StepList steps=plan.steps />
                }
            })}
        </section>
    }
    .into_any()
}
