//! A list of requests.

use leptos::prelude::*;

use super::feedback::Empty;
use crate::domain::request::{RequestKind, RequestState};
use crate::domain::runs::ChangeStatus;
use crate::domain::time;
use crate::views::RequestSummary;

/// A lifecycle state as a coloured badge.
#[component]
pub fn StateBadge(state: RequestState) -> impl IntoView {
    view! { <span class=format!("badge badge-{}", state.as_str())>{state.label()}</span> }
}

/// Where a request's change stands on the servers (its latest run), as a badge with the time;
/// nothing before its first run.
#[component]
pub fn ChangeBadge(change: Option<ChangeStatus>, kind: RequestKind) -> impl IntoView {
    change.map(|c| {
        view! {
            <span class=c.class() data-testid="change-status" title=format!("Run #{}", c.run)>
                {format!("{} · {}", c.label(kind == RequestKind::TurnOff), time::display(c.at))}
            </span>
        }
    })
}

/// Requests as a table, or `empty` when there are none.
#[component]
pub fn RequestTable(rows: Vec<RequestSummary>, empty: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <Empty>{empty}</Empty> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table table-cards">
                <thead>
                    <tr>
                        <th scope="col">"#"</th>
                        <th scope="col">"Site"</th>
                        <th scope="col">"OWA pool (or change)"</th>
                        <th scope="col">"Requester"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"On the servers"</th>
                        <th scope="col">"Approvals"</th>
                        <th scope="col">"Updated"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let href = format!("/requests/{}", r.id);
                            view! {
                                <tr>
                                    <td data-label="#">
                                        <a href=href.clone()>{format!("#{}", r.id)}</a>
                                    </td>
                                    <td data-label="Site">
                                        <a href=href>{r.site_id}</a>
                                    </td>
                                    {match r.kind {
                                        RequestKind::Integrate => view! { <td class="mono" data-label="OWA pool">{r.owa_pool_fqdn}</td> }.into_any(),
                                        RequestKind::TurnOff => view! { <td data-label="Change">{r.kind.label()}</td> }.into_any(),
                                    }}
                                    <td data-label="Requester">{r.requester.display_name}</td>
                                    <td data-label="State">
                                        <StateBadge state=r.state />
                                    </td>
                                    <td data-label="On the servers">
                                        <ChangeBadge change=r.change kind=r.kind />
                                    </td>
                                    <td data-label="Approvals">{format!("{} of {}", r.approvals, r.quorum)}</td>
                                    <td data-label="Updated">{time::display(r.updated_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
