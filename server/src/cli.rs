//! Command-line entry points: `serve` (the default), `migrate`, `check-config`, `audit verify`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use leptos::config::LeptosOptions;

use app::domain::roles::{Account, Role};
use app::domain::workflow::ApprovalPolicy;
use app::ssr::environment::Environment;
use app::ssr::state::{AppState, LimitPolicy, SessionPolicy, Settings};

use crate::config::{Config, DirectorySource, ExecutorKind, redacted_url};
use crate::executor::Executor;
use crate::{database, http, telemetry};

/// imlink: governed Lync Server 2013 ↔ Outlook Web App 2013 integration.
#[derive(Debug, Parser)]
#[command(name = "imlink", version, about)]
struct Cli {
    /// Configuration file (TOML). Every key can also be set as an IMLINK_… variable.
    #[arg(long, env = "IMLINK_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending migrations and serve the portal (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run approved plans, without serving the portal (a separate worker process).
    Worker,
    /// Validate the configuration and report every problem, line by line.
    CheckConfig,
    /// Print the integration plan for a request against environment facts.
    Plan {
        /// The request (JSON; format in the README).
        #[arg(long)]
        request: PathBuf,
        #[command(flatten)]
        environment: EnvironmentArgs,
        /// text for people, ps1 for the runbook script, json for tools.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Plan as of this time (RFC 3339, e.g. 2026-11-27T10:00:00Z) instead of now, to replay
        /// a plan; it decides certificate validity.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Run the read-only probes against an environment and print its facts (JSON).
    Discover {
        #[command(flatten)]
        environment: EnvironmentArgs,
    },
    /// Print the read-only probe scripts that gather the environment facts.
    Probes {
        /// Exchange back-end (Mailbox) servers to print the back-end probe for.
        #[arg(long = "backend", value_name = "FQDN")]
        backends: Vec<String>,
    },
    /// Assemble a facts file from saved probe outputs (JSON) and print it.
    Facts {
        /// Output of the lync probe.
        #[arg(long)]
        lync: PathBuf,
        /// Output of the exchange probe.
        #[arg(long)]
        exchange: PathBuf,
        /// Output of a back-end probe, as FQDN=FILE; once per back-end server.
        #[arg(long = "backend", value_name = "FQDN=FILE")]
        backends: Vec<String>,
    },
    /// Run a PowerShell script from standard input against the simulated organization, like
    /// `powershell.exe -NonInteractive -Command -` (exit 1 after a terminating error).
    ///
    /// Also takes the arguments `powershell.exe` takes (`-NoProfile`, `-NonInteractive`,
    /// `-EncodedCommand BASE64`, `-Command -`), directly or, as an SSH forced command, from
    /// `SSH_ORIGINAL_COMMAND`: so the `local` and `ssh` executors can run against the lab.
    LabShell {
        /// The lab state file; created from the scenario when it does not exist.
        #[arg(long)]
        state: PathBuf,
        /// The scenario a new state starts from.
        #[arg(long, default_value = "litware")]
        scenario: String,
        /// PowerShell's own arguments.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "POWERSHELL ARGS"
        )]
        powershell: Vec<String>,
    },
    /// Act on the lab: OWA sign-ins and Exchange cumulative updates.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// Who gets IM and presence in OWA, and why not (the configured directory).
    Eligibility {
        #[command(subcommand)]
        command: EligibilityCommand,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum EligibilityCommand {
    /// Check one person: exit 0 eligible, 1 not eligible, 3 unknown, 2 bad input (nobody or
    /// several people), 4 when the directory or the environment could not be read.
    Check {
        /// A user principal name, SIP or e-mail address, or sAMAccountName.
        identity: String,
        #[arg(long, value_enum, default_value_t = crate::eligibility::Format::Text)]
        format: crate::eligibility::Format,
    },
    /// Check everyone in the directory, or the people a CSV file names (first column), and
    /// print each once; bad lines are reported on stderr by number and the rest checked (exit
    /// 2 when there were any), 4 when the directory or environment cannot be read.
    Scan {
        /// Only the people whose entries are below this distinguished name (an OU's, say).
        #[arg(long, conflicts_with = "csv")]
        base_dn: Option<String>,
        /// A CSV file of identifiers instead of the whole directory.
        #[arg(long)]
        csv: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = crate::eligibility::ScanFormat::Csv)]
        format: crate::eligibility::ScanFormat,
    },
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Simulate a user's OWA sign-in: does presence show, and if not, why.
    Signin {
        /// The lab state file; created from the scenario when it does not exist.
        #[arg(long)]
        state: PathBuf,
        #[arg(long, default_value = "litware")]
        scenario: String,
        /// The user's UPN, e.g. user0001@litwareinc.com.
        #[arg(long)]
        user: String,
    },
    /// Install an Exchange cumulative update on a back-end server (it rewrites web.config).
    InstallCu {
        #[arg(long)]
        state: PathBuf,
        #[arg(long, default_value = "litware")]
        scenario: String,
        /// The back-end server's FQDN.
        #[arg(long)]
        server: String,
    },
    /// Print the scenario's people, mailbox databases, Exchange servers and registrar pools as
    /// LDIF, laid out as Active Directory stores them (for an LDAP server with the schema in
    /// `.ci/ldap/ad-schema.ldif`).
    Ldif {
        #[arg(long, default_value = "litware")]
        scenario: String,
        /// The entry the directory is written below (it must exist).
        #[arg(long)]
        base_dn: String,
        /// How many people (default: the scenario's 2,000); their faults follow from their
        /// numbers as in the lab.
        #[arg(long)]
        people: Option<usize>,
    },
}

/// Where `imlink plan` and `imlink discover` get the environment from: exactly one of these.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct EnvironmentArgs {
    /// A facts file (JSON; format in the README).
    #[arg(long)]
    facts: Option<PathBuf>,
    /// A fresh lab scenario, as `lab:NAME` (e.g. `lab:litware`).
    #[arg(long)]
    environment: Option<String>,
    /// A saved lab state (see `imlink lab-shell`).
    #[arg(long)]
    lab_state: Option<PathBuf>,
}

impl EnvironmentArgs {
    /// The facts of the chosen environment, discovered now when it is a lab.
    fn facts(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<app::procedure::facts::Facts, String> {
        if let Some(path) = &self.facts {
            let facts: app::procedure::facts::Facts = read_json(path).map_err(|e| e.to_string())?;
            facts
                .validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(facts);
        }
        let mut lab = match (&self.environment, &self.lab_state) {
            (Some(env), _) => {
                let name = env
                    .strip_prefix("lab:")
                    .ok_or_else(|| format!("--environment {env:?}: expected lab:SCENARIO"))?;
                crate::lab::LabState::scenario(name).ok_or_else(|| {
                    format!(
                        "unknown scenario {name:?}; known: {}",
                        crate::lab::SCENARIOS.join(", ")
                    )
                })?
            }
            (None, Some(path)) if !path.exists() => {
                return Err(format!("{}: no such lab state", path.display()));
            }
            (None, Some(path)) => crate::lab::file_store::load(path, "litware")?,
            (None, None) => return Err("give --facts, --environment or --lab-state".into()),
        };
        lab.discover(now).map_err(|e| e.to_string())
    }
}

/// Output formats of `imlink plan`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PlanFormat {
    Text,
    Ps1,
    Json,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain and name the first broken link.
    Verify,
}

/// Parses the command line and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |k: &str| std::env::var(k).ok();
    match cli.command {
        Some(Command::CheckConfig) => return check_config(cli.config),
        Some(Command::Plan {
            request,
            environment,
            format,
            at,
        }) => {
            return plan_command(
                &request,
                &environment,
                format,
                at.unwrap_or_else(chrono::Utc::now),
            );
        }
        Some(Command::Discover { environment }) => {
            return print_facts("discover", environment.facts(chrono::Utc::now()));
        }
        Some(Command::Probes { backends }) => return probes_command(&backends),
        Some(Command::LabShell {
            state,
            scenario,
            powershell,
        }) => return lab_shell(&state, &scenario, &powershell),
        Some(Command::Lab { command }) => return lab_command(command),
        Some(Command::Facts {
            lync,
            exchange,
            backends,
        }) => return facts_command(&lync, &exchange, &backends),
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref(), &env) {
        Ok(c) => c,
        Err(problems) => {
            eprintln!("imlink: the configuration has problems:\n{problems}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log.format, &config.log.filter);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imlink: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate_only(&config).await,
            Command::Worker => worker_only(config).await,
            Command::Audit {
                command: AuditCommand::Verify,
            } => audit_verify(&config).await,
            Command::Eligibility { command } => eligibility(&config, command).await,
            Command::CheckConfig
            | Command::Plan { .. }
            | Command::Probes { .. }
            | Command::LabShell { .. }
            | Command::Lab { .. }
            | Command::Discover { .. }
            | Command::Facts { .. } => unreachable!("handled above"),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("imlink: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(path: Option<PathBuf>) -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let result = match &path {
        Some(p) => Config::check(p, &env),
        None => Config::load(None, &env),
    };
    match result {
        Ok(config) => {
            let db = config
                .database
                .resolve_url(&config.data_dir)
                .map(|u| redacted_url(u.expose()))
                .unwrap_or_else(|e| e.to_string());
            if let Err(e) = check_directory(&config).and_then(|()| check_provider(&config)) {
                println!("{e}");
                return ExitCode::from(2);
            }
            println!(
                "configuration OK: listen {}, database {db}, sign-in {}, directory {}",
                config.listen,
                if config.oidc.enabled {
                    format!("OpenID Connect ({}, reachable)", config.oidc.issuer_url)
                } else if config.local_signin.enabled {
                    "local demo accounts".to_string()
                } else {
                    "off".to_string()
                },
                match config.directory.source {
                    DirectorySource::Lab => "lab".to_string(),
                    DirectorySource::Ldap =>
                        format!("ldap ({}, reachable)", config.directory.ldap.url),
                    DirectorySource::PowerShell => format!(
                        "powershell (through the {} executor)",
                        format!("{:?}", config.executor.kind).to_lowercase()
                    ),
                }
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            println!("{problems}");
            ExitCode::from(2)
        }
    }
}

/// With sign-in through an OpenID Connect provider: its client secret can be read, and its
/// discovery document (naming the configured issuer) and keys can be fetched.
fn check_provider(config: &Config) -> Result<(), String> {
    if !config.oidc.enabled {
        return Ok(());
    }
    let provider = crate::oidc::Provider::new(&config.oidc).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime
        .block_on(provider.verify())
        .map_err(|e| format!("oidc.issuer_url: {e}"))
}

/// For an LDAP directory: its files can be read, and the server answers a bind and a search
/// of the base.
fn check_directory(config: &Config) -> Result<(), String> {
    if config.directory.source != DirectorySource::Ldap {
        return Ok(());
    }
    let directory = crate::directory::ldap::LdapDirectory::new(&config.directory.ldap)
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime
        .block_on(directory.verify())
        .map_err(|e| format!("directory.ldap: {e}"))
}

async fn open_database(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let url = config
        .database
        .resolve_url(&config.data_dir)
        .map_err(|e| anyhow!("database.{}: {e}", e.key()))?;
    tracing::info!(database = %redacted_url(url.expose()), "connecting to the database");
    database::connect(url.expose(), config.database.max_connections)
        .await
        .with_context(|| format!("cannot connect to {}", redacted_url(url.expose())))
}

async fn migrate_database(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    database::migrate(db).await.map_err(|e| {
        anyhow!("could not apply the database migrations ({e}); refusing to start on a database in an unknown state")
    })
}

async fn migrate_only(config: &Config) -> anyhow::Result<ExitCode> {
    let db = open_database(config).await?;
    migrate_database(&db).await?;
    println!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

async fn eligibility(config: &Config, command: EligibilityCommand) -> anyhow::Result<ExitCode> {
    let db = open_database(config).await?;
    migrate_database(&db).await?;
    let state = AppState::new(leptos_options(config), db.clone(), settings(config, &db)?);
    Ok(match command {
        EligibilityCommand::Check { identity, format } => {
            crate::eligibility::check(&state, &identity, format).await
        }
        EligibilityCommand::Scan {
            base_dn,
            csv,
            format,
        } => crate::eligibility::scan(&state, base_dn.as_deref(), csv.as_deref(), format).await,
    })
}

async fn audit_verify(config: &Config) -> anyhow::Result<ExitCode> {
    let db = open_database(config).await?;
    let report = app::ssr::audit::verify(&db).await?;
    match report.broken {
        None => {
            println!(
                "audit chain intact: {} events, head {}",
                report.events, report.head_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(link) => {
            println!(
                "audit chain BROKEN at event #{}: {} ({} events verified before it)",
                link.seq, link.reason, report.events
            );
            Ok(ExitCode::from(3))
        }
    }
}

/// The portal settings derived from the configuration. Without a facts file, imlink plans
/// against the lab, whose state lives in `db`. Fails when a file the directory needs cannot be
/// read.
pub fn settings(config: &Config, db: &sea_orm::DatabaseConnection) -> anyhow::Result<Settings> {
    let roles = |names: &[String]| names.iter().filter_map(|n| Role::parse(n)).collect();
    Ok(Settings {
        approval: ApprovalPolicy {
            quorum: config.approval.quorum,
            expiry_hours: config.approval.expiry_hours,
            approver_roles: roles(&config.approval.approver_roles),
        },
        identity_provider: crate::oidc::open(&config.oidc)?,
        local_accounts: config.local_signin.enabled.then(|| {
            config
                .local_signin
                .effective_users()
                .into_iter()
                .map(|u| Account {
                    username: u.username,
                    display_name: u.display_name,
                    roles: roles(&u.roles),
                })
                .collect()
        }),
        session: SessionPolicy {
            ttl: chrono::Duration::hours(i64::from(config.session.ttl_hours)),
            idle: chrono::Duration::minutes(i64::from(config.session.idle_minutes)),
            secure_cookie: config.session.secure_cookie,
        },
        environment: environment(config, db),
        directory: crate::directory::open(config, db)?,
        preview_facts_ttl: std::time::Duration::from_secs(u64::from(
            config.environment.preview_cache_seconds,
        )),
        limits: LimitPolicy {
            sign_ins_per_minute: config.limits.sign_ins_per_minute,
            actions_per_minute: config.limits.actions_per_minute,
            streams_per_session: config.limits.streams_per_session,
        },
        listen: config.listen,
        trusted_proxies: config
            .server
            .trusted_proxies
            .iter()
            .filter_map(|p| p.trim().parse().ok())
            .collect(),
        allowed_hosts: config.server.effective_allowed_hosts(config.listen),
        trusted_origins: config.server.trusted_origins.clone(),
    })
}

/// Where the compiled site (WASM, JS, CSS, assets) is served from: cargo-leptos's environment
/// when present, otherwise `target/site`.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    LeptosOptions::builder()
        .output_name(var("LEPTOS_OUTPUT_NAME", "imlink"))
        .site_root(var("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(var("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(config.listen)
        .build()
}

/// Where plans are made against: a facts file when one is configured; otherwise the lab, or
/// the real servers probed through the `ssh` or `local` executor.
fn environment(config: &Config, db: &sea_orm::DatabaseConnection) -> Environment {
    let lab = crate::lab::store::LabStore::new(db.clone());
    match (&config.environment.facts_file, config.executor.kind) {
        (Some(path), _) => Environment::FactsFile(path.clone()),
        (None, ExecutorKind::Lab) => Environment::Lab(Arc::new(lab)),
        (None, _) => Environment::Remote(Arc::new(Executor::new(&config.executor, lab))),
    }
}

/// The worker for this configuration; none when plans are made against a facts file but
/// would run on the lab, which is not what the file describes.
fn worker(config: &Config, state: &AppState) -> Option<crate::worker::Worker> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    if config.environment.facts_file.is_some() && config.executor.kind == ExecutorKind::Lab {
        return None;
    }
    let executor = Executor::new(
        &config.executor,
        crate::lab::store::LabStore::new(state.db.clone()),
    );
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "imlink".into());
    let owner = format!(
        "{host}:{}:{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut worker =
        crate::worker::Worker::new(state.db.clone(), state.settings.clone(), executor, owner);
    worker.lease = chrono::Duration::seconds(i64::from(config.worker.lease_seconds));
    // PostgreSQL wakes the worker at once; the poll is the fallback (and SQLite's only way).
    worker.poll = std::time::Duration::from_secs(u64::from(config.worker.poll_seconds));
    Some(worker)
}

async fn worker_only(config: Config) -> anyhow::Result<ExitCode> {
    let db = open_database(&config).await?;
    migrate_database(&db).await?;
    let state = AppState::new(leptos_options(&config), db.clone(), settings(&config, &db)?);
    let Some(worker) = worker(&config, &state) else {
        anyhow::bail!(
            "this configuration plans against a facts file but runs on the lab: set executor.kind to \"ssh\" or \"local\" to run plans on the servers the file describes"
        );
    };
    tracing::info!(owner = %worker.owner, "worker started");
    worker.run_until(shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let db = open_database(&config).await?;
    migrate_database(&db).await?;
    let state = AppState::new(leptos_options(&config), db.clone(), settings(&config, &db)?);
    spawn_expiry_sweep(state.clone());
    // One shutdown for both: SIGTERM stops accepting requests, and the worker finishes the
    // step in hand and puts its run back in the queue.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let on_stop = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let worker_task = worker(&config, &state).map(|mut worker| {
        tracing::info!(owner = %worker.owner, "running the worker inside serve");
        worker.wake = state.run_queued.clone();
        worker.scan_wake = state.scan_queued.clone();
        worker.changed = state.run_feeds.changed();
        tokio::spawn(worker.run_until(on_stop()))
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(
        %address,
        local_signin = config.local_signin.enabled,
        allowed_hosts = ?state.settings.allowed_hosts,
        "imlink is serving"
    );
    if config.listen.ip().is_unspecified() && config.server.allowed_hosts.is_empty() {
        tracing::warn!(
            "listening on every address, but server.allowed_hosts is empty: only requests naming \
             localhost or a loopback address are answered (others get 421); list the names \
             people use to reach imlink"
        );
    }
    println!("imlink is ready: open http://{address}/");
    http::serve(listener, state, on_stop()).await?;
    if let Some(task) = worker_task {
        let _ = task.await;
    }
    tracing::info!("imlink stopped");
    Ok(ExitCode::SUCCESS)
}

/// Expires requests whose approvals timed out, once a minute.
fn spawn_expiry_sweep(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match app::ssr::requests::expire_due(&state, chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired requests whose approvals timed out"),
                Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Why `imlink plan` could not plan.
#[derive(Debug, thiserror::Error)]
enum PlanInputError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, PlanInputError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanInputError::Read {
        path: shown.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| PlanInputError::Json {
        path: shown,
        source,
    })
}

/// Reads and validates both files and decides the plan.
fn plan_from_files(
    request: &std::path::Path,
    environment: &EnvironmentArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<app::procedure::plan::Plan, PlanInputError> {
    use app::domain::request::{IntegrationSpec, RequestFile};
    let file: RequestFile = read_json(request)?;
    let facts = environment.facts(now).map_err(PlanInputError::Invalid)?;
    let spec = IntegrationSpec::validate(&file.to_input(), now).map_err(|errors| {
        PlanInputError::Invalid(
            errors
                .errors
                .iter()
                .map(|(field, message)| {
                    format!(
                        "{}: field `{}`: {message}",
                        request.display(),
                        RequestFile::field_name(field)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    Ok(app::procedure::plan::plan(&spec, &facts, now))
}

fn plan_command(
    request: &std::path::Path,
    environment: &EnvironmentArgs,
    format: PlanFormat,
    now: chrono::DateTime<chrono::Utc>,
) -> ExitCode {
    let plan = match plan_from_files(request, environment, now) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("imlink plan: {e}");
            return ExitCode::from(2);
        }
    };
    match format {
        PlanFormat::Text => print!("{}", crate::render::text(&plan)),
        PlanFormat::Ps1 => print!("{}", crate::render::runbook(&plan)),
        PlanFormat::Json => println!("{}", crate::render::json(&plan)),
    }
    let failures = plan.failures();
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    for check in failures {
        eprintln!(
            "imlink plan: preflight `{}` failed: {}",
            check.id, check.detail
        );
    }
    ExitCode::from(3)
}

fn probes_command(backends: &[String]) -> ExitCode {
    use app::procedure::probes;
    let mut all = vec![
        (probes::lync(), "lync.json".to_string()),
        (probes::exchange(), "exchange.json".to_string()),
    ];
    for server in backends {
        if let Err(e) = app::procedure::powershell::check_text(server) {
            eprintln!("imlink probes: --backend {server:?} {e}");
            return ExitCode::from(2);
        }
        all.push((probes::backend(server), format!("backend-{server}.json")));
    }
    for (probe, file) in all {
        println!(
            "# Probe {}: run in the {}; save its output as {}\n{}\n",
            crate::render::comment(&probe.id),
            probe.target.label(),
            crate::render::comment(&file),
            probe.script
        );
    }
    ExitCode::SUCCESS
}

/// Reads saved probe outputs and assembles the facts they describe.
fn facts_from_outputs(
    lync: &std::path::Path,
    exchange: &std::path::Path,
    backends: &[String],
) -> Result<app::procedure::facts::Facts, String> {
    use app::procedure::probes;
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let lync = probes::parse_lync(&read(lync)?).map_err(|e| e.to_string())?;
    let exchange = probes::parse_exchange(&read(exchange)?).map_err(|e| e.to_string())?;
    let mut parsed = Vec::new();
    for pair in backends {
        let (server, file) = pair
            .split_once('=')
            .ok_or_else(|| format!("--backend {pair:?}: expected FQDN=FILE"))?;
        let output = read(std::path::Path::new(file))?;
        parsed.push(probes::parse_backend(server, &output).map_err(|e| e.to_string())?);
    }
    let facts = probes::assemble(lync, exchange, parsed, chrono::Utc::now());
    facts.validate().map_err(|e| e.to_string())?;
    Ok(facts)
}

fn facts_command(
    lync: &std::path::Path,
    exchange: &std::path::Path,
    backends: &[String],
) -> ExitCode {
    print_facts("facts", facts_from_outputs(lync, exchange, backends))
}

/// Prints facts as JSON, or the reason there are none (exit 2).
fn print_facts(command: &str, facts: Result<app::procedure::facts::Facts, String>) -> ExitCode {
    match facts {
        Ok(facts) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&facts).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("imlink {command}: {e}");
            ExitCode::from(2)
        }
    }
}

fn lab_command(command: LabCommand) -> ExitCode {
    let (state_path, scenario) = match &command {
        LabCommand::Signin {
            state, scenario, ..
        }
        | LabCommand::InstallCu {
            state, scenario, ..
        } => (state, scenario),
        LabCommand::Ldif {
            scenario,
            base_dn,
            people,
        } => return lab_ldif(scenario, base_dn, *people),
    };
    let done = crate::lab::file_store::change(state_path, scenario, |lab| match &command {
        LabCommand::Signin { user, .. } => {
            let outcome = lab.owa_sign_in(user, chrono::Utc::now());
            if outcome.presence {
                println!(
                    "{}: presence and instant messaging work in OWA.",
                    outcome.upn
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{}: no presence in OWA:", outcome.upn);
                for reason in &outcome.reasons {
                    println!("  - {reason}");
                }
                Ok(ExitCode::from(1))
            }
        }
        LabCommand::Ldif { .. } => unreachable!("answered above"),
        LabCommand::InstallCu { server, .. } => {
            lab.install_cumulative_update(server)?;
            println!(
                "Installed a cumulative update on {server}: OWA's web.config was rewritten and the IM keys are gone."
            );
            Ok(ExitCode::SUCCESS)
        }
    });
    done.unwrap_or_else(|e| {
        eprintln!("imlink lab: {e}");
        ExitCode::from(2)
    })
}

/// `imlink lab ldif`: the scenario's directory as LDIF on standard output.
fn lab_ldif(scenario: &str, base_dn: &str, people: Option<usize>) -> ExitCode {
    let Some(mut lab) = crate::lab::LabState::scenario(scenario) else {
        eprintln!(
            "imlink lab ldif: unknown scenario {scenario:?}; known: {}",
            crate::lab::SCENARIOS.join(", ")
        );
        return ExitCode::from(2);
    };
    if let Some(count) = people {
        let pool = lab
            .users
            .iter()
            .find_map(|u| u.lync.as_ref()?.registrar_pool.clone())
            .unwrap_or_default();
        lab.users = crate::lab::directory::users(count, &pool);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = crate::lab::ldif::write(&mut out, base_dn, &lab.users, &lab.databases)
        .and_then(|()| std::io::Write::flush(&mut out));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imlink lab ldif: {e}");
            ExitCode::from(1)
        }
    }
}

fn lab_shell(state_path: &std::path::Path, scenario: &str, arguments: &[String]) -> ExitCode {
    use crate::lab::{interpreter::Interpreter, value::format_output};
    let ran =
        shell_script(arguments, std::env::var("SSH_ORIGINAL_COMMAND").ok()).and_then(|script| {
            crate::lab::file_store::change(state_path, scenario, |lab| {
                Ok(Interpreter::new(lab).run(&script))
            })
        });
    let outcome = match ran {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("imlink lab-shell: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", format_output(&outcome.output));
    for error in &outcome.errors {
        eprintln!("{error}");
    }
    match outcome.failure {
        Some(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

/// The script `powershell.exe` would run given `arguments` (or, when there are none, the
/// words of an SSH client's command after the program name): `-EncodedCommand`, `-Command`
/// text, or standard input.
fn shell_script(arguments: &[String], ssh_command: Option<String>) -> Result<String, String> {
    let words: Vec<String> = match (arguments.is_empty(), ssh_command) {
        (true, Some(command)) => command
            .split_whitespace()
            .skip(1)
            .map(String::from)
            .collect(),
        _ => arguments.to_vec(),
    };
    let mut words = words.iter();
    while let Some(word) = words.next() {
        match word.to_ascii_lowercase().as_str() {
            "-noprofile" | "-noninteractive" | "-nologo" => {}
            "-encodedcommand" | "-enc" | "-e" => {
                let encoded = words.next().ok_or("-EncodedCommand needs a value")?;
                return crate::executor::decode_command(encoded);
            }
            "-command" | "-c" => {
                let rest: Vec<&str> = words.map(String::as_str).collect();
                if rest.is_empty() || rest == ["-"] {
                    break;
                }
                return Ok(rest.join(" "));
            }
            other => {
                return Err(format!(
                    "the lab does not emulate the powershell.exe argument {other}"
                ));
            }
        }
    }
    let mut script = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut script)
        .map_err(|e| format!("cannot read the script: {e}"))?;
    Ok(script)
}
