//! The HTML shell, the router and the page frame.

use leptos::prelude::*;
use leptos_meta::{Link, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{A, Route, Router, Routes},
    path,
};

use crate::api::session::get_current_user;
use crate::components::feedback::ErrorNotice;
use crate::domain::roles::{CurrentUser, Role};
use crate::error::AppError;
use crate::pages::{
    approvals::ApprovalsPage,
    audit::AuditPage,
    dashboard::DashboardPage,
    lab::LabPage,
    people::{PeoplePage, PersonCheckPage},
    request_edit::EditRequestPage,
    request_new::NewRequestPage,
    request_view::RequestPage,
    requests::RequestsPage,
    scans::{ScanComparePage, ScanPage},
    signin::SignInPage,
    users::UsersPage,
};

/// The signed-in person, loaded once per page load and shared through context.
pub type UserResource = Resource<Result<Option<CurrentUser>, AppError>>;

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::csp::provide_nonce();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: header, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user: UserResource = Resource::new(|| (), |_| get_current_user());
    provide_context(user);
    // Read with the user in the header's one suspense (a nested one broke hydration).
    let directory = Resource::new(|| (), |_| crate::api::people::has_directory());
    view! {
        <Stylesheet id="leptos" href="/pkg/imlink.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Title formatter=|page: String| {
            if page.is_empty() { "imlink".to_string() } else { format!("{page} · imlink") }
        } />
        <Router>
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <Header user directory />
            <main id="main" class="page">
                <Routes fallback=|| {
                    view! { <ErrorNotice error=AppError::NotFound /> }
                }>
                    <Route path=path!("/") view=DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("/signin") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/requests") view=RequestsPage ssr=SsrMode::Async />
                    <Route path=path!("/requests/new") view=NewRequestPage ssr=SsrMode::Async />
                    <Route path=path!("/requests/:id") view=RequestPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/requests/:id/edit")
                        view=EditRequestPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/approvals") view=ApprovalsPage ssr=SsrMode::Async />
                    <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async />
                    <Route path=path!("/lab") view=LabPage ssr=SsrMode::Async />
                    <Route path=path!("/users") view=UsersPage ssr=SsrMode::Async />
                    <Route path=path!("/people") view=PeoplePage ssr=SsrMode::Async />
                    <Route path=path!("/people/scans/:id") view=ScanPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/people/scans/:id/compare")
                        view=ScanComparePage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/people/checks/:id")
                        view=PersonCheckPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The top bar: product name, navigation for the signed-in person's roles, and sign-out.
#[component]
fn Header(user: UserResource, directory: Resource<Result<bool, AppError>>) -> impl IntoView {
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">
                    "◆"
                </span>
                "imlink"
            </A>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let people = matches!(directory.await, Ok(true));
                    match user.await {
                        Ok(Some(me)) => view! { <Nav me people /> }.into_any(),
                        _ => {
                            view! {
                                <nav class="nav" aria-label="Main">
                                    <A href="/signin">"Sign in"</A>
                                </nav>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </header>
    }
}

#[component]
fn Nav(
    me: CurrentUser,
    /// Whether a directory is configured (People is offered only then).
    people: bool,
) -> impl IntoView {
    let roles = Role::list(&me.roles);
    view! {
        <nav class="nav" aria-label="Main">
            <A href="/" exact=true>
                "Dashboard"
            </A>
            <A href="/requests" exact=true>
                "Requests"
            </A>
            <Show when={
                let me = me.clone();
                move || me.has(Role::Requester)
            }>
                <A href="/requests/new">"New request"</A>
            </Show>
            <Show when={
                let me = me.clone();
                move || me.has(Role::Approver)
            }>
                <A href="/approvals">"Approvals"</A>
            </Show>
            <Show when={
                let me = me.clone();
                move || me.has_any(&[Role::Auditor, Role::Admin])
            }>
                <A href="/audit">"Audit log"</A>
            </Show>
            <Show when={
                let me = me.clone();
                move || people && me.has_any(&crate::domain::roles::LOOKS_UP_PEOPLE)
            }>
                <A href="/people">"People"</A>
            </Show>
            <A href="/lab">"Lab"</A>
            <Show when={
                let me = me.clone();
                move || me.has(Role::Admin)
            }>
                <A href="/users">"Users"</A>
            </Show>
        </nav>
        <div class="whoami">
            <span class="whoami-name" data-testid="whoami">
                {me.display_name.clone()}
            </span>
            <span class="whoami-roles">{roles}</span>
            <form method="post" action="/api/sign_out">
                <button type="submit" class="button-link">
                    "Sign out"
                </button>
            </form>
        </div>
    }
}
