//! [`Client`]: connecting, the generic [`Client::call`], and closing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tidings_proto::Method;
use tidings_proto::methods::LoginParams;
use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, Kind, Outgoing, Shared};
use crate::connection::Connection;
use crate::{ClientOptions, Events, SdkError, handshake, wire};

/// A logged-in connection to a Tidings server. Cheap to clone: every clone drives the same
/// connection. The connection ends with [`Client::close`], or when the last clone is dropped.
///
/// Each V2TIM method has a typed counterpart named in snake_case (`sendMessage` is
/// [`Client::send_message`]); [`Client::call`] reaches any method by its proto marker type.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::UnboundedSender<Command>,
    ids: Arc<AtomicU64>,
    shared: Arc<Shared>,
    request_timeout: Duration,
}

impl Client {
    /// Connects to `url` (e.g. `ws://127.0.0.1:8080/ws`) and logs in, with default
    /// [`ClientOptions`]. A refused login returns the server's error ([`SdkError::Server`]).
    pub async fn connect(
        url: impl Into<String>,
        user_id: impl Into<String>,
        user_sig: impl Into<String>,
    ) -> Result<(Client, Events), SdkError> {
        Self::connect_with(ClientOptions::new(url, user_id, user_sig)).await
    }

    /// Connects and logs in as [`Client::connect`] does, with the given options.
    pub async fn connect_with(options: ClientOptions) -> Result<(Client, Events), SdkError> {
        let ids = Arc::new(AtomicU64::new(1));
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let credentials = LoginParams {
            user_id: options.user_id.clone(),
            user_sig: options.user_sig.clone(),
        };
        // The first node that answers; a refusal to log in is final, as every node would refuse.
        let mut urls = options.urls.iter().enumerate();
        let (url_index, ws) = loop {
            let (index, url) = urls.next().ok_or(SdkError::Disconnected)?;
            let attempt = handshake::connect_and_login(
                url.clone(),
                credentials.clone(),
                options.request_timeout,
                Arc::clone(&ids),
                event_tx.clone(),
            )
            .await;
            match attempt {
                Ok(ws) => break (index, ws),
                Err(e) if e.is_transient() && index + 1 < options.urls.len() => {
                    tracing::debug!(%url, error = %e, "node unreachable; trying the next");
                }
                Err(e) => return Err(e),
            }
        };
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let inner = Inner {
            commands: command_tx,
            ids: Arc::clone(&ids),
            shared: Arc::clone(&shared),
            request_timeout: options.request_timeout,
        };
        // The connection task starts from the node it is on.
        let mut options = options;
        options.urls.rotate_left(url_index);
        Connection::spawn(options, credentials, ids, command_rx, event_tx, shared, ws);
        Ok((
            Client {
                inner: Arc::new(inner),
            },
            Events::new(event_rx),
        ))
    }

    /// Calls any method by its proto marker type, e.g.
    /// `client.call::<tidings_proto::methods::GetJoinedGroupList>(Empty {})`.
    ///
    /// While the client is reconnecting the request waits for the new session. It fails with
    /// [`SdkError::Timeout`] if no answer comes within the request timeout,
    /// [`SdkError::Disconnected`] if the connection drops after it was sent, and with the reason
    /// the client stopped ([`SdkError::Closed`], [`SdkError::KickedOffline`], …) once it has.
    pub async fn call<M: Method>(&self, params: M::Params) -> Result<M::Output, SdkError> {
        let params = serde_json::to_value(params).map_err(|e| {
            SdkError::Protocol(format!("cannot encode {} parameters: {e}", M::NAME))
        })?;
        let data = self.request(M::NAME, params).await?;
        wire::decode_output(M::NAME, data)
    }

    async fn request(&self, method: &'static str, params: Value) -> Result<Value, SdkError> {
        let inner = &self.inner;
        let kind = Kind::of(method, &params);
        let id = inner.ids.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode_request(id, method, params)?;
        let (reply, answer) = oneshot::channel();
        let out = Outgoing {
            id,
            method,
            frame,
            kind,
            reply,
        };
        if inner.commands.send(Command::Request(out)).is_err() {
            return Err(inner.shared.stop_reason());
        }
        match tokio::time::timeout(inner.request_timeout, answer).await {
            Err(_) => Err(SdkError::Timeout),
            Ok(Err(_)) => Err(inner.shared.stop_reason()),
            Ok(Ok(result)) => result,
        }
    }

    /// Ends the session: closes the WebSocket and stops the client. Later calls fail with
    /// [`SdkError::Closed`] and the event stream ends. Returns once the connection task has
    /// stopped; does nothing if it already had.
    pub async fn close(&self) {
        let (done, stopped) = oneshot::channel();
        if self.inner.commands.send(Command::Close { done }).is_ok() {
            let _ = stopped.await;
        }
    }
}
