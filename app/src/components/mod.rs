//! Reusable view pieces. No business logic: they render views from `crate::views`.

pub mod audit_table;
pub mod confirm;
pub mod feedback;
pub mod plan_view;
pub mod request_fields;
pub mod request_table;
pub mod text_area;
