//! Connecting to SQLite or PostgreSQL and applying migrations.

use std::path::Path;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Opens a pool for `url`. SQLite gets WAL mode, foreign keys and a busy timeout, and its
/// file's directory is created.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create the data directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    Database::connect(options).await
}

/// Opens a pool whose sessions use `schema` (PostgreSQL), for isolated tests and deployments
/// that keep imlink in its own schema.
pub async fn connect_in_schema(
    url: &str,
    schema: &str,
    max_connections: u32,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(max_connections)
        .sqlx_logging(false)
        .set_schema_search_path(schema.to_string());
    Database::connect(options).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    on_one_connection(db, async |one| Migrator::up(one, None).await).await
}

/// Rolls the last `steps` migrations back, or every one for `None` (for tests of the
/// migrations themselves).
pub async fn unmigrate(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    on_one_connection(db, async |one| Migrator::down(one, steps).await).await
}

/// Runs `work` with `db`, on SQLite over one connection of its own: migrations then never
/// meet another pooled connection's view of an older schema.
async fn on_one_connection<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce(&DatabaseConnection) -> Result<T, DbErr>,
) -> Result<T, DbErr> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return work(db).await;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let pool = sea_orm::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with((*options).clone())
        .await
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
    let one = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
    let result = work(&one).await;
    one.close().await?;
    result
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/imlink.db?mode=rwc"),
            Some("data/imlink.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x@y/z"), None);
    }
}
