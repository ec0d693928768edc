//! A bulk eligibility check: whom it covers, its state and lease (`fence` grows at every claim:
//! a worker writes only while the fence it claimed with is still the scan's), and its counts.
//! Read and written only through [`crate::ssr::eligibility::scans`].

use sea_orm::entity::prelude::*;

use crate::domain::scans::{ScanState, ScopeKind};
use crate::ssr::directory::Source;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eligibility_scans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scope: ScopeKind,
    /// The distinguished name (`below`) or site (`site`) it covers.
    pub target: Option<String>,
    /// A list's identifiers with their lines (JSON of [`crate::domain::scans::Listed`]).
    pub list_json: Option<String>,
    pub source: Source,
    pub state: ScanState,
    pub requested_by: String,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// Not before this time (a retry's wait).
    pub run_after: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub fence: i64,
    pub attempts: i32,
    pub checked: i64,
    pub eligible: i64,
    pub not_eligible: i64,
    pub unknown: i64,
    /// How many people fail each reason code (JSON object).
    pub reason_counts: String,
    /// A list's lines that named nobody it could check (JSON of
    /// [`crate::domain::scans::BadLine`]).
    pub bad_lines: String,
    /// Why it failed, or what a retry waits for.
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
