//! Migrations apply, roll back and re-apply on both databases.

mod common;

use common::{Backend, TestDb};
use migrations::{Migrator, MigratorTrait};

async fn down_and_up_again(backend: Backend) {
    let t = TestDb::new(backend).await;
    Migrator::down(&t.db, None).await.expect("down");
    assert!(
        Migrator::get_applied_migrations(&t.db)
            .await
            .unwrap()
            .is_empty()
    );
    Migrator::up(&t.db, None).await.expect("up again");
    assert_eq!(
        Migrator::get_pending_migrations(&t.db).await.unwrap().len(),
        0
    );
    let report = app::ssr::audit::verify(&t.db).await.unwrap();
    assert_eq!((report.events, report.broken), (0, None));
}

on_both_databases!(down_and_up_again);
