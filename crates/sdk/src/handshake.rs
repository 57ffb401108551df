//! Opening a WebSocket and logging in on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tidings_proto::methods::{Login, LoginParams};
use tidings_proto::{Method, Response};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::wire::{self, Incoming};
use crate::{SdkError, SdkEvent};

/// The client's WebSocket.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url` and logs in with `credentials`, all within `timeout`. Pushes that arrive
/// before the login answer go to `events`.
pub(crate) async fn connect_and_login(
    url: String,
    credentials: LoginParams,
    timeout: Duration,
    ids: Arc<AtomicU64>,
    events: mpsc::UnboundedSender<SdkEvent>,
) -> Result<Ws, SdkError> {
    tokio::time::timeout(timeout, async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| SdkError::Connect(format!("{url}: {e}")))?;
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let params = serde_json::to_value(&credentials)
            .map_err(|e| SdkError::Protocol(format!("cannot encode login: {e}")))?;
        let frame = wire::encode_request(id, Login::NAME, params)?;
        ws.send(WsMessage::text(frame))
            .await
            .map_err(|e| SdkError::Connect(format!("cannot send login: {e}")))?;
        await_login(&mut ws, id, &events).await?;
        Ok(ws)
    })
    .await
    .unwrap_or(Err(SdkError::Timeout))
}

/// Reads frames until the answer to login request `id`.
async fn await_login(
    ws: &mut Ws,
    id: u64,
    events: &mpsc::UnboundedSender<SdkEvent>,
) -> Result<(), SdkError> {
    loop {
        let message = match ws.next().await {
            None => return Err(SdkError::Connect("connection closed during login".into())),
            Some(Err(e)) => return Err(SdkError::Connect(format!("connection failed: {e}"))),
            Some(Ok(message)) => message,
        };
        let text = match message {
            WsMessage::Text(text) => text,
            WsMessage::Close(frame) => {
                let reason = frame.map(|f| f.to_string()).unwrap_or_default();
                return Err(SdkError::Connect(format!(
                    "server closed during login: {reason}"
                )));
            }
            _ => continue,
        };
        match wire::classify(text.as_str())? {
            Incoming::Push(push) => {
                // Nobody listening is not an error here: the caller then gets `Closed` later.
                let _ = events.send(SdkEvent::from_push(push));
            }
            Incoming::Response(response) if response.id == Some(id) => {
                return wire::response_result(response).map(drop);
            }
            // The server could not read the login frame: it answers without an id.
            Incoming::Response(Response {
                id: None,
                code,
                desc,
                ..
            }) if code != 0 => {
                return Err(SdkError::Server { code, desc });
            }
            Incoming::Response(other) => {
                tracing::debug!(id = ?other.id, "ignoring a response while logging in");
            }
        }
    }
}
