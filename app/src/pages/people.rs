//! `/people`: look someone up (suggestions as you type) and check whether they get IM and
//! presence in OWA; `/people/checks/:id`: one stored check with every rule's evidence and fix,
//! what changed since the check before, the person's history and, on the lab, a simulated
//! OWA sign-in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::lab::SimulateSignIn;
use crate::api::people::{CheckPerson, SearchPeople, get_person_check};
use crate::components::feedback::{ActionError, ErrorNotice, Loading, SignedIn};
use crate::domain::time::display;
use crate::error::AppError;
use crate::procedure::eligibility::{Check, Code, Outcome, Verdict};
use crate::views::{CheckSummary, PersonView};

use super::scans::{BulkCheckForm, RecentScans};

/// The People page with `identity` filled in.
pub fn check_link(identity: &str) -> String {
    format!("/people?identity={}", query_value(identity))
}

/// `text` as one query value: every byte but unreserved ones percent-encoded.
pub fn query_value(text: &str) -> String {
    let mut value = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            value.push(byte as char);
        } else {
            value.push_str(&format!("%{byte:02X}"));
        }
    }
    value
}

/// How long typing must pause before suggestions are asked for.
const SUGGEST_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

#[component]
pub fn PeoplePage() -> impl IntoView {
    let check = ServerAction::<CheckPerson>::new();
    let search = ServerAction::<SearchPeople>::new();
    let error = Signal::derive(move || check.value().get().and_then(Result::err));
    // `/people?identity=…` (a link from the lab page) fills the field in.
    let query = use_query_map();
    let linked = move || query.read().get("identity").unwrap_or_default();
    let generation = StoredValue::new(0u64);
    let on_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        let current = generation.get_value() + 1;
        generation.set_value(current);
        if text.trim().is_empty() {
            return;
        }
        set_timeout(
            move || {
                if generation.try_get_value() == Some(current) {
                    search.dispatch(SearchPeople { text });
                }
            },
            SUGGEST_DELAY,
        );
    };
    view! {
        <Title text="People" />
        <h1>"People"</h1>
        <p class="lede">
            "Why doesn't someone see presence in Outlook Web App? Look them up: imlink checks everything the procedure requires of a user (an Exchange 2013 user mailbox, enabled for Lync Server 2013, a SIP proxy address that is their Lync address, an OWA policy with IM) and says what to run to fix what fails. Every check is kept."
        </p>
        <SignedIn>
            <ActionForm action=check attr:class="form" attr:novalidate=true>
                <ActionError error />
                {move || {
                    let (value, message) = match error.get() {
                        Some(AppError::Invalid(errors)) => (
                            errors.value("identity").unwrap_or_default().to_string(),
                            errors.get("identity").map(str::to_string),
                        ),
                        _ => (linked(), None),
                    };
                    let invalid = message.is_some();
                    view! {
                        <div class="field" class:field-invalid=invalid>
                            <label for="f-identity">"Person"</label>
                            <input
                                id="f-identity"
                                name="identity"
                                value=value
                                list="people-suggestions"
                                autocomplete="off"
                                spellcheck="false"
                                aria-invalid=if invalid { "true" } else { "false" }
                                aria-describedby=if invalid { "f-identity-hint f-identity-error" } else { "f-identity-hint" }
                                on:input=on_input
                            />
                            <p class="hint" id="f-identity-hint">
                                "A user principal name, SIP or e-mail address, account name, or the beginning of one (or of a display name) to pick from suggestions."
                            </p>
                            {message.map(|m| view! { <p class="error" id="f-identity-error">{m}</p> })}
                        </div>
                    }
                }}
                <datalist id="people-suggestions" data-testid="people-suggestions">
                    {move || {
                        search
                            .value()
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|p| {
                                let label = format!("{} · {}", p.display_name, p.sam_account_name);
                                view! { <option value=p.upn>{label}</option> }
                            })
                            .collect_view()
                    }}
                </datalist>
                <div class="actions">
                    <button type="submit" class="button" disabled=move || check.pending().get()>
                        "Check"
                    </button>
                </div>
            </ActionForm>
            <section class="panel" aria-labelledby="bulk-h">
                <h2 id="bulk-h">"Bulk checks"</h2>
                <p class="hint">
                    "Check many people at once, in the background: everyone, an organizational unit, a site's people or a list. Results are kept, can be filtered and exported, and two checks can be compared (before and after a change)."
                </p>
                <BulkCheckForm />
                <h3>"Recent bulk checks"</h3>
                <RecentScans />
            </section>
        </SignedIn>
    }
}

fn verdict_text(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Eligible => "Eligible: gets IM and presence in OWA once their site is integrated.",
        Verdict::NotEligible => "Not eligible: OWA will not show IM and presence for this person.",
        Verdict::Unknown => "Unknown: no check failed, but some facts could not be read.",
    }
}

#[component]
pub fn PersonCheckPage() -> impl IntoView {
    let params = use_params_map();
    let again = ServerAction::<CheckPerson>::new();
    let sign_in = ServerAction::<SimulateSignIn>::new();
    let id = move || params.read().get("id").and_then(|v| v.parse::<i64>().ok());
    let check = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_person_check(id).await,
            None => Err(AppError::NotFound),
        }
    });
    let errors = [
        Signal::derive(move || again.value().get().and_then(Result::err)),
        Signal::derive(move || sign_in.value().get().and_then(Result::err)),
    ];
    view! {
        <Title text="Eligibility check" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match check.await {
                    Ok(v) => view! {
                        {errors.map(|error| view! { <ActionError error /> }).collect_view()}
                        <Person v again sign_in />
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Person(
    v: PersonView,
    again: ServerAction<CheckPerson>,
    sign_in: ServerAction<SimulateSignIn>,
) -> impl IntoView {
    let c = v.check;
    let verdict_class = format!("verdict verdict-{}", c.verdict.as_str());
    let fixes: Vec<String> = c.checks.iter().filter_map(|k| k.fix.clone()).collect();
    let upn = c.upn.clone();
    let simulated = move || sign_in.value().get().and_then(Result::ok);
    view! {
        <h1>{c.display_name.clone()}</h1>
        <p class="meta">
            <span class="mono">{c.upn.clone()}</span>
            {format!(" · checked {} by {} against the {} directory", display(c.asked_at), c.asked_by, c.source)}
        </p>
        <p class=verdict_class role="status" data-testid="verdict">{verdict_text(c.verdict)}</p>
        <div class="toolbar">
            <ActionForm action=again attr:class="inline-form">
                <input type="hidden" name="identity" value=c.upn.clone() />
                <button type="submit" class="button-secondary">"Check again"</button>
            </ActionForm>
            {v.can_simulate.then(move || view! {
                <ActionForm action=sign_in attr:class="inline-form">
                    <input type="hidden" name="upn" value=upn />
                    <button type="submit" class="button-secondary">"Simulate OWA sign-in (lab)"</button>
                </ActionForm>
            })}
            <a href="/people" class="button-link">"Look up someone else"</a>
        </div>
        {move || simulated().map(|s| view! {
            <div class="signin-result" class:signin-ok=s.presence data-testid="signin-result">
                {if s.presence { "The lab's OWA shows presence and IM for this person." } else { "The lab's OWA shows no presence for this person:" }}
                {(!s.reasons.is_empty()).then(|| view! {
                    <ul>{s.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul>
                })}
            </div>
        })}
        {(!fixes.is_empty()).then(|| view! {
            <section class="panel" aria-labelledby="fix-h">
                <h2 id="fix-h">"To fix"</h2>
                <p class="hint">"Run in the Lync Server or Exchange Management Shell, in this order, then check again."</p>
                <pre class="commands" data-testid="fixes">{fixes.join("\n")}</pre>
            </section>
        })}
        <section class="panel" aria-labelledby="checks-h">
            <h2 id="checks-h">"Checks"</h2>
            <table class="table table-cards checks" data-testid="checks">
                <thead>
                    <tr>
                        <th scope="col">"Check"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Evidence"</th>
                        <th scope="col">"Why it matters"</th>
                    </tr>
                </thead>
                <tbody>
                    {c.checks.into_iter().map(|k| view! { <CheckRow k /> }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel" aria-labelledby="changes-h">
            <h2 id="changes-h">"Since the previous check"</h2>
            {match v.changes {
                None => view! { <p class="empty">"This is the first check of this person."</p> }.into_any(),
                Some(changes) if changes.is_empty() => view! { <p class="empty" data-testid="changes">"Nothing changed."</p> }.into_any(),
                Some(changes) => view! {
                    <ul data-testid="changes">
                        {changes.into_iter().map(|ch| view! {
                            <li>
                                <code>{ch.code.as_str()}</code>
                                {format!(
                                    ": {} → {}",
                                    ch.before.map_or("not checked", Outcome::as_str),
                                    ch.after.as_str()
                                )}
                            </li>
                        }).collect_view()}
                    </ul>
                }
                .into_any(),
            }}
        </section>
        <section class="panel" aria-labelledby="history-h">
            <h2 id="history-h">"History"</h2>
            <History rows=v.history current=c.id />
        </section>
    }
}

#[component]
fn CheckRow(k: Check) -> impl IntoView {
    let outcome = k.outcome.as_str();
    let informational = k.code.informational();
    view! {
        <tr class=format!("check-{outcome}") data-code=k.code.as_str()>
            <th scope="row">
                {k.code.title()}
                <br />
                <code class="code">{k.code.as_str()}</code>
                {informational.then(|| view! { <span class="hint">" (informational)"</span> })}
            </th>
            <td data-label="Outcome"><span class=format!("badge badge-{outcome}")>{outcome}</span></td>
            <td data-label="Evidence">
                <dl class="evidence">
                    {k.evidence.into_iter().map(|(name, value)| view! {
                        <dt class="mono">{name}</dt>
                        <dd class="mono">{value}</dd>
                    }).collect_view()}
                </dl>
            </td>
            <td data-label="Why it matters">
                {k.explanation}
                {k.fix.map(|fix| view! { <pre class="commands">{fix}</pre> })}
            </td>
        </tr>
    }
}

#[component]
fn History(rows: Vec<CheckSummary>, current: i64) -> impl IntoView {
    view! {
        <table class="table table-cards" data-testid="history">
            <thead>
                <tr>
                    <th scope="col">"Checked"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Verdict"</th>
                    <th scope="col">"Reasons"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let when = display(r.asked_at);
                    let reasons = r.reasons.iter().map(|c: &Code| c.as_str()).collect::<Vec<_>>().join(", ");
                    view! {
                        <tr class:current=r.id == current>
                            <td data-label="Checked"><a href=format!("/people/checks/{}", r.id)>{when}</a></td>
                            <td data-label="By">{r.asked_by}</td>
                            <td data-label="Verdict">{r.verdict.as_str()}</td>
                            <td data-label="Reasons" class="mono">{reasons}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_links_carry_any_text_as_one_query_value() {
        assert_eq!(
            super::check_link("user0001@litwareinc.com"),
            "/people?identity=user0001@litwareinc.com"
        );
        assert_eq!(
            super::check_link("a&b=c#d é"),
            "/people?identity=a%26b%3Dc%23d%20%C3%A9"
        );
    }
}
