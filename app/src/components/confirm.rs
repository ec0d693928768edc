//! A confirmation step before a destructive action, without JavaScript as with it.

use leptos::prelude::*;

/// The submit button of a destructive form behind a confirmation step: `opener` only unfolds
/// a statement of what will happen and the button (`confirm`) that does it.
#[component]
pub fn ConfirmSubmit(
    opener: &'static str,
    consequence: String,
    confirm: &'static str,
) -> impl IntoView {
    view! {
        <details class="confirm">
            <summary class="button-danger">{opener}</summary>
            <div class="confirm-body">
                <p>{consequence}</p>
                <button type="submit" class="button-danger">{confirm}</button>
            </div>
        </details>
    }
}
