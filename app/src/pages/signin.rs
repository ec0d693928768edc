//! `/signin`: the local demo sign-in.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::session::get_sign_in_options;
use crate::components::feedback::{ErrorNotice, Loading};

#[component]
pub fn SignInPage() -> impl IntoView {
    let options = Resource::new(|| (), |_| get_sign_in_options());
    view! {
        <Title text="Sign in" />
        <section class="signin">
            <h1>"Sign in to imlink"</h1>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match options.await {
                        Ok(o) => match o.local_accounts {
                            Some(accounts) => view! {
                                <p class="lede">
                                    "Local sign-in is on for this server: pick a demo account. Each has the roles shown."
                                </p>
                                <ul class="accounts">
                                    {accounts
                                        .into_iter()
                                        .map(|a| {
                                            let roles = a.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
                                            view! {
                                                <li>
                                                    <form method="post" action="/api/sign_in_local">
                                                        <input type="hidden" name="username" value=a.username.clone() />
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
