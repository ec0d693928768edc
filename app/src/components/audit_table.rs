//! Audit events as a list.

use leptos::prelude::*;

use super::feedback::Empty;
use crate::domain::time;
use crate::views::AuditEntry;

/// A plain-words description of an audit action.
pub fn describe(action: &str) -> &str {
    match action {
        "request.create" => "filed the request as a draft",
        "request.edit" => "edited the request",
        "request.submit" => "submitted the request for approval",
        "request.cancel" => "cancelled the request",
        "request.approve" => "approved",
        "request.reject" => "rejected",
        "request.expire" => "expired the request",
        "session.sign_in" => "signed in",
        "session.sign_out" => "signed out",
        "audit.view" => "opened the audit log",
        "user.end_sessions" => "ended a person's sessions",
        "user.disable" => "disabled a person in imlink",
        "user.enable" => "enabled a person in imlink again",
        "eligibility.check" => "checked whether a person gets presence in OWA",
        "eligibility.scan.requested" => "asked for a bulk eligibility check",
        "eligibility.scan.cancelled" => "stopped a bulk eligibility check",
        "eligibility.scan.succeeded" => "finished a bulk eligibility check",
        "eligibility.scan.failed" => "gave up a bulk eligibility check",
        other => other,
    }
}

/// Stored JSON, indented for reading; `—` when absent.
fn pretty(json: Option<&str>) -> String {
    match json {
        None => "—".into(),
        Some(text) => serde_json::from_str::<serde_json::Value>(text)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| text.to_string()),
    }
}

/// Audit events, newest or oldest first as given; `empty` when there are none.
/// `show_values` adds the before/after values.
#[component]
pub fn AuditTable(
    entries: Vec<AuditEntry>,
    empty: &'static str,
    show_values: bool,
) -> impl IntoView {
    if entries.is_empty() {
        return view! { <Empty>{empty}</Empty> }.into_any();
    }
    view! {
        <ol class="events">
            {entries
                .into_iter()
                .map(|e| {
                    let denied = e.outcome == "denied";
                    let subject = match (e.entity_type.as_deref(), e.entity_id.clone()) {
                        (Some("change_request"), Some(id)) => Some(view! {
                            <a href=format!("/requests/{id}")>{format!("request #{id}")}</a>
                        }.into_any()),
                        (Some("scan"), Some(id)) => Some(view! {
                            <a href=format!("/people/scans/{id}")>{format!("bulk check #{id}")}</a>
                        }.into_any()),
                        _ => None,
                    };
                    view! {
                        <li class="event" class:event-denied=denied data-action=e.action.clone()>
                            <div class="event-head">
                                <span class="event-seq mono">{format!("#{}", e.seq)}</span>
                                <time class="event-time">{time::display(e.at)}</time>
                                <strong class="event-actor">{e.actor.clone()}</strong>
                                <span class="event-what">
                                    {if denied { "was refused: " } else { "" }}
                                    {describe(&e.action).to_string()}
                                </span>
                                {subject}
                                <code class="event-action">{e.action.clone()}</code>
                            </div>
                            {e.detail.clone().map(|d| view! { <p class="event-detail">{d}</p> })}
                            {(show_values && (e.before.is_some() || e.after.is_some()))
                                .then(|| {
                                    view! {
                                        <details class="event-values">
                                            <summary>"Values before and after"</summary>
                                            <div class="event-diff">
                                                <div>
                                                    <h3>"Before"</h3>
                                                    <pre>{pretty(e.before.as_deref())}</pre>
                                                </div>
                                                <div>
                                                    <h3>"After"</h3>
                                                    <pre>{pretty(e.after.as_deref())}</pre>
                                                </div>
                                            </div>
                                        </details>
                                    }
                                })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}
