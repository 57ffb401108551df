//! The Tidings server edge: the only crate that knows HTTP, WebSocket and JSON framing.
//!
//! [`Server::open`] builds the store, bus, hub and services from a [`Config`];
//! [`Server::serve`] runs the one HTTP port on a listener the caller bound (tests bind
//! `127.0.0.1:0`) until the shutdown future resolves ([`Server::serve_with_metrics`] also
//! serves `/metrics` on a port of its own). [`Server::app`] is the pure router.

pub mod config;
mod data_dir;
mod demo_signer;
mod error;
pub mod fuzzing;
mod gateway;
mod health;
mod http;
mod listen;
mod rate;
mod rest;
mod saved_settings;
mod state;
mod tencent;
mod web;
pub mod webhook;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tidings_cluster::NatsBus;
use tidings_service::{Bus, Callbacks, Hub, Limits, LocalBus, Tidings};
use tidings_store::{OpenedStore, StorageStats, open_store};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub use config::{Config, ConfigError};
pub use data_dir::LOCK_FILE;
pub use demo_signer::DemoSigner;
pub use error::WireError;
pub use saved_settings::SavedSettings;
pub use state::{AppState, Auth};
pub use web::{DEMO_GROUP, DEMO_GROUP_NAME, DEMO_USERS, seed_demo};
pub use webhook::{WebhookSettings, Webhooks};

/// Socket read buffer of each WebSocket connection. Tungstenite zero-fills the whole buffer
/// before each read, and axum's default is 128 KiB: 8 KiB keeps an idle connection near 20 KiB
/// of memory and the zero-fill off the CPU profile, while a 64 KiB frame still arrives in a few
/// reads. Public so that the load generator's echo baseline mirrors it.
pub const WS_READ_BUFFER_BYTES: usize = 8 * 1024;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] tidings_store::StoreError),
    /// The cluster bus could not be joined.
    #[error(transparent)]
    Cluster(#[from] tidings_cluster::ClusterError),
    /// Serving failed.
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A configured server, ready to serve.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    storage: Arc<dyn StorageStats>,
    stop: watch::Sender<bool>,
    gate: Arc<listen::Gate>,
    /// `/metrics` is served on its own listener, not the client port.
    separate_metrics: bool,
    generated_key: bool,
    /// The data directory's lock, held while the server exists.
    _data_dir: data_dir::DataDir,
}

/// What [`Server::open`] builds besides the data directory's lock.
struct Parts {
    state: AppState,
    storage: Arc<dyn StorageStats>,
    stop: watch::Sender<bool>,
    gate: Arc<listen::Gate>,
    generated_key: bool,
}

/// A node ID for a node started without one: unique enough among a cluster's nodes.
fn generated_node_id() -> String {
    format!("node-{:08x}", rand::random::<u32>())
}

/// What a node of a cluster does when another changed the settings: reload them from the store
/// and apply them, as the node that changed them did. (It holds the services weakly: the bus
/// that calls it is theirs.)
fn settings_reloader(
    tidings: std::sync::Weak<Tidings>,
    webhooks: Arc<Webhooks>,
    saved: Arc<SavedSettings>,
) -> impl Fn() + Send + Sync + 'static {
    move || {
        let (tidings, webhooks, saved) =
            (tidings.clone(), Arc::clone(&webhooks), Arc::clone(&saved));
        tokio::spawn(async move {
            let Some(tidings) = tidings.upgrade() else {
                return;
            };
            let _changing = saved.changing().await;
            match saved.in_force(tidings.store().as_ref()).await {
                Ok((receipts, webhook)) => {
                    // Webhooks first: whoever sees receipts follow a change of both sees
                    // webhooks follow it too.
                    webhooks.set_settings(webhook);
                    tidings.set_read_receipt_settings(receipts);
                    tracing::info!("settings reloaded: another node changed them");
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot reload the settings another node changed")
                }
            }
        });
    }
}

/// Connections the separate metrics port takes at once (scrapers, not clients).
const METRICS_CONNECTIONS: usize = 64;

/// How often the recorder's histogram samples are folded into their summaries.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let Ok(handle) = PrometheusBuilder::new().install_recorder() else {
                // Another recorder is installed (an embedding application's): render an empty one.
                return PrometheusBuilder::new().build_recorder().handle();
            };
            // The recorder keeps every histogram sample (one per request) until upkeep or a
            // scrape drains them: without this, a server nobody scrapes grows without bound.
            // A thread, not a task, because the handle outlives any one runtime.
            let upkeep = handle.clone();
            let started = std::thread::Builder::new()
                .name("tidings-metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = started {
                tracing::warn!(error = %e, "cannot start metrics upkeep; /metrics scrapes will drain samples");
            }
            handle
        })
        .clone()
}

impl Server {
    /// Opens the configured store (embedded SQLite in `config.data_dir` by default) and builds
    /// the services. Must run inside a Tokio runtime. The data directory is locked for as long
    /// as the server exists: a second server on it is refused ([`ConfigError::DataDirInUse`]).
    /// When opening fails, a data directory that was new or empty is left as it was.
    pub async fn open(config: &Config) -> Result<Self, ServerError> {
        config.validate()?;
        let data_dir = data_dir::DataDir::acquire(&config.data_dir)?;
        match Self::build(config).await {
            Ok(parts) => Ok(Self {
                state: parts.state,
                storage: parts.storage,
                stop: parts.stop,
                gate: parts.gate,
                separate_metrics: config.metrics_listen.is_some(),
                generated_key: parts.generated_key,
                _data_dir: data_dir,
            }),
            Err(error) => {
                data_dir.discard_if_fresh();
                Err(error)
            }
        }
    }

    /// Everything [`Server::open`] builds once the data directory is held.
    async fn build(config: &Config) -> Result<Parts, ServerError> {
        let (secret_key, generated_key) = config.resolve_secret_key()?;
        let OpenedStore {
            store,
            stats: storage,
        } = open_store(&config.store_config()?).await?;
        let hub = Arc::new(Hub::new(config.limits.max_devices_per_user));
        let (bus, cluster): (Arc<dyn Bus>, _) = match &config.bus.url {
            Some(url) => {
                let node = config.bus.node_id.clone().unwrap_or_else(generated_node_id);
                let nats = Arc::new(
                    NatsBus::connect(url, &node, config.sdkappid, Arc::clone(&hub)).await?,
                );
                (nats.clone(), Some(nats))
            }
            None => (Arc::new(LocalBus::new(Arc::clone(&hub))), None),
        };
        let limits = Limits {
            max_group_members: config.limits.max_group_members,
            max_groups_created_per_user: config.limits.max_groups_created_per_user,
            max_groups_joined_per_user: config.limits.max_groups_joined_per_user,
            receipt_window: Duration::from_millis(config.read_receipts.notify_window_ms),
            revoke_time_limit: Duration::from_secs(config.limits.revoke_time_limit_secs),
        };
        let (saved_settings, receipts, webhook) = SavedSettings::load(
            store.as_ref(),
            config.read_receipts.settings(),
            config.webhook.clone(),
        )
        .await?;
        let webhooks = Webhooks::start(webhook, config.sdkappid, config.limits.webhook_queue);
        let callbacks: Arc<dyn Callbacks> = webhooks.clone();
        let tidings = Tidings::new(store, bus, receipts, limits, callbacks);
        webhooks.attach(&tidings);
        tidings.watch_presence(Arc::clone(&hub));
        if let Some(cluster) = &cluster {
            cluster.attach_notifier(tidings.receipt_notifier().routed());
        }
        let saved_settings = Arc::new(saved_settings);
        if let Some(cluster) = &cluster {
            cluster.on_settings_changed(settings_reloader(
                Arc::downgrade(&tidings),
                Arc::clone(&webhooks),
                Arc::clone(&saved_settings),
            ));
        }
        let caps = listen::ConnectionCaps::for_this_process(config.limits.max_connections);
        if caps.websockets < config.limits.max_connections {
            tracing::warn!(
                configured = config.limits.max_connections,
                allowed = caps.websockets,
                "the open-file limit allows fewer WebSocket connections than configured; raise ulimit -n"
            );
        }
        let (stop, shutdown) = watch::channel(false);
        let state = AppState {
            tidings,
            hub,
            auth: Auth::new(config.sdkappid, &secret_key, &config.admin),
            limits: config.limits.clone(),
            connections: Arc::new(Semaphore::new(caps.websockets)),
            requests: Arc::new(Semaphore::new(config.limits.max_requests_in_progress)),
            shutdown,
            metrics: metrics_handle(),
            webhooks,
            saved_settings,
            demo: config
                .demo
                .then(|| Arc::new(DemoSigner::new(config.demo_public))),
            health: Arc::default(),
            cluster,
        };
        Ok(Parts {
            state,
            storage,
            stop,
            gate: listen::Gate::new(caps.open, config.limits.max_connections_per_ip),
            generated_key,
        })
    }

    /// Whether the secret key was generated by this start (first start without a key).
    pub fn generated_key(&self) -> bool {
        self.generated_key
    }

    /// The shared state (UserSig signing for demos and tests, services).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The store's storage measurements (for benchmarks).
    pub fn storage_stats(&self) -> &Arc<dyn StorageStats> {
        &self.storage
    }

    /// The HTTP router of the client port (with `/metrics` unless `metrics_listen` is set).
    pub fn app(&self) -> axum::Router {
        http::app(self.state.clone(), !self.separate_metrics)
    }

    /// Serves until `shutdown` resolves, then closes every WebSocket session and waits for
    /// every connection to end (at most 10 s), so that each client got its close frame before
    /// this returns and the process exits.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        self.serve_with_metrics(listener, None, shutdown).await
    }

    /// Like [`Server::serve`], and serves `/metrics` alone on `metrics` (bound by the caller to
    /// `metrics_listen`) until the same shutdown.
    pub async fn serve_with_metrics(
        self,
        listener: TcpListener,
        metrics: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = self.app();
        let header_timeout = Duration::from_millis(self.state.limits.http_header_timeout_ms);
        let metrics = metrics.map(|metrics_listener| {
            let mut stopping = self.stop.subscribe();
            tokio::spawn(listen::serve(
                metrics_listener,
                http::metrics_app(self.state.clone()),
                listen::Gate::new(METRICS_CONNECTIONS, 0),
                header_timeout,
                async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                },
            ))
        });
        let stop = self.stop;
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        let cluster = self.state.cluster.clone();
        let signal = async move {
            shutdown.await;
            // The others stop counting on this node before its clients come to them.
            if let Some(cluster) = cluster {
                cluster.leave().await;
            }
            let _ = stop.send(true);
            let _ = closed_tx.send(());
        };
        let serving = tokio::spawn(listen::serve(
            listener,
            app,
            self.gate,
            header_timeout,
            signal,
        ));
        let _ = closed_rx.await;
        if let Some(metrics) = metrics {
            // Scrapes are short; one still running when the clients' port closes may be cut.
            let _ = tokio::time::timeout(Duration::from_secs(1), metrics).await;
        }
        match tokio::time::timeout(Duration::from_secs(10), serving).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(join)) => Err(ServerError::Io(std::io::Error::other(join))),
            Err(_) => {
                tracing::warn!("connections still open 10 s after shutdown; stopping anyway");
                Ok(())
            }
        }
    }
}

/// Sends small frames at once. With Nagle's algorithm a push or response written while an
/// earlier segment awaits its (delayed) ACK waits for it: tens of milliseconds per frame.
pub fn disable_nagle(stream: &mut tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
}
