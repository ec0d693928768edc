//! Service configuration: built-in defaults, an optional TOML file and
//! `IMLINK_*` environment overrides, merged in that order and validated.
//!
//! Problems are reported one per line, naming the file line or the
//! environment variable they came from (see [`ConfigErrors`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::{Document, Item, TableLike};

mod secret;
mod sources;
mod validate;

pub use secret::{Secret, redacted_url};
use secret::{default_sqlite_url, insert_password, read_secret_file};
pub use sources::env_var_for;
use sources::{Kind, load_traced};

/// Role names that configuration may grant.
pub const VALID_ROLES: &[&str] = &["requester", "approver", "auditor", "admin", "helpdesk"];

/// The path of imlink's OpenID Connect callback, which `oidc.redirect_url` must end with.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

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
    ("directory.ldap.ca_file", Kind::String),
    ("directory.ldap.password_file", Kind::String),
    ("oidc.client_secret_file", Kind::String),
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
    /// Where people are looked up for eligibility checks.
    pub directory: DirectoryConfig,
    /// Sign-in with the organization's OpenID Connect provider.
    pub oidc: OidcConfig,
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
            directory: DirectoryConfig::default(),
            oidc: OidcConfig::default(),
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
            ("hana", "Hana Sato", &["helpdesk"][..]),
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

/// Sign-in with the organization's OpenID Connect provider (Entra ID, AD FS, Keycloak, …):
/// the authorization code flow with PKCE, roles from the person's groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// Whether people sign in through the provider (never together with `local_signin`).
    pub enabled: bool,
    /// The provider's name on the sign-in page: "Sign in with …".
    pub name: String,
    /// The issuer, exactly as the provider's discovery document names it.
    pub issuer_url: String,
    pub client_id: String,
    /// A file holding the client secret (read at start, never logged); none for a public
    /// client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// imlink's callback as registered at the provider: `https://HOST/auth/oidc/callback`.
    pub redirect_url: String,
    pub scopes: Vec<String>,
    /// The ID token claim holding the person's account name.
    pub username_claim: String,
    /// The ID token claim holding the name shown in imlink.
    pub display_name_claim: String,
    /// The ID token claim listing the person's groups (names or ids).
    pub groups_claim: String,
    /// Seconds of clock difference with the provider tolerated on `exp`, `iat` and `nbf`
    /// (0 to 600).
    pub clock_skew_seconds: u32,
    /// After signing out of imlink, end the session at the provider too (when it offers it).
    pub end_session: bool,
    /// Seconds to wait for the provider (1 to 120).
    pub timeout_seconds: u32,
    /// Seconds between two fetches of the provider's keys caused by an unknown key id (1 to
    /// 3600).
    pub jwks_refresh_seconds: u32,
    /// Which groups give which role.
    pub roles: OidcRoles,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            name: "your organization".to_owned(),
            issuer_url: String::new(),
            client_id: String::new(),
            client_secret_file: None,
            redirect_url: String::new(),
            scopes: ["openid", "profile", "email"].map(str::to_owned).to_vec(),
            username_claim: "preferred_username".to_owned(),
            display_name_claim: "name".to_owned(),
            groups_claim: "groups".to_owned(),
            clock_skew_seconds: 60,
            end_session: false,
            timeout_seconds: 10,
            jwks_refresh_seconds: 60,
            roles: OidcRoles::default(),
        }
    }
}

/// The groups (names or ids, as the provider sends them) that give each role; one list per
/// role of [`VALID_ROLES`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcRoles {
    pub requester: Vec<String>,
    pub approver: Vec<String>,
    pub auditor: Vec<String>,
    pub admin: Vec<String>,
    pub helpdesk: Vec<String>,
}

impl OidcRoles {
    /// Each role name with its groups.
    pub fn by_role(&self) -> [(&'static str, &[String]); 5] {
        [
            ("requester", &self.requester),
            ("approver", &self.approver),
            ("auditor", &self.auditor),
            ("admin", &self.admin),
            ("helpdesk", &self.helpdesk),
        ]
    }
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

/// Which directory people are looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectorySource {
    /// The lab's people (only when plans are made against the lab).
    #[default]
    Lab,
    /// Active Directory over LDAP (`[directory.ldap]`).
    Ldap,
    /// Lync's and Exchange's cmdlets (`Get-CsUser`, `Get-Mailbox`), run read-only through
    /// the configured executor.
    PowerShell,
}

/// Where people are looked up for eligibility checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// `lab`, `ldap` or `powershell`.
    pub source: DirectorySource,
    /// Active Directory over LDAP, for `source = "ldap"`.
    pub ldap: LdapConfig,
}

/// Active Directory over LDAP: read-only, with a simple bind, over TLS or StartTLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapConfig {
    /// `ldaps://dc01.example.com` or `ldap://dc01.example.com` (then with `starttls`).
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    pub starttls: bool,
    /// The CA certificates (PEM) the server's certificate must chain to; without it, the
    /// system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The account imlink binds as (read access to people, mailbox databases, Exchange
    /// servers and Lync pools is enough); empty binds anonymously.
    pub bind_dn: String,
    /// A file holding the bind password (read at start, never logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Where people are searched (the whole subtree).
    pub base_dn: String,
    /// Which entries are people.
    pub filter: String,
    /// Entries per page of a paged search (RFC 2696; 1 to 10000).
    pub page_size: u32,
    /// Seconds to wait for the server to connect or answer (1 to 300).
    pub timeout_seconds: u32,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            starttls: false,
            ca_file: None,
            bind_dn: String::new(),
            password_file: None,
            base_dn: String::new(),
            filter: "(&(objectClass=person)(userPrincipalName=*))".to_owned(),
            page_size: 1000,
            timeout_seconds: 30,
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
}

#[cfg(test)]
mod tests;
