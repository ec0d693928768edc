//! A run: the plan it executes (stored with it), its state and lease. `fence` grows at every
//! claim: a worker writes only while the fence it claimed with is still the job's. Read and
//! written only through [`crate::ssr::runs`].

use sea_orm::entity::prelude::*;

use crate::domain::runs::{RunKind, RunState};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub request_id: i32,
    /// The hash of the plan the job runs (`plan_json`).
    pub plan_hash: String,
    pub state: RunState,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub fence: i64,
    /// Not before this time (the start of the change window).
    pub run_after: DateTimeUtc,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub kind: RunKind,
    /// The verification report of a finished apply run (JSON list of
    /// [`crate::views::ServerVerification`]).
    pub report: Option<String>,
    /// The plan the job runs (JSON of [`crate::procedure::plan::Plan`]): the approved plan of an
    /// apply run, the undo plan of a rollback. `None` only for runs from before plans were
    /// stored with their runs.
    pub plan_json: Option<String>,
    /// The run a rollback undoes.
    pub target_run: Option<i32>,
    /// Who asked for a rollback.
    pub requested_by: Option<i32>,
    /// Who approved a rollback's undo plan (never who asked for it), and when.
    pub approved_by: Option<i32>,
    pub approved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
