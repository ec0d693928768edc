//! Bulk eligibility checks: the one owner of `eligibility_scans` and
//! `eligibility_scan_people`. People ask for one (audited) and may stop it; a worker claims it
//! with a lease and a fence like a run, stores each page of judged people in one transaction
//! (only while its fence is still the scan's, each person once per scan, so a scan taken over
//! after a crash neither loses nor double-counts anyone), and finishes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockType, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{ROLES, authorize, directory};
use crate::domain::roles::CurrentUser;
use crate::domain::scans::{self, BadLine, Listed, ScanInput, ScanState, Scope, ScopeKind};
use crate::error::AppError;
use crate::procedure::eligibility::{Check, Code, Eligibility, Verdict};
use crate::ssr::audit::{self, AuditRecord};
use crate::ssr::db::begin_write;
use crate::ssr::directory::Record;
use crate::ssr::entities::{eligibility_scan_people as people, eligibility_scans as scans_table};
use crate::ssr::state::AppState;
use crate::views::{ScanChange, ScanComparison, ScanFilter, ScanPerson, ScanSummary, ScanView};

/// People per page of a scan's results.
pub const PAGE: u64 = 50;
/// The most changes of each kind a comparison shows.
const CHANGES_SHOWN: usize = 1000;
/// The most bad lines kept with a scan.
const BAD_LINES_KEPT: usize = 1000;
/// How many recent scans the People page lists.
const RECENT: u64 = 20;

type Row = scans_table::Model;

/// Asks for a bulk check for `user`; returns its id. The scope is checked field by field (what
/// was typed is kept); the request is audited.
pub async fn request(
    state: &AppState,
    user: &CurrentUser,
    input: &ScanInput,
) -> Result<i64, AppError> {
    authorize(user)?;
    let (scope, bad) = scans::parse(input).map_err(|(field, message)| {
        AppError::invalid_field(
            field,
            message,
            [
                ("scope", input.scope.clone()),
                ("base_dn", input.base_dn.clone()),
                ("site_id", input.site_id.clone()),
                ("list", input.list.clone()),
            ],
        )
    })?;
    let source = directory(state)?.source();
    let (target, list_json) = match &scope {
        Scope::Directory => (None, None),
        Scope::Below(dn) => (Some(dn.clone()), None),
        Scope::Site(site) => (Some(site.as_str().to_string()), None),
        Scope::List(listed) => (None, Some(encoded(listed))),
    };
    let now = Utc::now();
    let txn = begin_write(&state.db).await?;
    let row = scans_table::ActiveModel {
        scope: Set(scope.kind()),
        target: Set(target.clone()),
        list_json: Set(list_json),
        source: Set(source),
        state: Set(ScanState::Queued),
        requested_by: Set(user.username.clone()),
        created_at: Set(now),
        run_after: Set(now),
        fence: Set(0),
        attempts: Set(0),
        checked: Set(0),
        eligible: Set(0),
        not_eligible: Set(0),
        unknown: Set(0),
        reason_counts: Set("{}".into()),
        bad_lines: Set(encoded(&bad)),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, "eligibility.scan.requested")
            .entity("scan", row.id)
            .after(serde_json::json!({
                "scope": scope.kind().as_str(),
                "target": target,
                "listed": match &scope { Scope::List(l) => Some(l.len()), _ => None },
                "source": source.as_str(),
            })),
    )
    .await?;
    txn.commit().await?;
    state.scan_queued.notify_one();
    Ok(row.id)
}

/// Stops scan `id` for `user` (what was checked stays); audited. Only a queued or running scan
/// can be stopped.
pub async fn cancel(state: &AppState, user: &CurrentUser, id: i64) -> Result<(), AppError> {
    authorize(user)?;
    let txn = begin_write(&state.db).await?;
    let stopped = scans_table::Entity::update_many()
        .col_expr(
            scans_table::Column::State,
            Expr::value(ScanState::Cancelled.as_str()),
        )
        .col_expr(scans_table::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(
            scans_table::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            scans_table::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(scans_table::Column::Id.eq(id))
        .filter(
            scans_table::Column::State
                .is_in([ScanState::Queued.as_str(), ScanState::Running.as_str()]),
        )
        .exec(&txn)
        .await?;
    if stopped.rows_affected == 0 {
        return Err(match scans_table::Entity::find_by_id(id).one(&txn).await? {
            None => AppError::NotFound,
            Some(row) => AppError::Conflict(format!(
                "Bulk check #{id} is {} and cannot be stopped.",
                row.state.label().to_lowercase()
            )),
        });
    }
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, "eligibility.scan.cancelled").entity("scan", id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A worker's hold on a scan: the row as claimed and the fence it claimed with.
#[derive(Clone, Debug)]
pub struct ScanLease {
    pub scan: Row,
    pub owner: String,
    pub lease: Duration,
}

/// What a worker reads for a claimed scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// Everyone, or everyone below this DN.
    People { base: Option<String> },
    /// The people homed on this site's registrar pools.
    Site(String),
    /// The listed identifiers.
    List(Vec<Listed>),
}

/// One judged person, ready to store.
pub struct Judged {
    pub record: Record,
    pub eligibility: Eligibility,
}

impl Judged {
    /// `record` judged by `judge`.
    pub fn by(judge: &super::Judge, record: Record) -> Self {
        Judged {
            eligibility: judge.judge(&record),
            record,
        }
    }
}

/// Takes the oldest queued scan that is due; `None` when there is none.
pub async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    lease: Duration,
) -> Result<Option<ScanLease>, sea_orm::DbErr> {
    for _ in 0..5 {
        let now = Utc::now();
        let Some(candidate) = scans_table::Entity::find()
            .filter(scans_table::Column::State.eq(ScanState::Queued.as_str()))
            .filter(scans_table::Column::RunAfter.lte(now))
            .order_by_asc(scans_table::Column::Id)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let taken = scans_table::Entity::update_many()
            .col_expr(
                scans_table::Column::State,
                Expr::value(ScanState::Running.as_str()),
            )
            .col_expr(scans_table::Column::LeaseOwner, Expr::value(owner))
            .col_expr(scans_table::Column::LeaseUntil, Expr::value(now + lease))
            .col_expr(
                scans_table::Column::Fence,
                Expr::col(scans_table::Column::Fence).add(1),
            )
            .col_expr(
                scans_table::Column::Attempts,
                Expr::col(scans_table::Column::Attempts).add(1),
            )
            .col_expr(
                scans_table::Column::StartedAt,
                Expr::value(candidate.started_at.unwrap_or(now)),
            )
            .filter(scans_table::Column::Id.eq(candidate.id))
            .filter(scans_table::Column::State.eq(ScanState::Queued.as_str()))
            .filter(scans_table::Column::Fence.eq(candidate.fence))
            .exec(db)
            .await?;
        if taken.rows_affected == 1 {
            let scan = scans_table::Entity::find_by_id(candidate.id)
                .one(db)
                .await?
                .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("scan {}", candidate.id)))?;
            return Ok(Some(ScanLease {
                scan,
                owner: owner.to_string(),
                lease,
            }));
        }
    }
    Ok(None)
}

/// Puts back in the queue every running scan whose lease ran out; a scan that has been taken
/// `max_attempts` times fails instead. Returns how many it moved.
pub async fn rescue(db: &DatabaseConnection, max_attempts: i32) -> Result<u64, sea_orm::DbErr> {
    let now = Utc::now();
    let stale = || {
        scans_table::Entity::update_many()
            .filter(scans_table::Column::State.eq(ScanState::Running.as_str()))
            .filter(scans_table::Column::LeaseUntil.lt(now))
    };
    let failed = stale()
        .col_expr(
            scans_table::Column::State,
            Expr::value(ScanState::Failed.as_str()),
        )
        .col_expr(scans_table::Column::FinishedAt, Expr::value(now))
        .col_expr(
            scans_table::Column::Reason,
            Expr::value(format!("its worker stopped {max_attempts} times")),
        )
        .filter(scans_table::Column::Attempts.gte(max_attempts))
        .exec(db)
        .await?;
    let requeued = stale()
        .col_expr(
            scans_table::Column::State,
            Expr::value(ScanState::Queued.as_str()),
        )
        .col_expr(
            scans_table::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            scans_table::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .exec(db)
        .await?;
    Ok(failed.rows_affected + requeued.rows_affected)
}

impl ScanLease {
    /// What to read.
    pub fn work(&self) -> Result<Work, String> {
        let scan = &self.scan;
        Ok(match scan.scope {
            ScopeKind::Directory => Work::People { base: None },
            ScopeKind::Below => Work::People {
                base: scan.target.clone(),
            },
            ScopeKind::Site => Work::Site(scan.target.clone().unwrap_or_default()),
            ScopeKind::List => Work::List(
                serde_json::from_str(scan.list_json.as_deref().unwrap_or("[]"))
                    .map_err(|e| format!("the stored list is unreadable: {e}"))?,
            ),
        })
    }

    /// The condition that the scan is still this lease's.
    fn held(&self) -> sea_orm::Condition {
        sea_orm::Condition::all()
            .add(scans_table::Column::Id.eq(self.scan.id))
            .add(scans_table::Column::Fence.eq(self.scan.fence))
            .add(scans_table::Column::State.eq(ScanState::Running.as_str()))
    }

    /// Stores one page: the people this scan has not stored yet, their counts, and the list's
    /// new bad lines, and renews the lease, all in one transaction and only while the scan is
    /// still this lease's. Returns whether it was (`false`: stop, write nothing more).
    pub async fn store(
        &self,
        db: &DatabaseConnection,
        page: &[Judged],
        bad: &[BadLine],
    ) -> Result<bool, sea_orm::DbErr> {
        let txn = begin_write(db).await?;
        let mut query = scans_table::Entity::find().filter(self.held());
        if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            // SQLite's write transaction is already exclusive.
            query = query.lock(LockType::Update);
        }
        let Some(current) = query.one(&txn).await? else {
            return Ok(false);
        };
        // Each person once per scan: the unique (scan, UPN) index decides, and only the rows
        // it let in are counted (a taken-over scan reads its people again; a list may name
        // someone twice).
        let mut insert = Query::insert();
        insert
            .into_table(people::Entity)
            .columns([
                people::Column::ScanId,
                people::Column::Upn,
                people::Column::DisplayName,
                people::Column::SipAddress,
                people::Column::Verdict,
                people::Column::Reasons,
                people::Column::ChecksJson,
            ])
            .on_conflict(
                OnConflict::columns([people::Column::ScanId, people::Column::Upn])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(people::Column::Upn);
        let mut judged_by_upn = std::collections::HashMap::with_capacity(page.len());
        for judged in page {
            let upn = judged.record.entry.upn.to_lowercase();
            if judged_by_upn.contains_key(&upn) {
                continue;
            }
            let e = &judged.eligibility;
            let checks = serde_json::to_string(&e.checks)
                .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
            insert
                .values([
                    self.scan.id.into(),
                    upn.clone().into(),
                    judged.record.entry.display_name.clone().into(),
                    judged.record.entry.sip_address.clone().into(),
                    e.verdict.as_str().into(),
                    joined(&e.reasons()).into(),
                    checks.into(),
                ])
                .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
            judged_by_upn.insert(upn, e);
        }
        let inserted = if judged_by_upn.is_empty() {
            Vec::new()
        } else {
            txn.query_all(&insert).await?
        };
        let mut counts: BTreeMap<String, i64> =
            serde_json::from_str(&current.reason_counts).unwrap_or_default();
        let (mut eligible, mut not, mut unknown) = (0i64, 0i64, 0i64);
        for row in &inserted {
            let upn: String = row.try_get("", "upn")?;
            let Some(e) = judged_by_upn.get(&upn) else {
                continue;
            };
            match e.verdict {
                Verdict::Eligible => eligible += 1,
                Verdict::NotEligible => not += 1,
                Verdict::Unknown => unknown += 1,
            }
            for code in e.reasons() {
                *counts.entry(code.as_str().to_string()).or_default() += 1;
            }
        }
        let mut bad_lines: Vec<BadLine> =
            serde_json::from_str(&current.bad_lines).unwrap_or_default();
        for line in bad {
            if bad_lines.len() < BAD_LINES_KEPT && !bad_lines.iter().any(|b| b.line == line.line) {
                bad_lines.push(line.clone());
            }
        }
        let added = inserted.len() as i64;
        scans_table::Entity::update_many()
            .col_expr(
                scans_table::Column::Checked,
                Expr::value(current.checked + added),
            )
            .col_expr(
                scans_table::Column::Eligible,
                Expr::value(current.eligible + eligible),
            )
            .col_expr(
                scans_table::Column::NotEligible,
                Expr::value(current.not_eligible + not),
            )
            .col_expr(
                scans_table::Column::Unknown,
                Expr::value(current.unknown + unknown),
            )
            .col_expr(
                scans_table::Column::ReasonCounts,
                Expr::value(encoded(&counts)),
            )
            .col_expr(
                scans_table::Column::BadLines,
                Expr::value(encoded(&bad_lines)),
            )
            .col_expr(
                scans_table::Column::LeaseUntil,
                Expr::value(Utc::now() + self.lease),
            )
            .filter(self.held())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Ends the scan in `to` (with `reason`), or puts it back in the queue until `run_after`;
    /// writes nothing when the scan is no longer this lease's. The end is audited.
    pub async fn release(
        &self,
        db: &DatabaseConnection,
        to: ScanState,
        reason: Option<String>,
        run_after: Option<DateTime<Utc>>,
    ) -> Result<bool, sea_orm::DbErr> {
        let now = Utc::now();
        let txn = begin_write(db).await?;
        let mut update = scans_table::Entity::update_many()
            .col_expr(scans_table::Column::State, Expr::value(to.as_str()))
            .col_expr(
                scans_table::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                scans_table::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(scans_table::Column::Reason, Expr::value(reason.clone()))
            .col_expr(
                scans_table::Column::RunAfter,
                Expr::value(run_after.unwrap_or(now)),
            );
        if !to.is_open() {
            update = update.col_expr(scans_table::Column::FinishedAt, Expr::value(now));
        }
        let done = update.filter(self.held()).exec(&txn).await?;
        if done.rows_affected == 0 {
            return Ok(false);
        }
        if !to.is_open() {
            let row = scans_table::Entity::find_by_id(self.scan.id)
                .one(&txn)
                .await?;
            audit::append(
                &txn,
                AuditRecord::ok(
                    &format!("worker:{}", self.owner),
                    &format!("eligibility.scan.{}", to.as_str()),
                )
                .entity("scan", self.scan.id)
                .after(serde_json::json!({
                    "checked": row.as_ref().map(|r| r.checked),
                    "eligible": row.as_ref().map(|r| r.eligible),
                    "not_eligible": row.as_ref().map(|r| r.not_eligible),
                    "unknown": row.as_ref().map(|r| r.unknown),
                    "reason": reason,
                })),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(true)
    }
}

/// A scan's JSON column (maps and lists of plain values always serialize).
fn encoded(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Codes as stored: each between `;`.
fn joined(codes: &[Code]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        format!(
            ";{};",
            codes
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(";")
        )
    }
}

fn codes(stored: &str) -> Vec<Code> {
    stored
        .split(';')
        .filter_map(|r| Code::ALL.iter().copied().find(|c| c.as_str() == r))
        .collect()
}

fn summary(row: &Row) -> ScanSummary {
    ScanSummary {
        id: row.id,
        scope: row.scope,
        target: row.target.clone(),
        listed: row
            .list_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<Vec<Listed>>(j).ok())
            .map(|l| l.len()),
        state: row.state,
        requested_by: row.requested_by.clone(),
        created_at: row.created_at,
        finished_at: row.finished_at,
        checked: row.checked,
        eligible: row.eligible,
        not_eligible: row.not_eligible,
        unknown: row.unknown,
    }
}

async fn find(state: &AppState, id: i64) -> Result<Row, AppError> {
    scans_table::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The most recent bulk checks, newest first.
pub async fn recent(state: &AppState, user: &CurrentUser) -> Result<Vec<ScanSummary>, AppError> {
    authorize(user)?;
    Ok(scans_table::Entity::find()
        .order_by_desc(scans_table::Column::Id)
        .limit(RECENT)
        .all(&state.db)
        .await?
        .iter()
        .map(summary)
        .collect())
}

/// Scan `id` for `user`: its progress, counts, bad lines and one page of people as `filter`
/// asks.
pub async fn view(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    filter: ScanFilter,
) -> Result<ScanView, AppError> {
    authorize(user)?;
    let row = find(state, id).await?;
    let mut query = people::Entity::find().filter(people::Column::ScanId.eq(id));
    if let Some(verdict) = filter.verdict {
        query = query.filter(people::Column::Verdict.eq(verdict.as_str()));
    }
    if let Some(code) = filter.reason {
        query = query.filter(people::Column::Reasons.contains(format!(";{};", code.as_str())));
    }
    let matching = query.clone().count(&state.db).await?;
    let pages = std::cmp::max(matching.div_ceil(PAGE), 1);
    let page = filter.page.clamp(1, pages);
    let people = query
        .order_by_asc(people::Column::Upn)
        .offset((page - 1) * PAGE)
        .limit(PAGE)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| ScanPerson {
            reasons: codes(&p.reasons),
            upn: p.upn,
            display_name: p.display_name,
            verdict: p.verdict,
        })
        .collect();
    let counts: BTreeMap<String, i64> =
        serde_json::from_str(&row.reason_counts).unwrap_or_default();
    let comparable = scans_table::Entity::find()
        .filter(scans_table::Column::Id.ne(id))
        .filter(scans_table::Column::State.eq(ScanState::Succeeded.as_str()))
        .order_by_desc(scans_table::Column::Id)
        .limit(RECENT)
        .all(&state.db)
        .await?
        .iter()
        .map(summary)
        .collect();
    Ok(ScanView {
        summary: summary(&row),
        source: row.source.as_str().to_string(),
        reason: row.reason.clone(),
        reason_counts: Code::ALL
            .iter()
            .filter(|c| !c.informational())
            .map(|c| (*c, counts.get(c.as_str()).copied().unwrap_or(0)))
            .collect(),
        bad_lines: serde_json::from_str(&row.bad_lines).unwrap_or_default(),
        filter: ScanFilter { page, ..filter },
        people,
        matching,
        pages,
        can_cancel: row.state.is_open() && user.has_any(&ROLES),
        comparable,
    })
}

/// One stored person of a scan, as exports write them.
pub struct Exported {
    pub id: i64,
    pub upn: String,
    pub display_name: String,
    pub sip_address: Option<String>,
    pub eligibility: Eligibility,
}

/// Up to `size` of scan `id`'s people after stored row `after`, in storage order: exports read
/// a scan this way, a page at a time, never whole.
pub async fn export_page(
    db: &impl ConnectionTrait,
    id: i64,
    after: i64,
    size: u64,
) -> Result<Vec<Exported>, sea_orm::DbErr> {
    Ok(people::Entity::find()
        .filter(people::Column::ScanId.eq(id))
        .filter(people::Column::Id.gt(after))
        .order_by_asc(people::Column::Id)
        .limit(size)
        .all(db)
        .await?
        .into_iter()
        .map(|p| {
            let checks: Vec<Check> = serde_json::from_str(&p.checks_json).unwrap_or_default();
            Exported {
                id: p.id,
                eligibility: Eligibility {
                    upn: p.upn.clone(),
                    verdict: p.verdict,
                    checks,
                },
                upn: p.upn,
                display_name: p.display_name,
                sip_address: p.sip_address,
            }
        })
        .collect())
}

/// Whether `user` may read scan `id` (for the exports); `NotFound` when there is none.
pub async fn readable(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<ScanSummary, AppError> {
    authorize(user)?;
    Ok(summary(&find(state, id).await?))
}

/// Scans `before` and `after` compared: whose verdict changed, by direction.
pub async fn compare(
    state: &AppState,
    user: &CurrentUser,
    before: i64,
    after: i64,
) -> Result<ScanComparison, AppError> {
    authorize(user)?;
    let (earlier, later) = (find(state, before).await?, find(state, after).await?);
    let verdicts = |id: i64| async move {
        people::Entity::find()
            .select_only()
            .column(people::Column::Upn)
            .column(people::Column::DisplayName)
            .column(people::Column::Verdict)
            .column(people::Column::Reasons)
            .filter(people::Column::ScanId.eq(id))
            .order_by_asc(people::Column::Upn)
            .into_tuple::<(String, String, Verdict, String)>()
            .all(&state.db)
            .await
    };
    let then: BTreeMap<String, Verdict> = verdicts(before)
        .await?
        .into_iter()
        .map(|(upn, _, v, _)| (upn, v))
        .collect();
    let now = verdicts(after).await?;
    let mut comparison = ScanComparison {
        before: summary(&earlier),
        after: summary(&later),
        became_eligible: Vec::new(),
        became_ineligible: Vec::new(),
        other: Vec::new(),
        counts: [0; 3],
        only_before: 0,
        only_after: 0,
        truncated: false,
    };
    let mut in_both = 0u64;
    for (upn, display_name, verdict, reasons) in now {
        let Some(&was) = then.get(&upn) else {
            comparison.only_after += 1;
            continue;
        };
        in_both += 1;
        if was == verdict {
            continue;
        }
        let (list, count) = match (was, verdict) {
            (_, Verdict::Eligible) if was != Verdict::Unknown => {
                (&mut comparison.became_eligible, &mut comparison.counts[0])
            }
            (Verdict::Eligible, Verdict::NotEligible) => {
                (&mut comparison.became_ineligible, &mut comparison.counts[1])
            }
            _ => (&mut comparison.other, &mut comparison.counts[2]),
        };
        *count += 1;
        if list.len() < CHANGES_SHOWN {
            list.push(ScanChange {
                upn,
                display_name,
                before: was,
                after: verdict,
                reasons: codes(&reasons),
            });
        } else {
            comparison.truncated = true;
        }
    }
    comparison.only_before = then.len() as u64 - in_both;
    Ok(comparison)
}
