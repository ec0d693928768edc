//! The lab in the portal: its state in the database, survives restarts, and is what requests
//! are planned against when no facts file is configured.

mod common;

use app::domain::workflow::Action;
use app::ssr::lab::Lab;
use common::{Backend, TestDb, article_request, user};
use server::lab::store::LabStore;

async fn the_lab_persists_and_plans(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = LabStore::new(t.db.clone());
    let view = store.view(None).await.unwrap();
    assert_eq!(view.scenario, "litware");
    assert_eq!(view.users, server::lab::USERS);
    assert!(view.people.iter().all(|p| !p.presence));
    assert_eq!(view.tried, None);
    // Asked about one person (the page's answer to a sign-in posted without JavaScript).
    let tried = store.view(Some("user0001@litwareinc.com")).await.unwrap();
    let tried = tried.tried.expect("the person tried is shown");
    assert_eq!(tried.upn, "user0001@litwareinc.com");
    assert!(!tried.presence && !tried.reasons.is_empty());

    // Requests are planned against the lab.
    let (s, _) = common::lab_state(&t.db);
    let alice = user(&t.db, "alice").await;
    let id = app::ssr::requests::create(&s, &alice, &article_request())
        .await
        .unwrap();
    app::ssr::requests::transition(&s, &alice, id, 1, Action::Submit)
        .await
        .unwrap();
    let detail = app::ssr::requests::detail(&s, &alice, id).await.unwrap();
    let plan = detail.plan.unwrap().plan;
    assert!(plan.failures().is_empty());
    assert!(plan.changes().any(|s| s.id == "trusted-pool"));

    // Changes are kept in the database: a second store (a restart) sees them.
    common::lab_change(&t.db, async |txn| {
        store
            .install_cumulative_update(txn, "atl-mbx-001.litwareinc.com")
            .await
    })
    .await
    .unwrap();
    common::lab_change(&t.db, async |txn| store.reset(txn, "site-id-differs").await)
        .await
        .unwrap();
    let again = LabStore::new(t.db.clone()).view(None).await.unwrap();
    assert_eq!(again.scenario, "site-id-differs");
    assert_eq!(again.sites, vec![("1".to_string(), "Redmond".to_string())]);
    assert!(
        common::lab_change(&t.db, async |txn| store.reset(txn, "nowhere").await)
            .await
            .is_err()
    );
    let sign_in = common::lab_change(&t.db, async |txn| {
        store.sign_in(txn, "user0001@litwareinc.com").await
    })
    .await
    .unwrap();
    assert!(!sign_in.presence);
    let facts = store.discover().await.unwrap();
    assert_eq!(facts.lync.sites[0].site_id, "1");
}

on_both_databases!(the_lab_persists_and_plans);
