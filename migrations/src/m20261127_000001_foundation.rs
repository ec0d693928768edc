//! Users, sessions, change requests, approvals and the hash-chained audit trail.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// SHA-256 of nothing yet: the hash the first audit event chains from.
const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Username, 64))
                    .col(string_len(Users::DisplayName, 128))
                    .col(string_len(Users::Roles, 128))
                    .col(string_len(Users::Source, 16))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(integer(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ChangeRequests::Table)
                    .col(pk_auto(ChangeRequests::Id))
                    .col(integer(ChangeRequests::RequesterId))
                    .col(string_len(ChangeRequests::State, 16))
                    .col(integer(ChangeRequests::Revision))
                    .col(integer(ChangeRequests::Version))
                    .col(string_len(ChangeRequests::SiteId, 64))
                    .col(string_len(ChangeRequests::OwaPoolFqdn, 253))
                    .col(string_len(ChangeRequests::RegistrarFqdn, 253))
                    .col(string_len(ChangeRequests::ApplicationId, 64))
                    .col(integer(ChangeRequests::Port))
                    .col(string_len(ChangeRequests::Thumbprint, 40))
                    .col(text(ChangeRequests::Policies))
                    .col(text(ChangeRequests::Justification))
                    .col(timestamp_with_time_zone_null(ChangeRequests::WindowStart))
                    .col(timestamp_with_time_zone_null(ChangeRequests::WindowEnd))
                    .col(timestamp_with_time_zone(ChangeRequests::CreatedAt))
                    .col(timestamp_with_time_zone(ChangeRequests::UpdatedAt))
                    .col(timestamp_with_time_zone_null(ChangeRequests::SubmittedAt))
                    .col(timestamp_with_time_zone_null(ChangeRequests::DecidedAt))
                    .check(Expr::col(ChangeRequests::Port).between(1, 65535))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChangeRequests::Table, ChangeRequests::RequesterId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Target of the approvals' composite foreign key: pins each vote to the real requester.
        manager
            .create_index(
                Index::create()
                    .name("uq_change_requests_id_requester")
                    .table(ChangeRequests::Table)
                    .col(ChangeRequests::Id)
                    .col(ChangeRequests::RequesterId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_change_requests_state")
                    .table(ChangeRequests::Table)
                    .col(ChangeRequests::State)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Approvals::Table)
                    .col(pk_auto(Approvals::Id))
                    .col(integer(Approvals::RequestId))
                    .col(integer(Approvals::RequesterId))
                    .col(integer(Approvals::ApproverId))
                    .col(integer(Approvals::Revision))
                    .col(string_len(Approvals::Decision, 16))
                    .col(text_null(Approvals::Comment))
                    .col(timestamp_with_time_zone(Approvals::CreatedAt))
                    .col(timestamp_with_time_zone_null(Approvals::WithdrawnAt))
                    // Separation of duties, enforced by the database itself.
                    .check((
                        Alias::new("ck_approvals_not_requester"),
                        Expr::col(Approvals::ApproverId).ne(Expr::col(Approvals::RequesterId)),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_approvals_request_requester")
                            .from(
                                Approvals::Table,
                                (Approvals::RequestId, Approvals::RequesterId),
                            )
                            .to(
                                ChangeRequests::Table,
                                (ChangeRequests::Id, ChangeRequests::RequesterId),
                            ),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_approvals_approver")
                            .from(Approvals::Table, Approvals::ApproverId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_approvals_one_vote_per_revision")
                    .table(Approvals::Table)
                    .col(Approvals::RequestId)
                    .col(Approvals::ApproverId)
                    .col(Approvals::Revision)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_integer(AuditEvents::Id).primary_key())
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string_len(AuditEvents::Actor, 64))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len(AuditEvents::Outcome, 16))
                    .col(string_len_null(AuditEvents::EntityType, 32))
                    .col(string_len_null(AuditEvents::EntityId, 64))
                    .col(text_null(AuditEvents::Before))
                    .col(text_null(AuditEvents::After))
                    .col(text_null(AuditEvents::Detail))
                    .col(string_len(AuditEvents::PrevHash, 64))
                    .col(string_len(AuditEvents::Hash, 64))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_audit_events_entity", AuditEvents::EntityId),
            ("ix_audit_events_actor", AuditEvents::Actor),
            ("ix_audit_events_action", AuditEvents::Action),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        // One row: the sequence number and hash of the newest event. Appenders update it first,
        // which serializes them on every backend.
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::Seq))
                    .col(string_len(AuditHead::LastHash, 64))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO audit_head (id, seq, last_hash) VALUES (1, 0, '{GENESIS_HASH}')"
        ))
        .await?;

        // The trail is append-only: the database refuses updates and deletes.
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events \
                     FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
                )
                .await?;
            }
            _ => {
                for op in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER audit_events_no_{} BEFORE {op} ON audit_events \
                         BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
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
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
            )
            .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS audit_events_append_only()")
                .await?;
        }
        for table in [
            AuditHead::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Approvals::Table.into_iden(),
            ChangeRequests::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    DisplayName,
    Roles,
    Source,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ChangeRequests {
    Table,
    Id,
    RequesterId,
    State,
    Revision,
    Version,
    SiteId,
    OwaPoolFqdn,
    RegistrarFqdn,
    ApplicationId,
    Port,
    Thumbprint,
    Policies,
    Justification,
    WindowStart,
    WindowEnd,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Approvals {
    Table,
    Id,
    RequestId,
    RequesterId,
    ApproverId,
    Revision,
    Decision,
    Comment,
    CreatedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    Actor,
    Action,
    Outcome,
    EntityType,
    EntityId,
    Before,
    After,
    Detail,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Seq,
    LastHash,
}
