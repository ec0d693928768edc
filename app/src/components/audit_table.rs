//! Audit events as a list.

use leptos::prelude::*;

use super::feedback::Empty;
use crate::domain::activity::describe;
use crate::domain::time;
use crate::views::AuditEntry;

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
                        (Some("lab_user"), Some(upn)) => Some(view! {
                            <span>"as "<span class="mono">{upn}</span></span>
                        }.into_any()),
                        _ => None,
                    };
                    view! {
                        <li class="event" class:event-denied=denied data-action=e.action.clone()>
                            <div class="event-head">
                                <span class="event-seq mono">{format!("#{}", e.seq)}</span>
                                <time class="event-time">{time::display(e.at)}</time>
                                <strong class="event-actor" title=e.actor.clone()>{e.actor_name.clone()}</strong>
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
