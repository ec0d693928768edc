//! Every server function the router serves, called over HTTP as nobody and as every demo role:
//! each refuses (401 signed out, 403 without the right) exactly those who may not act, and lets
//! the others reach the operation. The table must name every server function.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::EntityTrait;

use common::http::{FORM, JSON, SAME_ORIGIN, send, serve_state, session};
use common::{Backend, TestDb};

/// Who calls: nobody, or a demo account.
const CALLERS: [&str; 6] = ["nobody", "alice", "bob", "dave", "erin", "hana"];

/// A valid request form.
const REQUEST_FORM: &str = "input[site_id]=Redmond&input[owa_pool_fqdn]=atl-owa-001.litwareinc.com&input[registrar_fqdn]=atl-cs-001.litwareinc.com&input[application_id]=OutlookWebApp&input[port]=5199&input[thumbprint]=EA5A332496CC05DA69B75B66111C0F78A110D22D&input[policy_scope]=named&input[policies]=Default&input[justification]=Presence+in+OWA+please&input[window_start]=&input[window_end]=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_function_refuses_exactly_those_who_may_not_act() {
    let t = TestDb::new(Backend::Sqlite).await;
    let (lab, _) = common::lab_state(&t.db);
    let mut settings = common::settings(Default::default());
    settings.environment = lab.settings.environment.clone();
    settings.directory = lab.settings.directory.clone();
    settings.limits.actions_per_minute = 10_000;
    let s = serve_state(t, settings, "127.0.0.1:0").await;
    // Alice's draft, and her submitted request; stale versions keep every call from changing
    // them.
    let alice = common::user(&s.db.db, "alice").await;
    let draft = app::ssr::requests::create(&s.state, &alice, &common::article_request())
        .await
        .unwrap();
    let submitted = app::ssr::requests::create(&s.state, &alice, &common::article_request())
        .await
        .unwrap();
    app::ssr::requests::transition(
        &s.state,
        &alice,
        submitted,
        1,
        app::domain::workflow::Action::Submit,
    )
    .await
    .unwrap();
    let stale = 99;
    let hash = "0".repeat(64);

    // Function, its arguments, and who gets through (all signed-in people: `ANYONE`).
    const ANYONE: &[&str] = &["alice", "bob", "dave", "erin", "hana"];
    // Who looks people up: helpdesk, requesters, approvers, admins (not auditors).
    const LOOKUP: &[&str] = &["alice", "bob", "erin", "hana"];
    let mut table: Vec<(&str, String, &[&str])> = vec![
        ("get_current_user", String::new(), &CALLERS),
        ("get_sign_in_options", String::new(), &CALLERS),
        ("get_dashboard", String::new(), ANYONE),
        ("list_requests", "state=all".into(), ANYONE),
        ("approval_inbox", String::new(), ANYONE),
        ("get_request", format!("id={draft}"), ANYONE),
        ("preview_plan", REQUEST_FORM.into(), ANYONE),
        ("get_environment", String::new(), ANYONE),
        ("get_lab", String::new(), ANYONE),
        (
            "simulate_sign_in",
            "upn=user0001@litwareinc.com".into(),
            ANYONE,
        ),
        ("audit_log", "filter[page]=1".into(), &["dave", "erin"]),
        ("create_request", REQUEST_FORM.into(), &["alice", "erin"]),
        (
            "update_request",
            format!("id={draft}&version={stale}&{REQUEST_FORM}"),
            &["alice"],
        ),
        (
            "submit_request",
            format!("id={draft}&version={stale}"),
            &["alice"],
        ),
        (
            "cancel_request",
            format!("id={draft}&version={stale}"),
            &["alice"],
        ),
        (
            "replan_request",
            format!("id={draft}&version={stale}"),
            &["alice", "bob", "erin"],
        ),
        (
            "vote_request",
            format!("id={submitted}&version=2&plan_hash={hash}&decision=approve&comment="),
            &["bob", "erin"],
        ),
        ("cancel_run", format!("id={draft}"), &["erin"]),
        ("resume_run", format!("id={draft}"), &["erin"]),
        ("rollback_run", format!("id={draft}"), &["erin"]),
        (
            "approve_rollback",
            format!("id={draft}&plan_hash={hash}"),
            &["bob", "erin"],
        ),
        ("reset_lab", "scenario=nowhere".into(), &["erin"]),
        ("search_people", "text=user000".into(), LOOKUP),
        (
            "check_person",
            "identity=user0001@litwareinc.com".into(),
            LOOKUP,
        ),
        ("get_person_check", "id=999999".into(), LOOKUP),
        (
            "request_scan",
            "scope=list&base_dn=&site_id=&list=user0001".into(),
            LOOKUP,
        ),
        ("cancel_scan", "id=999999".into(), LOOKUP),
        ("get_scans", String::new(), LOOKUP),
        // Answers `false` when signed out (every page's header asks).
        ("has_directory", String::new(), &CALLERS),
        ("get_scan", "id=999999&filter[page]=1".into(), LOOKUP),
        ("compare_scans", "before=999998&after=999999".into(), LOOKUP),
        ("lab_install_cu", "server=nowhere".into(), &["erin"]),
        ("get_portal_users", String::new(), &["erin"]),
        (
            "manage_portal_user",
            "id=999999&action=disable".into(),
            &["erin"],
        ),
    ];
    // Signing in and out change the session itself; their own tests cover them.
    let elsewhere = ["sign_in_local", "sign_out"];
    let served: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .filter(|name| !elsewhere.contains(&name.as_str()))
        .collect();
    let listed: BTreeSet<String> = table.iter().map(|(f, _, _)| f.to_string()).collect();
    assert_eq!(listed, served, "the table names every server function");

    let mut cookies = BTreeMap::new();
    for caller in &CALLERS[1..] {
        cookies.insert(*caller, session(&s.base, caller).await);
    }
    let mut wrong = Vec::new();
    table.sort_by_key(|(f, _, _)| *f);
    for (function, args, allowed) in &table {
        for caller in CALLERS {
            let cookie = cookies.get(caller).cloned().unwrap_or_default();
            let mut headers = vec![FORM, JSON, SAME_ORIGIN];
            if !cookie.is_empty() {
                headers.push(("Cookie", cookie.as_str()));
            }
            let r = send(&s.base, "POST", &format!("/api/{function}"), &headers, args).await;
            let refused = matches!(r.status, 401 | 403);
            let expected_refusal = !allowed.contains(&caller);
            let right_refusal = match (caller, refused) {
                ("nobody", true) => r.status == 401,
                (_, true) => r.status == 403,
                _ => true,
            };
            if refused != expected_refusal || !right_refusal || r.status >= 500 {
                wrong.push(format!(
                    "{function} as {caller}: {} {}",
                    r.status,
                    r.body.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected answers:\n{}",
        wrong.join("\n")
    );
    // Nothing the refused callers tried changed the requests.
    let rows = app::ssr::entities::change_requests::Entity::find()
        .all(&s.db.db)
        .await
        .unwrap();
    let states: Vec<(i32, String)> = rows.iter().map(|r| (r.id, r.state.clone())).collect();
    assert!(states.contains(&(draft, "draft".into())), "{states:?}");
    assert!(
        states.contains(&(submitted, "submitted".into())),
        "{states:?}"
    );
}
