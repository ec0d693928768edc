//! Table tests of the configuration: every key from every source, every problem with its line.

use super::sources::{collect_leaves, overridable_keys};
use super::validate::{is_valid_host, is_valid_origin, is_valid_username};
use super::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

const EXAMPLE: &str = include_str!("../../../imlink.example.toml");

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
            ("hana", "Hana Sato", vec!["helpdesk"]),
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
        directory: DirectoryConfig {
            ldap: LdapConfig {
                ca_file: Some(PathBuf::from("ca.pem")),
                password_file: Some(PathBuf::from("pw")),
                ..LdapConfig::default()
            },
            ..DirectoryConfig::default()
        },
        oidc: OidcConfig {
            client_secret_file: Some(PathBuf::from("secret")),
            ..OidcConfig::default()
        },
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
        ("directory.source", "ldap", r#""ldap""#),
        (
            "directory.ldap.url",
            "ldaps://dc01.example.com",
            r#""ldaps://dc01.example.com""#,
        ),
        ("directory.ldap.starttls", "true", "true"),
        (
            "directory.ldap.ca_file",
            "/etc/imlink/ca.pem",
            r#""/etc/imlink/ca.pem""#,
        ),
        (
            "directory.ldap.bind_dn",
            "CN=svc-imlink,DC=x",
            r#""CN=svc-imlink,DC=x""#,
        ),
        (
            "directory.ldap.password_file",
            "/run/secrets/ldap",
            r#""/run/secrets/ldap""#,
        ),
        ("directory.ldap.base_dn", "DC=x", r#""DC=x""#),
        (
            "directory.ldap.filter",
            "(objectClass=user)",
            r#""(objectClass=user)""#,
        ),
        ("directory.ldap.page_size", "500", "500"),
        ("directory.ldap.timeout_seconds", "5", "5"),
        ("oidc.enabled", "true", "true"),
        ("oidc.name", "Contoso", r#""Contoso""#),
        (
            "oidc.issuer_url",
            "https://login.example.com/t/v2.0",
            r#""https://login.example.com/t/v2.0""#,
        ),
        ("oidc.client_id", "imlink", r#""imlink""#),
        (
            "oidc.client_secret_file",
            "/run/secrets/oidc",
            r#""/run/secrets/oidc""#,
        ),
        (
            "oidc.redirect_url",
            "https://imlink.example.com/auth/oidc/callback",
            r#""https://imlink.example.com/auth/oidc/callback""#,
        ),
        (
            "oidc.scopes",
            "openid, profile, groups",
            r#"["openid", "profile", "groups"]"#,
        ),
        ("oidc.username_claim", "upn", r#""upn""#),
        ("oidc.display_name_claim", "given_name", r#""given_name""#),
        ("oidc.groups_claim", "roles", r#""roles""#),
        ("oidc.clock_skew_seconds", "30", "30"),
        ("oidc.end_session", "true", "true"),
        ("oidc.timeout_seconds", "5", "5"),
        ("oidc.jwks_refresh_seconds", "120", "120"),
        ("oidc.roles.requester", "g-req", r#"["g-req"]"#),
        (
            "oidc.roles.approver",
            "g-app, g-app2",
            r#"["g-app", "g-app2"]"#,
        ),
        ("oidc.roles.auditor", "g-aud", r#"["g-aud"]"#),
        ("oidc.roles.admin", "g-adm", r#"["g-adm"]"#),
        ("oidc.roles.helpdesk", "g-help", r#"["g-help"]"#),
    ];
    // What a key needs beside it to make a valid configuration.
    let companions: &[(&str, &[(&str, &str)])] = &[
        (
            "directory.source",
            &[
                ("IMLINK_DIRECTORY_LDAP_URL", "ldaps://dc01.example.com"),
                ("IMLINK_DIRECTORY_LDAP_BASE_DN", "DC=x"),
            ],
        ),
        (
            "oidc.enabled",
            &[
                ("IMLINK_OIDC_ISSUER_URL", "https://login.example.com"),
                ("IMLINK_OIDC_CLIENT_ID", "imlink"),
                (
                    "IMLINK_OIDC_REDIRECT_URL",
                    "https://imlink.example.com/auth/oidc/callback",
                ),
                ("IMLINK_OIDC_ROLES_ADMIN", "g-adm"),
            ],
        ),
    ];
    let sampled: BTreeSet<String> = samples.iter().map(|(k, _, _)| (*k).to_owned()).collect();
    assert_eq!(sampled, keys);

    let defaults = toml::Value::try_from(Config::default()).unwrap();
    for (key, raw, expected) in samples {
        let var = env_var_for(key);
        let mut env = vec![(var.as_str(), *raw)];
        env.extend(
            companions
                .iter()
                .filter(|(k, _)| k == key)
                .flat_map(|(_, more)| more.iter().copied()),
        );
        let config =
            Config::load(None, &env_of(&env)).unwrap_or_else(|e| panic!("{var}={raw}: {e}"));
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
    let errors = load_text("# imlink\n[approval]\nquorum = 2\n\nquorm = 3\n", &no_env).unwrap_err();
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
            "imlink.toml:6: approval.approver_roles[1]: unknown role \"boss\"; valid roles are requester, approver, auditor, admin, helpdesk",
            "imlink.toml:9: session.ttl_hours: must be between 1 and 720 (got 0)",
            "imlink.toml:12: local_signin.users[0].username: must match ^[a-z][a-z0-9._-]{0,31}$ (got \"Alice\")",
            "imlink.toml:20: local_signin.users[1].roles[1]: unknown role \"janitor\"; valid roles are requester, approver, auditor, admin, helpdesk",
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
        errors
            .to_string()
            .contains("imlink.toml:3: cannot read database.password_file /nonexistent/imlink-pw: "),
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

/// Every problem `text` has, as `imlink check-config` prints them; none when it loads.
fn problems(text: &str) -> Vec<String> {
    match load_text(text, &no_env) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_ldap_directory_needs_a_server_a_base_and_encryption() {
    assert_eq!(
        problems("[directory]\nsource = \"ldap\"\n"),
        [
            "imlink.toml:1: directory.ldap.url: is required when directory.source is \"ldap\"",
            "imlink.toml:1: directory.ldap.base_dn: is required when directory.source is \"ldap\"",
        ]
    );
    let ldap = |extra: &str| {
        problems(&format!(
            "[directory]\nsource = \"ldap\"\n[directory.ldap]\nbase_dn = \"DC=x\"\n{extra}"
        ))
    };
    assert_eq!(
        ldap("url = \"ldap://dc01\"\n"),
        [
            "imlink.toml:3: directory.ldap.starttls: must be true with an ldap:// URL: imlink does not send a password or read the directory unencrypted"
        ]
    );
    assert!(ldap("url = \"ldap://dc01\"\nstarttls = true\n").is_empty());
    assert!(ldap("url = \"ldaps://dc01\"\n").is_empty());
    assert_eq!(
        ldap("url = \"ldaps://dc01\"\nstarttls = true\n"),
        [
            "imlink.toml:6: directory.ldap.starttls: must be false with an ldaps:// URL, which is TLS from the start"
        ]
    );
    assert_eq!(
        ldap("url = \"http://dc01\"\n"),
        [
            "imlink.toml:5: directory.ldap.url: must start with ldaps:// or ldap:// (got \"http://dc01\")"
        ]
    );
    assert_eq!(
        ldap("url = \"ldaps://dc01\"\nbind_dn = \"CN=svc,DC=x\"\n"),
        [
            "imlink.toml:3: directory.ldap.password_file: directory.ldap.bind_dn and directory.ldap.password_file go together: set both, or neither to bind anonymously"
        ]
    );
    assert_eq!(
        ldap("url = \"ldaps://dc01\"\nfilter = \"objectClass=user\"\npage_size = 0\n"),
        [
            "imlink.toml:6: directory.ldap.filter: must be an LDAP filter in parentheses (got \"objectClass=user\")",
            "imlink.toml:7: directory.ldap.page_size: must be between 1 and 10000 (got 0)",
        ]
    );
}

#[test]
fn a_powershell_directory_reads_what_plans_are_made_against() {
    assert!(problems("[directory]\nsource = \"powershell\"\n").is_empty());
    assert!(
        problems(
            "[directory]\nsource = \"powershell\"\n[executor]\nkind = \"local\"\n[environment]\nfacts_file = \"facts.json\"\n"
        )
        .is_empty()
    );
    assert_eq!(
        problems(
            "[directory]\nsource = \"powershell\"\n[environment]\nfacts_file = \"facts.json\"\n"
        ),
        [
            "imlink.toml:2: directory.source: \"powershell\" would read the lab's people through executor.kind = \"lab\", but plans are made against environment.facts_file; set executor.kind to \"ssh\" or \"local\", or use the \"ldap\" source"
        ]
    );
}

#[test]
fn oidc_needs_a_secure_issuer_its_callback_and_a_role_mapping() {
    let good = "[oidc]\nenabled = true\nissuer_url = \"https://login.example.com/t/v2.0\"\n\
                client_id = \"imlink\"\n\
                redirect_url = \"https://imlink.example.com/auth/oidc/callback\"\n\
                [oidc.roles]\nadmin = [\"imlink-admins\"]\n";
    assert_eq!(problems(good), Vec::<String>::new());
    // A provider on this machine may use plain HTTP.
    let local = good
        .replace("https://login.example.com/t/v2.0", "http://127.0.0.1:9000")
        .replace("https://imlink.example.com", "http://localhost:3000");
    assert_eq!(problems(&local), Vec::<String>::new());
    let all = problems(
        "[local_signin]\nenabled = true\n[oidc]\nenabled = true\n\
         issuer_url = \"http://login.example.com\"\n\
         redirect_url = \"https://imlink.example.com/elsewhere\"\n\
         scopes = [\"profile\"]\ngroups_claim = \"\"\nclock_skew_seconds = 601\n",
    );
    let text = all.join("\n");
    for expected in [
        "oidc.enabled: cannot be on together with local_signin.enabled",
        "oidc.issuer_url: must be the provider's https:// issuer",
        "oidc.redirect_url: must be imlink's address followed by /auth/oidc/callback",
        "oidc.client_id: is required",
        "oidc.scopes: must include \"openid\"",
        "oidc.groups_claim: must name a claim",
        "oidc.roles: maps no group to any role",
        "oidc.clock_skew_seconds: must be between 0 and 600",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // Off, nothing is required.
    assert_eq!(problems("[oidc]\nenabled = false\n"), Vec::<String>::new());
}
