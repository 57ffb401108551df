//! Message order through the SDK when pushes really are overtaken or lost: two in-process nodes
//! on one scratch PostgreSQL database and a private NATS server, with node A's link to NATS
//! going through a relay the test can hold (its publishes wait, then arrive late) or cut (what it
//! held is gone). A client on node B must still see every conversation's messages in `seq`
//! order, each once. And on one node, a message the server never pushes to a device is filled
//! in from history. The conversation pushes a message causes reach members on either node, once.
//!
//! Needs `nats-server` on the PATH (`.ci/run` installs Debian's) and PostgreSQL
//! (`TIDINGS_TEST_PG`, default the local server).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Raw, TestServer, WAIT, next_event};
use serde_json::Value;
use tidings_cluster::scratch::ScratchNats;
use tidings_sdk::{
    Client, ClientOptions, CreateGroupParams, Events, GroupMemberSpec, GroupRole, Message,
    SdkEvent, SendMessageParams, TextElem,
};
use tidings_store::scratch::ScratchDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

// ---- a relay in front of the private NATS server for one node ------------------------------

/// What the relay does with what the node sends to NATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RelayState {
    /// Bytes from the node wait in the relay.
    held: bool,
    /// Bumped to cut every open connection, dropping what it held.
    cuts: u64,
}

/// A TCP relay between one node and NATS. It forwards bytes as they come, except while held;
/// a cut closes its connections with whatever they held, and the node's NATS client then
/// reconnects through it.
struct Relay {
    addr: SocketAddr,
    state: watch::Sender<RelayState>,
    /// Every byte the relay has held back since it was last told to hold.
    held: watch::Sender<Vec<u8>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let (state, watcher) = watch::channel(RelayState {
            held: false,
            cuts: 0,
        });
        let held = watch::Sender::new(Vec::new());
        let log = held.clone();
        tokio::spawn(async move {
            while let Ok((node, _)) = listener.accept().await {
                let Ok(nats) = TcpStream::connect(upstream).await else {
                    continue;
                };
                tokio::spawn(relay_connection(node, nats, watcher.clone(), log.clone()));
            }
        });
        Self { addr, state, held }
    }

    fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// From now on, what the node publishes waits in the relay.
    fn hold(&self) {
        self.held.send_replace(Vec::new());
        self.state.send_modify(|s| s.held = true);
    }

    /// Waits until the relay holds bytes containing `text` (a message ID: its delivery was
    /// written to the node's NATS connection and is stuck here).
    async fn holding(&self, text: &str) {
        let mut held = self.held.subscribe();
        tokio::time::timeout(
            WAIT,
            held.wait_for(|bytes| bytes.windows(text.len()).any(|w| w == text.as_bytes())),
        )
        .await
        .expect("the relay holds the delivery within the wait")
        .expect("relay open");
    }

    /// Forwards what waited, and everything after it.
    fn release(&self) {
        self.state.send_modify(|s| s.held = false);
    }

    /// Closes the node's connections: what they held is lost.
    fn cut(&self) {
        self.state.send_modify(|s| {
            s.held = false;
            s.cuts += 1;
        });
    }
}

/// One relayed connection, until either side closes or the relay cuts it.
async fn relay_connection(
    node: TcpStream,
    nats: TcpStream,
    mut state: watch::Receiver<RelayState>,
    held: watch::Sender<Vec<u8>>,
) {
    let generation = state.borrow().cuts;
    let (mut node_read, mut node_write) = node.into_split();
    let (mut nats_read, mut nats_write) = nats.into_split();
    let mut cut = state.clone();
    let to_nats = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match node_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if state.borrow().held {
                held.send_modify(|log| log.extend_from_slice(&buf[..n]));
            }
            let Ok(now) = state
                .wait_for(|s| !s.held || s.cuts != generation)
                .await
                .map(|s| *s)
            else {
                return;
            };
            if now.cuts != generation || nats_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let to_node = async move {
        let _ = tokio::io::copy(&mut nats_read, &mut node_write).await;
    };
    tokio::select! {
        () = to_nats => {}
        () = to_node => {}
        _ = cut.wait_for(|s| s.cuts != generation) => {}
    }
}

// ---- the cluster ---------------------------------------------------------------------------

/// Two nodes of one cluster: A reaches NATS through `relay`, B directly.
struct Cluster {
    a: TestServer,
    b: TestServer,
    relay: Relay,
    _nats: ScratchNats,
    _database: ScratchDatabase,
}

impl Cluster {
    async fn start() -> Self {
        let nats = ScratchNats::start();
        let relay = Relay::start(SocketAddr::from(([127, 0, 0, 1], nats.port()))).await;
        let database = ScratchDatabase::for_test().await;
        let node = |id: &'static str, bus: String, store: String| {
            move |config: &mut tidings_server::Config| {
                config.store.url = Some(store);
                config.bus.url = Some(bus);
                config.bus.node_id = Some(id.into());
            }
        };
        let a = TestServer::start_with(node("a", relay.url(), database.url().to_owned())).await;
        let b = TestServer::start_with(node("b", nats.url(), database.url().to_owned())).await;
        Self {
            a,
            b,
            relay,
            _nats: nats,
            _database: database,
        }
    }
}

/// A client of `server` whose gaps wait `gap_wait` before history is asked.
async fn client(server: &TestServer, user: &str, gap_wait: Duration) -> (Client, Events) {
    let options = ClientOptions::new(&server.url, user, server.sig(user)).gap_wait(gap_wait);
    Client::connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"))
}

async fn send_group(client: &Client, group: &str, text: &str) -> Message {
    client
        .send_message(SendMessageParams {
            group_id: Some(group.into()),
            text_elem: Some(TextElem { text: text.into() }),
            ..SendMessageParams::default()
        })
        .await
        .unwrap_or_else(|e| panic!("sending {text}: {e}"))
}

/// The next new message, or a gap (as `None`).
async fn next_message(events: &mut Events) -> Result<(u64, String), (u64, u64)> {
    next_event(events, |event| match event {
        SdkEvent::RecvNewMessage(m) => {
            Some(Ok((m.seq, m.text_elem.map(|t| t.text).unwrap_or_default())))
        }
        SdkEvent::MessageGap {
            first_seq,
            last_seq,
            ..
        } => Some(Err((first_seq, last_seq))),
        _ => None,
    })
    .await
}

/// `(seq, text)` of the next `n` new messages; a gap fails the test.
async fn next_messages(events: &mut Events, n: usize) -> Vec<(u64, String)> {
    let mut messages = Vec::new();
    for _ in 0..n {
        match next_message(events).await {
            Ok(message) => messages.push(message),
            Err(gap) => panic!("unexpected gap {gap:?} after {messages:?}"),
        }
    }
    messages
}

fn pair(seq: u64, text: &str) -> (u64, String) {
    (seq, text.to_owned())
}

/// The new messages among the events already waiting.
fn waiting_messages(events: &mut Events) -> Vec<Message> {
    std::iter::from_fn(|| events.try_recv())
        .filter_map(|event| match event {
            SdkEvent::RecvNewMessage(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// A group of the three users, created by alice, with one message everyone has seen.
async fn group_with_history(alice: &Client, members: &[&str]) -> String {
    let group_id = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "order".into(),
            member_list: members
                .iter()
                .map(|&user| GroupMemberSpec {
                    user_id: user.into(),
                    role: GroupRole::Member,
                })
                .collect(),
        })
        .await
        .expect("createGroup");
    send_group(alice, &group_id, "m1").await;
    group_id
}

/// The `onRecvNewMessage` pushes a raw connection gets up to the one with text `marker`.
async fn raw_texts_until(raw: &mut Raw, marker: &str) -> Vec<String> {
    let mut texts = Vec::new();
    loop {
        let push: Value = raw.push("onRecvNewMessage").await;
        let text = push["data"]["textElem"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let done = text == marker;
        texts.push(text);
        if done {
            return texts;
        }
    }
}

// ---- tests ---------------------------------------------------------------------------------

/// The client's own sends are handed over once each, in order, whether their answer or their
/// echo comes first; an `onlineUserOnly` one (no `seq`) once too.
#[tokio::test]
async fn own_messages_are_handed_over_once() {
    let server = TestServer::start().await;
    let (bob, _bob_events) = server.client("bob").await;
    let (carol, mut carol_events) = client(&server, "carol", Duration::from_secs(3600)).await;
    let mut sent = Vec::new();
    for (text, online_user_only) in [("one", false), ("live", true), ("two", false)] {
        let message = carol
            .send_message(SendMessageParams {
                receiver: Some("bob".into()),
                text_elem: Some(TextElem { text: text.into() }),
                online_user_only,
                ..SendMessageParams::default()
            })
            .await
            .expect("send");
        sent.push(message.seq);
    }
    assert_eq!(sent, [1, 0, 2]);
    // A marker from bob: every earlier push to carol came before it.
    bob.send_text("carol", "marker").await.expect("marker");
    let mut texts = Vec::new();
    loop {
        let (seq, text) = next_message(&mut carol_events)
            .await
            .unwrap_or_else(|gap| panic!("unexpected gap {gap:?}"));
        let done = text == "marker";
        texts.push((seq, text));
        if done {
            break;
        }
    }
    assert_eq!(
        texts,
        [
            pair(1, "one"),
            pair(0, "live"),
            pair(2, "two"),
            pair(3, "marker")
        ]
    );
}

/// An `onlineUserOnly` message that asks for receipts takes no place in the sequence either: the
/// receiver's SDK (which would wait an hour on a hole) hands over 1, the live one, 2 at once, and
/// the receipt the receiver sends for it reaches the sender's pull.
#[tokio::test]
async fn an_online_message_with_receipts_opens_no_gap_and_takes_its_receipt() {
    let server = TestServer::start().await;
    let (carol, _carol_events) = server.client("carol").await;
    let (bob, mut bob_events) = client(&server, "bob", Duration::from_secs(3600)).await;
    let mut sent = Vec::new();
    for (text, live) in [("one", false), ("live", true), ("two", false)] {
        let message = carol
            .send_message(SendMessageParams {
                receiver: Some("bob".into()),
                text_elem: Some(TextElem { text: text.into() }),
                online_user_only: live,
                need_read_receipt: live,
                ..SendMessageParams::default()
            })
            .await
            .expect("send");
        sent.push(message);
    }
    assert_eq!(sent.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 0, 2]);
    assert_eq!(
        next_messages(&mut bob_events, 3).await,
        [pair(1, "one"), pair(0, "live"), pair(2, "two")]
    );
    bob.send_message_read_receipts(vec![sent[1].msg_id.clone()])
        .await
        .expect("receipt");
    let pulled = carol
        .get_message_read_receipts(vec![sent[1].msg_id.clone()])
        .await
        .expect("pull");
    assert!(pulled[0].is_peer_read, "{pulled:?}");
}

/// REST `sendmsg` with `SyncOtherMachine` 2 keeps a message off the sender's own devices. When
/// the sender's next message arrives, carol's SDK finds the hole before it and fills it from
/// history, so her conversation reads 1, 2 (one node, on the test's store engine).
#[tokio::test]
async fn a_message_never_pushed_to_a_device_is_filled_from_history() {
    let server = TestServer::start().await;
    let (_bob, _bob_events) = server.client("bob").await;
    let (_carol, mut carol_events) = client(&server, "carol", Duration::from_millis(50)).await;
    for (text, sync) in [("quiet", 2), ("next", 1)] {
        let body = serde_json::json!({
            "SyncOtherMachine": sync, "From_Account": "carol", "To_Account": "bob",
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
        });
        let reply = server.rest("openim/sendmsg", body).await;
        assert_eq!(reply["ActionStatus"], "OK", "{reply}");
    }
    assert_eq!(
        next_messages(&mut carol_events, 2).await,
        [pair(1, "quiet"), pair(2, "next")]
    );
}

/// A group message from node A is overtaken by a later one sent on node B; carol, on B, is
/// handed them in order, once the late push comes. Her own C2C send takes its place in the
/// order too: it is no gap for the next message, and its echo is no repeat.
#[tokio::test]
async fn overtaken_pushes_are_handed_over_in_order() {
    let cluster = Cluster::start().await;
    // Gaps here must be closed by the late pushes themselves, never by history.
    let hour = Duration::from_secs(3600);
    let (alice, _alice_events) = client(&cluster.a, "alice", hour).await;
    let (bob, _bob_events) = client(&cluster.b, "bob", hour).await;
    let (carol, mut carol_events) = client(&cluster.b, "carol", hour).await;
    let group = group_with_history(&alice, &["bob", "carol"]).await;
    assert_eq!(next_messages(&mut carol_events, 1).await, [pair(1, "m1")]);

    cluster.relay.hold();
    let m2 = send_group(&alice, &group, "m2").await;
    let m3 = send_group(&bob, &group, "m3").await;
    assert_eq!((m2.seq, m3.seq), (2, 3));
    // m3 was queued for carol before this request was read, so it came before the answer:
    // the SDK holds it, waiting for m2.
    carol
        .get_total_unread_message_count()
        .await
        .expect("a request after m3's push");
    let early: Vec<u64> = waiting_messages(&mut carol_events)
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(early, Vec::<u64>::new(), "m3 must wait for m2");

    cluster.relay.release();
    assert_eq!(
        next_messages(&mut carol_events, 2).await,
        [pair(2, "m2"), pair(3, "m3")]
    );

    // C2C: alice's message to carol is held; carol's reply, acknowledged with the next seq,
    // waits behind it, and its echo is not handed over twice.
    cluster.relay.hold();
    let from_alice = alice
        .send_text("carol", "c1")
        .await
        .expect("alice to carol");
    let reply = carol
        .send_text("alice", "c2")
        .await
        .expect("carol to alice");
    assert_eq!((from_alice.seq, reply.seq), (1, 2));
    cluster.relay.release();
    assert_eq!(
        next_messages(&mut carol_events, 2).await,
        [pair(1, "c1"), pair(2, "c2")]
    );
    // The next ones follow, with nothing repeated in between.
    send_group(&alice, &group, "m4").await;
    let next = carol
        .send_text("alice", "c3")
        .await
        .expect("carol to alice");
    assert_eq!(next.seq, 3);
    let mut rest = next_messages(&mut carol_events, 2).await;
    rest.sort();
    assert_eq!(rest, [pair(3, "c3"), pair(4, "m4")]);
}

/// Node A's publish of m2 is lost for good (its link to NATS is cut while holding it), so no
/// push of m2 reaches node B: carol's SDK takes m2 from history before m3.
#[tokio::test]
async fn a_lost_push_is_filled_from_history() {
    let cluster = Cluster::start().await;
    let wait = Duration::from_millis(50);
    let (alice, mut alice_events) = client(&cluster.a, "alice", wait).await;
    let (bob, _bob_events) = client(&cluster.b, "bob", wait).await;
    let (_carol, mut carol_events) = client(&cluster.b, "carol", wait).await;
    // dave watches node B's pushes as they are, without an SDK.
    let mut dave = cluster.b.raw_login("dave").await;
    let group = group_with_history(&alice, &["bob", "carol", "dave"]).await;
    assert_eq!(next_messages(&mut carol_events, 1).await, [pair(1, "m1")]);
    assert_eq!(raw_texts_until(&mut dave, "m1").await, ["m1"]);

    cluster.relay.hold();
    let m2 = send_group(&alice, &group, "m2").await;
    cluster.relay.holding(&m2.msg_id).await;
    cluster.relay.cut();
    send_group(&bob, &group, "m3").await;
    assert_eq!(
        next_messages(&mut carol_events, 2).await,
        [pair(2, "m2"), pair(3, "m3")]
    );

    // Node A is back on the bus; it closed its sessions, as it may have missed pushes, and
    // alice's SDK reconnected. Its next message reaches node B, and m2 never did.
    next_event(&mut alice_events, |e| {
        matches!(e, SdkEvent::Reconnected).then_some(())
    })
    .await;
    send_group(&alice, &group, "m4").await;
    assert_eq!(next_messages(&mut carol_events, 1).await, [pair(4, "m4")]);
    assert_eq!(raw_texts_until(&mut dave, "m4").await, ["m3", "m4"]);
}

/// The next `onConversationChanged` holding conversation `id`.
async fn conversation_changed(events: &mut Events, id: &str) -> tidings_sdk::Conversation {
    next_event(events, |event| match event {
        SdkEvent::ConversationChanged(list) => list.into_iter().find(|c| c.conversation_id == id),
        _ => None,
    })
    .await
}

/// A group message on node A changes the conversation and the total of a member on node B:
/// node B builds them for its own sessions from the conversation note A published, and node A
/// builds none for B's sessions, so each arrives once.
#[tokio::test]
async fn badge_pushes_reach_members_on_the_other_node_once() {
    let cluster = Cluster::start().await;
    let hour = Duration::from_secs(3600);
    let (alice, mut alice_events) = client(&cluster.a, "alice", hour).await;
    let (_bob, mut bob_events) = client(&cluster.b, "bob", hour).await;
    let group = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "badges".into(),
            member_list: vec![GroupMemberSpec {
                user_id: "bob".into(),
                role: GroupRole::Member,
            }],
        })
        .await
        .expect("createGroup");
    let id = format!("group_{group}");
    next_event(&mut bob_events, |event| match event {
        SdkEvent::NewConversation(list) => list.into_iter().find(|c| c.conversation_id == id),
        _ => None,
    })
    .await;

    send_group(&alice, &group, "hello").await;
    let bobs = conversation_changed(&mut bob_events, &id).await;
    assert_eq!(
        (bobs.unread_count, bobs.last_message.map(|m| m.seq)),
        (1, Some(1))
    );
    next_event(&mut bob_events, |event| match event {
        SdkEvent::TotalUnreadMessageCountChanged(total) => Some(total),
        _ => None,
    })
    .await;
    let alices = conversation_changed(&mut alice_events, &id).await;
    assert_eq!(alices.unread_count, 0, "the sender's view, on node A");

    // A marker on the same path: anything pushed twice would come before it.
    alice.send_text("bob", "marker").await.expect("marker");
    let before_marker = common::events_until(&mut bob_events, |event| {
        matches!(event, SdkEvent::NewConversation(list)
            if list.iter().any(|c| c.conversation_id == "c2c_alice"))
    })
    .await;
    let repeated: Vec<&SdkEvent> = before_marker
        .iter()
        .filter(|event| {
            matches!(event, SdkEvent::ConversationChanged(list)
                if list.iter().any(|c| c.conversation_id == id))
                || matches!(event, SdkEvent::TotalUnreadMessageCountChanged(1))
        })
        .collect();
    assert_eq!(repeated, Vec::<&SdkEvent>::new(), "each push once");
}
