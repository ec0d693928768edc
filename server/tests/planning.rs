//! Requests carry the plan they were submitted with; approvals are bound to its hash; a re-plan
//! that differs withdraws them and shows what changed.

mod common;

use std::sync::Arc;

use app::domain::request::RequestState;
use app::domain::workflow::{self, Action, ApprovalPolicy, Verdict};
use app::error::AppError;
use app::procedure::samples;
use app::ssr::entities::{approvals, change_requests};
use app::ssr::environment::Environment;
use app::ssr::requests as service;
use app::ssr::state::AppState;
use common::{Backend, TestDb, article_request, plan_hash, state, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Portal state whose environment is a facts file we can rewrite.
fn state_with(t: &TestDb, facts: &app::procedure::facts::Facts) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facts.json");
    std::fs::write(&path, serde_json::to_string(facts).unwrap()).unwrap();
    let mut s = state(&t.db, ApprovalPolicy::default());
    let mut settings = (*s.settings).clone();
    settings.environment = Environment::FactsFile(path);
    s.settings = Arc::new(settings);
    (s, dir)
}

fn rewrite(dir: &tempfile::TempDir, facts: &app::procedure::facts::Facts) {
    std::fs::write(
        dir.path().join("facts.json"),
        serde_json::to_string(facts).unwrap(),
    )
    .unwrap();
}

async fn row(t: &TestDb, id: i32) -> change_requests::Model {
    change_requests::Entity::find_by_id(id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap()
}

async fn submitted(t: &TestDb, s: &AppState) -> i32 {
    let alice = user(&t.db, "alice").await;
    let id = service::create(s, &alice, &article_request())
        .await
        .unwrap();
    let v = row(t, id).await.version;
    service::transition(s, &alice, id, v, Action::Submit)
        .await
        .unwrap();
    id
}

async fn approvals_are_bound_to_the_plan(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, _dir) = state_with(&t, &samples::litware());
    let id = submitted(&t, &s).await;
    let r = row(&t, id).await;
    let hash = r
        .plan_hash
        .clone()
        .expect("submitted requests carry a plan");
    assert!(r.plan_json.is_some());
    let bob = user(&t.db, "bob").await;
    // A vote on a plan the approver did not see is refused.
    let err = service::vote(
        &s,
        &bob,
        id,
        r.version,
        Verdict::Approve,
        "",
        "0".repeat(64).as_str(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AppError::Conflict(ref m) if m.contains("plan")),
        "{err:?}"
    );
    let next = service::vote(&s, &bob, id, r.version, Verdict::Approve, "", &hash)
        .await
        .unwrap();
    assert_eq!(next, RequestState::Approved);
    let vote = approvals::Entity::find()
        .filter(approvals::Column::RequestId.eq(id))
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(vote.plan_hash.as_deref(), Some(hash.as_str()));
    // What a worker re-checks before acting.
    let detail = service::detail(&s, &bob, id).await.unwrap();
    assert_eq!(detail.plan.unwrap().hash, hash);
    let facts = workflow::RequestFacts {
        state: RequestState::Approved,
        requester_id: r.requester_id,
        submitted_at: r.submitted_at,
        votes: vec![workflow::Vote {
            approver_id: bob.id,
            decision: Verdict::Approve,
            plan_hash: vote.plan_hash.clone(),
        }],
        plan_hash: Some(hash),
    };
    assert_eq!(
        workflow::check_runnable(&facts, &s.settings.approval),
        Ok(())
    );
}

async fn a_failed_preflight_blocks_submission(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, _dir) = state_with(&t, &samples::ucma_missing());
    let alice = user(&t.db, "alice").await;
    let id = service::create(&s, &alice, &article_request())
        .await
        .unwrap();
    let err = service::transition(&s, &alice, id, 1, Action::Submit)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Forbidden(ref m) if m.contains("UCMA")),
        "{err:?}"
    );
    assert_eq!(row(&t, id).await.state, "draft");
    // The draft still shows its plan and the failed check.
    let detail = service::detail(&s, &alice, id).await.unwrap();
    assert!(!detail.plan.unwrap().plan.failures().is_empty());
}

async fn a_changed_replan_withdraws_approvals(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, dir) = state_with(&t, &samples::litware());
    let id = submitted(&t, &s).await;
    let bob = user(&t.db, "bob").await;
    let r = row(&t, id).await;
    service::vote(
        &s,
        &bob,
        id,
        r.version,
        Verdict::Approve,
        "",
        &plan_hash(&t.db, id).await,
    )
    .await
    .unwrap();
    let alice = user(&t.db, "alice").await;
    let v = row(&t, id).await.version;
    // Same facts: nothing changes.
    assert!(!service::replan(&s, &alice, id, v).await.unwrap());
    assert_eq!(row(&t, id).await.state, "approved");
    // The environment changed: UM moved onto the OWA server.
    rewrite(&dir, &samples::colocated_um());
    assert!(service::replan(&s, &alice, id, v).await.unwrap());
    let after = row(&t, id).await;
    assert_eq!(after.state, "submitted");
    assert_ne!(after.plan_hash, r.plan_hash);
    assert_eq!(after.previous_plan_json, r.plan_json);
    let detail = service::detail(&s, &alice, id).await.unwrap();
    assert_eq!(detail.summary.approvals, 0);
    let plan = detail.plan.unwrap();
    assert!(
        plan.changes.iter().any(|c| c.id == "trusted-pool"),
        "{:?}",
        plan.changes
    );
    // Auditors cannot re-plan.
    let dave = user(&t.db, "dave").await;
    assert!(matches!(
        service::replan(&s, &dave, id, after.version).await,
        Err(AppError::Forbidden(_))
    ));
}

/// The lab, counting how often it is probed.
struct CountingLab {
    inner: server::lab::store::LabStore,
    probes: std::sync::atomic::AtomicUsize,
}

impl app::ssr::lab::Lab for CountingLab {
    fn view<'a>(
        &'a self,
        tried: Option<&'a str>,
    ) -> app::ssr::lab::Pending<'a, app::views::LabView> {
        self.inner.view(tried)
    }
    fn reset<'a>(
        &'a self,
        txn: &'a sea_orm::DatabaseTransaction,
        scenario: &'a str,
    ) -> app::ssr::lab::Pending<'a, ()> {
        self.inner.reset(txn, scenario)
    }
    fn sign_in<'a>(
        &'a self,
        txn: &'a sea_orm::DatabaseTransaction,
        upn: &'a str,
    ) -> app::ssr::lab::Pending<'a, app::views::LabSignIn> {
        self.inner.sign_in(txn, upn)
    }
    fn install_cumulative_update<'a>(
        &'a self,
        txn: &'a sea_orm::DatabaseTransaction,
        server: &'a str,
    ) -> app::ssr::lab::Pending<'a, ()> {
        self.inner.install_cumulative_update(txn, server)
    }
    fn discover(&self) -> app::ssr::lab::Pending<'_, app::procedure::facts::Facts> {
        self.probes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.discover()
    }
}

/// Portal state planning against a lab that counts its probes, with previews reusing facts for
/// `ttl`.
fn counting(t: &TestDb, ttl: std::time::Duration) -> (AppState, Arc<CountingLab>) {
    let lab = Arc::new(CountingLab {
        inner: server::lab::store::LabStore::new(t.db.clone()),
        probes: Default::default(),
    });
    let state = common::state_with(
        &t.db,
        app::ssr::state::Settings {
            environment: Environment::Lab(lab.clone()),
            preview_facts_ttl: ttl,
            ..common::settings(ApprovalPolicy::default())
        },
    );
    (state, lab)
}

fn probes(lab: &CountingLab) -> usize {
    lab.probes.load(std::sync::atomic::Ordering::SeqCst)
}

async fn previews_probe_at_most_once_per_interval(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, lab) = counting(&t, std::time::Duration::from_millis(600));
    let input = article_request();
    // Twenty previews at once (a busy form, or many people): one probe.
    let previews: Vec<_> = (0..20)
        .map(|_| {
            let (s, input) = (s.clone(), input.clone());
            tokio::spawn(async move { app::ssr::plans::preview(&s, &input).await })
        })
        .collect();
    for p in previews {
        assert!(p.await.unwrap().unwrap().plan.failures().is_empty());
    }
    assert_eq!(probes(&lab), 1);
    app::ssr::plans::preview(&s, &input).await.unwrap();
    assert_eq!(probes(&lab), 1);
    // After the interval the facts are read again.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    app::ssr::plans::preview(&s, &input).await.unwrap();
    assert_eq!(probes(&lab), 2);
    // Saving always plans against fresh facts.
    let alice = user(&t.db, "alice").await;
    service::create(&s, &alice, &input).await.unwrap();
    assert_eq!(probes(&lab), 3);
}

async fn refused_callers_cost_no_probe(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, lab) = counting(&t, std::time::Duration::ZERO);
    let alice = user(&t.db, "alice").await;
    let id = service::create(&s, &alice, &article_request())
        .await
        .unwrap();
    let before = probes(&lab);
    let (bob, dave) = (user(&t.db, "bob").await, user(&t.db, "dave").await);
    let v = row(&t, id).await.version;
    // Editing or submitting someone else's request, or re-planning as an auditor: refused
    // before anything is planned.
    let edit = service::update(&s, &bob, id, v, &article_request()).await;
    assert!(matches!(edit, Err(AppError::Forbidden(_))), "{edit:?}");
    let submit = service::transition(&s, &bob, id, v, Action::Submit).await;
    assert!(matches!(submit, Err(AppError::Forbidden(_))), "{submit:?}");
    let replan = service::replan(&s, &dave, id, v).await;
    assert!(matches!(replan, Err(AppError::Forbidden(_))), "{replan:?}");
    // A stale view is refused before planning too.
    let stale = service::transition(&s, &alice, id, v + 7, Action::Submit).await;
    assert!(matches!(stale, Err(AppError::Conflict(_))), "{stale:?}");
    assert_eq!(probes(&lab), before, "no probe for a refused action");
    // The allowed action plans.
    service::transition(&s, &alice, id, v, Action::Submit)
        .await
        .unwrap();
    assert_eq!(probes(&lab), before + 1);
    assert_eq!(row(&t, id).await.state, "submitted");
}

on_both_databases!(
    previews_probe_at_most_once_per_interval,
    refused_callers_cost_no_probe,
    approvals_are_bound_to_the_plan,
    a_failed_preflight_blocks_submission,
    a_changed_replan_withdraws_approvals,
);
