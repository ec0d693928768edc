//! The HTTP service end to end in-process: health endpoints, local sign-in, role checks in
//! server functions, and the cross-origin guard.

mod common;

use app::domain::runs::{RunKind, RunState, StepState};
use common::Backend;

use common::http::{FORM, JSON, SAME_ORIGIN, Served, send, serve_with};

async fn serve(local_signin: bool) -> Served {
    serve_with(Backend::Sqlite, |settings| {
        if !local_signin {
            settings.local_accounts = None;
        }
    })
    .await
}

/// Sends one request; its status, head and body.
async fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let reply = send(base, method, path, headers, body).await;
    (reply.status, reply.head, reply.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints() {
    let s = serve(true).await;
    assert_eq!(request(&s.base, "GET", "/healthz", &[], "").await.0, 200);
    let (status, _, body) = request(&s.base, "GET", "/readyz", &[], "").await;
    assert_eq!((status, body.trim()), (200, "ready"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_then_role_checked_server_functions() {
    let s = serve(true).await;
    // Signed out: refused.
    let (status, _, _) = request(&s.base, "POST", "/api/get_dashboard", &[FORM, JSON], "").await;
    assert_eq!(status, 401);
    let (status, head, _) = request(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        "username=dave",
    )
    .await;
    assert!(status < 400, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    assert!(head.to_lowercase().contains("httponly"));
    let auth = ("Cookie", cookie.as_str());
    let (status, _, body) = request(
        &s.base,
        "POST",
        "/api/get_current_user",
        &[FORM, JSON, SAME_ORIGIN, auth],
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"dave\""), "{body}");
    // Dave is an auditor: he may read the audit log but not file requests.
    let (status, _, _) = request(
        &s.base,
        "POST",
        "/api/audit_log",
        &[FORM, JSON, SAME_ORIGIN, auth],
        "filter[page]=1",
    )
    .await;
    assert_eq!(status, 200);
    let form = "input[site_id]=Redmond&input[owa_pool_fqdn]=atl-owa-001.litwareinc.com&input[registrar_fqdn]=atl-cs-001.litwareinc.com&input[application_id]=OutlookWebApp&input[port]=5199&input[thumbprint]=EA5A332496CC05DA69B75B66111C0F78A110D22D&input[policy_scope]=named&input[policies]=Default&input[justification]=Presence+in+OWA+please&input[window_start]=&input[window_end]=";
    let (status, _, body) = request(
        &s.base,
        "POST",
        "/api/create_request",
        &[FORM, JSON, SAME_ORIGIN, auth],
        form,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Unknown account.
    let (status, _, _) = request(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        "username=mallory",
    )
    .await;
    assert_eq!(status, 422);
    // Sign out ends the session on the server.
    request(
        &s.base,
        "POST",
        "/api/sign_out",
        &[FORM, JSON, SAME_ORIGIN, auth],
        "",
    )
    .await;
    let (status, _, _) = request(
        &s.base,
        "POST",
        "/api/get_dashboard",
        &[FORM, JSON, SAME_ORIGIN, auth],
        "",
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_sign_in_can_be_off() {
    let s = serve(false).await;
    let (status, _, _) = request(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        "username=alice",
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused() {
    let s = serve(true).await;
    let (status, _, _) = request(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON, ("Sec-Fetch-Site", "cross-site")],
        "username=alice",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = request(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON, ("Origin", "http://evil.example")],
        "username=alice",
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_on_the_server() {
    let s = serve(true).await;
    let (status, head, body) = request(&s.base, "GET", "/signin", &[], "").await;
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(body.contains("Sign in as Alice Martin"), "{body}");
    assert!(
        !head.to_ascii_lowercase().contains("content-encoding"),
        "no compression unasked: {head}"
    );
    // Gzip when the browser accepts it.
    let reply = send(
        &s.base,
        "GET",
        "/signin",
        &[("Accept-Encoding", "gzip, deflate, br")],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding").as_deref(), Some("gzip"));
    // This binary (a plain `cargo` build) asks for the files cargo-leptos writes.
    assert!(body.contains("/pkg/imlink.wasm"), "{body}");
    assert!(body.contains("/pkg/imlink.js"), "{body}");
    assert!(!body.contains("imlink_bg.wasm"), "{body}");
    // A page that needs a session sends the browser to sign in, with no session or with one
    // that is not (or no longer) live.
    for cookie in ["", "imlink_session=not-a-session"] {
        let reply = send(
            &s.base,
            "GET",
            "/requests/new",
            &[("Accept", "text/html"), ("Cookie", cookie)],
            "",
        )
        .await;
        assert_eq!(reply.status, 302, "{}", reply.head);
        // Back to the page after signing in.
        assert_eq!(
            reply.header("location").as_deref(),
            Some("/signin?return_to=/requests/new")
        );
    }
}

use common::http::session;

/// Alice files the article's request; returns its id.
async fn alices_request(s: &Served) -> i32 {
    use app::domain::workflow::ApprovalPolicy;
    let state = common::state(&s.db.db, ApprovalPolicy::default());
    let alice = common::user(&s.db.db, "alice").await;
    app::ssr::requests::create(&state, &alice, &common::article_request())
        .await
        .unwrap()
}

/// A run of request `id` in `state`, as the worker would have stored it.
async fn stored_run(s: &Served, id: i32, state: RunState) -> app::ssr::entities::jobs::Model {
    use sea_orm::{ActiveModelTrait, Set};
    let now = chrono::Utc::now();
    app::ssr::entities::jobs::ActiveModel {
        request_id: Set(id),
        plan_hash: Set(common::plan_hash(&s.db.db, id).await),
        state: Set(state),
        attempts: Set(1),
        fence: Set(1),
        run_after: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set(RunKind::Apply),
        ..Default::default()
    }
    .insert(&s.db.db)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_and_their_facts_download() {
    let s = serve(true).await;
    let id = alices_request(&s).await;
    let path = |file: &str| format!("/requests/{id}/{file}");
    let (status, _, _) = request(&s.base, "GET", &path("plan.ps1"), &[], "").await;
    assert_eq!(status, 401);
    let cookie = session(&s.base, "dave").await;
    let auth = [("Cookie", cookie.as_str())];
    let (status, head, body) = request(&s.base, "GET", &path("plan.ps1"), &auth, "").await;
    assert_eq!(status, 200, "{head}");
    assert!(head.to_lowercase().contains("attachment"), "{head}");
    assert!(body.contains("\u{FEFF}# imlink runbook"), "{body}");
    assert!(body.contains("New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com'"));
    let (status, _, body) = request(&s.base, "GET", &path("plan.txt"), &auth, "").await;
    assert_eq!(status, 200);
    assert!(body.contains("imlink integration plan"));
    let (status, _, body) = request(&s.base, "GET", &path("facts.json"), &auth, "").await;
    assert_eq!(status, 200);
    let facts: app::procedure::facts::Facts = serde_json::from_str(&body).expect("facts JSON");
    assert_eq!(facts, app::procedure::samples::litware());
    let (status, _, _) = request(&s.base, "GET", "/requests/999/plan.ps1", &auth, "").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_transcripts_download_for_signed_in_people() {
    use app::ssr::entities::{jobs, run_steps};
    use sea_orm::{ActiveModelTrait, Set};
    let s = serve(true).await;
    let id = alices_request(&s).await;
    let mut job: jobs::ActiveModel = stored_run(&s, id, RunState::Failed).await.into();
    job.reason = Set(Some("Step enable-owa failed.".into()));
    let job = job.update(&s.db.db).await.unwrap();
    let now = chrono::Utc::now();
    run_steps::ActiveModel {
        job_id: Set(job.id),
        position: Set(0),
        step_id: Set("enable-owa".into()),
        state: Set(StepState::Failed),
        output: Set("first line\nimlink run 9 (forged)".into()),
        output_sha256: Set("cd".repeat(32)),
        started_at: Set(now),
        finished_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(&s.db.db)
    .await
    .unwrap();
    let path = format!("/runs/{}/transcript.txt", job.id);
    assert_eq!(request(&s.base, "GET", &path, &[], "").await.0, 401);
    let cookie = session(&s.base, "dave").await;
    let auth = [("Cookie", cookie.as_str())];
    let (status, head, body) = request(&s.base, "GET", &path, &auth, "").await;
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains(&format!("imlink-run-{}-transcript.txt", job.id)),
        "{head}"
    );
    assert!(
        body.contains("Reason        Step enable-owa failed."),
        "{body}"
    );
    assert!(body.contains("1. enable-owa [failed]"), "{body}");
    assert!(
        body.contains("   | first line\n   | imlink run 9 (forged)"),
        "{body}"
    );
    let (status, _, _) = request(&s.base, "GET", "/runs/999/transcript.txt", &auth, "").await;
    assert_eq!(status, 404);
}

/// Reads from `stream` into `seen` until `text` has arrived `times` times; `None` on timeout or EOF.
async fn read_until(
    stream: &mut tokio::net::TcpStream,
    seen: &mut String,
    text: &str,
    times: usize,
    wait: std::time::Duration,
) -> Option<()> {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut buf = [0u8; 4096];
        while seen.matches(text).count() < times {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        Some(())
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

/// Opens the run event stream of request `id` with the given headers, accepting gzip as
/// browsers do (the stream must still arrive uncompressed, event by event).
async fn open_events(base: &str, id: i32, headers: &[(&str, &str)]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut text = format!(
        "GET /requests/{id}/run/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nAccept-Encoding: gzip\r\n"
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_changes_are_announced_live() {
    use app::ssr::entities::jobs;
    use sea_orm::{ActiveModelTrait, Set};
    use std::time::Duration;
    let s = serve(true).await;
    let id = alices_request(&s).await;
    let path = format!("/requests/{id}/run/events");
    assert_eq!(request(&s.base, "GET", &path, &[], "").await.0, 401);
    let cookie = session(&s.base, "dave").await;
    let auth = ("Cookie", cookie.as_str());

    // No run yet: the stream says so at once.
    let mut stream = open_events(&s.base, id, &[auth]).await;
    let mut seen = String::new();
    read_until(
        &mut stream,
        &mut seen,
        "event: run",
        1,
        Duration::from_secs(5),
    )
    .await
    .expect("a first event");
    assert!(
        seen.contains("200 OK") && seen.contains("text/event-stream"),
        "{seen}"
    );
    assert!(
        !seen.to_ascii_lowercase().contains("content-encoding"),
        "{seen}"
    );
    assert!(seen.contains("data: none"), "{seen}");

    // A run appears: announced with a new id.
    let job = stored_run(&s, id, RunState::Queued).await;
    read_until(
        &mut stream,
        &mut seen,
        "event: run",
        2,
        Duration::from_secs(5),
    )
    .await
    .expect("the new run announced");
    let last_id = seen
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_string();
    assert_ne!(last_id, "none");

    // Reconnecting with the last id seen announces nothing until the run changes.
    let mut again = open_events(&s.base, id, &[auth, ("Last-Event-ID", last_id.as_str())]).await;
    let mut seen = String::new();
    assert!(
        read_until(
            &mut again,
            &mut seen,
            "event: run",
            1,
            Duration::from_millis(1500)
        )
        .await
        .is_none(),
        "{seen}"
    );
    let mut running: jobs::ActiveModel = job.into();
    running.state = Set(RunState::Running);
    running.update(&s.db.db).await.unwrap();
    read_until(
        &mut again,
        &mut seen,
        "event: run",
        1,
        Duration::from_secs(5),
    )
    .await
    .expect("the change announced");
    assert!(!seen.contains(&format!("id: {last_id}")), "{seen}");
}

/// The navigation offers People only where a directory is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_offered_only_with_a_directory() {
    for with_directory in [false, true] {
        let s = serve_with(Backend::Sqlite, |settings| {
            if with_directory {
                // Only whether one is configured matters here.
                let store =
                    server::lab::store::LabStore::new(sea_orm::DatabaseConnection::default());
                settings.directory = Some(std::sync::Arc::new(store));
            }
        })
        .await;
        let cookie = session(&s.base, "hana").await;
        let page = send(&s.base, "GET", "/", &[("Cookie", cookie.as_str())], "").await;
        assert_eq!(page.status, 200, "{}", page.head);
        assert_eq!(
            page.body.contains("href=\"/people\""),
            with_directory,
            "directory configured: {with_directory}"
        );
    }
}
