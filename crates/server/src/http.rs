//! The HTTP router: `/ws`, the REST API under `/v4/`, `/healthz` (readiness), `/livez` (liveness), `/metrics`, and the web chat (`/`, `/demo/usersig`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::gateway;
use crate::rest;
use crate::state::AppState;
use crate::web;

/// Builds the router over shared state; with `with_metrics` false, `/metrics` is left to
/// [`metrics_app`] on its own port.
pub(crate) fn app(state: AppState, with_metrics: bool) -> Router {
    let router = Router::new()
        .route("/ws", get(gateway::upgrade))
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/v4/{service}/{command}", post(rest::handle))
        .merge(web::routes());
    let router = if with_metrics {
        router.route("/metrics", get(metrics))
    } else {
        router
    };
    router.with_state(state)
}

/// The router of the separate metrics port: `/metrics` only.
pub(crate) fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Readiness: 200 while the node can take clients; 503 while every WebSocket connection is in
/// use, or while the store does not take writes (database unreachable, disk full), so that a
/// load balancer sends clients to another node until it recovers.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.connections.available_permits() == 0 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "connection limit reached\n",
        )
    } else if state.health.ready(state.tidings.store()).await {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
    }
}

/// Liveness: 200 whenever the process serves HTTP at all, whatever its readiness; a supervisor
/// restarts the process only when this stops answering.
async fn livez() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok\n")
}

async fn metrics(State(state): State<AppState>) -> String {
    metrics::gauge!("tidings_sessions_on_node").set(state.hub.session_count() as f64);
    state.metrics.render()
}
