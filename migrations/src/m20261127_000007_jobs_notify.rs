//! On PostgreSQL, a queued job wakes the workers at once (`NOTIFY imlink_jobs`); they also poll,
//! which is all SQLite needs.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE FUNCTION imlink_jobs_notify() RETURNS trigger AS $$ \
             BEGIN IF NEW.state = 'queued' THEN PERFORM pg_notify('imlink_jobs', NEW.id::text); END IF; \
             RETURN NEW; END; $$ LANGUAGE plpgsql",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER imlink_jobs_notify AFTER INSERT OR UPDATE OF state, run_after ON jobs \
             FOR EACH ROW EXECUTE FUNCTION imlink_jobs_notify()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS imlink_jobs_notify ON jobs")
            .await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS imlink_jobs_notify()")
            .await?;
        Ok(())
    }
}
