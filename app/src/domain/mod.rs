//! The pure domain: validated values, the change request, the approval workflow and roles.
//! Compiled on both sides (server and WASM) and tested without any feature.

pub mod facts;
pub mod fields;
pub mod plan;
pub mod powershell;
pub mod probes;
pub mod request;
pub mod roles;
pub mod runs;
#[cfg(any(test, feature = "samples"))]
pub mod samples;
pub mod time;
pub mod workflow;
