//! The request workflow against real databases: separation of duties, quorum, edits, races,
//! expiry, and the audit trail that records all of it.

mod common;

use app::domain::request::{RequestInput, RequestState};
use app::domain::workflow::{Action, ApprovalPolicy, Verdict};
use app::error::AppError;
use app::ssr::entities::{approvals, audit_events, change_requests};
use app::ssr::requests as service;
use chrono::{Duration, Utc};
use common::{Backend, TestDb, article_request, state, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

fn policy(quorum: u32) -> ApprovalPolicy {
    ApprovalPolicy {
        quorum,
        ..ApprovalPolicy::default()
    }
}

async fn version(t: &TestDb, id: i32) -> i32 {
    change_requests::Entity::find_by_id(id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap()
        .version
}

async fn state_of(t: &TestDb, id: i32) -> RequestState {
    let row = change_requests::Entity::find_by_id(id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    RequestState::parse(&row.state).unwrap()
}

async fn actions(t: &TestDb, id: i32) -> Vec<(String, String, String)> {
    audit_events::Entity::find()
        .filter(audit_events::Column::EntityId.eq(id.to_string()))
        .order_by_asc(audit_events::Column::Id)
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.outcome))
        .collect()
}

/// Votes on the plan the request carries now, as the request page would.
async fn vote(
    s: &app::ssr::state::AppState,
    user: &app::domain::roles::CurrentUser,
    id: i32,
    version: i32,
    decision: Verdict,
    comment: &str,
) -> Result<RequestState, AppError> {
    let hash = common::plan_hash(&s.db, id).await;
    service::vote(s, user, id, version, decision, comment, &hash).await
}

/// Alice files and submits the article's request; returns its id.
async fn filed(t: &TestDb, s: &app::ssr::state::AppState) -> i32 {
    let alice = user(&t.db, "alice").await;
    let id = service::create(s, &alice, &article_request())
        .await
        .unwrap();
    let v = version(t, id).await;
    service::transition(s, &alice, id, v, Action::Submit)
        .await
        .unwrap();
    id
}

async fn file_submit_approve(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(1));
    let id = filed(&t, &s).await;
    assert_eq!(state_of(&t, id).await, RequestState::Submitted);
    let bob = user(&t.db, "bob").await;
    let v = version(&t, id).await;
    let next = vote(&s, &bob, id, v, Verdict::Approve, "looks right")
        .await
        .unwrap();
    assert_eq!(next, RequestState::Approved);
    let trail = actions(&t, id).await;
    let want = [
        ("alice", "request.create", "ok"),
        ("alice", "request.submit", "ok"),
        ("bob", "request.approve", "ok"),
    ];
    assert_eq!(trail.len(), want.len(), "{trail:?}");
    for ((actor, action, outcome), (wa, wn, wo)) in trail.iter().zip(want) {
        assert_eq!(
            (actor.as_str(), action.as_str(), outcome.as_str()),
            (wa, wn, wo)
        );
    }
    let detail = service::detail(&s, &bob, id).await.unwrap();
    assert_eq!(detail.summary.approvals, 1);
    assert_eq!(detail.timeline.len(), 3);
    assert_eq!(
        detail.values.thumbprint,
        "EA5A332496CC05DA69B75B66111C0F78A110D22D"
    );
    let report = app::ssr::audit::verify(&t.db).await.unwrap();
    assert_eq!(report.broken, None);
}

async fn requester_never_approves_own_request(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(1));
    // Erin holds every role, approver included.
    let erin = user(&t.db, "erin").await;
    let id = service::create(&s, &erin, &article_request())
        .await
        .unwrap();
    let v = version(&t, id).await;
    service::transition(&s, &erin, id, v, Action::Submit)
        .await
        .unwrap();
    let v = version(&t, id).await;
    for decision in [Verdict::Approve, Verdict::Reject] {
        let err = vote(&s, &erin, id, v, decision, "mine").await.unwrap_err();
        assert!(
            matches!(err, AppError::Forbidden(ref m) if m.contains("your own request")),
            "{err:?}"
        );
    }
    assert_eq!(state_of(&t, id).await, RequestState::Submitted);
    let denied: Vec<_> = actions(&t, id)
        .await
        .into_iter()
        .filter(|(_, _, o)| o == "denied")
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    let detail = service::detail(&s, &erin, id).await.unwrap();
    assert!(!detail.can.vote);
    assert!(
        detail
            .can
            .vote_blocked
            .unwrap()
            .contains("your own request")
    );
}

async fn database_refuses_a_self_approval_row(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(1));
    let id = filed(&t, &s).await;
    let row = change_requests::Entity::find_by_id(id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    let vote = |approver_id, requester_id| approvals::ActiveModel {
        request_id: Set(id),
        requester_id: Set(requester_id),
        approver_id: Set(approver_id),
        revision: Set(row.revision),
        decision: Set("approve".into()),
        comment: Set(None),
        created_at: Set(Utc::now()),
        withdrawn_at: Set(None),
        ..Default::default()
    };
    // The check constraint: approver = requester.
    let direct = vote(row.requester_id, row.requester_id).insert(&t.db).await;
    assert!(direct.is_err(), "self-approval row accepted");
    // The composite foreign key: lying about who the requester is.
    let bob = user(&t.db, "bob").await;
    let forged = vote(row.requester_id, bob.id).insert(&t.db).await;
    assert!(forged.is_err(), "forged requester accepted");
    assert_eq!(approvals::Entity::find().count(&t.db).await.unwrap(), 0);
}

async fn rejecting_needs_a_comment(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(1));
    let id = filed(&t, &s).await;
    let bob = user(&t.db, "bob").await;
    let v = version(&t, id).await;
    let err = vote(&s, &bob, id, v, Verdict::Reject, "   ")
        .await
        .unwrap_err();
    let fields = err.field_errors().expect("field error");
    assert!(fields.get("comment").is_some());
    assert_eq!(state_of(&t, id).await, RequestState::Submitted);
    let next = vote(&s, &bob, id, v, Verdict::Reject, "wrong certificate")
        .await
        .unwrap();
    assert_eq!(next, RequestState::Rejected);
    let err = service::transition(&s, &user(&t.db, "alice").await, id, v + 1, Action::Cancel)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err:?}");
}

async fn quorum_of_two_distinct_approvers(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(2));
    let id = filed(&t, &s).await;
    let (bob, carol) = (user(&t.db, "bob").await, user(&t.db, "carol").await);
    let v = version(&t, id).await;
    let next = vote(&s, &bob, id, v, Verdict::Approve, "").await.unwrap();
    assert_eq!(next, RequestState::Submitted);
    let err = vote(&s, &bob, id, v + 1, Verdict::Approve, "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Forbidden(ref m) if m.contains("already voted")),
        "{err:?}"
    );
    let next = vote(&s, &carol, id, v + 1, Verdict::Approve, "")
        .await
        .unwrap();
    assert_eq!(next, RequestState::Approved);
}

async fn editing_withdraws_approvals(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(2));
    let id = filed(&t, &s).await;
    let (alice, bob, carol) = (
        user(&t.db, "alice").await,
        user(&t.db, "bob").await,
        user(&t.db, "carol").await,
    );
    let v = version(&t, id).await;
    vote(&s, &bob, id, v, Verdict::Approve, "").await.unwrap();
    let edited = RequestInput {
        port: "5200".into(),
        ..article_request()
    };
    // Bob may not edit Alice's request.
    assert!(service::update(&s, &bob, id, v + 1, &edited).await.is_err());
    service::update(&s, &alice, id, v + 1, &edited)
        .await
        .unwrap();
    let detail = service::detail(&s, &alice, id).await.unwrap();
    assert_eq!(detail.summary.state, RequestState::Submitted);
    assert_eq!(detail.revision, 2);
    assert_eq!(detail.summary.approvals, 0);
    assert!(detail.votes.iter().all(|v| v.withdrawn));
    assert_eq!(detail.values.port, "5200");
    // Carol's approval alone is now 1 of 2; Bob must vote again on the new revision.
    let v = version(&t, id).await;
    let next = vote(&s, &carol, id, v, Verdict::Approve, "").await.unwrap();
    assert_eq!(next, RequestState::Submitted);
    let next = vote(&s, &bob, id, v + 1, Verdict::Approve, "")
        .await
        .unwrap();
    assert_eq!(next, RequestState::Approved);
    let edit_event = actions(&t, id)
        .await
        .into_iter()
        .find(|(_, a, _)| a == "request.edit");
    assert!(edit_event.is_some());
}

async fn racing_approvers_get_one_outcome(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(1));
    for _ in 0..3 {
        let id = filed(&t, &s).await;
        let (bob, carol) = (user(&t.db, "bob").await, user(&t.db, "carol").await);
        let v = version(&t, id).await;
        let (a, b) = tokio::join!(
            vote(&s, &bob, id, v, Verdict::Approve, ""),
            vote(&s, &carol, id, v, Verdict::Reject, "no"),
        );
        let oks = [a.is_ok(), b.is_ok()].iter().filter(|x| **x).count();
        assert_eq!(oks, 1, "{a:?} {b:?}");
        let loser = a.err().or(b.err()).expect("one vote lost");
        assert!(
            matches!(loser, AppError::Conflict(ref m) if m.contains("Someone else")),
            "{loser:?}"
        );
        let st = state_of(&t, id).await;
        assert!(matches!(
            st,
            RequestState::Approved | RequestState::Rejected
        ));
        let votes = approvals::Entity::find()
            .filter(approvals::Column::RequestId.eq(id))
            .count(&t.db)
            .await
            .unwrap();
        assert_eq!(votes, 1);

        // A double click: the same approver twice with the same view.
        let id = filed(&t, &s).await;
        let v = version(&t, id).await;
        let (a, b) = tokio::join!(
            vote(&s, &bob, id, v, Verdict::Approve, ""),
            vote(&s, &bob, id, v, Verdict::Approve, ""),
        );
        assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|x| **x).count(), 1);
        assert_eq!(state_of(&t, id).await, RequestState::Approved);
    }
}

async fn approvals_expire(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(
        &t.db,
        ApprovalPolicy {
            expiry_hours: 1,
            ..policy(1)
        },
    );
    let id = filed(&t, &s).await;
    assert_eq!(service::expire_due(&s, Utc::now()).await.unwrap(), 0);
    let later = Utc::now() + Duration::hours(2);
    assert_eq!(service::expire_due(&s, later).await.unwrap(), 1);
    assert_eq!(state_of(&t, id).await, RequestState::Expired);
    let bob = user(&t.db, "bob").await;
    let v = version(&t, id).await;
    assert!(vote(&s, &bob, id, v, Verdict::Approve, "").await.is_err());
    let trail = actions(&t, id).await;
    assert!(
        trail
            .iter()
            .any(|(a, n, _)| a == "system" && n == "request.expire")
    );
}

async fn invalid_input_changes_nothing(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(1));
    let alice = user(&t.db, "alice").await;
    let bad = RequestInput {
        thumbprint: "EA5A33’; Stop-Computer; ‘".into(),
        ..article_request()
    };
    let err = service::create(&s, &alice, &bad).await.unwrap_err();
    let fields = err.field_errors().expect("field errors");
    assert!(fields.get("thumbprint").is_some());
    assert_eq!(
        fields.value("thumbprint"),
        Some("EA5A33’; Stop-Computer; ‘")
    );
    assert_eq!(
        change_requests::Entity::find().count(&t.db).await.unwrap(),
        0
    );
    assert_eq!(audit_events::Entity::find().count(&t.db).await.unwrap(), 0);
    // Someone without the requester role is refused, and that is audited.
    let dave = user(&t.db, "dave").await;
    assert!(matches!(
        service::create(&s, &dave, &article_request()).await,
        Err(AppError::Forbidden(_))
    ));
    let events = audit_events::Entity::find().all(&t.db).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "denied");
}

async fn cancel_is_for_the_requester(backend: Backend) {
    let t = TestDb::new(backend).await;
    let s = state(&t.db, policy(1));
    let id = filed(&t, &s).await;
    let bob = user(&t.db, "bob").await;
    let v = version(&t, id).await;
    assert!(matches!(
        service::transition(&s, &bob, id, v, Action::Cancel).await,
        Err(AppError::Forbidden(_))
    ));
    let alice = user(&t.db, "alice").await;
    // A stale view is a conflict, not a silent overwrite.
    assert!(matches!(
        service::transition(&s, &alice, id, v - 1, Action::Cancel).await,
        Err(AppError::Conflict(_))
    ));
    let next = service::transition(&s, &alice, id, v, Action::Cancel)
        .await
        .unwrap();
    assert_eq!(next, RequestState::Cancelled);
}

on_both_databases!(
    file_submit_approve,
    requester_never_approves_own_request,
    database_refuses_a_self_approval_row,
    rejecting_needs_a_comment,
    quorum_of_two_distinct_approvers,
    editing_withdraws_approvals,
    racing_approvers_get_one_outcome,
    approvals_expire,
    invalid_input_changes_nothing,
    cancel_is_for_the_requester,
);
