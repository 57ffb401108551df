//! Webhooks (Tencent's third-party callbacks). After-events: a bounded queue, signed POSTs
//! with retries and backoff, and counters for what was dropped; they never block the message
//! path (`emit` only queues). Before-send hooks (`C2C.CallbackBeforeSendMsg`,
//! `Group.CallbackBeforeSendMsg`): one signed POST to the same URL, awaited by the sending
//! request within the configured timeout, whose answer (or the configured default) is the
//! service's [`Verdict`]. The bodies and answers are Tencent's (`body.rs`).

mod body;

use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tidings_service::{
    BeforeSendEvent, CallbackEvent, Callbacks, Origin, Tidings, Verdict, VerdictFuture,
};
use tokio::sync::{Semaphore, mpsc};

/// Where and how callbacks are sent; changeable at runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// The callback URL (`http://…`); empty disables callbacks.
    pub url: String,
    /// When set, requests carry `RequestTime` and `Sign = hex(sha256(token + RequestTime))`.
    pub token: String,
    /// The before-send hooks.
    pub before_send_msg: BeforeSendSettings,
}

/// Which messages the app's backend is asked about before they are sent, how long the sender
/// waits for its answer, and what happens when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeforeSendSettings {
    /// Ask about C2C messages (`C2C.CallbackBeforeSendMsg`).
    pub c2c: bool,
    /// Ask about group messages (`Group.CallbackBeforeSendMsg`).
    pub group: bool,
    /// How long to wait for the answer, milliseconds (Tencent: 2 s).
    pub timeout_ms: u64,
    /// What happens when the backend does not answer in time, fails, or answers something
    /// that cannot be read (Tencent: the message is sent).
    pub on_failure: OnFailure,
}

impl Default for BeforeSendSettings {
    fn default() -> Self {
        Self {
            c2c: false,
            group: false,
            timeout_ms: 2_000,
            on_failure: OnFailure::Allow,
        }
    }
}

/// What happens to a message when the app's backend could not be asked about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// It is sent as it is.
    #[default]
    Allow,
    /// It is refused (20006 for C2C, 10016 for groups).
    Deny,
}

impl OnFailure {
    /// The name used in the config file and REST settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }

    /// The value for a name (`allow`, `deny`, any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// Bounds of `before_send_msg.timeout_ms`.
pub const BEFORE_SEND_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 10..=30_000;

impl WebhookSettings {
    /// Checks the URL: empty, or `http://` with a host. `https://` is refused here, when it is
    /// set, because this build has no TLS client: accepting it would drop every callback. And
    /// the before-send timeout must be within [`BEFORE_SEND_TIMEOUT_MS`].
    pub fn validate(&self) -> Result<(), String> {
        let timeout = self.before_send_msg.timeout_ms;
        if !BEFORE_SEND_TIMEOUT_MS.contains(&timeout) {
            return Err(format!(
                "the before-send timeout is {timeout} ms; it must be {} to {} ms",
                BEFORE_SEND_TIMEOUT_MS.start(),
                BEFORE_SEND_TIMEOUT_MS.end()
            ));
        }
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
    client: reqwest::Client,
    sdkappid: u64,
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
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let webhooks = Arc::new(Self {
            settings: RwLock::new(settings),
            queue,
            tidings: OnceLock::new(),
            client: client.clone(),
            sdkappid,
        });
        tokio::spawn(run(Arc::downgrade(&webhooks), events, client, sdkappid));
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

    fn wants_before_send(&self, group: bool) -> bool {
        let settings = self.settings.read().unwrap_or_else(|e| e.into_inner());
        let hooks = &settings.before_send_msg;
        !settings.url.is_empty() && if group { hooks.group } else { hooks.c2c }
    }

    fn before_send(&self, event: BeforeSendEvent) -> VerdictFuture<'_> {
        let settings = self.settings();
        Box::pin(async move { ask(&self.client, &settings, self.sdkappid, event).await })
    }
}

/// Asks the app's backend about a message: its answer's verdict, or the configured default
/// when it does not answer within the timeout, fails, or answers something unreadable.
async fn ask(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    sdkappid: u64,
    event: BeforeSendEvent,
) -> Verdict {
    let command = body::before_command(&event.event);
    let body = body::before_body(&event);
    let url = callback_url(settings, sdkappid, command, &event.origin);
    let timeout = Duration::from_millis(settings.before_send_msg.timeout_ms);
    let answer = async {
        let response = client
            .post(&url)
            .timeout(timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("HTTP status {}", response.status()));
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|e| format!("the answer is not JSON: {e}"))?;
        body::verdict_of(&answer)
    };
    match answer.await {
        Ok(verdict) => {
            let result = match &verdict {
                Verdict::Allow => "allow",
                Verdict::Change { .. } => "change",
                Verdict::Deny { .. } => "deny",
                Verdict::Discard => "discard",
            };
            metrics::counter!("tidings_webhooks_before_send_total", "result" => result)
                .increment(1);
            verdict
        }
        Err(why) => {
            let on_failure = settings.before_send_msg.on_failure;
            tracing::warn!(command, %why, default = on_failure.as_str(), "before-send hook failed: the configured default applies");
            metrics::counter!("tidings_webhooks_before_send_total", "result" => "failed")
                .increment(1);
            match on_failure {
                OnFailure::Allow => Verdict::Allow,
                OnFailure::Deny => Verdict::Deny {
                    app_code: None,
                    info: format!(
                        "the app's backend could not be asked about this message ({command}: {why}); this server then refuses messages"
                    ),
                },
            }
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

/// The URL a callback is POSTed to: the configured one with Tencent's query (and the signature
/// when a token is set).
fn callback_url(
    settings: &WebhookSettings,
    sdkappid: u64,
    command: &str,
    origin: &Origin,
) -> String {
    let mut query = vec![
        ("SdkAppid", sdkappid.to_string()),
        ("CallbackCommand", command.to_owned()),
        ("contenttype", "json".to_owned()),
        ("ClientIP", origin.client_ip.clone()),
        ("OptPlatform", origin.platform.to_owned()),
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
    format!("{}{separator}{}", settings.url, encoded.join("&"))
}

async fn run(
    webhooks: Weak<Webhooks>,
    mut events: mpsc::Receiver<CallbackEvent>,
    client: reqwest::Client,
    sdkappid: u64,
) {
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
    let url = callback_url(settings, sdkappid, command, &event.origin);
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
