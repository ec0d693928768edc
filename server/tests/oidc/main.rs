//! Sign-in with an OpenID Connect provider, end to end over HTTP: against a provider the tests
//! control (to play every way a provider's answer can be wrong) and against a real one
//! (`oidc-provider`, started from `.ci/oidc`).

#[path = "../common/mod.rs"]
mod common;
mod fake_provider;
mod real_provider;

use std::collections::BTreeMap;

use app::ssr::entities::{audit_events, oidc_sign_ins, users};
use common::http::{FORM, JSON, Reply, SAME_ORIGIN, Served, send, serve_state};
use common::{Backend, TestDb, settings, unique};
use fake_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, Key, Signature, mint};
use openidconnect::url::Url;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use server::config::OidcConfig;
use server::oidc::Provider;

/// A browser's cookies for one site.
#[derive(Clone, Debug, Default)]
pub struct Browser {
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps the cookies `reply` sets, forgets those it clears.
    pub fn absorb(&mut self, reply: &Reply) {
        for set in reply.headers("set-cookie") {
            let (pair, attributes) = set.split_once(';').unwrap_or((&set, ""));
            let attributes = attributes.to_ascii_lowercase();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = attributes
                .split(';')
                .map(str::trim)
                .any(|a| a == "max-age=0" || (a.starts_with("expires=") && a.contains("1970")));
            if value.is_empty() || expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().into(), value.trim().into());
            }
        }
    }

    /// `GET base+path` with this browser's cookies.
    pub async fn get(&mut self, base: &str, path: &str) -> Reply {
        let cookie = self.cookie_header();
        let reply = send(base, "GET", path, &[("Cookie", &cookie)], "").await;
        self.absorb(&reply);
        reply
    }

    /// The session cookie, `name=value`.
    pub fn session(&self) -> Option<String> {
        self.cookies
            .get("imlink_session")
            .map(|v| format!("imlink_session={v}"))
    }
}

/// A portal whose sign-in goes through the provider at `issuer`.
pub struct Portal {
    pub served: Served,
    _secret: tempfile::NamedTempFile,
}

impl Portal {
    pub fn base(&self) -> &str {
        &self.served.base
    }

    pub fn provider(&self) -> &Provider {
        Provider::of(&self.served.state).expect("an OIDC provider")
    }
}

/// The tests' provider configuration: client `imlink`, groups `imlink-approvers`,
/// `imlink-admins`, `imlink-requesters` give roles.
pub fn oidc_config(issuer: &str, secret_file: &std::path::Path, callback: &str) -> OidcConfig {
    let mut config = OidcConfig {
        enabled: true,
        name: "Test Provider".into(),
        issuer_url: issuer.into(),
        client_id: CLIENT_ID.into(),
        client_secret_file: Some(secret_file.to_path_buf()),
        redirect_url: callback.into(),
        scopes: ["openid", "profile", "email", "groups"]
            .map(String::from)
            .to_vec(),
        end_session: true,
        ..OidcConfig::default()
    };
    config.roles.approver = vec!["imlink-approvers".into()];
    config.roles.admin = vec!["imlink-admins".into()];
    config.roles.requester = vec!["imlink-requesters".into()];
    config
}

/// Serves a portal on `backend` at a free port, signing in through `issuer` with `secret`.
pub async fn portal(
    backend: Backend,
    issuer: &str,
    secret: &str,
    adjust: impl FnOnce(&mut OidcConfig),
) -> Portal {
    portal_on(backend, common::free_port(), issuer, secret, adjust).await
}

/// Like [`portal`], on `port`.
pub async fn portal_on(
    backend: Backend,
    port: u16,
    issuer: &str,
    secret: &str,
    adjust: impl FnOnce(&mut OidcConfig),
) -> Portal {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{secret}\n")).unwrap();
    let mut config = oidc_config(
        issuer,
        file.path(),
        &format!("http://127.0.0.1:{port}/auth/oidc/callback"),
    );
    adjust(&mut config);
    let mut s = settings(Default::default());
    s.local_accounts = None;
    s.identity_provider = server::oidc::open(&config).unwrap();
    s.limits.sign_ins_per_minute = 10_000;
    let served = serve_state(TestDb::new(backend).await, s, &format!("127.0.0.1:{port}")).await;
    Portal {
        served,
        _secret: file,
    }
}

/// A sign-in as started by the portal: what it sent to the provider.
pub struct Started {
    pub state: String,
    pub nonce: String,
    pub challenge: String,
    pub url: Url,
}

/// Starts a sign-in in `browser` (`query` goes to `/auth/oidc/login`).
pub async fn start(portal: &Portal, browser: &mut Browser, query: &str) -> Started {
    let reply = browser
        .get(portal.base(), &format!("/auth/oidc/login?{query}"))
        .await;
    assert_eq!(reply.status, 303, "{}\n{}", reply.head, reply.body);
    let url = Url::parse(&reply.header("location").unwrap()).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("{name} in {url}"))
    };
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("client_id"), CLIENT_ID);
    assert_eq!(param("code_challenge_method"), "S256");
    assert!(param("scope").split(' ').any(|s| s == "openid"));
    assert_eq!(
        param("redirect_uri"),
        format!("{}/auth/oidc/callback", portal.base())
    );
    Started {
        state: param("state"),
        nonce: param("nonce"),
        challenge: param("code_challenge"),
        url,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Good ID token claims for `username` in `groups`.
pub fn claims(op: &FakeProvider, started: &Started, username: &str, groups: &[&str]) -> Value {
    json!({
        "iss": op.issuer,
        "aud": CLIENT_ID,
        "sub": format!("sub-{username}"),
        "preferred_username": username,
        "name": format!("{username} (test)"),
        "groups": groups,
        "nonce": started.nonce,
        "iat": now(),
        "exp": now() + 300,
    })
}

/// Lets the provider redeem a fresh code for `id_token` and comes back to the portal with it.
pub async fn finish(
    portal: &Portal,
    browser: &mut Browser,
    op: &FakeProvider,
    started: &Started,
    id_token: String,
) -> Reply {
    let code = unique();
    op.grant(&code, &started.challenge, id_token);
    browser
        .get(
            portal.base(),
            &format!("/auth/oidc/callback?code={code}&state={}", started.state),
        )
        .await
}

/// The refusal code a reply sends the browser to the sign-in page with.
pub fn refusal(reply: &Reply) -> Option<String> {
    reply
        .header("location")
        .and_then(|l| l.strip_prefix("/signin?refused=").map(str::to_string))
}

/// Whether `reply` opened a session and moves on to `target`.
pub fn signed_in(reply: &Reply, target: &str) -> bool {
    reply.status == 200
        && reply.session_cookie().is_some()
        && reply.body.contains(&format!(
            "content=\"0;url={}\"",
            target.replace('&', "&#38;")
        ))
}

/// Who the portal says `cookie` (`name=value`) belongs to.
pub async fn whoami(base: &str, cookie: &str) -> Option<Value> {
    let reply = send(
        base,
        "POST",
        "/api/get_current_user",
        &[FORM, JSON, SAME_ORIGIN, ("Cookie", cookie)],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let value: Value = serde_json::from_str(&reply.body).unwrap();
    (!value.is_null()).then_some(value)
}

/// The sign-in audit events, oldest first: (actor, outcome, detail).
pub async fn sign_in_events(portal: &Portal) -> Vec<(String, String, String)> {
    audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("session.sign_in"))
        .order_by_asc(audit_events::Column::Id)
        .all(&portal.served.db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.outcome, e.detail.unwrap_or_default()))
        .collect()
}

struct Setup {
    op: FakeProvider,
    key: Key,
    portal: Portal,
}

async fn setup(backend: Backend) -> Setup {
    let key = Key::new("key-1");
    let op = FakeProvider::start(&[&key]).await;
    let portal = portal(backend, &op.issuer, CLIENT_SECRET, |_| {}).await;
    Setup { op, key, portal }
}

impl Setup {
    fn sign(&self, claims: &Value) -> String {
        mint(
            claims,
            Signature::Rsa {
                key: &self.key,
                kid: &self.key.kid,
            },
        )
    }

    /// A whole sign-in of `username` in `groups` in `browser`.
    async fn sign_in(&self, browser: &mut Browser, username: &str, groups: &[&str]) -> Reply {
        let started = start(&self.portal, browser, "return_to=/requests").await;
        let token = self.sign(&claims(&self.op, &started, username, groups));
        finish(&self.portal, browser, &self.op, &started, token).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_opens_a_session_with_the_roles_of_the_groups() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let s = setup(backend).await;
        let mut browser = Browser::default();
        let reply = s
            .sign_in(&mut browser, "bob", &["staff", "imlink-approvers"])
            .await;
        assert!(
            signed_in(&reply, "/requests"),
            "{}\n{}",
            reply.head,
            reply.body
        );
        // The session cookie stays Strict; the browser cookie of the sign-in is cleared.
        let set = reply.headers("set-cookie").join("\n");
        assert!(set.contains("SameSite=Strict"), "{set}");
        assert!(
            set.contains("imlink_oidc=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
            "{set}"
        );
        assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
        let me = whoami(s.portal.base(), &browser.session().unwrap())
            .await
            .unwrap();
        assert_eq!(me["username"], "bob");
        assert_eq!(me["display_name"], "bob (test)");
        assert_eq!(me["roles"], json!(["approver"]));
        let events = sign_in_events(&s.portal).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "bob");
        assert_eq!(events[0].1, "ok");
        assert!(
            events[0].2.contains("signed in with oidc"),
            "{:?}",
            events[0]
        );
        // Nothing of the sign-in is left to replay.
        assert_eq!(
            oidc_sign_ins::Entity::find()
                .count(&s.portal.served.db.db)
                .await
                .unwrap(),
            0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_must_be_this_browsers_unused_and_recent() {
    let s = setup(Backend::Sqlite).await;
    let base = s.portal.base().to_string();
    // Missing and unknown state, and no browser cookie.
    let mut browser = Browser::default();
    let started = start(&s.portal, &mut browser, "").await;
    for path in [
        "/auth/oidc/callback?code=x".to_string(),
        "/auth/oidc/callback?code=x&state=made-up".to_string(),
    ] {
        let reply = browser.get(&base, &path).await;
        assert_eq!(refusal(&reply).as_deref(), Some("expired"), "{path}");
    }
    let mut cookieless = Browser::default();
    let reply = cookieless
        .get(
            &base,
            &format!("/auth/oidc/callback?code=x&state={}", started.state),
        )
        .await;
    assert_eq!(refusal(&reply).as_deref(), Some("expired"));
    // Another browser's state does nothing, and leaves that browser's sign-in alone.
    let mut attacker = Browser::default();
    let _ = start(&s.portal, &mut attacker, "").await;
    let token = s.sign(&claims(&s.op, &started, "mallory", &["imlink-admins"]));
    let reply = finish(&s.portal, &mut attacker, &s.op, &started, token).await;
    assert_eq!(refusal(&reply).as_deref(), Some("expired"));
    assert!(attacker.session().is_none());
    // The missing-state attempts above cleared this browser's cookie: start again.
    let mut browser = Browser::default();
    let started = start(&s.portal, &mut browser, "").await;
    let token = s.sign(&claims(&s.op, &started, "bob", &["imlink-approvers"]));
    let reply = finish(&s.portal, &mut browser, &s.op, &started, token.clone()).await;
    assert!(signed_in(&reply, "/"), "{}", reply.head);
    // Replayed: the state was used.
    let mut replay = browser.clone();
    replay.cookies.insert(
        "imlink_oidc".into(),
        "0".repeat(64), // whatever the cookie, the state is gone
    );
    let code = unique();
    s.op.grant(&code, &started.challenge, token);
    let reply = replay
        .get(
            &base,
            &format!("/auth/oidc/callback?code={code}&state={}", started.state),
        )
        .await;
    assert_eq!(refusal(&reply).as_deref(), Some("expired"));
    // Expired: a sign-in started over 10 minutes ago.
    let mut late = Browser::default();
    let started = start(&s.portal, &mut late, "").await;
    oidc_sign_ins::Entity::update_many()
        .col_expr(
            oidc_sign_ins::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(&s.portal.served.db.db)
        .await
        .unwrap();
    let token = s.sign(&claims(&s.op, &started, "bob", &["imlink-approvers"]));
    let reply = finish(&s.portal, &mut late, &s.op, &started, token).await;
    assert_eq!(refusal(&reply).as_deref(), Some("expired"));
    // Every refusal is audited, with a reason and no token.
    let events = sign_in_events(&s.portal).await;
    let refused: Vec<_> = events.iter().filter(|e| e.1 == "denied").collect();
    assert_eq!(refused.len(), 6, "{events:?}");
    assert!(refused.iter().all(|e| e.2.contains("state")), "{events:?}");
    assert!(events.iter().all(|e| !e.2.contains("eyJ")), "{events:?}");
}

/// One sign-in whose ID token `token_for` makes from good claims: refused as invalid, with no
/// session.
async fn refused_as_invalid(s: &Setup, name: &str, token_for: impl FnOnce(&mut Value) -> String) {
    let mut browser = Browser::default();
    let started = start(&s.portal, &mut browser, "").await;
    let mut c = claims(&s.op, &started, "bob", &["imlink-approvers"]);
    let token = token_for(&mut c);
    let reply = finish(&s.portal, &mut browser, &s.op, &started, token).await;
    assert_eq!(
        refusal(&reply).as_deref(),
        Some("invalid"),
        "{name}: {}",
        reply.head
    );
    assert!(browser.session().is_none(), "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_foreign_id_tokens_open_no_session() {
    let s = setup(Backend::Sqlite).await;
    let other = Key::new("key-1"); // same key id, another key
    // Good signatures over bad claims.
    type Tamper = fn(&mut Value);
    let tampered: [(&str, Tamper); 10] = [
        ("wrong nonce", |c| c["nonce"] = json!("not-the-nonce")),
        ("missing nonce", |c| {
            c.as_object_mut().unwrap().remove("nonce");
        }),
        ("wrong aud", |c| c["aud"] = json!("another-app")),
        ("extra audience without azp", |c| {
            c["aud"] = json!([CLIENT_ID, "another-app"])
        }),
        ("azp naming another client", |c| {
            c["azp"] = json!("another-app")
        }),
        ("expired", |c| {
            c["exp"] = json!(now() - 120);
            c["iat"] = json!(now() - 600);
        }),
        ("issued in the future", |c| {
            c["iat"] = json!(now() + 600);
            c["exp"] = json!(now() + 900);
        }),
        ("not valid yet", |c| c["nbf"] = json!(now() + 600)),
        ("wrong iss", |c| c["iss"] = json!("https://evil.example")),
        ("no username", |c| {
            c.as_object_mut().unwrap().remove("preferred_username");
        }),
    ];
    // Good claims under forged signatures.
    let public = s.key.public_text();
    let forged: [(&str, Signature<'_>); 3] = [
        ("alg none", Signature::None),
        (
            "HS256 keyed with the provider's public key",
            Signature::Hmac(public.as_bytes()),
        ),
        (
            "HS256 keyed with the client secret",
            Signature::Hmac(CLIENT_SECRET.as_bytes()),
        ),
    ];
    let refusals = tampered.len() + forged.len();
    for (name, tamper) in tampered {
        refused_as_invalid(&s, name, |c| {
            tamper(c);
            s.sign(c)
        })
        .await;
    }
    for (name, signature) in forged {
        refused_as_invalid(&s, name, |c| mint(c, signature)).await;
    }
    refused_as_invalid(
        &s,
        "a key the provider does not publish (same key id)",
        |c| {
            mint(
                c,
                Signature::Rsa {
                    key: &other,
                    kid: "key-1",
                },
            )
        },
    )
    .await;
    // A wrong PKCE verifier: the provider refuses the code.
    let mut browser = Browser::default();
    let started = start(&s.portal, &mut browser, "").await;
    let token = s.sign(&claims(&s.op, &started, "bob", &["imlink-approvers"]));
    let code = unique();
    s.op.grant(&code, "another-challenge", token);
    let reply = browser
        .get(
            s.portal.base(),
            &format!("/auth/oidc/callback?code={code}&state={}", started.state),
        )
        .await;
    assert_eq!(refusal(&reply).as_deref(), Some("invalid"));
    // Within the configured skew, a token just expired or issued a moment ahead is accepted.
    let mut browser = Browser::default();
    let started = start(&s.portal, &mut browser, "").await;
    let mut c = claims(&s.op, &started, "bob", &["imlink-approvers"]);
    c["exp"] = json!(now() - 30);
    c["iat"] = json!(now() + 30);
    let reply = finish(&s.portal, &mut browser, &s.op, &started, s.sign(&c)).await;
    assert!(signed_in(&reply, "/"), "{}", reply.head);
    // Nobody but bob (the last, good one) got a user row or a session.
    assert_eq!(
        users::Entity::find()
            .count(&s.portal.served.db.db)
            .await
            .unwrap(),
        1
    );
    let events = sign_in_events(&s.portal).await;
    assert_eq!(
        events.iter().filter(|e| e.1 == "denied").count(),
        refusals + 2
    );
    assert!(
        events.iter().all(|e| !e.2.contains("eyJ")),
        "no token in {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let key = Key::new("k");
    let op = FakeProvider::start(&[&key]).await;
    op.claim_issuer("https://evil.example");
    let portal = portal(Backend::Sqlite, &op.issuer, CLIENT_SECRET, |_| {}).await;
    let mut browser = Browser::default();
    let reply = browser.get(portal.base(), "/auth/oidc/login").await;
    assert_eq!(
        refusal(&reply).as_deref(),
        Some("invalid"),
        "{}",
        reply.head
    );
    let events = sign_in_events(&portal).await;
    assert!(events[0].2.contains("unexpected issuer"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_fetched_again_once_after_a_rotation_and_not_for_every_unknown_key_id() {
    let s = setup(Backend::Sqlite).await;
    let mut browser = Browser::default();
    let reply = s.sign_in(&mut browser, "bob", &["imlink-approvers"]).await;
    assert!(signed_in(&reply, "/requests"));
    assert_eq!(s.op.jwks_fetches(), 1, "with discovery");
    // The provider rotates to a new key: the next sign-in works after one fetch.
    let new = Key::new("key-2");
    s.op.publish(&[&new]);
    let sign_with = |key: &Key, kid: &str, c: &Value| mint(c, Signature::Rsa { key, kid });
    let mut browser = Browser::default();
    let started = start(&s.portal, &mut browser, "").await;
    let c = claims(&s.op, &started, "bob", &["imlink-approvers"]);
    let reply = finish(
        &s.portal,
        &mut browser,
        &s.op,
        &started,
        sign_with(&new, "key-2", &c),
    )
    .await;
    assert!(signed_in(&reply, "/"), "{}", reply.head);
    assert_eq!(s.op.jwks_fetches(), 2);
    // Garbage key ids: refused, and the keys were just fetched, so no new fetch (cool-down).
    for kid in ["garbage-1", "garbage-2", "garbage-3"] {
        let mut browser = Browser::default();
        let started = start(&s.portal, &mut browser, "").await;
        let c = claims(&s.op, &started, "bob", &["imlink-approvers"]);
        let reply = finish(
            &s.portal,
            &mut browser,
            &s.op,
            &started,
            sign_with(&new, kid, &c),
        )
        .await;
        assert_eq!(refusal(&reply).as_deref(), Some("invalid"));
    }
    assert_eq!(s.op.jwks_fetches(), 2);
    assert_eq!(s.portal.provider().key_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_short_cool_down_a_garbage_key_id_costs_at_most_one_fetch_per_period() {
    let key = Key::new("key-1");
    let op = FakeProvider::start(&[&key]).await;
    let portal = portal(Backend::Sqlite, &op.issuer, CLIENT_SECRET, |c| {
        c.jwks_refresh_seconds = 1
    })
    .await;
    let attempt = || async {
        let mut browser = Browser::default();
        let started = start(&portal, &mut browser, "").await;
        let c = claims(&op, &started, "bob", &["imlink-approvers"]);
        let token = mint(
            &c,
            Signature::Rsa {
                key: &key,
                kid: "garbage",
            },
        );
        let reply = finish(&portal, &mut browser, &op, &started, token).await;
        assert_eq!(refusal(&reply).as_deref(), Some("invalid"));
    };
    for _ in 0..5 {
        attempt().await;
    }
    assert_eq!(
        op.jwks_fetches(),
        2,
        "discovery, then one refresh in the period"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for _ in 0..5 {
        attempt().await;
    }
    assert_eq!(op.jwks_fetches(), 3, "one more after the period");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_opens_no_session_and_leaves_sessions_working() {
    let s = setup(Backend::Sqlite).await;
    let mut signed = Browser::default();
    assert!(signed_in(
        &s.sign_in(&mut signed, "bob", &["imlink-approvers"]).await,
        "/requests"
    ));
    // Down at the token endpoint, in the middle of a sign-in.
    let mut browser = Browser::default();
    let started = start(&s.portal, &mut browser, "").await;
    let token = s.sign(&claims(&s.op, &started, "erin", &["imlink-admins"]));
    s.op.set_down(true);
    let reply = finish(&s.portal, &mut browser, &s.op, &started, token).await;
    assert_eq!(refusal(&reply).as_deref(), Some("provider_unreachable"));
    assert!(browser.session().is_none());
    // A portal that never reached it cannot start one.
    let fresh = portal(Backend::Sqlite, &s.op.issuer, CLIENT_SECRET, |_| {}).await;
    let reply = Browser::default()
        .get(fresh.base(), "/auth/oidc/login")
        .await;
    assert_eq!(refusal(&reply).as_deref(), Some("provider_unreachable"));
    // Nobody listening at all.
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let gone = portal(Backend::Sqlite, &closed, CLIENT_SECRET, |c| {
        c.timeout_seconds = 2
    })
    .await;
    let reply = Browser::default()
        .get(gone.base(), "/auth/oidc/login")
        .await;
    assert_eq!(refusal(&reply).as_deref(), Some("provider_unreachable"));
    // The session opened before still works.
    let me = whoami(s.portal.base(), &signed.session().unwrap()).await;
    assert_eq!(me.unwrap()["username"], "bob");
    // And the sign-in page says what happened.
    let page = send(
        s.portal.base(),
        "GET",
        "/signin?refused=provider_unreachable",
        &[],
        "",
    )
    .await;
    assert!(page.body.contains("could not be reached"), "{}", page.body);
    assert!(
        page.body.contains("Sign in with Test Provider"),
        "{}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_read_again_at_every_sign_in() {
    let s = setup(Backend::Postgres).await;
    // No mapped group: no access, no session, no user, an audited refusal naming them.
    let mut browser = Browser::default();
    let reply = s.sign_in(&mut browser, "carol", &["staff"]).await;
    assert_eq!(refusal(&reply).as_deref(), Some("no_access"));
    assert!(browser.session().is_none());
    assert_eq!(
        users::Entity::find()
            .count(&s.portal.served.db.db)
            .await
            .unwrap(),
        0
    );
    let events = sign_in_events(&s.portal).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].0.as_str(), events[0].1.as_str()),
        ("carol", "denied")
    );
    assert!(events[0].2.contains("no role"), "{events:?}");
    let page = send(s.portal.base(), "GET", "/signin?refused=no_access", &[], "").await;
    assert!(
        page.body.contains("no group that gives a role"),
        "{}",
        page.body
    );
    // Roles follow the groups, both ways.
    let mut browser = Browser::default();
    s.sign_in(&mut browser, "erin", &["imlink-admins", "imlink-approvers"])
        .await;
    let me = whoami(s.portal.base(), &browser.session().unwrap())
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["approver", "admin"]));
    let mut browser = Browser::default();
    s.sign_in(&mut browser, "erin", &["IMLINK-APPROVERS"]).await;
    let me = whoami(s.portal.base(), &browser.session().unwrap())
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["approver"]));
    // Every group removed: the next sign-in is refused.
    let mut browser = Browser::default();
    let reply = s.sign_in(&mut browser, "erin", &[]).await;
    assert_eq!(refusal(&reply).as_deref(), Some("no_access"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_person_is_refused_whatever_the_provider_says() {
    let s = setup(Backend::Sqlite).await;
    let mut admin = Browser::default();
    s.sign_in(&mut admin, "erin", &["imlink-admins"]).await;
    let mut bob = Browser::default();
    s.sign_in(&mut bob, "bob", &["imlink-approvers"]).await;
    let bob_id = whoami(s.portal.base(), &bob.session().unwrap())
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let manage = |action: &str| {
        let cookie = admin.session().unwrap();
        let body = format!("id={bob_id}&action={action}");
        let base = s.portal.base().to_string();
        async move {
            send(
                &base,
                "POST",
                "/api/manage_portal_user",
                &[FORM, JSON, SAME_ORIGIN, ("Cookie", &cookie)],
                &body,
            )
            .await
        }
    };
    let reply = manage("disable").await;
    assert!(reply.status < 400, "{}\n{}", reply.head, reply.body);
    // Refused at the next request, and at the next sign-in.
    assert_eq!(whoami(s.portal.base(), &bob.session().unwrap()).await, None);
    let mut again = Browser::default();
    let reply = s.sign_in(&mut again, "bob", &["imlink-approvers"]).await;
    assert_eq!(refusal(&reply).as_deref(), Some("disabled"));
    assert!(again.session().is_none());
    // Enabled again, bob signs in.
    assert!(manage("enable").await.status < 400);
    let mut again = Browser::default();
    let reply = s.sign_in(&mut again, "bob", &["imlink-approvers"]).await;
    assert!(signed_in(&reply, "/requests"));
    // Audited: the disabling, the refusal, the enabling.
    let actions: Vec<String> = audit_events::Entity::find()
        .order_by_asc(audit_events::Column::Id)
        .all(&s.portal.served.db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.outcome))
        .collect();
    for expected in [
        "erin user.disable ok",
        "bob session.sign_in denied",
        "erin user.enable ok",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    // Nobody but an admin manages people; an admin cannot disable themselves.
    let bob_cookie = again.session().unwrap();
    let reply = send(
        s.portal.base(),
        "POST",
        "/api/manage_portal_user",
        &[FORM, JSON, SAME_ORIGIN, ("Cookie", &bob_cookie)],
        &format!("id={bob_id}&action=end_sessions"),
    )
    .await;
    assert_eq!(reply.status, 403);
    let erin_id = whoami(s.portal.base(), &admin.session().unwrap())
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let reply = send(
        s.portal.base(),
        "POST",
        "/api/manage_portal_user",
        &[
            FORM,
            JSON,
            SAME_ORIGIN,
            ("Cookie", &admin.session().unwrap()),
        ],
        &format!("id={erin_id}&action=disable"),
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    // Ending bob's sessions ends them.
    assert!(manage("end_sessions").await.status < 400);
    assert_eq!(whoami(s.portal.base(), &bob_cookie).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_replaces_the_browsers_session_and_sign_out_cannot_be_replayed() {
    let s = setup(Backend::Sqlite).await;
    let mut browser = Browser::default();
    s.sign_in(&mut browser, "bob", &["imlink-approvers"]).await;
    let first = browser.session().unwrap();
    // Session fixation: signing in again gives a new session and kills the old one.
    s.sign_in(&mut browser, "bob", &["imlink-approvers"]).await;
    let second = browser.session().unwrap();
    assert_ne!(first, second);
    assert_eq!(whoami(s.portal.base(), &first).await, None);
    assert!(whoami(s.portal.base(), &second).await.is_some());
    // Sign out (through the provider's end-session page), then replay the cookie.
    let out = send(
        s.portal.base(),
        "POST",
        "/api/sign_out",
        &[FORM, SAME_ORIGIN, ("Cookie", &second)],
        "",
    )
    .await;
    assert_eq!(
        out.header("location").as_deref(),
        Some(app::ssr::state::PROVIDER_SIGN_OUT_PATH)
    );
    let page = send(
        s.portal.base(),
        "GET",
        app::ssr::state::PROVIDER_SIGN_OUT_PATH,
        &[],
        "",
    )
    .await;
    assert!(
        page.body.contains(&format!("{}/logout?", s.op.issuer)),
        "{}",
        page.body
    );
    assert!(page.body.contains("client_id=imlink"), "{}", page.body);
    assert_eq!(whoami(s.portal.base(), &second).await, None);
    let before = audit_events::Entity::find()
        .count(&s.portal.served.db.db)
        .await
        .unwrap();
    let again = send(
        s.portal.base(),
        "POST",
        "/api/sign_out",
        &[FORM, SAME_ORIGIN, ("Cookie", &second)],
        "",
    )
    .await;
    assert!(again.status < 400);
    assert_eq!(whoami(s.portal.base(), &second).await, None);
    let after = audit_events::Entity::find()
        .count(&s.portal.served.db.db)
        .await
        .unwrap();
    assert_eq!(before, after, "a replayed sign-out records nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_returns_only_to_a_path_of_the_portal() {
    let s = setup(Backend::Sqlite).await;
    for (raw, expected) in [
        ("https%3A%2F%2Fevil", "/"),
        ("%2F%2Fevil", "/"),
        ("%2F%5Cevil", "/"),
        ("%2F%252F%252Fevil", "/"),
        ("javascript%3Aalert(1)", "/"),
        ("%2Frequests%2F7%3Ftab%3Dplan", "/requests/7?tab=plan"),
    ] {
        let mut browser = Browser::default();
        let started = start(&s.portal, &mut browser, &format!("return_to={raw}")).await;
        let token = s.sign(&claims(&s.op, &started, "bob", &["imlink-approvers"]));
        let reply = finish(&s.portal, &mut browser, &s.op, &started, token).await;
        assert!(signed_in(&reply, expected), "{raw}: {}", reply.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_a_real_provider_and_two_hundred_at_once() {
    real_provider::two_hundred_at_once(Backend::Postgres).await;
    real_provider::two_hundred_at_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_reaches_the_provider_and_pins_its_issuer() {
    let key = Key::new("k");
    let op = FakeProvider::start(&[&key]).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    let file = dir.path().join("imlink.toml");
    let write = |issuer: &str| {
        std::fs::write(
            &file,
            format!(
                "[oidc]\nenabled = true\nissuer_url = \"{issuer}\"\nclient_id = \"imlink\"\n\
                 client_secret_file = \"{}\"\n\
                 redirect_url = \"http://127.0.0.1:3000/auth/oidc/callback\"\n\
                 [oidc.roles]\nadmin = [\"imlink-admins\"]\n",
                secret.display()
            ),
        )
        .unwrap();
    };
    let check = || async {
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_imlink"))
                .args(["check-config", "--config"])
                .arg(&file)
                .env_remove("IMLINK_DATABASE_URL")
                .output()
                .unwrap();
            (
                out.status.code(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        })
        .await
        .unwrap()
    };
    write(&op.issuer);
    let (code, text) = check().await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("sign-in OpenID Connect"), "{text}");
    op.claim_issuer("https://evil.example");
    let (code, text) = check().await;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("oidc.issuer_url") && text.contains("unexpected issuer"),
        "{text}"
    );
    write(&format!("http://127.0.0.1:{}", common::free_port()));
    let (code, text) = check().await;
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("could not be reached"), "{text}");
    std::fs::remove_file(&secret).unwrap();
    let (code, text) = check().await;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("oidc.client_secret_file: cannot read"),
        "{text}"
    );
}
