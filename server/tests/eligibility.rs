//! Eligibility: the lab's people looked up and judged by the rules, each check stored with its
//! audit event; the rules agree with the lab's own OWA for all 2,000 people once the site is
//! integrated; the CLI prints verdicts with the documented exit statuses.

mod common;

use std::process::Command;

use app::domain::roles::Role;
use app::error::AppError;
use app::procedure::eligibility::{Code, Outcome, Verdict};
use app::ssr::eligibility;
use app::ssr::entities::{audit_events, eligibility_checks};
use common::{Backend, TestDb, approved, job_of, lab_state, user};
use sea_orm::EntityTrait;
use server::config::ExecutorConfig;
use server::executor::Executor;
use server::worker::Worker;

fn reasons(e: &app::procedure::eligibility::Eligibility) -> Vec<&'static str> {
    e.reasons().iter().map(|c| c.as_str()).collect()
}

async fn people_are_found_by_any_name_and_each_lab_fault_has_its_reason(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, _) = lab_state(&t.db);
    for name in [
        "user0010@litwareinc.com",
        "USER0010@LITWAREINC.COM",
        "sip:user0010@litwareinc.com",
        "user0010",
        "  user0010  ",
    ] {
        let (record, _) = eligibility::judge(&s, name).await.unwrap();
        assert_eq!(record.entry.upn, "user0010@litwareinc.com", "{name}");
    }
    // Before any change, the default OWA policy does not allow IM: everyone fails on it, and
    // the site is not integrated (informational).
    let (_, e) = eligibility::judge(&s, "user0001@litwareinc.com")
        .await
        .unwrap();
    assert_eq!(e.verdict, Verdict::NotEligible);
    assert_eq!(reasons(&e), ["owa_policy_im_off"]);
    let site = e
        .checks
        .iter()
        .find(|c| c.code == Code::SiteNotIntegrated)
        .unwrap();
    assert_eq!(site.outcome, Outcome::Fail);
    // Each fault the lab's people carry, with its reason (the policy fails for all of them).
    for (upn, code) in [
        ("user0010", "lync_not_enabled"),
        ("user0013", "mailbox_not_exchange_2013"),
        ("user0017", "no_sip_proxy_address"),
        ("user0019", "sip_proxy_mismatch"),
        ("user0029", "no_mailbox"),
        ("user0031", "lync_not_enabled"),
        ("user0037", "account_disabled"),
        ("user0041", "not_user_mailbox"),
        ("user0047", "not_user_mailbox"),
    ] {
        let (_, e) = eligibility::judge(&s, upn).await.unwrap();
        assert!(reasons(&e).contains(&code), "{upn}: {:?}", reasons(&e));
    }
    // The mismatch's fix adds the Lync address, quoted.
    let (_, e) = eligibility::judge(&s, "user0019").await.unwrap();
    let fix = e
        .checks
        .iter()
        .find(|c| c.code == Code::SipProxyMismatch)
        .and_then(|c| c.fix.clone())
        .unwrap();
    assert_eq!(
        fix,
        "Set-Mailbox -Identity 'user0019@litwareinc.com' -EmailAddresses @{Add='sip:user0019@litwareinc.com'}"
    );
    // Nobody, several people and bad text are field errors on `identity`, keeping the text.
    for bad in [
        "nobody@litwareinc.com",
        "",
        "user\u{7}0001",
        &"x".repeat(300),
    ] {
        match eligibility::judge(&s, bad).await {
            Err(AppError::Invalid(errors)) => {
                assert!(errors.get("identity").is_some(), "{bad:?}");
                assert_eq!(errors.value("identity"), Some(bad));
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Suggestions: by prefix of any name, a bounded list.
    let hana = user(&t.db, "hana").await;
    let found = eligibility::search(&s, &hana, "User 001").await.unwrap();
    assert_eq!(found.len(), eligibility::SUGGESTIONS);
    assert!(found.iter().all(|p| p.display_name.starts_with("User 001")));
    let found = eligibility::search(&s, &hana, "SIP:user0002@")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    // Hostile text is only text.
    assert!(
        eligibility::search(&s, &hana, "*)(uid=*")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn checks_are_stored_with_their_audit_event_and_history(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let hana = user(&t.db, "hana").await;
    assert_eq!(hana.roles, [Role::Helpdesk]);
    let first = eligibility::check(&s, &hana, "user0001@litwareinc.com")
        .await
        .unwrap();
    // The policy gets IM; the next check of the same person shows what changed.
    store
        .run_script("Set-OwaMailboxPolicy -Identity 'Default' -InstantMessagingEnabled $True -InstantMessagingType OCS")
        .await
        .unwrap();
    let erin = user(&t.db, "erin").await;
    let second = eligibility::check(&s, &erin, "sip:USER0001@litwareinc.com")
        .await
        .unwrap();
    let view = eligibility::view(&s, &hana, second).await.unwrap();
    assert_eq!(view.check.upn, "user0001@litwareinc.com");
    assert_eq!(view.check.verdict, Verdict::Eligible);
    assert_eq!(view.check.asked_by, "erin");
    assert_eq!(
        view.history.iter().map(|h| h.id).collect::<Vec<_>>(),
        [second, first]
    );
    let changes = view.changes.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (changes[0].code, changes[0].before, changes[0].after),
        (Code::OwaPolicyImOff, Some(Outcome::Fail), Outcome::Pass)
    );
    assert!(view.can_simulate);
    let earlier = eligibility::view(&s, &hana, first).await.unwrap();
    assert_eq!(
        earlier.changes, None,
        "the first check has nothing before it"
    );
    assert_eq!(earlier.history[1].reasons, [Code::OwaPolicyImOff]);
    // One audit event per check, and the chain verifies.
    let events: Vec<audit_events::Model> = audit_events::Entity::find().all(&t.db).await.unwrap();
    let checks: Vec<&audit_events::Model> = events
        .iter()
        .filter(|e| e.action == "eligibility.check")
        .collect();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].actor, "hana");
    assert!(
        app::ssr::audit::verify(&t.db)
            .await
            .unwrap()
            .broken
            .is_none()
    );
    // An auditor may not look people up; a failed lookup stores nothing.
    let dave = user(&t.db, "dave").await;
    assert!(matches!(
        eligibility::check(&s, &dave, "user0001").await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        eligibility::check(&s, &hana, "nobody").await,
        Err(AppError::Invalid(_))
    ));
    assert_eq!(
        eligibility_checks::Entity::find()
            .all(&t.db)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn a_busy_morning_of_checks_keeps_every_check_and_the_chain(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, _) = lab_state(&t.db);
    let hana = user(&t.db, "hana").await;
    let checks = (1..=40).map(|i| {
        let (s, hana) = (s.clone(), hana.clone());
        tokio::spawn(async move {
            eligibility::check(&s, &hana, &format!("user{:04}", i % 7 + 1)).await
        })
    });
    for done in futures_util::future::join_all(checks).await {
        done.unwrap().unwrap();
    }
    assert_eq!(
        eligibility_checks::Entity::find()
            .all(&t.db)
            .await
            .unwrap()
            .len(),
        40
    );
    let report = app::ssr::audit::verify(&t.db).await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
}

async fn the_rules_agree_with_the_labs_owa_for_everyone_once_integrated(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (s, store) = lab_state(&t.db);
    let id = approved(&t.db, &s).await;
    let executor = Executor::new(&ExecutorConfig::default(), store.clone());
    let worker = Worker::new(s.db.clone(), s.settings.clone(), executor, "w1".into());
    assert!(worker.tick().await.unwrap());
    assert_eq!(
        job_of(&t, id).await.state,
        app::domain::runs::RunState::Succeeded
    );
    // The directory path is the service's (tested above); here every person is judged from
    // one copy of the lab, against the facts it reports, and signed in to its OWA.
    let mut lab = store.snapshot().await.unwrap();
    let facts = lab.discover(chrono::Utc::now()).unwrap();
    let integrated = app::ssr::runs::integrated_sites(&t.db).await.unwrap();
    assert_eq!(integrated, ["redmond"]);
    let context = app::procedure::eligibility::Context {
        facts: &facts,
        default_owa_policy: eligibility::DEFAULT_OWA_POLICY,
        integrated_sites: &integrated,
    };
    let (mut eligible, mut ineligible) = (0, 0);
    for u in lab.users.clone() {
        let e = app::procedure::eligibility::evaluate(&u.person(&lab.databases), &context);
        let site = e
            .checks
            .iter()
            .find(|c| c.code == Code::SiteNotIntegrated)
            .unwrap();
        assert_ne!(
            site.outcome,
            Outcome::Fail,
            "{}: the site is integrated",
            u.upn
        );
        let signed_in = lab.owa_sign_in(&u.upn, chrono::Utc::now());
        assert_eq!(
            e.verdict == Verdict::Eligible,
            signed_in.presence,
            "{}: rules say {:?} ({:?}), OWA says {:?}",
            u.upn,
            e.verdict,
            reasons(&e),
            signed_in.reasons
        );
        if signed_in.presence {
            eligible += 1;
        } else {
            ineligible += 1;
        }
    }
    assert_eq!(lab.users.len(), server::lab::USERS);
    assert!(
        eligible > 1000 && ineligible > 500,
        "{eligible} / {ineligible}"
    );
}

on_both_databases!(
    people_are_found_by_any_name_and_each_lab_fault_has_its_reason,
    checks_are_stored_with_their_audit_event_and_history,
    a_busy_morning_of_checks_keeps_every_check_and_the_chain,
    the_rules_agree_with_the_labs_owa_for_everyone_once_integrated,
);

/// Runs `imlink eligibility ARGS` on the embedded default in `dir`: exit status, stdout, stderr.
fn imlink_eligibility(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_imlink"))
        .arg("eligibility")
        .args(args)
        .env("IMLINK_DATA_DIR", dir)
        .env_remove("IMLINK_DATABASE_URL")
        .env_remove("IMLINK_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `imlink eligibility check` against the embedded default: exit statuses and both formats.
#[test]
fn the_cli_prints_verdicts_with_their_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| imlink_eligibility(dir.path(), &[&["check"], args].concat());
    let (code, out, err) = run(&["user0010@litwareinc.com", "--format", "json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(out.lines().count(), 1, "one JSON object per line: {out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["upn"], "user0010@litwareinc.com");
    assert_eq!(json["sip_address"], "sip:user0010@litwareinc.com");
    assert_eq!(json["eligible"], false);
    assert_eq!(
        json["reasons"],
        serde_json::json!(["lync_not_enabled", "owa_policy_im_off"])
    );
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks.len(), Code::ALL.len());
    let lync = checks
        .iter()
        .find(|c| c["code"] == "lync_not_enabled")
        .unwrap();
    assert_eq!(lync["outcome"], "fail");
    assert_eq!(lync["evidence"]["msRTCSIP-UserEnabled"], "false");
    assert!(
        lync["fix"]
            .as_str()
            .unwrap()
            .starts_with("Enable-CsUser -Identity 'user0010@litwareinc.com'")
    );

    let (code, out, _) = run(&["user0013"]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("user0013@litwareinc.com (User 0013): not eligible"),
        "{out}"
    );
    assert!(out.contains("fail     mailbox_not_exchange_2013"), "{out}");
    assert!(
        out.contains("fix: New-MoveRequest -Identity 'user0013@litwareinc.com'"),
        "{out}"
    );

    let (code, _, err) = run(&["nobody@litwareinc.com"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Nobody in the directory is “nobody@litwareinc.com”"),
        "{err}"
    );
}

/// `imlink eligibility scan`: the whole lab directory once each, and a CSV of identifiers with
/// its bad lines reported by number.
#[test]
fn the_cli_scans_the_directory_and_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| imlink_eligibility(dir.path(), &[&["scan"], args].concat());
    let (code, out, err) = run(&["--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let people: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(people.len(), server::lab::USERS);
    let upns: std::collections::BTreeSet<&str> =
        people.iter().map(|p| p["upn"].as_str().unwrap()).collect();
    assert_eq!(upns.len(), server::lab::USERS, "each person once");
    assert!(
        err.contains("checked 2000: 0 eligible, 2000 not eligible, 0 unknown"),
        "{err}"
    );

    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "upn,note\nuser0010@litwareinc.com,x\n\n# a comment\nnobody@litwareinc.com\nsip:USER0010@litwareinc.com\nuser0013\n\"user\u{7}0001\"\n",
    )
    .unwrap();
    let (code, out, err) = run(&["--csv", csv.to_str().unwrap()]);
    assert_eq!(code, Some(2), "bad lines: {err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "upn,eligible,reasons",
            "user0010@litwareinc.com,false,lync_not_enabled;owa_policy_im_off",
            "user0013@litwareinc.com,false,mailbox_not_exchange_2013;owa_policy_im_off",
        ]
    );
    assert!(
        err.contains("people.csv:5: Nobody in the directory"),
        "{err}"
    );
    assert!(
        err.contains("people.csv:8: Remove the control characters"),
        "{err}"
    );
    assert!(
        err.contains("checked 2: 0 eligible, 2 not eligible, 0 unknown"),
        "{err}"
    );
}
