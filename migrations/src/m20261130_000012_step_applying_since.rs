//! A step remembers when its commands were sent, so a step interrupted while they ran is
//! checked again only once they can no longer be running.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RunSteps::Table)
                    .add_column(timestamp_with_time_zone_null(RunSteps::ApplyingSince))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Plain SQL: sea-query quotes the column twice for SQLite.
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE run_steps DROP COLUMN applying_since")
            .await
            .map(|_| ())
    }
}

#[derive(DeriveIden)]
enum RunSteps {
    Table,
    ApplyingSince,
}
