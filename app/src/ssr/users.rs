//! People who have signed in at least once.

use chrono::Utc;
use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::OnConflict};

use super::entities::users;
use crate::domain::roles::{Account, CurrentUser, Role};
use crate::error::AppError;
use crate::views::UserRef;

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

/// The user with `id`, if any.
pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<CurrentUser>, AppError> {
    Ok(users::Entity::find_by_id(id).one(db).await?.map(Into::into))
}

/// Creates the user or refreshes their name and roles from the sign-in method, in one
/// statement (`INSERT … ON CONFLICT (username) DO UPDATE`), so concurrent first sign-ins of one
/// account all succeed.
pub async fn upsert<C: ConnectionTrait>(
    db: &C,
    account: &Account,
    source: &str,
) -> Result<CurrentUser, AppError> {
    let row = users::ActiveModel {
        username: Set(account.username.clone()),
        display_name: Set(account.display_name.clone()),
        roles: Set(Role::join(&account.roles)),
        source: Set(source.to_string()),
        created_at: Set(Utc::now()),
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
    Ok(model.into())
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
