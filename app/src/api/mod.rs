//! Server functions: thin wrappers that authenticate, authorize, call the service in
//! `crate::ssr`, and return views from [`crate::views`].

pub mod audit;
pub mod lab;
pub mod people;
pub mod requests;
pub mod session;
pub mod users;
