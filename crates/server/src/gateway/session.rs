//! One task per WebSocket connection, running one loop: it reads frames, runs the connection's
//! requests one after another in arrival order, and writes responses, pushes, UserSig expiry
//! and shutdown. Pushes flow while a request that changes state is in progress; while a snapshot
//! (a method whose `Method::SNAPSHOT` is true: the `get…` methods) runs, pushes wait until its
//! response is written, so a snapshot is never overtaken by a push that is newer than it. The
//! loop also applies the change of login a request returns: it registers the connection in the
//! hub and owns the push queue and the UserSig expiry. It closes (1008) a connection that stays
//! logged out past the login timeout, and one that answers no ping after a silent interval.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::FutureExt;
use futures_util::future::{Fuse, FusedFuture};
use tidings_proto::events::{KickedOffline, OnKickedOffline, OnUserSigExpired, UserSigExpired};
use tidings_proto::{ErrorCode, Event};
use tidings_service::{LOGGED_OUT_BY_ADMIN, Outbound, OutboundQueue, SessionId, outbound_queue};
use tokio::time::MissedTickBehavior;

use super::command::Caller;
use super::dispatch::{SessionChange, dispatch};
use super::frame::{Incoming, parse, response};
use super::request_metrics;
use crate::error::WireError;
use crate::rate::TokenBucket;
use crate::state::AppState;

/// Close code sent when a connection breaks a rule of the server (policy violation): it cannot
/// keep up with its pushes, stays logged out too long, or stops answering pings.
const CLOSE_POLICY: u16 = 1008;
/// Close code sent on server shutdown (going away).
const CLOSE_GOING_AWAY: u16 = 1001;
/// How long a close frame may take to be written, and the client's close frame to come back.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Requests of one connection waiting behind the running one; more are refused with 7008.
const MAX_IN_FLIGHT: usize = 64;

/// Login state of one connection, lent to each request while it runs.
#[derive(Debug, Default)]
struct Session {
    caller: Option<Caller>,
}

impl Session {
    /// Registers the connection in the hub for `user`'s pushes; returns the queue they arrive on.
    fn register(&mut self, state: &AppState, user: String) -> OutboundQueue {
        let (sender, queue) = outbound_queue(
            state.limits.outbound_queue,
            state.limits.outbound_queue_bytes,
        );
        let session_id = state.hub.register(&user, sender);
        if let Some(cluster) = &state.cluster {
            cluster.limit_devices(&user);
        }
        self.caller = Some(Caller { user, session_id });
        metrics::counter!("tidings_logins_total").increment(1);
        queue
    }

    /// Ends the login (no-op when logged out).
    fn logout(&mut self, state: &AppState) {
        if let Some(caller) = self.caller.take() {
            state.hub.unregister(&caller.user, caller.session_id);
        }
    }
}

/// Looks at a new login's UserSig again once its session is registered. A revocation stored
/// between the login's own check and the registration was published to no session of it: the
/// session is kicked now, as if the kick had come just after the login (on a store failure too:
/// a revoked UserSig must not keep a session).
async fn confirm_login(state: &AppState, session: Option<&(String, SessionId)>, issued_at: i64) {
    let Some((user, id)) = session else { return };
    if let Err(error) = state.tidings.check_user_sig_issued(user, issued_at).await {
        tracing::info!(%user, %error, "login revoked while it was accepted");
        state.hub.kick_session(user, *id, LOGGED_OUT_BY_ADMIN);
    }
}

/// Serves one connection until it closes or the server shuts down.
pub(crate) async fn run(socket: WebSocket, state: AppState) {
    metrics::gauge!("tidings_connections").increment(1.0);
    connection_loop(socket, &state).await;
    metrics::gauge!("tidings_connections").decrement(1.0);
}

/// A request that ran: the session it borrowed, its response, and the change of login to apply.
struct Finished {
    session: Session,
    text: String,
    change: Option<SessionChange>,
}

/// Runs one request with the connection's session, once admitted; hands the session back with
/// the response.
async fn run_request(state: &AppState, session: Session, incoming: Incoming) -> Finished {
    // Served in arrival order across all connections: without this, the runtime's task order
    // decided, and under load some requests waited several times as long as others. The
    // permit covers only the processing, never a wait on this connection's own socket, so a
    // client that stops reading cannot hold one.
    let (text, change) = match state.requests.acquire().await {
        Ok(_admitted) => handle(state, &session, incoming).await,
        Err(_) => {
            let refusal = WireError::new(ErrorCode::Internal, "the server is shutting down");
            (response(Some(incoming.id), Err(refusal)), None)
        }
    };
    Finished {
        session,
        text,
        change,
    }
}

enum Wake {
    Done(Finished),
    Incoming(Option<Result<Message, axum::Error>>),
    Outbound(Option<Outbound>),
    Expired,
    LoginTimeout,
    Heartbeat,
    Shutdown,
}

async fn next_outbound(queue: &mut Option<OutboundQueue>) -> Option<Outbound> {
    match queue {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}

/// The frame of a push only this session sends.
fn push_text<E: Event>(data: E::Data) -> Option<String> {
    E::push(data).encode().ok()
}

/// Reads frames, runs requests one at a time in arrival order (the rest wait in `waiting`), and
/// writes responses and pushes. The session travels with the running request and comes back
/// with its response; a logout forced meanwhile (kick, expiry) waits for it.
async fn connection_loop(mut socket: WebSocket, state: &AppState) {
    let mut bucket = TokenBucket::new(state.limits.requests_per_second, state.limits.request_burst);
    let mut shutdown = state.shutdown.clone();
    // Both futures live as long as the loop: re-creating them per frame would register and
    // remove a timer, and re-check the watch, on every request.
    let stopping = shutdown.wait_for(|stop| *stop);
    tokio::pin!(stopping);
    let expiry = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(expiry);
    // A connection that is not logged in costs a descriptor and a task and can do nothing, so
    // it gets a few seconds to log in (again, after a logout).
    let login_timeout = Duration::from_millis(state.limits.login_timeout_ms);
    let login_deadline = tokio::time::sleep(login_timeout);
    tokio::pin!(login_deadline);
    let mut was_logged_in = false;
    // Dead peers (and idle ones that never answer) are found by pinging after a silent interval.
    let ping_interval = Duration::from_millis(state.limits.ping_interval_ms);
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut heard, mut pinged) = (false, false);
    let write_timeout = Duration::from_millis(state.limits.write_timeout_ms);
    let mut running = std::pin::pin!(Fuse::terminated());
    let mut session = Some(Session::default());
    let mut waiting: VecDeque<Incoming> = VecDeque::new();
    let mut logout_due = false;
    let mut queue: Option<OutboundQueue> = None;
    // Who the hub has this connection as, to drop it at once when it stops reading.
    let mut registered: Option<(String, SessionId)> = None;
    let mut expires_at: Option<Instant> = None;
    let mut holding = false;
    loop {
        let logged_in = queue.is_some();
        if was_logged_in && !logged_in {
            login_deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + login_timeout);
        }
        was_logged_in = logged_in;
        // The session is here exactly when no request runs.
        if let Some(mut idle) = session.take() {
            if logout_due {
                idle.logout(state);
                (queue, expires_at, logout_due) = (None, None, false);
            }
            match waiting.pop_front() {
                Some(incoming) => {
                    holding = incoming.method.as_ref().is_ok_and(|m| m.is_snapshot());
                    running.set(run_request(state, idle, incoming).fuse());
                }
                None => session = Some(idle),
            }
        }
        // Biased: a finished response goes before any push that became ready.
        let wake = tokio::select! {
            biased;
            done = &mut running, if !running.is_terminated() => Wake::Done(done),
            // Before pushes: a busy connection must not put off its close at shutdown.
            _ = &mut stopping => Wake::Shutdown,
            outbound = next_outbound(&mut queue), if !holding => Wake::Outbound(outbound),
            incoming = socket.recv() => Wake::Incoming(incoming),
            () = &mut expiry, if expires_at.is_some() => Wake::Expired,
            () = &mut login_deadline, if queue.is_none() && running.is_terminated() => {
                Wake::LoginTimeout
            }
            _ = heartbeat.tick() => Wake::Heartbeat,
        };
        if matches!(wake, Wake::Incoming(_)) {
            heard = true;
        }
        let message = match wake {
            Wake::Done(Finished {
                session: mut done,
                text,
                change,
            }) => {
                holding = false;
                match change {
                    Some(SessionChange::LoggedIn {
                        user,
                        expires_at: at,
                        issued_at,
                    }) => {
                        if done.caller.is_none() {
                            queue = Some(done.register(state, user));
                            registered = done
                                .caller
                                .as_ref()
                                .map(|caller| (caller.user.clone(), caller.session_id));
                            confirm_login(state, registered.as_ref(), issued_at).await;
                        }
                        if expires_at != Some(at) {
                            expiry.as_mut().reset(at.into());
                            expires_at = Some(at);
                        }
                    }
                    Some(SessionChange::LoggedOut) => {
                        done.logout(state);
                        (queue, expires_at) = (None, None);
                    }
                    None => {}
                }
                session = Some(done);
                text_message(text)
            }
            Wake::Incoming(Some(Ok(Message::Text(text)))) => {
                match accept(&mut waiting, &mut bucket, text.as_str()) {
                    Some(refusal) => text_message(refusal),
                    None => continue,
                }
            }
            Wake::Incoming(Some(Ok(Message::Binary(_)))) => text_message(response(
                None,
                Err(WireError::new(
                    ErrorCode::InvalidParameters,
                    "binary frames are not supported; send JSON text frames",
                )),
            )),
            Wake::Incoming(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Wake::Incoming(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => break,
            // The first session to write a push encodes it for all the others.
            Wake::Outbound(Some(Outbound::Push(push))) => match push.frame() {
                Some(text) => Message::Text(Utf8Bytes::from(text)),
                None => continue,
            },
            Wake::Outbound(Some(Outbound::Kicked(reason))) => {
                (queue, expires_at, logout_due) = (None, None, true);
                match push_text::<OnKickedOffline>(KickedOffline { reason }) {
                    Some(text) => text_message(text),
                    None => continue,
                }
            }
            // The hub dropped the session: its queue overflowed, or the node lost the cluster's
            // bus. Either way pushes may be missing, and the client must catch up.
            // Its queue is gone; the close frame may wait behind frames the client has not read
            // yet, so it gets as long as any frame.
            Wake::Outbound(None) => {
                close(
                    &mut socket,
                    CLOSE_POLICY,
                    "pushes may have been missed; reconnect and catch up",
                    write_timeout,
                )
                .await;
                break;
            }
            Wake::Expired => {
                (queue, expires_at, logout_due) = (None, None, true);
                match push_text::<OnUserSigExpired>(UserSigExpired {}) {
                    Some(text) => text_message(text),
                    None => continue,
                }
            }
            Wake::LoginTimeout => {
                close(
                    &mut socket,
                    CLOSE_POLICY,
                    "no login within the login timeout",
                    CLOSE_WRITE_TIMEOUT,
                )
                .await;
                break;
            }
            Wake::Heartbeat => {
                if std::mem::take(&mut heard) {
                    pinged = false;
                    continue;
                }
                if pinged {
                    close(
                        &mut socket,
                        CLOSE_POLICY,
                        "no answer to ping",
                        CLOSE_WRITE_TIMEOUT,
                    )
                    .await;
                    break;
                }
                pinged = true;
                Message::Ping(Bytes::new())
            }
            Wake::Shutdown => {
                close(
                    &mut socket,
                    CLOSE_GOING_AWAY,
                    "server shutting down",
                    CLOSE_WRITE_TIMEOUT,
                )
                .await;
                break;
            }
        };
        // A peer that does not read would hold this task, and every push queued for it, for
        // as long as it likes: past the write timeout its queue is freed, and it is closed once
        // it has read what was written (or after another write timeout).
        match tokio::time::timeout(write_timeout, socket.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                drop(queue.take());
                if let Some((user, session_id)) = registered.take() {
                    state.hub.unregister(&user, session_id);
                }
                metrics::counter!("tidings_sessions_write_timeouts_total").increment(1);
                close(
                    &mut socket,
                    CLOSE_POLICY,
                    "too slow to read; reconnect and catch up",
                    write_timeout,
                )
                .await;
                break;
            }
        }
    }
    drop(queue);
    // A request already running finishes (its effects, such as pushes to others, must not be
    // cut in half); requests still waiting are dropped unanswered, as the client is gone.
    if !running.is_terminated() {
        session = Some(running.await.session);
    }
    if let Some(mut session) = session {
        session.logout(state);
    }
}

/// Parses a text frame and queues it to run; returns the response to send at once when the
/// frame is refused (malformed, rate limited, too many waiting).
fn accept(
    waiting: &mut VecDeque<Incoming>,
    bucket: &mut TokenBucket,
    text: &str,
) -> Option<String> {
    let incoming = match parse(text) {
        Ok(incoming) => incoming,
        Err((id, error)) => return Some(response(id, Err(error))),
    };
    let limited = |desc: String| {
        metrics::counter!("tidings_requests_limited_total").increment(1);
        Some(response(
            Some(incoming.id),
            Err(WireError::new(ErrorCode::RateLimited, desc)),
        ))
    };
    if !bucket.try_take(Instant::now()) {
        return limited("too many requests on this connection; slow down".into());
    }
    if waiting.len() >= MAX_IN_FLIGHT {
        return limited(format!(
            "more than {MAX_IN_FLIGHT} requests in flight on this connection; wait for responses"
        ));
    }
    waiting.push_back(incoming);
    None
}

fn text_message(text: String) -> Message {
    Message::Text(Utf8Bytes::from(text))
}

/// Sends a close frame, giving up after `within`: a peer that does not read cannot take it.
/// Then waits a moment for the client's close frame, which says it read ours: dropping the
/// socket with the client's frames unread would reset the connection, and a reset can reach the
/// client before the close frame does.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str, within: Duration) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let sent = tokio::time::timeout(within, socket.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    let answered = async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, answered).await;
}

/// Runs one request and encodes its response, recording metrics.
async fn handle(
    state: &AppState,
    session: &Session,
    incoming: Incoming,
) -> (String, Option<SessionChange>) {
    let started = Instant::now();
    let method = incoming.method.as_ref().copied().map_err(String::as_str);
    let result = dispatch(state, session.caller.as_ref(), method, &incoming.params).await;
    let code = result.as_ref().map_or_else(|e| e.code.as_u32(), |_| 0);
    request_metrics::record(method.ok(), code, started.elapsed());
    match result {
        Ok(answer) => (response(Some(incoming.id), Ok(answer.data)), answer.change),
        Err(error) => (response(Some(incoming.id), Err(error)), None),
    }
}
