//! Bulk eligibility checks ("scans"): whom they cover, their states, and the lists of people
//! pasted or uploaded as CSV, checked line by line.

use serde::{Deserialize, Serialize};

use super::fields::SiteId;
use super::stored_enum;

stored_enum! {
    /// Where a bulk check is.
    pub enum ScanState {
        /// Waiting for a worker.
        Queued = "queued",
        /// A worker is reading and judging people.
        Running = "running",
        /// Everyone it covers was checked.
        Succeeded = "succeeded",
        /// It could not finish (the directory or the environment stayed unreadable).
        Failed = "failed",
        /// Someone stopped it; what was checked stays.
        Cancelled = "cancelled",
    }
}

impl ScanState {
    /// Whether a worker has yet to finish it.
    pub fn is_open(self) -> bool {
        matches!(self, ScanState::Queued | ScanState::Running)
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            ScanState::Queued => "Queued",
            ScanState::Running => "Running",
            ScanState::Succeeded => "Finished",
            ScanState::Failed => "Failed",
            ScanState::Cancelled => "Cancelled",
        }
    }
}

stored_enum! {
    /// Which people a bulk check covers.
    pub enum ScopeKind {
        /// Everyone in the directory.
        Directory = "directory",
        /// Everyone below a distinguished name (an organizational unit).
        Below = "below",
        /// The people homed on a Lync site's registrar pools.
        Site = "site",
        /// The people a list (pasted, or an uploaded CSV's first column) names.
        List = "list",
    }
}

/// One identifier of a list, with the line it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    pub line: usize,
    pub identity: String,
}

/// A list's line that names nobody it could check, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Whom a bulk check covers, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Directory,
    Below(String),
    Site(SiteId),
    List(Vec<Listed>),
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Directory => ScopeKind::Directory,
            Scope::Below(_) => ScopeKind::Below,
            Scope::Site(_) => ScopeKind::Site,
            Scope::List(_) => ScopeKind::List,
        }
    }
}

/// The most identifiers one list may hold.
pub const MAX_LIST: usize = 10_000;
/// The longest list accepted, in bytes.
pub const MAX_LIST_BYTES: usize = 1_000_000;
/// The longest identifier or distinguished name accepted.
pub const MAX_NAME: usize = 1024;

/// A form's fields for a bulk check, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanInput {
    /// `directory`, `below`, `site` or `list`.
    pub scope: String,
    pub base_dn: String,
    pub site_id: String,
    pub list: String,
}

/// The field a bad input is about, and why.
pub type FieldProblem = (&'static str, String);

/// Checks the form: the scope and the one field it needs. A list's bad lines do not refuse
/// it (they are reported with the results); a list with no usable line does.
pub fn parse(input: &ScanInput) -> Result<(Scope, Vec<BadLine>), FieldProblem> {
    match input.scope.trim() {
        "directory" => Ok((Scope::Directory, Vec::new())),
        "below" => {
            let dn = input.base_dn.trim();
            if dn.is_empty() {
                Err((
                    "base_dn",
                    "Enter the distinguished name of an organizational unit, like \
                     OU=Sales,DC=litwareinc,DC=com."
                        .into(),
                ))
            } else if dn.chars().count() > MAX_NAME || dn.chars().any(char::is_control) {
                Err((
                    "base_dn",
                    format!("Use at most {MAX_NAME} characters, without line breaks or tabs."),
                ))
            } else if !dn.contains('=') {
                Err((
                    "base_dn",
                    "A distinguished name is a list of NAME=value parts, like \
                     OU=Sales,DC=litwareinc,DC=com."
                        .into(),
                ))
            } else {
                Ok((Scope::Below(dn.to_string()), Vec::new()))
            }
        }
        "site" => SiteId::parse(input.site_id.trim())
            .map(|site| (Scope::Site(site), Vec::new()))
            .map_err(|e| ("site_id", e.to_string())),
        "list" => {
            if input.list.len() > MAX_LIST_BYTES {
                return Err((
                    "list",
                    format!("Use at most {} MB of text.", MAX_LIST_BYTES / 1_000_000),
                ));
            }
            let (listed, bad) = list(&input.list);
            if listed.len() > MAX_LIST {
                Err((
                    "list",
                    format!(
                        "List at most {MAX_LIST} people at once (this names {}).",
                        listed.len()
                    ),
                ))
            } else if listed.is_empty() {
                Err((
                    "list",
                    "Paste or upload at least one user principal name, SIP or e-mail address, \
                     or account name, one per line."
                        .into(),
                ))
            } else {
                Ok((Scope::List(listed), bad))
            }
        }
        _ => Err(("scope", "Choose whom to check.".into())),
    }
}

/// The identifiers of a list: each line's first comma-separated column, unquoted and trimmed;
/// blank lines, `#` comments and a header line (`upn`, `identity`, `userPrincipalName`) are
/// skipped; a line whose identifier is too long or holds control characters is bad.
pub fn list(text: &str) -> (Vec<Listed>, Vec<BadLine>) {
    let mut listed = Vec::new();
    let mut bad = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line_number = number + 1;
        let identity = line
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .trim();
        let header = number == 0
            && ["upn", "identity", "userprincipalname"]
                .iter()
                .any(|h| identity.eq_ignore_ascii_case(h));
        if identity.is_empty() || identity.starts_with('#') || header {
            continue;
        }
        if identity.chars().count() > 256 {
            bad.push(BadLine {
                line: line_number,
                message: "longer than 256 characters".into(),
            });
        } else if identity.chars().any(char::is_control) {
            bad.push(BadLine {
                line: line_number,
                message: "holds control characters".into(),
            });
        } else {
            listed.push(Listed {
                line: line_number,
                identity: identity.to_string(),
            });
        }
    }
    (listed, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(scope: &str, field: &str, value: &str) -> ScanInput {
        let mut input = ScanInput {
            scope: scope.into(),
            ..ScanInput::default()
        };
        match field {
            "base_dn" => input.base_dn = value.into(),
            "site_id" => input.site_id = value.into(),
            "list" => input.list = value.into(),
            _ => {}
        }
        input
    }

    #[test]
    fn lists_skip_blanks_comments_and_a_header_and_report_bad_lines() {
        let (listed, bad) = list(
            "upn,note\n\nuser0001@litwareinc.com,first\n# a comment\n\"user0002\"\nbad\u{7}one\n  user0003  \n",
        );
        let names: Vec<(usize, &str)> = listed
            .iter()
            .map(|l| (l.line, l.identity.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (3, "user0001@litwareinc.com"),
                (5, "user0002"),
                (7, "user0003")
            ]
        );
        assert_eq!(
            bad,
            [BadLine {
                line: 6,
                message: "holds control characters".into()
            }]
        );
    }

    #[test]
    fn each_scope_needs_its_field() {
        assert_eq!(
            parse(&input("directory", "", "")).unwrap().0,
            Scope::Directory
        );
        assert_eq!(
            parse(&input("below", "base_dn", "")).unwrap_err().0,
            "base_dn"
        );
        assert_eq!(
            parse(&input("below", "base_dn", "Sales")).unwrap_err().0,
            "base_dn"
        );
        assert_eq!(
            parse(&input("below", "base_dn", " OU=Sales,DC=x "))
                .unwrap()
                .0,
            Scope::Below("OU=Sales,DC=x".into())
        );
        assert_eq!(
            parse(&input("site", "site_id", "")).unwrap_err().0,
            "site_id"
        );
        assert!(matches!(
            parse(&input("site", "site_id", "Redmond")).unwrap().0,
            Scope::Site(_)
        ));
        assert_eq!(
            parse(&input("list", "list", "# none\n")).unwrap_err().0,
            "list"
        );
        let many = "u\n".repeat(MAX_LIST + 1);
        assert_eq!(parse(&input("list", "list", &many)).unwrap_err().0, "list");
        assert_eq!(parse(&input("everyone", "", "")).unwrap_err().0, "scope");
    }
}
