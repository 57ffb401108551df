//! The first run as a person meets it: the banner of `tidings serve` (aligned, one name per
//! address, a UserSig command that works as printed), its logs (no colour codes in a pipe,
//! JSON with `--log-format json`), and failed starts (nothing left in the data directory; a
//! second server on a data directory in use refused in one line).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Starts `tidings serve` on a fresh data directory with stdout piped (not a terminal).
fn spawn_serve(data_dir: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "info")
        .env_remove("TIDINGS_SECRET_KEY")
        .env_remove("TIDINGS_SDKAPPID")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tidings starts")
}

/// Reads stdout lines until one satisfies `last`; returns them all.
fn lines_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    last: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("readable stdout");
        let done = last(&line);
        seen.push(line);
        if done {
            return seen;
        }
    }
    panic!("stdout ended before the expected line: {seen:#?}");
}

/// SIGTERM, then everything the process writes until it exits.
fn stop(mut child: Child, lines: impl Iterator<Item = std::io::Result<String>>) -> Vec<String> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let rest: Vec<String> = lines.map(|line| line.expect("readable")).collect();
    assert!(child.wait().expect("exits").success());
    rest
}

#[test]
fn the_banner_is_aligned_and_its_usersig_command_works_as_printed() {
    let parent = tempfile::tempdir().expect("temp dir");
    let data_dir = parent.path().join("data");
    let mut child = spawn_serve(&data_dir, &[]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut banner = lines_until(&mut lines, |line| line.contains(" usersig "));
    // Log lines may come first.
    let start = banner
        .iter()
        .position(|line| line.starts_with("Tidings is listening on http://"))
        .expect("headline");
    let early: Vec<String> = banner.drain(..start).collect();

    let rows: Vec<(&str, &str)> = banner[1..banner.len() - 2]
        .iter()
        .map(|row| {
            let row = row.strip_prefix("  ").expect("rows are indented");
            row.split_once(": ").expect("label: value")
        })
        .collect();
    let labels: Vec<&str> = rows.iter().map(|(label, _)| *label).collect();
    assert_eq!(
        labels,
        [
            "Web chat",
            "WebSocket",
            "REST API",
            "Health",
            "Metrics",
            "Data dir",
            "Store",
            "SDKAppID",
            "Secret key"
        ]
    );
    // Every value starts in the same column.
    let columns: Vec<usize> = banner[1..banner.len() - 2]
        .iter()
        .map(|row| row.len() - row[row.find(':').expect("colon") + 1..].trim_start().len())
        .collect();
    assert!(
        columns.windows(2).all(|w| w[0] == w[1]),
        "not aligned:\n{}",
        banner.join("\n")
    );
    let address = banner[0]
        .strip_prefix("Tidings is listening on http://")
        .expect("address");
    assert_eq!(rows[0].1.trim(), format!("http://{address}/"));
    assert_eq!(rows[1].1.trim(), format!("ws://{address}/ws"));

    // The UserSig command, run as printed (by a shell, from this directory), signs with the
    // generated key, which is not on its command line.
    assert_eq!(banner[banner.len() - 2], "Make a UserSig for a user with:");
    let command = banner[banner.len() - 1].trim().to_owned();
    let key = std::fs::read_to_string(data_dir.join("secret.key")).expect("generated key");
    assert!(!command.contains(key.trim()), "{command}");
    assert!(command.ends_with("--user alice"), "{command}");
    let output = Command::new("sh")
        .args(["-c", &command])
        .env_remove("TIDINGS_DATA_DIR")
        .output()
        .expect("sh runs");
    assert!(output.status.success(), "{command}: {output:?}");
    let user_sig = String::from_utf8(output.stdout).expect("UTF-8");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    tidings_usersig::verify(1_400_000_000, key.trim(), "alice", user_sig.trim(), now)
        .expect("a UserSig of the server's key");

    // Logs in a pipe carry no colour codes.
    let rest = stop(child, lines);
    let logs = [early, rest].concat().join("\n");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "escape codes in a pipe: {logs:?}");
}

#[test]
fn usersig_without_a_key_file_says_what_to_give() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["usersig", "--user", "alice", "--data-dir"])
        .arg(dir.path())
        .env_remove("TIDINGS_SECRET_KEY")
        .output()
        .expect("tidings runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(
        stderr.starts_with(&format!(
            "tidings: cannot read the secret key {} (give --data-dir of the server, or --secret-key): ",
            dir.path().join("secret.key").display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn json_logs_are_one_object_per_line_banner_included() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = spawn_serve(dir.path(), &["--log-format", "json"]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = lines_until(&mut lines, |line| line.contains("Tidings is listening on"));
    seen.extend(stop(child, lines));
    let objects: Vec<serde_json::Value> = seen
        .iter()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let banner = objects
        .iter()
        .find(|o| {
            o["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Tidings is listening on http://"))
        })
        .expect("the banner event");
    let address = banner["fields"]["message"]
        .as_str()
        .and_then(|m| m.strip_prefix("Tidings is listening on http://"))
        .expect("address");
    assert_eq!(banner["level"], "INFO");
    assert_eq!(banner["fields"]["websocket"], format!("ws://{address}/ws"));
    assert_eq!(banner["fields"]["web_chat"], format!("http://{address}/"));
    assert!(
        objects
            .iter()
            .any(|o| o["fields"]["message"] == "shutting down"),
        "{seen:#?}"
    );
}

fn run_serve(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "off")
        .env_remove("TIDINGS_SECRET_KEY")
        .output()
        .expect("tidings runs")
}

#[test]
fn a_failed_start_leaves_nothing_in_the_data_directory() {
    let parent = tempfile::tempdir().expect("temp dir");

    // The address is in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let data_dir = parent.path().join("address-in-use");
    let output = run_serve(&["--listen", &address], &data_dir);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .starts_with(&format!("tidings: cannot listen on {address}: ")),
        "{output:?}"
    );
    assert!(!data_dir.exists(), "the data directory was created");

    // The store cannot be opened, after the key was generated: all of it goes again.
    let data_dir = parent.path().join("no-store");
    let output = run_serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            "postgres://tidings@127.0.0.1:1/chat",
        ],
        &data_dir,
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(!data_dir.exists(), "the data directory was left behind");

    // An empty directory that existed stays, empty.
    let data_dir = parent.path().join("empty");
    std::fs::create_dir(&data_dir).expect("mkdir");
    let output = run_serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            "postgres://tidings@127.0.0.1:1/chat",
        ],
        &data_dir,
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        std::fs::read_dir(&data_dir).expect("still there").count(),
        0
    );

    // A bad config file.
    let config = parent.path().join("bad.toml");
    std::fs::write(&config, "listen = 12\n").expect("write");
    let data_dir = parent.path().join("bad-config");
    let output = run_serve(
        &["--config", config.to_str().expect("UTF-8 path")],
        &data_dir,
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(!data_dir.exists());
}

#[test]
fn a_second_server_on_a_data_directory_in_use_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = spawn_serve(dir.path(), &[]);
    let mut lines = BufReader::new(first.stdout.take().expect("stdout")).lines();
    lines_until(&mut lines, |line| line.contains(" usersig "));

    let output = run_serve(&["--listen", "127.0.0.1:0"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).expect("UTF-8"),
        format!(
            "tidings: data directory {} is in use by another tidings server (it holds {})\n",
            dir.path().display(),
            dir.path().join("tidings.lock").display()
        )
    );
    // The first one is unharmed, and once it stopped the directory is free again.
    stop(first, lines);
    let mut again = spawn_serve(dir.path(), &[]);
    let mut lines = BufReader::new(again.stdout.take().expect("stdout")).lines();
    lines_until(&mut lines, |line| line.contains(" usersig "));
    stop(again, lines);
}
