//! Filing, editing, submitting, cancelling, approving and rejecting requests.

use leptos::prelude::*;

use crate::domain::request::RequestInput;
use crate::error::AppError;
use crate::views::{Dashboard, EnvironmentView, PlanView, RequestDetail, RequestSummary};

#[cfg(feature = "ssr")]
use crate::ssr::{
    auth::{require_actor, require_user},
    requests as service,
    state::AppState,
};

/// The home page: my requests, what awaits my approval, recent activity.
#[server(endpoint = "get_dashboard")]
pub async fn get_dashboard() -> Result<Dashboard, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_user().await?;
            service::dashboard(&AppState::current()?, &user).await
        }
        .await,
    )
}

/// Every request, newest first; `state` filters by lifecycle state (empty for all).
#[server(endpoint = "list_requests")]
pub async fn list_requests(state: String) -> Result<Vec<RequestSummary>, AppError> {
    crate::ssr::reply(
        async move {
            require_user().await?;
            let filter = crate::domain::request::RequestState::parse(&state);
            service::list(&AppState::current()?, filter).await
        }
        .await,
    )
}

/// Requests waiting for the caller's approval.
#[server(endpoint = "approval_inbox")]
pub async fn approval_inbox() -> Result<Vec<RequestSummary>, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_user().await?;
            service::inbox(&AppState::current()?, &user).await
        }
        .await,
    )
}

/// One request with its votes, timeline and what the caller may do.
#[server(endpoint = "get_request")]
pub async fn get_request(id: i32) -> Result<RequestDetail, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_user().await?;
            service::detail(&AppState::current()?, &user, id).await
        }
        .await,
    )
}

/// Files a new request as a draft and opens it.
#[server(endpoint = "create_request")]
pub async fn create_request(input: RequestInput) -> Result<i32, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&[], "request.create").await?;
            let id = service::create(&AppState::current()?, &user, &input).await?;
            leptos_axum::redirect(&format!("/requests/{id}?done=saved"));
            Ok(id)
        }
        .await,
    )
}

/// Saves changes to a request; votes on a submitted request are withdrawn.
#[server(endpoint = "update_request")]
pub async fn update_request(id: i32, version: i32, input: RequestInput) -> Result<i32, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&[], "request.edit").await?;
            service::update(&AppState::current()?, &user, id, version, &input).await?;
            leptos_axum::redirect(&format!("/requests/{id}?done=updated"));
            Ok(id)
        }
        .await,
    )
}

/// Submits a draft for approval.
#[server(endpoint = "submit_request")]
pub async fn submit_request(id: i32, version: i32) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::workflow::Action;
            let user = require_actor(&[], "request.submit").await?;
            service::transition(&AppState::current()?, &user, id, version, Action::Submit).await?;
            Ok(())
        }
        .await,
    )
}

/// Cancels a request (requester only).
#[server(endpoint = "cancel_request")]
pub async fn cancel_request(id: i32, version: i32) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::workflow::Action;
            let user = require_actor(&[], "request.cancel").await?;
            service::transition(&AppState::current()?, &user, id, version, Action::Cancel).await?;
            Ok(())
        }
        .await,
    )
}

/// Votes on a request: `decision` is `approve` or `reject` (a rejection needs a comment).
/// `plan_hash` is the plan the approver saw; the vote is bound to it.
#[server(endpoint = "vote_request")]
pub async fn vote_request(
    id: i32,
    version: i32,
    plan_hash: String,
    decision: String,
    comment: String,
) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            use crate::domain::workflow::Verdict;
            let user = require_actor(&[], "request.vote").await?;
            let decision = Verdict::parse(&decision).ok_or_else(|| {
                AppError::invalid_field(
                    "decision",
                    "Choose approve or reject.",
                    [("comment", comment.clone())],
                )
            })?;
            service::vote(
                &AppState::current()?,
                &user,
                id,
                version,
                decision,
                &comment,
                &plan_hash,
            )
            .await?;
            Ok(())
        }
        .await,
    )
}

/// Plans the request again against fresh facts; a different plan withdraws the votes.
#[server(endpoint = "replan_request")]
pub async fn replan_request(id: i32, version: i32) -> Result<bool, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&[], "request.replan").await?;
            service::replan(&AppState::current()?, &user, id, version).await
        }
        .await,
    )
}

/// The plan the form's current values would get (the new-request page's live preview).
#[server(endpoint = "preview_plan")]
pub async fn preview_plan(input: RequestInput) -> Result<PlanView, AppError> {
    crate::ssr::reply(
        async move {
            require_user().await?;
            crate::ssr::plans::preview(&AppState::current()?, &input).await
        }
        .await,
    )
}

/// The environment plans are made against, with its Lync sites.
#[server(endpoint = "get_environment")]
pub async fn get_environment() -> Result<EnvironmentView, AppError> {
    crate::ssr::reply(
        async move {
            require_user().await?;
            let state = AppState::current()?;
            let environment = &state.settings.environment;
            let facts = crate::ssr::plans::preview_facts(&state).await?;
            Ok(EnvironmentView {
                label: environment.label(),
                collected_at: facts.collected_at,
                sites: facts
                    .lync
                    .sites
                    .iter()
                    .map(|s| (s.site_id.clone(), s.display_name.clone()))
                    .collect(),
            })
        }
        .await,
    )
}

/// Cancels the request's run (admins).
#[server(endpoint = "cancel_run")]
pub async fn cancel_run(id: i32) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&[], "run.cancel").await?;
            crate::ssr::runs::operate::cancel(&AppState::current()?, &user, id).await
        }
        .await,
    )
}

/// Resumes the request's stopped run (admins): done steps are skipped.
#[server(endpoint = "resume_run")]
pub async fn resume_run(id: i32) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&[], "run.resume").await?;
            crate::ssr::runs::operate::resume(&AppState::current()?, &user, id).await
        }
        .await,
    )
}

/// Asks for a rollback of what the request's latest run applied (admins); it runs once another
/// approver approves its undo plan.
#[server(endpoint = "rollback_run")]
pub async fn rollback_run(id: i32) -> Result<i32, AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&[], "run.rollback").await?;
            crate::ssr::runs::operate::request_rollback(&AppState::current()?, &user, id).await
        }
        .await,
    )
}

/// Approves the undo plan `plan_hash` of the request's rollback (an approver other than the
/// admin who asked for it).
#[server(endpoint = "approve_rollback")]
pub async fn approve_rollback(id: i32, plan_hash: String) -> Result<(), AppError> {
    crate::ssr::reply(
        async move {
            let user = require_actor(&[], "run.rollback_approve").await?;
            crate::ssr::runs::operate::approve_rollback(
                &AppState::current()?,
                &user,
                id,
                &plan_hash,
            )
            .await
        }
        .await,
    )
}
