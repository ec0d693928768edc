//! `/lab`: the simulated organization at a glance, OWA sign-in simulation, and (for admins)
//! resetting it to a scenario or installing a cumulative update.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::lab::{LabInstallCu, ResetLab, SimulateSignIn, get_lab};
use crate::app::UserResource;
use crate::components::confirm::ConfirmSubmit;
use crate::components::feedback::{ActionError, Empty, ErrorNotice, Loading};
use crate::domain::roles::Role;
use crate::views::{LabSignIn, LabView};

#[component]
pub fn LabPage() -> impl IntoView {
    let reset = ServerAction::<ResetLab>::new();
    let cu = ServerAction::<LabInstallCu>::new();
    let sign_in = ServerAction::<SimulateSignIn>::new();
    let query = leptos_router::hooks::use_query_map();
    let lab = Resource::new(
        move || {
            (
                query.read().get("tried"),
                reset.version().get(),
                cu.version().get(),
                sign_in.version().get(),
            )
        },
        |(tried, ..)| get_lab(tried),
    );
    let user = expect_context::<UserResource>();
    let errors = [
        Signal::derive(move || reset.value().get().and_then(Result::err)),
        Signal::derive(move || cu.value().get().and_then(Result::err)),
        Signal::derive(move || sign_in.value().get().and_then(Result::err)),
    ];
    view! {
        <Title text="Lab" />
        <h1>"Lab"</h1>
        <p class="lede">
            "A simulated Lync Server 2013 and Exchange 2013 organization. imlink plans against it and its scripts run in it, through a PowerShell interpreter, so you can watch what each change does."
        </p>
        {errors.map(|error| view! { <ActionError error /> }).collect_view()}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let me = user.await.ok().flatten();
                let admin = me.as_ref().is_some_and(|me| me.has(Role::Admin));
                let looks_up = me
                    .as_ref()
                    .is_some_and(|me| me.has_any(&crate::domain::roles::LOOKS_UP_PEOPLE));
                match lab.await {
                    Ok(Some(v)) => view! { <Organization v admin looks_up reset cu sign_in /> }.into_any(),
                    Ok(None) => view! {
                        <p class="notice">"This server plans against a facts file, not the lab."</p>
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Organization(
    v: LabView,
    admin: bool,
    /// Whether the viewer may check people's eligibility (links to the People page).
    looks_up: bool,
    reset: ServerAction<ResetLab>,
    cu: ServerAction<LabInstallCu>,
    sign_in: ServerAction<SimulateSignIn>,
) -> impl IntoView {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    // The result of the sign-in just simulated here, or (posted without JavaScript) of the
    // person the page was asked about.
    let tried = v.tried.clone();
    let latest = move || {
        sign_in
            .value()
            .get()
            .and_then(Result::ok)
            .or_else(|| tried.clone())
    };
    view! {
        <p class="meta" data-testid="lab-scenario">
            {format!("Scenario {} · {} users in the directory", v.scenario, v.users)}
        </p>
        {admin.then(|| {
            let scenarios = v.scenarios.clone();
            let servers: Vec<String> = v.backends.iter().map(|b| b.server.clone()).collect();
            view! {
                <section class="panel" aria-labelledby="admin-h">
                    <h2 id="admin-h">"Administer the lab"</h2>
                    <div class="toolbar">
                        <ActionForm action=reset attr:class="inline-form">
                            <label for="f-scenario">"Reset to scenario"</label>
                            <select id="f-scenario" name="scenario">
                                {scenarios.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                            </select>
                            <ConfirmSubmit
                                opener="Reset…"
                                consequence="Resetting replaces the whole lab with the chosen scenario: its trusted pools, web.config changes, recycles, sign-in events and people go back to the scenario's. What imlink recorded (requests, runs, audit) stays as it is.".to_string()
                                confirm="Reset the lab"
                            />
                        </ActionForm>
                        <ActionForm action=cu attr:class="inline-form">
                            <label for="f-server">"Install an Exchange cumulative update on"</label>
                            <select id="f-server" name="server">
                                {servers.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                            </select>
                            <button type="submit" class="button-secondary">"Install"</button>
                        </ActionForm>
                    </div>
                </section>
            }
        })}
        <section class="panel" aria-labelledby="people-h">
            <h2 id="people-h">"What OWA shows"</h2>
            <ActionForm action=sign_in attr:class="inline-form">
                <label for="f-upn">"Sign in to OWA as"</label>
                <input id="f-upn" name="upn" value=v.tried.as_ref().map_or("user0001@litwareinc.com".to_string(), |t| t.upn.clone()) autocomplete="off" />
                <button type="submit" class="button">"Sign in"</button>
            </ActionForm>
            <div id="signin-result" aria-live="polite">
                {move || latest().map(|s| view! { <SignInResult s looks_up /> })}
            </div>
            <h3>"Sample users"</h3>
            <ul class="people">
                {v.people.iter().cloned().map(|s| view! { <li><SignInResult s looks_up /></li> }).collect_view()}
            </ul>
        </section>
        <div class="columns">
            <section class="panel" aria-labelledby="lync-h">
                <h2 id="lync-h">"Lync Server 2013"</h2>
                <dl class="values">
                    <dt>"Sites"</dt>
                    <dd>{v.sites.iter().map(|(id, name)| format!("{name} (SiteId {id})")).collect::<Vec<_>>().join(", ")}</dd>
                    <dt>"Front End pools"</dt>
                    <dd class="mono">{v.pools.join(", ")}</dd>
                </dl>
                <h3>"Trusted application pools"</h3>
                {if v.trusted_pools.is_empty() {
                    view! { <Empty>"None."</Empty> }.into_any()
                } else {
                    view! {
                        <ul>
                            {v.trusted_pools.iter().map(|(fqdn, registrar, live)| view! {
                                <li class="mono">{format!("{fqdn} · {registrar} · {}", if *live { "published" } else { "not yet published" })}</li>
                            }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }}
                <h3>"Trusted applications"</h3>
                {if v.trusted_applications.is_empty() {
                    view! { <Empty>"None."</Empty> }.into_any()
                } else {
                    view! {
                        <ul>
                            {v.trusted_applications.iter().map(|(pool, id, port, live)| view! {
                                <li class="mono">{format!("{pool}/{id} · port {port} · {}", if *live { "published" } else { "not yet published" })}</li>
                            }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }}
            </section>
            <section class="panel" aria-labelledby="exchange-h">
                <h2 id="exchange-h">"Exchange"</h2>
                <ul>
                    {v.exchange_servers.iter().map(|(fqdn, roles, version)| view! {
                        <li><span class="mono">{fqdn.clone()}</span>{format!(" · {roles} · {version}")}</li>
                    }).collect_view()}
                </ul>
                <h3>"OWA virtual directories"</h3>
                <ul>
                    {v.owa_virtual_directories.iter().map(|(id, backend, enabled, kind)| view! {
                        <li>
                            <span class="mono">{id.clone()}</span>
                            {format!(" · {} · IM enabled {} · type {kind}", if *backend { "back end" } else { "front end" }, yes_no(*enabled))}
                        </li>
                    }).collect_view()}
                </ul>
                <h3>"OWA mailbox policies"</h3>
                <ul>
                    {v.owa_mailbox_policies.iter().map(|(name, enabled, kind)| view! {
                        <li>{format!("{name} · IM enabled {} · type {kind}", yes_no(*enabled))}</li>
                    }).collect_view()}
                </ul>
                <h3>"Back-end servers"</h3>
                <ul>
                    {v.backends.iter().map(|b| view! {
                        <li>
                            <span class="mono">{b.server.clone()}</span>
                            {format!(
                                " · IMCertificateThumbprint {} · IMServerName {} · UCMA {} · app pool recycled {} time(s) · event 112 {} · IM log folder {}",
                                b.im_certificate_thumbprint.clone().unwrap_or_else(|| "missing".into()),
                                b.im_server_name.clone().unwrap_or_else(|| "missing".into()),
                                yes_no(b.ucma),
                                b.recycles,
                                yes_no(b.event_112),
                                yes_no(b.im_log_folder),
                            )}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        </div>
    }
}

#[component]
fn SignInResult(s: LabSignIn, looks_up: bool) -> impl IntoView {
    let check = super::people::check_link(&s.upn);
    view! {
        <div class="signin-result" class:signin-ok=s.presence data-testid="signin-result">
            <strong class="mono">{s.upn.clone()}</strong>
            {if s.presence { ": presence and IM work in OWA." } else { ": no presence in OWA." }}
            {looks_up.then(|| view! { " " <a href=check>"Check eligibility"</a> })}
            {(!s.reasons.is_empty()).then(|| view! {
                <ul>{s.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul>
            })}
        </div>
    }
}
