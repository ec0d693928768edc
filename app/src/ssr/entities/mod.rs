//! SeaORM entities, mirroring the `migrations` crate. Server-only: never sent to the browser.

pub mod approvals;
pub mod audit_events;
pub mod audit_head;
pub mod change_requests;
pub mod eligibility_checks;
pub mod eligibility_scan_people;
pub mod eligibility_scans;
pub mod jobs;
pub mod lab_state;
pub mod oidc_sign_ins;
pub mod run_steps;
pub mod sessions;
pub mod users;
