//! Server functions: thin wrappers that authenticate, authorize, call the service in
//! `crate::ssr`, and return views from [`models`].

pub mod audit;
pub mod lab;
pub mod models;
pub mod requests;
pub mod session;
