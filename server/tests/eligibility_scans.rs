//! Bulk eligibility checks on both databases: everyone in the lab's directory checked once,
//! counted per verdict and reason, filtered, paged and exported; a worker that dies mid-scan
//! neither loses nor double-counts anyone; stopping, lists with bad lines, a site's people,
//! an OU; two checks compared across an integration; exports over HTTP for the right roles.

mod common;

use app::domain::runs::RunState;
use app::domain::scans::{ScanInput, ScanState};
use app::error::AppError;
use app::procedure::eligibility::{Code, Verdict};
use app::ssr::eligibility::scans;
use app::ssr::entities::{audit_events, eligibility_scans};
use app::views::ScanFilter;
use common::{Backend, TestDb, approved, job_of, lab_state, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use server::config::ExecutorConfig;
use server::executor::Executor;
use server::lab::store::LabStore;
use server::worker::Worker;

fn everyone() -> ScanInput {
    ScanInput {
        scope: "directory".into(),
        ..ScanInput::default()
    }
}

fn worker(s: &app::ssr::state::AppState, store: &LabStore, name: &str) -> Worker {
    let executor = Executor::new(&ExecutorConfig::default(), store.clone());
    Worker::new(s.db.clone(), s.settings.clone(), executor, name.into())
}

/// Works scans until none is left.
async fn drain(w: &Worker) {
    while w.scan_tick().await.unwrap() {}
}

async fn all_exported(db: &sea_orm::DatabaseConnection, id: i64) -> Vec<String> {
    let mut after = 0;
    let mut upns = Vec::new();
    loop {
        let page = scans::export_page(db, id, after, 333).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        upns.extend(page.into_iter().map(|r| r.upn));
    }
    upns
}

async fn everyone_is_checked_once_counted_filtered_and_exported(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let hana = user(&t.db, "hana").await;
    let id = scans::request(&s, &hana, &everyone()).await.unwrap();
    let queued = scans::view(&s, &hana, id, ScanFilter::default())
        .await
        .unwrap();
    assert_eq!(queued.summary.state, ScanState::Queued);
    assert!(queued.can_cancel);
    drain(&worker(&s, &store, "w1")).await;

    let v = scans::view(&s, &hana, id, ScanFilter::default())
        .await
        .unwrap();
    let sum = &v.summary;
    assert_eq!(sum.state, ScanState::Succeeded, "{:?}", v.reason);
    assert_eq!(sum.checked, 2000);
    assert_eq!(sum.eligible + sum.not_eligible + sum.unknown, 2000);
    // Before any integration the default OWA policy allows no IM: nobody is eligible.
    assert_eq!(sum.not_eligible, 2000);
    let count = |code: Code| v.reason_counts.iter().find(|(c, _)| *c == code).unwrap().1;
    assert_eq!(count(Code::OwaPolicyImOff), 2000);
    // Every 29th person has no mailbox.
    assert_eq!(count(Code::NoMailbox), 2000 / 29);
    assert_eq!(v.people.len() as u64, scans::PAGE);
    assert_eq!((v.matching, v.pages), (2000, 2000u64.div_ceil(scans::PAGE)));
    assert!(!v.can_cancel);

    let filtered = scans::view(
        &s,
        &hana,
        id,
        ScanFilter {
            reason: Some(Code::NoMailbox),
            page: 2,
            ..ScanFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(filtered.matching, 2000 / 29);
    assert_eq!(filtered.filter.page, 2);
    assert!(
        filtered
            .people
            .iter()
            .all(|p| p.reasons.contains(&Code::NoMailbox))
    );
    let none = scans::view(
        &s,
        &hana,
        id,
        ScanFilter {
            verdict: Some(Verdict::Eligible),
            page: 9,
            ..ScanFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (none.matching, none.filter.page, none.people.len()),
        (0, 1, 0)
    );

    let mut exported = all_exported(&t.db, id).await;
    assert_eq!(exported.len(), 2000);
    exported.sort();
    exported.dedup();
    assert_eq!(exported.len(), 2000, "each person once");

    let actions: Vec<String> = audit_events::Entity::find()
        .filter(audit_events::Column::EntityId.eq(id.to_string()))
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["eligibility.scan.requested", "eligibility.scan.succeeded"]
    );
    // Who may: helpdesk, requesters, approvers, admins; not auditors.
    let dave = user(&t.db, "dave").await;
    assert!(matches!(
        scans::request(&s, &dave, &everyone()).await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        scans::view(&s, &dave, id, ScanFilter::default()).await,
        Err(AppError::Forbidden(_))
    ));
}

async fn a_worker_dying_mid_scan_loses_and_double_counts_nobody(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let hana = user(&t.db, "hana").await;
    let id = scans::request(&s, &hana, &everyone()).await.unwrap();
    // The first worker claims the scan, stores one page of people, then dies.
    let lease = common::claim_and_store_one_page(&s, 700).await;
    // Its lease runs out; the rescuer puts the scan back and another worker finishes it.
    eligibility_scans::Entity::update(eligibility_scans::ActiveModel {
        id: Set(id),
        lease_until: Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        ..Default::default()
    })
    .exec(&t.db)
    .await
    .unwrap();
    assert_eq!(scans::rescue(&t.db, 5).await.unwrap(), 1);
    drain(&worker(&s, &store, "rescuer")).await;
    // The dead worker's late write lands nowhere.
    assert!(!lease.store(&t.db, &[], &[]).await.unwrap());
    let v = scans::view(&s, &hana, id, ScanFilter::default())
        .await
        .unwrap();
    assert_eq!(v.summary.state, ScanState::Succeeded);
    assert_eq!(v.summary.checked, 2000);
    assert_eq!(v.summary.not_eligible, 2000);
    let mut exported = all_exported(&t.db, id).await;
    exported.sort();
    exported.dedup();
    assert_eq!(exported.len(), 2000);
}

async fn stopping_lists_sites_and_organizational_units(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let w = worker(&s, &store, "w1");
    let alice = user(&t.db, "alice").await;

    // Stopped before a worker took it: nothing is checked, and it cannot be stopped twice.
    let id = scans::request(&s, &alice, &everyone()).await.unwrap();
    scans::cancel(&s, &alice, id).await.unwrap();
    assert!(!w.scan_tick().await.unwrap());
    assert!(matches!(
        scans::cancel(&s, &alice, id).await,
        Err(AppError::Conflict(_))
    ));
    assert!(matches!(
        scans::cancel(&s, &alice, 999_999).await,
        Err(AppError::NotFound)
    ));

    // A list: found people once each, the rest reported by line.
    let list = ScanInput {
        scope: "list".into(),
        list: "upn\nuser0001@litwareinc.com\nnobody@litwareinc.com\nUSER0001\n\
               sip:user0013@litwareinc.com\nbad\u{7}line\n# done\n"
            .into(),
        ..ScanInput::default()
    };
    let id = scans::request(&s, &alice, &list).await.unwrap();
    drain(&w).await;
    let v = scans::view(&s, &alice, id, ScanFilter::default())
        .await
        .unwrap();
    assert_eq!(v.summary.state, ScanState::Succeeded);
    assert_eq!(v.summary.listed, Some(4));
    assert_eq!(v.summary.checked, 2);
    let lines: Vec<usize> = v.bad_lines.iter().map(|b| b.line).collect();
    assert_eq!(lines, [6, 3], "{:?}", v.bad_lines);
    assert!(
        v.bad_lines[1].message.contains("Nobody"),
        "{:?}",
        v.bad_lines
    );

    // A long list naming someone again on a later page: still once.
    let long = ScanInput {
        scope: "list".into(),
        list: (1..=600)
            .map(|i| format!("user{i:04}\n"))
            .chain(["sip:USER0001@litwareinc.com\n".to_string()])
            .collect(),
        ..ScanInput::default()
    };
    let id = scans::request(&s, &alice, &long).await.unwrap();
    drain(&w).await;
    let v = scans::view(&s, &alice, id, ScanFilter::default())
        .await
        .unwrap();
    assert_eq!(v.summary.state, ScanState::Succeeded, "{:?}", v.reason);
    assert_eq!(v.summary.checked, 600);
    assert_eq!(
        v.summary.eligible + v.summary.not_eligible + v.summary.unknown,
        600
    );

    // Bad input: a field message that keeps what was typed, and nothing stored.
    let before = eligibility_scans::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .len();
    for (input, field) in [
        (
            ScanInput {
                scope: "below".into(),
                base_dn: "<script>alert(1)</script>".into(),
                ..ScanInput::default()
            },
            "base_dn",
        ),
        (
            ScanInput {
                scope: "site".into(),
                site_id: "Red mond'; DROP".into(),
                ..ScanInput::default()
            },
            "site_id",
        ),
        (
            ScanInput {
                scope: "list".into(),
                list: "# only a comment".into(),
                ..ScanInput::default()
            },
            "list",
        ),
    ] {
        match scans::request(&s, &alice, &input).await {
            Err(AppError::Invalid(errors)) => {
                assert!(errors.get(field).is_some(), "{field}: {errors:?}");
                assert_eq!(
                    errors.value(field).unwrap_or_default(),
                    match field {
                        "base_dn" => input.base_dn.as_str(),
                        "site_id" => input.site_id.as_str(),
                        _ => input.list.as_str(),
                    }
                );
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(
        eligibility_scans::Entity::find()
            .all(&t.db)
            .await
            .unwrap()
            .len(),
        before
    );

    // A site's people, an OU, and a site nobody is homed on.
    for (input, expected) in [
        (
            ScanInput {
                scope: "site".into(),
                site_id: "Redmond".into(),
                ..ScanInput::default()
            },
            // Every 10th person is not enabled for Lync and every 31st has no account: no pool.
            (1..=2000).filter(|i| i % 10 != 0 && i % 31 != 0).count() as i64,
        ),
        (
            ScanInput {
                scope: "below".into(),
                base_dn: "CN=Users,DC=litwareinc,DC=com".into(),
                ..ScanInput::default()
            },
            2000,
        ),
        (
            ScanInput {
                scope: "site".into(),
                site_id: "Dublin".into(),
                ..ScanInput::default()
            },
            0,
        ),
    ] {
        let id = scans::request(&s, &alice, &input).await.unwrap();
        drain(&w).await;
        let v = scans::view(&s, &alice, id, ScanFilter::default())
            .await
            .unwrap();
        assert_eq!(v.summary.state, ScanState::Succeeded);
        assert_eq!(v.summary.checked, expected, "{input:?}");
    }
}

async fn two_checks_compared_across_an_integration(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let w = worker(&s, &store, "w1");
    let hana = user(&t.db, "hana").await;
    let before = scans::request(&s, &hana, &everyone()).await.unwrap();
    drain(&w).await;
    let request = approved(&t.db, &s).await;
    assert!(w.tick().await.unwrap());
    assert_eq!(job_of(&t, request).await.state, RunState::Succeeded);
    let after = scans::request(&s, &hana, &everyone()).await.unwrap();
    drain(&w).await;
    let c = scans::compare(&s, &hana, before, after).await.unwrap();
    let now = scans::view(&s, &hana, after, ScanFilter::default())
        .await
        .unwrap();
    assert!(now.summary.eligible > 1000, "{}", now.summary.eligible);
    assert_eq!(c.counts, [now.summary.eligible as u64, 0, 0]);
    assert_eq!(
        c.became_eligible.len(),
        1000,
        "each list shows at most 1,000"
    );
    assert!(c.truncated);
    assert!(c.became_ineligible.is_empty());
    assert_eq!((c.only_before, c.only_after), (0, 0));
    assert!(
        c.became_eligible
            .iter()
            .all(|p| p.before == Verdict::NotEligible)
    );
    // Compared the other way round, the same people lose it.
    let back = scans::compare(&s, &hana, after, before).await.unwrap();
    assert_eq!(back.counts, [0, now.summary.eligible as u64, 0]);
}

/// Dozens of bulk checks asked for at once while two workers take them: every one finishes
/// with everyone counted once, and the audit chain holds.
async fn a_busy_morning_of_bulk_checks_with_two_workers(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let hana = user(&t.db, "hana").await;
    let lists = (1..=24).map(|i| {
        let (s, hana) = (s.clone(), hana.clone());
        tokio::spawn(async move {
            let input = ScanInput {
                scope: "list".into(),
                list: (1..=i).map(|n| format!("user{n:04}\n")).collect(),
                ..ScanInput::default()
            };
            scans::request(&s, &hana, &input).await
        })
    });
    let workers = ["w1", "w2"].map(|name| {
        let w = worker(&s, &store, name);
        tokio::spawn(async move {
            for _ in 0..200 {
                if !w.scan_tick().await.unwrap() {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        })
    });
    let mut ids = Vec::new();
    for done in futures_util::future::join_all(lists).await {
        ids.push(done.unwrap().unwrap());
    }
    for w in workers {
        w.await.unwrap();
    }
    drain(&worker(&s, &store, "w3")).await;
    for (i, id) in ids.iter().enumerate() {
        let v = scans::view(&s, &hana, *id, ScanFilter::default())
            .await
            .unwrap();
        assert_eq!(v.summary.state, ScanState::Succeeded, "#{id}");
        assert_eq!(v.summary.checked, v.summary.listed.unwrap() as i64, "#{id}");
        assert!(v.summary.checked >= 1 && v.summary.checked <= 24, "{i}");
    }
    assert!(
        app::ssr::audit::verify(&t.db)
            .await
            .unwrap()
            .broken
            .is_none()
    );
}

on_both_databases!(
    a_busy_morning_of_bulk_checks_with_two_workers,
    everyone_is_checked_once_counted_filtered_and_exported,
    a_worker_dying_mid_scan_loses_and_double_counts_nobody,
    stopping_lists_sites_and_organizational_units,
    two_checks_compared_across_an_integration,
);

/// The exports over HTTP: streamed for people who may look people up, refused otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_export_over_http_for_the_right_people() {
    use common::http::{send, session};
    let t = TestDb::new(Backend::Sqlite).await;
    let (s, store) = lab_state(&t.db);
    let served = common::http::serve_state(t, s.settings.as_ref().clone(), "127.0.0.1:0").await;
    let hana = user(&served.db.db, "hana").await;
    let id = scans::request(&served.state, &hana, &everyone())
        .await
        .unwrap();
    drain(&worker(&served.state, &store, "w1")).await;
    let path = format!("/people/scans/{id}/results.csv");
    assert_eq!(send(&served.base, "GET", &path, &[], "").await.status, 401);
    let dave = session(&served.base, "dave").await;
    let refused = send(&served.base, "GET", &path, &[("Cookie", dave.as_str())], "").await;
    assert_eq!(refused.status, 403);
    let cookie = session(&served.base, "hana").await;
    let csv = send(
        &served.base,
        "GET",
        &path,
        &[("Cookie", cookie.as_str())],
        "",
    )
    .await;
    assert_eq!(csv.status, 200, "{}", csv.head);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2001);
    assert_eq!(lines[0], "upn,eligible,reasons");
    assert!(lines.contains(&"user0029@litwareinc.com,false,no_mailbox;owa_policy_im_off"));
    let json_path = format!("/people/scans/{id}/results.json");
    let json = send(
        &served.base,
        "GET",
        &json_path,
        &[("Cookie", cookie.as_str())],
        "",
    )
    .await;
    assert_eq!(json.status, 200);
    let first: serde_json::Value = serde_json::from_str(json.body.lines().next().unwrap()).unwrap();
    assert_eq!(first["eligible"], false);
    assert_eq!(json.body.lines().count(), 2000);
    let missing = send(
        &served.base,
        "GET",
        "/people/scans/424242/results.csv",
        &[("Cookie", cookie.as_str())],
        "",
    )
    .await;
    assert_eq!(missing.status, 404);
}
