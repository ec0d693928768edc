//! `/users`: the people who use imlink, for admins: roles as last seen at sign-in, last
//! sign-in, open sessions; end a person's sessions, disable or enable them in imlink.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::users::{ManagePortalUser, get_portal_users};
use crate::components::feedback::{ActionError, Empty, ErrorNotice, Loading};
use crate::domain::roles::{PersonAction, Role};
use crate::domain::time::display;
use crate::views::PortalUser;

#[component]
pub fn UsersPage() -> impl IntoView {
    let manage = ServerAction::<ManagePortalUser>::new();
    let users = Resource::new(move || manage.version().get(), |_| get_portal_users());
    let error = Signal::derive(move || manage.value().get().and_then(Result::err));
    view! {
        <Title text="Users" />
        <h1>"Users"</h1>
        <p class="lede">
            "Everyone who has signed in to imlink. Roles are those their sign-in gave them, read again at every sign-in. A disabled person is refused at their next request, whatever the identity provider says."
        </p>
        <ActionError error />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(rows) if rows.is_empty() => view! { <Empty>"Nobody has signed in yet."</Empty> }.into_any(),
                    Ok(rows) => view! { <UserTable rows manage /> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn UserTable(rows: Vec<PortalUser>, manage: ServerAction<ManagePortalUser>) -> impl IntoView {
    view! {
        <table class="table table-cards" data-testid="users">
            <thead>
                <tr>
                    <th scope="col">"Person"</th>
                    <th scope="col">"Roles"</th>
                    <th scope="col">"Signs in with"</th>
                    <th scope="col">"Last sign-in"</th>
                    <th scope="col">"Open sessions"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|u| view! { <UserRow u manage /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn UserRow(u: PortalUser, manage: ServerAction<ManagePortalUser>) -> impl IntoView {
    let roles = if u.roles.is_empty() {
        "none".to_string()
    } else {
        Role::list(&u.roles)
    };
    let method = match u.method {
        crate::domain::sign_in::SignInMethod::Local => "demo account",
        crate::domain::sign_in::SignInMethod::Oidc => "identity provider",
    };
    let action = move |act: PersonAction, label: String| {
        view! {
            <ActionForm action=manage attr:class="inline-form">
                <input type="hidden" name="id" value=u.id />
                <input type="hidden" name="action" value=act.as_str() />
                <button type="submit" class="button-secondary">{label}</button>
            </ActionForm>
        }
    };
    let who = u.display_name.clone();
    view! {
        <tr data-username=u.username.clone()>
            <td>
                <span class="person-name">{u.display_name.clone()}</span>
                " "
                <span class="meta">{u.username.clone()}</span>
                {u.is_you.then(|| view! { <span class="meta">" (you)"</span> })}
            </td>
            <td data-label="Roles">{roles}</td>
            <td data-label="Signs in with">{method}</td>
            <td data-label="Last sign-in">{u.last_sign_in_at.map_or_else(|| "never".to_string(), display)}</td>
            <td data-label="Open sessions">{u.open_sessions}</td>
            <td data-label="Status">
                {match u.disabled_at {
                    Some(at) => view! { <span class="badge badge-disabled">{format!("Disabled {}", display(at))}</span> }.into_any(),
                    None => view! { <span class="badge badge-enabled">"Enabled"</span> }.into_any(),
                }}
            </td>
            <td class="row-actions">
                {(u.open_sessions > 0).then(|| action(PersonAction::EndSessions, format!("End sessions of {who}")))}
                {match (u.disabled_at.is_some(), u.is_you) {
                    (true, _) => Some(action(PersonAction::Enable, format!("Enable {who}"))),
                    (false, false) => Some(action(PersonAction::Disable, format!("Disable {who}"))),
                    (false, true) => None,
                }}
            </td>
        </tr>
    }
}
