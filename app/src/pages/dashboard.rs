//! `/`: my requests, what waits for my approval, and recent activity.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::requests::get_dashboard;
use crate::components::audit_table::AuditTable;
use crate::components::feedback::{ErrorNotice, IfRole, Loading};
use crate::components::request_table::RequestTable;
use crate::domain::roles::Role;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_dashboard());
    view! {
        <Title text="Dashboard" />
        <h1>"Dashboard"</h1>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! {
                        <section class="panel" aria-labelledby="mine-h">
                            <div class="panel-head">
                                <h2 id="mine-h">"My requests"</h2>
                                <IfRole role=Role::Requester>
                                    <a class="button" href="/requests/new">"New request"</a>
                                </IfRole>
                            </div>
                            <RequestTable rows=d.mine empty="You have not filed any requests yet." />
                        </section>
                        {d.awaiting_me.map(|rows| view! {
                            <section class="panel" aria-labelledby="waiting-h">
                                <h2 id="waiting-h">"Waiting for my approval"</h2>
                                <RequestTable rows empty="Nothing is waiting for your approval." />
                            </section>
                        })}
                        <section class="panel" aria-labelledby="recent-h">
                            <h2 id="recent-h">"Recent activity"</h2>
                            <AuditTable entries=d.recent empty="No activity yet." show_values=false />
                        </section>
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
