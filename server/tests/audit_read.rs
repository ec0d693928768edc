//! Reading the audit log as people do: "Who" by name or username in any case, actions by
//! group or exactly, and every actor named as people know them.

mod common;

use app::ssr::audit::{self, AuditRecord, read};
use app::ssr::db::begin_write;
use app::views::AuditFilter;
use common::{Backend, TestDb, user};

async fn record(t: &TestDb, actor: &str, action: &str) {
    let txn = begin_write(&t.db).await.unwrap();
    audit::append(&txn, AuditRecord::ok(actor, action))
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

async fn who_and_what_match_as_people_ask(backend: Backend) {
    let t = TestDb::new(backend).await;
    user(&t.db, "alice").await;
    user(&t.db, "bob").await;
    record(&t, "alice", "request.create").await;
    record(&t, "bob", "run.rollback").await;
    record(&t, "bob", "run.rollback_approve").await;
    record(&t, "worker:imlink:42:1", "run.step").await;
    record(&t, "system", "request.expire").await;
    let find = |actor: &str, action: &str| {
        let filter = AuditFilter {
            actor: actor.into(),
            action: action.into(),
            ..AuditFilter::default()
        };
        let db = t.db.clone();
        async move { read::page(&db, &filter).await.unwrap().entries }
    };

    for who in ["bob", "Bob", "BOB", "bob chen", "ob C", "Bob Chen"] {
        let found = find(who, "").await;
        assert_eq!(found.len(), 2, "{who}: {found:?}");
        assert!(
            found
                .iter()
                .all(|e| e.actor == "bob" && e.actor_name == "Bob Chen")
        );
    }
    // LIKE's wildcards are taken literally.
    for who in ["%", "_", "\\", "b%b"] {
        assert!(find(who, "").await.is_empty(), "{who}");
    }
    let worker = find("worker", "").await;
    assert_eq!(worker.len(), 1);
    assert_eq!(worker[0].actor_name, "The worker on imlink (process 42)");
    assert_eq!(find("alice", "").await[0].actor_name, "Alice Martin");
    assert_eq!(find("system", "").await[0].actor_name, "imlink");

    // A group matches all its actions; an action only itself.
    assert_eq!(find("", "run.").await.len(), 3);
    let exact = find("", "run.rollback").await;
    assert_eq!(exact.len(), 1);
    assert_eq!(exact[0].action, "run.rollback");
    assert_eq!(find("", "").await.len(), 5);
}

on_both_databases!(who_and_what_match_as_people_ask);
