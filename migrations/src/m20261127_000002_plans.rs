//! Plans: each request stores the plan it was last planned with (and the one before, to show
//! what a re-plan changed); each approval records the plan hash it approved.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        for column in [
            text_null(ChangeRequests::PlanJson),
            string_len_null(ChangeRequests::PlanHash, 64),
            timestamp_with_time_zone_null(ChangeRequests::PlannedAt),
            text_null(ChangeRequests::PreviousPlanJson),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ChangeRequests::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Approvals::Table)
                    .add_column(string_len_null(Approvals::PlanHash, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Plain SQL: both backends support DROP COLUMN, and sea-query quotes the column twice
        // for SQLite.
        let db = manager.get_connection();
        for (table, column) in [
            ("approvals", "plan_hash"),
            ("change_requests", "previous_plan_json"),
            ("change_requests", "planned_at"),
            ("change_requests", "plan_hash"),
            ("change_requests", "plan_json"),
        ] {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ChangeRequests {
    Table,
    PlanJson,
    PlanHash,
    PlannedAt,
    PreviousPlanJson,
}

#[derive(DeriveIden)]
enum Approvals {
    Table,
    PlanHash,
}
