//! The audit trail is append-only and hash-chained; tampering is found and located.

mod common;

use app::domain::workflow::{Action, ApprovalPolicy};
use app::ssr::audit;
use app::ssr::requests as service;
use common::{Backend, TestDb, article_request, state, user};
use sea_orm::{ConnectionTrait, EntityTrait};

/// Files and submits three requests: six events.
async fn some_history(t: &TestDb) {
    let s = state(&t.db, ApprovalPolicy::default());
    let alice = user(&t.db, "alice").await;
    for _ in 0..3 {
        let id = service::create(&s, &alice, &article_request())
            .await
            .unwrap();
        service::transition(&s, &alice, id, 1, Action::Submit)
            .await
            .unwrap();
    }
    let report = audit::verify(&t.db).await.unwrap();
    assert_eq!(report.events, 6);
    assert_eq!(report.broken, None);
}

async fn drop_guards(t: &TestDb) {
    let statements: &[&str] = match t.backend {
        Backend::Postgres => &["DROP TRIGGER audit_events_append_only ON audit_events"],
        Backend::Sqlite => &[
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_events_no_delete",
        ],
    };
    for sql in statements {
        t.db.execute_unprepared(sql).await.unwrap();
    }
}

async fn the_database_refuses_changes_to_the_trail(backend: Backend) {
    let t = TestDb::new(backend).await;
    some_history(&t).await;
    for sql in [
        "UPDATE audit_events SET actor = 'mallory' WHERE id = 2",
        "DELETE FROM audit_events WHERE id = 2",
    ] {
        assert!(
            t.db.execute_unprepared(sql).await.is_err(),
            "{sql} was allowed"
        );
    }
}

async fn an_altered_event_is_named(backend: Backend) {
    let t = TestDb::new(backend).await;
    some_history(&t).await;
    drop_guards(&t).await;
    t.db.execute_unprepared("UPDATE audit_events SET actor = 'mallory' WHERE id = 4")
        .await
        .unwrap();
    let report = audit::verify(&t.db).await.unwrap();
    let broken = report.broken.expect("tampering not detected");
    assert_eq!(broken.seq, 4, "{broken:?}");
    assert!(broken.reason.contains("altered"), "{broken:?}");
    assert_eq!(report.events, 3);
}

async fn a_rehashed_event_breaks_the_next_link(backend: Backend) {
    let t = TestDb::new(backend).await;
    some_history(&t).await;
    drop_guards(&t).await;
    // A careful forger recomputes the altered event's own hash...
    let mut e = app::ssr::entities::audit_events::Entity::find_by_id(3)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    e.actor = "mallory".into();
    let forged = audit::event_hash(&e);
    t.db.execute_unprepared(&format!(
        "UPDATE audit_events SET actor = 'mallory', hash = '{forged}' WHERE id = 3"
    ))
    .await
    .unwrap();
    // ...which no longer matches what event 4 chained to.
    let broken = audit::verify(&t.db).await.unwrap().broken.unwrap();
    assert_eq!(broken.seq, 4, "{broken:?}");
}

async fn a_deleted_event_is_named(backend: Backend) {
    let t = TestDb::new(backend).await;
    some_history(&t).await;
    drop_guards(&t).await;
    t.db.execute_unprepared("DELETE FROM audit_events WHERE id = 5")
        .await
        .unwrap();
    let broken = audit::verify(&t.db).await.unwrap().broken.unwrap();
    assert_eq!(broken.seq, 5, "{broken:?}");
    assert!(broken.reason.contains("missing"), "{broken:?}");
    // Truncating the tail is caught by the chain head.
    let t = TestDb::new(backend).await;
    some_history(&t).await;
    drop_guards(&t).await;
    t.db.execute_unprepared("DELETE FROM audit_events WHERE id = 6")
        .await
        .unwrap();
    let broken = audit::verify(&t.db).await.unwrap().broken.unwrap();
    assert_eq!(broken.seq, 6, "{broken:?}");
}

on_both_databases!(
    the_database_refuses_changes_to_the_trail,
    an_altered_event_is_named,
    a_rehashed_event_breaks_the_next_link,
    a_deleted_event_is_named,
);
