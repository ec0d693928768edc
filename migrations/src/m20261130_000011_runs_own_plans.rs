//! Runs carry the plan they execute; rollbacks name the run they undo, who asked for them and
//! who approved their undo plan (never the same person); at most one active run per request.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// States of a run that still has work ahead of it.
const ACTIVE: &str = "('awaiting_approval', 'queued', 'running')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            text_null(Jobs::PlanJson),
            integer_null(Jobs::TargetRun),
            integer_null(Jobs::RequestedBy),
            integer_null(Jobs::ApprovedBy),
            timestamp_with_time_zone_null(Jobs::ApprovedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        // Apply runs ran the plan their request carried with the same hash.
        db.execute_unprepared(
            "UPDATE jobs SET plan_json = (SELECT c.plan_json FROM change_requests c \
             WHERE c.id = jobs.request_id AND c.plan_hash = jobs.plan_hash) WHERE kind = 'apply'",
        )
        .await?;
        // Two active runs of one request (a double click) leave the oldest.
        db.execute_unprepared(&format!(
            "UPDATE jobs SET state = 'cancelled', reason = 'a second active run of its request' \
             WHERE state IN {ACTIVE} AND id NOT IN \
             (SELECT MIN(id) FROM jobs WHERE state IN {ACTIVE} GROUP BY request_id)"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX jobs_one_active_run ON jobs (request_id) WHERE state IN {ACTIVE}"
        ))
        .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION jobs_approver_is_not_requester() RETURNS trigger AS $$ \
                     BEGIN IF NEW.approved_by IS NOT NULL AND NEW.approved_by = NEW.requested_by THEN \
                     RAISE EXCEPTION 'a rollback is approved by someone other than who asked for it'; \
                     END IF; RETURN NEW; END; $$ LANGUAGE plpgsql",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER jobs_approver_is_not_requester BEFORE INSERT OR UPDATE ON jobs \
                     FOR EACH ROW EXECUTE FUNCTION jobs_approver_is_not_requester()",
                )
                .await?;
            }
            _ => {
                for op in ["INSERT", "UPDATE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER jobs_approver_is_not_requester_{} BEFORE {op} ON jobs \
                         WHEN NEW.approved_by IS NOT NULL AND NEW.approved_by = NEW.requested_by \
                         BEGIN SELECT RAISE(ABORT, 'a rollback is approved by someone other than who asked for it'); END",
                        op.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "DROP TRIGGER IF EXISTS jobs_approver_is_not_requester ON jobs",
                )
                .await?;
                db.execute_unprepared("DROP FUNCTION IF EXISTS jobs_approver_is_not_requester()")
                    .await?;
            }
            _ => {
                for op in ["insert", "update"] {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS jobs_approver_is_not_requester_{op}"
                    ))
                    .await?;
                }
            }
        }
        db.execute_unprepared("DROP INDEX IF EXISTS jobs_one_active_run")
            .await?;
        // Plain SQL: sea-query quotes the column twice for SQLite.
        for column in [
            "plan_json",
            "target_run",
            "requested_by",
            "approved_by",
            "approved_at",
        ] {
            db.execute_unprepared(&format!("ALTER TABLE jobs DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    PlanJson,
    TargetRun,
    RequestedBy,
    ApprovedBy,
    ApprovedAt,
}
