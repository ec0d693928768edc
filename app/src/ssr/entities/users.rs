//! A person who can sign in. `roles` is the comma-separated list of
//! [`crate::domain::roles::Role`] as last seen at sign-in. Read and written only through
//! [`crate::ssr::users`].

use sea_orm::entity::prelude::*;

use crate::domain::sign_in::SignInMethod;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub username: String,
    pub display_name: String,
    pub roles: String,
    /// How the person signs in.
    pub source: SignInMethod,
    pub created_at: DateTimeUtc,
    /// Set while an admin has disabled the person in imlink.
    pub disabled_at: Option<DateTimeUtc>,
    pub last_sign_in_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
