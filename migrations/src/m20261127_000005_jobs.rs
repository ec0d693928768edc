//! The durable run queue: one job per approved request, and the result of each step it ran.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_auto(Jobs::Id))
                    .col(integer(Jobs::RequestId))
                    .col(string_len(Jobs::PlanHash, 64))
                    .col(string_len(Jobs::State, 24))
                    .col(integer(Jobs::Attempts))
                    .col(string_len_null(Jobs::LeaseOwner, 64))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                    .col(big_integer(Jobs::Fence))
                    .col(timestamp_with_time_zone(Jobs::RunAfter))
                    .col(text_null(Jobs::Reason))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_jobs_state")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RunSteps::Table)
                    .col(pk_auto(RunSteps::Id))
                    .col(integer(RunSteps::JobId))
                    .col(integer(RunSteps::Position))
                    .col(string_len(RunSteps::StepId, 255))
                    .col(string_len(RunSteps::State, 16))
                    .col(text(RunSteps::Output))
                    .col(string_len(RunSteps::OutputSha256, 64))
                    .col(timestamp_with_time_zone(RunSteps::StartedAt))
                    .col(timestamp_with_time_zone_null(RunSteps::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_run_steps_job_position")
                    .table(RunSteps::Table)
                    .col(RunSteps::JobId)
                    .col(RunSteps::Position)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RunSteps::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    RequestId,
    PlanHash,
    State,
    Attempts,
    LeaseOwner,
    LeaseUntil,
    Fence,
    RunAfter,
    Reason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RunSteps {
    Table,
    Id,
    JobId,
    Position,
    StepId,
    State,
    Output,
    OutputSha256,
    StartedAt,
    FinishedAt,
}
