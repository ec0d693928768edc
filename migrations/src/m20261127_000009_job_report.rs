//! A finished run keeps its verification report (JSON): per back-end server, whether OWA's
//! application pool was recycled, event 112 and the IM log folder.

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
                    .add_column(text_null(Jobs::Report))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Plain SQL: sea-query quotes the column twice for SQLite.
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE jobs DROP COLUMN report")
            .await
            .map(|_| ())
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Report,
}
