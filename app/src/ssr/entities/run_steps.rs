//! One step of a run: started (checking), applying, then done or failed, with its (bounded)
//! output and the SHA-256 of the whole output. `position` is the step's index in the run's
//! stored plan. Read and written only through [`crate::ssr::runs`].

use sea_orm::entity::prelude::*;

use crate::domain::runs::StepState;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_steps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub job_id: i32,
    pub position: i32,
    pub step_id: String,
    pub state: StepState,
    pub output: String,
    pub output_sha256: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// When its commands were sent (the step became `applying`).
    pub applying_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
