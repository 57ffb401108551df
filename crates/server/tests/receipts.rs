//! Message read receipts end to end through the SDK: the C2C and group flows of the seed
//! document, every refusal (and that refusals record nothing), duplicates, coalesced pushes,
//! keyset paging under concurrent receipts, conversation-level reads, and restarts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use common::{TestServer, conversation_unread, events_until, next_event};
use tidings_sdk::proto::{MEMBER_OP_SUCCESS, MessageReceipt};
use tidings_sdk::{
    Client, CreateGroupParams, ErrorCode, Events, GroupMemberSpec, GroupRole, GroupType, Message,
    READ_MEMBERS_FILTER_READ, READ_MEMBERS_FILTER_UNREAD, SdkError, SdkEvent, SendMessageParams,
    SendReceiptsResult, TextElem,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Logged-in SDK clients by user name, each with its event stream.
struct Users {
    by_name: BTreeMap<String, (Client, Events)>,
}

impl Users {
    async fn connect(server: &TestServer, names: &[&str]) -> Self {
        let mut by_name = BTreeMap::new();
        for name in names {
            by_name.insert((*name).to_owned(), server.client(name).await);
        }
        Self { by_name }
    }

    fn client(&self, name: &str) -> &Client {
        &self
            .by_name
            .get(name)
            .unwrap_or_else(|| panic!("no client for {name}"))
            .0
    }

    fn events(&mut self, name: &str) -> &mut Events {
        &mut self
            .by_name
            .get_mut(name)
            .unwrap_or_else(|| panic!("no client for {name}"))
            .1
    }

    async fn close(self) {
        for (client, _) in self.by_name.values() {
            client.close().await;
        }
    }
}

fn text(text: &str) -> Option<TextElem> {
    Some(TextElem {
        text: text.to_owned(),
    })
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// The server's code of a refused call.
fn code<T: Debug>(result: Result<T, SdkError>) -> u32 {
    match result {
        Ok(value) => panic!("expected a refusal, got {value:?}"),
        Err(error) => error
            .code()
            .unwrap_or_else(|| panic!("expected a server refusal, got {error:?}")),
    }
}

fn c(code: ErrorCode) -> u32 {
    code.as_u32()
}

async fn send_c2c(client: &Client, receiver: &str, need_read_receipt: bool) -> Message {
    client
        .send_message(SendMessageParams {
            receiver: Some(receiver.to_owned()),
            text_elem: text("hello"),
            need_read_receipt,
            ..SendMessageParams::default()
        })
        .await
        .expect("C2C message sent")
}

fn group_message(group_id: &str, need_read_receipt: bool) -> SendMessageParams {
    SendMessageParams {
        group_id: Some(group_id.to_owned()),
        text_elem: text("hello group"),
        need_read_receipt,
        ..SendMessageParams::default()
    }
}

async fn send_group(client: &Client, group_id: &str, need_read_receipt: bool) -> Message {
    client
        .send_message(group_message(group_id, need_read_receipt))
        .await
        .expect("group message sent")
}

async fn create_group_with(
    owner: &Client,
    group_type: &str,
    group_id: &str,
    members: Vec<GroupMemberSpec>,
) -> String {
    owner
        .create_group(CreateGroupParams {
            group_type: group_type.to_owned(),
            group_id: Some(group_id.to_owned()),
            group_name: group_id.to_owned(),
            member_list: members,
        })
        .await
        .expect("group created")
}

async fn create_group(
    owner: &Client,
    group_type: &str,
    group_id: &str,
    members: &[&str],
) -> String {
    let members = members
        .iter()
        .map(|m| GroupMemberSpec {
            user_id: (*m).to_owned(),
            role: GroupRole::Member,
        })
        .collect();
    create_group_with(owner, group_type, group_id, members).await
}

async fn invite(client: &Client, group_id: &str, user: &str) {
    let results = client
        .invite_user_to_group(group_id, vec![user.to_owned()])
        .await
        .expect("invited");
    assert_eq!(results[0].result, MEMBER_OP_SUCCESS, "{results:?}");
}

/// `(readCount, unreadCount)` of a group message, pulled by its sender.
async fn counts(sender: &Client, msg_id: &str) -> (u64, u64) {
    let receipts = sender
        .get_message_read_receipts(ids(&[msg_id]))
        .await
        .expect("receipts pulled");
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    let receipt = &receipts[0];
    assert_eq!(receipt.msg_id, msg_id);
    assert!(
        !receipt.is_peer_read && receipt.user_id.is_empty() && receipt.timestamp == 0,
        "{receipt:?}"
    );
    (receipt.read_count, receipt.unread_count)
}

/// The C2C receipt state of a message, pulled by its sender.
async fn c2c_state(sender: &Client, msg_id: &str) -> MessageReceipt {
    let mut receipts = sender
        .get_message_read_receipts(ids(&[msg_id]))
        .await
        .expect("receipts pulled");
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    receipts.remove(0)
}

/// Every page of a read (filter 0) or unread (filter 1) list with page size `count`, checking
/// that pages are full until the last, cursors move forward, and no member repeats.
async fn member_list(client: &Client, msg_id: &str, filter: u32, count: u32) -> Vec<String> {
    let mut listed = Vec::new();
    let mut next_seq = 0;
    for _ in 0..1000 {
        let page = client
            .get_group_message_read_member_list(msg_id, filter, next_seq, count)
            .await
            .expect("member list page");
        assert!(page.member_info_list.len() <= count as usize, "{page:?}");
        listed.extend(page.member_info_list.iter().map(|m| m.user_id.clone()));
        if page.is_finished {
            let unique: BTreeSet<&String> = listed.iter().collect();
            assert_eq!(
                unique.len(),
                listed.len(),
                "a member listed twice: {listed:?}"
            );
            return listed;
        }
        assert_eq!(
            page.member_info_list.len(),
            count as usize,
            "short page before the end: {page:?}"
        );
        assert!(
            page.next_seq > next_seq,
            "cursor did not move forward: {page:?}"
        );
        next_seq = page.next_seq;
    }
    panic!("member list of {msg_id} never finished");
}

fn receipt_of(msg_id: &str) -> impl FnMut(SdkEvent) -> Option<MessageReceipt> + '_ {
    move |event| match event {
        SdkEvent::RecvMessageReadReceipts(list) => list.into_iter().find(|r| r.msg_id == msg_id),
        _ => None,
    }
}

/// Group receipt pushes for `msg_id` until one says `read` readers; all of them, in order.
async fn pushes_until(events: &mut Events, msg_id: &str, read: u64) -> Vec<MessageReceipt> {
    let mut seen = Vec::new();
    loop {
        let receipt = next_event(events, receipt_of(msg_id)).await;
        let done = receipt.read_count == read;
        seen.push(receipt);
        if done {
            return seen;
        }
    }
}

/// Whether an event is the `onRecvNewMessage` of `msg_id`.
fn is_new_message(msg_id: &str) -> impl Fn(&SdkEvent) -> bool + '_ {
    move |event| matches!(event, SdkEvent::RecvNewMessage(m) if m.msg_id == msg_id)
}

/// Whether an event is a receipt push naming `msg_id`.
fn is_receipt_of(msg_id: &str) -> impl Fn(&SdkEvent) -> bool + '_ {
    move |event| matches!(event, SdkEvent::RecvMessageReadReceipts(list) if list.iter().any(|r| r.msg_id == msg_id))
}

/// The messages a receipt push (to the sender or to the reader's other devices) names.
fn receipt_ids(event: &SdkEvent) -> Vec<&str> {
    match event {
        SdkEvent::RecvMessageReadReceipts(list) => list.iter().map(|r| r.msg_id.as_str()).collect(),
        SdkEvent::MessageReceiptsSent(sent) => {
            sent.message_id_list.iter().map(String::as_str).collect()
        }
        _ => Vec::new(),
    }
}

/// Receipt-related pushes among events.
fn receipt_pushes(events: &[SdkEvent]) -> Vec<&SdkEvent> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                SdkEvent::RecvMessageReadReceipts(_)
                    | SdkEvent::MessageReceiptsSent(_)
                    | SdkEvent::RecvC2cReadReceipt(_)
            )
        })
        .collect()
}

/// Checks that pushed counts never go backwards and always add up to `recipients`.
fn assert_monotone(pushes: &[MessageReceipt], recipients: u64) {
    let mut last = (0, recipients);
    for push in pushes {
        let (read, unread) = (push.read_count, push.unread_count);
        assert_eq!(read + unread, recipients, "{push:?}");
        assert!(
            read >= last.0 && unread <= last.1,
            "counts went backwards: {pushes:?}"
        );
        last = (read, unread);
    }
}

async fn received(events: &mut Events, msg_id: &str) -> Message {
    next_event(events, |e| match e {
        SdkEvent::RecvNewMessage(m) if m.msg_id == msg_id => Some(m),
        _ => None,
    })
    .await
}

async fn group_history_of(client: &Client, group_id: &str, msg_id: &str) -> Message {
    client
        .get_group_history_message_list(group_id, 100, None)
        .await
        .expect("group history")
        .into_iter()
        .find(|m| m.msg_id == msg_id)
        .unwrap_or_else(|| panic!("{msg_id} not in history"))
}

async fn c2c_history_of(client: &Client, peer: &str, msg_id: &str) -> Message {
    client
        .get_c2c_history_message_list(peer, 100, None)
        .await
        .expect("C2C history")
        .into_iter()
        .find(|m| m.msg_id == msg_id)
        .unwrap_or_else(|| panic!("{msg_id} not in history"))
}

// ---------------------------------------------------------------------------------------------
// The seed flows
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c2c_seed_flow() {
    let server = TestServer::start().await;
    let mut users = Users::connect(&server, &["alice", "bob"]).await;
    let (_bob_tablet, mut tablet_events) = server.client("bob").await;

    let sent = send_c2c(users.client("alice"), "bob", true).await;
    assert!(
        sent.need_read_receipt && sent.is_self && !sent.is_peer_read,
        "{sent:?}"
    );

    let seen = received(users.events("bob"), &sent.msg_id).await;
    assert!(
        seen.need_read_receipt,
        "the receiver sees needReadReceipt: {seen:?}"
    );
    assert!(!seen.has_sent_receipt && !seen.is_self, "{seen:?}");

    let before = c2c_state(users.client("alice"), &sent.msg_id).await;
    assert_eq!(
        before,
        MessageReceipt {
            msg_id: sent.msg_id.clone(),
            user_id: "bob".into(),
            group_id: String::new(),
            is_peer_read: false,
            timestamp: 0,
            read_count: 0,
            unread_count: 0,
        }
    );

    users
        .client("bob")
        .send_message_read_receipts(ids(&[&sent.msg_id]))
        .await
        .expect("receipt sent");

    let pushed = next_event(users.events("alice"), receipt_of(&sent.msg_id)).await;
    assert_eq!(pushed.user_id, "bob", "{pushed:?}");
    assert!(pushed.is_peer_read, "{pushed:?}");
    assert!(
        pushed.timestamp >= sent.timestamp,
        "{pushed:?} for {sent:?}"
    );
    assert!(
        pushed.group_id.is_empty() && pushed.read_count == 0 && pushed.unread_count == 0,
        "{pushed:?}"
    );

    let pulled = c2c_state(users.client("alice"), &sent.msg_id).await;
    assert_eq!(pulled, pushed, "pull agrees with the push");

    // The receiver's other device learns the receipt was sent.
    let synced = next_event(&mut tablet_events, |e| match e {
        SdkEvent::MessageReceiptsSent(sent) => Some(sent),
        _ => None,
    })
    .await;
    assert_eq!(synced.message_id_list, ids(&[&sent.msg_id]));
    // The calling device has its response, not a push: none arrives before the next message.
    let second = send_c2c(users.client("alice"), "bob", true).await.msg_id;
    let on_calling_device = events_until(users.events("bob"), is_new_message(&second)).await;
    assert!(
        !on_calling_device
            .iter()
            .any(|e| matches!(e, SdkEvent::MessageReceiptsSent(_))),
        "the calling device has its response, not a push: {on_calling_device:?}"
    );

    let bobs_view = c2c_history_of(users.client("bob"), "alice", &sent.msg_id).await;
    assert!(bobs_view.has_sent_receipt, "{bobs_view:?}");
    let alices_view = c2c_history_of(users.client("alice"), "bob", &sent.msg_id).await;
    assert!(
        alices_view.receipt_peer_read && !alices_view.is_peer_read,
        "a receipt is message-level: {alices_view:?}"
    );
    assert!(
        !alices_view.has_sent_receipt,
        "the sender never 'sent a receipt' for her own message"
    );

    // Several messages in one call: one push to the sender listing each of them.
    let third = send_c2c(users.client("alice"), "bob", true).await.msg_id;
    users
        .client("bob")
        .send_message_read_receipts(vec![second.clone(), third.clone(), sent.msg_id.clone()])
        .await
        .expect("batch of receipts");
    let batch = next_event(users.events("alice"), |e| match e {
        SdkEvent::RecvMessageReadReceipts(list) if list.iter().any(|r| r.msg_id == second) => {
            Some(list)
        }
        _ => None,
    })
    .await;
    let listed: Vec<&str> = batch.iter().map(|r| r.msg_id.as_str()).collect();
    assert_eq!(
        listed,
        [second.as_str(), third.as_str()],
        "only the newly read ones"
    );
    assert!(batch.iter().all(|r| r.is_peer_read));
    let pulled = users
        .client("alice")
        .get_message_read_receipts(vec![third.clone(), second.clone(), third.clone()])
        .await
        .expect("pulled");
    let pulled: Vec<&str> = pulled.iter().map(|r| r.msg_id.as_str()).collect();
    assert_eq!(
        pulled,
        [third.as_str(), second.as_str()],
        "in the order asked, once each"
    );
    users.close().await;
}

#[tokio::test]
async fn group_seed_flow() {
    let server = TestServer::start().await;
    let names = [
        "alice", "bob", "carol", "dave", "erin", "frank", "heidi", "grace",
    ];
    let mut users = Users::connect(&server, &names).await;
    let group = create_group(
        users.client("alice"),
        "Work",
        "g-seed",
        &["bob", "carol", "dave", "erin", "frank", "heidi"],
    )
    .await;
    // Heidi leaves before the send: not a recipient.
    users
        .client("heidi")
        .quit_group(&group)
        .await
        .expect("heidi quits");

    let sent = send_group(users.client("alice"), &group, true).await;
    assert!(sent.need_read_receipt);
    let recipients = ["bob", "carol", "dave", "erin", "frank"];
    for name in recipients {
        let seen = received(users.events(name), &sent.msg_id).await;
        assert!(
            seen.need_read_receipt && !seen.has_sent_receipt,
            "{name}: {seen:?}"
        );
    }
    // Grace joins after the send: not a recipient either.
    invite(users.client("alice"), &group, "grace").await;
    assert_eq!(
        code(
            users
                .client("grace")
                .send_message_read_receipts(ids(&[&sent.msg_id]))
                .await
        ),
        c(ErrorCode::GroupPermissionDenied)
    );

    let alice = users.client("alice").clone();
    assert_eq!(counts(&alice, &sent.msg_id).await, (0, 5));
    assert_eq!(
        member_list(&alice, &sent.msg_id, READ_MEMBERS_FILTER_READ, 2).await,
        Vec::<String>::new()
    );
    assert_eq!(
        member_list(&alice, &sent.msg_id, READ_MEMBERS_FILTER_UNREAD, 2).await,
        ids(&recipients)
    );

    for reader in ["bob", "carol", "dave"] {
        users
            .client(reader)
            .send_message_read_receipts(ids(&[&sent.msg_id]))
            .await
            .expect("receipt");
    }
    let mut pushes = pushes_until(users.events("alice"), &sent.msg_id, 3).await;
    assert_monotone(&pushes, 5);
    assert_eq!(counts(&alice, &sent.msg_id).await, (3, 2));
    assert_eq!(
        member_list(&alice, &sent.msg_id, READ_MEMBERS_FILTER_READ, 2).await,
        ids(&["bob", "carol", "dave"])
    );
    assert_eq!(
        member_list(&alice, &sent.msg_id, READ_MEMBERS_FILTER_UNREAD, 2).await,
        ids(&["erin", "frank"])
    );
    assert!(
        group_history_of(users.client("bob"), &group, &sent.msg_id)
            .await
            .has_sent_receipt
    );
    assert!(
        !group_history_of(users.client("erin"), &group, &sent.msg_id)
            .await
            .has_sent_receipt
    );

    for reader in ["erin", "frank"] {
        users
            .client(reader)
            .send_message_read_receipts(ids(&[&sent.msg_id]))
            .await
            .expect("receipt");
    }
    pushes.extend(pushes_until(users.events("alice"), &sent.msg_id, 5).await);
    assert_monotone(&pushes, 5);
    let last = pushes.last().expect("at least one push");
    assert_eq!((last.read_count, last.unread_count), (5, 0));
    assert_eq!(last.group_id, group);
    assert_eq!(
        counts(&alice, &sent.msg_id).await,
        (5, 0),
        "last push equals the pull"
    );
    assert_eq!(
        member_list(&alice, &sent.msg_id, READ_MEMBERS_FILTER_READ, 2).await,
        ids(&recipients)
    );
    assert_eq!(
        member_list(&alice, &sent.msg_id, READ_MEMBERS_FILTER_UNREAD, 2).await,
        Vec::<String>::new()
    );
    users.close().await;
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn disabled_receipts_refuse_every_receipt_method_and_record_nothing() {
    let server = TestServer::start().await;
    let users = Users::connect(&server, &["alice", "bob"]).await;
    let group = create_group(users.client("alice"), "Work", "g-off", &["bob"]).await;
    let c2c = send_c2c(users.client("alice"), "bob", true).await;
    let grouped = send_group(users.client("alice"), &group, true).await;
    users.close().await;

    let server = TestServer::start_in(server.stop().await, |config| {
        config.read_receipts.enabled = false
    })
    .await;
    let users = Users::connect(&server, &["alice", "bob"]).await;
    let (alice, bob) = (users.client("alice"), users.client("bob"));
    let unsupported = c(ErrorCode::InterfaceNotSupported);
    let c2c_params = SendMessageParams {
        receiver: Some("bob".into()),
        text_elem: text("x"),
        need_read_receipt: true,
        ..SendMessageParams::default()
    };
    assert_eq!(code(alice.send_message(c2c_params).await), unsupported);
    assert_eq!(
        code(alice.send_message(group_message(&group, true)).await),
        unsupported
    );
    for msg_id in [&c2c.msg_id, &grouped.msg_id] {
        assert_eq!(
            code(bob.send_message_read_receipts(ids(&[msg_id])).await),
            unsupported
        );
        assert_eq!(
            code(alice.get_message_read_receipts(ids(&[msg_id])).await),
            unsupported
        );
    }
    for filter in [READ_MEMBERS_FILTER_READ, READ_MEMBERS_FILTER_UNREAD] {
        assert_eq!(
            code(
                alice
                    .get_group_message_read_member_list(&grouped.msg_id, filter, 0, 10)
                    .await
            ),
            unsupported
        );
    }
    // Messages without receipts still go through; the refused ones were not stored.
    send_c2c(alice, "bob", false).await;
    send_group(alice, &group, false).await;
    assert_eq!(
        alice
            .get_c2c_history_message_list("bob", 100, None)
            .await
            .expect("history")
            .len(),
        2
    );
    assert_eq!(
        alice
            .get_group_history_message_list(&group, 100, None)
            .await
            .expect("history")
            .len(),
        2
    );
    users.close().await;

    let server = TestServer::start_in(server.stop().await, |_| {}).await;
    let users = Users::connect(&server, &["alice", "bob"]).await;
    let state = c2c_state(users.client("alice"), &c2c.msg_id).await;
    assert_eq!((state.is_peer_read, state.timestamp), (false, 0));
    assert_eq!(counts(users.client("alice"), &grouped.msg_id).await, (0, 1));
    assert!(
        !c2c_history_of(users.client("bob"), "alice", &c2c.msg_id)
            .await
            .has_sent_receipt
    );
    assert!(
        !group_history_of(users.client("bob"), &group, &grouped.msg_id)
            .await
            .has_sent_receipt
    );
    users.close().await;
    drop(server);
}

#[tokio::test]
async fn group_types_without_receipts_refuse_them() {
    let server = TestServer::start().await;
    let users = Users::connect(&server, &["alice", "bob"]).await;
    let (alice, bob) = (users.client("alice"), users.client("bob"));
    let unsupported = c(ErrorCode::InterfaceNotSupported);

    // Community is not among the default receipt group types.
    let community = create_group(alice, "Community", "g-community", &["bob"]).await;
    assert_eq!(
        code(alice.send_message(group_message(&community, true)).await),
        unsupported
    );
    assert!(
        alice
            .get_group_history_message_list(&community, 100, None)
            .await
            .expect("history")
            .is_empty()
    );
    send_group(alice, &community, false).await;

    // AVChatRoom never has receipts.
    let live = create_group(alice, "AVChatRoom", "g-live", &[]).await;
    bob.join_group(&live, "hi")
        .await
        .expect("bob joins the live room");
    assert_eq!(
        code(alice.send_message(group_message(&live, true)).await),
        unsupported
    );
    assert_eq!(
        code(bob.send_message(group_message(&live, true)).await),
        unsupported
    );
    send_group(alice, &live, false).await;

    // The default types take them.
    for (group_type, group_id) in [
        ("Work", "g-work"),
        ("Public", "g-public"),
        ("Meeting", "g-meeting"),
    ] {
        let group = create_group(alice, group_type, group_id, &["bob"]).await;
        let sent = send_group(alice, &group, true).await;
        assert_eq!(counts(alice, &sent.msg_id).await, (0, 1), "{group_type}");
    }
    users.close().await;

    // Configured otherwise: Community allowed, Work not.
    let server = TestServer::start_with(|config| {
        config.read_receipts.group_types = vec![GroupType::Community]
    })
    .await;
    let users = Users::connect(&server, &["alice", "bob"]).await;
    let (alice, bob) = (users.client("alice"), users.client("bob"));
    let community = create_group(alice, "Community", "g-community", &["bob"]).await;
    let sent = send_group(alice, &community, true).await;
    bob.send_message_read_receipts(ids(&[&sent.msg_id]))
        .await
        .expect("receipt in Community");
    assert_eq!(counts(alice, &sent.msg_id).await, (1, 0));
    let work = create_group(alice, "Work", "g-work", &["bob"]).await;
    assert_eq!(
        code(alice.send_message(group_message(&work, true)).await),
        unsupported
    );
    users.close().await;
}

/// `(msgID, code)` of each skipped message of a receipt call.
fn skips(result: &SendReceiptsResult) -> Vec<(&str, u32)> {
    result
        .skipped_list
        .iter()
        .map(|s| (s.msg_id.as_str(), s.code))
        .collect()
}

#[tokio::test]
async fn a_mixed_batch_records_the_valid_messages_and_lists_the_skipped_ones() {
    let server = TestServer::start().await;
    let users = Users::connect(&server, &["alice", "bob", "frank"]).await;
    let group = create_group(users.client("alice"), "Work", "g-mixed", &["bob"]).await;
    let before_frank = send_group(users.client("alice"), &group, true).await.msg_id;
    invite(users.client("alice"), &group, "frank").await;
    let asked = send_group(users.client("alice"), &group, true).await.msg_id;
    let plain = send_group(users.client("alice"), &group, false)
        .await
        .msg_id;
    let own = send_group(users.client("frank"), &group, true).await.msg_id;
    let also_asked = send_group(users.client("bob"), &group, true).await.msg_id;

    // Frank reports his whole visible page, as TUIKit does.
    let page = vec![
        before_frank.clone(),
        asked.clone(),
        plain.clone(),
        own.clone(),
        "no-such-message".to_owned(),
        also_asked.clone(),
        asked.clone(),
    ];
    let result = users
        .client("frank")
        .send_message_read_receipts(page.clone())
        .await
        .expect("the valid messages are recorded");
    let (denied, no_info, invalid) = (
        c(ErrorCode::GroupPermissionDenied),
        c(ErrorCode::ReceiptInfoNotFound),
        c(ErrorCode::InvalidParameters),
    );
    assert_eq!(
        skips(&result),
        [
            (before_frank.as_str(), denied),
            (plain.as_str(), no_info),
            (own.as_str(), invalid),
            ("no-such-message", no_info),
        ]
    );
    assert!(
        result.skipped_list.iter().all(|s| !s.desc.is_empty()),
        "{result:?}"
    );
    assert_eq!(counts(users.client("alice"), &asked).await, (1, 1));
    assert_eq!(counts(users.client("bob"), &also_asked).await, (1, 1));
    assert_eq!(counts(users.client("alice"), &before_frank).await, (0, 1));
    // Repeating the page changes nothing and answers the same skips.
    let again = users
        .client("frank")
        .send_message_read_receipts(page)
        .await
        .expect("repeat");
    assert_eq!(again, result);
    assert_eq!(counts(users.client("alice"), &asked).await, (1, 1));

    // C2C: the valid ones are recorded too.
    let c2c_asked = send_c2c(users.client("alice"), "bob", true).await.msg_id;
    let c2c_plain = send_c2c(users.client("alice"), "bob", false).await.msg_id;
    let result = users
        .client("bob")
        .send_message_read_receipts(vec![c2c_plain.clone(), c2c_asked.clone()])
        .await
        .expect("recorded");
    assert_eq!(skips(&result), [(c2c_plain.as_str(), no_info)]);
    assert!(
        c2c_state(users.client("alice"), &c2c_asked)
            .await
            .is_peer_read
    );
    users.close().await;
}

#[tokio::test]
async fn refused_receipts_record_nothing() {
    let server = TestServer::start().await;
    let names = ["alice", "bob", "carol", "dave", "erin", "zed", "frank"];
    let mut users = Users::connect(&server, &names).await;
    let members = vec![
        GroupMemberSpec {
            user_id: "bob".into(),
            role: GroupRole::Member,
        },
        GroupMemberSpec {
            user_id: "carol".into(),
            role: GroupRole::Member,
        },
        GroupMemberSpec {
            user_id: "dave".into(),
            role: GroupRole::Admin,
        },
        GroupMemberSpec {
            user_id: "erin".into(),
            role: GroupRole::Member,
        },
    ];
    let group = create_group_with(users.client("alice"), "Work", "g-refuse", members).await;
    let m1 = send_group(users.client("alice"), &group, true).await.msg_id;
    let m2 = send_group(users.client("alice"), &group, false)
        .await
        .msg_id;
    let m3 = send_group(users.client("bob"), &group, true).await.msg_id;
    let c1 = send_c2c(users.client("alice"), "bob", true).await.msg_id;
    let c2 = send_c2c(users.client("carol"), "bob", true).await.msg_id;
    // Frank joins after m1..m3: a late joiner. m4 is sent after he joined.
    invite(users.client("alice"), &group, "frank").await;
    let m4 = send_group(users.client("alice"), &group, true).await.msg_id;

    let invalid = c(ErrorCode::InvalidParameters);
    let no_info = c(ErrorCode::ReceiptInfoNotFound);
    let denied = c(ErrorCode::GroupPermissionDenied);
    let cases: Vec<(&str, Vec<String>, u32, &str)> = vec![
        (
            "bob",
            vec![m2.clone()],
            no_info,
            "message without receipt request",
        ),
        ("bob", vec![m3.clone()], invalid, "own group message"),
        ("alice", vec![c1.clone()], invalid, "own C2C message"),
        ("bob", ids(&["no-such-message"]), no_info, "unknown msgID"),
        (
            "bob",
            vec![m1.clone(), c1.clone()],
            invalid,
            "a group and a C2C conversation",
        ),
        (
            "bob",
            vec![c1.clone(), c2.clone()],
            invalid,
            "two C2C conversations",
        ),
        ("bob", vec![m1.clone(); 101], invalid, "more than 100 ids"),
        ("bob", Vec::new(), invalid, "no ids"),
        (
            "carol",
            vec![c1.clone()],
            denied,
            "C2C message to someone else",
        ),
        ("zed", vec![m1.clone()], denied, "not a member"),
        ("frank", vec![m1.clone()], denied, "late joiner"),
        // Batches in which no message is valid fail with the code of the first.
        (
            "bob",
            vec![m2.clone(), "no-such-message".into()],
            no_info,
            "batch without a message that asked for receipts",
        ),
        (
            "bob",
            vec![m3.clone(), m2.clone()],
            invalid,
            "batch of an own message and one without receipts",
        ),
        (
            "frank",
            vec![m1.clone(), m3.clone()],
            denied,
            "batch of messages all sent before joining",
        ),
        // A non-member fails the whole call, whatever else the batch holds.
        (
            "zed",
            vec![m2.clone(), m4.clone()],
            denied,
            "not a member, batch with a valid message",
        ),
    ];
    for (reader, list, expected, what) in &cases {
        let refused = users
            .client(reader)
            .send_message_read_receipts(list.clone())
            .await;
        assert_eq!(code(refused), *expected, "{what}");
    }

    let alice = users.client("alice").clone();
    assert_eq!(counts(&alice, &m1).await, (0, 4));
    assert_eq!(counts(&alice, &m4).await, (0, 5));
    assert_eq!(counts(users.client("bob"), &m3).await, (0, 4));
    assert!(!c2c_state(&alice, &c1).await.is_peer_read);
    assert!(!c2c_state(users.client("carol"), &c2).await.is_peer_read);
    assert!(
        !group_history_of(users.client("carol"), &group, &m4)
            .await
            .has_sent_receipt
    );
    assert!(
        !c2c_history_of(users.client("bob"), "alice", &c1)
            .await
            .has_sent_receipt
    );
    // Markers after the refusals, on each path a receipt push takes. Carol reads a new message
    // of each sender: the notifier flushes its notes in order, so a push a refusal caused would
    // reach alice and bob before (or with) these. The new messages reach every member, and a
    // message to zed reaches him, after any push a refusal published at once.
    let m5 = send_group(users.client("alice"), &group, true).await.msg_id;
    let m6 = send_group(users.client("bob"), &group, true).await.msg_id;
    let to_zed = send_c2c(users.client("alice"), "zed", false).await.msg_id;
    users
        .client("carol")
        .send_message_read_receipts(vec![m5.clone(), m6.clone()])
        .await
        .expect("carol reads the markers");
    for (name, marker) in [("alice", &m5), ("bob", &m6)] {
        let mut pushes = events_until(users.events(name), is_receipt_of(marker)).await;
        let marker_push = pushes.pop().expect("the marker");
        assert_eq!(
            receipt_ids(&marker_push),
            [marker.as_str()],
            "{name}: {marker_push:?}"
        );
        assert!(
            receipt_pushes(&pushes).is_empty(),
            "{name} got receipt pushes: {pushes:?}"
        );
    }
    for (name, marker) in [
        ("carol", &m6),
        ("dave", &m6),
        ("erin", &m6),
        ("frank", &m6),
        ("zed", &to_zed),
    ] {
        let pushes = events_until(users.events(name), is_new_message(marker)).await;
        assert!(
            receipt_pushes(&pushes).is_empty(),
            "{name} got receipt pushes: {pushes:?}"
        );
    }

    // Pulling counts: only the sender, only messages with receipts, one conversation, ≤ 100.
    assert_eq!(
        code(
            users
                .client("carol")
                .get_message_read_receipts(vec![m1.clone()])
                .await
        ),
        denied
    );
    assert_eq!(
        code(alice.get_message_read_receipts(vec![m2.clone()]).await),
        no_info
    );
    assert_eq!(
        code(
            alice
                .get_message_read_receipts(ids(&["no-such-message"]))
                .await
        ),
        no_info
    );
    assert_eq!(
        code(
            alice
                .get_message_read_receipts(vec![m1.clone(), c1.clone()])
                .await
        ),
        invalid
    );
    assert_eq!(
        code(alice.get_message_read_receipts(vec![m1.clone(); 101]).await),
        invalid
    );
    assert_eq!(
        code(alice.get_message_read_receipts(Vec::new()).await),
        invalid
    );
    assert_eq!(
        code(
            users
                .client("bob")
                .get_message_read_receipts(vec![c1.clone()])
                .await
        ),
        denied
    );

    // Listing members: the sender, the owner and admins; page size 1..=100; filter 0 or 1.
    let list = |who: &str, msg: &str, filter: u32, count: u32| {
        let client = users.client(who).clone();
        let msg = msg.to_owned();
        async move {
            client
                .get_group_message_read_member_list(msg, filter, 0, count)
                .await
        }
    };
    assert_eq!(
        code(list("carol", &m1, READ_MEMBERS_FILTER_UNREAD, 10).await),
        denied
    );
    assert_eq!(
        code(list("erin", &m3, READ_MEMBERS_FILTER_READ, 10).await),
        denied
    );
    assert_eq!(
        code(list("zed", &m1, READ_MEMBERS_FILTER_UNREAD, 10).await),
        denied
    );
    assert_eq!(
        code(list("frank", &m1, READ_MEMBERS_FILTER_UNREAD, 10).await),
        denied
    );
    let by_admin = list("dave", &m1, READ_MEMBERS_FILTER_UNREAD, 10)
        .await
        .expect("an admin may list");
    let listed: Vec<&str> = by_admin
        .member_info_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!(listed, ["bob", "carol", "dave", "erin"]);
    assert!(by_admin.is_finished);
    assert_eq!(
        member_list(users.client("dave"), &m3, READ_MEMBERS_FILTER_UNREAD, 2).await,
        ids(&["alice", "carol", "dave", "erin"])
    );
    assert_eq!(
        member_list(&alice, &m3, READ_MEMBERS_FILTER_UNREAD, 3).await,
        ids(&["alice", "carol", "dave", "erin"]),
        "the owner may list"
    );
    assert_eq!(
        member_list(users.client("bob"), &m3, READ_MEMBERS_FILTER_UNREAD, 1).await,
        ids(&["alice", "carol", "dave", "erin"]),
        "the sender may list"
    );
    assert_eq!(
        code(list("alice", &m1, READ_MEMBERS_FILTER_READ, 0).await),
        invalid
    );
    assert_eq!(
        code(list("alice", &m1, READ_MEMBERS_FILTER_READ, 101).await),
        invalid
    );
    assert_eq!(code(list("alice", &m1, 2, 10).await), invalid);
    assert_eq!(
        code(list("alice", &m2, READ_MEMBERS_FILTER_READ, 10).await),
        no_info
    );
    assert_eq!(
        code(list("alice", "no-such-message", READ_MEMBERS_FILTER_READ, 10).await),
        no_info
    );
    assert_eq!(
        code(list("alice", &c1, READ_MEMBERS_FILTER_READ, 10).await),
        invalid
    );
    assert!(
        list("alice", &m1, READ_MEMBERS_FILTER_READ, 100)
            .await
            .is_ok(),
        "100 is the largest page"
    );

    // Still nothing recorded.
    assert_eq!(counts(&alice, &m1).await, (0, 4));
    assert_eq!(counts(&alice, &m4).await, (0, 5));
    users.close().await;
}

#[tokio::test]
async fn members_who_leave_keep_their_read_state() {
    let server = TestServer::start().await;
    let names = ["alice", "bob", "carol", "dave"];
    let mut users = Users::connect(&server, &names).await;
    let group = create_group(
        users.client("alice"),
        "Work",
        "g-leave",
        &["bob", "carol", "dave"],
    )
    .await;
    let alice = users.client("alice").clone();
    let m1 = send_group(&alice, &group, true).await.msg_id;

    users
        .client("carol")
        .send_message_read_receipts(vec![m1.clone()])
        .await
        .expect("carol reads");
    pushes_until(users.events("alice"), &m1, 1).await;
    users
        .client("carol")
        .quit_group(&group)
        .await
        .expect("carol leaves");
    users
        .client("bob")
        .quit_group(&group)
        .await
        .expect("bob leaves");

    assert_eq!(
        counts(&alice, &m1).await,
        (1, 2),
        "leaving changes no counts"
    );
    assert_eq!(
        member_list(&alice, &m1, READ_MEMBERS_FILTER_READ, 2).await,
        ids(&["carol"])
    );
    assert_eq!(
        member_list(&alice, &m1, READ_MEMBERS_FILTER_UNREAD, 2).await,
        ids(&["bob", "dave"])
    );

    // A former member cannot send receipts any more; nothing changes.
    let denied = c(ErrorCode::GroupPermissionDenied);
    assert_eq!(
        code(
            users
                .client("bob")
                .send_message_read_receipts(vec![m1.clone()])
                .await
        ),
        denied
    );
    assert_eq!(
        code(
            users
                .client("carol")
                .send_message_read_receipts(vec![m1.clone()])
                .await
        ),
        denied
    );
    assert_eq!(counts(&alice, &m1).await, (1, 2));

    // A message sent while bob was away never counts him.
    let m2 = send_group(&alice, &group, true).await.msg_id;
    assert_eq!(counts(&alice, &m2).await, (0, 1));
    invite(&alice, &group, "bob").await;
    assert_eq!(
        code(
            users
                .client("bob")
                .send_message_read_receipts(vec![m2.clone()])
                .await
        ),
        denied
    );
    assert_eq!(counts(&alice, &m2).await, (0, 1));
    users.close().await;
}

// ---------------------------------------------------------------------------------------------
// Duplicates, coalescing, several senders
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn repeated_receipts_count_once_and_push_once() {
    let server = TestServer::start().await;
    let mut users = Users::connect(&server, &["alice", "bob", "carol"]).await;
    let (_bob_tablet, mut tablet_events) = server.client("bob").await;
    let group = create_group(users.client("alice"), "Work", "g-dup", &["bob", "carol"]).await;
    let alice = users.client("alice").clone();
    let m = send_group(&alice, &group, true).await.msg_id;
    let c1 = send_c2c(&alice, "bob", true).await.msg_id;

    // One call naming the same message twice.
    users
        .client("bob")
        .send_message_read_receipts(vec![m.clone(), m.clone()])
        .await
        .expect("receipt");
    let first = pushes_until(users.events("alice"), &m, 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(counts(&alice, &m).await, (1, 1));
    let synced = next_event(&mut tablet_events, |e| match e {
        SdkEvent::MessageReceiptsSent(sent) => Some(sent),
        _ => None,
    })
    .await;
    assert_eq!(synced.message_id_list, vec![m.clone()], "listed once");

    // The same receipt again, from either device: accepted, counted once, pushed never.
    users
        .client("bob")
        .send_message_read_receipts(vec![m.clone()])
        .await
        .expect("repeat accepted");
    assert_eq!(counts(&alice, &m).await, (1, 1));
    // The marker: bob reads another message from his phone. Its push to alice comes through
    // the notifier after (or with) any push the repeat caused, its sync push to the tablet
    // after any sync push the repeat caused.
    let marker = send_group(&alice, &group, true).await.msg_id;
    users
        .client("bob")
        .send_message_read_receipts(vec![marker.clone()])
        .await
        .expect("marker receipt");
    let later = events_until(users.events("alice"), is_receipt_of(&marker)).await;
    let (marker_push, before) = later.split_last().expect("the marker");
    assert_eq!(receipt_ids(marker_push), [marker.as_str()], "{later:?}");
    assert!(
        receipt_pushes(before).is_empty(),
        "second push to the sender: {later:?}"
    );
    let later = events_until(&mut tablet_events, |e| {
        matches!(e, SdkEvent::MessageReceiptsSent(sent) if sent.message_id_list.contains(&marker))
    })
    .await;
    let (marker_push, before) = later.split_last().expect("the marker");
    assert_eq!(receipt_ids(marker_push), [marker.as_str()], "{later:?}");
    assert!(
        receipt_pushes(before).is_empty(),
        "second sync push: {later:?}"
    );
    assert_eq!(
        member_list(&alice, &m, READ_MEMBERS_FILTER_READ, 2).await,
        ids(&["bob"])
    );

    // C2C: the same, and the first receipt's time is kept.
    users
        .client("bob")
        .send_message_read_receipts(vec![c1.clone(), c1.clone()])
        .await
        .expect("receipt");
    let pushed = next_event(users.events("alice"), receipt_of(&c1)).await;
    let state = c2c_state(&alice, &c1).await;
    assert_eq!(state, pushed);
    users
        .client("bob")
        .send_message_read_receipts(vec![c1.clone()])
        .await
        .expect("repeat accepted");
    assert_eq!(
        c2c_state(&alice, &c1).await,
        state,
        "the repeat changes nothing"
    );
    // The marker: bob reads another C2C message; its push to alice follows any the repeat made.
    let c2 = send_c2c(&alice, "bob", true).await.msg_id;
    users
        .client("bob")
        .send_message_read_receipts(vec![c2.clone()])
        .await
        .expect("marker receipt");
    let later = events_until(users.events("alice"), is_receipt_of(&c2)).await;
    let (marker_push, before) = later.split_last().expect("the marker");
    assert_eq!(receipt_ids(marker_push), [c2.as_str()], "{later:?}");
    assert!(
        receipt_pushes(before).is_empty(),
        "second C2C push: {later:?}"
    );

    // Concurrent duplicates from two devices still count once.
    let m2 = send_group(&alice, &group, true).await.msg_id;
    let (phone, tablet) = (
        users.client("carol").clone(),
        server.client("carol").await.0,
    );
    let (a, b) = tokio::join!(
        phone.send_message_read_receipts(vec![m2.clone()]),
        tablet.send_message_read_receipts(vec![m2.clone()])
    );
    a.expect("phone receipt");
    b.expect("tablet receipt");
    assert_eq!(counts(&alice, &m2).await, (1, 1));
    tablet.close().await;
    users.close().await;
}

#[tokio::test]
async fn concurrent_reads_in_a_large_group_are_coalesced() {
    let server = TestServer::start().await;
    let readers: Vec<String> = (1..30).map(|i| format!("member{i:02}")).collect();
    let mut names: Vec<&str> = vec!["alice"];
    names.extend(readers.iter().map(String::as_str));
    let mut users = Users::connect(&server, &names).await;
    let member_names: Vec<&str> = readers.iter().map(String::as_str).collect();
    let group = create_group(users.client("alice"), "Work", "g-big", &member_names).await;
    let alice = users.client("alice").clone();
    let m = send_group(&alice, &group, true).await.msg_id;
    assert_eq!(counts(&alice, &m).await, (0, 29));

    let mut tasks = tokio::task::JoinSet::new();
    for reader in &readers {
        let client = users.client(reader).clone();
        let m = m.clone();
        tasks.spawn(async move { client.send_message_read_receipts(vec![m]).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("receipt");
    }
    let mut pushes = pushes_until(users.events("alice"), &m, 29).await;
    // Any push still on its way for this message would come after the final one, and before
    // (or with) the push of a receipt made after all of them: the notifier keeps their order.
    let marker = send_group(&alice, &group, true).await.msg_id;
    users
        .client(&readers[0])
        .send_message_read_receipts(vec![marker.clone()])
        .await
        .expect("marker receipt");
    let stragglers = events_until(users.events("alice"), is_receipt_of(&marker)).await;
    pushes.extend(stragglers.into_iter().filter_map(receipt_of(&m)));
    assert_monotone(&pushes, 29);
    assert!(
        pushes.len() < 29,
        "{} pushes for 29 readers: not coalesced",
        pushes.len()
    );
    let last = pushes.last().expect("a push");
    assert_eq!((last.read_count, last.unread_count), (29, 0));
    assert_eq!(counts(&alice, &m).await, (29, 0));
    assert_eq!(
        member_list(&alice, &m, READ_MEMBERS_FILTER_READ, 7).await,
        readers
    );
    users.close().await;
}

#[tokio::test]
async fn one_batch_for_messages_of_several_senders_notifies_each_sender() {
    let server = TestServer::start().await;
    let mut users = Users::connect(&server, &["alice", "bob", "carol", "dave"]).await;
    let group = create_group(
        users.client("alice"),
        "Work",
        "g-senders",
        &["bob", "carol", "dave"],
    )
    .await;
    let from_alice = send_group(users.client("alice"), &group, true).await.msg_id;
    let from_bob = send_group(users.client("bob"), &group, true).await.msg_id;

    users
        .client("carol")
        .send_message_read_receipts(vec![from_alice.clone(), from_bob.clone()])
        .await
        .expect("one batch for two senders");
    // Markers: dave reads a later message of each sender. The notifier keeps the order of
    // receipts, so whatever carol's call pushed reaches each sender before (or with) these.
    let alice_marker = send_group(users.client("alice"), &group, true).await.msg_id;
    let bob_marker = send_group(users.client("bob"), &group, true).await.msg_id;
    users
        .client("dave")
        .send_message_read_receipts(vec![alice_marker.clone(), bob_marker.clone()])
        .await
        .expect("markers read");

    for (name, own, foreign, marker) in [
        ("alice", &from_alice, &from_bob, &alice_marker),
        ("bob", &from_bob, &from_alice, &bob_marker),
    ] {
        let seen = events_until(users.events(name), is_receipt_of(marker)).await;
        let told = seen
            .iter()
            .find_map(|e| receipt_of(own)(e.clone()))
            .unwrap_or_else(|| panic!("{name} was not told about {own}: {seen:?}"));
        assert_eq!((told.read_count, told.unread_count), (1, 2));
        // Nobody is told about another sender's message.
        let leaked: Vec<_> = seen.into_iter().filter_map(receipt_of(foreign)).collect();
        assert!(
            leaked.is_empty(),
            "{name} was told about {foreign}: {leaked:?}"
        );
    }
    assert_eq!(counts(users.client("alice"), &from_alice).await, (1, 2));
    assert_eq!(counts(users.client("bob"), &from_bob).await, (1, 2));
    users.close().await;
}

// ---------------------------------------------------------------------------------------------
// Keyset paging
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn paging_stays_consistent_while_receipts_arrive() {
    let server = TestServer::start().await;
    let members: Vec<String> = (1..=14).map(|i| format!("member{i:02}")).collect();
    let mut names: Vec<&str> = vec!["alice"];
    names.extend(members.iter().map(String::as_str));
    let users = Users::connect(&server, &names).await;
    let member_names: Vec<&str> = members.iter().map(String::as_str).collect();
    let group = create_group(users.client("alice"), "Work", "g-paging", &member_names).await;
    let alice = users.client("alice").clone();

    // Deterministic interleaving: receipts behind and ahead of the cursor between pages.
    let m = send_group(&alice, &group, true).await.msg_id;
    let between: [&[&str]; 3] = [
        &["member02", "member05", "member09"],
        &["member12", "member01"],
        &["member14"],
    ];
    let mut listed = Vec::new();
    let mut next_seq = 0;
    let mut changed = BTreeSet::new();
    let mut read_ahead = BTreeSet::new();
    let mut step = 0;
    loop {
        let page = alice
            .get_group_message_read_member_list(&m, READ_MEMBERS_FILTER_UNREAD, next_seq, 3)
            .await
            .expect("page");
        for member in &page.member_info_list {
            assert!(
                !read_ahead.contains(&member.user_id),
                "{} read before its page",
                member.user_id
            );
        }
        listed.extend(page.member_info_list.iter().map(|m| m.user_id.clone()));
        if page.is_finished {
            break;
        }
        next_seq = page.next_seq;
        if let Some(readers) = between.get(step) {
            for reader in *readers {
                users
                    .client(reader)
                    .send_message_read_receipts(vec![m.clone()])
                    .await
                    .expect("receipt");
                changed.insert((*reader).to_owned());
                if !listed.iter().any(|l| l == reader) {
                    read_ahead.insert((*reader).to_owned());
                }
            }
        }
        step += 1;
    }
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a member listed twice: {listed:?}"
    );
    let order: Vec<&String> = members.iter().filter(|m| unique.contains(m)).collect();
    assert_eq!(
        listed.iter().collect::<Vec<_>>(),
        order,
        "pages follow joining order"
    );
    for member in &members {
        if !changed.contains(member) {
            assert!(
                unique.contains(member),
                "{member} never read yet was skipped: {listed:?}"
            );
        }
    }
    assert_eq!(
        counts(&alice, &m).await,
        (changed.len() as u64, (14 - changed.len()) as u64)
    );

    // Truly concurrent: a background task receipts a fixed subset while both lists are paged.
    let m2 = send_group(&alice, &group, true).await.msg_id;
    let early: Vec<&str> = vec!["member03", "member08"];
    for reader in &early {
        users
            .client(reader)
            .send_message_read_receipts(vec![m2.clone()])
            .await
            .expect("receipt");
    }
    let moving: Vec<String> = [
        "member13", "member01", "member07", "member10", "member04", "member11",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let clients: Vec<Client> = moving.iter().map(|n| users.client(n).clone()).collect();
    let background = {
        let m2 = m2.clone();
        tokio::spawn(async move {
            for client in clients {
                client
                    .send_message_read_receipts(vec![m2.clone()])
                    .await
                    .expect("receipt");
                tokio::task::yield_now().await;
            }
        })
    };
    let unread = member_list(&alice, &m2, READ_MEMBERS_FILTER_UNREAD, 2).await;
    let readers = member_list(&alice, &m2, READ_MEMBERS_FILTER_READ, 2).await;
    background.await.expect("background receipts");
    let moving_set: BTreeSet<&String> = moving.iter().collect();
    for member in &members {
        if moving_set.contains(member) {
            continue;
        }
        let was_read = early.contains(&member.as_str());
        assert_eq!(
            unread.contains(member),
            !was_read,
            "{member} in unread list: {unread:?}"
        );
        assert_eq!(
            readers.contains(member),
            was_read,
            "{member} in read list: {readers:?}"
        );
    }
    assert_eq!(counts(&alice, &m2).await, (8, 6));
    users.close().await;
}

// ---------------------------------------------------------------------------------------------
// Conversation-level read
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn conversation_level_read_is_separate_from_message_receipts() {
    let server = TestServer::start().await;
    let mut users = Users::connect(&server, &["alice", "bob"]).await;
    let alice = users.client("alice").clone();
    let bob = users.client("bob").clone();
    let asked = send_c2c(&alice, "bob", true).await.msg_id;
    let plain = send_c2c(&alice, "bob", false).await.msg_id;
    assert_eq!(conversation_unread(&bob, "c2c_alice").await, 2);

    // A message-level receipt changes no unread count and marks only that message peer-read.
    bob.send_message_read_receipts(vec![asked.clone()])
        .await
        .expect("receipt");
    next_event(users.events("alice"), receipt_of(&asked)).await;
    assert_eq!(
        conversation_unread(&bob, "c2c_alice").await,
        2,
        "receipts are not conversation reads"
    );
    // A receipt is message-level: it sets receiptPeerRead, not V2TIM's conversation-level
    // isPeerRead.
    let receipted = c2c_history_of(&alice, "bob", &asked).await;
    assert!(
        receipted.receipt_peer_read && !receipted.is_peer_read,
        "{receipted:?}"
    );
    let untouched = c2c_history_of(&alice, "bob", &plain).await;
    assert!(
        !untouched.receipt_peer_read && !untouched.is_peer_read,
        "{untouched:?}"
    );
    assert!(!c2c_history_of(&bob, "alice", &asked).await.is_read);

    // markC2CMessageAsRead: the peer is told, and sees everything as peer-read.
    bob.mark_c2c_message_as_read("alice")
        .await
        .expect("marked read");
    let told = next_event(users.events("alice"), |e| match e {
        SdkEvent::RecvC2cReadReceipt(list) => list.into_iter().find(|r| r.user_id == "bob"),
        _ => None,
    })
    .await;
    assert!(told.timestamp > 0, "{told:?}");
    assert_eq!(conversation_unread(&bob, "c2c_alice").await, 0);
    let plain_seen = c2c_history_of(&alice, "bob", &plain).await;
    assert!(
        plain_seen.is_peer_read && !plain_seen.receipt_peer_read,
        "a conversation read is not a receipt: {plain_seen:?}"
    );
    assert!(c2c_history_of(&bob, "alice", &plain).await.is_read);
    // The message-level state is untouched: the plain message still has no receipt info.
    assert_eq!(
        code(alice.get_message_read_receipts(vec![plain.clone()]).await),
        c(ErrorCode::ReceiptInfoNotFound)
    );
    let later = send_c2c(&alice, "bob", true).await.msg_id;
    assert!(
        !c2c_state(&alice, &later).await.is_peer_read,
        "conversation reads are not receipts"
    );

    // cleanConversationUnreadMessageCount does the same.
    assert_eq!(conversation_unread(&bob, "c2c_alice").await, 1);
    bob.clean_conversation_unread_message_count("c2c_alice", 0, 0)
        .await
        .expect("cleaned");
    next_event(users.events("alice"), |e| match e {
        SdkEvent::RecvC2cReadReceipt(list) => list.into_iter().find(|r| r.user_id == "bob"),
        _ => None,
    })
    .await;
    assert_eq!(conversation_unread(&bob, "c2c_alice").await, 0);
    let later_seen = c2c_history_of(&alice, "bob", &later).await;
    assert!(
        later_seen.is_peer_read && !later_seen.receipt_peer_read,
        "{later_seen:?}"
    );
    assert!(!c2c_state(&alice, &later).await.is_peer_read);

    // Groups: marking the conversation read sends no receipts either.
    let group = create_group(&alice, "Work", "g-conv", &["bob"]).await;
    let m = send_group(&alice, &group, true).await.msg_id;
    bob.mark_group_message_as_read(&group)
        .await
        .expect("marked read");
    assert_eq!(counts(&alice, &m).await, (0, 1));
    assert!(!group_history_of(&bob, &group, &m).await.has_sent_receipt);
    bob.send_message_read_receipts(vec![m.clone()])
        .await
        .expect("receipt");
    assert_eq!(counts(&alice, &m).await, (1, 0));
    users.close().await;
}

// ---------------------------------------------------------------------------------------------
// Restart
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn receipts_survive_a_restart() {
    let server = TestServer::start().await;
    let names = ["alice", "bob", "carol", "dave"];
    let users = Users::connect(&server, &names).await;
    let group = create_group(
        users.client("alice"),
        "Work",
        "g-restart",
        &["bob", "carol", "dave"],
    )
    .await;
    let m = send_group(users.client("alice"), &group, true).await.msg_id;
    let c1 = send_c2c(users.client("alice"), "bob", true).await.msg_id;
    users
        .client("bob")
        .send_message_read_receipts(vec![m.clone()])
        .await
        .expect("receipt");
    users
        .client("dave")
        .send_message_read_receipts(vec![m.clone()])
        .await
        .expect("receipt");
    users
        .client("bob")
        .send_message_read_receipts(vec![c1.clone()])
        .await
        .expect("receipt");
    let c2c_before = c2c_state(users.client("alice"), &c1).await;
    assert_eq!(counts(users.client("alice"), &m).await, (2, 1));
    users.close().await;

    let server = TestServer::start_in(server.stop().await, |_| {}).await;
    let mut users = Users::connect(&server, &names).await;
    let alice = users.client("alice").clone();
    assert_eq!(counts(&alice, &m).await, (2, 1));
    assert_eq!(
        member_list(&alice, &m, READ_MEMBERS_FILTER_READ, 1).await,
        ids(&["bob", "dave"])
    );
    assert_eq!(
        member_list(&alice, &m, READ_MEMBERS_FILTER_UNREAD, 1).await,
        ids(&["carol"])
    );
    assert_eq!(c2c_state(&alice, &c1).await, c2c_before);
    assert!(
        c2c_history_of(users.client("bob"), "alice", &c1)
            .await
            .has_sent_receipt
    );
    assert!(
        group_history_of(users.client("dave"), &group, &m)
            .await
            .has_sent_receipt
    );
    assert!(
        !group_history_of(users.client("carol"), &group, &m)
            .await
            .has_sent_receipt
    );

    // Repeats still count once; new readers still count.
    users
        .client("bob")
        .send_message_read_receipts(vec![m.clone()])
        .await
        .expect("repeat");
    users
        .client("bob")
        .send_message_read_receipts(vec![c1.clone()])
        .await
        .expect("repeat");
    assert_eq!(c2c_state(&alice, &c1).await, c2c_before);
    users
        .client("carol")
        .send_message_read_receipts(vec![m.clone()])
        .await
        .expect("receipt");
    let pushes = pushes_until(users.events("alice"), &m, 3).await;
    assert_monotone(&pushes, 3);
    assert_eq!(counts(&alice, &m).await, (3, 0));
    users.close().await;

    let server = TestServer::start_in(server.stop().await, |_| {}).await;
    let users = Users::connect(&server, &["alice"]).await;
    assert_eq!(counts(users.client("alice"), &m).await, (3, 0));
    users.close().await;
}

#[tokio::test]
async fn a_dismissed_groups_messages_take_no_receipts_even_when_its_id_is_reused() {
    let server = TestServer::start().await;
    let users = Users::connect(&server, &["alice", "bob"]).await;
    let (alice, bob) = (users.client("alice"), users.client("bob"));
    let group = create_group(alice, "Work", "g-reused", &["bob"]).await;
    let old = send_group(alice, &group, true).await.msg_id;
    alice.dismiss_group(&group).await.expect("dismissed");
    let no_info = c(ErrorCode::ReceiptInfoNotFound);
    assert_eq!(
        code(bob.send_message_read_receipts(vec![old.clone()]).await),
        no_info
    );
    create_group(alice, "Work", "g-reused", &["bob"]).await;
    assert_eq!(
        code(bob.send_message_read_receipts(vec![old.clone()]).await),
        no_info,
        "a message of the dismissed group is gone, though the ID names a group again"
    );
    assert_eq!(
        code(alice.get_message_read_receipts(vec![old]).await),
        no_info
    );
    let new = send_group(alice, &group, true).await.msg_id;
    bob.send_message_read_receipts(vec![new.clone()])
        .await
        .expect("receipt of the new group's message");
    assert_eq!(counts(alice, &new).await, (1, 0));
    users.close().await;
}

#[tokio::test]
async fn a_private_readers_receipts_reach_its_other_device_and_no_sender() {
    let server = TestServer::start().await;
    let mut users = Users::connect(&server, &["alice", "bob"]).await;
    let (bob2, mut bob2_events) = server.client("bob").await;
    let bob = users.client("bob").clone();
    bob.set_receipt_privacy(true).await.expect("private");
    assert!(
        bob2.get_receipt_privacy()
            .await
            .expect("read on the other device")
    );
    let alice = users.client("alice").clone();
    let m = send_c2c(&alice, "bob", true).await;
    let result = bob
        .send_message_read_receipts(ids(&[&m.msg_id]))
        .await
        .expect("a private receipt is accepted");
    assert_eq!(result, SendReceiptsResult::default());
    let told = next_event(&mut bob2_events, |event| match event {
        SdkEvent::MessageReceiptsSent(sent) => Some(sent.message_id_list),
        _ => None,
    })
    .await;
    assert_eq!(told, ids(&[&m.msg_id]));
    bob.mark_c2c_message_as_read("alice")
        .await
        .expect("marked read");
    assert_eq!(conversation_unread(&bob, "c2c_alice").await, 0);

    // A marker after both: alice is told nothing before it.
    let marker = send_c2c(&bob, "alice", false).await;
    let seen = events_until(
        users.events("alice"),
        |event| matches!(event, SdkEvent::RecvNewMessage(msg) if msg.msg_id == marker.msg_id),
    )
    .await;
    let told: Vec<&SdkEvent> = seen
        .iter()
        .filter(|event| {
            matches!(
                event,
                SdkEvent::RecvMessageReadReceipts(_) | SdkEvent::RecvC2cReadReceipt(_)
            )
        })
        .collect();
    assert!(told.is_empty(), "alice was told: {told:?}");
    let pulled = alice
        .get_message_read_receipts(ids(&[&m.msg_id]))
        .await
        .expect("pulled");
    assert_eq!(
        pulled,
        [MessageReceipt::c2c(m.msg_id.clone(), "bob".into(), None)]
    );
    let history = alice
        .get_c2c_history_message_list("bob", 10, None)
        .await
        .expect("history");
    let mine = history
        .iter()
        .find(|msg| msg.msg_id == m.msg_id)
        .expect("in history");
    assert_eq!((mine.is_peer_read, mine.receipt_peer_read), (false, false));

    // Public again: a later receipt reaches alice.
    bob.set_receipt_privacy(false).await.expect("public");
    let later = send_c2c(&alice, "bob", true).await;
    bob.send_message_read_receipts(ids(&[&later.msg_id]))
        .await
        .expect("receipt");
    let receipts = next_event(users.events("alice"), |event| match event {
        SdkEvent::RecvMessageReadReceipts(receipts) => Some(receipts),
        _ => None,
    })
    .await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(
        (receipts[0].msg_id.as_str(), receipts[0].is_peer_read),
        (later.msg_id.as_str(), true)
    );
    bob2.close().await;
    users.close().await;
}
