//! Live run updates over Server-Sent Events: `/requests/{id}/run/events` announces every change
//! to the request's latest run (a new run, its state, attempts, reason or report, any step and
//! the output a running step has printed so far) as a `run` event whose id is a digest of what
//! it saw; the page re-reads the run on each event. Every viewer of a run shares one watcher
//! ([`app::ssr::runs::feed`]). A stream lasts [`STREAM_LIFETIME`] so that shutdown is never held
//! up; the browser reconnects by itself, and sends the last id it saw, so nothing is announced
//! twice or missed.

use std::convert::Infallible;
use std::time::Duration;

use app::ssr::auth::Session;
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

/// How long one stream lasts before the browser reconnects.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(20);
/// How long the browser waits before reconnecting.
const RETRY: Duration = Duration::from_secs(1);

/// The event stream for request `id`, for signed-in people.
pub async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<i32>,
    session: Session,
    headers: HeaderMap,
) -> Response {
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
    let feed = state.run_feeds.subscribe(id);
    let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
    let stream = futures_util::stream::unfold(
        (feed, seen, slot),
        move |(mut feed, seen, slot)| async move {
            loop {
                let now = feed.borrow_and_update().clone();
                if let Some(version) = now
                    && seen.as_deref() != Some(version.as_str())
                {
                    let event = Event::default()
                        .event("run")
                        .id(version.clone())
                        .data(version.clone())
                        .retry(RETRY);
                    return Some((Ok::<_, Infallible>(event), (feed, Some(version), slot)));
                }
                match tokio::time::timeout_at(deadline, feed.changed()).await {
                    Ok(Ok(())) => {}
                    // The stream's time is up, or the feed is gone.
                    _ => return None,
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
