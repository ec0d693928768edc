//! `/approvals`: requests waiting for the caller's sign-off.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::requests::approval_inbox;
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::request_table::RequestTable;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| approval_inbox());
    view! {
        <Title text="Approvals" />
        <h1>"Waiting for my approval"</h1>
        <p class="lede">
            "Requests filed by others that you have not yet voted on, oldest first. You never see your own requests here."
        </p>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! { <RequestTable rows empty="Nothing is waiting for your approval." /> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
