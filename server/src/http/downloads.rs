//! Files for signed-in people (a [`Session`] is required): a request's runbook, plan and facts,
//! and a run's transcript.

use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use app::ssr::auth::Session;
use app::ssr::entities::{change_requests, jobs};
use app::ssr::state::AppState;
use sea_orm::EntityTrait;

/// `text` as a file named `name`.
fn attachment(name: &str, content_type: &'static str, text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response()
}

fn database_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "loading a download");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// A request's stored plan or facts, as a download for the signed-in person.
async fn download(
    state: &AppState,
    id: i32,
    name: &str,
    content_type: &'static str,
    body: impl FnOnce(&change_requests::Model) -> Option<String>,
) -> Response {
    let row = match change_requests::Entity::find_by_id(id).one(&state.db).await {
        Ok(Some(row)) => row,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such request.").into_response(),
        Err(e) => return database_error(e),
    };
    match body(&row) {
        Some(text) => attachment(&format!("imlink-request-{id}-{name}"), content_type, text),
        None => (StatusCode::NOT_FOUND, "This request has not been planned.").into_response(),
    }
}

/// A run's transcript (see [`crate::render::transcript`]).
pub async fn transcript_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    _signed_in: Session,
) -> Response {
    let job = match jobs::Entity::find_by_id(id).one(&state.db).await {
        Ok(Some(job)) => job,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such run.").into_response(),
        Err(e) => return database_error(e),
    };
    let steps = match app::ssr::runs::steps(&state.db, id).await {
        Ok(steps) => steps,
        Err(e) => return database_error(e),
    };
    attachment(
        &format!("imlink-run-{id}-transcript.txt"),
        "text/plain; charset=utf-8",
        crate::render::transcript(&job, &steps),
    )
}

/// The plan as one runbook script (UTF-8 with BOM).
pub async fn runbook_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    _signed_in: Session,
) -> Response {
    download(&state, id, "plan.ps1", "text/plain; charset=utf-8", |row| {
        app::ssr::plans::stored(row).map(|plan| crate::render::runbook(&plan))
    })
    .await
}

/// The plan for people to read.
pub async fn plan_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    _signed_in: Session,
) -> Response {
    download(&state, id, "plan.txt", "text/plain; charset=utf-8", |row| {
        app::ssr::plans::stored(row).map(|plan| crate::render::text(&plan))
    })
    .await
}

/// The environment facts the plan was made from, to replay it with `imlink plan`.
pub async fn facts_file(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    _signed_in: Session,
) -> Response {
    download(&state, id, "facts.json", "application/json", |row| {
        row.facts_json.clone()
    })
    .await
}
