//! Sign-ins through a real OpenID provider: `oidc-provider` (`.ci/oidc/server.mjs`), which
//! enforces PKCE, the registered redirect URI, the client's secret and single-use codes.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use app::ssr::entities::{audit_events, users};
use openidconnect::url::Url;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::common::http::send;
use super::common::{Backend, free_port};
use super::{Browser, Portal, portal_on, refusal, signed_in, whoami};

/// The provider's client secret (see `.ci/oidc/server.mjs`).
const SECRET: &str = "imlink-test-secret";

/// `oidc-provider` on a free port of 127.0.0.1, stopped when dropped.
pub struct RealProvider {
    child: Child,
    pub issuer: String,
}

impl Drop for RealProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RealProvider {
    /// Starts the provider, registering the portal at `portal_port` as its client.
    pub async fn start(portal_port: u16) -> RealProvider {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let script = repo.join(".ci/oidc/server.mjs");
        assert!(
            repo.join(".ci/oidc/node_modules/oidc-provider").is_dir(),
            "run .ci/bootstrap.sh --test first: it installs the test provider"
        );
        let port = free_port();
        let portal = format!("http://127.0.0.1:{portal_port}");
        let child = Command::new("node")
            .arg(&script)
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_REDIRECT_URIS", format!("{portal}/auth/oidc/callback"))
            .env("OIDC_POST_LOGOUT_URIS", format!("{portal}/signin"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (Debian package nodejs) runs the test provider");
        let provider = RealProvider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            let ready = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
                && send(
                    &provider.issuer,
                    "GET",
                    "/.well-known/openid-configuration",
                    &[],
                    "",
                )
                .await
                .status
                    == 200;
            if ready {
                return provider;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the test provider did not start");
    }
}

/// Signs in `hint` (an account of the provider) through the portal, following every redirect
/// as a browser would; returns the portal's last answer and the browser.
pub async fn sign_in_through(
    portal: &Portal,
    op: &RealProvider,
    hint: &str,
) -> (super::Reply, Browser) {
    let mut at_portal = Browser::default();
    let mut at_provider = Browser::default();
    let reply = at_portal
        .get(
            portal.base(),
            &format!("/auth/oidc/login?return_to=%2Fapprovals&login_hint={hint}"),
        )
        .await;
    let mut location = reply.header("location").expect("to the provider");
    for _ in 0..10 {
        let url = Url::parse(&op.issuer).unwrap().join(&location).unwrap();
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        if location.starts_with(portal.base()) {
            let reply = at_portal.get(portal.base(), &path).await;
            return (reply, at_portal);
        }
        let reply = at_provider.get(&op.issuer, &path).await;
        location = reply.header("location").unwrap_or_else(|| {
            panic!(
                "a redirect from the provider: {}\n{}",
                reply.head, reply.body
            )
        });
    }
    panic!("too many redirects");
}

/// One sign-in of each kind through the real provider, then 200 at once: no error, one
/// audit event each, the audit chain intact.
pub async fn two_hundred_at_once(backend: Backend) {
    let port = free_port();
    let op = RealProvider::start(port).await;
    let portal = portal_on(backend, port, &op.issuer, SECRET, |_| {}).await;

    let (reply, browser) = sign_in_through(&portal, &op, "bob").await;
    assert!(
        signed_in(&reply, "/approvals"),
        "{}\n{}",
        reply.head,
        reply.body
    );
    let me = whoami(portal.base(), &browser.session().unwrap())
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Bob Chen");
    assert_eq!(me["roles"], serde_json::json!(["approver"]));
    let (reply, browser) = sign_in_through(&portal, &op, "carol").await;
    assert_eq!(refusal(&reply).as_deref(), Some("no_access"));
    assert!(browser.session().is_none());
    // Markup in a name stays text: the name is stored as given and shown escaped by the pages.
    let (reply, browser) = sign_in_through(&portal, &op, "mallory").await;
    assert!(signed_in(&reply, "/approvals"));
    let me = whoami(portal.base(), &browser.session().unwrap())
        .await
        .unwrap();
    assert_eq!(me["display_name"], "<img src=x onerror=alert(1)> Mallory");

    let started = std::time::Instant::now();
    let (portal, op) = (Arc::new(portal), Arc::new(op));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (portal, op) = (portal.clone(), op.clone());
        tasks.spawn(async move {
            let (reply, browser) = sign_in_through(&portal, &op, &format!("load-{i}")).await;
            (reply.status, browser.session().is_some(), reply.head)
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (status, session, head) = done.unwrap();
        if status != 200 || !session {
            failures.push(head);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        failures.first()
    );
    eprintln!(
        "200 sign-ins through the provider at once: {:?}",
        started.elapsed()
    );
    let db = &portal.served.db.db;
    let ok = audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("session.sign_in"))
        .filter(audit_events::Column::Outcome.eq("ok"))
        .filter(audit_events::Column::Actor.starts_with("load-"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(ok, 200);
    assert_eq!(
        users::Entity::find()
            .filter(users::Column::Username.starts_with("load-"))
            .count(db)
            .await
            .unwrap(),
        200
    );
    let report = app::ssr::audit::verify(db).await.unwrap();
    assert!(
        report.broken.is_none(),
        "audit chain broken: {:?}",
        report.broken
    );
}
