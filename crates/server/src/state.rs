//! State shared by every request handler.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use tidings_cluster::NatsBus;
use tidings_service::{Hub, Tidings};
use tidings_usersig::VerifiedSig;
use tokio::sync::{Semaphore, watch};

use crate::config::LimitsConfig;
use crate::demo_signer::DemoSigner;
use crate::error::WireError;
use crate::health::StoreHealth;
use crate::saved_settings::SavedSettings;
use crate::webhook::Webhooks;

/// Verifies UserSigs against the application's SDKAppID and key.
#[derive(Clone)]
pub struct Auth {
    /// The SDKAppID every UserSig must carry.
    pub sdkappid: u64,
    secret_key: Arc<str>,
    /// The App administrator account (REST API).
    pub admin: String,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("sdkappid", &self.sdkappid)
            .field("admin", &self.admin)
            .finish()
    }
}

impl Auth {
    /// Checks UserSigs of `sdkappid` signed with `secret_key`.
    pub fn new(sdkappid: u64, secret_key: &str, admin: &str) -> Self {
        Self {
            sdkappid,
            secret_key: Arc::from(secret_key),
            admin: admin.to_owned(),
        }
    }

    /// Verifies `user_sig` for `user_id` now.
    pub fn verify(&self, user_id: &str, user_sig: &str) -> Result<VerifiedSig, WireError> {
        Ok(tidings_usersig::verify(
            self.sdkappid,
            &self.secret_key,
            user_id,
            user_sig,
            tidings_service::now(),
        )?)
    }

    /// Makes a UserSig (for demos and tests).
    pub fn sign(&self, user_id: &str, expire_secs: u64) -> String {
        tidings_usersig::generate(
            self.sdkappid,
            &self.secret_key,
            user_id,
            expire_secs,
            tidings_service::now(),
        )
    }
}

/// Everything a connection or REST handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The services.
    pub tidings: Arc<Tidings>,
    /// This node's sessions.
    pub hub: Arc<Hub>,
    /// UserSig verification.
    pub auth: Auth,
    /// Protection limits.
    pub limits: LimitsConfig,
    /// Caps concurrent WebSocket connections.
    pub connections: Arc<Semaphore>,
    /// Admits WebSocket requests to processing, first come first served (Tokio's semaphore is
    /// fair), at most `limits.max_requests_in_progress` at once.
    pub requests: Arc<Semaphore>,
    /// Turns true when the server shuts down; sessions close their sockets.
    pub shutdown: watch::Receiver<bool>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Webhook delivery (its settings change at runtime over REST).
    pub webhooks: Arc<Webhooks>,
    /// The config file's read-receipt and webhook settings, which changes made over REST are
    /// saved beside (`saved_settings.rs`).
    pub saved_settings: Arc<SavedSettings>,
    /// Demo mode: `POST /demo/usersig` signs UserSigs for anyone (see [`crate::Config::demo`]),
    /// within a rate limit and, unless public, only for requests addressed to loopback.
    pub demo: Option<Arc<DemoSigner>>,
    /// The store's readiness, for `/healthz`.
    pub health: Arc<StoreHealth>,
    /// The cluster's bus, when this node is one of several: who is online on other nodes.
    pub cluster: Option<Arc<NatsBus>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}
