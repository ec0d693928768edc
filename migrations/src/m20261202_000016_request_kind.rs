//! A request says what it changes: an integration (every request so far) or turning IM in OWA
//! off. A request that turns IM off has no integration values: its FQDN, application id and
//! thumbprint columns are empty and its port 0, which the port's check now allows for it
//! alone. The thumbprint column holds a list (one certificate per server), so it becomes text.
//!
//! SQLite cannot change a check constraint in place: the table is rebuilt as its documentation
//! prescribes (foreign keys off, new table, copy, drop, rename, indexes, foreign key check).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns every version of the table has, in order.
const COLUMNS: &str = "id, requester_id, state, revision, version, site_id, owa_pool_fqdn, \
    registrar_fqdn, application_id, port, thumbprint, policies, justification, window_start, \
    window_end, created_at, updated_at, submitted_at, decided_at, plan_json, plan_hash, \
    planned_at, previous_plan_json, facts_json";

/// The SQLite table, with or without the kind.
fn sqlite_table(name: &str, with_kind: bool) -> String {
    let (kind, thumbprint, check) = if with_kind {
        (
            ", \"kind\" varchar(32) NOT NULL DEFAULT 'integrate'",
            "text",
            "CHECK (\"kind\" = 'turn_off' OR \"port\" BETWEEN 1 AND 65535)",
        )
    } else {
        ("", "varchar(40)", "CHECK (\"port\" BETWEEN 1 AND 65535)")
    };
    format!(
        "CREATE TABLE \"{name}\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
         \"requester_id\" integer NOT NULL, \"state\" varchar(16) NOT NULL, \"revision\" integer NOT NULL, \
         \"version\" integer NOT NULL, \"site_id\" varchar(64) NOT NULL, \"owa_pool_fqdn\" varchar(253) NOT NULL, \
         \"registrar_fqdn\" varchar(253) NOT NULL, \"application_id\" varchar(64) NOT NULL, \
         \"port\" integer NOT NULL, \"thumbprint\" {thumbprint} NOT NULL, \"policies\" text NOT NULL, \
         \"justification\" text NOT NULL, \"window_start\" timestamp_with_timezone_text NULL, \
         \"window_end\" timestamp_with_timezone_text NULL, \"created_at\" timestamp_with_timezone_text NOT NULL, \
         \"updated_at\" timestamp_with_timezone_text NOT NULL, \"submitted_at\" timestamp_with_timezone_text NULL, \
         \"decided_at\" timestamp_with_timezone_text NULL, \"plan_json\" text NULL, \"plan_hash\" varchar(64) NULL, \
         \"planned_at\" timestamp_with_timezone_text NULL, \"previous_plan_json\" text NULL, \
         \"facts_json\" text NULL{kind}, FOREIGN KEY (\"requester_id\") REFERENCES \"users\" (\"id\"), {check} )"
    )
}

/// Rebuilds the SQLite table with or without the kind, keeping every row.
async fn rebuild_sqlite(manager: &SchemaManager<'_>, with_kind: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
    let txn = manager.begin().await?;
    let conn = txn.get_connection();
    for statement in [
        sqlite_table("change_requests_new", with_kind),
        format!("INSERT INTO change_requests_new ({COLUMNS}) SELECT {COLUMNS} FROM change_requests"),
        "DROP TABLE change_requests".to_string(),
        "ALTER TABLE change_requests_new RENAME TO change_requests".to_string(),
        "CREATE UNIQUE INDEX \"uq_change_requests_id_requester\" ON \"change_requests\" (\"id\", \"requester_id\")"
            .to_string(),
        "CREATE INDEX \"ix_change_requests_state\" ON \"change_requests\" (\"state\")".to_string(),
    ] {
        conn.execute_unprepared(&statement).await?;
    }
    let broken = conn
        .query_all_raw(sea_orm_migration::sea_orm::Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA foreign_key_check",
        ))
        .await?;
    if !broken.is_empty() {
        return Err(DbErr::Migration(format!(
            "rebuilding change_requests would break {} foreign key(s)",
            broken.len()
        )));
    }
    txn.commit().await?;
    db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Sqlite => rebuild_sqlite(manager, true).await,
            _ => {
                for statement in [
                    "ALTER TABLE change_requests ADD COLUMN kind varchar(32) NOT NULL DEFAULT 'integrate'",
                    "ALTER TABLE change_requests ALTER COLUMN thumbprint TYPE text",
                    "ALTER TABLE change_requests DROP CONSTRAINT change_requests_port_check",
                    "ALTER TABLE change_requests ADD CONSTRAINT ck_change_requests_port \
                     CHECK (kind = 'turn_off' OR port BETWEEN 1 AND 65535)",
                ] {
                    db.execute_unprepared(statement).await?;
                }
                Ok(())
            }
        }
    }

    /// Fails while a request turns IM off or names more than one thumbprint: those have no
    /// place in the older table.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let turning_off = db
                    .query_all_raw(sea_orm_migration::sea_orm::Statement::from_string(
                        DatabaseBackend::Sqlite,
                        "SELECT id FROM change_requests WHERE kind <> 'integrate'",
                    ))
                    .await?;
                if !turning_off.is_empty() {
                    return Err(DbErr::Migration(format!(
                        "{} request(s) turn IM off; the older table cannot hold them",
                        turning_off.len()
                    )));
                }
                rebuild_sqlite(manager, false).await
            }
            _ => {
                for statement in [
                    "ALTER TABLE change_requests DROP CONSTRAINT ck_change_requests_port",
                    "ALTER TABLE change_requests ADD CONSTRAINT change_requests_port_check \
                     CHECK (port BETWEEN 1 AND 65535)",
                    "ALTER TABLE change_requests ALTER COLUMN thumbprint TYPE varchar(40)",
                    "ALTER TABLE change_requests DROP COLUMN kind",
                ] {
                    db.execute_unprepared(statement).await?;
                }
                Ok(())
            }
        }
    }
}
