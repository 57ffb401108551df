//! Webhook delivery of after-events (Tencent's third-party callbacks): a bounded queue, signed
//! POSTs with retries and backoff, and counters for what was dropped. Never blocks the message
//! path: `emit` only queues. The bodies are Tencent's (`body.rs`).

mod body;

use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tidings_service::{CallbackEvent, Callbacks, Tidings};
use tokio::sync::{Semaphore, mpsc};

/// Where and how callbacks are sent; changeable at runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// The callback URL (`http://…`); empty disables callbacks.
    pub url: String,
    /// When set, requests carry `RequestTime` and `Sign = hex(sha256(token + RequestTime))`.
    pub token: String,
}

impl WebhookSettings {
    /// Checks the URL: empty, or `http://` with a host. `https://` is refused here, when it is
    /// set, because this build has no TLS client: accepting it would drop every callback.
    pub fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Ok(());
        }
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("webhook URL {:?} is not a URL: {e}", self.url))?;
        match url.scheme() {
            "http" if url.host_str().is_some_and(|host| !host.is_empty()) => Ok(()),
            "http" => Err(format!("webhook URL {:?} has no host", self.url)),
            "https" => Err(format!(
                "webhook URL {:?}: https:// is not supported (this server has no TLS client); \
                 use an http:// URL, for example a local TLS-terminating relay",
                self.url
            )),
            other => Err(format!(
                "webhook URL {:?}: the scheme must be http, not {other}",
                self.url
            )),
        }
    }
}

/// Deliveries attempted per event before it is dropped.
const ATTEMPTS: u32 = 4;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 16;

/// The webhook deliverer: the service's [`Callbacks`] implementation.
pub struct Webhooks {
    settings: RwLock<WebhookSettings>,
    queue: mpsc::Sender<CallbackEvent>,
    tidings: OnceLock<Weak<Tidings>>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Starts the delivery worker with a queue of `capacity` events.
    pub fn start(settings: WebhookSettings, sdkappid: u64, capacity: usize) -> Arc<Self> {
        let (queue, events) = mpsc::channel(capacity.max(1));
        let webhooks = Arc::new(Self {
            settings: RwLock::new(settings),
            queue,
            tidings: OnceLock::new(),
        });
        tokio::spawn(run(Arc::downgrade(&webhooks), events, sdkappid));
        webhooks
    }

    /// Gives the deliverer the services (for unread totals computed at delivery time).
    pub fn attach(&self, tidings: &Arc<Tidings>) {
        let _ = self.tidings.set(Arc::downgrade(tidings));
    }

    /// Current settings.
    pub fn settings(&self) -> WebhookSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the settings.
    pub fn set_settings(&self, settings: WebhookSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }
}

impl Callbacks for Webhooks {
    fn wants(&self) -> bool {
        !self
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .url
            .is_empty()
    }

    fn emit(&self, event: CallbackEvent) {
        if !self.wants() {
            return;
        }
        if self.queue.try_send(event).is_err() {
            metrics::counter!("tidings_webhooks_dropped_total", "reason" => "queue_full")
                .increment(1);
        }
    }
}

/// `hex(sha256(token + request_time))`, Tencent's callback signature.
pub fn sign(token: &str, request_time: i64) -> String {
    let digest = Sha256::digest(format!("{token}{request_time}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn run(webhooks: Weak<Webhooks>, mut events: mpsc::Receiver<CallbackEvent>, sdkappid: u64) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(event) = events.recv().await {
        let Some(webhooks) = webhooks.upgrade() else {
            break;
        };
        let settings = webhooks.settings();
        let tidings = webhooks.tidings.get().and_then(Weak::upgrade);
        drop(webhooks);
        if settings.url.is_empty() {
            continue;
        }
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let client = client.clone();
        tokio::spawn(async move {
            deliver(&client, &settings, sdkappid, tidings, event).await;
            drop(permit);
        });
    }
}

async fn deliver(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    sdkappid: u64,
    tidings: Option<Arc<Tidings>>,
    event: CallbackEvent,
) {
    let command = body::command(&event.event);
    let mut body = body::body(&event);
    if let Some(user) = body::unread_total_of(&event.event) {
        let unread = match &tidings {
            Some(tidings) => tidings
                .c2c_unread_total(user)
                .await
                .map_or(-1, |n| n as i64),
            None => -1,
        };
        body.insert("UnreadMsgNum".into(), Value::from(unread));
    }
    let mut query = vec![
        ("SdkAppid", sdkappid.to_string()),
        ("CallbackCommand", command.to_owned()),
        ("contenttype", "json".to_owned()),
        ("ClientIP", event.origin.client_ip.clone()),
        ("OptPlatform", event.origin.platform.to_owned()),
    ];
    if !settings.token.is_empty() {
        let now = tidings_service::now();
        query.push(("RequestTime", now.to_string()));
        query.push(("Sign", sign(&settings.token, now)));
    }
    let encoded: Vec<String> = query
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect();
    let separator = if settings.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}{}", settings.url, encoded.join("&"));
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        let sent = client.post(&url).json(&body).send().await;
        match sent {
            Ok(response) if response.status().is_success() => {
                metrics::counter!("tidings_webhooks_sent_total").increment(1);
                return;
            }
            Ok(response) => {
                tracing::warn!(command, status = %response.status(), attempt, "webhook refused")
            }
            Err(e) => {
                tracing::warn!(command, error = %e, attempt, "webhook failed")
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 4;
        }
    }
    metrics::counter!("tidings_webhooks_dropped_total", "reason" => "failed").increment(1);
}

#[cfg(test)]
mod tests {
    use super::sign;

    #[test]
    fn the_signature_is_hex_sha256_of_token_and_time() {
        // Expected values from `printf '%s' abc1700000000 | sha256sum` (token first, then the
        // time in decimal) and `printf '%s' 0 | sha256sum`.
        assert_eq!(
            sign("abc", 1_700_000_000),
            "139d720ab3fe33252a099243519e7548ce791f035b647c70bc13e8a12f503cda"
        );
        assert_eq!(
            sign("", 0),
            "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"
        );
    }
}
