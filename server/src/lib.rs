//! The `imlink` server: configuration, the HTTP service, and the command-line entry points.

pub mod cli;
pub mod config;
pub mod database;
pub mod directory;
pub mod eligibility;
pub mod executor;
pub mod http;
pub mod lab;
pub mod oidc;
pub mod render;
pub mod telemetry;
pub mod worker;
