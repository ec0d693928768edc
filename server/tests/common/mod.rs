//! Test harness: a fresh database per test on SQLite (a temporary file) or PostgreSQL (its own
//! schema in the database named by `IMLINK_TEST_DATABASE_URL`), with migrations applied.

#![allow(dead_code)]

pub mod http;

use std::sync::Arc;

use app::domain::request::RequestInput;
use app::domain::roles::{Account, CurrentUser, Role};
use app::domain::workflow::{Action, ApprovalPolicy, Verdict};
use app::ssr::entities::jobs;
use app::ssr::environment::Environment;
use app::ssr::state::{AppState, LimitPolicy, SessionPolicy, Settings};
use leptos::config::LeptosOptions;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// Which database a scenario runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that is removed when dropped.
pub struct TestDb {
    pub db: DatabaseConnection,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/imlink.db?mode=rwc", dir.path().display());
                let db = server::database::connect(&url, 5).await.expect("sqlite");
                server::database::migrate(&db)
                    .await
                    .expect("migrate sqlite");
                TestDb {
                    db,
                    backend,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Backend::Postgres => {
                let url = std::env::var("IMLINK_TEST_DATABASE_URL").expect(
                    "IMLINK_TEST_DATABASE_URL must name a PostgreSQL database for these tests \
                     (.ci/test.sh starts a throwaway cluster when it is unset)",
                );
                let schema = format!("t_{}", unique());
                let admin = server::database::connect(&url, 1).await.expect("postgres");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create schema");
                admin.close().await.ok();
                let db = server::database::connect_in_schema(&url, &schema, 5)
                    .await
                    .expect("postgres in schema");
                server::database::migrate(&db)
                    .await
                    .expect("migrate postgres");
                TestDb {
                    db,
                    backend,
                    _dir: None,
                    schema: Some((url, schema)),
                }
            }
        }
    }
}

impl TestDb {
    /// A URL another process can use for this database (PostgreSQL: in the test's schema).
    pub fn url(&self) -> String {
        match (&self.schema, &self._dir) {
            (Some((url, schema)), _) => {
                let join = if url.contains('?') { '&' } else { '?' };
                format!("{url}{join}options=-c%20search_path%3D{schema}")
            }
            (None, Some(dir)) => format!("sqlite://{}/imlink.db?mode=rwc", dir.path().display()),
            (None, None) => unreachable!("every test database has a schema or a file"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.schema.take() {
            // Async cleanup from a synchronous Drop: a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().expect("runtime");
                rt.block_on(async {
                    if let Ok(db) = server::database::connect(&url, 1).await {
                        let _ = db
                            .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A process-unique suffix.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The settings the tests' portal runs with: `policy`, the demo accounts, planning against the
/// Litware facts file, served on 127.0.0.1.
pub fn settings(policy: ApprovalPolicy) -> Settings {
    let listen: std::net::SocketAddr = "127.0.0.1:3000".parse().expect("address");
    Settings {
        approval: policy,
        local_accounts: Some(accounts()),
        identity_provider: None,
        session: SessionPolicy {
            ttl: chrono::Duration::hours(1),
            idle: chrono::Duration::minutes(60),
            secure_cookie: false,
        },
        environment: Environment::FactsFile(facts_file()),
        directory: None,
        preview_facts_ttl: std::time::Duration::from_secs(5),
        limits: LimitPolicy::default(),
        listen,
        trusted_proxies: Vec::new(),
        allowed_hosts: server::config::ServerConfig::default().effective_allowed_hosts(listen),
        trusted_origins: Vec::new(),
    }
}

/// Portal state over `db` with `settings`.
pub fn state_with(db: &DatabaseConnection, settings: Settings) -> AppState {
    AppState::new(
        LeptosOptions::builder().output_name("imlink").build(),
        db.clone(),
        settings,
    )
}

/// Portal state over `db` with `policy`.
pub fn state(db: &DatabaseConnection, policy: ApprovalPolicy) -> AppState {
    state_with(db, settings(policy))
}

/// Portal state over `db` with the default policy, planning against `environment`.
pub fn with_environment(db: &DatabaseConnection, environment: Environment) -> AppState {
    state_with(
        db,
        Settings {
            environment,
            ..settings(ApprovalPolicy::default())
        },
    )
}

/// Portal state planning against the lab stored in `db`, and that lab.
pub fn lab_state(db: &DatabaseConnection) -> (AppState, server::lab::store::LabStore) {
    let store = server::lab::store::LabStore::new(db.clone());
    let lab: Arc<dyn app::ssr::lab::Lab> = Arc::new(store.clone());
    let state = state_with(
        db,
        Settings {
            environment: Environment::Lab(lab),
            directory: Some(Arc::new(store.clone())),
            ..settings(ApprovalPolicy::default())
        },
    );
    (state, store)
}

/// Request `id`'s version now (what a page would have seen).
pub async fn version(db: &DatabaseConnection, id: i32) -> i32 {
    app::ssr::entities::change_requests::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("query")
        .expect("request")
        .version
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Writes `text` to `path` as an executable script.
pub fn executable(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The sample Litware facts (the article's organization).
pub fn facts_file() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../app/src/procedure/testdata/litware-facts.json")
}

/// The plan hash request `id` carries now (what an approver sees).
pub async fn plan_hash(db: &DatabaseConnection, id: i32) -> String {
    use sea_orm::EntityTrait;
    app::ssr::entities::change_requests::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("query")
        .expect("request")
        .plan_hash
        .expect("a planned request")
}

/// The demo accounts.
pub fn accounts() -> Vec<Account> {
    let a = |u: &str, n: &str, r: &[Role]| Account {
        username: u.into(),
        display_name: n.into(),
        roles: r.to_vec(),
    };
    vec![
        a("alice", "Alice Martin", &[Role::Requester]),
        a("bob", "Bob Chen", &[Role::Approver]),
        a("carol", "Carol Diaz", &[Role::Approver]),
        a("dave", "Dave Okafor", &[Role::Auditor]),
        a("erin", "Erin Novak", &Role::ALL),
        a("hana", "Hana Sato", &[Role::Helpdesk]),
    ]
}

/// Creates (or refreshes) the demo user `username`.
pub async fn user(db: &DatabaseConnection, username: &str) -> CurrentUser {
    let account = accounts()
        .into_iter()
        .find(|a| a.username == username)
        .expect("demo account");
    app::ssr::users::upsert(
        db,
        &account,
        app::domain::sign_in::SignInMethod::Local,
        chrono::Utc::now(),
    )
    .await
    .expect("upsert user")
    .user
}

/// A valid request with the article's example values.
pub fn article_request() -> RequestInput {
    RequestInput {
        site_id: "Redmond".into(),
        owa_pool_fqdn: "atl-owa-001.litwareinc.com".into(),
        registrar_fqdn: "atl-cs-001.litwareinc.com".into(),
        thumbprint: "EA5A332496CC05DA69B75B66111C0F78A110D22d".into(),
        justification: "Show presence and IM in OWA for the Redmond site.".into(),
        ..RequestInput::default()
    }
}

/// Alice files and submits, Bob approves; returns the request id.
pub async fn approved(db: &DatabaseConnection, s: &AppState) -> i32 {
    approved_with(db, s, &article_request()).await
}

/// Alice files `input`, submits it, and Bob approves it.
pub async fn approved_with(
    db: &DatabaseConnection,
    s: &AppState,
    input: &app::domain::request::RequestInput,
) -> i32 {
    let alice = user(db, "alice").await;
    let id = app::ssr::requests::create(s, &alice, input).await.unwrap();
    app::ssr::requests::transition(s, &alice, id, 1, Action::Submit)
        .await
        .unwrap();
    let bob = user(db, "bob").await;
    let hash = plan_hash(db, id).await;
    app::ssr::requests::vote(s, &bob, id, 2, Verdict::Approve, "", &hash)
        .await
        .unwrap();
    id
}

pub async fn job_of(t: &TestDb, request: i32) -> jobs::Model {
    jobs::Entity::find()
        .filter(jobs::Column::RequestId.eq(request))
        .one(&t.db)
        .await
        .unwrap()
        .expect("a job queued with the approval")
}

/// Runs each named scenario as two tests, one per backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Runs `change` against the lab in `db` in a transaction of its own (what the Lab page's
/// actions do, without their audit event).
pub async fn lab_change<T>(
    db: &DatabaseConnection,
    change: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<T, app::ssr::lab::LabError>,
) -> Result<T, app::ssr::lab::LabError> {
    use app::ssr::lab::LabError;
    let storage = |e: sea_orm::DbErr| LabError::Storage(e.to_string());
    let txn = app::ssr::db::begin_write(db).await.map_err(storage)?;
    let out = change(&txn).await?;
    txn.commit().await.map_err(storage)?;
    Ok(out)
}

/// A worker that claims the oldest queued bulk check, stores the first `size` people of the
/// configured directory under its lease, and then stops working (as if it died): its lease.
pub async fn claim_and_store_one_page(
    s: &AppState,
    size: usize,
) -> app::ssr::eligibility::scans::ScanLease {
    use app::ssr::eligibility::{Judge, scans};
    let lease = scans::claim(&s.db, "dying", chrono::Duration::seconds(60))
        .await
        .expect("claim")
        .expect("a queued scan");
    let directory = s.settings.directory.clone().expect("a directory");
    let judge = Judge::new(s).await.expect("judge");
    let mut pages = directory.people(None, size).await.expect("people");
    let first: Vec<scans::Judged> = pages
        .next()
        .await
        .expect("a page")
        .expect("people")
        .into_iter()
        .map(|record| scans::Judged::by(&judge, record))
        .collect();
    assert!(lease.store(&s.db, &first, &[]).await.expect("store"));
    lease
}

/// The `local` executor spawning `imlink lab-shell` on the lab state file `lab` as its
/// PowerShell program.
pub fn local_lab_shell(lab: &std::path::Path) -> server::config::ExecutorConfig {
    server::config::ExecutorConfig {
        kind: server::config::ExecutorKind::Local,
        powershell: env!("CARGO_BIN_EXE_imlink").into(),
        powershell_args: vec![
            "lab-shell".into(),
            "--state".into(),
            lab.display().to_string(),
        ],
        ..server::config::ExecutorConfig::default()
    }
}

/// A port such that it and the next one are free (slapd's plain and TLS listeners).
pub fn two_free_ports() -> u16 {
    loop {
        let port = free_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}
