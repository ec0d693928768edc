//! The seam to the simulated organization (implemented by the server crate, which owns the
//! lab): what the lab page shows and does, and the lab as an environment to plan against.

use std::future::Future;
use std::pin::Pin;

use crate::api::models::{LabSignIn, LabView};
use crate::domain::facts::Facts;

/// A boxed future, so the trait stays object-safe.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// The lab, as the portal uses it. State lives in the database and survives restarts.
pub trait Lab: Send + Sync {
    /// The organization at a glance.
    fn view(&self) -> Pending<'_, LabView>;
    /// Replaces the organization with a fresh copy of `scenario`.
    fn reset(&self, scenario: &str) -> Pending<'_, ()>;
    /// Simulates `upn`'s OWA sign-in.
    fn sign_in(&self, upn: &str) -> Pending<'_, LabSignIn>;
    /// Installs an Exchange cumulative update on back-end `server`.
    fn install_cumulative_update(&self, server: &str) -> Pending<'_, ()>;
    /// Runs the read-only probes against the lab.
    fn discover(&self) -> Pending<'_, Facts>;
}
