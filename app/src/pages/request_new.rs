//! `/requests/new`: file an integration request.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::requests::CreateRequest;
use crate::components::feedback::{ActionError, SignedIn};
use crate::components::request_fields::RequestFields;
use crate::domain::request::{FieldErrors, RequestInput};
use crate::error::AppError;

#[component]
pub fn NewRequestPage() -> impl IntoView {
    let create = ServerAction::<CreateRequest>::new();
    let error = Signal::derive(move || create.value().get().and_then(Result::err));
    view! {
        <Title text="New request" />
        <h1>"New integration request"</h1>
        <p class="lede">
            "Integrate Outlook Web App with Lync for one site. The request is saved as a draft; you review it and submit it for approval from its page."
        </p>
        <SignedIn>
        <ActionForm action=create attr:class="form" attr:novalidate=true>
            <ActionError error />
            {move || {
                let (values, errors) = form_state(error.get(), RequestInput::default());
                view! { <RequestFields values errors /> }
            }}
            <div class="actions">
                <button type="submit" class="button" disabled=move || create.pending().get()>
                    "Save draft"
                </button>
                <a href="/" class="button-secondary">"Cancel"</a>
            </div>
        </ActionForm>
        </SignedIn>
    }
}

/// The values and errors to show: what was typed when validation failed, else `fallback`.
pub fn form_state(error: Option<AppError>, fallback: RequestInput) -> (RequestInput, FieldErrors) {
    match error {
        Some(AppError::Invalid(errors)) if !errors.values.is_empty() => {
            (RequestInput::from_values(&errors.values), errors)
        }
        _ => (fallback, FieldErrors::default()),
    }
}
