//! The HTTP router: `/ws`, `/healthz` and `/metrics`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::gateway;
use crate::state::AppState;

/// Builds the router over shared state.
pub(crate) fn app(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(gateway::upgrade))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// 200 once the server is serving: the store was opened before the listener accepted.
async fn healthz() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok\n")
}

async fn metrics(State(state): State<AppState>) -> String {
    metrics::gauge!("tidings_sessions_on_node").set(state.hub.session_count() as f64);
    state.metrics.render()
}
