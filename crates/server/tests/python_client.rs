//! The acceptance check of the WebSocket protocol from the outside: `scripts/ws_client_check.py`,
//! a Python asyncio client written only from `docs/protocol.md` (PyPI `websockets`, UserSigs from
//! Tencent's `tls-sig-api-v2`), run against an in-process server on 127.0.0.1:0. It drives C2C and
//! group messages on several devices, exact unread counts, conversation-level read, the whole
//! read-receipt flow (late joiner, duplicate, leaver, pushes, pulls, member pages), disconnect,
//! reconnect and catch-up, and misuse with its error codes; see the script's docstring.
//!
//! Without the Python packages the test fails naming them, unless
//! `TIDINGS_SKIP_PYTHON_INTEROP=1`.

mod common;

use common::{PythonCheck, TestServer};

/// The SDKAppID of [`TestServer`] (the config default).
const SDKAPPID: u64 = 1_400_000_000;
/// The secret key of [`TestServer`].
const TEST_KEY: &str = "tidings-test-key";
/// The script, its imports and their pip packages (as pinned in `.ci/run`).
const CHECK: PythonCheck = PythonCheck {
    imports: "websockets.asyncio.client, TLSSigAPIv2",
    packages: "'websockets==17.4' 'tls-sig-api-v2==1.1'",
    script: "ws_client_check.py",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_written_from_the_protocol_doc_runs_the_whole_flow() {
    if CHECK.skipped().await {
        return;
    }
    let server = TestServer::start().await;
    let envs = vec![
        ("TIDINGS_URL", server.url.clone()),
        ("TIDINGS_SDKAPPID", SDKAPPID.to_string()),
        ("TIDINGS_SECRET_KEY", TEST_KEY.to_owned()),
        ("TIDINGS_USER_PREFIX", "wscheck".to_owned()),
    ];
    let stdout = CHECK.run(envs).await;
    assert!(
        stdout.contains("ws_client_check: all "),
        "the script ended without its summary:\n{stdout}"
    );
    println!("{stdout}");
}
