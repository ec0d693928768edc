//! The portal as an attacker and a busy morning meet it, over real HTTP: concurrent sign-ins
//! and refusals keep the audit chain whole; the demo sign-in only for this machine; the `Host`
//! allow-list; security headers on every kind of answer; the cross-origin guard over every
//! route the router has; session timeouts and rotation; rate limits; form errors from links.

mod common;

use std::time::Duration;

use app::ssr::entities::{audit_events, sessions, users};
use common::http::{FORM, JSON, Reply, SAME_ORIGIN, send, send_to, serve_with, session};
use common::{Backend, TestDb};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Events recorded with `action` (and `outcome`).
async fn events(t: &TestDb, action: &str, outcome: &str) -> u64 {
    audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq(action))
        .filter(audit_events::Column::Outcome.eq(outcome))
        .count(&t.db)
        .await
        .unwrap()
}

async fn all_events(t: &TestDb) -> u64 {
    audit_events::Entity::find().count(&t.db).await.unwrap()
}

/// The chain verifies from the first event to the head.
async fn assert_chain_intact(t: &TestDb) {
    let report = app::ssr::audit::verify(&t.db).await.unwrap();
    assert_eq!(report.broken, None, "the audit chain is broken");
    assert_eq!(report.events as u64, all_events(t).await);
}

/// Sends `count` copies of a request at once; their replies.
async fn at_once(
    base: &str,
    count: usize,
    request: impl Fn(usize) -> (String, String, Vec<(String, String)>),
) -> Vec<Reply> {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (path, body, headers) = request(i);
            let base = base.to_string();
            tokio::spawn(async move {
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                send(&base, "POST", &path, &headers, &body).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const DEMO: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

async fn concurrent_sign_ins_keep_the_chain(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (lab_state, _) = common::lab_state(&t.db);
    let environment = lab_state.settings.environment.clone();
    let directory = lab_state.settings.directory.clone();
    let s = common::http::serve_state(
        t,
        app::ssr::state::Settings {
            environment,
            directory,
            limits: app::ssr::state::LimitPolicy {
                sign_ins_per_minute: 10_000,
                actions_per_minute: 10_000,
                streams_per_session: 8,
            },
            ..common::settings(Default::default())
        },
        "127.0.0.1:0",
    )
    .await;

    // 200 sign-ins at once, the first sign-ins of every account among them.
    let signed_in = at_once(&s.base, 200, |i| {
        (
            "/api/sign_in_local".into(),
            format!("username={}", DEMO[i % DEMO.len()]),
            h(&[FORM, JSON]),
        )
    })
    .await;
    let cookies: Vec<String> = signed_in
        .iter()
        .map(|r| {
            assert!(r.status < 400, "a sign-in failed: {}\n{}", r.head, r.body);
            r.session_cookie().expect("a session cookie")
        })
        .collect();

    // 200 refused sign-ins at once (relayed by a proxy): refused, counted, not recorded.
    let refused = at_once(&s.base, 200, |i| {
        (
            "/api/sign_in_local".into(),
            format!("username=mallory{i}"),
            h(&[FORM, JSON, ("X-Forwarded-For", "203.0.113.9")]),
        )
    })
    .await;
    assert!(refused.iter().all(|r| r.status == 403), "all refused");
    assert_eq!(s.state.limits.refused_local_sign_ins(), 200);

    // 40 OWA sign-in simulations (lab changes, audited with them) and 40 sign-outs at once.
    let simulated = at_once(&s.base, 40, |i| {
        (
            "/api/simulate_sign_in".into(),
            format!("upn=user{:04}@litwareinc.com", i + 1),
            h(&[FORM, JSON, SAME_ORIGIN, ("Cookie", &cookies[i])]),
        )
    })
    .await;
    assert!(
        simulated.iter().all(|r| r.status == 200),
        "{:?}",
        simulated.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let signed_out = at_once(&s.base, 40, |i| {
        (
            "/api/sign_out".into(),
            String::new(),
            h(&[FORM, JSON, SAME_ORIGIN, ("Cookie", &cookies[100 + i])]),
        )
    })
    .await;
    assert!(signed_out.iter().all(|r| r.status < 500));
    // 40 eligibility checks at once, by people who may look others up (not Dave, the auditor).
    let lookers: Vec<&String> = cookies[40..100]
        .iter()
        .enumerate()
        .filter(|(i, _)| DEMO[(40 + i) % DEMO.len()] != "dave")
        .map(|(_, c)| c)
        .take(40)
        .collect();
    let checked = at_once(&s.base, 40, |i| {
        (
            "/api/check_person".into(),
            format!("identity=user{:04}%40litwareinc.com", i % 9 + 1),
            h(&[FORM, JSON, SAME_ORIGIN, ("Cookie", lookers[i])]),
        )
    })
    .await;
    assert!(
        checked.iter().all(|r| r.status == 200),
        "{:?}",
        checked
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );

    let t = &s.db;
    assert_chain_intact(t).await;
    assert_eq!(events(t, "session.sign_in", "ok").await, 200);
    assert_eq!(events(t, "lab.sign_in", "ok").await, 40);
    assert_eq!(events(t, "session.sign_out", "ok").await, 40);
    assert_eq!(events(t, "eligibility.check", "ok").await, 40);
    assert_eq!(all_events(t).await, 320, "nothing under the names refused");
    assert_eq!(users::Entity::find().count(&t.db).await.unwrap(), 5);
    assert_eq!(sessions::Entity::find().count(&t.db).await.unwrap(), 160);
}

/// A non-loopback address of this machine.
fn own_address() -> std::net::IpAddr {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .expect("hostname -I");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .find(|a| !a.is_loopback())
        .expect("this test needs a non-loopback address on this machine")
}

/// A DNS-rebinding page at evil.test (resolving to the portal) signs in as Erin and opens the
/// sign-in page: both answers.
async fn from_evil_test(s: &common::http::Served) -> (Reply, Reply) {
    let address = s.base.trim_start_matches("http://");
    let port = address.rsplit(':').next().unwrap();
    let evil = format!("evil.test:{port}");
    let origin = format!("http://{evil}");
    let sign_in = send_to(
        address,
        &evil,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON, ("Origin", &origin)],
        "username=erin",
    )
    .await;
    let page = send_to(address, &evil, "GET", "/signin", &[], "").await;
    (sign_in, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_sign_in_is_only_for_this_machine() {
    // A DNS-rebinding page names its own host: not one the portal answers for.
    let s = serve_with(Backend::Sqlite, |_| {}).await;
    let (r, page) = from_evil_test(&s).await;
    assert_eq!((r.status, page.status), (421, 421), "{}", r.head);
    assert!(r.session_cookie().is_none());
    // The health endpoints answer any host (probes use the pod's address).
    let address = s.base.trim_start_matches("http://");
    assert_eq!(
        send_to(address, "evil.test", "GET", "/healthz", &[], "")
            .await
            .status,
        200
    );

    // Even where an administrator allowed that name, the demo sign-in is not offered under it.
    let s = serve_with(Backend::Sqlite, |settings| {
        settings.allowed_hosts.push("evil.test".into());
    })
    .await;
    let (r, page) = from_evil_test(&s).await;
    assert_eq!(r.status, 403, "{}", r.head);
    assert!(r.session_cookie().is_none());
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Sign in as Erin"), "{}", page.body);
    // Relayed by a proxy on this machine: refused too.
    let r = send(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON, ("X-Forwarded-For", "203.0.113.9")],
        "username=erin",
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(s.state.limits.refused_local_sign_ins(), 2);
    assert_eq!(all_events(&s.db).await, 0, "refusals are not audited");
    // From this machine, at its own address: allowed.
    assert!(session(&s.base, "erin").await.contains("imlink_session="));

    // A peer that is not this machine's loopback: refused, whatever Host it names.
    let t = TestDb::new(Backend::Sqlite).await;
    let wide =
        common::http::serve_state(t, common::settings(Default::default()), "0.0.0.0:0").await;
    let port = wide.base.rsplit(':').next().unwrap().to_string();
    let outside = format!("{}:{port}", own_address());
    let r = send_to(
        &outside,
        &format!("127.0.0.1:{port}"),
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        "username=erin",
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.head);
    assert!(r.session_cookie().is_none());

    // Local sign-in off: refused, counted, and nothing written under the name given.
    let off = serve_with(Backend::Sqlite, |settings| settings.local_accounts = None).await;
    for _ in 0..3 {
        let r = send(
            &off.base,
            "POST",
            "/api/sign_in_local",
            &[FORM, JSON],
            "username=alice",
        )
        .await;
        assert_eq!(r.status, 403);
    }
    assert_eq!(off.state.limits.refused_local_sign_ins(), 3);
    assert_eq!(all_events(&off.db).await, 0);
}

/// Reads only the head of a streamed answer; the connection stays open while the returned
/// stream is kept.
async fn open_stream(
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (Reply, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut text = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a head in time")
            .unwrap();
        assert!(n > 0, "the stream closed");
        seen.extend_from_slice(&buf[..n]);
    }
    let raw = String::from_utf8_lossy(&seen).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let reply = Reply {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        head: head.to_string(),
        body: body.to_string(),
    };
    (reply, stream)
}

fn csp_nonce(reply: &Reply) -> String {
    let csp = reply
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP: {}", reply.head));
    csp.split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the CSP")
        .to_string()
}

fn assert_security_headers(what: &str, reply: &Reply, cacheable: bool) {
    let csp = reply
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP\n{}", reply.head));
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{what}: {csp}");
    assert_eq!(
        reply.header("x-frame-options").as_deref(),
        Some("DENY"),
        "{what}"
    );
    assert_eq!(
        reply.header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        reply.header("referrer-policy").as_deref(),
        Some("same-origin"),
        "{what}"
    );
    if !cacheable {
        assert_eq!(
            reply.header("cache-control").as_deref(),
            Some("no-store"),
            "{what}\n{}",
            reply.head
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_answer_carries_the_security_headers() {
    let s = serve_with(Backend::Sqlite, |_| {}).await;
    let alice = common::user(&s.db.db, "alice").await;
    let id = app::ssr::requests::create(&s.state, &alice, &common::article_request())
        .await
        .unwrap();
    let cookie = session(&s.base, "dave").await;
    let auth = ("Cookie", cookie.as_str());
    let page = send(&s.base, "GET", "/", &[auth], "").await;
    assert_eq!(page.status, 200);
    let answers = [
        ("signed-in page", page),
        (
            "sign-in page",
            send(&s.base, "GET", "/signin", &[], "").await,
        ),
        (
            "server function",
            send(
                &s.base,
                "POST",
                "/api/get_current_user",
                &[FORM, JSON, SAME_ORIGIN, auth],
                "",
            )
            .await,
        ),
        (
            "refused server function",
            send(&s.base, "POST", "/api/get_dashboard", &[FORM, JSON], "").await,
        ),
        (
            "download",
            send(
                &s.base,
                "GET",
                &format!("/requests/{id}/plan.ps1"),
                &[auth],
                "",
            )
            .await,
        ),
        (
            "refused download",
            send(&s.base, "GET", &format!("/requests/{id}/plan.ps1"), &[], "").await,
        ),
        (
            "live stream",
            open_stream(&s.base, &format!("/requests/{id}/run/events"), &[auth])
                .await
                .0,
        ),
        (
            "error page",
            send(&s.base, "GET", "/no/such/page", &[auth], "").await,
        ),
        (
            "cross-origin refusal",
            send(
                &s.base,
                "POST",
                "/api/get_dashboard",
                &[FORM, JSON, ("Sec-Fetch-Site", "cross-site")],
                "",
            )
            .await,
        ),
        (
            "misdirected request",
            send_to(
                s.base.trim_start_matches("http://"),
                "elsewhere.test",
                "GET",
                "/",
                &[],
                "",
            )
            .await,
        ),
    ];
    let statuses: Vec<u16> = answers.iter().map(|(_, r)| r.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 401, 200, 401, 200, 404, 403, 421],
        "the answers this test means to look at"
    );
    for (what, reply) in &answers {
        assert_security_headers(what, reply, false);
        assert!(
            reply.header("strict-transport-security").is_none(),
            "{what}: no HSTS over plain HTTP"
        );
    }
    // The page's scripts carry this response's nonce, and every response has its own.
    let page = &answers[0].1;
    let nonce = csp_nonce(page);
    assert_eq!(nonce.len(), 32);
    let scripts = page.body.matches("<script").count();
    assert!(scripts > 0, "{}", page.body);
    assert_eq!(
        page.body
            .matches(&format!("<script nonce=\"{nonce}\""))
            .count()
            + page
                .body
                .matches(&format!("<script type=\"module\" nonce=\"{nonce}\""))
                .count(),
        scripts,
        "every script carries the nonce: {}",
        page.body
    );
    assert_ne!(nonce, csp_nonce(&answers[1].1));

    // Over HTTPS: HSTS, and a __Host- session cookie that is Secure and Strict.
    let tls = serve_with(Backend::Sqlite, |settings| {
        settings.session.secure_cookie = true;
    })
    .await;
    let r = send(
        &tls.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        "username=dave",
    )
    .await;
    assert!(
        r.header("strict-transport-security")
            .is_some_and(|v| v.starts_with("max-age=")),
        "{}",
        r.head
    );
    let set = r
        .headers("set-cookie")
        .into_iter()
        .find(|c| c.contains("imlink_session"))
        .expect("a session cookie");
    assert!(set.starts_with("__Host-imlink_session="), "{set}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Domain"), "{set}");
}

/// Every server function the router serves, and every route of imlink's own that changes
/// data, meets the cross-origin guard: refused without provenance when a session cookie is
/// sent, refused from another site or origin, passed through from the portal's own pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_matrix_over_every_route() {
    let s = serve_with(Backend::Sqlite, |settings| {
        settings.limits.actions_per_minute = 10_000;
        settings.trusted_origins = vec!["https://imlink.corp.example".into()];
    })
    .await;
    let cookie = session(&s.base, "erin").await;
    let auth = ("Cookie", cookie.as_str());
    let own = s.base.clone();
    let mut routes: Vec<(String, String)> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_string(), method.to_string()))
        .collect();
    assert!(routes.len() >= 20, "{routes:?}");
    for (path, method) in &routes {
        assert_eq!(method, "POST", "{path} is a server function without POST");
    }
    for route in server::http::own_routes() {
        if !matches!(route.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            routes.push((route.path.replace("{id}", "1"), route.method.to_string()));
        }
    }
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        ("no provenance", &[], true),
        ("cross-site", &[("Sec-Fetch-Site", "cross-site")], true),
        ("same-site", &[("Sec-Fetch-Site", "same-site")], true),
        ("null origin", &[("Origin", "null")], true),
        ("other origin", &[("Origin", "http://evil.example")], true),
        ("same-origin", &[SAME_ORIGIN], false),
        ("typed by the user", &[("Sec-Fetch-Site", "none")], false),
        ("own origin", &[("Origin", own.as_str())], false),
        (
            "reverse proxy's origin",
            &[("Origin", "https://imlink.corp.example")],
            false,
        ),
    ];
    for (path, method) in &routes {
        // Signing out would end the session the other cases use.
        if path.ends_with("/sign_out") {
            continue;
        }
        for (what, extra, refused) in cases {
            let mut headers = vec![FORM, JSON, auth];
            headers.extend_from_slice(extra);
            let r = send(&s.base, method, path, &headers, "").await;
            assert_eq!(
                r.status == 403 && r.body.contains("Cross-origin"),
                *refused,
                "{method} {path} ({what}): {} {}",
                r.status,
                r.body
            );
            assert!(r.status < 500, "{method} {path} ({what}): {}", r.body);
        }
    }
    // Without a session cookie, a client that sends neither header is not a browser whose
    // ambient credentials could be abused.
    let r = send(&s.base, "POST", "/api/get_current_user", &[FORM, JSON], "").await;
    assert_eq!(r.status, 200);
}

async fn sessions_end_when_idle_or_past_their_lifetime(backend: Backend) {
    // Idle: two seconds unused.
    let s = serve_with(backend, |settings| {
        settings.session.idle = chrono::Duration::seconds(2);
    })
    .await;
    let cookie = session(&s.base, "dave").await;
    let me = |cookie: String| {
        let base = s.base.clone();
        async move {
            send(
                &base,
                "POST",
                "/api/get_dashboard",
                &[FORM, JSON, SAME_ORIGIN, ("Cookie", &cookie)],
                "",
            )
            .await
            .status
        }
    };
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(me(cookie.clone()).await, 200, "in use, so alive");
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(me(cookie.clone()).await, 401, "idle too long");

    // Absolute: three seconds, however busy.
    let s = serve_with(backend, |settings| {
        settings.session.ttl = chrono::Duration::seconds(3);
    })
    .await;
    let cookie = session(&s.base, "dave").await;
    let other = session(&s.base, "bob").await;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(2400) {
        assert_eq!(me2(&s.base, &cookie).await, 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(me2(&s.base, &cookie).await, 401, "past its lifetime");
    // The worker's sweep removes the ended sessions nobody came back with.
    assert_eq!(sessions::Entity::find().count(&s.db.db).await.unwrap(), 1);
    let removed = app::ssr::auth::remove_ended_sessions(
        &s.db.db,
        &s.state.settings.session,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(removed, 1, "bob's session, never used again");
    assert_eq!(me2(&s.base, &other).await, 401);
    assert_eq!(sessions::Entity::find().count(&s.db.db).await.unwrap(), 0);

    // Signing in again ends the browser's previous session: a new id, the old one dead.
    let s = serve_with(backend, |_| {}).await;
    let first = session(&s.base, "dave").await;
    let again = send(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON, SAME_ORIGIN, ("Cookie", &first)],
        "username=bob",
    )
    .await;
    let second = again.session_cookie().expect("a new session");
    assert_ne!(first, second);
    assert_eq!(me2(&s.base, &first).await, 401, "the old session ended");
    assert_eq!(me2(&s.base, &second).await, 200);
    assert_eq!(sessions::Entity::find().count(&s.db.db).await.unwrap(), 1);
    assert_chain_intact(&s.db).await;
}

async fn me2(base: &str, cookie: &str) -> u16 {
    send(
        base,
        "POST",
        "/api/get_dashboard",
        &[FORM, JSON, SAME_ORIGIN, ("Cookie", cookie)],
        "",
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_429_with_retry_after() {
    let s = serve_with(Backend::Sqlite, |settings| {
        settings.limits = app::ssr::state::LimitPolicy {
            sign_ins_per_minute: 3,
            actions_per_minute: 3,
            streams_per_session: 2,
        };
    })
    .await;
    let alice = session(&s.base, "alice").await;
    // State-changing calls: three, then 429.
    let cancel = |cookie: String| {
        let base = s.base.clone();
        async move {
            send(
                &base,
                "POST",
                "/api/cancel_request",
                &[FORM, JSON, SAME_ORIGIN, ("Cookie", &cookie)],
                "id=999&version=1",
            )
            .await
        }
    };
    for _ in 0..3 {
        assert_eq!(cancel(alice.clone()).await.status, 404);
    }
    let r = cancel(alice.clone()).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u32 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    // Reading is not limited; another session has its own budget.
    assert_eq!(me2(&s.base, &alice).await, 200);
    let bob = session(&s.base, "bob").await;
    assert_eq!(cancel(bob).await.status, 404);

    // Sign-ins per client address: alice and bob used two of three.
    let dave = send(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        "username=dave",
    )
    .await;
    assert!(dave.status < 400);
    let r = send(
        &s.base,
        "POST",
        "/api/sign_in_local",
        &[FORM, JSON],
        "username=erin",
    )
    .await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(r.session_cookie().is_none());

    // Live streams per session: two open, the third refused.
    let id = app::ssr::requests::create(
        &s.state,
        &common::user(&s.db.db, "alice").await,
        &common::article_request(),
    )
    .await
    .unwrap();
    let path = format!("/requests/{id}/run/events");
    let auth = [("Cookie", alice.as_str())];
    let (first, _open) = open_stream(&s.base, &path, &auth).await;
    let (second, open) = open_stream(&s.base, &path, &auth).await;
    assert_eq!((first.status, second.status), (200, 200));
    let (third, _) = open_stream(&s.base, &path, &auth).await;
    assert_eq!(third.status, 429);
    assert!(third.header("retry-after").is_some());
    // A view closed gives its slot back.
    drop(open);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(open_stream(&s.base, &path, &auth).await.0.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_errors_are_never_taken_from_a_link() {
    use base64::Engine;
    let s = serve_with(Backend::Sqlite, |_| {}).await;
    let cookie = session(&s.base, "alice").await;
    let auth = ("Cookie", cookie.as_str());
    // A hand-made link carrying an error with "typed" values: the page drops it.
    let forged = serde_json::json!({ "Invalid": { "errors": { "justification": "x" },
        "values": { "justification": "</textarea><script>alert(1)</script>" } } });
    let err = base64::engine::general_purpose::URL_SAFE.encode(forged.to_string());
    let link = format!("/requests/new?__path=%2Fapi%2Fcreate_request&__err={err}");
    let r = send(&s.base, "GET", &link, &[auth, ("Accept", "text/html")], "").await;
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(r.header("location").as_deref(), Some("/requests/new"));

    // A real no-JavaScript post with bad input: the redirect carries the error, bound to
    // this browser by a cookie, and the page shows the typed text as text.
    let hostile = "</textarea><script>alert(1)</script><img src=x onerror=alert(2)>";
    let form = format!(
        "input[site_id]=Redmond&input[owa_pool_fqdn]=not+a+host&input[registrar_fqdn]=atl-cs-001.litwareinc.com&input[application_id]=OutlookWebApp&input[port]=5199&input[thumbprint]=EA5A332496CC05DA69B75B66111C0F78A110D22D&input[policy_scope]=named&input[policies]=Default&input[justification]={}&input[window_start]=&input[window_end]=",
        form_urlencoded::byte_serialize(hostile.as_bytes()).collect::<String>()
    );
    let referer = format!("{}/requests/new", s.base);
    let r = send(
        &s.base,
        "POST",
        "/api/create_request",
        &[
            FORM,
            ("Accept", "text/html"),
            SAME_ORIGIN,
            auth,
            ("Referer", &referer),
        ],
        &form,
    )
    .await;
    assert!(matches!(r.status, 302 | 303), "{}", r.head);
    let location = r.header("location").unwrap();
    assert!(location.contains("__err="), "{location}");
    let tag = r
        .headers("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("imlink_form_error="))
        .and_then(|c| c.split(';').next().map(str::to_string))
        .expect("the form error cookie");
    let path = location.trim_start_matches(&s.base);
    let cookies = format!("{cookie}; {tag}");
    let page = send(
        &s.base,
        "GET",
        path,
        &[("Cookie", &cookies), ("Accept", "text/html")],
        "",
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.body.contains("&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    // Another browser following the same link gets the page without the error.
    let other = session(&s.base, "erin").await;
    let r = send(&s.base, "GET", path, &[("Cookie", &other)], "").await;
    assert_eq!(r.status, 303);
}

on_both_databases!(
    concurrent_sign_ins_keep_the_chain,
    sessions_end_when_idle_or_past_their_lifetime,
);

/// Two hundred people looking at one run cost the database what one does: one watcher reads
/// the run, and every open view gets what it reads. When the last view closes, so does the
/// watcher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_views_of_a_run_cost_what_one_does() {
    let s = serve_with(Backend::Sqlite, |settings| {
        settings.limits.streams_per_session = 1000;
    })
    .await;
    let id = app::ssr::requests::create(
        &s.state,
        &common::user(&s.db.db, "alice").await,
        &common::article_request(),
    )
    .await
    .unwrap();
    let cookie = session(&s.base, "dave").await;
    let path = format!("/requests/{id}/run/events");
    let auth = [("Cookie", cookie.as_str())];
    let feeds = s.state.run_feeds.clone();
    let window = Duration::from_millis(2000);

    let mut open = vec![open_stream(&s.base, &path, &auth).await];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = feeds.reads();
    tokio::time::sleep(window).await;
    let one = feeds.reads() - before;

    for _ in 1..200 {
        open.push(open_stream(&s.base, &path, &auth).await);
    }
    assert!(open.iter().all(|(reply, _)| reply.status == 200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = feeds.reads();
    tokio::time::sleep(window).await;
    let many = feeds.reads() - before;
    assert!(
        one >= 2,
        "the watcher reads the run while someone looks: {one}"
    );
    assert!(
        many <= one + 1,
        "200 views read the run {many} times in the time one view read it {one} times"
    );
    // Every view got the run's first event.
    for (reply, stream) in open.iter_mut() {
        if !reply.body.contains("event: run") {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 512];
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .expect("an event in time")
                .unwrap();
            reply.body.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(reply.body.contains("event: run"), "{}", reply.body);
    }
    // Everyone leaves: the watcher stops reading.
    drop(open);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = feeds.reads();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(feeds.reads(), before, "no watcher without a viewer");
}
