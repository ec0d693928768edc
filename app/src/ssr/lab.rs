//! The seam to the simulated organization (implemented by the server crate, which owns the
//! lab): what the lab page shows and does, and the lab as an environment to plan against.

use std::future::Future;
use std::pin::Pin;

use sea_orm::DatabaseTransaction;

use crate::procedure::facts::Facts;
use crate::views::{LabSignIn, LabView};

/// A boxed future, so the trait stays object-safe.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, LabError>> + Send + 'a>>;

/// Why the lab did not do something.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    /// There is no scenario of that name.
    #[error("There is no scenario “{0}”.")]
    UnknownScenario(String),
    /// The simulated servers refused, as the real ones would (an unknown server, say).
    #[error("{0}")]
    Refused(String),
    /// The lab's stored state could not be read or written.
    #[error("the lab's stored state: {0}")]
    Storage(String),
}

/// The lab, as the portal uses it. State lives in the database and survives restarts. Changes
/// are made in the caller's transaction, so the audit event that records one commits with it.
pub trait Lab: Send + Sync {
    /// The organization at a glance, with what `tried`'s sign-in would show now.
    fn view<'a>(&'a self, tried: Option<&'a str>) -> Pending<'a, LabView>;
    /// Replaces the organization with a fresh copy of `scenario`.
    fn reset<'a>(&'a self, txn: &'a DatabaseTransaction, scenario: &'a str) -> Pending<'a, ()>;
    /// Simulates `upn`'s OWA sign-in (which may log event 112 and create the IM log folder).
    fn sign_in<'a>(&'a self, txn: &'a DatabaseTransaction, upn: &'a str) -> Pending<'a, LabSignIn>;
    /// Installs an Exchange cumulative update on back-end `server`.
    fn install_cumulative_update<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        server: &'a str,
    ) -> Pending<'a, ()>;
    /// Runs the read-only probes against the lab.
    fn discover(&self) -> Pending<'_, Facts>;
}
