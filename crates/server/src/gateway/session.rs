//! One task per WebSocket connection: reads requests, writes responses and pushes, and tracks
//! the login, UserSig expiry and shutdown.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tidings_proto::ErrorCode;
use tidings_proto::events::{KickedOffline, OnKickedOffline, OnUserSigExpired, UserSigExpired};
use tidings_proto::methods::LoginParams;
use tidings_service::{Outbound, SessionId, encode_push};
use tokio::sync::mpsc;

use super::dispatch::dispatch;
use super::frame::{parse, response};
use super::rate::TokenBucket;
use crate::error::WireError;
use crate::state::AppState;

/// Close code sent when a connection cannot keep up with its pushes (policy violation).
const CLOSE_TOO_SLOW: u16 = 1008;
/// Close code sent on server shutdown (going away).
const CLOSE_GOING_AWAY: u16 = 1001;

/// Login state of one connection.
#[derive(Debug, Default)]
pub(crate) struct Session {
    user: Option<String>,
    session_id: Option<SessionId>,
    queue: Option<mpsc::Receiver<Outbound>>,
    expires_at: Option<Instant>,
}

impl Session {
    /// The logged-in user.
    pub(crate) fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Verifies the UserSig and registers the session for pushes. Logging in again as the same
    /// user refreshes the UserSig; another user needs a logout first.
    pub(crate) async fn login(
        &mut self,
        state: &AppState,
        params: LoginParams,
    ) -> Result<(), WireError> {
        if !tidings_proto::is_valid_id(&params.user_id) {
            return Err(WireError::new(
                ErrorCode::InvalidIdentifier,
                format!(
                    "invalid userID {:?}: use 1 to 32 printable ASCII characters without spaces",
                    params.user_id
                ),
            ));
        }
        if let Some(current) = &self.user
            && current != &params.user_id
        {
            return Err(WireError::new(
                ErrorCode::InvalidParameters,
                format!("this connection is logged in as {current}; log out first"),
            ));
        }
        let verified = state.auth.verify(&params.user_id, &params.user_sig)?;
        let remaining = u64::try_from(verified.expires_at - tidings_service::now()).unwrap_or(0);
        self.expires_at = Some(Instant::now() + Duration::from_secs(remaining));
        if self.user.is_some() {
            return Ok(());
        }
        state.tidings.login(&params.user_id).await?;
        let (sender, queue) = mpsc::channel(state.limits.outbound_queue);
        self.session_id = Some(state.hub.register(&params.user_id, sender));
        self.queue = Some(queue);
        self.user = Some(params.user_id);
        metrics::counter!("tidings_logins_total").increment(1);
        Ok(())
    }

    /// Ends the login (no-op when logged out).
    pub(crate) fn logout(&mut self, state: &AppState) {
        if let (Some(user), Some(id)) = (self.user.take(), self.session_id.take()) {
            state.hub.unregister(&user, id);
        }
        self.queue = None;
        self.expires_at = None;
    }
}

enum Wake {
    Incoming(Option<Result<Message, axum::Error>>),
    Outbound(Option<Outbound>),
    Expired,
    Shutdown,
}

async fn next_outbound(queue: &mut Option<mpsc::Receiver<Outbound>>) -> Option<Outbound> {
    match queue {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}

fn push_text<E: tidings_proto::Event>(data: &E::Data) -> Option<String> {
    encode_push::<E>(data).ok().map(|frame| frame.to_string())
}

/// Serves one connection until it closes or the server shuts down.
pub(crate) async fn run(socket: WebSocket, state: AppState) {
    metrics::gauge!("tidings_connections").increment(1.0);
    let (mut sink, mut stream) = socket.split();
    let mut session = Session::default();
    let mut bucket = TokenBucket::new(state.limits.requests_per_second, state.limits.request_burst);
    let mut shutdown = state.shutdown.clone();
    loop {
        let deadline = session
            .expires_at
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let logged_in = session.expires_at.is_some();
        let wake = tokio::select! {
            incoming = stream.next() => Wake::Incoming(incoming),
            outbound = next_outbound(&mut session.queue) => Wake::Outbound(outbound),
            () = tokio::time::sleep_until(deadline.into()), if logged_in => Wake::Expired,
            _ = shutdown.wait_for(|stop| *stop) => Wake::Shutdown,
        };
        let reply = match wake {
            Wake::Incoming(Some(Ok(Message::Text(text)))) => {
                handle_text(&state, &mut session, &mut bucket, text.as_str()).await
            }
            Wake::Incoming(Some(Ok(Message::Binary(_)))) => response(
                None,
                Err(WireError::new(
                    ErrorCode::InvalidParameters,
                    "binary frames are not supported; send JSON text frames",
                )),
            ),
            Wake::Incoming(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Wake::Incoming(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => break,
            Wake::Outbound(Some(Outbound::Frame(frame))) => frame.to_string(),
            Wake::Outbound(Some(Outbound::Kicked(reason))) => {
                session.logout(&state);
                match push_text::<OnKickedOffline>(&KickedOffline { reason }) {
                    Some(text) => text,
                    None => continue,
                }
            }
            Wake::Outbound(None) => {
                close(
                    &mut sink,
                    CLOSE_TOO_SLOW,
                    "too many pending pushes; reconnect and catch up",
                )
                .await;
                break;
            }
            Wake::Expired => {
                session.logout(&state);
                match push_text::<OnUserSigExpired>(&UserSigExpired {}) {
                    Some(text) => text,
                    None => continue,
                }
            }
            Wake::Shutdown => {
                close(&mut sink, CLOSE_GOING_AWAY, "server shutting down").await;
                break;
            }
        };
        if sink
            .send(Message::Text(Utf8Bytes::from(reply)))
            .await
            .is_err()
        {
            break;
        }
    }
    session.logout(&state);
    metrics::gauge!("tidings_connections").decrement(1.0);
}

async fn close(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: &'static str,
) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

async fn handle_text(
    state: &AppState,
    session: &mut Session,
    bucket: &mut TokenBucket,
    text: &str,
) -> String {
    let incoming = match parse(text) {
        Ok(incoming) => incoming,
        Err((id, error)) => return response(id, Err(error)),
    };
    if !bucket.try_take(Instant::now()) {
        metrics::counter!("tidings_requests_limited_total").increment(1);
        return response(
            Some(incoming.id),
            Err(WireError::new(
                ErrorCode::RateLimited,
                "too many requests on this connection; slow down",
            )),
        );
    }
    let started = Instant::now();
    let result = dispatch(state, session, &incoming.method, incoming.params).await;
    let code = result.as_ref().map_or_else(|e| e.code.as_u32(), |_| 0);
    let method = if tidings_proto::methods::ALL_METHODS.contains(&incoming.method.as_str()) {
        incoming.method
    } else {
        "unknown".to_owned()
    };
    metrics::histogram!("tidings_request_seconds", "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("tidings_requests_total", "method" => method, "code" => code.to_string())
        .increment(1);
    response(Some(incoming.id), result)
}
