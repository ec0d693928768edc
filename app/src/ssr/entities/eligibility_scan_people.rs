//! One person a bulk check judged (once per scan), with the verdict and every check.

use sea_orm::entity::prelude::*;

use crate::procedure::eligibility::Verdict;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eligibility_scan_people")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scan_id: i64,
    /// Lower case: one person, one key.
    pub upn: String,
    pub display_name: String,
    pub sip_address: Option<String>,
    pub verdict: Verdict,
    /// The failing codes that make the person ineligible, each between `;` (`;a;b;`), so one
    /// can be filtered on.
    pub reasons: String,
    pub checks_json: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
