//! People who have signed in at least once.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::entities::users;
use crate::domain::roles::{Account, CurrentUser, Role};
use crate::error::AppError;

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
pub async fn find(db: &DatabaseConnection, id: i32) -> Result<Option<CurrentUser>, AppError> {
    Ok(users::Entity::find_by_id(id).one(db).await?.map(Into::into))
}

/// Creates the user or refreshes their name and roles from the sign-in method.
pub async fn upsert(
    db: &DatabaseConnection,
    account: &Account,
    source: &str,
) -> Result<CurrentUser, AppError> {
    let existing = users::Entity::find()
        .filter(users::Column::Username.eq(&account.username))
        .one(db)
        .await?;
    let roles = Role::join(&account.roles);
    let model = match existing {
        Some(u) => {
            let mut active: users::ActiveModel = u.into();
            active.display_name = Set(account.display_name.clone());
            active.roles = Set(roles);
            active.source = Set(source.to_string());
            active.update(db).await?
        }
        None => {
            users::ActiveModel {
                username: Set(account.username.clone()),
                display_name: Set(account.display_name.clone()),
                roles: Set(roles),
                source: Set(source.to_string()),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    };
    Ok(model.into())
}
