//! Runs are of two kinds: applying a plan, or rolling back what an earlier run applied.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(string_len(Jobs::Kind, 16).default("apply"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Plain SQL: sea-query quotes the column twice for SQLite.
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE jobs DROP COLUMN kind")
            .await
            .map(|_| ())
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Kind,
}
