//! `/requests`: every request, filterable by state.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::requests::list_requests;
use crate::components::feedback::{ErrorNotice, IfRole, Loading};
use crate::components::request_table::RequestTable;
use crate::domain::request::RequestState;
use crate::domain::roles::Role;

#[component]
pub fn RequestsPage() -> impl IntoView {
    let query = use_query_map();
    let state = move || query.read().get("state").unwrap_or_default();
    let rows = Resource::new(state, list_requests);
    view! {
        <Title text="Requests" />
        <div class="page-head">
            <h1>"Requests"</h1>
            <IfRole role=Role::Requester>
                <a class="button" href="/requests/new">"New request"</a>
            </IfRole>
        </div>
        <nav class="filters" aria-label="Filter by state">
            <a href="/requests" aria-current=move || state().is_empty().then_some("page")>"All"</a>
            {RequestState::ALL
                .into_iter()
                .map(|s| {
                    view! {
                        <a
                            href=format!("/requests?state={}", s.as_str())
                            aria-current=move || (state() == s.as_str()).then_some("page")
                        >
                            {s.label()}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! { <RequestTable rows empty="No requests match this filter." /> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
