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

use common::TestServer;

/// The SDKAppID of [`TestServer`] (the config default).
const SDKAPPID: u64 = 1_400_000_000;
/// The secret key of [`TestServer`].
const TEST_KEY: &str = "tidings-test-key";
/// The pip packages the script needs (as pinned in `.ci/run`).
const PYTHON_PACKAGES: &str = "'websockets==17.4' 'tls-sig-api-v2==1.1'";

fn run_python(args: &[&str], envs: &[(&str, String)]) -> std::io::Result<std::process::Output> {
    let mut command = std::process::Command::new("python3");
    command.args(args).envs(envs.iter().map(|(k, v)| (k, v)));
    command.output()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_written_from_the_protocol_doc_runs_the_whole_flow() {
    if std::env::var("TIDINGS_SKIP_PYTHON_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipped: TIDINGS_SKIP_PYTHON_INTEROP=1");
        return;
    }
    let probe = tokio::task::spawn_blocking(|| {
        run_python(
            &["-c", "import websockets.asyncio.client, TLSSigAPIv2"],
            &[],
        )
    })
    .await
    .expect("probe runs");
    match probe {
        Ok(output) if output.status.success() => {}
        other => panic!(
            "python3 with the WebSocket client library and Tencent's UserSig library is needed: \
             python3 -m pip install {PYTHON_PACKAGES} \
             (or set TIDINGS_SKIP_PYTHON_INTEROP=1 to skip this test); probe: {other:?}"
        ),
    }

    let server = TestServer::start().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/ws_client_check.py"
    );
    let envs = vec![
        ("TIDINGS_URL", server.url.clone()),
        ("TIDINGS_SDKAPPID", SDKAPPID.to_string()),
        ("TIDINGS_SECRET_KEY", TEST_KEY.to_owned()),
        ("TIDINGS_USER_PREFIX", "wscheck".to_owned()),
    ];
    let output = tokio::task::spawn_blocking(move || run_python(&[script], &envs))
        .await
        .expect("script runs")
        .expect("python3 starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/ws_client_check.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("ws_client_check: all "),
        "the script ended without its summary:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
}
