//! `/signin`: sign in with the organization's identity provider (and why a sign-in was
//! refused), or with a demo account on the server's own machine.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::session::{SignInLocal, get_sign_in_options};
use crate::components::feedback::{ActionError, ErrorNotice, Loading};
use crate::domain::sign_in::{SignInRefusal, encode_query_value, safe_return_to};

#[component]
pub fn SignInPage() -> impl IntoView {
    let options = Resource::new(|| (), |_| get_sign_in_options());
    let query = use_query_map();
    let refused = move || {
        query
            .read()
            .get("refused")
            .and_then(|code| SignInRefusal::parse(&code))
    };
    let return_to = move || safe_return_to(&query.read().get("return_to").unwrap_or_default());
    // A plain form (a full page load signs in, so the whole page sees the new session); a
    // refusal comes back in the address, where this action reads it.
    let local = ServerAction::<SignInLocal>::new();
    let error = Signal::derive(move || local.value().get().and_then(Result::err));
    view! {
        <Title text="Sign in" />
        <section class="signin">
            <h1>"Sign in to imlink"</h1>
            {move || refused().map(|r| view! {
                <p class="notice notice-error" role="alert" data-testid="sign-in-refused">{r.explain()}</p>
            })}
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match options.await {
                        Ok(o) if o.provider.is_some() => {
                            let name = o.provider.unwrap_or_default();
                            let href = format!(
                                "/auth/oidc/login?return_to={}",
                                encode_query_value(&return_to()),
                            );
                            view! {
                                <p class="lede">"Sign in with your organization's account. Your roles in imlink come from your groups there."</p>
                                <a class="button provider-signin" href=href rel="external" data-testid="provider-sign-in">
                                    {format!("Sign in with {name}")}
                                </a>
                            }
                            .into_any()
                        }
                        Ok(o) => match o.local_accounts {
                            Some(accounts) => view! {
                                <p class="lede">
                                    "Local sign-in is on for this server: pick a demo account. Each has the roles shown."
                                </p>
                                <ActionError error />
                                <ul class="accounts">
                                    {accounts
                                        .into_iter()
                                        .map(|a| {
                                            let roles = a.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
                                            view! {
                                                <li>
                                                    <form method="post" action="/api/sign_in_local">
                                                        <input type="hidden" name="username" value=a.username.clone() />
                                                        <input type="hidden" name="return_to" value=return_to() />
                                                        <button type="submit" class="account">
                                                            <span class="account-name">{format!("Sign in as {}", a.display_name)}</span>
                                                            <span class="account-meta">{format!("{} · {}", a.username, roles)}</span>
                                                        </button>
                                                    </form>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                            .into_any(),
                            None if o.local_elsewhere => view! {
                                <p class="notice">
                                    "The demo accounts of local sign-in can only be used from a browser on the server's own machine, at its own address (such as http://127.0.0.1:3000/)."
                                </p>
                            }
                            .into_any(),
                            None => view! {
                                <p class="notice">
                                    "No sign-in method is configured on this server. An administrator can turn on local sign-in (loopback only) in the configuration."
                                </p>
                            }
                            .into_any(),
                        },
                        Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
