//! Secrets in the configuration, never shown in logs or `Debug` output, and the database URL
//! assembled from files.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize, Serializer};

use super::ConfigError;

/// A secret string whose `Debug`, `Display` and `Serialize` output is `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub(super) String);

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

pub(super) fn read_secret_file(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::ReadFile {
        key,
        path: path.to_path_buf(),
        error,
    })
}

pub(super) fn default_sqlite_url(data_dir: &Path) -> Result<String, ConfigError> {
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

pub(super) fn insert_password(url: &str, password: &str) -> Result<String, ConfigError> {
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

pub(super) fn push_percent_encoded(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0x0f)]));
}
