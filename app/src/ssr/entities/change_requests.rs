//! An integration request. `revision` counts edits (votes belong to one revision); `version`
//! counts every write and guards against lost updates.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub requester_id: i32,
    pub state: String,
    pub revision: i32,
    pub version: i32,
    pub site_id: String,
    /// What the request changes; the integration columns below are empty (and `port` 0) for
    /// a request that turns IM off.
    pub kind: crate::domain::request::RequestKind,
    pub owa_pool_fqdn: String,
    pub registrar_fqdn: String,
    pub application_id: String,
    pub port: i32,
    pub thumbprint: String,
    /// JSON of [`crate::domain::fields::PolicySelection`].
    pub policies: String,
    pub justification: String,
    pub window_start: Option<DateTimeUtc>,
    pub window_end: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
    pub decided_at: Option<DateTimeUtc>,
    /// JSON of the [`crate::procedure::plan::Plan`] the request was last planned with.
    pub plan_json: Option<String>,
    pub plan_hash: Option<String>,
    pub planned_at: Option<DateTimeUtc>,
    /// The plan before the last re-plan that changed it, to show the difference.
    pub previous_plan_json: Option<String>,
    /// The environment facts the current plan was made from.
    pub facts_json: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
