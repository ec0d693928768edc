//! People who use imlink, managed by admins: who they are, their roles as last seen, their
//! sessions; end those sessions, disable or enable them.

use leptos::prelude::*;

use crate::domain::roles::PersonAction;
use crate::error::AppError;
use crate::views::PortalUser;

/// Everyone who has signed in (admins only).
#[server(endpoint = "get_portal_users")]
pub async fn get_portal_users() -> Result<Vec<PortalUser>, AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::roles::Role;
            use crate::ssr::{auth::require_any, state::AppState, users};
            let admin = require_any(&[Role::Admin], "user.list").await?;
            let state = AppState::current()?;
            users::list(&state.db, &state.settings.session, &admin).await
        }
        .await,
    )
}

/// Ends a person's sessions, disables or enables them (admins only), then shows the list.
#[server(endpoint = "manage_portal_user")]
pub async fn manage_portal_user(id: i32, action: PersonAction) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::roles::Role;
            use crate::ssr::{auth::require_actor, state::AppState, users};
            let admin = require_actor(&[Role::Admin], "user.manage").await?;
            users::act(&AppState::current()?.db, &admin, id, action).await?;
            leptos_axum::redirect("/users");
            Ok(())
        }
        .await,
    )
}
