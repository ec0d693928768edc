//! SeaORM migrations for imlink. `imlink migrate` and `imlink serve` run [`Migrator::up`].

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_foundation;
mod m20261127_000002_plans;
mod m20261127_000003_plan_facts;
mod m20261127_000004_lab_state;
mod m20261127_000005_jobs;
mod m20261127_000006_job_kind;
mod m20261127_000007_jobs_notify;
mod m20261127_000008_jobs_notify_free;
mod m20261127_000009_job_report;
mod m20261130_000010_session_last_seen;
mod m20261130_000011_runs_own_plans;
mod m20261130_000012_step_applying_since;
mod m20261201_000013_eligibility_checks;
mod m20261201_000014_eligibility_scans;
mod m20261201_000015_people_and_oidc;
mod m20261202_000016_request_kind;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_foundation::Migration),
            Box::new(m20261127_000002_plans::Migration),
            Box::new(m20261127_000003_plan_facts::Migration),
            Box::new(m20261127_000004_lab_state::Migration),
            Box::new(m20261127_000005_jobs::Migration),
            Box::new(m20261127_000006_job_kind::Migration),
            Box::new(m20261127_000007_jobs_notify::Migration),
            Box::new(m20261127_000008_jobs_notify_free::Migration),
            Box::new(m20261127_000009_job_report::Migration),
            Box::new(m20261130_000010_session_last_seen::Migration),
            Box::new(m20261130_000011_runs_own_plans::Migration),
            Box::new(m20261130_000012_step_applying_since::Migration),
            Box::new(m20261201_000013_eligibility_checks::Migration),
            Box::new(m20261201_000014_eligibility_scans::Migration),
            Box::new(m20261201_000015_people_and_oidc::Migration),
            Box::new(m20261202_000016_request_kind::Migration),
        ]
    }
}
