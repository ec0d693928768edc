//! People managed in imlink (disabled, last sign-in) and OpenID Connect sign-ins in progress.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [Users::DisabledAt, Users::LastSignInAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OidcSignIns::Table)
                    .col(string(OidcSignIns::StateHash).primary_key())
                    .col(string(OidcSignIns::BrowserHash))
                    .col(string(OidcSignIns::Nonce))
                    .col(string(OidcSignIns::PkceVerifier))
                    .col(string(OidcSignIns::ReturnTo))
                    .col(timestamp_with_time_zone(OidcSignIns::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oidc_sign_ins_expires_at")
                    .table(OidcSignIns::Table)
                    .col(OidcSignIns::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OidcSignIns::Table).to_owned())
            .await?;
        let db = manager.get_connection();
        // Plain SQL: sea-query quotes the column twice for SQLite.
        for column in ["disabled_at", "last_sign_in_at"] {
            db.execute_unprepared(&format!("ALTER TABLE users DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    DisabledAt,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum OidcSignIns {
    Table,
    StateHash,
    BrowserHash,
    Nonce,
    PkceVerifier,
    ReturnTo,
    ExpiresAt,
}
