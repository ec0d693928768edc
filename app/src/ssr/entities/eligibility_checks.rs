//! One eligibility check of one person: who asked, when, which directory answered, the verdict
//! and every check (JSON).

use sea_orm::entity::prelude::*;

use crate::procedure::eligibility::Verdict;
use crate::ssr::directory::Source;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eligibility_checks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Lower case, so a person's history is one key.
    pub upn: String,
    pub display_name: String,
    pub source: Source,
    pub verdict: Verdict,
    /// The failing codes that make the person ineligible, comma-separated.
    pub reasons: String,
    pub checks_json: String,
    pub asked_by: String,
    pub asked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
