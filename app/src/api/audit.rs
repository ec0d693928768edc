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
            use crate::ssr::{auth::require_any, requests, state::AppState};
            require_any(&[Role::Auditor, Role::Admin], "audit.view").await?;
            requests::audit_page(&AppState::current()?, &filter).await
        }
        .await,
    )
}
