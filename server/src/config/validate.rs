//! Semantic checks of a merged configuration: ranges, roles, hosts, origins, usernames.

use std::collections::HashSet;
use std::net::IpAddr;

use super::*;

impl Config {
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
        self.validate_directory(&mut problems);
        self.validate_oidc(&mut problems);
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

pub(super) fn check_range(problems: &mut Vec<Problem>, key: &str, value: u32, min: u32, max: u32) {
    if !(min..=max).contains(&value) {
        problems.push(Problem::builtin(
            key,
            format!("must be between {min} and {max} (got {value})"),
        ));
    }
}

pub(super) fn check_role(problems: &mut Vec<Problem>, key: &str, role: &str) {
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
pub(super) fn is_valid_host(host: &str) -> bool {
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
pub(super) fn is_valid_origin(origin: &str) -> bool {
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
pub(super) fn is_valid_username(name: &str) -> bool {
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

/// An `https://` URL, or `http://` to a loopback address (a provider on this machine).
fn is_secure_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| {
        url.strip_prefix("http://")
            .filter(|r| is_loopback_authority(r))
    }) else {
        return false;
    };
    !rest.is_empty() && !rest.starts_with('/') && !url.chars().any(char::is_whitespace)
}

/// Whether the URL part after `http://` names a loopback host.
fn is_loopback_authority(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map(|h| &h[1..])
            .unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Config {
    /// `[oidc]`: a provider over HTTPS (plain HTTP only on this machine), the callback imlink
    /// serves, the `openid` scope, claims to read, and at least one group giving a role; never
    /// together with the demo sign-in.
    fn validate_oidc(&self, problems: &mut Vec<Problem>) {
        let oidc = &self.oidc;
        check_range(
            problems,
            "oidc.clock_skew_seconds",
            oidc.clock_skew_seconds,
            0,
            600,
        );
        check_range(
            problems,
            "oidc.timeout_seconds",
            oidc.timeout_seconds,
            1,
            120,
        );
        check_range(
            problems,
            "oidc.jwks_refresh_seconds",
            oidc.jwks_refresh_seconds,
            1,
            3600,
        );
        if !oidc.enabled {
            return;
        }
        if self.local_signin.enabled {
            problems.push(Problem::builtin(
                "oidc.enabled",
                "cannot be on together with local_signin.enabled: the demo accounts are for \
                 trying imlink on one machine, not next to real identities",
            ));
        }
        if !is_secure_url(oidc.issuer_url.trim()) {
            problems.push(Problem::builtin(
                "oidc.issuer_url",
                format!(
                    "must be the provider's https:// issuer (http:// only on this machine) (got {:?})",
                    oidc.issuer_url
                ),
            ));
        }
        let redirect = oidc.redirect_url.trim();
        if !is_secure_url(redirect) || !redirect.ends_with(CALLBACK_PATH) {
            problems.push(Problem::builtin(
                "oidc.redirect_url",
                format!(
                    "must be imlink's address followed by {CALLBACK_PATH}, over https:// \
                     (http:// only on this machine) (got {:?})",
                    oidc.redirect_url
                ),
            ));
        }
        if oidc.client_id.trim().is_empty() {
            problems.push(Problem::builtin(
                "oidc.client_id",
                "is required: the application (client) id registered at the provider",
            ));
        }
        if !oidc.scopes.iter().any(|s| s == "openid") {
            problems.push(Problem::builtin("oidc.scopes", "must include \"openid\""));
        }
        for (key, claim) in [
            ("oidc.username_claim", &oidc.username_claim),
            ("oidc.display_name_claim", &oidc.display_name_claim),
            ("oidc.groups_claim", &oidc.groups_claim),
        ] {
            if claim.trim().is_empty() {
                problems.push(Problem::builtin(key, "must name a claim"));
            }
        }
        let roles = oidc.roles.by_role();
        if roles.iter().all(|(_, groups)| groups.is_empty()) {
            problems.push(Problem::builtin(
                "oidc.roles",
                "maps no group to any role, so nobody could use imlink: list the groups for at \
                 least one role (oidc.roles.admin = [\"…\"])",
            ));
        }
        for (role, groups) in roles {
            for (i, group) in groups.iter().enumerate() {
                if group.trim().is_empty() {
                    problems.push(Problem::builtin(
                        format!("oidc.roles.{role}[{i}]"),
                        "must not be empty",
                    ));
                }
            }
        }
    }

    /// `[directory]`: an LDAP source needs a server, a base and a secure connection; the
    /// PowerShell source reads whatever the executor reaches, which must be what plans are
    /// made against.
    fn validate_directory(&self, problems: &mut Vec<Problem>) {
        let ldap = &self.directory.ldap;
        check_range(
            problems,
            "directory.ldap.page_size",
            ldap.page_size,
            1,
            10_000,
        );
        check_range(
            problems,
            "directory.ldap.timeout_seconds",
            ldap.timeout_seconds,
            1,
            300,
        );
        if self.directory.source == DirectorySource::PowerShell
            && self.executor.kind == ExecutorKind::Lab
            && self.environment.facts_file.is_some()
        {
            problems.push(Problem::builtin(
                "directory.source",
                "\"powershell\" would read the lab's people through executor.kind = \"lab\", \
                 but plans are made against environment.facts_file; set executor.kind to \
                 \"ssh\" or \"local\", or use the \"ldap\" source",
            ));
        }
        if self.directory.source != DirectorySource::Ldap {
            return;
        }
        let url = ldap.url.trim();
        if url.is_empty() {
            problems.push(Problem::builtin(
                "directory.ldap.url",
                "is required when directory.source is \"ldap\"",
            ));
        } else if url.starts_with("ldaps://") {
            if ldap.starttls {
                problems.push(Problem::builtin(
                    "directory.ldap.starttls",
                    "must be false with an ldaps:// URL, which is TLS from the start",
                ));
            }
        } else if url.starts_with("ldap://") {
            if !ldap.starttls {
                problems.push(Problem::builtin(
                    "directory.ldap.starttls",
                    "must be true with an ldap:// URL: imlink does not send a password or read \
                     the directory unencrypted",
                ));
            }
        } else {
            problems.push(Problem::builtin(
                "directory.ldap.url",
                format!("must start with ldaps:// or ldap:// (got {url:?})"),
            ));
        }
        if ldap.base_dn.trim().is_empty() {
            problems.push(Problem::builtin(
                "directory.ldap.base_dn",
                "is required when directory.source is \"ldap\"",
            ));
        }
        let filter = ldap.filter.trim();
        if !(filter.starts_with('(') && filter.ends_with(')')) {
            problems.push(Problem::builtin(
                "directory.ldap.filter",
                format!("must be an LDAP filter in parentheses (got {filter:?})"),
            ));
        }
        let has_password = ldap.password_file.is_some();
        if ldap.bind_dn.trim().is_empty() == has_password {
            let key = if has_password {
                "directory.ldap.bind_dn"
            } else {
                "directory.ldap.password_file"
            };
            problems.push(Problem::builtin(
                key,
                "directory.ldap.bind_dn and directory.ldap.password_file go together: set both, \
                 or neither to bind anonymously",
            ));
        }
    }
}
