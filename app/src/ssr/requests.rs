//! The request service: every read and write of change requests and votes, each write in one
//! transaction with its audit event. Server functions stay thin and call into here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde_json::{Value, json};

use super::audit::{self, AuditRecord};
use super::db::begin_write;
use super::entities::{approvals, audit_events, change_requests};
use super::plans;
use super::state::AppState;
use crate::domain::request::{ChangeWindow, IntegrationSpec, RequestInput, RequestState};
use crate::domain::roles::CurrentUser;
use crate::domain::workflow::{self, Action, Denial, RequestFacts, Verdict, Vote};
use crate::error::AppError;
use crate::views::{
    AuditEntry, AuditFilter, AuditPage, Dashboard, Permissions, RequestDetail, RequestSummary,
    UserRef, VoteView,
};

/// The entity type recorded in audit events about requests.
pub const ENTITY: &str = "change_request";
/// Audit log page size.
pub const AUDIT_PAGE_SIZE: u64 = 25;
/// How many entries the dashboard lists per section.
const DASHBOARD_ROWS: u64 = 10;
/// The longest reject comment accepted.
pub const MAX_COMMENT: usize = 2000;

/// Records a refused action in its own transaction; failures to record are logged, since the
/// caller is already returning the refusal.
pub async fn record_denial(
    db: &DatabaseConnection,
    actor: &str,
    action: &str,
    request_id: Option<i32>,
    reason: &str,
) {
    let mut record = AuditRecord::denied(actor, action, reason);
    if let Some(id) = request_id {
        record = record.entity(ENTITY, id);
    }
    let result = async {
        let txn = begin_write(db).await?;
        audit::append(&txn, record).await?;
        txn.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, action, "could not record a denied action");
    }
}

/// Files a new draft request.
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    input: &RequestInput,
) -> Result<i32, AppError> {
    if !user.has(crate::domain::roles::Role::Requester) {
        let denial = Denial::NotARequester;
        record_denial(
            &state.db,
            &user.username,
            "request.create",
            None,
            &denial.to_string(),
        )
        .await;
        return Err(denial.into());
    }
    let now = Utc::now();
    let spec = IntegrationSpec::validate(input, now).map_err(AppError::Invalid)?;
    let plan = plans::plan_now(state, &spec).await?;
    let txn = begin_write(&state.db).await?;
    let mut new_row = change_requests::ActiveModel {
        requester_id: Set(user.id),
        state: Set(RequestState::Draft.as_str().into()),
        revision: Set(1),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        submitted_at: Set(None),
        decided_at: Set(None),
        previous_plan_json: Set(None),
        ..spec_columns(&spec)
    };
    plans::set(&mut new_row, Some(&plan), now);
    let row = new_row.insert(&txn).await?;
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, "request.create")
            .entity(ENTITY, row.id)
            .after(json!({
                "state": "draft",
                "request": spec_json(&spec),
                "plan_hash": plan.plan.hash(),
            })),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(request = row.id, user = %user.username, "request created");
    Ok(row.id)
}

/// Edits a request; editing a submitted or approved request withdraws its votes and starts a new
/// revision that needs fresh approvals.
pub async fn update(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    version: i32,
    input: &RequestInput,
) -> Result<(), AppError> {
    let now = Utc::now();
    let spec = IntegrationSpec::validate(input, now).map_err(AppError::Invalid)?;
    precheck(state, user, id, version, Action::Edit, now).await?;
    let plan = plans::plan_now(state, &spec).await?;
    let d = decide_in_txn(state, user, id, version, Action::Edit, now).await?;
    if let Some(wait) = super::runs::operate::settle(&d.txn, id, false, &user.username).await? {
        return Err(refuse(state, d.txn, user, id, Action::Edit, Refusal::Blocked(wait)).await);
    }
    let (row, next) = (d.row.clone(), d.next);
    let before = spec_json(&spec_of(&row)?);
    let withdrawn = withdraw_votes(&d.txn, &row, now).await?;
    let resubmitted = next == RequestState::Submitted;
    let mut change = change_requests::ActiveModel {
        state: Set(next.as_str().into()),
        revision: Set(row.revision + 1),
        submitted_at: Set(if resubmitted { Some(now) } else { None }),
        decided_at: Set(None),
        previous_plan_json: Set(None),
        ..spec_columns(&spec)
    };
    plans::set(&mut change, Some(&plan), now);
    let txn = d.write(state, user, change, now).await?;
    let mut record = AuditRecord::ok(&user.username, "request.edit")
        .entity(ENTITY, id)
        .before(json!({ "state": row.state, "revision": row.revision, "request": before }))
        .after(json!({
            "state": next.as_str(),
            "revision": row.revision + 1,
            "request": spec_json(&spec),
            "plan_hash": plan.plan.hash(),
        }));
    if withdrawn > 0 {
        record = record.detail(format!(
            "editing withdrew {withdrawn} vote(s); the new revision needs fresh approval"
        ));
    }
    audit::append(&txn, record).await?;
    txn.commit().await?;
    Ok(())
}

/// Submits a draft, or cancels a request.
pub async fn transition(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    version: i32,
    action: Action,
) -> Result<RequestState, AppError> {
    debug_assert!(matches!(action, Action::Submit | Action::Cancel));
    let now = Utc::now();
    // Submitting plans against fresh facts (read before the write transaction opens), once
    // the caller is known to be allowed to submit.
    let plan = match action {
        Action::Submit => {
            let row = precheck(state, user, id, version, action, now).await?;
            Some(plans::plan_now(state, &spec_of(&row)?).await?)
        }
        _ => None,
    };
    let d = decide_in_txn(state, user, id, version, action, now).await?;
    let (row, next) = (d.row.clone(), d.next);
    if let Some(failures) = plan
        .as_ref()
        .map(|p| p.plan.failures())
        .filter(|f| !f.is_empty())
    {
        let reasons = failures
            .iter()
            .map(|f| format!("{}: {}", f.title, f.detail))
            .collect::<Vec<_>>()
            .join(" ");
        let message = format!(
            "The plan's preflight checks failed, so the request cannot be submitted. {reasons}"
        );
        return Err(refuse(state, d.txn, user, id, action, Refusal::Blocked(message)).await);
    }
    if action == Action::Cancel {
        super::runs::operate::settle(&d.txn, id, true, &user.username).await?;
    }
    let mut change = change_requests::ActiveModel {
        state: Set(next.as_str().into()),
        ..Default::default()
    };
    match action {
        Action::Submit => {
            change.submitted_at = Set(Some(now));
            plans::set(&mut change, plan.as_ref(), now);
        }
        _ => change.decided_at = Set(Some(now)),
    }
    let txn = d.write(state, user, change, now).await?;
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, &format!("request.{}", action.as_str()))
            .entity(ENTITY, id)
            .before(json!({ "state": row.state, "plan_hash": row.plan_hash }))
            .after(json!({
                "state": next.as_str(),
                "plan_hash": plan.as_ref().map(|p| p.plan.hash()).or(row.plan_hash.clone()),
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(next)
}

/// Records an approver's vote; the request becomes approved when the quorum is reached, or
/// rejected at the first rejection.
pub async fn vote(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    version: i32,
    decision: Verdict,
    comment: &str,
    plan_hash: &str,
) -> Result<RequestState, AppError> {
    let comment = comment.trim();
    let action = match decision {
        Verdict::Approve => Action::Approve,
        Verdict::Reject => Action::Reject,
    };
    let values = || [("comment", comment.to_string())];
    if decision == Verdict::Reject && comment.is_empty() {
        return Err(AppError::invalid_field(
            "comment",
            "Say why you are rejecting the request; the requester will see it.",
            values(),
        ));
    }
    if comment.chars().count() > MAX_COMMENT {
        return Err(AppError::invalid_field(
            "comment",
            format!("Use at most {MAX_COMMENT} characters."),
            values(),
        ));
    }
    let now = Utc::now();
    let d = decide_in_txn(state, user, id, version, action, now).await?;
    let (row, facts, next) = (d.row.clone(), d.facts.clone(), d.next);
    if row.plan_hash.as_deref() != Some(plan_hash) {
        return Err(refuse(state, d.txn, user, id, action, Refusal::PlanChanged).await);
    }
    if decision == Verdict::Approve && plans::stored(&row).is_some_and(|p| !p.failures().is_empty())
    {
        let message = "The plan's preflight checks fail, so it cannot be approved; re-plan once the environment is fixed, or reject it.".to_string();
        return Err(refuse(state, d.txn, user, id, action, Refusal::Blocked(message)).await);
    }
    let mut change = change_requests::ActiveModel {
        state: Set(next.as_str().into()),
        ..Default::default()
    };
    if next != RequestState::Submitted {
        change.decided_at = Set(Some(now));
    }
    let audit_action = format!("request.{}", action.as_str());
    let txn = d.write(state, user, change, now).await?;
    approvals::ActiveModel {
        request_id: Set(id),
        requester_id: Set(row.requester_id),
        approver_id: Set(user.id),
        revision: Set(row.revision),
        decision: Set(decision.as_str().into()),
        comment: Set((!comment.is_empty()).then(|| comment.to_string())),
        created_at: Set(now),
        withdrawn_at: Set(None),
        plan_hash: Set(Some(plan_hash.to_string())),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let approvals_after = facts.approvals() + usize::from(decision == Verdict::Approve);
    // The run is queued in the same transaction as the approval that makes it runnable.
    let job = if next == RequestState::Approved {
        let run_after = row.window_start.unwrap_or(now);
        let plan = plans::stored(&row).ok_or_else(|| {
            tracing::error!(request = id, "an approved request without a readable plan");
            AppError::Internal
        })?;
        Some(super::runs::operate::enqueue_apply(&txn, id, &plan, run_after).await?)
    } else {
        None
    };
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, &audit_action)
            .entity(ENTITY, id)
            .before(json!({ "state": row.state, "approvals": facts.approvals() }))
            .after(json!({
                "state": next.as_str(),
                "approvals": approvals_after,
                "quorum": state.settings.approval.quorum,
                "revision": row.revision,
                "plan_hash": plan_hash,
                "comment": comment,
                "job": job,
            })),
    )
    .await?;
    txn.commit().await?;
    if job.is_some() {
        state.run_queued.notify_one();
    }
    Ok(next)
}

/// Plans the request again against fresh facts. A different plan replaces the old one (kept to
/// show the difference), withdraws the votes, and needs fresh approval. Returns whether the plan
/// changed.
pub async fn replan(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    version: i32,
) -> Result<bool, AppError> {
    let now = Utc::now();
    let row = precheck(state, user, id, version, Action::Replan, now).await?;
    let planned = plans::plan_now(state, &spec_of(&row)?).await?;
    let plan = &planned.plan;
    let d = decide_in_txn(state, user, id, version, Action::Replan, now).await?;
    let (row, next) = (d.row.clone(), d.next);
    let hash = plan.hash();
    if row.plan_hash.as_deref() == Some(hash.as_str()) {
        let txn = d.txn;
        audit::append(
            &txn,
            AuditRecord::ok(&user.username, "request.replan")
                .entity(ENTITY, id)
                .detail(format!("the plan is unchanged ({})", &hash[..12])),
        )
        .await?;
        txn.commit().await?;
        return Ok(false);
    }
    let changes = plans::stored(&row)
        .map(|previous| crate::procedure::plan::diff(&previous, plan))
        .unwrap_or_default();
    let withdrawn = withdraw_votes(&d.txn, &row, now).await?;
    let mut change = change_requests::ActiveModel {
        state: Set(next.as_str().into()),
        revision: Set(row.revision + 1),
        submitted_at: Set((next == RequestState::Submitted).then_some(now)),
        decided_at: Set(None),
        previous_plan_json: Set(row.plan_json.clone()),
        ..Default::default()
    };
    plans::set(&mut change, Some(&planned), now);
    let txn = d.write(state, user, change, now).await?;
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, "request.replan")
            .entity(ENTITY, id)
            .before(
                json!({ "state": row.state, "revision": row.revision, "plan_hash": row.plan_hash }),
            )
            .after(json!({
                "state": next.as_str(),
                "revision": row.revision + 1,
                "plan_hash": hash,
                "changes": changes.iter().map(|c| &c.what).collect::<Vec<_>>(),
            }))
            .detail(format!(
                "the plan changed ({} differences); {withdrawn} vote(s) withdrawn",
                changes.len()
            )),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Marks requests whose approvals timed out as expired. Returns how many.
pub async fn expire_due(state: &AppState, now: DateTime<Utc>) -> Result<u64, AppError> {
    let policy = &state.settings.approval;
    let cutoff = now - chrono::Duration::hours(i64::from(policy.expiry_hours));
    let due = change_requests::Entity::find()
        .filter(change_requests::Column::State.eq(RequestState::Submitted.as_str()))
        .filter(change_requests::Column::SubmittedAt.lte(cutoff))
        .all(&state.db)
        .await?;
    let mut expired = 0;
    for row in due {
        let txn = begin_write(&state.db).await?;
        let change = change_requests::ActiveModel {
            state: Set(RequestState::Expired.as_str().into()),
            decided_at: Set(Some(now)),
            ..Default::default()
        };
        if guarded_update(&txn, &row, change, now).await? {
            audit::append(
                &txn,
                AuditRecord::ok("system", "request.expire")
                    .entity(ENTITY, row.id)
                    .before(json!({ "state": row.state }))
                    .after(json!({ "state": "expired" }))
                    .detail(format!(
                        "approvals did not reach the quorum within {} hours",
                        policy.expiry_hours
                    )),
            )
            .await?;
            txn.commit().await?;
            expired += 1;
        }
    }
    Ok(expired)
}

/// The request page for `viewer`.
pub async fn detail(
    state: &AppState,
    viewer: &CurrentUser,
    id: i32,
) -> Result<RequestDetail, AppError> {
    expire_due(state, Utc::now()).await?;
    let db = &state.db;
    let row = change_requests::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let spec = spec_of(&row)?;
    let all_votes = approvals::Entity::find()
        .filter(approvals::Column::RequestId.eq(id))
        .order_by_asc(approvals::Column::Id)
        .all(db)
        .await?;
    let people = super::users::refs(
        db,
        all_votes
            .iter()
            .map(|v| v.approver_id)
            .chain([row.requester_id]),
    )
    .await?;
    let facts = facts_of(&row, &all_votes)?;
    let summary = summary_of(state, &row, &facts, &people);
    let votes = all_votes
        .iter()
        .map(|v| VoteView {
            approver: person(&people, v.approver_id),
            decision: Verdict::parse(&v.decision).unwrap_or(Verdict::Reject),
            comment: v.comment.clone(),
            at: v.created_at,
            revision: v.revision,
            withdrawn: v.withdrawn_at.is_some() || v.revision != row.revision,
        })
        .collect();
    let timeline = audit_events::Entity::find()
        .filter(audit_events::Column::EntityType.eq(ENTITY))
        .filter(audit_events::Column::EntityId.eq(id.to_string()))
        .order_by_asc(audit_events::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(entry_of)
        .collect();
    Ok(RequestDetail {
        summary,
        values: spec.to_input(),
        window: spec.window,
        revision: row.revision,
        version: row.version,
        created_at: row.created_at,
        votes,
        timeline,
        can: permissions(state, viewer, &facts),
        plan: plans::view(&row),
        run: super::runs::view(state, viewer, id).await?,
    })
}

fn permissions(state: &AppState, viewer: &CurrentUser, facts: &RequestFacts) -> Permissions {
    let now = Utc::now();
    let policy = &state.settings.approval;
    let allowed = |action| workflow::decide(action, viewer, facts, policy, now);
    let vote = allowed(Action::Approve);
    let replan = allowed(Action::Replan).is_ok();
    let relevant = viewer.id == facts.requester_id || policy.is_approver(viewer);
    Permissions {
        edit: allowed(Action::Edit).is_ok(),
        submit: allowed(Action::Submit).is_ok(),
        cancel: allowed(Action::Cancel).is_ok(),
        vote: vote.is_ok(),
        replan,
        vote_blocked: match vote {
            Err(denial) if relevant && facts.state == RequestState::Submitted => {
                Some(denial.to_string())
            }
            _ => None,
        },
    }
}

/// The home page for `viewer`.
pub async fn dashboard(state: &AppState, viewer: &CurrentUser) -> Result<Dashboard, AppError> {
    expire_due(state, Utc::now()).await?;
    let mine = change_requests::Entity::find()
        .filter(change_requests::Column::RequesterId.eq(viewer.id))
        .order_by_desc(change_requests::Column::UpdatedAt)
        .limit(DASHBOARD_ROWS)
        .all(&state.db)
        .await?;
    let mine = summaries(state, mine).await?;
    let awaiting_me = if state.settings.approval.is_approver(viewer) {
        Some(inbox(state, viewer).await?)
    } else {
        None
    };
    let recent = audit_events::Entity::find()
        .filter(audit_events::Column::EntityType.eq(ENTITY))
        .order_by_desc(audit_events::Column::Id)
        .limit(DASHBOARD_ROWS)
        .all(&state.db)
        .await?
        .into_iter()
        .map(entry_of)
        .collect();
    Ok(Dashboard {
        mine,
        awaiting_me,
        recent,
    })
}

/// Submitted requests `viewer` may vote on and has not yet voted on, oldest first.
pub async fn inbox(
    state: &AppState,
    viewer: &CurrentUser,
) -> Result<Vec<RequestSummary>, AppError> {
    expire_due(state, Utc::now()).await?;
    if !state.settings.approval.is_approver(viewer) {
        return Ok(Vec::new());
    }
    let rows = change_requests::Entity::find()
        .filter(change_requests::Column::State.eq(RequestState::Submitted.as_str()))
        .filter(change_requests::Column::RequesterId.ne(viewer.id))
        .order_by_asc(change_requests::Column::SubmittedAt)
        .all(&state.db)
        .await?;
    let mut waiting = Vec::new();
    for row in rows {
        let voted = approvals::Entity::find()
            .filter(approvals::Column::RequestId.eq(row.id))
            .filter(approvals::Column::Revision.eq(row.revision))
            .filter(approvals::Column::ApproverId.eq(viewer.id))
            .filter(approvals::Column::WithdrawnAt.is_null())
            .count(&state.db)
            .await?;
        if voted == 0 {
            waiting.push(row);
        }
    }
    summaries(state, waiting).await
}

/// Every request, newest first, optionally in one state.
pub async fn list(
    state: &AppState,
    filter: Option<RequestState>,
) -> Result<Vec<RequestSummary>, AppError> {
    expire_due(state, Utc::now()).await?;
    let mut query = change_requests::Entity::find().order_by_desc(change_requests::Column::Id);
    if let Some(s) = filter {
        query = query.filter(change_requests::Column::State.eq(s.as_str()));
    }
    let rows = query.all(&state.db).await?;
    summaries(state, rows).await
}

/// One page of the audit log.
pub async fn audit_page(state: &AppState, filter: &AuditFilter) -> Result<AuditPage, AppError> {
    let mut query = audit_events::Entity::find().order_by_desc(audit_events::Column::Id);
    let actor = filter.actor.trim();
    if !actor.is_empty() {
        query = query.filter(audit_events::Column::Actor.eq(actor));
    }
    let action = filter.action.trim();
    if !action.is_empty() {
        query = query.filter(audit_events::Column::Action.starts_with(action));
    }
    let outcome = filter.outcome.trim();
    if !outcome.is_empty() {
        query = query.filter(audit_events::Column::Outcome.eq(outcome));
    }
    let request = filter.request.trim().trim_start_matches('#');
    if !request.is_empty() {
        if request.parse::<u32>().is_err() {
            return Err(AppError::invalid_field(
                "request",
                "Enter a request number, like 12.",
                [("request", filter.request.clone())],
            ));
        }
        query = query
            .filter(audit_events::Column::EntityType.eq(ENTITY))
            .filter(audit_events::Column::EntityId.eq(request));
    }
    let paginator = query.paginate(&state.db, AUDIT_PAGE_SIZE);
    let total = paginator.num_items().await?;
    let pages = total.div_ceil(AUDIT_PAGE_SIZE).max(1) as u32;
    let page = filter.page.clamp(1, pages);
    let entries = paginator
        .fetch_page(u64::from(page - 1))
        .await?
        .into_iter()
        .map(entry_of)
        .collect();
    Ok(AuditPage {
        entries,
        total,
        page,
        pages,
    })
}

/// Loads a request with its counting votes, for a decision inside `txn`.
async fn load_facts<C: ConnectionTrait>(
    db: &C,
    id: i32,
) -> Result<(change_requests::Model, RequestFacts), AppError> {
    let row = change_requests::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let votes = approvals::Entity::find()
        .filter(approvals::Column::RequestId.eq(id))
        .all(db)
        .await?;
    let facts = facts_of(&row, &votes)?;
    Ok((row, facts))
}

/// The workflow's view of a request: only votes on the current revision that stand.
fn facts_of(
    row: &change_requests::Model,
    votes: &[approvals::Model],
) -> Result<RequestFacts, AppError> {
    Ok(RequestFacts {
        state: state_of(row)?,
        requester_id: row.requester_id,
        submitted_at: row.submitted_at,
        votes: votes
            .iter()
            .filter(|v| v.revision == row.revision && v.withdrawn_at.is_none())
            .filter_map(|v| {
                Some(Vote {
                    approver_id: v.approver_id,
                    decision: Verdict::parse(&v.decision)?,
                    plan_hash: v.plan_hash.clone(),
                })
            })
            .collect(),
        plan_hash: row.plan_hash.clone(),
    })
}

fn state_of(row: &change_requests::Model) -> Result<RequestState, AppError> {
    RequestState::parse(&row.state).ok_or_else(|| {
        tracing::error!(request = row.id, state = %row.state, "unknown stored state");
        AppError::Internal
    })
}

/// An action the workflow allows, inside the write transaction that will carry it out.
struct Decided {
    txn: DatabaseTransaction,
    row: change_requests::Model,
    facts: RequestFacts,
    action: Action,
    next: RequestState,
}

impl Decided {
    /// Writes `change` unless someone else wrote the request since it was read; the loser of
    /// such a race is refused with a conflict.
    async fn write(
        self,
        state: &AppState,
        user: &CurrentUser,
        change: change_requests::ActiveModel,
        now: DateTime<Utc>,
    ) -> Result<DatabaseTransaction, AppError> {
        if guarded_update(&self.txn, &self.row, change, now).await? {
            Ok(self.txn)
        } else {
            Err(refuse(
                state,
                self.txn,
                user,
                self.row.id,
                self.action,
                Refusal::Conflict,
            )
            .await)
        }
    }
}

/// Decides `action` on request `id` before anything costly (planning probes the environment),
/// outside any transaction; a refusal is audited. The write transaction decides again.
async fn precheck(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    seen_version: i32,
    action: Action,
    now: DateTime<Utc>,
) -> Result<change_requests::Model, AppError> {
    let (row, facts) = load_facts(&state.db, id).await?;
    match check(state, user, action, &row, &facts, seen_version, now) {
        Ok(_) => Ok(row),
        Err(refusal) => Err(refuse(state, None, user, id, action, refusal).await),
    }
}

/// Opens a write transaction on request `id` and decides `action` against the version the
/// caller saw; a refusal is rolled back and audited.
async fn decide_in_txn(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    seen_version: i32,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Decided, AppError> {
    let txn = begin_write(&state.db).await?;
    let (row, facts) = load_facts(&txn, id).await?;
    match check(state, user, action, &row, &facts, seen_version, now) {
        Ok(next) => Ok(Decided {
            txn,
            row,
            facts,
            action,
            next,
        }),
        Err(refusal) => Err(refuse(state, txn, user, id, action, refusal).await),
    }
}

/// Why an action on a request did not happen.
enum Refusal {
    Denied(Denial),
    /// Someone else changed the request since the caller saw it.
    Conflict,
    /// The plan the caller saw is no longer the request's plan.
    PlanChanged,
    /// The plan does not allow the action (its preflight fails).
    Blocked(String),
}

/// Applies the workflow decision to what the caller saw (`seen_version`).
fn check(
    state: &AppState,
    user: &CurrentUser,
    action: Action,
    row: &change_requests::Model,
    facts: &RequestFacts,
    seen_version: i32,
    now: DateTime<Utc>,
) -> Result<RequestState, Refusal> {
    let stale = row.version != seen_version;
    if facts.is_expired(&state.settings.approval, now) && action != Action::Cancel {
        return Err(Refusal::Denied(Denial::Expired));
    }
    match workflow::decide(action, user, facts, &state.settings.approval, now) {
        // The state moved on under a stale view: that is a conflict, not the caller's fault.
        Err(Denial::WrongState { .. } | Denial::AlreadyVoted) if stale => Err(Refusal::Conflict),
        Err(denial) => Err(Refusal::Denied(denial)),
        Ok(_) if stale => Err(Refusal::Conflict),
        Ok(next) => Ok(next),
    }
}

/// Rolls back `txn` (if any), records the refusal in the audit trail, and returns the
/// caller's error.
async fn refuse(
    state: &AppState,
    txn: impl Into<Option<DatabaseTransaction>>,
    user: &CurrentUser,
    id: i32,
    action: Action,
    refusal: Refusal,
) -> AppError {
    if let Some(txn) = txn.into()
        && let Err(e) = txn.rollback().await
    {
        tracing::error!(error = %e, "rollback failed");
    }
    let audit_action = format!("request.{}", action.as_str());
    let (reason, error) = match refusal {
        Refusal::Denied(denial) => (denial.to_string(), AppError::from(denial)),
        Refusal::Conflict => {
            let now_state = change_requests::Entity::find_by_id(id)
                .one(&state.db)
                .await
                .ok()
                .flatten()
                .and_then(|r| RequestState::parse(&r.state))
                .map(|s| s.label().to_lowercase())
                .unwrap_or_else(|| "changed".into());
            let message = format!(
                "Someone else acted on request #{id} at the same moment, and it is now {now_state}. \
                 Nothing was changed by your action; reload the request to see its latest state."
            );
            (message.clone(), AppError::Conflict(message))
        }
        Refusal::PlanChanged => {
            let message = format!(
                "The plan of request #{id} changed since you opened it, so your decision was not recorded. \
                 Reload the request, review the new plan, and decide again."
            );
            (message.clone(), AppError::Conflict(message))
        }
        Refusal::Blocked(message) => (message.clone(), AppError::Forbidden(message)),
    };
    record_denial(&state.db, &user.username, &audit_action, Some(id), &reason).await;
    error
}

/// Writes `change` only if nobody else wrote the request since it was read; bumps `version`.
async fn guarded_update<C: ConnectionTrait>(
    db: &C,
    row: &change_requests::Model,
    change: change_requests::ActiveModel,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let change = change_requests::ActiveModel {
        version: Set(row.version + 1),
        updated_at: Set(now),
        ..change
    };
    let result = change_requests::Entity::update_many()
        .set(change)
        .filter(change_requests::Column::Id.eq(row.id))
        .filter(change_requests::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Withdraws the standing votes on the current revision; returns how many.
async fn withdraw_votes<C: ConnectionTrait>(
    db: &C,
    row: &change_requests::Model,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    let result = approvals::Entity::update_many()
        .col_expr(approvals::Column::WithdrawnAt, Expr::value(now))
        .filter(approvals::Column::RequestId.eq(row.id))
        .filter(approvals::Column::Revision.eq(row.revision))
        .filter(approvals::Column::WithdrawnAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// What a run needs of its request to go ahead.
pub struct Runnable {
    pub spec: IntegrationSpec,
    /// When the change window ends, if it has one.
    pub window_end: Option<DateTime<Utc>>,
}

/// Whether apply run `job` may still run: its request is approved by others than the
/// requester (the quorum, every vote on the request's current plan), and that plan is the one
/// the run carries. Why not, when it may not.
pub async fn runnable(
    db: &DatabaseConnection,
    policy: &workflow::ApprovalPolicy,
    job: &super::entities::jobs::Model,
) -> Result<Runnable, String> {
    let (row, facts) = load_facts(db, job.request_id)
        .await
        .map_err(|e| format!("the request cannot be read: {e}"))?;
    workflow::check_runnable(&facts, policy).map_err(|d| d.to_string())?;
    if row.plan_hash.as_deref() != Some(job.plan_hash.as_str()) {
        return Err("the request's plan changed after this run was queued".into());
    }
    Ok(Runnable {
        spec: spec_of(&row).map_err(|e| e.to_string())?,
        window_end: row.window_end,
    })
}

/// The validated request stored in `row`. Stored values passed validation when written, so a
/// failure here means the row was altered outside imlink.
pub fn spec_of(row: &change_requests::Model) -> Result<IntegrationSpec, AppError> {
    let corrupt = |what: &str| {
        tracing::error!(
            request = row.id,
            field = what,
            "stored request fails validation"
        );
        AppError::Internal
    };
    use crate::domain::fields::*;
    Ok(IntegrationSpec {
        site_id: SiteId::parse(&row.site_id).map_err(|_| corrupt("site_id"))?,
        owa_pool_fqdn: Fqdn::parse(&row.owa_pool_fqdn).map_err(|_| corrupt("owa_pool_fqdn"))?,
        registrar_fqdn: Fqdn::parse(&row.registrar_fqdn).map_err(|_| corrupt("registrar_fqdn"))?,
        application_id: ApplicationId::parse(&row.application_id)
            .map_err(|_| corrupt("application_id"))?,
        port: Port::parse(&row.port.to_string()).map_err(|_| corrupt("port"))?,
        thumbprint: Thumbprint::parse(&row.thumbprint).map_err(|_| corrupt("thumbprint"))?,
        policies: serde_json::from_str::<PolicySelection>(&row.policies)
            .map_err(|_| corrupt("policies"))?,
        justification: Justification::parse(&row.justification)
            .map_err(|_| corrupt("justification"))?,
        window: match (row.window_start, row.window_end) {
            (Some(start), Some(end)) => Some(ChangeWindow { start, end }),
            _ => None,
        },
    })
}

fn spec_columns(spec: &IntegrationSpec) -> change_requests::ActiveModel {
    change_requests::ActiveModel {
        site_id: Set(spec.site_id.to_string()),
        owa_pool_fqdn: Set(spec.owa_pool_fqdn.to_string()),
        registrar_fqdn: Set(spec.registrar_fqdn.to_string()),
        application_id: Set(spec.application_id.to_string()),
        port: Set(i32::from(spec.port.get())),
        thumbprint: Set(spec.thumbprint.to_string()),
        policies: Set(serde_json::to_string(&spec.policies).unwrap_or_default()),
        justification: Set(spec.justification.to_string()),
        window_start: Set(spec.window.map(|w| w.start)),
        window_end: Set(spec.window.map(|w| w.end)),
        ..Default::default()
    }
}

fn spec_json(spec: &IntegrationSpec) -> Value {
    audit::to_value(spec)
}

fn person(people: &HashMap<i32, UserRef>, id: i32) -> UserRef {
    people.get(&id).cloned().unwrap_or(UserRef {
        id,
        username: format!("user#{id}"),
        display_name: format!("user #{id}"),
    })
}

async fn summaries(
    state: &AppState,
    rows: Vec<change_requests::Model>,
) -> Result<Vec<RequestSummary>, AppError> {
    let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    let votes = approvals::Entity::find()
        .filter(approvals::Column::RequestId.is_in(ids))
        .all(&state.db)
        .await?;
    let people = super::users::refs(&state.db, rows.iter().map(|r| r.requester_id)).await?;
    rows.iter()
        .map(|row| {
            let mine: Vec<approvals::Model> = votes
                .iter()
                .filter(|v| v.request_id == row.id)
                .cloned()
                .collect();
            let facts = facts_of(row, &mine)?;
            Ok(summary_of(state, row, &facts, &people))
        })
        .collect()
}

fn summary_of(
    state: &AppState,
    row: &change_requests::Model,
    facts: &RequestFacts,
    people: &HashMap<i32, UserRef>,
) -> RequestSummary {
    let policy = &state.settings.approval;
    RequestSummary {
        id: row.id,
        state: facts.state,
        site_id: row.site_id.clone(),
        owa_pool_fqdn: row.owa_pool_fqdn.clone(),
        requester: person(people, row.requester_id),
        approvals: facts.approvals() as u32,
        quorum: policy.quorum,
        updated_at: row.updated_at,
        expires_at: (facts.state == RequestState::Submitted)
            .then_some(row.submitted_at)
            .flatten()
            .map(|at| policy.expires_at(at)),
    }
}

fn entry_of(e: audit_events::Model) -> AuditEntry {
    AuditEntry {
        seq: e.id,
        at: e.occurred_at,
        actor: e.actor,
        action: e.action,
        outcome: e.outcome,
        entity_type: e.entity_type,
        entity_id: e.entity_id,
        before: e.before,
        after: e.after,
        detail: e.detail,
    }
}

/// Ensures the connection works; used by `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    db.ping().await
}
