//! Errors, empty states and loading indicators.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::domain::request::FieldErrors;
use crate::domain::roles::{CurrentUser, Role};
use crate::error::AppError;

/// Shows an error as a page-level notice; an unauthenticated caller is sent to sign in, and
/// back to this page afterwards (with the identity provider).
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(error.status()),
    ) && error != AppError::Unauthenticated
    {
        response.set_status(status);
    }
    match error {
        AppError::Unauthenticated => {
            let location = leptos_router::hooks::use_location();
            let here = format!(
                "{}{}",
                location.pathname.get_untracked(),
                location.query.get_untracked().to_query_string()
            );
            let path = crate::domain::sign_in::sign_in_path(&here);
            view! { <Redirect path /> }.into_any()
        }
        AppError::NotFound => {
            let location = leptos_router::hooks::use_location();
            let path = location.pathname.get_untracked();
            // Say what was asked for, in words, where the address tells it.
            let what = match path
                .split('/')
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()[..]
            {
                ["requests", id, ..] => format!("There is no request #{id}."),
                ["people", "checks", id] => format!("There is no stored check #{id}."),
                ["people", "scans", id, ..] => format!("There is no bulk check #{id}."),
                _ => format!("There is no page at {path}."),
            };
            view! {
                <Title text="Not found" />
                <section class="notice notice-error" role="alert">
                    <h1>"Not found"</h1>
                    <p data-testid="not-found">{what}</p>
                    <p>
                        <a href="/">"Back to the dashboard"</a>
                        " · "
                        <a href="/requests">"All requests"</a>
                    </p>
                </section>
            }
            .into_any()
        }
        other => view! {
            <section class="notice notice-error" role="alert">
                <p>{other.to_string()}</p>
            </section>
        }
        .into_any(),
    }
}

/// The outcome of the last submission of a form, when it failed for a reason that is not tied
/// to one field (a refusal, a conflict, a server error).
#[component]
pub fn ActionError(error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().and_then(|e| match e {
            AppError::Invalid(ref fe)
                if fe.errors.len() == 1 && fe.errors.contains_key("comment") =>
            {
                None
            }
            AppError::Invalid(fe) => Some(view! { <ErrorSummary errors=fe /> }.into_any()),
            other => Some(
                view! {
                    <p class="notice notice-error" role="alert" data-testid="action-error">
                        {other.to_string()}
                    </p>
                }
                .into_any(),
            ),
        })
    }
}

/// The fields a submission got wrong, each linking to its field; it takes the focus when it
/// appears, so the keyboard starts from the list of what to fix.
#[component]
fn ErrorSummary(errors: FieldErrors) -> impl IntoView {
    let summary = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(el) = summary.get() {
            let _ = el.focus();
        }
    });
    view! {
        <div class="notice notice-error error-summary" role="alert" tabindex="-1" node_ref=summary data-testid="error-summary">
            <p><strong>"Some fields need attention:"</strong></p>
            <ul>
                {errors
                    .summary()
                    .into_iter()
                    .map(|(field, text)| {
                        let target = format!("f-{field}");
                        view! {
                            <li>
                                <a href=format!("#{target}") on:click=move |ev| jump_to(ev, &target)>{text}</a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </div>
    }
}

/// Follows a link to a part of the page (`#id`) by bringing it into view and focusing it (a
/// plain fragment link only scrolls, and the router may not even do that).
pub fn jump_to(ev: leptos::ev::MouseEvent, id: &str) {
    use leptos::wasm_bindgen::JsCast;
    if let Some(field) = document()
        .get_element_by_id(id)
        .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok())
    {
        ev.prevent_default();
        field.scroll_into_view();
        let _ = field.focus();
    }
}

/// What a list shows when it has nothing in it.
#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <p class="empty">{children()}</p> }
}

/// The placeholder shown while a section loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="loading" aria-live="polite">
            "Loading…"
        </p>
    }
}

/// Renders what `show` makes of the signed-in person (or of their absence) once they are
/// known, with "Loading…" meanwhile when `loading` is set: the one way pages ask who is there.
fn with_user(
    loading: bool,
    show: impl Fn(Result<Option<CurrentUser>, AppError>) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let user = expect_context::<crate::app::UserResource>();
    view! {
        <Suspense fallback=move || loading.then(|| view! { <Loading /> })>
            {move || {
                let show = show.clone();
                Suspend::new(async move { show(user.await) })
            }}
        </Suspense>
    }
}

/// What a page shows someone it cannot serve: sign-in for the signed-out, the error otherwise.
fn refusal(error: AppError) -> AnyView {
    view! { <ErrorNotice error /> }.into_any()
}

/// Renders `children` only for a signed-in person holding `role`, and nothing for anyone else:
/// for the links and buttons to what only that role may do.
#[component]
pub fn IfRole(role: Role, children: ChildrenFn) -> impl IntoView {
    with_user(false, move |user| match user {
        Ok(Some(me)) if me.has(role) => children().into_any(),
        _ => ().into_any(),
    })
}

/// Renders `children` for a signed-in person holding `role`; anyone else signed in is told
/// that `doing` needs that role and which roles they have, before typing anything.
#[component]
pub fn RequiresRole(role: Role, doing: &'static str, children: ChildrenFn) -> impl IntoView {
    with_user(true, move |user| {
        match user {
        Ok(Some(me)) if me.has(role) => children().into_any(),
        Ok(Some(me)) => view! {
            <p class="notice notice-info" role="note" data-testid="needs-role">
                {format!(
                    "{doing} needs the {} role; you have {}. Ask an administrator if you should have it.",
                    role.as_str(),
                    if me.roles.is_empty() { "none".to_string() } else { Role::list(&me.roles) },
                )}
            </p>
        }
        .into_any(),
        Ok(None) => refusal(AppError::Unauthenticated),
        Err(e) => refusal(e),
    }
    })
}

/// Renders `children` for a signed-in person; anyone else is sent to the sign-in page.
#[component]
pub fn SignedIn(children: ChildrenFn) -> impl IntoView {
    with_user(true, move |user| match user {
        Ok(Some(_)) => children().into_any(),
        Ok(None) => refusal(AppError::Unauthenticated),
        Err(e) => refusal(e),
    })
}
