//! An OpenID Connect sign-in in progress: single use, for 10 minutes, tied to the browser that
//! started it. Keys are SHA-256 digests of the `state` and of the browser's cookie, so the table
//! alone cannot finish a sign-in. Read and written only through the server's `oidc::pending`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_sign_ins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A local path (checked with [`crate::domain::sign_in::safe_return_to`]).
    pub return_to: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
