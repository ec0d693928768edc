//! `/audit`: the whole audit trail with filters and paging (auditors and admins).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::audit::audit_log;
use crate::components::audit_table::AuditTable;
use crate::components::feedback::{ErrorNotice, Loading};
use crate::domain::activity;
use crate::error::AppError;
use crate::views::AuditFilter;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        AuditFilter {
            actor: get("actor"),
            action: get("action"),
            request: get("request"),
            outcome: get("outcome"),
            page: get("page").parse().unwrap_or(1),
        }
    };
    let page = Resource::new(filter, audit_log);
    view! {
        <Title text="Audit log" />
        <h1>"Audit log"</h1>
        <p class="lede">
            "Every state change, vote, sign-in and refused action, newest first. The events are hash-chained; "
            <code>"imlink audit verify"</code>
            " checks the chain."
        </p>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let f = filter();
                let result = page.await;
                let request_error = match &result {
                    Err(AppError::Invalid(fe)) => fe.get("request").map(str::to_string),
                    _ => None,
                };
                let request_invalid = request_error.is_some();
                if let Err(e) = &result
                    && !matches!(e, AppError::Invalid(_))
                {
                    return view! { <ErrorNotice error=e.clone() /> }.into_any();
                }
                let link_filter = f.clone();
                view! {
                    <Form method="GET" action="" attr:class="filter-form">
                        <div class="field">
                            <label for="q-actor">"Who"</label>
                            <input id="q-actor" name="actor" value=f.actor.clone() placeholder="name or username" />
                        </div>
                        <div class="field">
                            <label for="q-action">"Action"</label>
                            <select id="q-action" name="action">
                                <option value="" selected=f.action.is_empty()>"Any"</option>
                                {activity::filter_options()
                                    .into_iter()
                                    .map(|(group, options)| view! {
                                        <optgroup label=group>
                                            {options
                                                .into_iter()
                                                .map(|(value, label)| view! { <option value=value selected=f.action.as_str() == value>{label}</option> })
                                                .collect_view()}
                                        </optgroup>
                                    })
                                    .collect_view()}
                            </select>
                        </div>
                        <div class="field" class:field-invalid=request_invalid>
                            <label for="q-request">"Request #"</label>
                            <input id="q-request" name="request" value=f.request.clone() inputmode="numeric" />
                            {request_error.map(|e| view! { <p class="error">{e}</p> })}
                        </div>
                        <div class="field">
                            <label for="q-outcome">"Outcome"</label>
                            <select id="q-outcome" name="outcome">
                                {[("", "Any"), ("ok", "Done"), ("denied", "Refused")]
                                    .into_iter()
                                    .map(|(value, label)| view! { <option value=value selected=f.outcome.as_str() == value>{label}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <button type="submit" class="button">"Filter"</button>
                        <a class="button-secondary" href="/audit">"Clear"</a>
                    </Form>
                    {match result {
                        Ok(p) => {
                            let link = {
                                let f = link_filter;
                                move |n: u32| {
                                    format!(
                                        "/audit?actor={}&action={}&request={}&outcome={}&page={n}",
                                        urlencode(&f.actor), urlencode(&f.action), urlencode(&f.request), urlencode(&f.outcome)
                                    )
                                }
                            };
                            view! {
                                <p class="meta">{format!("{} events · page {} of {}", p.total, p.page, p.pages)}</p>
                                <AuditTable entries=p.entries empty="No events match these filters." show_values=true />
                                <nav class="pager" aria-label="Pages">
                                    {(p.page > 1).then(|| view! { <a rel="prev" href=link(p.page - 1)>"← Newer"</a> })}
                                    {(p.page < p.pages).then(|| view! { <a rel="next" href=link(p.page + 1)>"Older →"</a> })}
                                </nav>
                            }
                            .into_any()
                        }
                        Err(_) => ().into_any(),
                    }}
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
