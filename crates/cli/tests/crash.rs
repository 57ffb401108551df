//! Durability test of the real binary: `kill -9` during a stream of sends loses no message that
//! a client saw acknowledged, and a restarted server serves them all.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tidings_sdk::Client;

const KEY: &str = "crash-test-key";
const SDKAPPID: u64 = 1_400_000_000;

struct Running {
    child: Child,
    url: String,
}

/// Starts `tidings serve` on an ephemeral port and reads its address from the banner.
fn start(data_dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["serve", "--listen", "127.0.0.1:0", "--secret-key", KEY])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tidings starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let banner = lines
        .by_ref()
        .map(|line| line.expect("readable"))
        .find(|line| line.contains("listening on http://"))
        .expect("a banner line");
    let address = banner
        .rsplit("http://")
        .next()
        .expect("address in banner")
        .trim()
        .to_owned();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Running {
        child,
        url: format!("ws://{address}/ws"),
    }
}

fn sig(user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    tidings_usersig::generate(SDKAPPID, KEY, user, 3600, now as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_sends_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let (bob, _bob_events) = Client::connect(&server.url, "bob", &sig("bob"))
        .await
        .expect("bob logs in");
    drop(bob);
    let mut senders = Vec::new();
    for n in 0..4 {
        let user = format!("sender{n}");
        let (client, _events) = Client::connect(&server.url, &user, &sig(&user))
            .await
            .expect("login");
        senders.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10_000 {
                match client.send_text("bob", &format!("{n}-{i}")).await {
                    Ok(message) => acknowledged.push(message.msg_id),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let mut acknowledged = HashSet::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(
        acknowledged.len() > 10,
        "the stream was running when killed ({} acked)",
        acknowledged.len()
    );

    let mut restarted = start(dir.path());
    let (bob, _events) = Client::connect(&restarted.url, "bob", &sig("bob"))
        .await
        .expect("bob logs in again");
    let mut stored = HashSet::new();
    for n in 0..4 {
        let peer = format!("sender{n}");
        let mut last: Option<String> = None;
        loop {
            let page = bob
                .get_c2c_history_message_list(&peer, 100, last.as_deref())
                .await
                .expect("history");
            if page.is_empty() {
                break;
            }
            last = page.last().map(|m| m.msg_id.clone());
            stored.extend(page.into_iter().map(|m| m.msg_id));
        }
    }
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    restarted.child.kill().ok();
    restarted.child.wait().ok();
}
