//! One module per route.

pub mod approvals;
pub mod audit;
pub mod dashboard;
pub mod lab;
pub mod people;
pub mod request_edit;
pub mod request_new;
pub mod request_view;
pub mod requests;
pub mod scans;
pub mod signin;
pub mod users;
