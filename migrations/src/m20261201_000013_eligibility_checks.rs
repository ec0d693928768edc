//! Eligibility checks: one row per person looked up, with the verdict and every check as its
//! evidence. The lab's people gained the directory attributes the checks read, so a stored lab
//! starts again from the default scenario.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EligibilityChecks::Table)
                    .col(big_pk_auto(EligibilityChecks::Id))
                    .col(string_len(EligibilityChecks::Upn, 256))
                    .col(string_len(EligibilityChecks::DisplayName, 256))
                    .col(string_len(EligibilityChecks::Source, 32))
                    .col(string_len(EligibilityChecks::Verdict, 32))
                    .col(string_len(EligibilityChecks::Reasons, 512))
                    .col(text(EligibilityChecks::ChecksJson))
                    .col(string_len(EligibilityChecks::AskedBy, 64))
                    .col(timestamp_with_time_zone(EligibilityChecks::AskedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("eligibility_checks_upn")
                    .table(EligibilityChecks::Table)
                    .col(EligibilityChecks::Upn)
                    .col(EligibilityChecks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM lab_state")
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EligibilityChecks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EligibilityChecks {
    Table,
    Id,
    Upn,
    DisplayName,
    Source,
    Verdict,
    Reasons,
    ChecksJson,
    AskedBy,
    AskedAt,
}
