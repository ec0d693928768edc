//! Migrations apply, roll back and re-apply on both databases.

mod common;

use common::{Backend, TestDb};
use migrations::{Migrator, MigratorTrait};

async fn down_and_up_again(backend: Backend) {
    let t = TestDb::new(backend).await;
    // Several times in a row, with the pool busy reading meanwhile.
    for round in 0..5 {
        let reader = {
            let db = t.db.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    let _ = app::ssr::audit::verify(&db).await;
                }
            })
        };
        server::database::unmigrate(&t.db)
            .await
            .unwrap_or_else(|e| panic!("down, round {round}: {e}"));
        assert!(
            Migrator::get_applied_migrations(&t.db)
                .await
                .unwrap()
                .is_empty()
        );
        server::database::migrate(&t.db)
            .await
            .unwrap_or_else(|e| panic!("up again, round {round}: {e}"));
        reader.await.unwrap();
        assert_eq!(
            Migrator::get_pending_migrations(&t.db).await.unwrap().len(),
            0
        );
    }
    let report = app::ssr::audit::verify(&t.db).await.unwrap();
    assert_eq!((report.events, report.broken), (0, None));
}

on_both_databases!(down_and_up_again);
