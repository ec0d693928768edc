//! The audit log, for auditors and admins.

use leptos::prelude::*;

use crate::error::AppError;
use crate::views::{AuditFilter, AuditPage};

/// One filtered page of the audit trail.
#[server(endpoint = "audit_log")]
pub async fn audit_log(filter: AuditFilter) -> Result<AuditPage, AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::roles::Role;
            use crate::ssr::{audit, auth::require_any, state::AppState};
            require_any(&[Role::Auditor, Role::Admin], "audit.view").await?;
            audit::read::page(&AppState::current()?.db, &filter).await
        }
        .await,
    )
}
