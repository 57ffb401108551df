//! The background task that owns the socket: sends requests, routes responses, forwards pushes
//! (new messages through their per-conversation order, filling gaps from history), pings, and
//! reconnects after a drop.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize as _;
use serde_json::Value;
use tidings_proto::methods::{
    C2cHistoryParams, ConversationListParams, ConversationListResult, GetC2cHistoryMessageList,
    GetConversationList, GetGroupHistoryMessageList, GroupHistoryParams, LoginParams,
};
use tidings_proto::{MAX_LIST_PAGE, Message, Method, Push, Response};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{Bytes, Message as WsMessage};

use crate::backoff::Backoff;
use crate::catch_up::CatchUp;
use crate::command::{Command, Kind, Outgoing, Reply, Shared};
use crate::handshake::{self, Ws};
use crate::ordering::{Fill, FillAnswer, MessageOrder, Released};
use crate::wire::{self, Incoming};
use crate::{ClientOptions, SdkError, SdkEvent};

type Sink = SplitSink<Ws, WsMessage>;
type Stream = SplitStream<Ws>;

/// How long a stopping client waits for the server to acknowledge its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A request sent on the current socket and not answered yet.
#[derive(Debug)]
enum Pending {
    /// A client call.
    Call { kind: Kind, reply: Reply },
    /// A `getConversationList` page of the catch-up after logging in or reconnecting.
    CatchUpPage,
    /// A history page that fills a gap in a conversation's messages.
    Fill {
        conversation_id: String,
        below_seq: u64,
    },
}

/// How a session ended.
#[derive(Debug)]
enum End {
    /// The socket failed or closed; reconnecting may repair it.
    Lost(String),
    /// The client must stop, and calls fail with this error.
    Stop(SdkError),
}

/// The connection task's state.
pub(crate) struct Connection {
    options: ClientOptions,
    credentials: LoginParams,
    ids: Arc<AtomicU64>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<SdkEvent>,
    shared: Arc<Shared>,
    pending: HashMap<u64, Pending>,
    /// Requests issued while reconnecting, sent once logged in again.
    queue: VecDeque<Outgoing>,
    logged_in: bool,
    catch_up: Option<CatchUp>,
    /// Whether the catch-up in progress follows a reconnect (and is announced to the app) rather
    /// than the first login (which only sets where each conversation's messages start).
    catch_up_announced: bool,
    /// Whether every page of the catch-up in progress was received.
    catch_up_whole: bool,
    /// New messages in per-conversation order.
    order: MessageOrder,
    close_waiters: Vec<oneshot::Sender<()>>,
    /// Index in `options.urls` of the node tried next.
    url_index: usize,
}

impl Connection {
    /// Starts the task on `ws`, on which `credentials` already logged in.
    pub(crate) fn spawn(
        options: ClientOptions,
        credentials: LoginParams,
        ids: Arc<AtomicU64>,
        commands: mpsc::UnboundedReceiver<Command>,
        events: mpsc::UnboundedSender<SdkEvent>,
        shared: Arc<Shared>,
        ws: Ws,
    ) {
        let order = MessageOrder::new(options.gap_wait);
        let connection = Self {
            options,
            credentials,
            ids,
            commands,
            events,
            shared,
            pending: HashMap::new(),
            queue: VecDeque::new(),
            logged_in: true,
            catch_up: Some(CatchUp::default()),
            catch_up_announced: false,
            catch_up_whole: true,
            order,
            close_waiters: Vec::new(),
            url_index: 0,
        };
        tokio::spawn(connection.run(ws));
    }

    async fn run(mut self, mut ws: Ws) {
        let reason = loop {
            let reason = match self.session(ws).await {
                End::Stop(reason) => break reason,
                End::Lost(reason) => reason,
            };
            tracing::info!(%reason, "connection lost");
            self.fail_pending(&SdkError::Disconnected);
            self.order.fills_lost(Instant::now());
            self.catch_up = None;
            self.emit(SdkEvent::ConnectionLost { reason });
            if !self.logged_in {
                break SdkError::Closed;
            }
            if !self.options.auto_reconnect {
                break SdkError::Disconnected;
            }
            match self.reconnect().await {
                Ok(new_ws) => {
                    ws = new_ws;
                    self.catch_up = Some(CatchUp::default());
                    self.catch_up_announced = true;
                    self.catch_up_whole = true;
                }
                Err(reason) => break reason,
            }
        };
        self.finish(reason);
    }

    /// Serves one logged-in socket until it is lost or the client must stop.
    async fn session(&mut self, ws: Ws) -> End {
        let (mut sink, mut stream) = ws.split();
        let end = self.drive(&mut sink, &mut stream).await;
        if matches!(end, End::Stop(_)) {
            // Best effort: the server may already be gone.
            let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
        }
        end
    }

    async fn drive(&mut self, sink: &mut Sink, stream: &mut Stream) -> End {
        if let Err(reason) = self.request_page(sink).await {
            return End::Lost(reason);
        }
        while let Some(out) = self.queue.pop_front() {
            if let Err(reason) = self.send(sink, out).await {
                return End::Lost(reason);
            }
        }
        let period = self.options.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + period, period);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            if self.logged_in
                && let Err(reason) = self.send_fills(sink).await
            {
                return End::Lost(reason);
            }
            let fill_due = self.order.next_due();
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => return End::Stop(SdkError::Closed),
                    Some(Command::Close { done }) => {
                        self.close_waiters.push(done);
                        return End::Stop(SdkError::Closed);
                    }
                    Some(Command::Request(out)) => {
                        if let Err(reason) = self.send(sink, out).await {
                            return End::Lost(reason);
                        }
                    }
                },
                message = stream.next() => {
                    let message = match message {
                        None => return End::Lost("the connection closed".into()),
                        Some(Err(e)) => return End::Lost(e.to_string()),
                        Some(Ok(message)) => message,
                    };
                    last_heard = Instant::now();
                    match message {
                        WsMessage::Text(text) => {
                            if let Some(end) = self.on_text(sink, text.as_str()).await {
                                return end;
                            }
                        }
                        WsMessage::Close(frame) => {
                            let reason = match frame {
                                Some(frame) => format!("the server closed the connection ({frame})"),
                                None => "the server closed the connection".to_owned(),
                            };
                            return End::Lost(reason);
                        }
                        WsMessage::Binary(_) => tracing::warn!("ignoring a binary frame"),
                        WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
                    }
                }
                () = tokio::time::sleep_until(fill_due.unwrap_or_else(Instant::now)), if fill_due.is_some() => {}
                _ = ping.tick() => {
                    if last_heard.elapsed() >= period * 2 {
                        return End::Lost("the server stopped answering pings".into());
                    }
                    self.forget_abandoned();
                    if let Err(e) = sink.send(WsMessage::Ping(Bytes::new())).await {
                        return End::Lost(format!("cannot send ping: {e}"));
                    }
                }
            }
        }
    }

    /// Sends a client request, unless its caller gave up waiting.
    async fn send(&mut self, sink: &mut Sink, out: Outgoing) -> Result<(), String> {
        let Outgoing {
            id,
            method,
            frame,
            kind,
            reply,
        } = out;
        if reply.is_closed() {
            return Ok(());
        }
        self.pending.insert(id, Pending::Call { kind, reply });
        tracing::trace!(id, method, "sending request");
        sink.send(WsMessage::text(frame))
            .await
            .map_err(|e| format!("cannot send {method}: {e}"))
    }

    /// Handles one text frame; returns how the session ends, if it does.
    async fn on_text(&mut self, sink: &mut Sink, text: &str) -> Option<End> {
        match wire::classify(text) {
            Ok(Incoming::Push(push)) => self.on_push(push),
            Ok(Incoming::Response(response)) => {
                self.on_response(sink, response).await.err().map(End::Lost)
            }
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an unreadable frame");
                None
            }
        }
    }

    fn on_push(&mut self, push: Push) -> Option<End> {
        let event = SdkEvent::from_push(push);
        let me = self.credentials.user_id.as_str();
        let left_group = match &event {
            SdkEvent::MemberLeave(leave) if leave.member.user_id == me => Some(&leave.group_id),
            SdkEvent::MemberKicked(kicked)
                if kicked.member_list.iter().any(|m| m.user_id == me) =>
            {
                Some(&kicked.group_id)
            }
            SdkEvent::GroupDismissed(dismissed) => Some(&dismissed.group_id),
            _ => None,
        };
        let joined_group = match &event {
            SdkEvent::MemberEnter(enter) if enter.member_list.iter().any(|m| m.user_id == me) => {
                Some(&enter.group_id)
            }
            SdkEvent::MemberInvited(invited)
                if invited.member_list.iter().any(|m| m.user_id == me) =>
            {
                Some(&invited.group_id)
            }
            _ => None,
        };
        if let Some(group) = joined_group {
            self.order.joined(&format!("group_{group}"));
        }
        if let Some(group) = left_group {
            // Messages held for a gap were sent while the user was a member: hand them over.
            let released = self.order.forget(&format!("group_{group}"));
            self.emit_released(released);
        }
        let end = match &event {
            SdkEvent::KickedOffline(kicked) => Some(End::Stop(SdkError::KickedOffline {
                reason: kicked.reason.clone(),
            })),
            SdkEvent::UserSigExpired => Some(End::Stop(SdkError::user_sig_expired())),
            SdkEvent::ConversationChanged(changed) | SdkEvent::NewConversation(changed) => {
                if let Some(catch_up) = &mut self.catch_up {
                    catch_up.upsert(changed.iter().cloned());
                }
                None
            }
            SdkEvent::RecvNewMessage(message) => {
                let released = self.order.offer(message.clone(), Instant::now());
                self.emit_released(released);
                return None;
            }
            _ => None,
        };
        self.emit(event);
        end
    }

    /// Hands messages (and gaps) over to the app in the order the ordering released them.
    fn emit_released(&self, released: Vec<Released>) {
        for item in released {
            self.emit(match item {
                Released::Message(message) => SdkEvent::RecvNewMessage(message),
                Released::Gap {
                    conversation_id,
                    first_seq,
                    last_seq,
                } => SdkEvent::MessageGap {
                    conversation_id,
                    first_seq,
                    last_seq,
                },
            });
        }
    }

    /// Sends the history requests of the gaps that waited long enough.
    async fn send_fills(&mut self, sink: &mut Sink) -> Result<(), String> {
        for fill in self.order.take_due(Instant::now()) {
            let Fill {
                conversation_id,
                below_seq,
                before_msg_id,
                count,
            } = fill;
            let last_msg_id = Some(before_msg_id);
            let request = if let Some(group_id) = conversation_id.strip_prefix("group_") {
                let params = GroupHistoryParams {
                    group_id: group_id.to_owned(),
                    count,
                    last_msg_id,
                };
                serde_json::to_value(params).map(|p| (GetGroupHistoryMessageList::NAME, p))
            } else {
                let user_id = conversation_id.strip_prefix("c2c_").unwrap_or_default();
                let params = C2cHistoryParams {
                    user_id: user_id.to_owned(),
                    count,
                    last_msg_id,
                };
                serde_json::to_value(params).map(|p| (GetC2cHistoryMessageList::NAME, p))
            };
            let id = self.ids.fetch_add(1, Ordering::Relaxed);
            let frame = request
                .map_err(|e| e.to_string())
                .and_then(|(method, params)| {
                    wire::encode_request(id, method, params).map_err(|e| e.to_string())
                })?;
            tracing::debug!(conversation = %conversation_id, below_seq, count, "filling a gap from history");
            self.pending.insert(
                id,
                Pending::Fill {
                    conversation_id,
                    below_seq,
                },
            );
            sink.send(WsMessage::text(frame))
                .await
                .map_err(|e| format!("cannot send a history request: {e}"))?;
        }
        Ok(())
    }

    /// Takes in the history page of a fill.
    fn on_fill(&mut self, conversation_id: &str, below_seq: u64, response: Response) {
        let page = wire::response_result(response)
            .and_then(|data| wire::decode_output::<Vec<Message>>("history", data));
        let answer = match page {
            Ok(page) => FillAnswer::History(page),
            Err(e) if e.is_transient() => {
                tracing::debug!(conversation = %conversation_id, error = %e, "history busy; filling a gap later");
                FillAnswer::Retry
            }
            Err(e) => {
                tracing::warn!(conversation = %conversation_id, error = %e, "history cannot fill a gap");
                FillAnswer::Refused
            }
        };
        let released = self
            .order
            .filled(conversation_id, below_seq, answer, Instant::now());
        self.emit_released(released);
    }

    /// Routes a response; fails only when a follow-up request cannot be sent.
    async fn on_response(&mut self, sink: &mut Sink, response: Response) -> Result<(), String> {
        let Some(id) = response.id else {
            tracing::warn!(code = response.code, desc = %response.desc, "the server could not read a request");
            return Ok(());
        };
        match self.pending.remove(&id) {
            None => {
                tracing::debug!(id, "dropping a response nobody waits for");
                Ok(())
            }
            Some(Pending::Call { kind, reply }) => {
                let result = wire::response_result(response);
                if let Ok(data) = &result {
                    match kind {
                        Kind::Login(credentials) => {
                            let other_user = credentials.user_id != self.credentials.user_id;
                            self.credentials = credentials;
                            self.logged_in = true;
                            if other_user {
                                // Another user's conversations: start over, from their list.
                                self.order = MessageOrder::new(self.options.gap_wait);
                                self.catch_up = Some(CatchUp::default());
                                self.catch_up_announced = false;
                                self.catch_up_whole = true;
                                let _ = reply.send(result);
                                return self.request_page(sink).await;
                            }
                        }
                        Kind::Logout => self.logged_in = false,
                        Kind::Send => self.on_sent(data),
                        Kind::Normal => {}
                    }
                }
                // The caller may have timed out meanwhile.
                let _ = reply.send(result);
                Ok(())
            }
            Some(Pending::CatchUpPage) => self.on_page(sink, response).await,
            Some(Pending::Fill {
                conversation_id,
                below_seq,
            }) => {
                self.on_fill(&conversation_id, below_seq, response);
                Ok(())
            }
        }
    }

    /// An own message was stored: it takes its place in its conversation's order (its push may
    /// come later, or not at all on a session that lost it), so it is no gap for the next one.
    /// An `onlineUserOnly` message has no place in the order: only its echo is handed over.
    fn on_sent(&mut self, data: &Value) {
        match Message::deserialize(data) {
            Ok(message) if message.seq == 0 => {}
            Ok(message) => {
                let released = self.order.offer(message, Instant::now());
                self.emit_released(released);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read a sent message"),
        }
    }

    /// Takes in a catch-up page and requests the next, or ends the catch-up.
    async fn on_page(&mut self, sink: &mut Sink, response: Response) -> Result<(), String> {
        let Some(catch_up) = &mut self.catch_up else {
            return Ok(());
        };
        let page = wire::response_result(response).and_then(|data| {
            wire::decode_output::<ConversationListResult>(GetConversationList::NAME, data)
        });
        let more = match page {
            Ok(page) => catch_up.apply_page(page),
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch every conversation");
                self.catch_up_whole = false;
                false
            }
        };
        if more {
            return self.request_page(sink).await;
        }
        if let Some(catch_up) = self.catch_up.take() {
            let conversations = catch_up.finish();
            let released = self
                .order
                .catch_up(&conversations, self.catch_up_whole, Instant::now());
            if self.catch_up_announced {
                self.emit(SdkEvent::ConversationChanged(conversations));
                self.emit(SdkEvent::Reconnected);
            }
            self.emit_released(released);
        }
        Ok(())
    }

    /// Requests the next catch-up page, if catching up.
    async fn request_page(&mut self, sink: &mut Sink) -> Result<(), String> {
        let Some(catch_up) = &self.catch_up else {
            return Ok(());
        };
        let params = ConversationListParams {
            next_seq: catch_up.next_seq(),
            count: MAX_LIST_PAGE,
        };
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let frame = serde_json::to_value(params)
            .map_err(|e| e.to_string())
            .and_then(|params| {
                wire::encode_request(id, GetConversationList::NAME, params)
                    .map_err(|e| e.to_string())
            })?;
        self.pending.insert(id, Pending::CatchUpPage);
        sink.send(WsMessage::text(frame))
            .await
            .map_err(|e| format!("cannot send {}: {e}", GetConversationList::NAME))
    }

    /// Reconnects and logs in again, with backoff. Fails when the client must stop instead.
    async fn reconnect(&mut self) -> Result<Ws, SdkError> {
        let mut backoff = Backoff::new(self.options.backoff_initial, self.options.backoff_max);
        loop {
            self.serve_commands_until(tokio::time::sleep(backoff.next_delay()))
                .await?;
            self.queue.retain(|out| !out.reply.is_closed());
            let url = self.options.urls[self.url_index].clone();
            let attempt = handshake::connect_and_login(
                url.clone(),
                self.credentials.clone(),
                self.options.request_timeout,
                Arc::clone(&self.ids),
                self.events.clone(),
            );
            match self.serve_commands_until(attempt).await? {
                Ok(ws) => {
                    tracing::info!("reconnected");
                    return Ok(ws);
                }
                Err(e) if e.is_transient() => {
                    // The same node first (a blip), then the others in turn (it may be gone).
                    self.url_index = (self.url_index + 1) % self.options.urls.len();
                    tracing::debug!(%url, error = %e, "reconnecting failed");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "logging in again was refused; giving up");
                    return Err(e);
                }
            }
        }
    }

    /// Runs `work` while queueing the requests that arrive meanwhile. Fails with
    /// [`SdkError::Closed`] if the client is closed first.
    async fn serve_commands_until<F: Future>(&mut self, work: F) -> Result<F::Output, SdkError> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return Ok(output),
                command = self.commands.recv() => match command {
                    None => return Err(SdkError::Closed),
                    Some(Command::Close { done }) => {
                        self.close_waiters.push(done);
                        return Err(SdkError::Closed);
                    }
                    Some(Command::Request(out)) => self.queue.push_back(out),
                },
            }
        }
    }

    /// Forgets calls whose callers gave up (timed out), so their entries do not accumulate.
    /// Logins and logouts are kept: their answers still update the session state.
    fn forget_abandoned(&mut self) {
        self.pending.retain(|_, pending| match pending {
            Pending::Call {
                kind: Kind::Normal,
                reply,
            } => !reply.is_closed(),
            Pending::Call { .. } | Pending::CatchUpPage | Pending::Fill { .. } => true,
        });
    }

    /// Fails every request sent on the socket that was just lost.
    fn fail_pending(&mut self, error: &SdkError) {
        for (_, pending) in self.pending.drain() {
            if let Pending::Call { reply, .. } = pending {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }

    fn emit(&self, event: SdkEvent) {
        // Nobody reading events is fine: calls still work.
        let _ = self.events.send(event);
    }

    /// Stops for good: every waiting and later call fails with `reason`, the event stream ends,
    /// and `close` callers are released.
    fn finish(mut self, reason: SdkError) {
        tracing::debug!(%reason, "client stopped");
        self.shared.stop(reason.clone());
        self.fail_pending(&reason);
        for out in self.queue.drain(..) {
            let _ = out.reply.send(Err(reason.clone()));
        }
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Request(out) => {
                    let _ = out.reply.send(Err(reason.clone()));
                }
                Command::Close { done } => self.close_waiters.push(done),
            }
        }
        let close_waiters = std::mem::take(&mut self.close_waiters);
        // Ends the event stream before `close` returns.
        drop(self);
        for done in close_waiters {
            let _ = done.send(());
        }
    }
}
