//! `GET /admin/v1/events`: live log changes as server-sent events, filtered on the
//! server, ending when the engine stops or the token no longer stands.

use super::{admin, check_admin, query_params};
use crate::api::{AppState, bearer, reply};
use crate::model::ApiError;
use crate::model::filter::Filter;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

/// How often an open event stream checks that its token still stands.
pub const STREAM_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsParam {
    filter: Option<String>,
}

/// Live log changes as server-sent events (`event: log`, data = the log as JSON),
/// filtered on the server with the feed's filter language. A subscriber too slow for
/// the engine's event bus gets `event: lagged` with how many it missed, and goes on.
pub(super) async fn events(
    State(engine): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<EventsParam>, QueryRejection>,
) -> Response {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;

    let setup = (|| {
        let token = admin(&engine, &headers)?;
        let p = query_params(params, "The only parameter is filter.")?;
        let filter = Filter::parse(p.filter.as_deref().unwrap_or("")).map_err(|e| {
            ApiError::bad_request(format!(
                "filter: {} (at bytes {}..{})",
                e.message, e.start, e.end
            ))
        })?;
        Ok::<_, ApiError>((token.role, filter))
    })();
    // The token is checked again every second: a stream ends soon after its token is
    // revoked or expires, not when the client goes away.
    let presented = bearer(&headers).unwrap_or_default().to_string();
    let (role, filter) = match setup {
        Ok(setup) => setup,
        Err(e) => return reply::<()>(Err(e)),
    };
    let receiver = engine.subscribe();
    let closing = Box::pin(engine.closing());
    let mut recheck = tokio::time::interval(STREAM_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (receiver, closing, recheck, false);
    let stream = futures_util::stream::unfold(state, move |state| {
        let filter = filter.clone();
        let engine = engine.clone();
        let presented = presented.clone();
        async move {
            let (mut receiver, mut closing, mut recheck, ended) = state;
            if ended {
                return None;
            }
            loop {
                let next = tokio::select! {
                    next = receiver.recv() => next,
                    // The engine is stopping: end the stream so the server can exit.
                    _ = &mut closing => return None,
                    _ = recheck.tick() => {
                        match check_admin(&engine, &presented) {
                            Ok(_) => continue,
                            Err(e) => {
                                // Say why, then end.
                                let text = e.entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>().join(" ");
                                let event = Event::default()
                                    .event("revoked")
                                    .data(json!({ "reason": text }).to_string());
                                return Some((Ok(event), (receiver, closing, recheck, true)));
                            }
                        }
                    }
                };
                match next {
                    Ok(event) => {
                        let Some(log) =
                            crate::engine::access::visible_change(&filter, role, event.log)
                        else {
                            continue;
                        };
                        let event = Event::default()
                            .event("log")
                            .id(log.id.to_string())
                            .json_data(&log)
                            .unwrap_or_else(|_| Event::default().comment("unencodable log"));
                        return Some((
                            Ok::<_, std::convert::Infallible>(event),
                            (receiver, closing, recheck, false),
                        ));
                    }
                    Err(RecvError::Lagged(missed)) => {
                        let event = Event::default()
                            .event("lagged")
                            .data(json!({ "missed": missed }).to_string());
                        return Some((Ok(event), (receiver, closing, recheck, false)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}
