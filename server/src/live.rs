//! Live run updates over Server-Sent Events: `/requests/{id}/run/events` announces every change
//! to the request's latest run (a new run, its state, attempts, reason or report, any step and
//! the output a running step has printed so far) as a `run` event
//! whose id is a digest of what it saw. The page re-reads the run on each event. A stream lasts
//! [`STREAM_LIFETIME`] so that shutdown is never held up; the browser reconnects by itself, and
//! sends the last id it saw, so nothing is announced twice or missed.

use std::convert::Infallible;
use std::time::Duration;

use app::ssr::entities::run_steps;
use app::ssr::runs;
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

/// How often a stream looks at the run.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long one stream lasts before the browser reconnects.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(20);
/// How long the browser waits before reconnecting.
const RETRY: Duration = Duration::from_secs(1);

/// A digest of the latest run of request `id` and its steps; `none` when it has no run.
pub async fn run_version(db: &DatabaseConnection, id: i32) -> Result<String, sea_orm::DbErr> {
    let Some(job) = runs::latest(db, id).await? else {
        return Ok("none".into());
    };
    // Positions, states and output lengths: the outputs can be large and are read when the
    // page reloads. (The job's own `updated_at` moves at every lease renewal, so it is left out.)
    let steps: Vec<(i32, String, i64)> = run_steps::Entity::find()
        .select_only()
        .columns([run_steps::Column::Position, run_steps::Column::State])
        .column_as(Expr::cust("CAST(LENGTH(output) AS BIGINT)"), "length")
        .filter(run_steps::Column::JobId.eq(job.id))
        .order_by_asc(run_steps::Column::Position)
        .into_tuple()
        .all(db)
        .await?;
    let mut digest = Sha256::new();
    digest.update(format!(
        "{}|{}|{}|{}|{:?}|{}",
        job.id,
        job.fence,
        job.state,
        job.attempts,
        job.reason,
        job.report.is_some()
    ));
    for (position, state, length) in steps {
        digest.update(format!("|{position}:{state}:{length}"));
    }
    Ok(hex::encode(&digest.finalize()[..12]))
}

/// The event stream for request `id`, for signed-in people.
pub async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    headers: HeaderMap,
) -> Response {
    let session = match app::ssr::auth::session(&state, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Sign in to follow runs.").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the session for live updates");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // Held by the stream; given back when it ends or the browser goes away.
    let Some(slot) = state.limits.streams.acquire(&session.id) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, STREAM_LIFETIME.as_secs().to_string())],
            "Too many live views are open in this session; close some tabs.",
        )
            .into_response();
    };
    let seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
    let stream = futures_util::stream::unfold(
        (state.db, seen, slot),
        move |(db, seen, slot)| async move {
            while tokio::time::Instant::now() < deadline {
                let version = match run_version(&db, id).await {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(error = %e, request = id, "cannot read the run for live updates");
                        return None;
                    }
                };
                if seen.as_deref() != Some(version.as_str()) {
                    let event = Event::default()
                        .event("run")
                        .id(version.clone())
                        .data(version.clone())
                        .retry(RETRY);
                    return Some((Ok::<_, Infallible>(event), (db, Some(version), slot)));
                }
                tokio::time::sleep(CHECK_EVERY).await;
            }
            None
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
