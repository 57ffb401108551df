//! Starting `tidings serve` against a store that cannot be used: one line on stderr saying why,
//! and a non-zero exit, instead of a hang or a backtrace.

use std::process::Command;

fn serve_with_store(store: &str) -> std::process::Output {
    let data_dir = tempfile::tempdir().expect("temp dir");
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("RUST_LOG", "off")
        .output()
        .expect("tidings runs")
}

#[test]
fn an_unreachable_postgresql_is_one_line_and_exit_1() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let output = serve_with_store("postgres://tidings:secret@127.0.0.1:1/chat");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "tidings: cannot open the store: store unavailable: cannot reach PostgreSQL at \
             postgres://tidings:***@127.0.0.1:1/chat: "
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is shown: {stderr}"
    );
}

#[test]
fn a_store_url_of_no_known_engine_is_refused_in_one_line() {
    let output = serve_with_store("mysql://127.0.0.1/chat");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert_eq!(
        stderr,
        "tidings: invalid configuration: store URL \"mysql://127.0.0.1/chat\" is neither \
         sqlite:PATH nor postgres://… (postgresql://…)\n"
    );
}

#[test]
fn a_cluster_bus_with_the_embedded_store_is_refused_in_one_line() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--bus",
            "nats://127.0.0.1:4222",
        ])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("RUST_LOG", "off")
        .env_remove("TIDINGS_STORE")
        .output()
        .expect("tidings runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    let expected = format!(
        "tidings: invalid configuration: a cluster (bus nats://127.0.0.1:4222) needs a store \
         its nodes share, not the embedded sqlite:{}: add --store postgres://…\n",
        data_dir.path().join("tidings.db").display()
    );
    assert_eq!(stderr, expected);
}
