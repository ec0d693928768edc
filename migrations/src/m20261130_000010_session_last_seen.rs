//! Sessions remember when they were last used, for the idle timeout.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(timestamp_with_time_zone_null(Sessions::LastSeenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Plain SQL: sea-query quotes the column twice for SQLite.
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE sessions DROP COLUMN last_seen_at")
            .await
            .map(|_| ())
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    LastSeenAt,
}
