//! Fuzzes the REST API's body decoding through the real router, on a server with a temporary
//! SQLite store, as the administrator: the input is `<service>/<command>` on its first line and
//! the request body after it. Every reply must be HTTP 200 with Tencent's JSON envelope, and
//! nothing may panic. The settings endpoints are left out: fuzzed webhook URLs would make the
//! server post elsewhere.

#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tidings_server::{Config, Server};
use tower_service::Service;

/// The server, kept for the whole run (each input adds to its store).
struct Target {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    /// The administrator's authentication query string.
    query: String,
    _dir: tempfile::TempDir,
}

static TARGET: LazyLock<Target> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        secret_key: Some("fuzz-key".into()),
        ..Config::default()
    };
    config.data_dir = dir.path().to_owned();
    config.store.synchronous = "normal".into();
    let server = runtime
        .block_on(Server::open(&config))
        .expect("server opens");
    let auth = &server.state().auth;
    let query = format!(
        "sdkappid={}&identifier={}&usersig={}&random=1&contenttype=json",
        config.sdkappid,
        auth.admin,
        auth.sign(&auth.admin, 86_400)
    );
    Target {
        app: server.app(),
        runtime,
        query,
        _dir: dir,
    }
});

fuzz_target!(|data: &[u8]| {
    let target = &*TARGET;
    let (path, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &[][..]),
    };
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    let path_is_plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/');
    if !path_is_plain || path.starts_with("tidings/") {
        return;
    }
    let request = Request::post(format!("/v4/{path}?{}", target.query))
        .body(Body::from(body.to_vec()))
        .expect("request");
    let mut app = target.app.clone();
    let response = target.runtime.block_on(async move {
        let response = app.call(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, bytes)
    });
    let (status, bytes) = response;
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() != 2 || parts.iter().any(|part| part.is_empty()) {
        // Not `/v4/<service>/<command>`: the router's 404.
        return;
    }
    assert_eq!(status, StatusCode::OK, "{path}: {bytes:?}");
    let reply: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON reply");
    assert!(reply["ErrorCode"].is_u64(), "{path}: {reply}");
    assert_ne!(
        reply["ErrorCode"], 6999,
        "{path}: an internal error from a request body: {reply}"
    );
});
