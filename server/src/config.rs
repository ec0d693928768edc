//! Service configuration: built-in defaults, an optional TOML file and
//! `IMLINK_*` environment overrides, merged in that order and validated.
//!
//! Problems are reported one per line, naming the file line or the
//! environment variable they came from (see [`ConfigErrors`]).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};
use toml_edit::{Document, Item, TableLike};

/// Role names that configuration may grant.
pub const VALID_ROLES: &[&str] = &["requester", "approver", "auditor", "admin"];

/// Prefix of every environment variable that overrides a configuration key.
pub const ENV_PREFIX: &str = "IMLINK_";

/// Leaves whose default is `None`, so they are absent from the serialized
/// defaults that the other overridable keys are derived from.
const OPTIONAL_LEAVES: &[(&str, Kind)] = &[
    ("database.url", Kind::String),
    ("database.url_file", Kind::String),
    ("database.password_file", Kind::String),
    ("environment.facts_file", Kind::String),
    ("executor.ssh.identity_file", Kind::String),
    ("executor.ssh.known_hosts_file", Kind::String),
];

/// Keys whose values must never appear in messages.
const SECRET_KEYS: &[&str] = &["database.url"];

/// Complete service configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Directory for local state (holds the default SQLite database).
    pub data_dir: PathBuf,
    /// Database connection settings.
    pub database: DatabaseConfig,
    /// Logging settings.
    pub log: LogConfig,
    /// Password-less demo sign-in for local development.
    pub local_signin: LocalSigninConfig,
    /// Approval workflow settings.
    pub approval: ApprovalConfig,
    /// Session cookie settings.
    pub session: SessionConfig,
    /// The Lync/Exchange environment that plans are made against.
    pub environment: EnvironmentConfig,
    /// Where approved plans (and, without a facts file, the probes) run.
    pub executor: ExecutorConfig,
    /// How workers hold and look for runs.
    pub worker: WorkerConfig,
    /// Which host names and origins the portal answers for, and which proxies it trusts.
    pub server: ServerConfig,
    /// How much one client may ask of one imlink process.
    pub limits: LimitsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000),
            data_dir: PathBuf::from("data"),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            local_signin: LocalSigninConfig::default(),
            approval: ApprovalConfig::default(),
            session: SessionConfig::default(),
            environment: EnvironmentConfig::default(),
            executor: ExecutorConfig::default(),
            worker: WorkerConfig::default(),
            server: ServerConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

/// Which host names and origins the portal answers for, and which proxies it trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Host names (or IP addresses) requests may name in `Host`; others get 421. Empty means
    /// `localhost`, `127.0.0.1`, `[::1]` and the `listen` address.
    pub allowed_hosts: Vec<String>,
    /// Origins (`https://imlink.example.com`) accepted as the portal's own by the
    /// cross-origin guard, for a reverse proxy that changes the origin.
    pub trusted_origins: Vec<String>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client (for the
    /// per-client sign-in limit).
    pub trusted_proxies: Vec<String>,
}

impl ServerConfig {
    /// The host names requests may name: the configured ones, or the loopback names and the
    /// listen address. Lower case, without port; IPv6 addresses in brackets.
    pub fn effective_allowed_hosts(&self, listen: SocketAddr) -> Vec<String> {
        if !self.allowed_hosts.is_empty() {
            return self
                .allowed_hosts
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect();
        }
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .map(str::to_owned)
            .to_vec();
        let ip = listen.ip();
        if !ip.is_unspecified() {
            let shown = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            if !hosts.contains(&shown) {
                hosts.push(shown);
            }
        }
        hosts
    }
}

/// How much one client may ask of one imlink process (each process counts on its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sign-in attempts per client address per minute (1 to 10000).
    pub sign_ins_per_minute: u32,
    /// State-changing actions per session per minute (1 to 10000).
    pub actions_per_minute: u32,
    /// Live run streams one session may hold open at once (1 to 100).
    pub streams_per_session: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            sign_ins_per_minute: 20,
            actions_per_minute: 60,
            streams_per_session: 8,
        }
    }
}

/// How workers hold and look for runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Seconds a claim lasts unless renewed (renewed every second while a run goes on); a
    /// crashed worker's run is taken over this long after its last renewal (3 to 3600).
    pub lease_seconds: u32,
    /// Seconds between looks for work when nothing announces it (1 to 300; PostgreSQL
    /// announces queued runs at once).
    pub poll_seconds: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease_seconds: 60,
            poll_seconds: 2,
        }
    }
}

/// Database connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Database URL; mutually exclusive with `url_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// File containing the database URL (surrounding whitespace ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// File containing the password to insert into the URL's user info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Maximum number of pooled connections.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            password_file: None,
            max_connections: 10,
        }
    }
}

impl DatabaseConfig {
    /// Resolves the effective connection URL.
    ///
    /// Uses `url_file` (trimmed) if set, else `url`, else SQLite at
    /// `sqlite://<data_dir>/imlink.db?mode=rwc`. If `password_file` is set,
    /// its content (without the trailing newline) is percent-encoded and
    /// inserted into the URL's user info.
    pub fn resolve_url(&self, data_dir: &Path) -> Result<Secret, ConfigError> {
        let url = match (&self.url, &self.url_file) {
            (Some(_), Some(_)) => return Err(ConfigError::UrlAndUrlFile),
            (None, Some(path)) => {
                let text = read_secret_file("database.url_file", path)?;
                let url = text.trim();
                if url.is_empty() {
                    return Err(ConfigError::EmptyFile {
                        key: "database.url_file",
                        path: path.clone(),
                    });
                }
                url.to_owned()
            }
            (Some(url), None) => url.expose().to_owned(),
            (None, None) => default_sqlite_url(data_dir)?,
        };
        let Some(path) = &self.password_file else {
            return Ok(Secret(url));
        };
        let text = read_secret_file("database.password_file", path)?;
        let password = text.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            return Err(ConfigError::EmptyFile {
                key: "database.password_file",
                path: path.clone(),
            });
        }
        insert_password(&url, password).map(Secret)
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directives (`RUST_LOG` syntax).
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info,imlink=info,server=info,app=info".to_owned(),
        }
    }
}

/// Password-less demo sign-in, allowed only on loopback addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalSigninConfig {
    /// Whether local sign-in is offered.
    pub enabled: bool,
    /// Demo users; empty means the built-in users (see [`Self::effective_users`]).
    pub users: Vec<DemoUser>,
}

impl LocalSigninConfig {
    /// The configured demo users, or the built-in set when none are configured.
    pub fn effective_users(&self) -> Vec<DemoUser> {
        if !self.users.is_empty() {
            return self.users.clone();
        }
        [
            ("alice", "Alice Martin", &["requester"][..]),
            ("bob", "Bob Chen", &["approver"][..]),
            ("carol", "Carol Diaz", &["approver"][..]),
            ("dave", "Dave Okafor", &["auditor"][..]),
            (
                "erin",
                "Erin Novak",
                &["admin", "requester", "approver", "auditor"][..],
            ),
        ]
        .into_iter()
        .map(|(username, display_name, roles)| DemoUser {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        })
        .collect()
    }
}

/// A user offered by local sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoUser {
    /// Login name, matching `^[a-z][a-z0-9._-]{0,31}$`.
    pub username: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Granted roles (see [`VALID_ROLES`]).
    pub roles: Vec<String>,
}

/// Approval workflow settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalConfig {
    /// Number of distinct approvals a request needs (1 to 10).
    pub quorum: u32,
    /// Hours until an undecided request expires (1 to 8760).
    pub expiry_hours: u32,
    /// Roles whose holders may approve.
    pub approver_roles: Vec<String>,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self {
            quorum: 1,
            expiry_hours: 72,
            approver_roles: vec!["approver".to_owned()],
        }
    }
}

/// Session cookie settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Session lifetime in hours (1 to 720).
    pub ttl_hours: u32,
    /// Whether the portal is served over HTTPS: the session cookie is then `Secure` and named
    /// `__Host-imlink_session`, and responses carry HSTS.
    pub secure_cookie: bool,
    /// Minutes a session may go unused before it ends (5 to 1440).
    pub idle_minutes: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ttl_hours: 12,
            secure_cookie: false,
            idle_minutes: 60,
        }
    }
}

/// Where the environment facts come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvironmentConfig {
    /// A facts file (the JSON format in the README), read each time a plan is made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts_file: Option<PathBuf>,
    /// Seconds the facts behind plan previews and the environment view are reused (0 to 300;
    /// saving, submitting, re-planning and runs always read them fresh).
    pub preview_cache_seconds: u32,
}

impl Default for EnvironmentConfig {
    fn default() -> Self {
        Self {
            facts_file: None,
            preview_cache_seconds: 5,
        }
    }
}

/// Which executor runs scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// The simulated organization, in process.
    #[default]
    Lab,
    /// `powershell.exe` on a Windows management host, over OpenSSH.
    Ssh,
    /// A PowerShell executable on this machine.
    Local,
}

/// Where scripts run, and the limits they run under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// `lab`, `ssh` or `local`.
    pub kind: ExecutorKind,
    /// Seconds one script may run before it is stopped (1 to 86400).
    pub step_timeout_seconds: u32,
    /// Scripts one process runs at once against one target: the Lync shell, the Exchange
    /// shell, each back-end server (1 to 30, below WinRM's shell quotas).
    pub max_sessions_per_target: u32,
    /// PowerShell run first in every Lync Server Management Shell script (`ssh`, `local`).
    pub lync_preamble: String,
    /// PowerShell run first in every Exchange Management Shell script (`ssh`, `local`).
    pub exchange_preamble: String,
    /// The PowerShell program: run on the management host (`ssh`) or spawned (`local`).
    pub powershell: String,
    /// Arguments placed before `-NoProfile -NonInteractive -EncodedCommand …`.
    pub powershell_args: Vec<String>,
    /// The management host, for `ssh`.
    pub ssh: SshConfig,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            kind: ExecutorKind::Lab,
            step_timeout_seconds: 600,
            max_sessions_per_target: 2,
            lync_preamble: String::new(),
            exchange_preamble: String::new(),
            powershell: "powershell.exe".to_owned(),
            powershell_args: Vec::new(),
            ssh: SshConfig::default(),
        }
    }
}

/// The Windows management host reached over OpenSSH, with key authentication and a pinned
/// host key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SshConfig {
    /// Host name or address.
    pub host: String,
    pub port: u16,
    /// The account scripts run as.
    pub user: String,
    /// The private key (a file readable only by imlink); never copied anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_file: Option<PathBuf>,
    /// The known_hosts file holding the host's key; other keys are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_hosts_file: Option<PathBuf>,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 22,
            user: String::new(),
            identity_file: None,
            known_hosts_file: None,
        }
    }
}

/// A secret string whose `Debug`, `Display` and `Serialize` output is `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

/// Replaces the password in a URL's user info with `***`, for logging.
///
/// URLs without a password are returned unchanged. With unescaped reserved
/// characters it errs towards hiding too much rather than too little.
pub fn redacted_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let start = scheme_end + 3;
    let rest = &url[start..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..]),
        None => url.to_owned(),
    }
}

/// The environment variable that overrides `key_path`,
/// e.g. `approval.quorum` -> `IMLINK_APPROVAL_QUORUM`.
pub fn env_var_for(key_path: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key_path.replace('.', "_").to_ascii_uppercase()
    )
}

/// Failure to resolve a setting that refers to outside files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Both `database.url` and `database.url_file` are set.
    #[error("database.url and database.url_file are mutually exclusive; set only one")]
    UrlAndUrlFile,
    /// A file named by a setting could not be read.
    #[error("cannot read {key} {}: {error}", path.display())]
    ReadFile {
        /// Setting that names the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Underlying error.
        error: std::io::Error,
    },
    /// A file named by a setting is empty.
    #[error("{key} {} is empty", path.display())]
    EmptyFile {
        /// Setting that names the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// `password_file` is set but the URL already has a password.
    #[error(
        "the database URL already contains a password; remove it or unset database.password_file"
    )]
    PasswordInUrl,
    /// `password_file` is set but the URL names no user.
    #[error(
        "database.password_file is set but the database URL has no user name (expected scheme://user@host/...)"
    )]
    NoUserInUrl,
    /// `data_dir` cannot be written into a SQLite URL.
    #[error("data_dir {} is not valid UTF-8", path.display())]
    NonUtf8DataDir {
        /// The directory.
        path: PathBuf,
    },
}

impl ConfigError {
    /// The configuration key this error is about.
    pub fn key(&self) -> &'static str {
        match self {
            Self::UrlAndUrlFile => "database.url_file",
            Self::ReadFile { key, .. } | Self::EmptyFile { key, .. } => key,
            Self::PasswordInUrl | Self::NoUserInUrl => "database.password_file",
            Self::NonUtf8DataDir { .. } => "data_dir",
        }
    }
}

/// Where a [`Problem`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemSource {
    /// The configuration file.
    File(PathBuf),
    /// The named environment variable.
    Env(String),
    /// Neither: a built-in default or a value set in code.
    Builtin,
}

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `approval.quorum` or `local_signin.users[1].roles`.
    pub key: Option<String>,
    /// Origin of the offending value.
    pub source: ProblemSource,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    fn builtin(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: None,
            key: Some(key.into()),
            source: ProblemSource::Builtin,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            ProblemSource::Env(var) => return write!(f, "{var}: {}", self.message),
            ProblemSource::File(path) => {
                write!(f, "{}", path.display())?;
                if let Some(line) = self.line {
                    write!(f, ":{line}")?;
                }
                f.write_str(": ")?;
            }
            ProblemSource::Builtin => {}
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// All problems found while loading configuration, displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Loads defaults, then the file at `path` (if any), then `IMLINK_*`
    /// overrides looked up through `env`, and validates the result.
    ///
    /// Production passes `&|k| std::env::var(k).ok()`.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        load_traced(path, env).map(|(config, _)| config)
    }

    /// Like [`Config::load`] with a required file, and also checks that the
    /// files named by database settings are readable and usable.
    pub fn check(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let (config, origins) = load_traced(Some(path), env)?;
        match config.database.resolve_url(&config.data_dir) {
            Ok(_) => Ok(config),
            Err(error) => {
                let mut problem =
                    origins.attribute(Problem::builtin(error.key(), error.to_string()));
                // The message already names the key.
                problem.key = None;
                Err(ConfigErrors(vec![problem]))
            }
        }
    }

    /// Semantic checks of a merged configuration. Problems carry key paths
    /// and [`ProblemSource::Builtin`]; [`Config::load`] attributes them to
    /// file lines or environment variables.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_range(
            &mut problems,
            "approval.quorum",
            self.approval.quorum,
            1,
            10,
        );
        check_range(
            &mut problems,
            "approval.expiry_hours",
            self.approval.expiry_hours,
            1,
            8760,
        );
        check_range(
            &mut problems,
            "session.ttl_hours",
            self.session.ttl_hours,
            1,
            720,
        );
        check_range(
            &mut problems,
            "executor.step_timeout_seconds",
            self.executor.step_timeout_seconds,
            1,
            86_400,
        );
        check_range(
            &mut problems,
            "executor.max_sessions_per_target",
            self.executor.max_sessions_per_target,
            1,
            30,
        );
        check_range(
            &mut problems,
            "worker.lease_seconds",
            self.worker.lease_seconds,
            3,
            3600,
        );
        check_range(
            &mut problems,
            "worker.poll_seconds",
            self.worker.poll_seconds,
            1,
            300,
        );
        check_range(
            &mut problems,
            "session.idle_minutes",
            self.session.idle_minutes,
            5,
            1440,
        );
        check_range(
            &mut problems,
            "environment.preview_cache_seconds",
            self.environment.preview_cache_seconds,
            0,
            300,
        );
        for (key, value, max) in [
            (
                "limits.sign_ins_per_minute",
                self.limits.sign_ins_per_minute,
                10_000,
            ),
            (
                "limits.actions_per_minute",
                self.limits.actions_per_minute,
                10_000,
            ),
            (
                "limits.streams_per_session",
                self.limits.streams_per_session,
                100,
            ),
        ] {
            check_range(&mut problems, key, value, 1, max);
        }
        for (i, host) in self.server.allowed_hosts.iter().enumerate() {
            if !is_valid_host(host) {
                problems.push(Problem::builtin(
                    format!("server.allowed_hosts[{i}]"),
                    format!(
                        "must be a host name or IP address without scheme or port, like \
                         imlink.example.com or [2001:db8::1] (got {host:?})"
                    ),
                ));
            }
        }
        for (i, origin) in self.server.trusted_origins.iter().enumerate() {
            if !is_valid_origin(origin) {
                problems.push(Problem::builtin(
                    format!("server.trusted_origins[{i}]"),
                    format!(
                        "must be an origin like https://imlink.example.com (scheme, host and \
                         optional port; no path) (got {origin:?})"
                    ),
                ));
            }
        }
        for (i, proxy) in self.server.trusted_proxies.iter().enumerate() {
            if proxy.trim().parse::<IpAddr>().is_err() {
                problems.push(Problem::builtin(
                    format!("server.trusted_proxies[{i}]"),
                    format!("must be an IP address (got {proxy:?})"),
                ));
            }
        }
        let executor = &self.executor;
        if executor.kind != ExecutorKind::Lab && executor.powershell.trim().is_empty() {
            problems.push(Problem::builtin(
                "executor.powershell",
                "must name the PowerShell program",
            ));
        }
        if executor.kind == ExecutorKind::Ssh {
            let ssh = &executor.ssh;
            for (key, empty) in [
                ("executor.ssh.host", ssh.host.trim().is_empty()),
                ("executor.ssh.user", ssh.user.trim().is_empty()),
                (
                    "executor.ssh.identity_file",
                    ssh.identity_file
                        .as_ref()
                        .is_none_or(|p| p.as_os_str().is_empty()),
                ),
                (
                    "executor.ssh.known_hosts_file",
                    ssh.known_hosts_file
                        .as_ref()
                        .is_none_or(|p| p.as_os_str().is_empty()),
                ),
            ] {
                if empty {
                    problems.push(Problem::builtin(
                        key,
                        "is required when executor.kind is \"ssh\"",
                    ));
                }
            }
            if ssh.port == 0 {
                problems.push(Problem::builtin("executor.ssh.port", "must be 1 to 65535"));
            }
        }
        if self.database.max_connections == 0 {
            problems.push(Problem::builtin(
                "database.max_connections",
                "must be at least 1",
            ));
        }

        let db = &self.database;
        if db.url.is_some() && db.url_file.is_some() {
            problems.push(Problem::builtin(
                "database.url_file",
                "database.url and database.url_file are mutually exclusive; set only one",
            ));
        }
        if db.url.as_ref().is_some_and(|u| u.expose().is_empty()) {
            problems.push(Problem::builtin("database.url", "must not be empty"));
        }
        for (key, path) in [
            ("database.url_file", &db.url_file),
            ("database.password_file", &db.password_file),
        ] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                problems.push(Problem::builtin(key, "must not be empty"));
            }
        }

        if self.approval.approver_roles.is_empty() {
            problems.push(Problem::builtin(
                "approval.approver_roles",
                "must list at least one role",
            ));
        }
        for (i, role) in self.approval.approver_roles.iter().enumerate() {
            check_role(
                &mut problems,
                &format!("approval.approver_roles[{i}]"),
                role,
            );
        }

        let mut seen = HashSet::new();
        for (i, user) in self.local_signin.users.iter().enumerate() {
            let base = format!("local_signin.users[{i}]");
            let name = &user.username;
            if name.is_empty() {
                problems.push(Problem::builtin(
                    format!("{base}.username"),
                    "must not be empty",
                ));
            } else if !is_valid_username(name) {
                problems.push(Problem::builtin(
                    format!("{base}.username"),
                    format!("must match ^[a-z][a-z0-9._-]{{0,31}}$ (got {name:?})"),
                ));
            } else if !seen.insert(name.as_str()) {
                problems.push(Problem::builtin(
                    format!("{base}.username"),
                    format!("duplicate username {name:?}"),
                ));
            }
            if user.display_name.trim().is_empty() {
                problems.push(Problem::builtin(
                    format!("{base}.display_name"),
                    "must not be empty",
                ));
            }
            for (j, role) in user.roles.iter().enumerate() {
                check_role(&mut problems, &format!("{base}.roles[{j}]"), role);
            }
        }

        if self.local_signin.enabled && !self.listen.ip().to_canonical().is_loopback() {
            problems.push(Problem::builtin(
                "local_signin.enabled",
                format!(
                    "local sign-in is only allowed when listening on a loopback address \
                     (127.0.0.0/8 or ::1); listen is {}",
                    self.listen
                ),
            ));
        }
        problems
    }
}

fn check_range(problems: &mut Vec<Problem>, key: &str, value: u32, min: u32, max: u32) {
    if !(min..=max).contains(&value) {
        problems.push(Problem::builtin(
            key,
            format!("must be between {min} and {max} (got {value})"),
        ));
    }
}

fn check_role(problems: &mut Vec<Problem>, key: &str, role: &str) {
    if !VALID_ROLES.contains(&role) {
        problems.push(Problem::builtin(
            key,
            format!(
                "unknown role {role:?}; valid roles are {}",
                VALID_ROLES.join(", ")
            ),
        ));
    }
}

/// A host name (letters, digits, `-` and `.`), an IPv4 address, or an IPv6 address in brackets.
fn is_valid_host(host: &str) -> bool {
    let host = host.trim();
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `http://host` or `https://host[:port]`, nothing after.
fn is_valid_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = if rest.starts_with('[') {
        match rest.split_once(']') {
            Some((h, p)) => (format!("{h}]"), p.strip_prefix(':')),
            None => return false,
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (rest.to_owned(), None),
        }
    };
    is_valid_host(&host) && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// `^[a-z][a-z0-9._-]{0,31}$`
fn is_valid_username(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            first.is_ascii_lowercase()
                && rest.len() <= 31
                && rest
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
        }
        None => false,
    }
}

fn read_secret_file(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::ReadFile {
        key,
        path: path.to_path_buf(),
        error,
    })
}

fn default_sqlite_url(data_dir: &Path) -> Result<String, ConfigError> {
    let db = data_dir.join("imlink.db");
    let db = db.to_str().ok_or_else(|| ConfigError::NonUtf8DataDir {
        path: data_dir.to_path_buf(),
    })?;
    // The SQLite driver splits the query at '?' and percent-decodes the path.
    let mut encoded = String::with_capacity(db.len());
    for c in db.chars() {
        match c {
            '%' | '?' | '#' => push_percent_encoded(&mut encoded, c as u8),
            _ => encoded.push(c),
        }
    }
    Ok(format!("sqlite://{encoded}?mode=rwc"))
}

fn insert_password(url: &str, password: &str) -> Result<String, ConfigError> {
    let start = url.find("://").ok_or(ConfigError::NoUserInUrl)? + 3;
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let at = authority.rfind('@').ok_or(ConfigError::NoUserInUrl)?;
    let user = &authority[..at];
    if user.contains(':') {
        return Err(ConfigError::PasswordInUrl);
    }
    if user.is_empty() {
        return Err(ConfigError::NoUserInUrl);
    }
    let mut encoded = String::with_capacity(password.len() * 3);
    for b in password.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            push_percent_encoded(&mut encoded, b);
        }
    }
    Ok(format!("{}{user}:{encoded}{}", &url[..start], &rest[at..]))
}

fn push_percent_encoded(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0x0f)]));
}

/// How an environment value is turned into a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Float,
    Boolean,
    List,
}

/// Every overridable leaf key with its kind: the leaves of the serialized
/// defaults plus [`OPTIONAL_LEAVES`].
fn overridable_keys() -> Result<Vec<(String, Kind)>, toml::ser::Error> {
    let defaults = toml::Table::try_from(Config::default())?;
    let mut keys = Vec::new();
    collect_leaves("", &defaults, &mut keys);
    for (key, kind) in OPTIONAL_LEAVES {
        if !keys.iter().any(|(k, _)| k == key) {
            keys.push(((*key).to_owned(), *kind));
        }
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
}

fn collect_leaves(prefix: &str, table: &toml::Table, out: &mut Vec<(String, Kind)>) {
    for (name, value) in table {
        let path = join_key(prefix, name);
        let kind = match value {
            toml::Value::Table(inner) => {
                collect_leaves(&path, inner, out);
                continue;
            }
            toml::Value::String(_) | toml::Value::Datetime(_) => Kind::String,
            toml::Value::Integer(_) => Kind::Integer,
            toml::Value::Float(_) => Kind::Float,
            toml::Value::Boolean(_) => Kind::Boolean,
            toml::Value::Array(_) => Kind::List,
        };
        out.push((path, kind));
    }
}

fn join_key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Parses an environment value; the error message names the expected type.
fn parse_env_value(kind: Kind, raw: &str) -> Result<toml::Value, String> {
    let trimmed = raw.trim();
    match kind {
        Kind::String => Ok(toml::Value::String(raw.to_owned())),
        Kind::Integer => trimmed
            .parse()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected an integer, got {raw:?}")),
        Kind::Float => trimmed
            .parse()
            .map(toml::Value::Float)
            .map_err(|_| format!("expected a number, got {raw:?}")),
        Kind::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected a boolean (true or false), got {raw:?}")),
        },
        Kind::List if trimmed.starts_with('[') => {
            let parsed =
                toml::de::ValueDeserializer::parse(trimmed).and_then(toml::Value::deserialize);
            match parsed {
                Ok(value @ toml::Value::Array(_)) => Ok(value),
                Ok(_) => Err("expected a TOML array".to_owned()),
                Err(e) => {
                    let mut detail = one_line(e.message());
                    if detail.is_empty() {
                        detail = "incomplete value".to_owned();
                    }
                    if let Some(span) = e.span() {
                        let leading = raw.len() - raw.trim_start().len();
                        detail.push_str(&format!(" (at column {})", leading + span.start + 1));
                    }
                    Err(format!("expected a TOML array: {detail}"))
                }
            }
        }
        Kind::List => Ok(toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        )),
    }
}

/// Joins a possibly multi-line parser message into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sets `key` (dotted) in `table`, creating or replacing intermediate tables.
fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let slot = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !slot.is_table() {
                *slot = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = slot {
                set_path(inner, rest, value);
            }
        }
    }
}

/// `key` followed by its parents: `a.b[1].c`, `a.b[1]`, `a.b`, `a`.
fn key_and_parents(key: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(key), |k| {
        if k.ends_with(']') {
            k.rfind('[').map(|i| &k[..i])
        } else {
            k.rfind('.').map(|i| &k[..i])
        }
    })
}

/// Location of one key (or array element) in the file.
struct KeySpan {
    path: String,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

/// The parsed configuration file with the location of every key.
struct SourceFile {
    path: PathBuf,
    text: String,
    spans: Vec<KeySpan>,
}

impl SourceFile {
    fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn span_of(&self, key: &str) -> Option<&KeySpan> {
        self.spans.iter().find(|s| s.path == key)
    }

    /// Line of `key`, or of its nearest parent present in the file.
    fn line_of(&self, key: &str) -> Option<usize> {
        key_and_parents(key)
            .find_map(|k| self.span_of(k))
            .and_then(|s| s.key.as_ref().or(s.value.as_ref()))
            .map(|r| self.line_at(r.start))
    }

    /// The innermost key whose name or value covers `offset`.
    fn key_at(&self, offset: usize) -> Option<&str> {
        let covers = |r: &Option<Range<usize>>| {
            r.as_ref()
                .is_some_and(|r| r.contains(&offset) || r.start == offset)
        };
        self.spans
            .iter()
            .filter(|s| covers(&s.key))
            .max_by_key(|s| s.path.len())
            .or_else(|| {
                self.spans
                    .iter()
                    .filter(|s| covers(&s.value))
                    .min_by_key(|s| s.value.as_ref().map_or(usize::MAX, |r| r.len()))
            })
            .map(|s| s.path.as_str())
    }

    fn problem(&self, span: Option<Range<usize>>, message: &str) -> Problem {
        let start = span.map(|r| r.start);
        Problem {
            line: start.map(|s| self.line_at(s)),
            key: start.and_then(|s| self.key_at(s)).map(str::to_owned),
            source: ProblemSource::File(self.path.clone()),
            message: one_line(message),
        }
    }
}

fn index_table(prefix: &str, table: &dyn TableLike, out: &mut Vec<KeySpan>) {
    for (name, item) in table.iter() {
        let path = join_key(prefix, name);
        out.push(KeySpan {
            path: path.clone(),
            key: table.key(name).and_then(|k| k.span()),
            value: item.span(),
        });
        index_item(&path, item, out);
    }
}

fn index_item(path: &str, item: &Item, out: &mut Vec<KeySpan>) {
    match item {
        Item::Table(table) => index_table(path, table, out),
        Item::ArrayOfTables(array) => {
            for (i, table) in array.iter().enumerate() {
                let element = format!("{path}[{i}]");
                out.push(KeySpan {
                    path: element.clone(),
                    key: None,
                    value: table.span(),
                });
                index_table(&element, table, out);
            }
        }
        Item::Value(value) => index_value(path, value, out),
        Item::None => {}
    }
}

fn index_value(path: &str, value: &toml_edit::Value, out: &mut Vec<KeySpan>) {
    match value {
        toml_edit::Value::InlineTable(table) => index_table(path, table, out),
        toml_edit::Value::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                let element_path = format!("{path}[{i}]");
                out.push(KeySpan {
                    path: element_path.clone(),
                    key: None,
                    value: element.span(),
                });
                index_value(&element_path, element, out);
            }
        }
        _ => {}
    }
}

/// Where the merged values came from, to attribute problems.
#[derive(Default)]
struct Origins {
    file: Option<SourceFile>,
    /// Overridden key -> environment variable.
    env: BTreeMap<String, String>,
}

impl Origins {
    /// Points a key-based problem at the environment variable or file line
    /// that supplied the key (or its nearest parent).
    fn attribute(&self, mut problem: Problem) -> Problem {
        let Some(key) = problem.key.as_deref() else {
            return problem;
        };
        if let Some(var) = key_and_parents(key).find_map(|k| self.env.get(k)) {
            problem.source = ProblemSource::Env(var.clone());
            problem.line = None;
        } else if let Some(file) = &self.file {
            problem.line = file.line_of(key);
            problem.source = ProblemSource::File(file.path.clone());
        }
        problem
    }
}

/// Reads and parses the file; on success returns its spans and its table.
fn read_file(path: &Path) -> Result<(SourceFile, toml::Table), Problem> {
    let file_problem = |message: String| Problem {
        line: None,
        key: None,
        source: ProblemSource::File(path.to_path_buf()),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| file_problem(format!("cannot read file: {e}")))?;
    let mut file = SourceFile {
        path: path.to_path_buf(),
        text,
        spans: Vec::new(),
    };
    let document = match Document::parse(file.text.as_str()) {
        Ok(document) => document,
        Err(e) => {
            let mut problem = file.problem(e.span(), e.message());
            problem.key = None;
            return Err(problem);
        }
    };
    index_table("", document.as_table(), &mut file.spans);
    if let Err(e) = toml::from_str::<Config>(&file.text) {
        return Err(file.problem(e.span(), e.message()));
    }
    let table = toml::from_str::<toml::Table>(&file.text)
        .map_err(|e| file.problem(e.span(), e.message()))?;
    Ok((file, table))
}

fn load_traced(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Origins), ConfigErrors> {
    let mut problems = Vec::new();
    let mut origins = Origins::default();
    // Invariant: `merged` always deserializes into a `Config`.
    let mut merged = toml::Table::new();

    if let Some(path) = path {
        match read_file(path) {
            Ok((file, table)) => {
                origins.file = Some(file);
                merged = table;
            }
            Err(problem) => problems.push(problem),
        }
    }

    let keys = overridable_keys().unwrap_or_else(|e| {
        problems.push(Problem {
            line: None,
            key: None,
            source: ProblemSource::Builtin,
            message: format!("cannot list overridable keys: {e}"),
        });
        Vec::new()
    });
    for (key, kind) in keys {
        let var = env_var_for(&key);
        let Some(raw) = env(&var) else {
            continue;
        };
        let env_problem = |message: String| Problem {
            line: None,
            key: Some(key.clone()),
            source: ProblemSource::Env(var.clone()),
            message,
        };
        let value = match parse_env_value(kind, &raw) {
            Ok(value) => value,
            Err(message) => {
                problems.push(env_problem(message));
                continue;
            }
        };
        let mut candidate = merged.clone();
        set_path(&mut candidate, &key, value);
        match candidate.clone().try_into::<Config>() {
            Ok(_) => {
                merged = candidate;
                origins.env.insert(key, var);
            }
            Err(e) => {
                let mut message = one_line(e.message());
                if kind == Kind::String
                    && !SECRET_KEYS.contains(&key.as_str())
                    && !message.contains(raw.as_str())
                {
                    message.push_str(&format!(" (got {raw:?})"));
                }
                problems.push(env_problem(message));
            }
        }
    }
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }

    let config = merged.try_into::<Config>().map_err(|e| {
        ConfigErrors(vec![Problem {
            line: None,
            key: None,
            source: ProblemSource::Builtin,
            message: one_line(e.message()),
        }])
    })?;
    let mut problems: Vec<Problem> = config
        .validate()
        .into_iter()
        .map(|p| origins.attribute(p))
        .collect();
    // File problems in line order, then environment problems.
    problems.sort_by_key(|p| {
        let rank = match p.source {
            ProblemSource::File(_) => 0,
            ProblemSource::Env(_) => 1,
            ProblemSource::Builtin => 2,
        };
        (rank, p.line.unwrap_or(usize::MAX))
    });
    if problems.is_empty() {
        Ok((config, origins))
    } else {
        Err(ConfigErrors(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const EXAMPLE: &str = include_str!("../../imlink.example.toml");

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("imlink-config-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn write(&self, name: &str, content: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, content).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Loads `text` as a file named `imlink.toml` (relative, for stable messages).
    fn load_text(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        let dir = TempDir::new();
        dir.write("imlink.toml", text);
        let result = load_traced(Some(&dir.0.join("imlink.toml")), env);
        // Report the file by its bare name so assertions don't depend on the temp dir.
        result.map(|(c, _)| c).map_err(|errors| {
            ConfigErrors(
                errors
                    .0
                    .into_iter()
                    .map(|mut p| {
                        if let ProblemSource::File(_) = p.source {
                            p.source = ProblemSource::File(PathBuf::from("imlink.toml"));
                        }
                        p
                    })
                    .collect(),
            )
        })
    }

    fn lookup<'a>(value: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
        key.split('.').try_fold(value, |v, k| v.get(k))
    }

    fn parse_value(text: &str) -> toml::Value {
        toml::Value::deserialize(toml::de::ValueDeserializer::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn defaults_without_file() {
        let config = Config::load(None, &no_env).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.database.max_connections, 10);
        assert_eq!(config.log.format, LogFormat::Text);
        assert_eq!(config.log.filter, "info,imlink=info,server=info,app=info");
        assert!(!config.local_signin.enabled);
        assert_eq!(config.approval.quorum, 1);
        assert_eq!(config.approval.expiry_hours, 72);
        assert_eq!(config.approval.approver_roles, ["approver"]);
        assert_eq!(config.session.ttl_hours, 12);
        assert!(!config.session.secure_cookie);
        assert!(config.validate().is_empty());
        assert_eq!(
            config
                .database
                .resolve_url(&config.data_dir)
                .unwrap()
                .expose(),
            "sqlite://data/imlink.db?mode=rwc"
        );
    }

    #[test]
    fn default_demo_users() {
        let users = LocalSigninConfig::default().effective_users();
        let summary: Vec<(&str, &str, Vec<&str>)> = users
            .iter()
            .map(|u| {
                (
                    u.username.as_str(),
                    u.display_name.as_str(),
                    u.roles.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("alice", "Alice Martin", vec!["requester"]),
                ("bob", "Bob Chen", vec!["approver"]),
                ("carol", "Carol Diaz", vec!["approver"]),
                ("dave", "Dave Okafor", vec!["auditor"]),
                (
                    "erin",
                    "Erin Novak",
                    vec!["admin", "requester", "approver", "auditor"]
                ),
            ]
        );
        let config = Config {
            local_signin: LocalSigninConfig {
                enabled: true,
                users,
            },
            ..Config::default()
        };
        assert!(config.validate().is_empty());
    }

    #[test]
    fn file_values() {
        let config = load_text(
            r#"
listen = "[::1]:8080"
data_dir = "/var/lib/imlink"

[database]
url = "postgres://imlink@db/imlink"
max_connections = 4

[log]
format = "json"
filter = "debug"

[local_signin]
enabled = true

[[local_signin.users]]
username = "zoe"
display_name = "Zoe Park"
roles = ["requester", "admin"]

[approval]
quorum = 2
expiry_hours = 24
approver_roles = ["approver", "admin"]

[session]
ttl_hours = 8
secure_cookie = true
"#,
            &no_env,
        )
        .unwrap();
        assert_eq!(config.listen, "[::1]:8080".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/imlink"));
        assert_eq!(
            config.database.url.as_ref().map(Secret::expose),
            Some("postgres://imlink@db/imlink")
        );
        assert_eq!(config.database.max_connections, 4);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.filter, "debug");
        assert!(config.local_signin.enabled);
        assert_eq!(config.local_signin.effective_users().len(), 1);
        assert_eq!(config.local_signin.users[0].username, "zoe");
        assert_eq!(config.approval.quorum, 2);
        assert_eq!(config.approval.expiry_hours, 24);
        assert_eq!(config.approval.approver_roles, ["approver", "admin"]);
        assert_eq!(config.session.ttl_hours, 8);
        assert!(config.session.secure_cookie);
        assert_eq!(
            config
                .database
                .resolve_url(&config.data_dir)
                .unwrap()
                .expose(),
            "postgres://imlink@db/imlink"
        );
    }

    #[test]
    fn partial_sections_keep_defaults() {
        let config = load_text("[approval]\nquorum = 3\n", &no_env).unwrap();
        assert_eq!(config.approval.quorum, 3);
        assert_eq!(config.approval.expiry_hours, 72);
        assert_eq!(config.approval.approver_roles, ["approver"]);
        assert_eq!(config.session, SessionConfig::default());
    }

    #[test]
    fn every_leaf_has_a_working_env_override() {
        // Exhaustive literals (no `..Default::default()`): a new field fails to
        // compile here until it is listed, and then must have an override.
        let full = Config {
            listen: "127.0.0.1:1".parse().unwrap(),
            data_dir: PathBuf::from("d"),
            database: DatabaseConfig {
                url: Some(Secret::new("u")),
                url_file: Some(PathBuf::from("f")),
                password_file: Some(PathBuf::from("p")),
                max_connections: 1,
            },
            log: LogConfig {
                format: LogFormat::Json,
                filter: "f".to_owned(),
            },
            local_signin: LocalSigninConfig {
                enabled: true,
                users: vec![DemoUser {
                    username: "u".to_owned(),
                    display_name: "U".to_owned(),
                    roles: vec!["admin".to_owned()],
                }],
            },
            approval: ApprovalConfig {
                quorum: 1,
                expiry_hours: 1,
                approver_roles: vec!["approver".to_owned()],
            },
            session: SessionConfig {
                ttl_hours: 1,
                secure_cookie: true,
                idle_minutes: 5,
            },
            environment: EnvironmentConfig {
                facts_file: Some(PathBuf::from("facts.json")),
                preview_cache_seconds: 1,
            },
            executor: ExecutorConfig {
                ssh: SshConfig {
                    identity_file: Some(PathBuf::from("id")),
                    known_hosts_file: Some(PathBuf::from("known_hosts")),
                    ..SshConfig::default()
                },
                ..ExecutorConfig::default()
            },
            worker: WorkerConfig::default(),
            server: ServerConfig {
                allowed_hosts: vec!["h".to_owned()],
                trusted_origins: vec!["https://h".to_owned()],
                trusted_proxies: vec!["10.0.0.1".to_owned()],
            },
            limits: LimitsConfig::default(),
        };
        let mut leaves = Vec::new();
        collect_leaves("", &toml::Table::try_from(&full).unwrap(), &mut leaves);
        let leaves: BTreeSet<String> = leaves.into_iter().map(|(k, _)| k).collect();
        let keys: BTreeSet<String> = overridable_keys()
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(leaves, keys);

        // (key, env value, expected serialized value as TOML)
        let samples: &[(&str, &str, &str)] = &[
            ("listen", "127.0.0.2:4000", r#""127.0.0.2:4000""#),
            ("data_dir", "/var/lib/imlink", r#""/var/lib/imlink""#),
            ("database.url", "postgres://u@h/db", r#""***""#),
            (
                "database.url_file",
                "/run/secrets/url",
                r#""/run/secrets/url""#,
            ),
            (
                "database.password_file",
                "/run/secrets/pw",
                r#""/run/secrets/pw""#,
            ),
            ("database.max_connections", "25", "25"),
            ("log.format", "json", r#""json""#),
            (
                "log.filter",
                "debug,imlink=trace",
                r#""debug,imlink=trace""#,
            ),
            ("local_signin.enabled", "true", "true"),
            (
                "local_signin.users",
                r#"[{ username = "zed", display_name = "Zed", roles = ["admin"] }]"#,
                r#"[{ username = "zed", display_name = "Zed", roles = ["admin"] }]"#,
            ),
            ("approval.quorum", "3", "3"),
            ("approval.expiry_hours", "24", "24"),
            (
                "approval.approver_roles",
                "approver, admin",
                r#"["approver", "admin"]"#,
            ),
            ("session.ttl_hours", "8", "8"),
            ("session.secure_cookie", "true", "true"),
            ("session.idle_minutes", "15", "15"),
            ("environment.preview_cache_seconds", "0", "0"),
            (
                "server.allowed_hosts",
                "imlink.example.com, 10.0.0.8",
                r#"["imlink.example.com", "10.0.0.8"]"#,
            ),
            (
                "server.trusted_origins",
                "https://imlink.example.com",
                r#"["https://imlink.example.com"]"#,
            ),
            ("server.trusted_proxies", "10.0.0.2", r#"["10.0.0.2"]"#),
            ("limits.sign_ins_per_minute", "5", "5"),
            ("limits.actions_per_minute", "30", "30"),
            ("limits.streams_per_session", "2", "2"),
            (
                "environment.facts_file",
                "/etc/imlink/facts.json",
                r#""/etc/imlink/facts.json""#,
            ),
            ("executor.kind", "local", r#""local""#),
            ("executor.step_timeout_seconds", "60", "60"),
            ("executor.max_sessions_per_target", "4", "4"),
            (
                "executor.lync_preamble",
                "Import-Module Lync",
                r#""Import-Module Lync""#,
            ),
            (
                "executor.exchange_preamble",
                ". $env:ExchangeInstallPath\\bin\\RemoteExchange.ps1",
                r#"". $env:ExchangeInstallPath\\bin\\RemoteExchange.ps1""#,
            ),
            ("executor.powershell", "pwsh", r#""pwsh""#),
            ("executor.powershell_args", "-Sta", r#"["-Sta"]"#),
            ("executor.ssh.host", "mgmt01", r#""mgmt01""#),
            ("worker.lease_seconds", "10", "10"),
            ("worker.poll_seconds", "5", "5"),
            ("executor.ssh.port", "2222", "2222"),
            ("executor.ssh.user", "svc-imlink", r#""svc-imlink""#),
            (
                "executor.ssh.identity_file",
                "/run/secrets/id",
                r#""/run/secrets/id""#,
            ),
            (
                "executor.ssh.known_hosts_file",
                "/etc/imlink/known_hosts",
                r#""/etc/imlink/known_hosts""#,
            ),
        ];
        let sampled: BTreeSet<String> = samples.iter().map(|(k, _, _)| (*k).to_owned()).collect();
        assert_eq!(sampled, keys);

        let defaults = toml::Value::try_from(Config::default()).unwrap();
        for (key, raw, expected) in samples {
            let var = env_var_for(key);
            let config = Config::load(None, &env_of(&[(&var, raw)]))
                .unwrap_or_else(|e| panic!("{var}={raw}: {e}"));
            let actual = toml::Value::try_from(&config).unwrap();
            let expected = parse_value(expected);
            assert_eq!(lookup(&actual, key), Some(&expected), "{var}");
            assert_ne!(
                lookup(&defaults, key),
                Some(&expected),
                "{var} changes nothing"
            );
        }
        let config = Config::load(
            None,
            &env_of(&[("IMLINK_DATABASE_URL", "postgres://u:pw@h/db")]),
        )
        .unwrap();
        assert_eq!(
            config
                .database
                .url
                .map(|s| s.expose().to_owned())
                .as_deref(),
            Some("postgres://u:pw@h/db")
        );
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_for("listen"), "IMLINK_LISTEN");
        assert_eq!(env_var_for("database.url"), "IMLINK_DATABASE_URL");
        assert_eq!(env_var_for("log.format"), "IMLINK_LOG_FORMAT");
        assert_eq!(
            env_var_for("local_signin.enabled"),
            "IMLINK_LOCAL_SIGNIN_ENABLED"
        );
        assert_eq!(
            env_var_for("session.secure_cookie"),
            "IMLINK_SESSION_SECURE_COOKIE"
        );
        assert_eq!(
            env_var_for("approval.approver_roles"),
            "IMLINK_APPROVAL_APPROVER_ROLES"
        );
        let keys = overridable_keys().unwrap();
        let vars: HashSet<String> = keys.iter().map(|(k, _)| env_var_for(k)).collect();
        assert_eq!(
            vars.len(),
            keys.len(),
            "two keys share an environment variable"
        );
    }

    #[test]
    fn env_overrides_win_over_file() {
        let config = load_text(
            "listen = \"127.0.0.1:4000\"\n[approval]\nquorum = 2\napprover_roles = [\"approver\"]\n",
            &env_of(&[
                ("IMLINK_APPROVAL_QUORUM", "5"),
                ("IMLINK_APPROVAL_APPROVER_ROLES", "admin,approver"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(config.approval.quorum, 5);
        assert_eq!(config.approval.approver_roles, ["admin", "approver"]);
    }

    #[test]
    fn env_list_forms() {
        let load = |raw: &str| {
            Config::load(None, &env_of(&[("IMLINK_APPROVAL_APPROVER_ROLES", raw)]))
                .map(|c| c.approval.approver_roles)
        };
        assert_eq!(load("approver").unwrap(), ["approver"]);
        assert_eq!(load(" approver , admin ,").unwrap(), ["approver", "admin"]);
        assert_eq!(load(r#"["admin"]"#).unwrap(), ["admin"]);
        let errors = load("").unwrap_err();
        assert_eq!(
            errors.to_string(),
            "IMLINK_APPROVAL_APPROVER_ROLES: must list at least one role"
        );
    }

    #[test]
    fn bad_env_values_are_all_reported() {
        let errors = Config::load(
            None,
            &env_of(&[
                ("IMLINK_APPROVAL_QUORUM", "abc"),
                ("IMLINK_SESSION_SECURE_COOKIE", "maybe"),
                ("IMLINK_LISTEN", "nowhere"),
                ("IMLINK_LOG_FORMAT", "xml"),
                ("IMLINK_SESSION_TTL_HOURS", "-1"),
                ("IMLINK_LOCAL_SIGNIN_USERS", "[{ username = "),
            ]),
        )
        .unwrap_err();
        let text = errors.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(
            lines.contains(&r#"IMLINK_APPROVAL_QUORUM: expected an integer, got "abc""#),
            "{text}"
        );
        assert!(
            lines.contains(
                &r#"IMLINK_SESSION_SECURE_COOKIE: expected a boolean (true or false), got "maybe""#
            ),
            "{text}"
        );
        let find = |var: &str| {
            errors
                .0
                .iter()
                .find(|p| p.source == ProblemSource::Env(var.to_owned()))
                .unwrap_or_else(|| panic!("no problem for {var}: {text}"))
        };
        assert!(
            find("IMLINK_LISTEN").message.contains("\"nowhere\""),
            "{text}"
        );
        assert!(find("IMLINK_LOG_FORMAT").message.contains("xml"), "{text}");
        assert!(
            find("IMLINK_SESSION_TTL_HOURS").message.contains("-1"),
            "{text}"
        );
        assert_eq!(
            find("IMLINK_LOCAL_SIGNIN_USERS").message,
            "expected a TOML array: unclosed inline table, expected `}` (at column 14)"
        );
        assert_eq!(
            find("IMLINK_LOG_FORMAT").message,
            "unknown variant `xml`, expected `text` or `json`"
        );
        assert_eq!(find("IMLINK_LISTEN").key.as_deref(), Some("listen"));
    }

    #[test]
    fn semantic_problem_from_env_names_the_variable() {
        let errors = Config::load(None, &env_of(&[("IMLINK_APPROVAL_QUORUM", "0")])).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "IMLINK_APPROVAL_QUORUM: must be between 1 and 10 (got 0)"
        );
    }

    #[test]
    fn syntax_error_reports_its_line() {
        let errors = load_text(
            "listen = \"127.0.0.1:3000\"\n[approval]\nquorum = = 2\n",
            &no_env,
        )
        .unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].line, Some(3));
        assert_eq!(
            errors.to_string(),
            "imlink.toml:3: extra `=`, expected nothing"
        );
    }

    #[test]
    fn unknown_key_reports_line_and_key() {
        let errors =
            load_text("# imlink\n[approval]\nquorum = 2\n\nquorm = 3\n", &no_env).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        let problem = &errors.0[0];
        assert_eq!(problem.line, Some(5), "{errors}");
        assert_eq!(problem.key.as_deref(), Some("approval.quorm"));
        assert!(
            errors
                .to_string()
                .starts_with("imlink.toml:5: approval.quorm: unknown field `quorm`"),
            "{errors}"
        );
    }

    #[test]
    fn wrong_type_reports_line_and_key() {
        let errors = load_text(
            "[session]\nttl_hours = 8\n\n[approval]\nquorum = \"two\"\n",
            &no_env,
        )
        .unwrap_err();
        let problem = &errors.0[0];
        assert_eq!(problem.line, Some(5), "{errors}");
        assert_eq!(problem.key.as_deref(), Some("approval.quorum"), "{errors}");
    }

    #[test]
    fn semantic_problems_carry_file_lines_and_are_all_collected() {
        let errors = load_text(
            r#"# line 1
listen = "127.0.0.1:3000"

[approval]
quorum = 0
approver_roles = ["approver", "boss"]

[session]
ttl_hours = 0

[[local_signin.users]]
username = "Alice"
display_name = "A"

[[local_signin.users]]
username = "bob"
display_name = "Bob"
roles = [
  "approver",
  "janitor",
]

[[local_signin.users]]
username = "bob"
display_name = "Bob again"
"#,
            &no_env,
        )
        .unwrap_err();
        let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "imlink.toml:5: approval.quorum: must be between 1 and 10 (got 0)",
                "imlink.toml:6: approval.approver_roles[1]: unknown role \"boss\"; valid roles are requester, approver, auditor, admin",
                "imlink.toml:9: session.ttl_hours: must be between 1 and 720 (got 0)",
                "imlink.toml:12: local_signin.users[0].username: must match ^[a-z][a-z0-9._-]{0,31}$ (got \"Alice\")",
                "imlink.toml:20: local_signin.users[1].roles[1]: unknown role \"janitor\"; valid roles are requester, approver, auditor, admin",
                "imlink.toml:24: local_signin.users[2].username: duplicate username \"bob\"",
            ]
        );
    }

    #[test]
    fn quorum_problem_in_inline_and_dotted_forms() {
        let errors = load_text("\n\napproval.quorum = 11\n", &no_env).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "imlink.toml:3: approval.quorum: must be between 1 and 10 (got 11)"
        );
        let errors = load_text("\napproval = { quorum = 0 }\n", &no_env).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "imlink.toml:2: approval.quorum: must be between 1 and 10 (got 0)"
        );
    }

    #[test]
    fn local_signin_requires_loopback() {
        let errors = load_text(
            "listen = \"0.0.0.0:3000\"\n\n[local_signin]\nenabled = true\n",
            &no_env,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "imlink.toml:4: local_signin.enabled: local sign-in is only allowed when listening \
             on a loopback address (127.0.0.0/8 or ::1); listen is 0.0.0.0:3000"
        );
        for listen in ["127.0.0.1:3000", "127.1.2.3:80", "[::1]:3000"] {
            let config = Config {
                listen: listen.parse().unwrap(),
                local_signin: LocalSigninConfig {
                    enabled: true,
                    users: Vec::new(),
                },
                ..Config::default()
            };
            assert!(config.validate().is_empty(), "{listen}");
        }
        let errors = Config::load(
            None,
            &env_of(&[
                ("IMLINK_LISTEN", "[::]:3000"),
                ("IMLINK_LOCAL_SIGNIN_ENABLED", "true"),
            ]),
        )
        .unwrap_err();
        assert!(
            errors
                .to_string()
                .starts_with("IMLINK_LOCAL_SIGNIN_ENABLED: local sign-in is only allowed"),
            "{errors}"
        );
    }

    #[test]
    fn url_and_url_file_conflict() {
        let errors = load_text(
            "[database]\nurl = \"postgres://u@h/db\"\nurl_file = \"/run/url\"\n",
            &no_env,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "imlink.toml:3: database.url_file: database.url and database.url_file are mutually exclusive; set only one"
        );
        let db = DatabaseConfig {
            url: Some(Secret::new("postgres://u@h/db")),
            url_file: Some(PathBuf::from("/run/url")),
            ..DatabaseConfig::default()
        };
        assert!(matches!(
            db.resolve_url(Path::new("data")),
            Err(ConfigError::UrlAndUrlFile)
        ));
    }

    #[test]
    fn password_file_is_percent_encoded_into_url() {
        let dir = TempDir::new();
        let password_file = dir.write("pw", "p@ss/w:rd %?#\n");
        let db = DatabaseConfig {
            url: Some(Secret::new("postgres://imlink@db.example.com:5432/imlink")),
            password_file: Some(password_file.clone()),
            ..DatabaseConfig::default()
        };
        let url = db.resolve_url(Path::new("data")).unwrap();
        assert_eq!(
            url.expose(),
            "postgres://imlink:p%40ss%2Fw%3Ard%20%25%3F%23@db.example.com:5432/imlink"
        );
        assert_eq!(
            redacted_url(url.expose()),
            "postgres://imlink:***@db.example.com:5432/imlink"
        );

        let url_file = dir.write("url", "  postgres://imlink@db/imlink?sslmode=require\n");
        let db = DatabaseConfig {
            url_file: Some(url_file),
            password_file: Some(password_file.clone()),
            ..DatabaseConfig::default()
        };
        assert_eq!(
            db.resolve_url(Path::new("data")).unwrap().expose(),
            "postgres://imlink:p%40ss%2Fw%3Ard%20%25%3F%23@db/imlink?sslmode=require"
        );

        let with_password = DatabaseConfig {
            url: Some(Secret::new("postgres://imlink:old@db/imlink")),
            password_file: Some(password_file.clone()),
            ..DatabaseConfig::default()
        };
        assert!(matches!(
            with_password.resolve_url(Path::new("data")),
            Err(ConfigError::PasswordInUrl)
        ));
        let no_user = DatabaseConfig {
            password_file: Some(password_file),
            ..DatabaseConfig::default()
        };
        assert!(matches!(
            no_user.resolve_url(Path::new("data")),
            Err(ConfigError::NoUserInUrl)
        ));
        let missing = DatabaseConfig {
            password_file: Some(dir.0.join("missing")),
            ..DatabaseConfig::default()
        };
        let error = missing.resolve_url(Path::new("data")).unwrap_err();
        assert_eq!(error.key(), "database.password_file");
        assert!(
            error
                .to_string()
                .starts_with("cannot read database.password_file ")
        );
    }

    #[test]
    fn check_reports_unreadable_secret_files() {
        let dir = TempDir::new();
        let config_path = dir.write(
            "imlink.toml",
            "[database]\nurl = \"postgres://imlink@db/imlink\"\npassword_file = \"/nonexistent/imlink-pw\"\n",
        );
        assert!(Config::load(Some(&config_path), &no_env).is_ok());
        let errors = Config::check(&config_path, &no_env).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].line, Some(3));
        assert!(
            errors.to_string().contains(
                "imlink.toml:3: cannot read database.password_file /nonexistent/imlink-pw: "
            ),
            "{errors}"
        );

        let pw = dir.write("pw", "secret\n");
        let config_path = dir.write(
            "ok.toml",
            &format!(
                "[database]\nurl = \"postgres://imlink@db/imlink\"\npassword_file = {:?}\n",
                pw.to_str().unwrap()
            ),
        );
        assert!(Config::check(&config_path, &no_env).is_ok());
        let errors = Config::check(&dir.0.join("absent.toml"), &no_env).unwrap_err();
        assert!(errors.to_string().contains("cannot read file"), "{errors}");
    }

    #[test]
    fn default_sqlite_url_escapes_special_path_characters() {
        assert_eq!(
            default_sqlite_url(Path::new("/var/lib/imlink")).unwrap(),
            "sqlite:///var/lib/imlink/imlink.db?mode=rwc"
        );
        assert_eq!(
            default_sqlite_url(Path::new("da?ta%")).unwrap(),
            "sqlite://da%3Fta%25/imlink.db?mode=rwc"
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_or_display() {
        let config = Config::load(
            None,
            &env_of(&[("IMLINK_DATABASE_URL", "postgres://imlink:hunter2@db/imlink")]),
        )
        .unwrap();
        let url = config.database.url.as_ref().unwrap();
        assert_eq!(url.expose(), "postgres://imlink:hunter2@db/imlink");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!format!("{config:#?}").contains("hunter2"));
        assert_eq!(format!("{url:?}"), "Secret(***)");
        assert_eq!(url.to_string(), "***");
        assert!(!toml::to_string(&config).unwrap().contains("hunter2"));

        // A type error on the secret key does not echo it.
        let errors = load_text("[database]\nurl = [\"hunter2\"]\n", &no_env).unwrap_err();
        assert!(!errors.to_string().contains("hunter2"), "{errors}");
    }

    #[test]
    fn redacts_url_passwords() {
        assert_eq!(
            redacted_url("postgres://imlink:s3cr%40t@db.example.com:5432/imlink"),
            "postgres://imlink:***@db.example.com:5432/imlink"
        );
        assert_eq!(
            redacted_url("postgres://imlink@db.example.com/imlink"),
            "postgres://imlink@db.example.com/imlink"
        );
        assert_eq!(
            redacted_url("sqlite://data/imlink.db?mode=rwc"),
            "sqlite://data/imlink.db?mode=rwc"
        );
        assert_eq!(
            redacted_url("postgres://u:p/w@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redacted_url("not a url"), "not a url");
    }

    #[test]
    fn username_pattern() {
        for ok in ["a", "alice", "a1._-", &format!("a{}", "b".repeat(31))] {
            assert!(is_valid_username(ok), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "Alice",
            "a b",
            "_a",
            "é",
            &format!("a{}", "b".repeat(32)),
        ] {
            assert!(!is_valid_username(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_origins_and_proxies_are_checked() {
        for ok in [
            "imlink.example.com",
            "localhost",
            "10.0.0.8",
            "[2001:db8::1]",
        ] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "https://x",
            "x:3000",
            "a..b",
            "[::1",
            "x/y",
            "é.example",
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
        for ok in [
            "https://imlink.example.com",
            "http://10.0.0.8:8080",
            "https://[2001:db8::1]:443",
        ] {
            assert!(is_valid_origin(ok), "{ok}");
        }
        for bad in [
            "imlink.example.com",
            "https://imlink.example.com/",
            "https://x:0",
            "ftp://x",
            "https://x:port",
        ] {
            assert!(!is_valid_origin(bad), "{bad}");
        }
        let config = Config {
            server: ServerConfig {
                allowed_hosts: vec!["ok.example".into(), "bad:1".into()],
                trusted_origins: vec!["imlink.example.com".into()],
                trusted_proxies: vec!["10.0.0.1".into(), "proxy".into()],
            },
            ..Config::default()
        };
        let keys: Vec<_> = config
            .validate()
            .into_iter()
            .filter_map(|p| p.key)
            .collect();
        assert_eq!(
            keys,
            [
                "server.allowed_hosts[1]",
                "server.trusted_origins[0]",
                "server.trusted_proxies[1]"
            ]
        );
        let listen: SocketAddr = "192.168.1.10:3000".parse().unwrap();
        assert_eq!(
            ServerConfig::default().effective_allowed_hosts(listen),
            ["localhost", "127.0.0.1", "[::1]", "192.168.1.10"]
        );
        assert_eq!(
            ServerConfig::default().effective_allowed_hosts("0.0.0.0:3000".parse().unwrap()),
            ["localhost", "127.0.0.1", "[::1]"]
        );
        assert_eq!(
            config.server.effective_allowed_hosts(listen),
            ["ok.example", "bad:1"]
        );
    }

    #[test]
    fn example_file_is_valid_and_documents_every_key() {
        let config: Config = toml::from_str(EXAMPLE).unwrap();
        assert!(config.validate().is_empty());
        assert_eq!(config, Config::default());
        for (key, _) in overridable_keys().unwrap() {
            let var = env_var_for(&key);
            assert!(EXAMPLE.contains(&var), "example does not mention {var}");
            let leaf = key.rsplit('.').next().unwrap();
            assert!(
                EXAMPLE.contains(&format!("{leaf} = ")),
                "example does not show {key}"
            );
        }
        assert!(EXAMPLE.contains("postgres://imlink@db.example.com:5432/imlink"));
        assert!(EXAMPLE.contains(r#"password_file = "/run/secrets/imlink-db-password""#));

        let dir = TempDir::new();
        let path = dir.write("imlink.toml", EXAMPLE);
        assert_eq!(
            Config::load(Some(&path), &no_env).unwrap(),
            Config::default()
        );
    }
}
