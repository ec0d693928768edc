//! Bulk eligibility checks: the form and the recent checks (on `/people`),
//! `/people/scans/:id` (progress and counts while it runs, then counts per reason, filters,
//! paging and exports) and `/people/scans/:id/compare?with=N` (who became eligible or
//! ineligible between two checks).

use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::people::{CancelScan, RequestScan, compare_scans, get_scan, get_scans};
use crate::components::feedback::{ActionError, ErrorNotice, Loading};
use crate::domain::scans::ScopeKind;
use crate::domain::time::display;
use crate::error::AppError;
use crate::procedure::eligibility::{Code, Verdict};
use crate::views::{ScanChange, ScanFilter, ScanSummary, ScanView};

use super::people::check_link;

/// Whom a scan covers, in words.
fn scope_text(s: &ScanSummary) -> String {
    match s.scope {
        ScopeKind::Directory => "everyone in the directory".into(),
        ScopeKind::Below => format!("everyone below {}", s.target.clone().unwrap_or_default()),
        ScopeKind::Site => format!(
            "the people homed on site {}",
            s.target.clone().unwrap_or_default()
        ),
        ScopeKind::List => format!("a list of {} people", s.listed.unwrap_or(0)),
    }
}

fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Eligible => "eligible",
        Verdict::NotEligible => "not eligible",
        Verdict::Unknown => "unknown",
    }
}

/// The bulk check form: whom to check, and the one field that scope needs. A CSV file chosen
/// is read into the list (the first column is used); without JavaScript, paste it.
#[component]
pub fn BulkCheckForm() -> impl IntoView {
    let action = ServerAction::<RequestScan>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let query = use_query_map();
    let (list, set_list) = signal(String::new());
    let on_file = move |ev: leptos::ev::Event| read_file(ev, set_list);
    view! {
        <ActionForm action attr:class="form" attr:novalidate=true attr:data-testid="bulk-form">
            <ActionError error />
            {move || {
                let errors = match error.get() {
                    Some(AppError::Invalid(errors)) => Some(errors),
                    _ => None,
                };
                let typed = |name: &str| errors.as_ref().and_then(|e| e.value(name).map(str::to_string));
                let message = |name: &str| errors.as_ref().and_then(|e| e.get(name).map(str::to_string));
                let linked_site = query.read().get("scan_site");
                let scope = typed("scope").unwrap_or_else(|| {
                    if linked_site.is_some() { "site".into() } else { "directory".into() }
                });
                let site = typed("site_id").or(linked_site).unwrap_or_default();
                let field = move |name: &'static str, label: &'static str, hint: &'static str, value: String| {
                    let message = message(name);
                    let invalid = message.is_some();
                    let id = format!("f-{name}");
                    let label_for = id.clone();
                    let hint_id = format!("{id}-hint");
                    let error_id = format!("{id}-error");
                    let described = if invalid { format!("{hint_id} {error_id}") } else { hint_id.clone() };
                    view! {
                        <div class="field" class:field-invalid=invalid>
                            <label for=label_for>{label}</label>
                            <input id=id name=name value=value autocomplete="off" spellcheck="false"
                                aria-invalid=if invalid { "true" } else { "false" }
                                aria-describedby=described />
                            <p class="hint" id=hint_id>{hint}</p>
                            {message.map(|m| view! { <p class="error" id=error_id>{m}</p> })}
                        </div>
                    }
                };
                let list_message = message("list");
                let list_invalid = list_message.is_some();
                let typed_list = typed("list");
                if let Some(text) = typed_list {
                    set_list.set(text);
                }
                view! {
                    <fieldset class="field">
                        <legend>"Whom to check"</legend>
                        {[
                            ("directory", "Everyone in the directory"),
                            ("below", "Everyone below an organizational unit"),
                            ("site", "The people homed on a Lync site"),
                            ("list", "A list of people (pasted, or a CSV file)"),
                        ]
                            .into_iter()
                            .map(|(value, label)| {
                                let id = format!("f-scope-{value}");
                                let label_for = id.clone();
                                view! {
                                    <label class="choice" for=label_for>
                                        <input type="radio" id=id name="scope" value=value checked=scope == value />
                                        {label}
                                    </label>
                                }
                            })
                            .collect_view()}
                        {message("scope").map(|m| view! { <p class="error">{m}</p> })}
                    </fieldset>
                    {field("base_dn", "Organizational unit", "For “below an organizational unit”: its distinguished name, like OU=Sales,DC=litwareinc,DC=com.", typed("base_dn").unwrap_or_default())}
                    {field("site_id", "Site", "For “a Lync site”: its SiteId, like Redmond.", site)}
                    <div class="field" class:field-invalid=list_invalid>
                        <label for="f-list">"People"</label>
                        <textarea id="f-list" name="list" rows="5" spellcheck="false"
                            prop:value=move || list.get()
                            on:input=move |ev| set_list.set(event_target_value(&ev))
                            aria-invalid=if list_invalid { "true" } else { "false" }
                            aria-describedby=if list_invalid { "f-list-hint f-list-error" } else { "f-list-hint" }>
                        </textarea>
                        <p class="hint" id="f-list-hint">
                            "For “a list”: one user principal name, SIP or e-mail address or account name per line (a CSV's first column; blank lines, # comments and a header are skipped)."
                        </p>
                        {list_message.map(|m| view! { <p class="error" id="f-list-error">{m}</p> })}
                        <label for="f-list-file" class="hint">"Or read a CSV file into the list: "</label>
                        <input type="file" id="f-list-file" accept=".csv,.txt,text/csv,text/plain" on:change=on_file />
                    </div>
                }
            }}
            <div class="actions">
                <button type="submit" class="button" disabled=move || action.pending().get()>
                    "Start bulk check"
                </button>
            </div>
        </ActionForm>
    }
}

/// Reads the chosen file into the list.
#[allow(unused_variables)]
fn read_file(ev: leptos::ev::Event, set_list: WriteSignal<String>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Ok(text) = wasm_bindgen_futures::JsFuture::from(file.text()).await
                && let Some(text) = text.as_string()
            {
                set_list.set(text);
            }
        });
    }
}

/// The most recent bulk checks.
#[component]
pub fn RecentScans() -> impl IntoView {
    let scans = Resource::new(|| (), |_| get_scans());
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match scans.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="empty">"No bulk check yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="scans">
                                <thead>
                                    <tr>
                                        <th scope="col">"#"</th>
                                        <th scope="col">"Whom"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col">"Checked"</th>
                                        <th scope="col">"Eligible"</th>
                                        <th scope="col">"Asked by"</th>
                                        <th scope="col">"When"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows.into_iter().map(|s| view! {
                                        <tr>
                                            <td><a href=format!("/people/scans/{}", s.id)>{format!("#{}", s.id)}</a></td>
                                            <td>{scope_text(&s)}</td>
                                            <td>{s.state.label()}</td>
                                            <td>{s.checked}</td>
                                            <td>{s.eligible}</td>
                                            <td>{s.requested_by.clone()}</td>
                                            <td>{display(s.created_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The filter a scan's page was asked for (`?verdict=…&reason=…&page=…`).
fn filter_from_query(query: &leptos_router::params::ParamsMap) -> ScanFilter {
    ScanFilter {
        verdict: query
            .get("verdict")
            .and_then(|v| Verdict::ALL.iter().copied().find(|x| x.as_str() == v)),
        reason: query
            .get("reason")
            .and_then(|v| Code::ALL.iter().copied().find(|x| x.as_str() == v)),
        page: query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
    }
}

/// A link to scan `id`'s page with `filter`.
fn filtered(id: i64, filter: &ScanFilter) -> String {
    let mut parts = Vec::new();
    if let Some(v) = filter.verdict {
        parts.push(format!("verdict={}", v.as_str()));
    }
    if let Some(r) = filter.reason {
        parts.push(format!("reason={}", r.as_str()));
    }
    if filter.page > 1 {
        parts.push(format!("page={}", filter.page));
    }
    if parts.is_empty() {
        format!("/people/scans/{id}")
    } else {
        format!("/people/scans/{id}?{}", parts.join("&"))
    }
}

#[component]
pub fn ScanPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let cancel = ServerAction::<CancelScan>::new();
    let key = move || {
        (
            params.read().get("id").and_then(|v| v.parse::<i64>().ok()),
            filter_from_query(&query.read()),
            cancel.version().get(),
        )
    };
    let scan = Resource::new(key, |(id, filter, _)| async move {
        match id {
            Some(id) => get_scan(id, filter).await,
            None => Err(AppError::NotFound),
        }
    });
    let error = Signal::derive(move || cancel.value().get().and_then(Result::err));
    view! {
        <leptos_meta::Title text="Bulk check" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match scan.await {
                    Ok(v) => view! {
                        <ActionError error />
                        <Scan v cancel />
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Scan(v: ScanView, cancel: ServerAction<CancelScan>) -> impl IntoView {
    let s = v.summary.clone();
    let id = s.id;
    let open = s.state.is_open();
    let progress = match (s.listed, open) {
        (Some(listed), _) => Some((s.checked as f64 + v.bad_lines.len() as f64, listed as f64)),
        (None, false) => Some((1.0, 1.0)),
        (None, true) => None,
    };
    let filter = v.filter.clone();
    view! {
        {open.then(|| view! { <Meta http_equiv="refresh" content="2" /> })}
        <h1>{format!("Bulk check #{id}")}</h1>
        <p class="meta">
            {format!(
                "{} · asked by {} on {} · {} directory",
                scope_text(&s),
                s.requested_by,
                display(s.created_at),
                v.source
            )}
            {s.finished_at.map(|at| format!(" · ended {}", display(at)))}
        </p>
        <div class="scan-progress" role="status" aria-live="polite" data-testid="scan-status">
            <p>
                <span class=format!("badge badge-scan-{}", s.state.as_str())>{s.state.label()}</span>
                {format!(
                    " {} checked: {} eligible, {} not eligible, {} unknown",
                    s.checked, s.eligible, s.not_eligible, s.unknown
                )}
            </p>
            {match progress {
                Some((done, of)) => view! { <progress max=of value=done aria-label="Progress"></progress> }.into_any(),
                None => view! { <progress aria-label="Progress"></progress> }.into_any(),
            }}
            {v.reason.clone().map(|r| view! { <p class="notice">{r}</p> })}
        </div>
        <div class="toolbar">
            {v.can_cancel.then(|| view! {
                <ActionForm action=cancel attr:class="inline-form">
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="button-secondary">"Stop this bulk check"</button>
                </ActionForm>
            })}
            <a class="button-link" href=format!("/people/scans/{id}/results.csv") download="">"Export CSV"</a>
            <a class="button-link" href=format!("/people/scans/{id}/results.json") download="">"Export JSON"</a>
            <a class="button-link" href="/people">"People"</a>
        </div>
        <section class="panel" aria-labelledby="reasons-h">
            <h2 id="reasons-h">"Why people are not eligible"</h2>
            <div class="table-wrap">
            <table class="table" data-testid="reason-counts">
                <thead><tr><th scope="col">"Reason"</th><th scope="col">"People"</th></tr></thead>
                <tbody>
                    {v.reason_counts.iter().map(|(code, n)| {
                        let link = filtered(id, &ScanFilter { verdict: None, reason: Some(*code), page: 1 });
                        view! {
                            <tr data-code=code.as_str()>
                                <th scope="row"><a href=link>{code.title()}</a>" "<code class="code">{code.as_str()}</code></th>
                                <td>{*n}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        </section>
        {(!v.bad_lines.is_empty()).then(|| view! {
            <section class="panel" aria-labelledby="bad-h">
                <h2 id="bad-h">"Lines not checked"</h2>
                <ul data-testid="bad-lines">
                    {v.bad_lines.iter().map(|b| view! { <li>{format!("Line {}: {}", b.line, b.message)}</li> }).collect_view()}
                </ul>
            </section>
        })}
        <section class="panel" aria-labelledby="people-h">
            <h2 id="people-h">"People"</h2>
            <form method="get" action=format!("/people/scans/{id}") class="filters">
                <label for="f-verdict">"Verdict"</label>
                <select id="f-verdict" name="verdict">
                    <option value="" selected=filter.verdict.is_none()>"Any"</option>
                    {Verdict::ALL.iter().map(|x| view! {
                        <option value=x.as_str() selected=filter.verdict == Some(*x)>{verdict_label(*x)}</option>
                    }).collect_view()}
                </select>
                <label for="f-reason">"Reason"</label>
                <select id="f-reason" name="reason">
                    <option value="" selected=filter.reason.is_none()>"Any"</option>
                    {Code::ALL.iter().filter(|c| !c.informational()).map(|c| view! {
                        <option value=c.as_str() selected=filter.reason == Some(*c)>{c.as_str()}</option>
                    }).collect_view()}
                </select>
                <button type="submit" class="button-secondary">"Filter"</button>
            </form>
            <p class="hint" data-testid="matching">{format!("{} people match; page {} of {}.", v.matching, filter.page, v.pages)}</p>
            <div class="table-wrap">
                <table class="table" data-testid="scan-people">
                    <thead>
                        <tr>
                            <th scope="col">"Person"</th>
                            <th scope="col">"Verdict"</th>
                            <th scope="col">"Reasons"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {v.people.into_iter().map(|p| {
                            let reasons = p.reasons.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
                            view! {
                                <tr>
                                    <td><a href=check_link(&p.upn)>{p.display_name}</a><br /><span class="mono">{p.upn.clone()}</span></td>
                                    <td>{verdict_label(p.verdict)}</td>
                                    <td class="mono">{reasons}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <nav class="pager" aria-label="Pages">
                {(filter.page > 1).then(|| view! {
                    <a rel="prev" href=filtered(id, &ScanFilter { page: filter.page - 1, ..filter.clone() })>"Previous"</a>
                })}
                {(filter.page < v.pages).then(|| view! {
                    <a rel="next" href=filtered(id, &ScanFilter { page: filter.page + 1, ..filter.clone() })>"Next"</a>
                })}
            </nav>
        </section>
        {(!v.comparable.is_empty() && !open).then(|| view! {
            <section class="panel" aria-labelledby="compare-h">
                <h2 id="compare-h">"Compare"</h2>
                <form method="get" action=format!("/people/scans/{id}/compare") class="filters">
                    <label for="f-with">"With the earlier bulk check"</label>
                    <select id="f-with" name="with">
                        {v.comparable.iter().map(|o| view! {
                            <option value=o.id>{format!("#{} · {} · {}", o.id, scope_text(o), display(o.created_at))}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="button-secondary">"Compare"</button>
                </form>
            </section>
        })}
    }
}

#[component]
pub fn ScanComparePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        (
            params.read().get("id").and_then(|v| v.parse::<i64>().ok()),
            query.read().get("with").and_then(|v| v.parse::<i64>().ok()),
        )
    };
    let comparison = Resource::new(key, |(after, before)| async move {
        match (before, after) {
            (Some(before), Some(after)) => compare_scans(before, after).await,
            _ => Err(AppError::NotFound),
        }
    });
    view! {
        <leptos_meta::Title text="Bulk checks compared" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match comparison.await {
                    Ok(c) => view! {
                        <h1>{format!("Bulk check #{} against #{}", c.after.id, c.before.id)}</h1>
                        <p class="meta">{format!(
                            "#{}: {}, {} · #{}: {}, {}",
                            c.before.id, scope_text(&c.before), display(c.before.created_at),
                            c.after.id, scope_text(&c.after), display(c.after.created_at)
                        )}</p>
                        <p data-testid="compare-summary">{format!(
                            "{} became eligible, {} are no longer eligible, {} changed otherwise; {} only in #{}, {} only in #{}.",
                            c.counts[0], c.counts[1], c.counts[2],
                            c.only_before, c.before.id, c.only_after, c.after.id
                        )}</p>
                        {c.truncated.then(|| view! { <p class="notice">"Each list shows at most 1,000 people; export both checks for everyone."</p> })}
                        <Changes title="Became eligible" testid="became-eligible" rows=c.became_eligible />
                        <Changes title="No longer eligible" testid="became-ineligible" rows=c.became_ineligible />
                        <Changes title="Other changes" testid="other-changes" rows=c.other />
                        <p><a class="button-link" href=format!("/people/scans/{}", c.after.id)>{format!("Back to bulk check #{}", c.after.id)}</a></p>
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Changes(title: &'static str, testid: &'static str, rows: Vec<ScanChange>) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>{title}</h2>
            {if rows.is_empty() {
                view! { <p class="empty">"Nobody."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid=testid>
                            <thead><tr><th scope="col">"Person"</th><th scope="col">"Before"</th><th scope="col">"Now"</th><th scope="col">"Reasons now"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr>
                                        <td><a href=check_link(&r.upn)>{r.display_name}</a><br /><span class="mono">{r.upn.clone()}</span></td>
                                        <td>{verdict_label(r.before)}</td>
                                        <td>{verdict_label(r.after)}</td>
                                        <td class="mono">{r.reasons.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }}
        </section>
    }
}
