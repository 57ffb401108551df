//! Test support shared by the full-server tests: an in-process server on 127.0.0.1:0 with a
//! temporary store, SDK clients, REST calls as the administrator, and a raw WebSocket client for
//! frame-level tests.
//!
//! The store is SQLite in the temporary data directory, or, when `TIDINGS_TEST_STORE` names a
//! PostgreSQL server (`postgres://user@host:port/database`, a user that may create databases),
//! a scratch database of its own on that server, kept across the test's restarts.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tidings_sdk::{Client, Events, SdkEvent};
use tidings_server::{Auth, Config, Server};
use tidings_store::scratch::ScratchDatabase;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected frame or event before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// What a test server keeps between restarts: its data directory and, on PostgreSQL, its
/// database.
pub struct TestData {
    pub dir: tempfile::TempDir,
    pub database: Option<ScratchDatabase>,
}

impl TestData {
    /// An empty data directory, and an empty database when `TIDINGS_TEST_STORE` asks for one.
    pub async fn new() -> Self {
        let database = ScratchDatabase::for_test_store().await;
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            database,
        }
    }

    /// Points `config` at this data.
    pub fn configure(&self, config: &mut Config) {
        config.data_dir = self.dir.path().to_owned();
        config.store.url = self.database.as_ref().map(|db| db.url().to_owned());
        // Tests run side by side within PostgreSQL's default 100 connections.
        config.store.pool_size = 4;
    }
}

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub auth: Auth,
    pub data: TestData,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server with test defaults: fast receipt window, `normal` sync.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose config `adjust` may change.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_in(TestData::new().await, adjust).await
    }

    /// A server on existing data (for restart tests).
    pub async fn start_in(data: TestData, adjust: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::launch(listener, data, adjust).await
    }

    /// Opens a server with test defaults (adjusted) and serves it on `listener`.
    async fn launch(
        listener: tokio::net::TcpListener,
        data: TestData,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config {
            secret_key: Some("tidings-test-key".into()),
            ..Config::default()
        };
        data.configure(&mut config);
        config.store.synchronous = "normal".into();
        config.read_receipts.notify_window_ms = 20;
        adjust(&mut config);
        let server = Server::open(&config).await.expect("server opens");
        let auth = server.state().auth.clone();
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
        });
        Self {
            addr,
            url: format!("ws://{addr}/ws"),
            auth,
            data,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A valid UserSig for `user`.
    pub fn sig(&self, user: &str) -> String {
        self.auth.sign(user, 3600)
    }

    /// Calls the REST API's `path` (`service/command`) as the App administrator with `body`;
    /// the reply's JSON.
    pub async fn rest(&self, path: &str, body: Value) -> Value {
        let url = format!(
            "http://{}/v4/{path}?sdkappid=1400000000&identifier=administrator&usersig={}\
             &random=1&contenttype=json",
            self.addr,
            self.sig("administrator")
        );
        let response = reqwest::Client::new()
            .post(&url)
            .body(body.to_string())
            .send()
            .await
            .expect("HTTP");
        response.json().await.expect("JSON reply")
    }

    /// A logged-in SDK client.
    pub async fn client(&self, user: &str) -> (Client, Events) {
        Client::connect(&self.url, user, &self.sig(user))
            .await
            .expect("SDK connects and logs in")
    }

    /// A raw WebSocket connection (not logged in).
    pub async fn raw(&self) -> Raw {
        let (ws, _) = tokio_tungstenite::connect_async(self.url.as_str())
            .await
            .expect("ws connects");
        Raw {
            ws,
            next_id: 1,
            pushes: Vec::new(),
        }
    }

    /// A raw connection logged in as `user`.
    pub async fn raw_login(&self, user: &str) -> Raw {
        let mut raw = self.raw().await;
        let response = raw
            .call("login", json!({"userID": user, "userSig": self.sig(user)}))
            .await;
        assert_eq!(response["code"], 0, "login failed: {response}");
        raw
    }

    /// Stops the server gracefully and returns its data.
    pub async fn stop(mut self) -> TestData {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        TestData {
            dir: std::mem::replace(&mut self.data.dir, tempfile::tempdir().expect("temp dir")),
            database: self.data.database.take(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A raw WebSocket client speaking JSON frames; pushes that arrive while waiting for a
/// response are kept in `pushes`.
pub struct Raw {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    pub pushes: Vec<Value>,
}

impl Raw {
    /// Sends a text frame as is.
    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next JSON text frame.
    pub async fn next_frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait")
                .expect("connection open")
                .expect("frame readable");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).expect("JSON frame");
                }
                Message::Close(frame) => panic!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next response frame (pushes before it are kept).
    pub async fn next_response(&mut self) -> Value {
        loop {
            let frame = self.next_frame().await;
            if frame.get("event").is_some() {
                self.pushes.push(frame);
            } else {
                return frame;
            }
        }
    }

    /// Sends a request and returns its response (asserting the id matches).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send_text(&json!({"id": id, "method": method, "params": params}).to_string())
            .await;
        let response = self.next_response().await;
        assert_eq!(response["id"], id, "response id for {method}: {response}");
        response
    }

    /// Waits for a push named `event` (earlier kept pushes count), removing and returning it.
    pub async fn push(&mut self, event: &str) -> Value {
        if let Some(index) = self.pushes.iter().position(|p| p["event"] == event) {
            return self.pushes.remove(index);
        }
        loop {
            let frame = self.next_frame().await;
            if frame["event"] == event {
                return frame;
            }
            if frame.get("event").is_some() {
                self.pushes.push(frame);
            }
        }
    }
}

/// Waits for the first SDK event `pick` accepts, skipping others.
pub async fn next_event<T>(events: &mut Events, mut pick: impl FnMut(SdkEvent) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.next().await.expect("event stream open");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("expected event within the wait")
}

/// Every SDK event up to and including the first one `last` accepts.
///
/// This is also how a test shows that a push did not happen: it causes a later push on the same
/// path (a marker) and checks the events before it. Pushes to one session arrive in the order
/// they were published, so an unwanted push published before the marker would be among them.
pub async fn events_until(
    events: &mut Events,
    mut last: impl FnMut(&SdkEvent) -> bool,
) -> Vec<SdkEvent> {
    tokio::time::timeout(WAIT, async {
        let mut seen = Vec::new();
        loop {
            let event = events.recv().await.expect("event stream open");
            let done = last(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    })
    .await
    .expect("expected event within the wait")
}

impl TestServer {
    /// A server on an existing data directory that listens on `addr`: restarts a stopped server
    /// on the same port, so that SDK clients reconnect to it by themselves. Binding is retried
    /// for a while, as the stopped server's listener may take a moment to close.
    pub async fn start_at(addr: SocketAddr, data: TestData) -> Self {
        let deadline = tokio::time::Instant::now() + WAIT;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        Self::launch(listener, data, |_| {}).await
    }
}

/// A Python program a test runs against the server: the modules it imports, the pip packages
/// that provide them (as pinned in `.ci/run`), and the script under `scripts/`.
pub struct PythonCheck {
    pub imports: &'static str,
    pub packages: &'static str,
    pub script: &'static str,
}

impl PythonCheck {
    /// Whether the test must be skipped (`TIDINGS_SKIP_PYTHON_INTEROP=1`). Otherwise panics,
    /// naming the pip packages, when Python cannot import the modules.
    pub async fn skipped(&self) -> bool {
        if std::env::var("TIDINGS_SKIP_PYTHON_INTEROP").as_deref() == Ok("1") {
            eprintln!("skipped: TIDINGS_SKIP_PYTHON_INTEROP=1");
            return true;
        }
        let probe = vec!["-c".to_owned(), format!("import {}", self.imports)];
        match run_python(probe, Vec::new()).await {
            Ok(output) if output.status.success() => false,
            other => panic!(
                "python3 with these packages is needed: python3 -m pip install {} \
                 (or set TIDINGS_SKIP_PYTHON_INTEROP=1 to skip this test); probe: {other:?}",
                self.packages
            ),
        }
    }

    /// Runs the script with `envs`, asserts that it succeeded, and returns its standard output.
    pub async fn run(&self, envs: Vec<(&'static str, String)>) -> String {
        let script = format!(
            "{}/../../scripts/{}",
            env!("CARGO_MANIFEST_DIR"),
            self.script
        );
        let output = run_python(vec![script], envs)
            .await
            .expect("python3 starts");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "scripts/{} failed ({}):\n{stdout}\n{stderr}",
            self.script,
            output.status
        );
        stdout
    }
}

async fn run_python(
    args: Vec<String>,
    envs: Vec<(&'static str, String)>,
) -> std::io::Result<std::process::Output> {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(args)
            .envs(envs)
            .output()
    })
    .await
    .expect("python3 task runs")
}

/// The unread count of one of `client`'s conversations (0 when it is not listed).
pub async fn conversation_unread(client: &Client, conversation_id: &str) -> u64 {
    let list = client
        .get_conversation_list(0, 100)
        .await
        .expect("conversation list");
    list.conversation_list
        .iter()
        .find(|c| c.conversation_id == conversation_id)
        .map_or(0, |c| c.unread_count)
}
