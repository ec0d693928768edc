//! The environment facts each plan was made from, so it can be replayed and reviewed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChangeRequests::Table)
                    .add_column(text_null(ChangeRequests::FactsJson))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Plain SQL: sea-query quotes the column twice for SQLite.
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE change_requests DROP COLUMN facts_json")
            .await
            .map(|_| ())
    }
}

#[derive(DeriveIden)]
enum ChangeRequests {
    Table,
    FactsJson,
}
