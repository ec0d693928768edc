//! On PostgreSQL, a run that ends also wakes the workers: its site is free, so a run queued
//! behind it can start at once instead of at the next poll.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The notification function, announcing queued jobs and, when `free` is set, runs that end.
fn function(free: bool) -> String {
    let ended = if free {
        " OR (TG_OP = 'UPDATE' AND OLD.state = 'running' AND NEW.state <> 'running')"
    } else {
        ""
    };
    format!(
        "CREATE OR REPLACE FUNCTION imlink_jobs_notify() RETURNS trigger AS $$ \
         BEGIN IF NEW.state = 'queued'{ended} THEN PERFORM pg_notify('imlink_jobs', NEW.id::text); END IF; \
         RETURN NEW; END; $$ LANGUAGE plpgsql"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&function(true))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&function(false))
            .await?;
        Ok(())
    }
}
