//! The seam to the directory people are looked up in (implemented by the server crate: the
//! lab's people today), as the eligibility service uses it.

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
    }
}

/// One person: how they are named and their record as the rules read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub entry: PersonEntry,
    pub person: Person,
}

/// One page of the whole directory, in a stable order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<Record>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<String>,
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
    /// Up to `size` people from `cursor` (a previous page's `next`; `None` for the first).
    fn page<'a>(&'a self, cursor: Option<&'a str>, size: usize) -> Pending<'a, Page>;
}

impl std::fmt::Debug for dyn Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} directory", self.source())
    }
}
