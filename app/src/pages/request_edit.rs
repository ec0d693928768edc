//! `/requests/:id/edit`: change a request; standing votes are withdrawn.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::request_new::form_state;
use crate::api::requests::{UpdateRequest, get_request};
use crate::components::feedback::{ActionError, ErrorNotice, Loading};
use crate::components::request_fields::RequestFields;
use crate::domain::request::RequestState;
use crate::error::AppError;

#[component]
pub fn EditRequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i32>().ok());
    let detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_request(id).await,
            None => Err(AppError::NotFound),
        }
    });
    let update = ServerAction::<UpdateRequest>::new();
    let error = Signal::derive(move || update.value().get().and_then(Result::err));
    view! {
        <Title text="Edit request" />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) if !d.can.edit => view! {
                        <ErrorNotice error=AppError::Forbidden(
                            "Only the requester can edit this request, and only before it is rejected, cancelled or expired.".into(),
                        ) />
                    }
                    .into_any(),
                    Ok(d) => {
                        let id = d.summary.id;
                        let stored = d.values.clone();
                        let warn = matches!(d.summary.state, RequestState::Submitted | RequestState::Approved);
                        view! {
                            <h1>{format!("Edit request #{id}")}</h1>
                            {warn.then(|| view! {
                                <p class="notice notice-warn" role="note">
                                    "Saving changes withdraws every approval given so far; the request then needs fresh approval."
                                </p>
                            })}
                            <ActionForm action=update attr:class="form" attr:novalidate=true>
                                <input type="hidden" name="id" value=id />
                                <input type="hidden" name="version" value=d.version />
                                <ActionError error />
                                {move || {
                                    let (values, errors) = form_state(error.get(), stored.clone());
                                    view! { <RequestFields values errors /> }
                                }}
                                <div class="actions">
                                    <button type="submit" class="button" disabled=move || update.pending().get()>
                                        "Save changes"
                                    </button>
                                    <a href=format!("/requests/{id}") class="button-secondary">"Back"</a>
                                </div>
                            </ActionForm>
                        }
                        .into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
