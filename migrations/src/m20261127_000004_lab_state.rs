//! The simulated organization's state, so the lab survives restarts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LabState::Table)
                    .col(integer(LabState::Id).primary_key())
                    .col(string_len(LabState::Scenario, 64))
                    .col(text(LabState::StateJson))
                    .col(timestamp_with_time_zone(LabState::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LabState::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LabState {
    Table,
    Id,
    Scenario,
    StateJson,
    UpdatedAt,
}
