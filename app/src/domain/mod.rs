//! The pure domain: validated values, the change request, the approval workflow, roles and
//! runs. Compiled on both sides (server and WASM) and tested without any feature.

pub mod fields;
pub mod request;
pub mod roles;
pub mod runs;
pub mod time;
pub mod workflow;
