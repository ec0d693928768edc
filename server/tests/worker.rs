//! The worker runs approved plans on the lab: queued with the approval, re-checked, every step
//! recorded, leases fenced.

mod common;

use app::domain::runs::{RunState, StepState};
use app::ssr::entities::{jobs, run_steps};
use app::ssr::lab::Lab;
use app::ssr::state::AppState;
use common::{Backend, TestDb, approved, approved_with, job_of, lab_state, user, version};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use server::config::ExecutorConfig;
use server::executor::Executor;
use server::lab::store::LabStore;
use server::worker::Worker;

/// Asserts that request `id`'s run stopped for attention because of `why`, before any step.
async fn parked_before_any_step(t: &TestDb, id: i32, why: &str) -> jobs::Model {
    let job = job_of(t, id).await;
    assert_eq!(job.state, RunState::NeedsAttention);
    assert!(job.reason.as_deref().unwrap_or("").contains(why), "{job:?}");
    assert!(
        run_steps::Entity::find()
            .all(&t.db)
            .await
            .unwrap()
            .is_empty(),
        "nothing ran"
    );
    job
}

fn worker(s: &AppState, store: &LabStore, owner: &str) -> Worker {
    let executor = Executor::new(&ExecutorConfig::default(), store.clone());
    let mut worker = Worker::new(s.db.clone(), s.settings.clone(), executor, owner.into());
    worker.lease = chrono::Duration::seconds(30);
    worker
}

async fn an_approved_request_runs_to_presence(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    assert_eq!(job_of(&t, id).await.state, RunState::Queued);
    let w = worker(&s, &store, "w1");
    assert!(w.tick().await.unwrap());
    let job = job_of(&t, id).await;
    assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
    let steps = run_steps::Entity::find()
        .filter(run_steps::Column::JobId.eq(job.id))
        .all(&t.db)
        .await
        .unwrap();
    assert_eq!(steps.len(), 8);
    assert!(
        steps
            .iter()
            .all(|s| s.state == StepState::Done && s.output_sha256.len() == 64)
    );
    let recycle = steps
        .iter()
        .find(|s| s.step_id.starts_with("recycle:"))
        .unwrap();
    assert!(recycle.output.contains("successfully recycled"));
    // The transcript tells the run step by step, every output line fenced off.
    let mut ordered = steps.clone();
    ordered.sort_by_key(|s| s.position);
    let transcript = server::render::transcript(&job, &ordered);
    assert!(
        transcript.starts_with(&format!("imlink run {} (apply) of request {id}", job.id)),
        "{transcript}"
    );
    assert!(transcript.contains("State         succeeded"));
    assert!(transcript.contains(&format!("SHA-256   {}", recycle.output_sha256)));
    assert!(transcript.contains(&format!(
        "{}. {} [done]",
        recycle.position + 1,
        recycle.step_id
    )));
    let fenced = transcript
        .lines()
        .filter(|l| l.starts_with("   | "))
        .count();
    assert_eq!(
        fenced,
        ordered
            .iter()
            .map(|s| s.output.lines().count())
            .sum::<usize>()
    );
    // The report: OWA recycled; event 112 and the IM log folder come with the first sign-in.
    let report: Vec<app::views::ServerVerification> =
        serde_json::from_str(job.report.as_deref().unwrap()).unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(
        (
            report[0].recycled,
            report[0].event_112,
            report[0].im_log_folder,
            report[0].error.as_deref()
        ),
        (Some(true), Some(false), Some(false), None),
        "{report:?}"
    );
    assert!(transcript.contains("MSExchangeOWAAppPool recycled by this run"));
    assert!(transcript.contains("Event 112 not logged yet"));
    // Until it is, the documented next checks are listed with their exact commands.
    assert_eq!(report[0].next_checks.len(), 9);
    assert!(
        transcript
            .contains("If event 112 is still missing after people sign in to OWA, check next:")
    );
    assert!(transcript.contains(
        "> Get-ServerHealth -Identity 'atl-mbx-001.litwareinc.com' -HealthSet 'OWA.Protocol.Dep'"
    ));
    assert!(transcript.contains("SIPStack with All Levels and All Flags"));
    // Presence now works in the lab for an eligible user.
    assert!(
        common::lab_change(&t.db, async |txn| store
            .sign_in(txn, "user0001@litwareinc.com")
            .await)
        .await
        .unwrap()
        .presence
    );
    assert!(!w.tick().await.unwrap(), "nothing left to run");
    let trail: Vec<String> = app::ssr::entities::audit_events::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        trail.contains(&"run.start".to_string()) && trail.contains(&"run.succeeded".to_string()),
        "{trail:?}"
    );
    assert_eq!(
        trail.iter().filter(|a| *a == "run.step").count(),
        steps.len(),
        "every step is in the audit trail"
    );
}

/// A request that turns IM off is stored, approved and run like an integration, and leaves
/// the site not integrated; rolling it back integrates the site again.
async fn turning_im_off_runs_like_any_change(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let w = worker(&s, &store, "w1");
    let integrate = approved(&t.db, &s).await;
    assert!(w.tick().await.unwrap());
    assert_eq!(job_of(&t, integrate).await.state, RunState::Succeeded);
    let sites = app::ssr::runs::integrated_sites(&t.db).await.unwrap();
    assert_eq!(sites, ["redmond"]);

    let off = approved_with(&t.db, &s, &app::procedure::samples::turn_off_request()).await;
    let row = app::ssr::entities::change_requests::Entity::find_by_id(off)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.kind, app::domain::request::RequestKind::TurnOff);
    assert_eq!((row.owa_pool_fqdn.as_str(), row.port), ("", 0));
    assert!(w.tick().await.unwrap());
    let job = job_of(&t, off).await;
    assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
    let plan = app::ssr::runs::plan_of(&job).unwrap();
    assert_eq!(plan.kind, app::domain::request::RequestKind::TurnOff);
    assert!(
        app::ssr::runs::integrated_sites(&t.db)
            .await
            .unwrap()
            .is_empty()
    );
    let signed_in = common::lab_change(&t.db, async |txn| {
        store.sign_in(txn, "user0001@litwareinc.com").await
    })
    .await
    .unwrap();
    assert!(!signed_in.presence, "{signed_in:?}");
    assert!(
        signed_in
            .reasons
            .iter()
            .any(|r| r.contains("IM is turned off")),
        "{signed_in:?}"
    );
    // A request naming each server's own certificate is stored whole, on both databases.
    let alice = user(&t.db, "alice").await;
    let both = app::ssr::requests::create(
        &s,
        &alice,
        &app::procedure::samples::request_for("cert-per-server"),
    )
    .await
    .unwrap();
    let row = app::ssr::entities::change_requests::Entity::find_by_id(both)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.thumbprint,
        format!(
            "EA5A332496CC05DA69B75B66111C0F78A110D22D, {}",
            app::procedure::samples::SECOND_THUMBPRINT
        )
    );
}

async fn a_worker_that_lost_its_lease_writes_nothing(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    let a = worker(&s, &store, "a");
    let claimed = a.claim().await.unwrap().unwrap();
    assert!(a.holds(&claimed).await.unwrap());
    // A's lease runs out; B takes the job over.
    let mut expired: jobs::ActiveModel = job_of(&t, id).await.into();
    expired.lease_until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    expired.update(&t.db).await.unwrap();
    let b = worker(&s, &store, "b");
    assert!(
        b.claim().await.unwrap().is_none(),
        "still A's until rescued"
    );
    assert_eq!(b.rescue().await.unwrap(), 1);
    let rescued = job_of(&t, id).await;
    assert_eq!(rescued.state, RunState::Queued);
    assert!(
        rescued
            .reason
            .unwrap()
            .contains("stopped renewing the lease")
    );
    assert!(
        !a.holds(&claimed).await.unwrap(),
        "A must know it lost the job as soon as it is rescued"
    );
    let taken = b.claim().await.unwrap().unwrap();
    assert_eq!(taken.job.id, claimed.job.id);
    assert!(taken.job.fence > claimed.job.fence);
    assert!(
        !a.holds(&claimed).await.unwrap(),
        "A must know it lost the job"
    );
    assert!(b.holds(&taken).await.unwrap());
    // A job whose workers keep dying stops for attention instead of looping.
    let mut worn: jobs::ActiveModel = job_of(&t, id).await.into();
    worn.attempts = Set(server::worker::MAX_ATTEMPTS);
    worn.lease_until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    worn.update(&t.db).await.unwrap();
    assert_eq!(b.rescue().await.unwrap(), 1);
    assert_eq!(job_of(&t, id).await.state, RunState::NeedsAttention);
    assert!(!b.holds(&taken).await.unwrap());
}

async fn a_changed_environment_needs_reapproval(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    common::lab_change(&t.db, async |txn| store.reset(txn, "colocated-um").await)
        .await
        .unwrap();
    let w = worker(&s, &store, "w1");
    assert!(w.tick().await.unwrap());
    parked_before_any_step(&t, id, "environment changed").await;
}

/// Makes the lab unreachable: its stored state becomes unreadable.
async fn unreachable_lab(t: &TestDb, store: &LabStore) {
    use sea_orm::ConnectionTrait;
    common::lab_change(&t.db, async |txn| store.reset(txn, "litware").await)
        .await
        .unwrap();
    t.db.execute_unprepared("UPDATE lab_state SET state_json = 'not json' WHERE id = 1")
        .await
        .unwrap();
}

async fn transient_failures_retry_with_backoff_then_succeed(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    unreachable_lab(&t, &store).await;
    let w = worker(&s, &store, "w1");
    assert!(w.tick().await.unwrap());
    let job = job_of(&t, id).await;
    assert_eq!((job.state.as_str(), job.attempts), ("queued", 1));
    assert!(
        job.run_after > chrono::Utc::now(),
        "it waits before the next try"
    );
    assert!(job.reason.unwrap().starts_with("retrying:"));
    assert!(!w.tick().await.unwrap(), "not before its time");
    // The lab is back; the retry runs to the end.
    common::lab_change(&t.db, async |txn| store.reset(txn, "litware").await)
        .await
        .unwrap();
    let mut due: jobs::ActiveModel = job_of(&t, id).await.into();
    due.run_after = Set(chrono::Utc::now());
    due.update(&t.db).await.unwrap();
    assert!(w.tick().await.unwrap());
    assert_eq!(job_of(&t, id).await.state, RunState::Succeeded);
}

async fn repeated_transient_failures_stop_for_attention(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    unreachable_lab(&t, &store).await;
    let mut worn: jobs::ActiveModel = job_of(&t, id).await.into();
    worn.attempts = Set(server::worker::MAX_ATTEMPTS - 1);
    worn.update(&t.db).await.unwrap();
    assert!(worker(&s, &store, "w1").tick().await.unwrap());
    let job = job_of(&t, id).await;
    assert_eq!(job.state, RunState::NeedsAttention);
    assert!(job.reason.unwrap().contains("gave up after"));
}

async fn one_run_per_site_at_a_time(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let first = approved(&t.db, &s).await;
    let second = approved(&t.db, &s).await;
    let a = worker(&s, &store, "a");
    let claimed = a.claim().await.unwrap().unwrap();
    assert_eq!(claimed.job.request_id, first);
    let b = worker(&s, &store, "b");
    assert!(
        b.claim().await.unwrap().is_none(),
        "the site is busy with request {first}"
    );
    assert_eq!(job_of(&t, second).await.state, RunState::Queued);
}

async fn cancelling_a_request_stops_its_run_and_editing_waits_for_it(backend: Backend) {
    use app::domain::workflow::Action;
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    let w = worker(&s, &store, "w1");
    let claimed = w.claim().await.unwrap().unwrap();
    let alice = user(&t.db, "alice").await;
    let edit = app::ssr::requests::update(
        &s,
        &alice,
        id,
        version(&t.db, id).await,
        &common::article_request(),
    )
    .await
    .unwrap_err();
    assert!(
        edit.to_string().contains("cancel the run before editing"),
        "{edit}"
    );
    assert_eq!(
        job_of(&t, id).await.state,
        RunState::Running,
        "the refused edit changed nothing"
    );
    app::ssr::requests::transition(&s, &alice, id, version(&t.db, id).await, Action::Cancel)
        .await
        .unwrap();
    let job = job_of(&t, id).await;
    assert_eq!(job.state, RunState::Cancelled);
    assert_eq!(job.reason.as_deref(), Some("the request was cancelled"));
    assert!(!w.holds(&claimed).await.unwrap(), "its worker stops");
}

async fn a_missed_window_waits_for_a_new_window_and_approval(backend: Backend) {
    use app::domain::workflow::Verdict;
    use app::ssr::entities::change_requests;
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    // The window closes before any worker gets to the run.
    let mut row: change_requests::ActiveModel = change_requests::Entity::find_by_id(id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.window_start = Set(Some(chrono::Utc::now() - chrono::Duration::hours(2)));
    row.window_end = Set(Some(chrono::Utc::now() - chrono::Duration::hours(1)));
    row.update(&t.db).await.unwrap();
    let w = worker(&s, &store, "w1");
    assert!(w.tick().await.unwrap());
    let missed = parked_before_any_step(&t, id, "change window ended").await;
    // The requester names a new window; it needs a new approval, which queues a new run.
    let alice = user(&t.db, "alice").await;
    let start = chrono::Utc::now() - chrono::Duration::minutes(1);
    let input = app::domain::request::RequestInput {
        window_start: start.format("%Y-%m-%dT%H:%M").to_string(),
        window_end: (start + chrono::Duration::hours(4))
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        ..common::article_request()
    };
    app::ssr::requests::update(&s, &alice, id, version(&t.db, id).await, &input)
        .await
        .unwrap();
    let bob = user(&t.db, "bob").await;
    let hash = common::plan_hash(&t.db, id).await;
    app::ssr::requests::vote(
        &s,
        &bob,
        id,
        version(&t.db, id).await,
        Verdict::Approve,
        "",
        &hash,
    )
    .await
    .unwrap();
    assert!(w.tick().await.unwrap());
    let latest = app::ssr::runs::latest(&t.db, id).await.unwrap().unwrap();
    assert_ne!(latest.id, missed.id);
    assert_eq!(latest.state, RunState::Succeeded, "{:?}", latest.reason);
}

async fn a_rollback_undoes_only_what_its_run_applied_once_another_approver_approves(
    backend: Backend,
) {
    use app::error::AppError;
    use app::procedure::plan::Decision;
    use app::ssr::runs::{self, operate};
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    let w = worker(&s, &store, "w1");
    assert!(w.tick().await.unwrap());
    let run = job_of(&t, id).await;
    assert_eq!(run.state, RunState::Succeeded, "{:?}", run.reason);
    let run_plan = runs::plan_of(&run).expect("the run keeps the plan it ran");
    assert_eq!(run_plan.hash(), run.plan_hash);
    // The requester now edits the request to name another pool: the rollback must still undo
    // only what the run applied, with the commands stored with the run.
    let alice = user(&t.db, "alice").await;
    let edited = app::domain::request::RequestInput {
        owa_pool_fqdn: "atl-owa-002.litwareinc.com".into(),
        ..common::article_request()
    };
    app::ssr::requests::update(&s, &alice, id, version(&t.db, id).await, &edited)
        .await
        .unwrap();
    // Only admins ask for rollbacks.
    let bob = user(&t.db, "bob").await;
    assert!(matches!(
        operate::request_rollback(&s, &bob, id).await,
        Err(AppError::Forbidden(_))
    ));
    let erin = user(&t.db, "erin").await;
    let rollback = operate::request_rollback(&s, &erin, id).await.unwrap();
    let undo = runs::find(&t.db, rollback).await.unwrap().unwrap();
    assert_eq!(undo.state, RunState::AwaitingApproval);
    assert_eq!(undo.target_run, Some(run.id));
    let undo_plan = runs::plan_of(&undo).unwrap();
    let done: Vec<usize> = runs::steps(&t.db, run.id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.position as usize)
        .collect();
    assert_eq!(undo_plan, run_plan.undo(&done, undo_plan.notes[0].clone()));
    let commands = undo_plan
        .steps
        .iter()
        .flat_map(|s| s.apply.iter())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        commands.contains("Remove-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com'"),
        "{commands}"
    );
    assert!(!commands.contains("atl-owa-002"), "{commands}");
    // Nothing runs before a second person approves it; the admin who asked cannot.
    assert!(
        !w.tick().await.unwrap(),
        "an unapproved rollback does not run"
    );
    assert!(matches!(
        operate::approve_rollback(&s, &erin, id, &undo.plan_hash).await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        operate::approve_rollback(&s, &bob, id, &"0".repeat(64)).await,
        Err(AppError::Conflict(_))
    ));
    let dave = user(&t.db, "dave").await;
    assert!(matches!(
        operate::approve_rollback(&s, &dave, id, &undo.plan_hash).await,
        Err(AppError::Forbidden(_))
    ));
    operate::approve_rollback(&s, &bob, id, &undo.plan_hash)
        .await
        .unwrap();
    assert!(w.tick().await.unwrap());
    let undone = runs::find(&t.db, rollback).await.unwrap().unwrap();
    assert_eq!(undone.state, RunState::Succeeded, "{:?}", undone.reason);
    assert_eq!(undone.approved_by, Some(bob.id));
    let ran: Vec<String> = runs::steps(&t.db, rollback)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.step_id)
        .collect();
    let changes: Vec<String> = undo_plan
        .steps
        .iter()
        .filter(|s| s.decision == Decision::Change)
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(
        ran, changes,
        "exactly the undo plan's changes, in its order"
    );
    let view = store.view(None).await.unwrap();
    assert!(view.trusted_pools.is_empty(), "{view:?}");
    // The database refuses an approval by the person who asked, whatever the code does.
    let mut forged: jobs::ActiveModel = undone.into();
    forged.approved_by = Set(Some(erin.id));
    assert!(forged.update(&t.db).await.is_err());
    // The trail tells who asked and who approved.
    let actions: Vec<(String, String)> = app::ssr::entities::audit_events::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action))
        .collect();
    assert!(actions.contains(&("erin".into(), "run.rollback".into())));
    assert!(actions.contains(&("bob".into(), "run.rollback_approve".into())));
}

async fn a_double_click_asks_for_one_rollback(backend: Backend) {
    use app::ssr::runs::operate;
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    assert!(worker(&s, &store, "w1").tick().await.unwrap());
    let erin = user(&t.db, "erin").await;
    let clicks: Vec<_> = (0..8)
        .map(|_| {
            let (s, erin) = (s.clone(), erin.clone());
            tokio::spawn(async move { operate::request_rollback(&s, &erin, id).await })
        })
        .collect();
    let mut made = 0;
    for click in clicks {
        match click.await.unwrap() {
            Ok(_) => made += 1,
            Err(app::error::AppError::Conflict(_)) => {}
            Err(e) => panic!("a click failed: {e:?}"),
        }
    }
    assert_eq!(made, 1, "one rollback, the other clicks refused");
    let rollbacks = jobs::Entity::find()
        .filter(jobs::Column::RequestId.eq(id))
        .filter(jobs::Column::Kind.eq("rollback"))
        .all(&t.db)
        .await
        .unwrap();
    assert_eq!(rollbacks.len(), 1);
    // The database holds at most one active run per request, whatever the code does.
    let mut second: jobs::ActiveModel = rollbacks[0].clone().into();
    second.id = sea_orm::ActiveValue::NotSet;
    assert!(second.insert(&t.db).await.is_err());
    let report = app::ssr::audit::verify(&t.db).await.unwrap();
    assert_eq!(report.broken, None);
}

/// A worker whose run was taken from it mid-step (its lease ran out, another worker rescued
/// and claimed the run) writes nothing at all afterwards: no step state, no output, no report,
/// no release, no audit event.
async fn a_worker_whose_run_was_taken_mid_step_writes_nothing_at_all(backend: Backend) {
    use app::ssr::entities::audit_events;
    use sea_orm::PaginatorTrait;
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    let a = worker(&s, &store, "a");
    let lease = a.claim().await.unwrap().unwrap();
    let step = lease
        .start_step(&t.db, 0, "trusted-pool")
        .await
        .unwrap()
        .expect("a's step starts");
    assert!(
        lease
            .progress(&t.db, &step, Some("half way"))
            .await
            .unwrap()
    );
    // A's lease runs out mid-step; B rescues the run and claims it.
    let mut expired: jobs::ActiveModel = job_of(&t, id).await.into();
    expired.lease_until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    expired.update(&t.db).await.unwrap();
    let b = worker(&s, &store, "b");
    assert_eq!(b.rescue().await.unwrap(), 1);
    let taken = b.claim().await.unwrap().unwrap();
    let steps_before = run_steps::Entity::find().all(&t.db).await.unwrap();
    let job_before = job_of(&t, id).await;
    let events_before = audit_events::Entity::find().count(&t.db).await.unwrap();
    // Everything A still tries lands nowhere.
    assert!(!lease.renew(&t.db).await.unwrap());
    assert!(!lease.mark_applying(&t.db, &step).await.unwrap());
    assert!(
        !lease
            .progress(&t.db, &step, Some("more output"))
            .await
            .unwrap()
    );
    assert!(
        !lease
            .end_step(&t.db, &step, StepState::Done, "finished", "ab")
            .await
            .unwrap()
    );
    assert!(
        lease
            .start_step(&t.db, 1, "trusted-application")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!lease.save_report(&t.db, "[]").await.unwrap());
    assert!(
        !lease
            .release(
                &t.db,
                RunState::Succeeded,
                None,
                None,
                "run.succeeded",
                "x".into()
            )
            .await
            .unwrap()
    );
    assert_eq!(
        run_steps::Entity::find().all(&t.db).await.unwrap(),
        steps_before
    );
    let job_after = job_of(&t, id).await;
    assert_eq!(job_after, job_before);
    assert_eq!(job_after.lease_owner.as_deref(), Some("b"));
    assert_eq!(
        audit_events::Entity::find().count(&t.db).await.unwrap(),
        events_before
    );
    // B, whose run it now is, writes as usual.
    assert!(taken.renew(&t.db).await.unwrap());
    assert!(
        taken
            .start_step(&t.db, 0, "trusted-pool")
            .await
            .unwrap()
            .is_some()
    );
}

on_both_databases!(
    a_worker_whose_run_was_taken_mid_step_writes_nothing_at_all,
    a_rollback_undoes_only_what_its_run_applied_once_another_approver_approves,
    a_double_click_asks_for_one_rollback,
    a_missed_window_waits_for_a_new_window_and_approval,
    cancelling_a_request_stops_its_run_and_editing_waits_for_it,
    an_approved_request_runs_to_presence,
    a_worker_that_lost_its_lease_writes_nothing,
    a_changed_environment_needs_reapproval,
    transient_failures_retry_with_backoff_then_succeed,
    repeated_transient_failures_stop_for_attention,
    one_run_per_site_at_a_time,
    operators_cancel_and_resume_runs,
    a_run_rolls_back_to_where_it_started,
    turning_im_off_runs_like_any_change,
);

async fn operators_cancel_and_resume_runs(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    let erin = user(&t.db, "erin").await;
    app::ssr::runs::operate::cancel(&s, &erin, id)
        .await
        .unwrap();
    assert_eq!(job_of(&t, id).await.state, RunState::Cancelled);
    let w = worker(&s, &store, "w1");
    assert!(!w.tick().await.unwrap(), "a cancelled run does not run");
    app::ssr::runs::operate::resume(&s, &erin, id)
        .await
        .unwrap();
    assert!(w.tick().await.unwrap());
    assert_eq!(job_of(&t, id).await.state, RunState::Succeeded);
    // A finished run can be neither cancelled nor resumed; the refusal is audited.
    assert!(matches!(
        app::ssr::runs::operate::resume(&s, &erin, id).await,
        Err(app::error::AppError::Conflict(_))
    ));
    // Cancelling a running job takes its lease away: its worker writes nothing more.
    let id = approved(&t.db, &s).await;
    let claimed = w.claim().await.unwrap().unwrap();
    app::ssr::runs::operate::cancel(&s, &erin, id)
        .await
        .unwrap();
    assert!(!w.holds(&claimed).await.unwrap());
}

async fn a_run_rolls_back_to_where_it_started(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    let w = worker(&s, &store, "w1");
    assert!(w.tick().await.unwrap());
    assert!(
        common::lab_change(&t.db, async |txn| store
            .sign_in(txn, "user0001@litwareinc.com")
            .await)
        .await
        .unwrap()
        .presence
    );
    let erin = user(&t.db, "erin").await;
    let rollback = app::ssr::runs::operate::request_rollback(&s, &erin, id)
        .await
        .unwrap();
    let undo = jobs::Entity::find_by_id(rollback)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(undo.state, RunState::AwaitingApproval);
    let bob = user(&t.db, "bob").await;
    app::ssr::runs::operate::approve_rollback(&s, &bob, id, &undo.plan_hash)
        .await
        .unwrap();
    // A worker dies while sending the first undo commands: nothing can tell whether they took
    // effect, so the rollback waits for an admin instead of undoing again.
    let dying = worker(&s, &store, "dying");
    let claimed = dying.claim().await.unwrap().unwrap();
    assert_eq!(claimed.job.id, rollback);
    let undo_plan = app::ssr::runs::plan_of(&undo).unwrap();
    let first = undo_plan
        .steps
        .iter()
        .position(|s| s.decision == app::procedure::plan::Decision::Change)
        .unwrap();
    run_steps::ActiveModel {
        job_id: Set(rollback),
        position: Set(first as i32),
        step_id: Set(undo_plan.steps[first].id.clone()),
        state: Set(StepState::Applying),
        output: Set(String::new()),
        output_sha256: Set(String::new()),
        started_at: Set(chrono::Utc::now()),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(&t.db)
    .await
    .unwrap();
    let mut expired: jobs::ActiveModel = claimed.job.into();
    expired.lease_until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    expired.update(&t.db).await.unwrap();
    assert_eq!(w.rescue().await.unwrap(), 1);
    assert!(w.tick().await.unwrap());
    let parked = jobs::Entity::find_by_id(rollback)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parked.state, RunState::NeedsAttention);
    assert!(
        parked
            .reason
            .unwrap()
            .contains("was interrupted while its commands ran")
    );
    app::ssr::runs::operate::resume(&s, &erin, id)
        .await
        .unwrap();
    assert!(w.tick().await.unwrap());
    let job = jobs::Entity::find_by_id(rollback)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
    let view = store.view(None).await.unwrap();
    assert!(
        view.trusted_pools.is_empty() && view.trusted_applications.is_empty(),
        "{view:?}"
    );
    assert!(view.backends[0].im_server_name.is_none());
    assert!(
        view.owa_mailbox_policies
            .iter()
            .all(|(_, _, kind)| kind == "None")
    );
    assert!(
        !common::lab_change(&t.db, async |txn| store
            .sign_in(txn, "user0001@litwareinc.com")
            .await)
        .await
        .unwrap()
        .presence
    );
    // A rollback is not itself rolled back.
    assert!(
        app::ssr::runs::operate::request_rollback(&s, &erin, id)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_wakes_workers_when_a_job_is_queued() {
    let t = TestDb::new(Backend::Postgres).await;
    let (s, store) = lab_state(&t.db);
    // A poll so slow that only a notification can explain a quick start.
    let mut w = worker(&s, &store, "listener");
    w.poll = std::time::Duration::from_secs(3600);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(w.run_until(async move {
        let _ = stopped.await;
    }));
    // Give the worker time to go idle and start listening.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let id = approved(&t.db, &s).await;
    let mut state = RunState::Queued;
    for _ in 0..100 {
        state = job_of(&t, id).await.state;
        if state == RunState::Succeeded {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    running.await.unwrap();
    assert_eq!(state, RunState::Succeeded);
}
