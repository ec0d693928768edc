//! Writes of requests and votes: decided by the workflow, guarded by the request's version,
//! each in one transaction with its audit event; every refusal is audited.

use super::*;

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
    if let Some(wait) = crate::ssr::runs::operate::settle(&d.txn, id, false, &user.username).await?
    {
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
        crate::ssr::runs::operate::settle(&d.txn, id, true, &user.username).await?;
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
        Some(crate::ssr::runs::operate::enqueue_apply(&txn, id, &plan, run_after).await?)
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
