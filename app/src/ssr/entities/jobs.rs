//! A run of an approved request's plan. `fence` grows at every claim: a worker writes only while
//! the fence it claimed with is still the job's.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub request_id: i32,
    /// The approved plan the job runs.
    pub plan_hash: String,
    /// `queued`, `running`, `succeeded`, `failed` or `needs_attention`.
    pub state: String,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub fence: i64,
    /// Not before this time (the start of the change window).
    pub run_after: DateTimeUtc,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// `apply` (run the plan) or `rollback` (undo what the previous run applied).
    pub kind: String,
    /// The verification report of a finished apply run (JSON list of
    /// [`crate::api::models::Evidence`]).
    pub report: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
