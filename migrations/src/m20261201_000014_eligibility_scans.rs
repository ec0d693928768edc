//! Bulk eligibility checks: a scan (whom it covers, its state and lease, its counts) and one
//! row per person it judged (each person once per scan). On PostgreSQL a queued scan wakes the
//! workers as a queued run does.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EligibilityScans::Table)
                    .col(big_pk_auto(EligibilityScans::Id))
                    .col(string_len(EligibilityScans::Scope, 32))
                    .col(text_null(EligibilityScans::Target))
                    .col(text_null(EligibilityScans::ListJson))
                    .col(string_len(EligibilityScans::Source, 32))
                    .col(string_len(EligibilityScans::State, 32))
                    .col(string_len(EligibilityScans::RequestedBy, 64))
                    .col(timestamp_with_time_zone(EligibilityScans::CreatedAt))
                    .col(timestamp_with_time_zone_null(EligibilityScans::StartedAt))
                    .col(timestamp_with_time_zone_null(EligibilityScans::FinishedAt))
                    .col(timestamp_with_time_zone(EligibilityScans::RunAfter))
                    .col(string_len_null(EligibilityScans::LeaseOwner, 128))
                    .col(timestamp_with_time_zone_null(EligibilityScans::LeaseUntil))
                    .col(big_integer(EligibilityScans::Fence).default(0))
                    .col(integer(EligibilityScans::Attempts).default(0))
                    .col(big_integer(EligibilityScans::Checked).default(0))
                    .col(big_integer(EligibilityScans::Eligible).default(0))
                    .col(big_integer(EligibilityScans::NotEligible).default(0))
                    .col(big_integer(EligibilityScans::Unknown).default(0))
                    .col(text(EligibilityScans::ReasonCounts))
                    .col(text(EligibilityScans::BadLines))
                    .col(text_null(EligibilityScans::Reason))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("eligibility_scans_state")
                    .table(EligibilityScans::Table)
                    .col(EligibilityScans::State)
                    .col(EligibilityScans::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EligibilityScanPeople::Table)
                    .col(big_pk_auto(EligibilityScanPeople::Id))
                    .col(big_integer(EligibilityScanPeople::ScanId))
                    .col(string_len(EligibilityScanPeople::Upn, 256))
                    .col(string_len(EligibilityScanPeople::DisplayName, 256))
                    .col(string_len_null(EligibilityScanPeople::SipAddress, 256))
                    .col(string_len(EligibilityScanPeople::Verdict, 32))
                    .col(string_len(EligibilityScanPeople::Reasons, 512))
                    .col(text(EligibilityScanPeople::ChecksJson))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EligibilityScanPeople::Table, EligibilityScanPeople::ScanId)
                            .to(EligibilityScans::Table, EligibilityScans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("eligibility_scan_people_once")
                    .table(EligibilityScanPeople::Table)
                    .col(EligibilityScanPeople::ScanId)
                    .col(EligibilityScanPeople::Upn)
                    .unique()
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE FUNCTION imlink_scans_notify() RETURNS trigger AS $$ \
                 BEGIN IF NEW.state = 'queued' THEN PERFORM pg_notify('imlink_jobs', 'scan'); END IF; \
                 RETURN NEW; END; $$ LANGUAGE plpgsql",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER imlink_scans_notify AFTER INSERT OR UPDATE OF state, run_after \
                 ON eligibility_scans FOR EACH ROW EXECUTE FUNCTION imlink_scans_notify()",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS imlink_scans_notify ON eligibility_scans",
            )
            .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS imlink_scans_notify()")
                .await?;
        }
        manager
            .drop_table(Table::drop().table(EligibilityScanPeople::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EligibilityScans::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EligibilityScans {
    Table,
    Id,
    Scope,
    Target,
    ListJson,
    Source,
    State,
    RequestedBy,
    CreatedAt,
    StartedAt,
    FinishedAt,
    RunAfter,
    LeaseOwner,
    LeaseUntil,
    Fence,
    Attempts,
    Checked,
    Eligible,
    NotEligible,
    Unknown,
    ReasonCounts,
    BadLines,
    Reason,
}

#[derive(DeriveIden)]
enum EligibilityScanPeople {
    Table,
    Id,
    ScanId,
    Upn,
    DisplayName,
    SipAddress,
    Verdict,
    Reasons,
    ChecksJson,
}
