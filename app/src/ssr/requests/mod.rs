//! The request service: every read and write of change requests and votes, each write in one
//! transaction with its audit event. Server functions stay thin and call into here.
//!
//! - [`commands`]: filing, editing, submitting, cancelling, voting, re-planning and expiring,
//!   each decided by the workflow, then written with a version guard and its audit event.
//! - [`queries`]: the request page, the dashboard, the approvals inbox, the lists and the
//!   audit log.

mod commands;
mod queries;

pub use commands::*;
pub use queries::*;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde_json::{Value, json};

use super::audit::{self, AuditRecord};
use super::db::begin_write;
use super::entities::{approvals, change_requests};
use super::plans;
use super::state::AppState;
use crate::domain::request::{ChangeWindow, IntegrationSpec, RequestInput, RequestState};
use crate::domain::roles::CurrentUser;
use crate::domain::workflow::{self, Action, Denial, RequestFacts, Verdict, Vote};
use crate::error::AppError;
use crate::views::{Dashboard, Permissions, RequestDetail, RequestSummary, UserRef, VoteView};

/// The entity type recorded in audit events about requests.
pub const ENTITY: &str = "change_request";
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
    use crate::domain::request::{Change, Integration, RequestKind};
    let change = match row.kind {
        RequestKind::TurnOff => Change::TurnOff,
        RequestKind::Integrate => Change::Integrate(Integration {
            owa_pool_fqdn: Fqdn::parse(&row.owa_pool_fqdn).map_err(|_| corrupt("owa_pool_fqdn"))?,
            registrar_fqdn: Fqdn::parse(&row.registrar_fqdn)
                .map_err(|_| corrupt("registrar_fqdn"))?,
            application_id: ApplicationId::parse(&row.application_id)
                .map_err(|_| corrupt("application_id"))?,
            port: Port::parse(&row.port.to_string()).map_err(|_| corrupt("port"))?,
            thumbprint: Thumbprints::parse(&row.thumbprint).map_err(|_| corrupt("thumbprint"))?,
        }),
    };
    Ok(IntegrationSpec {
        site_id: SiteId::parse(&row.site_id).map_err(|_| corrupt("site_id"))?,
        change,
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
    let text = |value: Option<String>| Set(value.unwrap_or_default());
    let i = spec.integration();
    change_requests::ActiveModel {
        site_id: Set(spec.site_id.to_string()),
        kind: Set(spec.kind()),
        owa_pool_fqdn: text(i.map(|i| i.owa_pool_fqdn.to_string())),
        registrar_fqdn: text(i.map(|i| i.registrar_fqdn.to_string())),
        application_id: text(i.map(|i| i.application_id.to_string())),
        port: Set(i.map_or(0, |i| i32::from(i.port.get()))),
        thumbprint: text(i.map(|i| i.thumbprint.to_string())),
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

/// Ensures the connection works; used by `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    db.ping().await
}
