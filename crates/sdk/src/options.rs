//! [`ClientOptions`]: where to connect, as whom, and the timing knobs.

use std::fmt;
use std::time::Duration;

/// Settings for [`crate::Client::connect_with`], built from [`ClientOptions::new`] and the
/// chainable setters.
///
/// ```
/// use std::time::Duration;
/// use tidings_sdk::ClientOptions;
///
/// let options = ClientOptions::new("ws://127.0.0.1:8080/ws", "alice", "<UserSig>")
///     .request_timeout(Duration::from_secs(5))
///     .auto_reconnect(false);
/// assert_eq!(options.url(), "ws://127.0.0.1:8080/ws");
/// ```
#[derive(Clone)]
pub struct ClientOptions {
    /// The first URL, then the nodes to fail over to.
    pub(crate) urls: Vec<String>,
    pub(crate) user_id: String,
    pub(crate) user_sig: String,
    pub(crate) request_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) auto_reconnect: bool,
    pub(crate) gap_wait: Duration,
}

impl ClientOptions {
    /// Default [`ClientOptions::request_timeout`]: 10 s.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`ClientOptions::ping_interval`]: 20 s.
    pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
    /// Default first reconnect delay: 100 ms.
    pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(100);
    /// Default longest reconnect delay: 5 s.
    pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
    /// Default [`ClientOptions::gap_wait`]: 500 ms.
    pub const DEFAULT_GAP_WAIT: Duration = Duration::from_millis(500);

    /// Options for logging in as `user_id` with `user_sig` at `url` (e.g.
    /// `ws://127.0.0.1:8080/ws`), with every knob at its default.
    pub fn new(
        url: impl Into<String>,
        user_id: impl Into<String>,
        user_sig: impl Into<String>,
    ) -> Self {
        Self {
            urls: vec![url.into()],
            user_id: user_id.into(),
            user_sig: user_sig.into(),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            ping_interval: Self::DEFAULT_PING_INTERVAL,
            backoff_initial: Self::DEFAULT_BACKOFF_INITIAL,
            backoff_max: Self::DEFAULT_BACKOFF_MAX,
            auto_reconnect: true,
            gap_wait: Self::DEFAULT_GAP_WAIT,
        }
    }

    /// How long a call waits for its answer, including any wait for a reconnection, before
    /// failing with [`crate::SdkError::Timeout`]. Also bounds connecting plus logging in.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How often the client pings the server. A connection that stays silent for two intervals
    /// is considered lost.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The reconnect delays: `initial`, doubling after each failed attempt up to `max`. Each delay
    /// is randomised down to as little as half its value, so that many clients do not all
    /// reconnect at the same instant.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }

    /// Whether to reconnect by itself when the connection drops (default `true`). When `false`,
    /// a dropped connection ends the client: the event stream reports
    /// [`crate::SdkEvent::ConnectionLost`] and then ends, and calls fail with
    /// [`crate::SdkError::Disconnected`].
    pub fn auto_reconnect(mut self, enabled: bool) -> Self {
        self.auto_reconnect = enabled;
        self
    }

    /// How long a message whose predecessors in its conversation have not arrived waits for
    /// them (a push overtaken by a later one, e.g. from another node of a cluster) before the
    /// client fetches them from history. Messages of that conversation after it wait too; other
    /// conversations do not. A longer wait asks history less often when pushes are merely late;
    /// a shorter one delays a conversation less when a push was lost.
    pub fn gap_wait(mut self, wait: Duration) -> Self {
        self.gap_wait = wait;
        self
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.urls[0]
    }

    /// Other nodes of the same cluster, tried in turn when the current one cannot be reached:
    /// at the first connection, and on each reconnect after the first attempt failed. A client
    /// whose node goes away carries on, with its session and catch-up, on another.
    ///
    /// ```
    /// use tidings_sdk::ClientOptions;
    ///
    /// let options = ClientOptions::new("ws://10.0.0.1:8080/ws", "alice", "<UserSig>")
    ///     .fallback_urls(["ws://10.0.0.2:8080/ws", "ws://10.0.0.3:8080/ws"]);
    /// assert_eq!(options.urls().len(), 3);
    /// ```
    pub fn fallback_urls(mut self, urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.urls.extend(urls.into_iter().map(Into::into));
        self
    }

    /// Every URL: [`ClientOptions::url`] first, then the fallbacks.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The user logging in.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl fmt::Debug for ClientOptions {
    /// Shows everything but the UserSig, which is a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("urls", &self.urls)
            .field("user_id", &self.user_id)
            .field("user_sig", &"<redacted>")
            .field("request_timeout", &self.request_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("auto_reconnect", &self.auto_reconnect)
            .field("gap_wait", &self.gap_wait)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_user_sig() {
        let options = ClientOptions::new("ws://h/ws", "alice", "secret-sig");
        let shown = format!("{options:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("secret-sig"));
    }

    #[test]
    fn backoff_max_is_never_below_initial() {
        let options = ClientOptions::new("ws://h/ws", "a", "s")
            .reconnect_backoff(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(options.backoff_max, Duration::from_secs(2));
    }
}
