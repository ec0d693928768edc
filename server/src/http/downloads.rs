//! Files for signed-in people (a [`Session`] is required): a request's runbook, plan and facts,
//! a run's transcript, and a bulk eligibility check's results.

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

/// How a bulk check's results are exported.
#[derive(Clone, Copy)]
enum Export {
    Csv,
    Json,
}

/// People read from the database per chunk of an export.
const EXPORT_CHUNK: u64 = 500;

/// A bulk check's results as CSV (`upn,eligible,reasons`), streamed from the database.
pub async fn scan_csv(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    session: Session,
) -> Response {
    scan_export(state, id, session, Export::Csv).await
}

/// A bulk check's results as JSON lines (one object per person, as `imlink eligibility`
/// prints them), streamed from the database.
pub async fn scan_json(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    session: Session,
) -> Response {
    scan_export(state, id, session, Export::Json).await
}

/// Streams scan `id`'s people a chunk at a time (never the whole result in memory).
async fn scan_export(state: AppState, id: i64, session: Session, format: Export) -> Response {
    use app::ssr::eligibility::scans;
    if let Err(e) = scans::readable(&state, &session.user, id).await {
        return (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.to_string(),
        )
            .into_response();
    }
    let header = match format {
        Export::Csv => Some(format!("{}\n", crate::eligibility::CSV_HEADER)),
        Export::Json => None,
    };
    let chunks = futures_util::stream::unfold(
        (state.db.clone(), 0i64, header, false),
        move |(db, after, header, done)| async move {
            if let Some(header) = header {
                return Some((Ok(header), (db, after, None, false)));
            }
            if done {
                return None;
            }
            match scans::export_page(&db, id, after, EXPORT_CHUNK).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map_or(after, |r| r.id);
                    let full = rows.len() as u64 == EXPORT_CHUNK;
                    let mut text = String::new();
                    for r in &rows {
                        let line = match format {
                            Export::Csv => crate::eligibility::csv_row(&r.upn, &r.eligibility),
                            Export::Json => crate::eligibility::json(
                                crate::eligibility::Named {
                                    upn: &r.upn,
                                    display_name: &r.display_name,
                                    sip_address: r.sip_address.as_deref(),
                                },
                                &r.eligibility,
                            )
                            .to_string(),
                        };
                        text.push_str(&line);
                        text.push('\n');
                    }
                    Some((Ok(text), (db, last, None, !full)))
                }
                Err(e) => {
                    tracing::error!(scan = id, error = %e, "export stopped");
                    Some((
                        Err(std::io::Error::other(e.to_string())),
                        (db, after, None, true),
                    ))
                }
            }
        },
    );
    let (extension, content_type) = match format {
        Export::Csv => ("csv", "text/csv; charset=utf-8"),
        Export::Json => ("jsonl", "application/x-ndjson"),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"imlink-bulk-check-{id}.{extension}\""),
            ),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}
