//! One approver's vote on one revision of a request. The database refuses a vote whose approver
//! is the request's requester.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approvals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub request_id: i32,
    pub requester_id: i32,
    pub approver_id: i32,
    pub revision: i32,
    pub decision: String,
    pub comment: Option<String>,
    pub created_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
    /// The plan hash this vote was cast on.
    pub plan_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
