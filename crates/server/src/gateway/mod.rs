//! The WebSocket gateway at `/ws`: upgrade, per-connection session loop, and method dispatch.

mod command;
mod dispatch;
mod frame;
mod request_metrics;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tidings_service::{Origin, with_origin};

use crate::listen::Ticket;
use crate::state::AppState;

/// Hard cap on a WebSocket message: beyond it the connection is dropped without reading further. Frames between
/// [`tidings_proto::MAX_FRAME_BYTES`] and this are answered with an error instead.
const HARD_MESSAGE_LIMIT: usize = 1024 * 1024;

/// `GET /ws`: upgrades to a WebSocket session, within the connection limit.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ticket: Option<Extension<Arc<Ticket>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client_ip = peer
        .map(|Extension(ConnectInfo(addr))| addr.ip().to_string())
        .unwrap_or_default();
    let Ok(permit) = Arc::clone(&state.connections).try_acquire_owned() else {
        metrics::counter!("tidings_connections_refused_total").increment(1);
        return (StatusCode::SERVICE_UNAVAILABLE, "connection limit reached").into_response();
    };
    upgrade
        .read_buffer_size(crate::WS_READ_BUFFER_BYTES)
        .max_message_size(HARD_MESSAGE_LIMIT)
        .max_frame_size(HARD_MESSAGE_LIMIT)
        .on_upgrade(move |socket| async move {
            let origin = Origin {
                client_ip,
                platform: "Web",
                operator: None,
            };
            with_origin(origin, session::run(socket, state)).await;
            // The socket stays counted against its address, and the server's shutdown waits
            // for it, until the session ends.
            drop((permit, ticket));
        })
}

/// Decodes a text frame as a logged-in connection's loop would, without running it: the
/// envelope, then the method's params. Returns the response frame of a refused request, or
/// `None` for a request that would run. For the fuzz targets (`crate::fuzzing`).
pub(crate) fn decode_frame(text: &str) -> Option<String> {
    let incoming = match frame::parse(text) {
        Ok(incoming) => incoming,
        Err((id, error)) => return Some(frame::response(id, Err(error))),
    };
    let caller = command::Caller {
        user: "fuzz".into(),
        session_id: 0,
    };
    let method = incoming.method.as_ref().copied().map_err(String::as_str);
    match command::Command::decode(method, &incoming.params, Some(&caller)) {
        Ok(_) => None,
        Err(error) => Some(frame::response(Some(incoming.id), Err(error))),
    }
}
