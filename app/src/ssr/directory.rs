//! The seam to the directory people are looked up in (implemented by the server crate: the
//! lab's people, Active Directory over LDAP, or Lync's and Exchange's cmdlets), as the
//! eligibility service uses it.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::domain::stored_enum;
use crate::procedure::eligibility::Person;
use crate::views::PersonEntry;

/// A boxed future, so the trait stays object-safe.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, DirectoryError>> + Send + 'a>>;

stored_enum! {
    /// Which kind of directory answered (stored with every check).
    pub enum Source {
        /// The simulated organization's people.
        Lab = "lab",
        /// Active Directory (or another LDAP server with its attributes), over LDAP.
        Ldap = "ldap",
        /// Lync's and Exchange's cmdlets, through the executor.
        PowerShell = "powershell",
    }
}

/// One person: how they are named and their record as the rules read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub entry: PersonEntry,
    pub person: Person,
}

/// Everyone in a directory (or below one of its entries), read a page at a time by one
/// search, in the directory's order.
pub trait Pages: Send {
    /// The next page; `None` after the last.
    fn next(&mut self) -> Pending<'_, Option<Vec<Record>>>;
}

/// Why the directory gave no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// Nobody has that identifier.
    #[error("Nobody in the directory is “{0}”.")]
    NotFound(String),
    /// Several people have that identifier.
    #[error("“{query}” names {} people: {}. Use a user principal name.", .matches.len(), .matches.join(", "))]
    Ambiguous { query: String, matches: Vec<String> },
    /// The directory could not be read; the message names the setting to fix when one would.
    #[error("The directory could not be read: {0}")]
    Unavailable(String),
}

/// A directory of people.
pub trait Directory: Send + Sync {
    /// Which kind of directory this is.
    fn source(&self) -> Source;
    /// The people whose UPN, SIP address, e-mail address, sAMAccountName or display name
    /// begins with `prefix` (compared without regard to case), at most `limit`, by UPN.
    fn search<'a>(&'a self, prefix: &'a str, limit: usize) -> Pending<'a, Vec<PersonEntry>>;
    /// The one person whose UPN, SIP address (with or without `sip:`), e-mail address or
    /// sAMAccountName is `identity`.
    fn find<'a>(&'a self, identity: &'a str) -> Pending<'a, Record>;
    /// Everyone, or everyone whose entry is below `base` (a distinguished name, such as an
    /// organizational unit's), in pages of about `size`.
    fn people<'a>(&'a self, base: Option<&'a str>, size: usize)
    -> Pending<'a, Box<dyn Pages + 'a>>;
}

impl std::fmt::Debug for dyn Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} directory", self.source())
    }
}
