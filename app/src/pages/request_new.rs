//! `/requests/new`: file an integration request, with a live plan preview.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::requests::{CreateRequest, PreviewPlan, get_environment};
use crate::components::feedback::{ActionError, RequiresRole};
use crate::components::plan_view::PlanPanel;
use crate::components::request_fields::RequestFields;
use crate::domain::request::{FieldErrors, RequestInput};
use crate::domain::roles::Role;
use crate::error::AppError;

/// How long typing must pause before the preview is refreshed.
const PREVIEW_DELAY: std::time::Duration = std::time::Duration::from_millis(400);

#[component]
pub fn NewRequestPage() -> impl IntoView {
    let create = ServerAction::<CreateRequest>::new();
    let preview = ServerAction::<PreviewPlan>::new();
    let environment = Resource::new(|| (), |_| get_environment());
    let error = Signal::derive(move || create.value().get().and_then(Result::err));
    // Each keystroke bumps the generation; only the last one, after a pause, asks for a preview.
    let generation = StoredValue::new(0u64);
    let on_input = move |ev: leptos::ev::Event| {
        let Some(input) = form_input(&ev) else {
            return;
        };
        let current = generation.get_value() + 1;
        generation.set_value(current);
        set_timeout(
            move || {
                // The page may have been left (and its values disposed) while waiting.
                if generation.try_get_value() == Some(current) {
                    preview.dispatch(PreviewPlan { input });
                }
            },
            PREVIEW_DELAY,
        );
    };
    view! {
        <Title text="New request" />
        <h1>"New request"</h1>
        <p class="lede">
            "Integrate Outlook Web App with Lync for one site, or turn IM in OWA off. The request is saved as a draft with its plan; you review the plan and submit it for approval from the request's page."
        </p>
        <RequiresRole role=Role::Requester doing="Filing a request">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let env = environment.await;
                    let sites = env.as_ref().map(|e| e.sites.clone()).unwrap_or_default();
                    let label = match &env {
                        Ok(e) => format!(
                            "Plans are made against the environment “{}”{}.",
                            e.label,
                            e.collected_at.map(|at| format!(", collected {}", crate::domain::time::display(at))).unwrap_or_default()
                        ),
                        Err(e) => e.to_string(),
                    };
                    view! {
                        <p class="meta" data-testid="environment">{label}</p>
                        <div class="columns columns-form">
                            <ActionForm action=create attr:class="form" attr:novalidate=true on:input=on_input>
                                <ActionError error />
                                {move || {
                                    let (values, errors) = form_state(error.get(), RequestInput::default());
                                    view! { <RequestFields values errors sites=sites.clone() /> }
                                }}
                                <div class="actions">
                                    <button type="submit" class="button" disabled=move || create.pending().get()>
                                        "Save draft"
                                    </button>
                                    <a href="/" class="button-secondary">"Cancel"</a>
                                </div>
                            </ActionForm>
                            <div class="preview" aria-live="polite" data-testid="plan-preview">
                                {move || match preview.value().get() {
                                    Some(Ok(view)) => view! { <PlanPanel view /> }.into_any(),
                                    Some(Err(AppError::Invalid(_))) => view! {
                                        <p class="empty">"The plan preview appears here once every field is valid."</p>
                                    }
                                    .into_any(),
                                    Some(Err(e)) => view! { <p class="notice notice-error">{e.to_string()}</p> }.into_any(),
                                    None => ().into_any(),
                                }}
                            </div>
                        </div>
                    }
                })}
            </Suspense>
        </RequiresRole>
    }
}

/// The request as currently typed into the form the event came from.
fn form_input(ev: &leptos::ev::Event) -> Option<RequestInput> {
    use leptos::wasm_bindgen::JsCast;
    use leptos::web_sys::{FormData, HtmlFormElement};
    let form = ev.current_target()?.dyn_into::<HtmlFormElement>().ok()?;
    let data = FormData::new_with_form(&form).ok()?;
    // Every field the form has, by the names `RequestInput` uses.
    let values = RequestInput::default()
        .to_values()
        .into_keys()
        .map(|name| {
            let value = data
                .get(&format!("input[{name}]"))
                .as_string()
                .unwrap_or_default();
            (name, value)
        })
        .collect();
    Some(RequestInput::from_values(&values))
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
