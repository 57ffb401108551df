//! Server configuration: the TOML file format, defaults, and the generated secret key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tidings_proto::GroupType;
use tidings_service::ReadReceiptSettings;

use crate::webhook::WebhookSettings;

/// Everything `tidings serve` can be told. Loaded from TOML; command-line flags and
/// environment variables override fields afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the one HTTP port (WebSocket `/ws`, REST `/v4/`, `/healthz`, and `/metrics`
    /// unless `metrics_listen` is set).
    pub listen: SocketAddr,
    /// A separate address for `/metrics`, which then leaves the client port. In production
    /// keep it on an address clients cannot reach.
    pub metrics_listen: Option<SocketAddr>,
    /// Directory of the embedded database and the generated secret key.
    pub data_dir: PathBuf,
    /// The application's SDKAppID, checked in every UserSig.
    pub sdkappid: u64,
    /// The UserSig signing key; generated into the data directory when absent.
    pub secret_key: Option<String>,
    /// The App administrator account allowed to call the REST API.
    pub admin: String,
    /// Read-receipt switches.
    pub read_receipts: ReadReceiptConfig,
    /// The store: embedded SQLite by default, or PostgreSQL.
    pub store: StoreConfig,
    /// The bus between the nodes of a cluster (absent: one node on its own).
    pub bus: BusConfig,
    /// Protection limits.
    pub limits: LimitsConfig,
    /// Webhook (third-party callback) URL and token; changeable at runtime over REST.
    pub webhook: WebhookSettings,
    /// Demo mode: `POST /demo/usersig` hands out a UserSig for any user, and demo users and a
    /// demo group are created at start. Never on a server reachable by untrusted users.
    pub demo: bool,
    /// Demo mode on an address other than loopback: without it, such a start is refused, as
    /// anyone who reaches the port could sign in as any user.
    pub demo_public: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            data_dir: PathBuf::from("./tidings-data"),
            sdkappid: 1_400_000_000,
            secret_key: None,
            admin: "administrator".into(),
            read_receipts: ReadReceiptConfig::default(),
            store: StoreConfig::default(),
            bus: BusConfig::default(),
            limits: LimitsConfig::default(),
            webhook: WebhookSettings::default(),
            demo: false,
            demo_public: false,
        }
    }
}

/// `[read_receipts]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadReceiptConfig {
    /// Off: every receipt method answers 7013.
    pub enabled: bool,
    /// Group types whose messages may ask for receipts (never AVChatRoom).
    pub group_types: Vec<GroupType>,
    /// Group receipt notifications to a sender are coalesced over this many milliseconds.
    pub notify_window_ms: u64,
}

impl Default for ReadReceiptConfig {
    fn default() -> Self {
        let settings = ReadReceiptSettings::default();
        Self {
            enabled: settings.enabled,
            group_types: settings.group_types,
            notify_window_ms: 100,
        }
    }
}

impl ReadReceiptConfig {
    /// The runtime settings these start from.
    pub fn settings(&self) -> ReadReceiptSettings {
        ReadReceiptSettings {
            enabled: self.enabled,
            group_types: self.group_types.clone(),
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Which engine: absent or `sqlite:PATH` for the embedded one (in the data directory when
    /// absent), `postgres://…` or `postgresql://…` for PostgreSQL.
    pub url: Option<String>,
    /// `full` (acknowledged writes survive power loss) or `normal` (they survive a killed
    /// process; on PostgreSQL `synchronous_commit = off`: a crash of the database server may
    /// lose its last fraction of a second of commits).
    pub synchronous: String,
    /// PostgreSQL: most connections this node opens.
    pub pool_size: usize,
    /// PostgreSQL: milliseconds a statement may run, or a request wait for a connection, before
    /// it fails instead of hanging.
    pub statement_timeout_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let engine =
            tidings_store::StoreConfig::new(tidings_store::StoreUrl::Postgres(String::new()));
        Self {
            url: None,
            synchronous: "full".into(),
            pool_size: engine.pool_size,
            statement_timeout_ms: engine.statement_timeout.as_millis() as u64,
        }
    }
}

/// `[bus]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `nats://HOST:PORT` of the NATS server the cluster's nodes share; absent, the node runs
    /// alone and delivers in process.
    pub url: Option<String>,
    /// This node's name in the cluster, unique among its nodes; generated at start when absent.
    pub node_id: Option<String>,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sustained requests per second per connection.
    pub requests_per_second: u32,
    /// Requests a connection may burst above the sustained rate.
    pub request_burst: u32,
    /// Concurrent WebSocket connections. Lowered at start to what the process's open-file limit
    /// allows, leaving descriptors for the store, webhooks and plain HTTP requests.
    pub max_connections: usize,
    /// Open TCP connections (HTTP and WebSocket) from one client address; 0 for no cap. Behind
    /// a reverse proxy every client has the proxy's address: raise it or set 0 there.
    pub max_connections_per_ip: usize,
    /// WebSocket requests being processed at once, server-wide. Requests beyond it wait, and
    /// are let in in arrival order, so that under load every request waits about as long.
    pub max_requests_in_progress: usize,
    /// Sessions per user; a new login beyond it logs out the oldest.
    pub max_devices_per_user: usize,
    /// Members per group.
    pub max_group_members: u64,
    /// Existing groups one user may own; creating another is refused (10037).
    pub max_groups_created_per_user: u64,
    /// Groups one user may belong to; joining another is refused (10037), an invitation
    /// answers 4 for that user. It also bounds what a user's group listings read.
    pub max_groups_joined_per_user: u64,
    /// Seconds after sending during which a sender may recall a message (`revokeMessage`;
    /// Tencent's default). Group owners and admins, and the App administrator, may at any time.
    pub revoke_time_limit_secs: u64,
    /// Pushes queued per connection before a slow connection is closed.
    pub outbound_queue: usize,
    /// Bytes of push frames queued per connection before a slow connection is closed (1008),
    /// whatever their number: large pushes to a client that does not read must not pile up.
    pub outbound_queue_bytes: usize,
    /// Webhook events queued before new ones are dropped (and counted).
    pub webhook_queue: usize,
    /// Milliseconds a REST request's body may take to arrive, counted once the request is
    /// authenticated; a slower body is refused, so a stalled client holds no buffer for long.
    pub http_body_timeout_ms: u64,
    /// Milliseconds a WebSocket connection may stay logged out (from its upgrade, or from its
    /// last logout) before it is closed (1008): an idle socket that never logs in costs a file
    /// descriptor and a task.
    pub login_timeout_ms: u64,
    /// Milliseconds of silence from a WebSocket client after which the server pings it; a
    /// client that stays silent for another such interval (no pong) is closed (1008).
    pub ping_interval_ms: u64,
    /// Milliseconds a WebSocket frame may take to be written: a connection that does not read
    /// is closed (1008) past it, and the pushes queued for it are freed.
    pub write_timeout_ms: u64,
    /// Milliseconds an HTTP request's head may take to arrive, counted from the connection's
    /// start or from its previous response: it closes half-sent headers (slowloris) and idle
    /// keep-alive connections.
    pub http_header_timeout_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 500,
            request_burst: 1000,
            max_connections: 200_000,
            max_connections_per_ip: 1000,
            max_requests_in_progress: 256,
            max_devices_per_user: 10,
            max_group_members: 100_000,
            max_groups_created_per_user: 500,
            max_groups_joined_per_user: 2_000,
            revoke_time_limit_secs: 120,
            outbound_queue: 4096,
            outbound_queue_bytes: 4 * 1024 * 1024,
            webhook_queue: 10_000,
            http_body_timeout_ms: 10_000,
            login_timeout_ms: 10_000,
            ping_interval_ms: 30_000,
            write_timeout_ms: 10_000,
            http_header_timeout_ms: 10_000,
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: toml::de::Error,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The data directory or key file could not be written.
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another server holds the data directory (the embedded store takes one writer).
    #[error(
        "data directory {} is in use by another tidings server (it holds {})",
        .path.display(),
        .lock.display()
    )]
    DataDirInUse {
        /// The directory.
        path: PathBuf,
        /// The lock file the other server holds.
        lock: PathBuf,
    },
}

impl Config {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The engine and its options, as the store opens them.
    pub fn store_config(&self) -> Result<tidings_store::StoreConfig, ConfigError> {
        let url = tidings_store::StoreUrl::parse(self.store.url.as_deref(), &self.data_dir)
            .map_err(ConfigError::Invalid)?;
        let mut config = tidings_store::StoreConfig::new(url);
        config.synchronous = if self.store.synchronous == "normal" {
            tidings_store::Synchronous::Normal
        } else {
            tidings_store::Synchronous::Full
        };
        config.pool_size = self.store.pool_size;
        config.statement_timeout =
            std::time::Duration::from_millis(self.store.statement_timeout_ms);
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.read_receipts
            .settings()
            .validate()
            .map_err(ConfigError::Invalid)?;
        if !tidings_proto::is_valid_id(&self.admin) {
            return Err(ConfigError::Invalid(format!(
                "admin {:?} is not a valid user ID",
                self.admin
            )));
        }
        if self.demo && !self.demo_public && !self.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "demo mode hands out UserSigs for any user, and {} is not a loopback address; \
                 pass --demo-public (demo_public = true) if anyone who can reach it may sign in",
                self.listen
            )));
        }
        self.webhook.validate().map_err(ConfigError::Invalid)?;
        if !matches!(self.store.synchronous.as_str(), "full" | "normal") {
            return Err(ConfigError::Invalid(format!(
                "store.synchronous must be \"full\" or \"normal\", not {:?}",
                self.store.synchronous
            )));
        }
        let store = self.store_config()?;
        if let Some(bus) = &self.bus.url {
            if !bus.starts_with("nats://") {
                return Err(ConfigError::Invalid(format!(
                    "bus URL {bus:?} is not nats://HOST:PORT"
                )));
            }
            if !store.url.is_shared() {
                return Err(ConfigError::Invalid(format!(
                    "a cluster (bus {bus}) needs a store its nodes share, not the embedded {}: \
                     add --store postgres://…",
                    store.url
                )));
            }
        }
        if let Some(node) = &self.bus.node_id
            && !tidings_cluster::is_valid_node_id(node)
        {
            return Err(ConfigError::Invalid(format!(
                "node ID {node:?} is not 1 to 64 ASCII letters, digits, '-' or '_'"
            )));
        }
        if self.store.pool_size == 0 || self.store.statement_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "store.pool_size and store.statement_timeout_ms must be positive".into(),
            ));
        }
        if self.limits.requests_per_second == 0
            || self.limits.outbound_queue == 0
            || self.limits.outbound_queue_bytes == 0
            || self.limits.max_requests_in_progress == 0
            || self.limits.http_body_timeout_ms == 0
            || self.limits.login_timeout_ms == 0
            || self.limits.ping_interval_ms == 0
            || self.limits.write_timeout_ms == 0
            || self.limits.http_header_timeout_ms == 0
        {
            return Err(ConfigError::Invalid("limits must be positive".into()));
        }
        Ok(())
    }

    /// The secret key: configured, or read from (or generated into) `<data_dir>/secret.key`.
    /// Returns the key and whether it was generated now.
    pub fn resolve_secret_key(&self) -> Result<(String, bool), ConfigError> {
        if let Some(key) = self.secret_key.as_ref().filter(|k| !k.is_empty()) {
            return Ok((key.clone(), false));
        }
        let path = self.data_dir.join("secret.key");
        let data_dir_error = |source| ConfigError::DataDir {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(key) if !key.trim().is_empty() => return Ok((key.trim().to_owned(), false)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(data_dir_error(e)),
        }
        std::fs::create_dir_all(&self.data_dir).map_err(data_dir_error)?;
        let key: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        write_private(&path, &key).map_err(data_dir_error)?;
        Ok((key, true))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_url_chooses_the_engine() {
        let mut config = Config {
            data_dir: PathBuf::from("/data"),
            ..Config::default()
        };
        assert_eq!(
            config.store_config().unwrap().url,
            tidings_store::StoreUrl::Sqlite(PathBuf::from("/data/tidings.db"))
        );
        config.store.url = Some("postgresql://tidings@db:5432/chat".into());
        config.store.pool_size = 3;
        config.store.statement_timeout_ms = 1500;
        let store = config.store_config().unwrap();
        assert_eq!(
            store.url,
            tidings_store::StoreUrl::Postgres("postgresql://tidings@db:5432/chat".into())
        );
        assert_eq!(
            (store.pool_size, store.statement_timeout),
            (3, std::time::Duration::from_millis(1500))
        );
        config.store.url = Some("mysql://x".into());
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn a_full_config_file_parses() {
        let config: Config = toml::from_str(
            r#"
            listen = "127.0.0.1:9000"
            data_dir = "/tmp/x"
            sdkappid = 1400000001
            secret_key = "k"
            admin = "root"
            [read_receipts]
            enabled = false
            group_types = ["Work", "Community"]
            notify_window_ms = 50
            [store]
            synchronous = "normal"
            [limits]
            requests_per_second = 10
            "#,
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert!(!config.read_receipts.enabled);
        assert_eq!(config.read_receipts.notify_window_ms, 50);
        assert_eq!(config.limits.requests_per_second, 10);
        assert_eq!(
            config.limits.request_burst,
            LimitsConfig::default().request_burst
        );
        config.validate().unwrap();
    }

    #[test]
    fn the_example_config_lists_the_defaults() {
        let example: Config =
            toml::from_str(include_str!("../../../docs/config.example.toml")).unwrap();
        assert_eq!(example, Config::default());
    }

    #[test]
    fn demo_mode_on_a_reachable_address_needs_demo_public() {
        let mut config = Config {
            demo: true,
            ..Config::default()
        };
        config.validate().unwrap();
        config.listen = "0.0.0.0:8080".parse().unwrap();
        let refused = config.validate().unwrap_err().to_string();
        assert!(refused.contains("--demo-public"), "{refused}");
        config.demo_public = true;
        config.validate().unwrap();
        config.demo = false;
        config.demo_public = false;
        config.validate().unwrap();
    }

    #[test]
    fn an_https_or_hostless_webhook_url_is_refused_at_start() {
        for (url, accepted) in [
            ("", true),
            ("http://127.0.0.1:9000/hook?x=1", true),
            ("https://hooks.example.com/im", false),
            ("ftp://hooks.example.com/im", false),
            ("http://", false),
            ("hooks.example.com/im", false),
        ] {
            let mut config = Config::default();
            config.webhook.url = url.into();
            assert_eq!(config.validate().is_ok(), accepted, "{url}");
        }
    }

    #[test]
    fn unknown_keys_and_avchatroom_receipts_are_refused() {
        assert!(toml::from_str::<Config>("listn = \"x\"").is_err());
        let config: Config =
            toml::from_str("[read_receipts]\ngroup_types = [\"AVChatRoom\"]").unwrap();
        assert!(config.validate().is_err());
    }

    #[test]
    fn the_generated_key_is_kept_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let (first, generated) = config.resolve_secret_key().unwrap();
        assert!(generated);
        let (second, generated) = config.resolve_secret_key().unwrap();
        assert!(!generated);
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
    }
}
