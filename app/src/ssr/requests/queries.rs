//! Reads of requests for pages: the request page, the dashboard, the inbox, the lists and
//! the audit log.

use super::*;

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
    let people = crate::ssr::users::refs(
        db,
        all_votes
            .iter()
            .map(|v| v.approver_id)
            .chain([row.requester_id]),
    )
    .await?;
    let facts = facts_of(&row, &all_votes)?;
    let change = crate::ssr::runs::latest_status(db, &[row.id])
        .await?
        .remove(&row.id);
    let summary = summary_of(state, &row, &facts, &people, change);
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
    let timeline = audit::read::timeline(db, ENTITY, &id.to_string()).await?;
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
        run: crate::ssr::runs::view(state, viewer, id).await?,
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
    // Each step of a run is in the request's timeline; at a glance, the run is enough.
    let recent = audit::read::recent(&state.db, ENTITY, &["run.step"], DASHBOARD_ROWS).await?;
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
    let changes = crate::ssr::runs::latest_status(&state.db, &ids).await?;
    let votes = approvals::Entity::find()
        .filter(approvals::Column::RequestId.is_in(ids))
        .all(&state.db)
        .await?;
    let people = crate::ssr::users::refs(&state.db, rows.iter().map(|r| r.requester_id)).await?;
    rows.iter()
        .map(|row| {
            let mine: Vec<approvals::Model> = votes
                .iter()
                .filter(|v| v.request_id == row.id)
                .cloned()
                .collect();
            let facts = facts_of(row, &mine)?;
            Ok(summary_of(
                state,
                row,
                &facts,
                &people,
                changes.get(&row.id).copied(),
            ))
        })
        .collect()
}

fn summary_of(
    state: &AppState,
    row: &change_requests::Model,
    facts: &RequestFacts,
    people: &HashMap<i32, UserRef>,
    change: Option<crate::domain::runs::ChangeStatus>,
) -> RequestSummary {
    let policy = &state.settings.approval;
    RequestSummary {
        id: row.id,
        state: facts.state,
        site_id: row.site_id.clone(),
        kind: row.kind,
        owa_pool_fqdn: row.owa_pool_fqdn.clone(),
        requester: person(people, row.requester_id),
        approvals: facts.approvals() as u32,
        quorum: policy.quorum,
        updated_at: row.updated_at,
        expires_at: (facts.state == RequestState::Submitted)
            .then_some(row.submitted_at)
            .flatten()
            .map(|at| policy.expires_at(at)),
        change,
    }
}
