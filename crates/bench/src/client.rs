//! A lean WebSocket client of the Tidings protocol: requests matched to responses by `id`,
//! pushes time-stamped the moment their frame is read.
//!
//! The SDK (`tidings-sdk`) adds reconnection, catch-up and typed events; a load generator wants
//! none of that, but wants the arrival time of every frame, so it speaks the frames directly.
//! Frame bodies are kept as raw JSON text and parsed only by the caller that needs them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long one request may wait for its response.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Read buffer of the client's WebSocket (frames larger than this still arrive whole).
const CLIENT_READ_BUFFER: usize = 8 * 1024;

/// A response frame, stamped with the instant it was read off the socket.
#[derive(Debug)]
pub(crate) struct Reply {
    /// When the frame was read.
    pub(crate) at: Instant,
    /// 0 on success.
    pub(crate) code: u32,
    /// The error text.
    pub(crate) desc: String,
    /// The `data` member, unparsed (`null` when absent).
    pub(crate) data: Box<RawValue>,
}

impl Reply {
    /// The data, decoded, or the server's error.
    pub(crate) fn decode<T: DeserializeOwned>(&self, method: &str) -> Result<T> {
        if self.code != 0 {
            bail!("{method} failed with {}: {}", self.code, self.desc);
        }
        serde_json::from_str(self.data.get())
            .with_context(|| format!("cannot decode {method} result"))
    }
}

/// A push frame, stamped with the instant it was read off the socket.
#[derive(Debug)]
pub(crate) struct PushFrame {
    /// When the frame was read.
    pub(crate) at: Instant,
    /// The event name.
    pub(crate) event: String,
    /// The payload, unparsed.
    pub(crate) data: Box<RawValue>,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    code: u32,
    #[serde(default)]
    desc: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

/// One WebSocket connection.
#[derive(Debug)]
pub(crate) struct Conn {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!("null is JSON"))
}

impl Conn {
    /// Opens a WebSocket to `url`. Pushes go to the returned receiver when `want_pushes`,
    /// otherwise they are read and dropped.
    pub(crate) async fn open(
        url: &str,
        want_pushes: bool,
    ) -> Result<(Self, Option<mpsc::UnboundedReceiver<PushFrame>>)> {
        // tungstenite zero-fills its whole read buffer before every read (128 KiB by default):
        // a small buffer keeps the load generator's own CPU cost down.
        let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
        let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
        let (ws, _) = tokio::time::timeout(CALL_TIMEOUT, connect)
            .await
            .map_err(|_| anyhow!("connecting to {url} timed out"))?
            .with_context(|| format!("cannot connect to {url}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut queue) = mpsc::unbounded_channel::<Message>();
        let pending: Pending = Arc::default();
        let (push_tx, push_rx) = if want_pushes {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.feed(message).await.is_err() {
                    return;
                }
                while let Ok(message) = queue.try_recv() {
                    if sink.feed(message).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        });
        let reader_pending = Arc::clone(&pending);
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let at = Instant::now();
                let Message::Text(text) = message else {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                    continue;
                };
                let data = frame.data.unwrap_or_else(null);
                if let Some(event) = frame.event {
                    if let Some(tx) = &push_tx {
                        let _ = tx.send(PushFrame { at, event, data });
                    }
                } else if let Some(id) = frame.id {
                    let waiter = reader_pending.lock().ok().and_then(|mut p| p.remove(&id));
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(Reply {
                            at,
                            code: frame.code,
                            desc: frame.desc,
                            data,
                        });
                    }
                }
            }
            // Fail every call still waiting: its sender is dropped.
            if let Ok(mut pending) = reader_pending.lock() {
                pending.clear();
            }
        });
        Ok((
            Self {
                out,
                pending,
                next_id: AtomicU64::new(1),
            },
            push_rx,
        ))
    }

    /// Opens a connection and logs in.
    pub(crate) async fn login(
        url: &str,
        user: &str,
        sig: &str,
        want_pushes: bool,
    ) -> Result<(Self, Option<mpsc::UnboundedReceiver<PushFrame>>)> {
        let (conn, pushes) = Self::open(url, want_pushes).await?;
        let params = serde_json::json!({ "userID": user, "userSig": sig });
        let reply = conn.call_value("login", &params).await?;
        if reply.code != 0 {
            bail!(
                "login of {user} refused with {}: {}",
                reply.code,
                reply.desc
            );
        }
        Ok((conn, pushes))
    }

    /// Sends one request frame given as text whose `id` is `id`; resolves with the response.
    /// The text must carry that id (see [`Conn::next_id`]).
    pub(crate) async fn call_text(&self, id: u64, text: String) -> Result<Reply> {
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| anyhow!("pending map poisoned"))?
            .insert(id, tx);
        self.out
            .send(Message::text(text))
            .map_err(|_| anyhow!("connection closed"))?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(anyhow!("connection closed before the response")),
            Err(_) => {
                if let Ok(mut pending) = self.pending.lock() {
                    pending.remove(&id);
                }
                Err(anyhow!("no response within {} s", CALL_TIMEOUT.as_secs()))
            }
        }
    }

    /// A fresh request id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Calls `method` with JSON params.
    pub(crate) async fn call_value(
        &self,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<Reply> {
        let id = self.next_id();
        let text = serde_json::json!({ "id": id, "method": method, "params": params }).to_string();
        self.call_text(id, text).await
    }

    /// Calls `method` and decodes a successful result.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<T> {
        self.call_value(method, params).await?.decode(method)
    }

    /// Closes the connection (sends a close frame; the tasks end).
    pub(crate) fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.close();
    }
}

/// A logged-in connection and, when asked for, its pushes.
pub(crate) type LoggedIn = (
    std::sync::Arc<Conn>,
    Option<mpsc::UnboundedReceiver<PushFrame>>,
);

/// Logs in every `(user, sig)` on its own connection, at most 128 handshakes at once, in order;
/// the `i`-th user connects to `urls[i % urls.len()]` (the nodes of a cluster in turn).
pub(crate) async fn login_many(
    urls: &[String],
    users: &[(String, String)],
    want_pushes: bool,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<LoggedIn>> {
    let results: Vec<Result<LoggedIn>> = futures_util::stream::iter(users.iter().enumerate())
        .map(|(index, (user, sig))| async move {
            let url = &urls[index % urls.len()];
            let (conn, pushes) = Conn::login(url, user, sig, want_pushes).await?;
            bar.inc(1);
            Ok((std::sync::Arc::new(conn), pushes))
        })
        .buffered(128)
        .collect()
        .await;
    results.into_iter().collect()
}
