//! Durability test of the real binary: `kill -9` during a stream of sends loses no message that
//! a client saw acknowledged, and a restarted server serves them all.

mod common;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::time::Duration;

use common::{serve, sig};
use tidings_sdk::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_sends_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve([OsStr::new("--data-dir"), dir.path().as_os_str()]);
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
    server.process.0.kill().expect("SIGKILL");
    server.process.0.wait().expect("reaped");
    let mut acknowledged = HashSet::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(
        acknowledged.len() > 10,
        "the stream was running when killed ({} acked)",
        acknowledged.len()
    );

    let restarted = serve([OsStr::new("--data-dir"), dir.path().as_os_str()]);
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
    drop(restarted);
}
