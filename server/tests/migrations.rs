//! Migrations apply, roll back and re-apply on both databases.

mod common;

use common::{Backend, TestDb};
use migrations::{Migrator, MigratorTrait};
use sea_orm::EntityTrait;

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
        server::database::unmigrate(&t.db, None)
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

/// The migration that gave requests a kind keeps the requests already there (SQLite rebuilds
/// the table), their votes' references intact, and cannot be undone while a request turns IM
/// off.
async fn request_kinds_keep_existing_requests(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, _store) = common::lab_state(&t.db);
    let last = || async { Migrator::get_applied_migrations(&t.db).await.unwrap().len() };
    let all = last().await;
    let integration = common::approved(&t.db, &s).await;
    server::database::unmigrate(&t.db, Some(1)).await.unwrap();
    assert_eq!(last().await, all - 1);
    server::database::migrate(&t.db).await.unwrap();
    let row = app::ssr::entities::change_requests::Entity::find_by_id(integration)
        .one(&t.db)
        .await
        .unwrap()
        .expect("the request survived");
    assert_eq!(row.kind, app::domain::request::RequestKind::Integrate);
    assert_eq!(row.port, 5199);
    // Its approval still points at it.
    let hash = common::plan_hash(&t.db, integration).await;
    assert_eq!(hash.len(), 64);
    // A request that turns IM off has no place in the older table.
    let alice = common::user(&t.db, "alice").await;
    app::ssr::requests::create(&s, &alice, &app::procedure::samples::turn_off_request())
        .await
        .unwrap();
    assert!(server::database::unmigrate(&t.db, Some(1)).await.is_err());
    let report = app::ssr::audit::verify(&t.db).await.unwrap();
    assert_eq!(report.broken, None);
}

on_both_databases!(down_and_up_again, request_kinds_keep_existing_requests);
