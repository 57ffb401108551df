//! A cluster of three real `tidings serve` processes on one PostgreSQL database and one private
//! NATS server: users spread over the nodes go through the seed's receipt flows as if they
//! shared one server.
//!
//! Needs `nats-server` on the PATH (`.ci/run` installs Debian's) and PostgreSQL
//! (`TIDINGS_TEST_PG`, default the local server).

mod common;

use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

use common::{SDKAPPID, Serving, serve, sig};

use tidings_cluster::scratch::ScratchNats;
use tidings_sdk::{
    Client, ClientOptions, CreateGroupParams, Events, GroupMemberSpec, GroupRole,
    READ_MEMBERS_FILTER_READ, READ_MEMBERS_FILTER_UNREAD, SdkEvent, SendMessageParams, TextElem,
};
use tidings_store::scratch::ScratchDatabase;

const WAIT: Duration = Duration::from_secs(10);

/// The nodes of a cluster, `n1`, `n2`, … (each `tidings serve` with a data directory of its
/// own), on a scratch database and a NATS server of the test's own. The nodes stop first.
struct Cluster {
    nodes: Vec<Serving>,
    /// The nodes' WebSocket URLs, in node order.
    urls: Vec<String>,
    _dirs: Vec<tempfile::TempDir>,
    /// None while the test has the bus down.
    nats: Option<ScratchNats>,
    nats_port: u16,
    _database: ScratchDatabase,
}

impl Cluster {
    /// A cluster of `count` nodes.
    async fn start(count: usize) -> Self {
        Self::start_with(count, &[]).await
    }

    /// A cluster of `count` nodes, each started with `more` flags.
    async fn start_with(count: usize, more: &[&OsStr]) -> Self {
        let database = ScratchDatabase::for_test().await;
        let nats = ScratchNats::start();
        let dirs: Vec<_> = (0..count)
            .map(|_| tempfile::tempdir().expect("temp dir"))
            .collect();
        let nodes: Vec<Serving> = dirs
            .iter()
            .enumerate()
            .map(|(i, dir)| {
                let node = format!("n{}", i + 1);
                start_node(&node, database.url(), &nats.url(), dir.path(), more)
            })
            .collect();
        Cluster {
            urls: nodes.iter().map(|node| node.url.clone()).collect(),
            nodes,
            _dirs: dirs,
            nats_port: nats.port(),
            nats: Some(nats),
            _database: database,
        }
    }

    /// Stops the NATS server: the bus is down for every node.
    fn stop_bus(&mut self) {
        self.nats = None;
    }

    /// Starts the NATS server again, on the port the nodes know.
    fn restart_bus(&mut self) {
        self.nats = Some(ScratchNats::start_on(self.nats_port));
    }
}

/// Starts node `node` of the cluster with `more` flags.
fn start_node(
    node: &str,
    store: &str,
    bus: &str,
    data_dir: &std::path::Path,
    more: &[&OsStr],
) -> Serving {
    let flags = [
        "--store",
        store,
        "--bus",
        bus,
        "--node-id",
        node,
        "--data-dir",
    ];
    serve(
        flags
            .map(OsStr::new)
            .into_iter()
            .chain([data_dir.as_os_str()])
            .chain(more.iter().copied()),
    )
}

async fn connect(url: &str, user: &str) -> (Client, Events) {
    connect_failing_over(&[url], user).await
}

/// Connects to the first of `urls`, failing over to the others.
async fn connect_failing_over(urls: &[&str], user: &str) -> (Client, Events) {
    let options = ClientOptions::new(urls[0], user, sig(user)).fallback_urls(urls[1..].to_vec());
    Client::connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("{user} connects to {urls:?}: {e}"))
}

/// A REST call as the administrator on the node of WebSocket URL `ws_url`; the reply's JSON.
async fn rest(ws_url: &str, endpoint: &str, body: serde_json::Value) -> serde_json::Value {
    let http = ws_url.replace("ws://", "http://").replace("/ws", "");
    let sig = sig("administrator");
    let url = format!(
        "{http}/v4/{endpoint}?sdkappid={SDKAPPID}&identifier=administrator\
         &usersig={sig}&random=1&contenttype=json"
    );
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("REST answers")
        .json()
        .await
        .expect("JSON reply")
}

/// An app backend's webhook endpoint: records the `CallbackCommand` and body of each callback.
struct WebhookReceiver {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl WebhookReceiver {
    async fn start() -> Self {
        let received: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> =
            std::sync::Arc::default();
        let log = std::sync::Arc::clone(&received);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::Json<serde_json::Value>| {
                log.lock().expect("log").push(body.0);
                async {
                    axum::Json(
                        serde_json::json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received }
    }

    /// How many callbacks of `command` whose `field` is `value` arrived so far.
    fn count(&self, command: &str, field: &str, value: &serde_json::Value) -> usize {
        self.received
            .lock()
            .expect("log")
            .iter()
            .filter(|body| body["CallbackCommand"] == command && body[field] == *value)
            .count()
    }

    /// Waits until a callback of `command` whose `field` is `value` arrived.
    async fn wait_for(&self, command: &str, field: &str, value: &serde_json::Value) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.count(command, field, value) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {command} with {field} = {value}: {:?}",
                self.received.lock().expect("log")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// REST `query_online_status` on the node of WebSocket URL `ws_url`: each user's status.
async fn online_status(ws_url: &str, users: &[&str]) -> Vec<String> {
    let body = serde_json::json!({ "To_Account": users });
    let reply = rest(ws_url, "openim/query_online_status", body).await;
    assert_eq!(reply["ErrorCode"], 0, "{reply}");
    reply["QueryResult"]
        .as_array()
        .expect("QueryResult")
        .iter()
        .map(|r| r["Status"].as_str().expect("Status").to_owned())
        .collect()
}

/// Waits until every node of `urls` finds every one of `users` online: each node then knows
/// the others (nodes learn of each other within a moment of starting).
async fn wait_until_nodes_know_each_other(urls: &[String], users: &[&str]) {
    let everyone = vec!["Online".to_owned(); users.len()];
    for url in urls {
        let deadline = tokio::time::Instant::now() + WAIT;
        while online_status(url, users).await != everyone {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{url} never saw {users:?} online"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A counter of the node of WebSocket URL `ws_url`, from its `/metrics` (0 when absent).
async fn metric(ws_url: &str, series: &str) -> u64 {
    let http = ws_url
        .replace("ws://", "http://")
        .replace("/ws", "/metrics");
    let text = reqwest::get(http)
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// The read and unread counts of the next read-receipt push about `msg_id`.
async fn counts_of(events: &mut Events, msg_id: &str) -> (u64, u64) {
    let receipt = next_event(events, |e| match e {
        SdkEvent::RecvMessageReadReceipts(r) => r.into_iter().find(|r| r.msg_id == msg_id),
        _ => None,
    })
    .await;
    (receipt.read_count, receipt.unread_count)
}

/// The first event `pick` accepts, skipping others.
async fn next_event<T>(events: &mut Events, mut pick: impl FnMut(SdkEvent) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("event stream open");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("the event within the wait")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_three_nodes_exchange_messages_and_receipts_as_on_one() {
    let cluster = Cluster::start(3).await;
    let url = |i: usize| cluster.urls[i].clone();
    let (alice, mut alice_events) = connect(&url(0), "alice").await;
    let (bob, mut bob_events) = connect(&url(1), "bob").await;
    let (carol, mut carol_events) = connect(&url(2), "carol").await;
    // Dave's first node is unreachable: his client logs in on the next one.
    let (_dave, _dave_events) =
        connect_failing_over(&["ws://127.0.0.1:1/ws", &url(0)], "dave").await;

    // Presence for the app's backend, asked of Carol's node, the others' users included (nodes
    // learn of each other within a moment of starting).
    let expected = ["Online", "Online", "Online", "Offline"];
    let users = ["alice", "bob", "carol", "nobody"];
    let mut statuses = online_status(&url(2), &users).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while statuses != expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        statuses = online_status(&url(2), &users).await;
    }
    assert_eq!(statuses, expected);

    // C2C across nodes: the message, a message receipt, and the conversation read receipt.
    let sent = alice
        .send_message(SendMessageParams {
            receiver: Some("bob".into()),
            text_elem: Some(TextElem {
                text: "hi bob".into(),
            }),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await
        .expect("C2C send");
    let got = next_event(&mut bob_events, |e| match e {
        SdkEvent::RecvNewMessage(m) if m.msg_id == sent.msg_id => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((got.seq, got.sender.as_str()), (sent.seq, "alice"));
    bob.send_message_read_receipts(vec![sent.msg_id.clone()])
        .await
        .expect("C2C receipt");
    let receipts = next_event(&mut alice_events, |e| match e {
        SdkEvent::RecvMessageReadReceipts(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(
        (receipts[0].msg_id.as_str(), receipts[0].is_peer_read),
        (sent.msg_id.as_str(), true)
    );
    bob.mark_c2c_message_as_read("alice")
        .await
        .expect("mark read");
    let read = next_event(&mut alice_events, |e| match e {
        SdkEvent::RecvC2cReadReceipt(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(read[0].user_id, "bob");
    assert!(
        read[0].timestamp >= sent.timestamp,
        "{read:?} after {sent:?}"
    );

    // A group whose members are on all three nodes.
    let members = ["bob", "carol", "dave"]
        .iter()
        .map(|user| GroupMemberSpec {
            user_id: (*user).into(),
            role: GroupRole::Member,
        })
        .collect();
    let group = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "Spread".into(),
            member_list: members,
        })
        .await
        .expect("group created");
    let message = alice
        .send_message(SendMessageParams {
            group_id: Some(group.clone()),
            text_elem: Some(TextElem {
                text: "read me".into(),
            }),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await
        .expect("group send");
    for events in [&mut bob_events, &mut carol_events] {
        next_event(events, |e| match e {
            SdkEvent::RecvNewMessage(m) if m.msg_id == message.msg_id => Some(()),
            _ => None,
        })
        .await;
    }
    // Bob (node 2) and Carol (node 3) read at once.
    let (by_bob, by_carol) = tokio::join!(
        bob.send_message_read_receipts(vec![message.msg_id.clone()]),
        carol.send_message_read_receipts(vec![message.msg_id.clone()])
    );
    by_bob.expect("bob's receipt");
    by_carol.expect("carol's receipt");
    // Alice (node 1) sees the count rise to 2, never down.
    let mut last = 0;
    while last < 2 {
        let counts = next_event(&mut alice_events, |e| match e {
            SdkEvent::RecvMessageReadReceipts(r) => {
                r.into_iter().find(|r| r.msg_id == message.msg_id)
            }
            _ => None,
        })
        .await;
        assert!(counts.read_count >= last, "{counts:?} after {last}");
        assert_eq!(counts.read_count + counts.unread_count, 3);
        last = counts.read_count;
    }
    let pulled = alice
        .get_message_read_receipts(vec![message.msg_id.clone()])
        .await
        .expect("pull");
    assert_eq!((pulled[0].read_count, pulled[0].unread_count), (2, 1));
    let page = |filter| alice.get_group_message_read_member_list(&message.msg_id, filter, 0, 1);
    let first = page(READ_MEMBERS_FILTER_READ).await.expect("read page");
    let second = alice
        .get_group_message_read_member_list(
            &message.msg_id,
            READ_MEMBERS_FILTER_READ,
            first.next_seq,
            1,
        )
        .await
        .expect("second read page");
    let readers: Vec<String> = first
        .member_info_list
        .iter()
        .chain(&second.member_info_list)
        .map(|m| m.user_id.clone())
        .collect();
    assert_eq!(readers, ["bob", "carol"]);
    assert!(second.is_finished);
    let unread = page(READ_MEMBERS_FILTER_UNREAD).await.expect("unread page");
    let unread: Vec<&str> = unread
        .member_info_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!(unread, ["dave"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_are_kept_while_the_bus_is_down_and_clients_catch_up_when_it_is_back() {
    let mut cluster = Cluster::start(2).await;
    let (alice, _alice_events) = connect(&cluster.urls[0], "alice").await;
    let (bob, mut bob_events) = connect(&cluster.urls[1], "bob").await;

    cluster.stop_bus();
    // Stored and acknowledged although no push can cross to bob's node now.
    let during = alice
        .send_text("bob", "while the bus is down")
        .await
        .expect("sent");
    cluster.restart_bus();
    // Bob's node closes his session once the bus is back; his client reconnects.
    next_event(&mut bob_events, |e| {
        matches!(e, SdkEvent::Reconnected).then_some(())
    })
    .await;
    let history = bob
        .get_c2c_history_message_list("alice", 10, None)
        .await
        .expect("history");
    assert_eq!(history.first().map(|m| &m.msg_id), Some(&during.msg_id));
    // And pushes cross again. (A publish right after the reconnect may race the other node's
    // own reconnect: resend until one arrives, each a new message of the conversation.)
    let after = tokio::time::timeout(WAIT, async {
        loop {
            let sent = alice.send_text("bob", "after").await.expect("sent");
            let arrived = tokio::time::timeout(
                Duration::from_millis(500),
                next_event(&mut bob_events, |e| match e {
                    SdkEvent::RecvNewMessage(m) if m.msg_id == sent.msg_id => Some(m),
                    _ => None,
                }),
            )
            .await;
            if let Ok(message) = arrived {
                return message;
            }
        }
    })
    .await
    .expect("a push crosses the bus again");
    assert_eq!(after.text_elem.map(|t| t.text), Some("after".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_killed_node_carry_on_on_another_with_nothing_acknowledged_lost() {
    let mut cluster = Cluster::start(3).await;
    let urls = cluster.urls.clone();
    let (alice, mut alice_events) =
        connect_failing_over(&[&urls[0], &urls[1], &urls[2]], "alice").await;
    let (bob, mut bob_events) = connect(&urls[1], "bob").await;
    let before = alice.send_text("bob", "before").await.expect("sent");

    // SIGKILL: no close frame, no draining.
    cluster.nodes[0].process.0.kill().expect("node 1 killed");
    let _ = cluster.nodes[0].process.0.wait();
    next_event(&mut alice_events, |e| {
        matches!(e, SdkEvent::ConnectionLost { .. }).then_some(())
    })
    .await;
    let away = bob
        .send_text("alice", "while you moved")
        .await
        .expect("sent");
    next_event(&mut alice_events, |e| {
        matches!(e, SdkEvent::Reconnected).then_some(())
    })
    .await;
    let history = alice
        .get_c2c_history_message_list("bob", 10, None)
        .await
        .expect("history on another node");
    let ids: Vec<&str> = history.iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(ids, [away.msg_id.as_str(), before.msg_id.as_str()]);
    // Bob's node served on: Alice's next message reaches him.
    let after = alice.send_text("bob", "after").await.expect("sent");
    next_event(&mut bob_events, |e| match e {
        SdkEvent::RecvNewMessage(m) if m.msg_id == after.msg_id => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(after.seq, away.seq + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_coalesces_a_senders_group_receipts_and_counts_never_go_down() {
    let cluster = Cluster::start(3).await;
    let urls = cluster.urls.clone();
    // Alice's two devices on nodes 1 and 2; nine readers, three on each node.
    let (alice, mut first_device) = connect(&urls[0], "alice").await;
    let (_alice_again, mut second_device) = connect(&urls[1], "alice").await;
    let names: Vec<String> = (1..=9).map(|i| format!("reader{i}")).collect();
    let mut readers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        readers.push(connect(&urls[i % 3], name).await);
    }
    let mut everyone: Vec<&str> = names.iter().map(String::as_str).collect();
    everyone.push("alice");
    wait_until_nodes_know_each_other(&urls, &everyone).await;

    let group = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "Readers".into(),
            member_list: names
                .iter()
                .map(|user| GroupMemberSpec {
                    user_id: user.clone(),
                    role: GroupRole::Member,
                })
                .collect(),
        })
        .await
        .expect("group created");
    let message = alice
        .send_message(SendMessageParams {
            group_id: Some(group),
            text_elem: Some(TextElem {
                text: "read me".into(),
            }),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await
        .expect("group send");
    // Every reader, on every node, at once.
    let receipts = readers
        .iter()
        .map(|(reader, _)| reader.send_message_read_receipts(vec![message.msg_id.clone()]));
    for done in futures_util::future::join_all(receipts).await {
        done.expect("receipt");
    }

    let mut seen_by_device = vec![Vec::new(), Vec::new()];
    for (events, counts) in [&mut first_device, &mut second_device]
        .into_iter()
        .zip(&mut seen_by_device)
    {
        while counts.last().is_none_or(|(read, _)| *read < 9) {
            counts.push(counts_of(events, &message.msg_id).await);
        }
    }
    let pulled = alice
        .get_message_read_receipts(vec![message.msg_id.clone()])
        .await
        .expect("pull");
    assert_eq!((pulled[0].read_count, pulled[0].unread_count), (9, 0));
    // One node coalesced them all (the others routed their notes to it): never a push per
    // reader's node. A receipt noted after the flush that already counted it may cause one
    // more push of the same counts: take every push the node made.
    let series = "tidings_receipt_pushes_total{kind=\"group\"}";
    let mut pushed_by_node = Vec::new();
    for url in &urls {
        pushed_by_node.push(metric(url, series).await);
    }
    let coalescing: Vec<u64> = pushed_by_node.iter().copied().filter(|n| *n > 0).collect();
    assert_eq!(coalescing.len(), 1, "pushes by node: {pushed_by_node:?}");
    let pushes = coalescing[0] as usize;
    assert!(
        pushes <= 9,
        "at most one push per receipt: {pushed_by_node:?}"
    );
    for (events, counts) in [&mut first_device, &mut second_device]
        .into_iter()
        .zip(&mut seen_by_device)
    {
        while counts.len() < pushes {
            counts.push(counts_of(events, &message.msg_id).await);
        }
        assert!(
            counts.windows(2).all(|pair| pair[0].0 <= pair[1].0),
            "counts went down: {counts:?}"
        );
        assert!(
            counts.iter().all(|(read, unread)| read + unread == 9),
            "{counts:?}"
        );
        assert_eq!(
            counts.last(),
            Some(&(9, 0)),
            "the last push equals the pull"
        );
    }
    assert_eq!(
        seen_by_device[0], seen_by_device[1],
        "each push reached both devices"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_noted_to_a_killed_owner_are_pushed_by_the_next() {
    let mut cluster = Cluster::start(3).await;
    let urls = cluster.urls.clone();
    // Alice's devices on nodes 1 and 2; six readers, two on each node.
    let mut alice_devices = [
        connect(&urls[0], "alice").await,
        connect(&urls[1], "alice").await,
    ];
    let names: Vec<String> = (1..=6).map(|i| format!("reader{i}")).collect();
    let mut readers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        readers.push((i % 3, connect(&urls[i % 3], name).await));
    }
    let mut everyone: Vec<&str> = names.iter().map(String::as_str).collect();
    everyone.push("alice");
    wait_until_nodes_know_each_other(&urls, &everyone).await;
    let alice = alice_devices[0].0.clone();
    let group = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "Readers".into(),
            member_list: names
                .iter()
                .map(|user| GroupMemberSpec {
                    user_id: user.clone(),
                    role: GroupRole::Member,
                })
                .collect(),
        })
        .await
        .expect("group created");
    let send = |text: &str| SendMessageParams {
        group_id: Some(group.clone()),
        text_elem: Some(TextElem { text: text.into() }),
        need_read_receipt: true,
        ..SendMessageParams::default()
    };
    // Which node coalesces Alice's receipts: the one whose push counter moves.
    let first = alice.send_message(send("first")).await.expect("sent");
    readers[0]
        .1
        .0
        .send_message_read_receipts(vec![first.msg_id.clone()])
        .await
        .expect("receipt");
    assert_eq!(
        counts_of(&mut alice_devices[0].1, &first.msg_id).await,
        (1, 5)
    );
    let series = "tidings_receipt_pushes_total{kind=\"group\"}";
    let mut owner = None;
    for (i, url) in urls.iter().enumerate() {
        if metric(url, series).await > 0 {
            owner = Some(i);
        }
    }
    let owner = owner.expect("a node pushed");

    let second = alice.send_message(send("second")).await.expect("sent");
    // SIGKILL the owner: it goes on counting as alive for a few seconds, and the notes of the
    // receipts below go to it and die with it.
    cluster.nodes[owner].process.0.kill().expect("owner killed");
    let _ = cluster.nodes[owner].process.0.wait();
    let survivors: Vec<&Client> = readers
        .iter()
        .filter(|(node, _)| *node != owner)
        .map(|(_, (reader, _))| reader)
        .collect();
    for reader in &survivors {
        reader
            .send_message_read_receipts(vec![second.msg_id.clone()])
            .await
            .expect("receipt");
    }
    // The next owner pushes what was committed: the four readers alive, two unread.
    let device = if owner == 0 { 1 } else { 0 };
    let mut counts = counts_of(&mut alice_devices[device].1, &second.msg_id).await;
    while counts.0 < 4 {
        counts = counts_of(&mut alice_devices[device].1, &second.msg_id).await;
    }
    assert_eq!(counts, (4, 2), "the last push equals a pull");
    let pulled = alice_devices[device]
        .0
        .get_message_read_receipts(vec![second.msg_id.clone()])
        .await
        .expect("pull");
    assert_eq!((pulled[0].read_count, pulled[0].unread_count), (4, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_limit_settings_webhooks_and_kicks_hold_across_nodes() {
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = config_dir.path().join("two-devices.toml");
    std::fs::write(&config, "[limits]\nmax_devices_per_user = 2\n").expect("config written");
    let cluster = Cluster::start_with(3, &[OsStr::new("--config"), config.as_os_str()]).await;
    let urls = cluster.urls.clone();
    let (_first, mut first_events) = connect(&urls[0], "alice").await;
    let (bob, _bob_events) = connect(&urls[1], "bob").await;
    let (carol, mut carol_events) = connect(&urls[2], "carol").await;
    wait_until_nodes_know_each_other(&urls, &["alice", "bob", "carol"]).await;

    // The device limit (2) holds for the cluster: Alice's third login, on node 3, logs out
    // her oldest session, on node 1; the other two stay.
    let (_second, mut second_events) = connect(&urls[1], "alice").await;
    let (_third, mut third_events) = connect(&urls[2], "alice").await;
    let kicked = next_event(&mut first_events, |e| match e {
        SdkEvent::KickedOffline(k) => Some(k),
        _ => None,
    })
    .await;
    assert_eq!(kicked.reason, "logged in on more than 2 devices");
    let hello = bob.send_text("alice", "hello").await.expect("sent");
    for events in [&mut second_events, &mut third_events] {
        next_event(events, |e| match e {
            SdkEvent::RecvNewMessage(m) if m.msg_id == hello.msg_id => Some(()),
            SdkEvent::KickedOffline(k) => panic!("a newer session was kicked: {k:?}"),
            _ => None,
        })
        .await;
    }

    // Settings changed over REST on node 1 hold on node 3 at once: receipts switched off and
    // a webhook set in one change (with a before-send timeout; the hooks stay off).
    let hooks = WebhookReceiver::start().await;
    let receipted = bob
        .send_message(SendMessageParams {
            receiver: Some("carol".into()),
            text_elem: Some(TextElem {
                text: "read me".into(),
            }),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await
        .expect("sent");
    let change = serde_json::json!({
        "ReadReceipt": { "Enabled": false },
        "Webhook": { "Url": hooks.url, "BeforeSendMsg": { "TimeoutMs": 1500 } },
    });
    let reply = rest(&urls[0], "tidings/set_settings", change).await;
    assert_eq!(reply["ErrorCode"], 0, "{reply}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while carol
        .send_message_read_receipts(vec![receipted.msg_id.clone()])
        .await
        .is_ok()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node 3 still takes receipts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every node reports the new webhook (so node 2 posts too).
    for url in &urls {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let settings = rest(url, "tidings/get_settings", serde_json::json!({})).await;
            if settings["Webhook"]["Url"] == hooks.url.as_str() {
                assert_eq!(settings["ReadReceipt"]["Enabled"], false, "{settings}");
                assert_eq!(
                    settings["Webhook"]["BeforeSendMsg"],
                    serde_json::json!({ "C2C": false, "Group": false, "TimeoutMs": 1500, "OnFailure": "allow" }),
                    "{url}"
                );
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{url}: {settings}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Webhooks: once per event, from the node that handled it, whichever nodes the parties
    // are on.
    let from_carol = carol.send_text("bob", "from node 3").await.expect("sent");
    let from_bob = bob.send_text("carol", "from node 2").await.expect("sent");
    let c2c = "C2C.CallbackAfterSendMsg";
    let id = |m: &tidings_sdk::Message| serde_json::Value::from(m.msg_id.clone());
    hooks.wait_for(c2c, "MsgId", &id(&from_carol)).await;
    hooks.wait_for(c2c, "MsgId", &id(&from_bob)).await;
    let group = carol
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "Webhooks".into(),
            member_list: ["alice", "bob"]
                .iter()
                .map(|user| GroupMemberSpec {
                    user_id: (*user).into(),
                    role: GroupRole::Member,
                })
                .collect(),
        })
        .await
        .expect("group created");
    let to_group = carol
        .send_message(SendMessageParams {
            group_id: Some(group),
            text_elem: Some(TextElem {
                text: "all nodes".into(),
            }),
            ..SendMessageParams::default()
        })
        .await
        .expect("group send");
    hooks
        .wait_for("Group.CallbackAfterSendMsg", "MsgId", &id(&to_group))
        .await;
    // A last event from node 1 comes after any duplicate the others would have sent.
    let (dave, _dave_events) = connect(&urls[0], "dave").await;
    let last = dave.send_text("bob", "last").await.expect("sent");
    hooks.wait_for(c2c, "MsgId", &id(&last)).await;
    assert_eq!(hooks.count(c2c, "MsgId", &id(&from_carol)), 1);
    assert_eq!(hooks.count(c2c, "MsgId", &id(&from_bob)), 1);
    assert_eq!(
        hooks.count("Group.CallbackAfterSendMsg", "MsgId", &id(&to_group)),
        1
    );
    // Switched on again over REST on node 2: node 3 takes the receipt.
    let change = serde_json::json!({ "ReadReceipt": { "Enabled": true } });
    let reply = rest(&urls[1], "tidings/set_settings", change).await;
    assert_eq!(reply["ErrorCode"], 0, "{reply}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while carol
        .send_message_read_receipts(vec![receipted.msg_id.clone()])
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node 3 still refuses receipts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The administrator logs Carol out from node 1; her session is on node 3.
    let reply = rest(
        &urls[0],
        "im_open_login_svc/kick",
        serde_json::json!({ "UserID": "carol" }),
    )
    .await;
    assert_eq!(reply["ErrorCode"], 0, "{reply}");
    next_event(&mut carol_events, |e| {
        matches!(e, SdkEvent::KickedOffline(_)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_node_stopped_gracefully_are_told_and_carry_on_on_another() {
    let mut cluster = Cluster::start(2).await;
    let urls = cluster.urls.clone();
    let (alice, mut alice_events) = connect_failing_over(&[&urls[0], &urls[1]], "alice").await;
    let (bob, mut bob_events) = connect(&urls[1], "bob").await;
    wait_until_nodes_know_each_other(&urls, &["alice", "bob"]).await;
    let before = alice.send_text("bob", "before").await.expect("sent");

    // SIGTERM: node 1 drains. Its client is told why (1001) rather than left to time out.
    let pid = cluster.nodes[0].process.0.id().to_string();
    let signalled = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let reason = next_event(&mut alice_events, |e| match e {
        SdkEvent::ConnectionLost { reason } => Some(reason),
        _ => None,
    })
    .await;
    assert!(
        reason.contains("server shutting down") && reason.contains("1001"),
        "{reason}"
    );
    let away = bob
        .send_text("alice", "while you moved")
        .await
        .expect("sent");
    next_event(&mut alice_events, |e| {
        matches!(e, SdkEvent::Reconnected).then_some(())
    })
    .await;
    let history = alice
        .get_c2c_history_message_list("bob", 10, None)
        .await
        .expect("history on the other node");
    let ids: Vec<&str> = history.iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(ids, [away.msg_id.as_str(), before.msg_id.as_str()]);
    let after = alice.send_text("bob", "after").await.expect("sent");
    next_event(&mut bob_events, |e| match e {
        SdkEvent::RecvNewMessage(m) if m.msg_id == after.msg_id => Some(()),
        _ => None,
    })
    .await;
    // The stopped node left the cluster at once: whichever node coalesced Alice's group
    // receipt notifications before, the one left does now, and her counts arrive.
    let group = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "After".into(),
            member_list: vec![GroupMemberSpec {
                user_id: "bob".into(),
                role: GroupRole::Member,
            }],
        })
        .await
        .expect("group created");
    let message = alice
        .send_message(SendMessageParams {
            group_id: Some(group),
            text_elem: Some(TextElem {
                text: "read me".into(),
            }),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await
        .expect("group send");
    bob.send_message_read_receipts(vec![message.msg_id.clone()])
        .await
        .expect("receipt");
    assert_eq!(counts_of(&mut alice_events, &message.msg_id).await, (1, 0));
    // The stopped node ended by itself, cleanly, once its clients had gone.
    let status = cluster.nodes[0]
        .process
        .0
        .wait()
        .expect("node 1 waited for");
    assert!(status.success(), "{status}");
}

/// The next `onUserStatusChanged` of `events`, as JSON (`userID`, `statusType`, `customStatus`).
async fn status_change(events: &mut Events) -> serde_json::Value {
    let statuses = next_event(events, |event| match event {
        SdkEvent::UserStatusChanged(statuses) => Some(statuses),
        _ => None,
    })
    .await;
    serde_json::to_value(statuses).expect("statuses encode")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_status_is_one_for_the_cluster_whichever_nodes_its_devices_are_on() {
    let cluster = Cluster::start(2).await;
    let urls = cluster.urls.clone();
    let (carol, _carol_events) = connect(&urls[0], "carol").await;
    let (bob, mut bob_events) = connect(&urls[1], "bob").await;
    wait_until_nodes_know_each_other(&urls, &["bob", "carol"]).await;
    bob.subscribe_user_status(["alice"])
        .await
        .expect("subscribed");

    // Alice's first device, on the other node than bob's: bob hears she is online.
    let (alice_n1, _alice_n1_events) = connect(&urls[0], "alice").await;
    assert_eq!(
        status_change(&mut bob_events).await,
        serde_json::json!([{"userID": "alice", "statusType": 1, "customStatus": ""}])
    );
    // Her second device on bob's node is no change (the older session is on n1); her custom
    // status set there is the next thing bob hears.
    let (alice_n2, _alice_n2_events) = connect(&urls[1], "alice").await;
    alice_n2.set_self_status("busy").await.expect("status set");
    assert_eq!(
        status_change(&mut bob_events).await,
        serde_json::json!([{"userID": "alice", "statusType": 1, "customStatus": "busy"}])
    );
    assert_eq!(
        serde_json::to_value(carol.get_user_status(["alice"]).await.expect("status"))
            .expect("encodes"),
        serde_json::json!([{"userID": "alice", "statusType": 1, "customStatus": "busy"}])
    );
    // Her n1 device leaving is no change (n2 still holds one); the last one is.
    alice_n1.logout().await.expect("logged out");
    alice_n2.logout().await.expect("logged out");
    assert_eq!(
        status_change(&mut bob_events).await,
        serde_json::json!([{"userID": "alice", "statusType": 2, "customStatus": ""}])
    );
    assert_eq!(
        online_status(&urls[0], &["alice", "bob"]).await,
        ["Offline", "Online"]
    );
}
