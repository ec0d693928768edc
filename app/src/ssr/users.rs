//! People who have signed in at least once: their roles as last seen, their last sign-in, and
//! whether an admin has disabled them in imlink. The only module that reads or writes `users`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::{Expr, OnConflict},
};

use super::audit::{self, AuditRecord};
use super::auth;
use super::db::begin_write;
use super::entities::users;
use super::state::SessionPolicy;
use crate::domain::roles::{Account, CurrentUser, PersonAction, Role};
use crate::domain::sign_in::SignInMethod;
use crate::error::AppError;
use crate::views::{PortalUser, UserRef};

impl From<users::Model> for CurrentUser {
    fn from(u: users::Model) -> Self {
        CurrentUser {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            roles: Role::parse_list(&u.roles),
        }
    }
}

/// The person with `id`, unless unknown or disabled.
pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<CurrentUser>, AppError> {
    Ok(users::Entity::find_by_id(id)
        .filter(users::Column::DisabledAt.is_null())
        .one(db)
        .await?
        .map(Into::into))
}

/// A person as a sign-in found them.
#[derive(Clone, Debug)]
pub struct Known {
    pub user: CurrentUser,
    /// Disabled in imlink: they get no session.
    pub disabled: bool,
}

/// Creates the person or refreshes their name, roles and sign-in method from the sign-in, in one
/// statement (`INSERT … ON CONFLICT (username) DO UPDATE`), so concurrent first sign-ins of one
/// account all succeed; an enabled person's last sign-in becomes `now`.
pub async fn upsert<C: ConnectionTrait>(
    db: &C,
    account: &Account,
    method: SignInMethod,
    now: DateTime<Utc>,
) -> Result<Known, AppError> {
    let row = users::ActiveModel {
        username: Set(account.username.clone()),
        display_name: Set(account.display_name.clone()),
        roles: Set(Role::join(&account.roles)),
        source: Set(method),
        created_at: Set(now),
        ..Default::default()
    };
    let model = users::Entity::insert(row)
        .on_conflict(
            OnConflict::column(users::Column::Username)
                .update_columns([
                    users::Column::DisplayName,
                    users::Column::Roles,
                    users::Column::Source,
                ])
                .to_owned(),
        )
        .exec_with_returning(db)
        .await?;
    let disabled = model.disabled_at.is_some();
    if !disabled {
        users::Entity::update_many()
            .col_expr(users::Column::LastSignInAt, Expr::value(now))
            .filter(users::Column::Id.eq(model.id))
            .exec(db)
            .await?;
    }
    Ok(Known {
        user: model.into(),
        disabled,
    })
}

/// The people with `ids`, by id.
pub async fn refs<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i32>,
) -> Result<HashMap<i32, UserRef>, AppError> {
    let mut ids: Vec<i32> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            (
                u.id,
                UserRef {
                    id: u.id,
                    username: u.username,
                    display_name: u.display_name,
                },
            )
        })
        .collect())
}

/// Everyone who has signed in, by name, with their open sessions, for `viewer` (an admin).
pub async fn list(
    db: &DatabaseConnection,
    policy: &SessionPolicy,
    viewer: &CurrentUser,
) -> Result<Vec<PortalUser>, AppError> {
    let now = Utc::now();
    let sessions = auth::open_session_counts(db, policy, now).await?;
    Ok(users::Entity::find()
        .order_by_asc(users::Column::DisplayName)
        .order_by_asc(users::Column::Username)
        .all(db)
        .await?
        .into_iter()
        .map(|u| PortalUser {
            open_sessions: sessions.get(&u.id).copied().unwrap_or(0),
            is_you: u.id == viewer.id,
            id: u.id,
            roles: Role::parse_list(&u.roles),
            username: u.username,
            display_name: u.display_name,
            method: u.source,
            last_sign_in_at: u.last_sign_in_at,
            disabled_at: u.disabled_at,
        })
        .collect())
}

/// Applies `action` by `admin` to person `id`: decided and written, with its audit event, in
/// one transaction. An admin cannot disable themselves; disabling someone already disabled
/// (a second click) or enabling someone enabled changes nothing and records nothing.
pub async fn act(
    db: &DatabaseConnection,
    admin: &CurrentUser,
    id: i32,
    action: PersonAction,
) -> Result<(), AppError> {
    let txn = begin_write(db).await?;
    let person = users::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let record =
        AuditRecord::ok(&admin.username, &format!("user.{}", action.as_str())).entity("user", id);
    let record = match action {
        PersonAction::EndSessions => {
            let ended = auth::end_sessions_of(&txn, id).await?;
            record.detail(format!("ended {ended} session(s) of {}", person.username))
        }
        PersonAction::Disable => {
            if id == admin.id {
                return Err(AppError::Conflict(
                    "You cannot disable yourself: another admin has to.".into(),
                ));
            }
            if person.disabled_at.is_some() {
                return Ok(());
            }
            set_disabled_at(&txn, id, Some(now)).await?;
            let ended = auth::end_sessions_of(&txn, id).await?;
            record.detail(format!(
                "disabled {} in imlink; ended {ended} session(s)",
                person.username
            ))
        }
        PersonAction::Enable => {
            if person.disabled_at.is_none() {
                return Ok(());
            }
            set_disabled_at(&txn, id, None).await?;
            record.detail(format!("enabled {} in imlink again", person.username))
        }
    };
    audit::append(&txn, record).await?;
    txn.commit().await?;
    Ok(())
}

async fn set_disabled_at<C: ConnectionTrait>(
    db: &C,
    id: i32,
    at: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    users::Entity::update_many()
        .col_expr(users::Column::DisabledAt, Expr::value(at))
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
