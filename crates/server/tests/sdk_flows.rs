//! End-to-end flows through the Rust SDK against an in-process server: C2C messaging on several
//! devices, groups and their membership events, offline catch-up, reconnecting across a server
//! restart, device kicks and UserSig expiry.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, WAIT, events_until, next_event};
use tidings_sdk::proto::{ELEM_TYPE_CUSTOM, ELEM_TYPE_TEXT};
use tidings_sdk::{
    Client, ClientOptions, Conversation, CreateGroupParams, CustomElem, ErrorCode, Events,
    GroupMemberSpec, GroupRole, GroupType, MemberEnter, MemberInvited, MemberKicked, MemberLeave,
    Message, ReadMemberInfo, SdkError, SdkEvent, SendMessageParams,
};

// ---- helpers -------------------------------------------------------------------------------

/// The next `onRecvNewMessage`.
async fn recv_message(events: &mut Events) -> Message {
    next_event(events, |event| match event {
        SdkEvent::RecvNewMessage(message) => Some(message),
        _ => None,
    })
    .await
}

/// The next `n` `onRecvNewMessage`s, in arrival order.
async fn recv_messages(events: &mut Events, n: usize) -> Vec<Message> {
    let mut messages = Vec::with_capacity(n);
    for _ in 0..n {
        messages.push(recv_message(events).await);
    }
    messages
}

/// Waits for an `onConversationChanged` carrying `conversation_id` in a state `accept` likes.
async fn conversation_changed(
    events: &mut Events,
    conversation_id: &str,
    mut accept: impl FnMut(&Conversation) -> bool,
) -> Conversation {
    next_event(events, |event| match event {
        SdkEvent::ConversationChanged(list) => list
            .into_iter()
            .find(|c| c.conversation_id == conversation_id && accept(c)),
        _ => None,
    })
    .await
}

/// The caller's whole conversation list.
async fn conversations(client: &Client) -> Vec<Conversation> {
    let page = client
        .get_conversation_list(0, 100)
        .await
        .expect("getConversationList");
    assert!(page.is_finished, "one page holds every conversation here");
    page.conversation_list
}

/// The conversation `id` of `list`.
fn find<'a>(list: &'a [Conversation], id: &str) -> &'a Conversation {
    list.iter()
        .find(|c| c.conversation_id == id)
        .unwrap_or_else(|| panic!("no conversation {id} in {list:#?}"))
}

fn ids(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.msg_id.as_str()).collect()
}

fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

fn text_of(message: &Message) -> &str {
    message.text_elem.as_ref().map_or("", |t| t.text.as_str())
}

fn code_of(error: &SdkError) -> Option<ErrorCode> {
    error.error_code()
}

/// A user known to the server (users exist once they have logged in).
async fn register(server: &TestServer, user: &str) {
    let (client, _events) = server.client(user).await;
    client.close().await;
}

// ---- C2C -----------------------------------------------------------------------------------

#[tokio::test]
async fn c2c_messages_reach_every_device_with_each_viewers_fields() {
    let server = TestServer::start().await;
    let (alice, mut alice_events) = server.client("alice").await;
    let (alice2, mut alice2_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (bob2, mut bob2_events) = server.client("bob").await;

    // A text message.
    let sent = alice
        .send_text("bob", "hello bob")
        .await
        .expect("send text");
    assert_eq!(sent.seq, 1);
    assert!(sent.is_self && sent.is_read);
    assert_eq!(sent.user_id.as_deref(), Some("bob"));
    assert_eq!(sent.group_id, None);
    assert_eq!(sent.elem_type, ELEM_TYPE_TEXT);

    let got = recv_message(&mut bob_events).await;
    assert_eq!(got.msg_id, sent.msg_id);
    assert_eq!(got.sender, "alice");
    assert_eq!(
        got.user_id.as_deref(),
        Some("alice"),
        "userID is the peer from bob's side"
    );
    assert!(!got.is_self);
    assert!(!got.is_read);
    assert_eq!(got.seq, 1);
    assert_eq!(got.timestamp, sent.timestamp);
    assert_eq!(text_of(&got), "hello bob");
    assert_eq!(
        recv_message(&mut bob2_events).await,
        got,
        "bob's second device too"
    );

    let echoed = recv_message(&mut alice2_events).await;
    assert_eq!(echoed.msg_id, sent.msg_id);
    assert!(
        echoed.is_self,
        "alice's other device sees her own message as hers"
    );
    assert_eq!(echoed.user_id.as_deref(), Some("bob"));
    assert_eq!(text_of(&echoed), "hello bob");
    assert_eq!(
        recv_message(&mut alice_events).await.msg_id,
        sent.msg_id,
        "and the sending one"
    );

    // A custom message with cloud data.
    let custom = CustomElem {
        data: r#"{"kind":"order","id":42}"#.into(),
        desc: "an order".into(),
        extension: "ext".into(),
    };
    let sent_custom = alice
        .send_message(SendMessageParams {
            receiver: Some("bob".into()),
            custom_elem: Some(custom.clone()),
            cloud_custom_data: "cloud".into(),
            random: 7,
            ..SendMessageParams::default()
        })
        .await
        .expect("send custom");
    assert_eq!(sent_custom.seq, 2);
    let got_custom = recv_message(&mut bob_events).await;
    assert_eq!(got_custom.msg_id, sent_custom.msg_id);
    assert_eq!(got_custom.elem_type, ELEM_TYPE_CUSTOM);
    assert_eq!(got_custom.custom_elem.as_ref(), Some(&custom));
    assert_eq!(got_custom.text_elem, None);
    assert_eq!(got_custom.cloud_custom_data, "cloud");
    assert_eq!(got_custom.random, 7);
    assert!(!got_custom.is_self);
    assert_eq!(got_custom.user_id.as_deref(), Some("alice"));
    let echoed_custom = recv_message(&mut alice2_events).await;
    assert_eq!(echoed_custom.msg_id, sent_custom.msg_id);
    assert!(echoed_custom.is_self);
    assert_eq!(echoed_custom.custom_elem.as_ref(), Some(&custom));

    // Three more, so that history has pages.
    let mut sent_all = vec![sent, sent_custom];
    for i in 3..=5 {
        sent_all.push(
            alice
                .send_text("bob", format!("text {i}"))
                .await
                .expect("send"),
        );
    }
    assert_eq!(
        seqs(&sent_all),
        [1, 2, 3, 4, 5],
        "C2C sequence without gaps"
    );
    let bob_got = recv_messages(&mut bob_events, 3).await;
    assert_eq!(ids(&bob_got), ids(&sent_all[2..]), "bob gets them in order");

    // History from bob's side: pages of 2, newest first, continued with lastMsgID.
    let page1 = bob
        .get_c2c_history_message_list("alice", 2, None)
        .await
        .expect("page 1");
    assert_eq!(seqs(&page1), [5, 4]);
    let page2 = bob
        .get_c2c_history_message_list("alice", 2, Some(&page1[1].msg_id))
        .await
        .expect("page 2");
    assert_eq!(seqs(&page2), [3, 2]);
    let page3 = bob
        .get_c2c_history_message_list("alice", 2, Some(&page2[1].msg_id))
        .await
        .expect("page 3");
    assert_eq!(seqs(&page3), [1]);
    let page4 = bob
        .get_c2c_history_message_list("alice", 2, Some(&page3[0].msg_id))
        .await
        .expect("page 4");
    assert!(
        page4.is_empty(),
        "nothing before the first message: {page4:?}"
    );
    let bob_history: Vec<Message> = [page1, page2, page3].concat();
    let mut newest_first = ids(&sent_all);
    newest_first.reverse();
    assert_eq!(ids(&bob_history), newest_first);
    for message in &bob_history {
        assert_eq!(message.user_id.as_deref(), Some("alice"));
        assert!(!message.is_self && !message.is_read, "{message:?}");
    }
    assert_eq!(
        bob_history[3].custom_elem.as_ref(),
        Some(&custom),
        "custom body in history"
    );

    // History from alice's side.
    let alice_history = alice
        .get_c2c_history_message_list("bob", 100, None)
        .await
        .expect("history");
    assert_eq!(ids(&alice_history), newest_first);
    for message in &alice_history {
        assert_eq!(message.user_id.as_deref(), Some("bob"));
        assert!(message.is_self && !message.is_peer_read, "{message:?}");
    }

    // Conversation lists on both sides.
    let bob_list = conversations(&bob).await;
    assert_eq!(bob_list.len(), 1, "{bob_list:#?}");
    let bob_conv = find(&bob_list, "c2c_alice");
    assert_eq!(bob_conv.user_id.as_deref(), Some("alice"));
    assert_eq!(bob_conv.show_name, "alice");
    assert_eq!(bob_conv.unread_count, 5);
    let last = bob_conv.last_message.as_ref().expect("last message");
    assert_eq!(last.msg_id, sent_all[4].msg_id);
    assert_eq!(text_of(last), "text 5");
    assert!(!last.is_self && !last.is_read);
    assert_eq!(last.user_id.as_deref(), Some("alice"));
    assert_eq!(
        find(&conversations(&bob2).await, "c2c_alice").unread_count,
        5
    );

    let alice_list = conversations(&alice2).await;
    assert_eq!(alice_list.len(), 1, "{alice_list:#?}");
    let alice_conv = find(&alice_list, "c2c_bob");
    assert_eq!(
        alice_conv.unread_count, 0,
        "her own messages are not unread for alice"
    );
    let last = alice_conv.last_message.as_ref().expect("last message");
    assert_eq!(last.msg_id, sent_all[4].msg_id);
    assert!(last.is_self);
    assert_eq!(last.user_id.as_deref(), Some("bob"));

    // bob reads on his first device: both of his devices learn it, alice gets the receipt.
    bob.mark_c2c_message_as_read("alice")
        .await
        .expect("mark read");
    for events in [&mut bob_events, &mut bob2_events] {
        let changed = conversation_changed(events, "c2c_alice", |c| c.unread_count == 0).await;
        assert_eq!(
            changed.last_message.as_ref().map(|m| m.msg_id.as_str()),
            Some(sent_all[4].msg_id.as_str())
        );
    }
    let receipts = next_event(&mut alice_events, |event| match event {
        SdkEvent::RecvC2cReadReceipt(receipts) => Some(receipts),
        _ => None,
    })
    .await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].user_id, "bob");
    assert!(receipts[0].timestamp >= sent_all[4].timestamp);

    assert_eq!(
        find(&conversations(&bob2).await, "c2c_alice").unread_count,
        0
    );
    let bob_history = bob
        .get_c2c_history_message_list("alice", 100, None)
        .await
        .expect("history");
    assert!(bob_history.iter().all(|m| m.is_read), "{bob_history:#?}");
    let alice_history = alice2
        .get_c2c_history_message_list("bob", 100, None)
        .await
        .expect("history");
    assert!(
        alice_history.iter().all(|m| m.is_peer_read),
        "bob's read position covers alice's messages: {alice_history:#?}"
    );

    // bob answers: alice has one unread message, bob none (a sender has read up to their own
    // message).
    let reply = bob.send_text("alice", "hi alice").await.expect("reply");
    assert_eq!(reply.seq, 6);
    // (alice's devices also got her own messages above; skip those.)
    let alice_got = next_event(&mut alice_events, |event| match event {
        SdkEvent::RecvNewMessage(m) if m.sender == "bob" => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(alice_got.msg_id, reply.msg_id);
    assert!(!alice_got.is_self);
    assert_eq!(alice_got.user_id.as_deref(), Some("bob"));
    let changed =
        conversation_changed(&mut alice2_events, "c2c_bob", |c| c.unread_count == 1).await;
    assert_eq!(
        changed.last_message.map(|m| m.msg_id),
        Some(reply.msg_id.clone())
    );
    let alice_conv = find(&conversations(&alice).await, "c2c_bob").clone();
    assert_eq!(alice_conv.unread_count, 1);
    assert_eq!(
        alice_conv.last_message.as_ref().map(|m| m.is_self),
        Some(false)
    );
    let bob_conv = find(&conversations(&bob).await, "c2c_alice").clone();
    assert_eq!(bob_conv.unread_count, 0);
    assert_eq!(bob_conv.last_message.map(|m| m.msg_id), Some(reply.msg_id));

    // A cursor from another conversation is refused.
    register(&server, "carol").await;
    let other = alice
        .send_text("carol", "hi carol")
        .await
        .expect("send to carol");
    let refused = bob
        .get_c2c_history_message_list("alice", 10, Some(&other.msg_id))
        .await
        .expect_err("foreign lastMsgID");
    assert_eq!(
        code_of(&refused),
        Some(ErrorCode::InvalidParameters),
        "{refused}"
    );
}

#[tokio::test]
async fn c2c_to_an_unknown_user_is_refused() {
    let server = TestServer::start().await;
    let (alice, _events) = server.client("alice").await;
    let error = alice
        .send_text("nobody", "hello?")
        .await
        .expect_err("unknown receiver");
    assert_eq!(code_of(&error), Some(ErrorCode::UserNotFound), "{error}");
}

// ---- groups --------------------------------------------------------------------------------

#[tokio::test]
async fn work_group_messages_reach_every_member_device_in_sequence() {
    let server = TestServer::start().await;
    let (alice, alice_events) = server.client("alice").await;
    let (alice2, alice2_events) = server.client("alice").await;
    let (bob, bob_events) = server.client("bob").await;
    let (carol, carol_events) = server.client("carol").await;
    let (carol2, carol2_events) = server.client("carol").await;
    let (dave, _dave_events) = server.client("dave").await;
    let mut devices: Vec<(&str, Events)> = vec![
        ("alice", alice_events),
        ("alice", alice2_events),
        ("bob", bob_events),
        ("carol", carol_events),
        ("carol", carol2_events),
    ];

    let group_id = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "The Team".into(),
            member_list: vec![
                GroupMemberSpec {
                    user_id: "bob".into(),
                    role: GroupRole::Member,
                },
                GroupMemberSpec {
                    user_id: "carol".into(),
                    role: GroupRole::Member,
                },
            ],
        })
        .await
        .expect("create group");
    assert!(group_id.starts_with("@TGS#"), "{group_id}");

    for (user, events) in &mut devices {
        let entered = next_event(events, |event| match event {
            SdkEvent::MemberEnter(change) => Some(change),
            _ => None,
        })
        .await;
        assert_eq!(entered.group_id, group_id, "{user}");
        assert_eq!(user_ids(&entered.member_list), ["alice", "bob", "carol"]);
    }

    // Six messages from three members, in turn.
    let senders = [&alice, &bob, &carol, &alice2, &carol2, &bob];
    let mut sent = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let message = sender
            .send_group_text(group_id.as_str(), format!("message {}", i + 1))
            .await
            .expect("group send");
        assert_eq!(message.group_id.as_deref(), Some(group_id.as_str()));
        assert_eq!(message.user_id, None);
        assert!(message.is_self);
        sent.push(message);
    }
    assert_eq!(
        seqs(&sent),
        [1, 2, 3, 4, 5, 6],
        "group sequence without gaps"
    );
    let expected_senders = ["alice", "bob", "carol", "alice", "carol", "bob"];

    for (user, events) in &mut devices {
        let got = recv_messages(events, 6).await;
        assert_eq!(
            ids(&got),
            ids(&sent),
            "{user}'s device gets every message, in order"
        );
        for (message, sender) in got.iter().zip(expected_senders) {
            assert_eq!(message.sender, sender);
            assert_eq!(message.group_id.as_deref(), Some(group_id.as_str()));
            assert_eq!(message.is_self, *user == sender, "{user} sees {message:?}");
            assert_eq!(text_of(message), format!("message {}", message.seq));
        }
    }

    // Non-members can neither write nor join a Work group.
    let error = dave
        .send_group_text(group_id.as_str(), "let me in")
        .await
        .expect_err("not a member");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::GroupPermissionDenied),
        "{error}"
    );
    let error = dave
        .join_group(group_id.as_str(), "please")
        .await
        .expect_err("Work is invite-only");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::GroupPermissionDenied),
        "{error}"
    );

    // getJoinedGroupList.
    for (client, role) in [(&alice, GroupRole::Owner), (&bob, GroupRole::Member)] {
        let joined = client.get_joined_group_list().await.expect("joined groups");
        assert_eq!(joined.len(), 1, "{joined:#?}");
        let info = &joined[0];
        assert_eq!(info.group_id, group_id);
        assert_eq!(info.group_type, GroupType::Work);
        assert_eq!(info.group_name, "The Team");
        assert_eq!(info.owner, "alice");
        assert_eq!(info.member_count, 3);
        assert_eq!(info.role, Some(role));
        assert_eq!(info.last_message_seq, 6);
    }
    assert!(
        dave.get_joined_group_list()
            .await
            .expect("joined groups")
            .is_empty()
    );

    // getGroupsInfo, with one unknown group.
    let infos = carol
        .get_groups_info(vec![group_id.clone(), "no-such-group".into()])
        .await
        .expect("groups info");
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].result_code, 0);
    let info = infos[0].group_info.as_ref().expect("group info");
    assert_eq!((info.member_count, info.last_message_seq), (3, 6));
    assert_eq!(info.role, Some(GroupRole::Member));
    assert_eq!(infos[1].result_code, ErrorCode::GroupNotFound.as_u32());
    assert_eq!(infos[1].group_info, None);

    // getGroupMemberList with each filter.
    let members = |list: tidings_sdk::GroupMemberListResult| -> Vec<(String, GroupRole)> {
        assert_eq!(list.next_seq, 0, "one page");
        list.member_info_list
            .into_iter()
            .map(|m| (m.user_id, m.role))
            .collect()
    };
    let all = members(
        bob.get_group_member_list(group_id.as_str(), 0, 0)
            .await
            .expect("members"),
    );
    assert_eq!(
        all,
        [
            ("alice".to_owned(), GroupRole::Owner),
            ("bob".to_owned(), GroupRole::Member),
            ("carol".to_owned(), GroupRole::Member)
        ]
    );
    let owners = members(
        bob.get_group_member_list(group_id.as_str(), 1, 0)
            .await
            .expect("owner"),
    );
    assert_eq!(owners, [("alice".to_owned(), GroupRole::Owner)]);
    let ordinary = members(
        bob.get_group_member_list(group_id.as_str(), 4, 0)
            .await
            .expect("members"),
    );
    assert_eq!(ordinary.len(), 2);
    let error = dave
        .get_group_member_list(group_id.as_str(), 0, 0)
        .await
        .expect_err("not a member");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::GroupPermissionDenied),
        "{error}"
    );

    // Group history, paged.
    let page1 = bob
        .get_group_history_message_list(group_id.as_str(), 4, None)
        .await
        .expect("page 1");
    assert_eq!(seqs(&page1), [6, 5, 4, 3]);
    let page2 = bob
        .get_group_history_message_list(group_id.as_str(), 4, Some(&page1[3].msg_id))
        .await
        .expect("page 2");
    assert_eq!(seqs(&page2), [2, 1]);
    assert_eq!(page2[1].msg_id, sent[0].msg_id);
    assert!(
        page1
            .iter()
            .chain(&page2)
            .all(|m| m.is_self == (m.sender == "bob"))
    );

    // Unread counts: messages from others; sending marks nothing read.
    let group_conv = format!("group_{group_id}");
    let unread = |list: Vec<Conversation>| {
        let conv = find(&list, &group_conv).clone();
        assert_eq!(conv.group_type.as_deref(), Some("Work"));
        assert_eq!(conv.show_name, "The Team");
        assert_eq!(conv.last_message.as_ref().map(|m| m.seq), Some(6));
        conv.unread_count
    };
    assert_eq!(
        unread(conversations(&alice).await),
        4,
        "alice wrote seq 1 and 4"
    );
    assert_eq!(
        unread(conversations(&carol).await),
        4,
        "carol wrote seq 3 and 5"
    );
    assert_eq!(
        unread(conversations(&bob).await),
        4,
        "bob wrote seq 2 and 6"
    );

    carol
        .mark_group_message_as_read(group_id.as_str())
        .await
        .expect("mark group read");
    for (user, events) in devices.iter_mut().filter(|(user, _)| *user == "carol") {
        let changed = conversation_changed(events, &group_conv, |c| c.unread_count == 0).await;
        assert_eq!(
            changed.group_id.as_deref(),
            Some(group_id.as_str()),
            "{user}"
        );
    }
    assert_eq!(unread(conversations(&carol2).await), 0);
    assert_eq!(
        unread(conversations(&alice).await),
        4,
        "alice's count is her own"
    );
}

/// The user IDs of the member objects of a membership event.
fn user_ids(members: &[ReadMemberInfo]) -> Vec<&str> {
    members.iter().map(|m| m.user_id.as_str()).collect()
}

/// Whether `event` concerns group `group_id`.
fn about_group(event: &SdkEvent, group_id: &str) -> bool {
    match event {
        SdkEvent::MemberEnter(MemberEnter { group_id: g, .. })
        | SdkEvent::MemberInvited(MemberInvited { group_id: g, .. })
        | SdkEvent::MemberLeave(MemberLeave { group_id: g, .. })
        | SdkEvent::MemberKicked(MemberKicked { group_id: g, .. }) => g == group_id,
        SdkEvent::GroupDismissed(d) => d.group_id == group_id,
        SdkEvent::RecvNewMessage(m) => m.group_id.as_deref() == Some(group_id),
        _ => false,
    }
}

#[tokio::test]
async fn meeting_group_join_quit_kick_and_dismiss_with_their_events() {
    let server = TestServer::start().await;
    let (alice, mut alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (carol, mut carol_events) = server.client("carol").await;
    let (dave, mut dave_events) = server.client("dave").await;

    let lobby = alice
        .create_group(CreateGroupParams {
            group_type: "Meeting".into(),
            group_id: Some("lobby".into()),
            group_name: "Lobby".into(),
            member_list: Vec::new(),
        })
        .await
        .expect("create Meeting group");
    assert_eq!(lobby, "lobby");
    let error = bob
        .create_group(CreateGroupParams {
            group_type: "Meeting".into(),
            group_id: Some("lobby".into()),
            group_name: "Another".into(),
            member_list: Vec::new(),
        })
        .await
        .expect_err("the ID is taken");
    assert_eq!(code_of(&error), Some(ErrorCode::GroupIdInUse), "{error}");

    async fn enter(events: &mut Events) -> MemberEnter {
        next_event(events, |event| match event {
            SdkEvent::MemberEnter(change) if change.group_id == "lobby" => Some(change),
            _ => None,
        })
        .await
    }
    let created = enter(&mut alice_events).await;
    assert_eq!(user_ids(&created.member_list), ["alice"]);

    // dave joins: the members and dave hear of it.
    dave.join_group("lobby", "hello").await.expect("dave joins");
    for events in [&mut alice_events, &mut dave_events] {
        let change = enter(events).await;
        assert_eq!(user_ids(&change.member_list), ["dave"]);
    }
    let error = dave
        .join_group("lobby", "again")
        .await
        .expect_err("already a member");
    assert_eq!(code_of(&error), Some(ErrorCode::AlreadyMember), "{error}");

    // bob joins.
    bob.join_group("lobby", "").await.expect("bob joins");
    for events in [&mut alice_events, &mut dave_events, &mut bob_events] {
        let change = enter(events).await;
        assert_eq!(user_ids(&change.member_list), ["bob"]);
    }
    let info = &alice
        .get_groups_info(vec!["lobby".into()])
        .await
        .expect("info")[0];
    assert_eq!(info.group_info.as_ref().map(|g| g.member_count), Some(3));

    // dave quits: everyone, dave included, hears of it.
    dave.quit_group("lobby").await.expect("dave quits");
    for events in [&mut alice_events, &mut bob_events, &mut dave_events] {
        let left = next_event(events, |event| match event {
            SdkEvent::MemberLeave(change) => Some(change),
            _ => None,
        })
        .await;
        assert_eq!(left.group_id, "lobby");
        assert_eq!(left.member.user_id, "dave");
    }
    let error = alice
        .quit_group("lobby")
        .await
        .expect_err("the owner cannot quit");
    assert_eq!(code_of(&error), Some(ErrorCode::OwnerCannotQuit), "{error}");
    let error = dave
        .send_group_text("lobby", "still here?")
        .await
        .expect_err("dave left");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::GroupPermissionDenied),
        "{error}"
    );

    // Only the owner or an admin may remove members.
    carol.join_group("lobby", "").await.expect("carol joins");
    let error = carol
        .kick_group_member("lobby", vec!["bob".into()], "")
        .await
        .expect_err("carol is an ordinary member");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::GroupPermissionDenied),
        "{error}"
    );

    // alice kicks bob: the remaining members and bob hear of it.
    let results = alice
        .kick_group_member("lobby", vec!["bob".into(), "dave".into()], "spam")
        .await
        .expect("kick");
    let outcome: Vec<(&str, u32)> = results
        .iter()
        .map(|r| (r.member_id.as_str(), r.result))
        .collect();
    assert_eq!(
        outcome,
        [("bob", 1), ("dave", 2)],
        "dave is no longer a member"
    );
    for events in [&mut alice_events, &mut bob_events, &mut carol_events] {
        let kicked = next_event(events, |event| match event {
            SdkEvent::MemberKicked(change) => Some(change),
            _ => None,
        })
        .await;
        assert_eq!(kicked.group_id, "lobby");
        assert_eq!(kicked.op_user.user_id, "alice");
        assert_eq!(user_ids(&kicked.member_list), ["bob"]);
    }
    assert!(
        bob.get_joined_group_list()
            .await
            .expect("joined")
            .is_empty()
    );
    let members = alice
        .get_group_member_list("lobby", 0, 0)
        .await
        .expect("members");
    let users: Vec<&str> = members
        .member_info_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!(users, ["alice", "carol"]);

    // alice dismisses the group: its members hear of it.
    let error = carol
        .dismiss_group("lobby")
        .await
        .expect_err("only the owner dismisses");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::GroupPermissionDenied),
        "{error}"
    );
    alice.dismiss_group("lobby").await.expect("dismiss");
    for events in [&mut alice_events, &mut carol_events] {
        let dismissed = next_event(events, |event| match event {
            SdkEvent::GroupDismissed(dismissed) => Some(dismissed),
            _ => None,
        })
        .await;
        assert_eq!(dismissed.group_id, "lobby");
        assert_eq!(dismissed.op_user, "alice");
    }
    let infos = carol
        .get_groups_info(vec!["lobby".into()])
        .await
        .expect("info");
    assert_eq!(infos[0].result_code, ErrorCode::GroupNotFound.as_u32());
    assert!(
        carol
            .get_joined_group_list()
            .await
            .expect("joined")
            .is_empty()
    );
    assert!(
        !conversations(&alice)
            .await
            .iter()
            .any(|c| c.conversation_id == "group_lobby")
    );
    let error = carol
        .send_group_text("lobby", "anyone?")
        .await
        .expect_err("dismissed");
    assert_eq!(code_of(&error), Some(ErrorCode::GroupNotFound), "{error}");

    // Former members hear nothing more of the group: a C2C message after everything above is
    // the next thing dave and bob receive that concerns the lobby or them.
    alice
        .send_text("dave", "sentinel")
        .await
        .expect("sentinel to dave");
    alice
        .send_text("bob", "sentinel")
        .await
        .expect("sentinel to bob");
    let dave_rest = events_until(
        &mut dave_events,
        |e| matches!(e, SdkEvent::RecvNewMessage(m) if text_of(m) == "sentinel"),
    )
    .await;
    assert!(
        !dave_rest.iter().any(|e| about_group(e, "lobby")),
        "dave left before the kick and the dismissal: {dave_rest:#?}"
    );
    let bob_rest = events_until(
        &mut bob_events,
        |e| matches!(e, SdkEvent::RecvNewMessage(m) if text_of(m) == "sentinel"),
    )
    .await;
    assert!(
        !bob_rest.iter().any(|e| about_group(e, "lobby")),
        "bob was kicked before the dismissal: {bob_rest:#?}"
    );
}

// ---- offline catch-up ----------------------------------------------------------------------

#[tokio::test]
async fn offline_user_catches_up_from_the_conversation_list_and_history() {
    let server = TestServer::start().await;
    register(&server, "bob").await;
    let (alice, _alice_events) = server.client("alice").await;
    let mut sent = Vec::new();
    for i in 1..=5 {
        sent.push(
            alice
                .send_text("bob", format!("while you were out {i}"))
                .await
                .expect("send"),
        );
    }

    let (bob, mut bob_events) = server.client("bob").await;
    let list = conversations(&bob).await;
    assert_eq!(list.len(), 1, "{list:#?}");
    let conv = find(&list, "c2c_alice");
    assert_eq!(conv.unread_count, 5);
    let last = conv.last_message.as_ref().expect("last message");
    assert_eq!(last.msg_id, sent[4].msg_id);
    assert_eq!(text_of(last), "while you were out 5");
    assert_eq!(last.user_id.as_deref(), Some("alice"));
    assert!(!last.is_self && !last.is_read);
    assert!(
        conv.order_key > 0,
        "a conversation with messages has its place in the list"
    );

    let history = bob
        .get_c2c_history_message_list("alice", 20, None)
        .await
        .expect("history");
    let mut expected = ids(&sent);
    expected.reverse();
    assert_eq!(ids(&history), expected);
    assert_eq!(seqs(&history), [5, 4, 3, 2, 1]);
    assert!(history.iter().all(|m| !m.is_read && m.sender == "alice"));

    // Stored messages are not pushed again on login.
    bob.mark_c2c_message_as_read("alice")
        .await
        .expect("mark read");
    let seen = events_until(&mut bob_events, |e| {
        matches!(e, SdkEvent::ConversationChanged(_))
    })
    .await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, SdkEvent::RecvNewMessage(_))),
        "offline messages are fetched, not pushed: {seen:#?}"
    );
}

// ---- reconnect -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_reconnects_after_a_server_restart_and_catches_up() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let (alice, _alice_events) = server.client("alice").await;
    let options = ClientOptions::new(server.url.clone(), "bob", server.sig("bob"))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400));
    let (bob, mut bob_events) = Client::connect_with(options).await.expect("bob connects");

    let group_id = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: Some("pair".into()),
            group_name: "Pair".into(),
            member_list: vec![GroupMemberSpec {
                user_id: "bob".into(),
                role: GroupRole::Member,
            }],
        })
        .await
        .expect("create group");
    let before = alice
        .send_text("bob", "before the restart")
        .await
        .expect("send");
    assert_eq!(recv_message(&mut bob_events).await.msg_id, before.msg_id);

    // The server goes down.
    let data_dir = server.stop().await;
    let lost = next_event(&mut bob_events, |event| match event {
        SdkEvent::ConnectionLost { reason } => Some(reason),
        _ => None,
    })
    .await;
    assert!(!lost.is_empty());

    // A call made while reconnecting waits for the new session.
    let waiting = tokio::spawn({
        let bob = bob.clone();
        async move { bob.get_c2c_history_message_list("alice", 100, None).await }
    });

    // While bob's client keeps knocking on the old address, alice writes to him through another
    // server process on the same data (bob cannot reach it).
    let mut elsewhere = TestServer::start_in(data_dir, |_| {}).await;
    while elsewhere.addr == addr {
        // The OS handed out the old port again: bob's client could reach this one.
        elsewhere = TestServer::start_in(elsewhere.stop().await, |_| {}).await;
    }
    let (alice_elsewhere, _events) = elsewhere.client("alice").await;
    let mut away = Vec::new();
    for i in 1..=3 {
        away.push(
            alice_elsewhere
                .send_text("bob", format!("away {i}"))
                .await
                .expect("send"),
        );
    }
    let group_away = alice_elsewhere
        .send_group_text(group_id.as_str(), "group away")
        .await
        .expect("send");
    alice_elsewhere.close().await;
    let data_dir = elsewhere.stop().await;

    // The server comes back on the same address and data.
    let server = TestServer::start_at(addr, data_dir).await;
    let catch_up = events_until(&mut bob_events, |e| matches!(e, SdkEvent::Reconnected)).await;
    let n = catch_up.len();
    assert!(n >= 2, "{catch_up:#?}");
    let SdkEvent::ConversationChanged(all) = &catch_up[n - 2] else {
        panic!("ConversationChanged must come just before Reconnected: {catch_up:#?}");
    };
    let conv = find(all, "c2c_alice");
    assert_eq!(
        conv.unread_count, 4,
        "the message before and the three while away"
    );
    assert_eq!(
        conv.last_message.as_ref().map(|m| m.msg_id.as_str()),
        Some(away[2].msg_id.as_str())
    );
    let group_conv = find(all, "group_pair");
    assert_eq!(group_conv.unread_count, 1);
    assert_eq!(
        group_conv.last_message.as_ref().map(|m| m.msg_id.as_str()),
        Some(group_away.msg_id.as_str())
    );
    assert_eq!(all.len(), 2, "every conversation, each once: {all:#?}");
    assert!(
        !catch_up
            .iter()
            .any(|e| matches!(e, SdkEvent::RecvNewMessage(_))),
        "messages sent while away are not pushed: {catch_up:#?}"
    );
    assert!(
        !catch_up
            .iter()
            .any(|e| matches!(e, SdkEvent::ConnectionLost { .. })),
        "failed attempts are not reported as new losses: {catch_up:#?}"
    );
    // Then the SDK hands over what was missed, each conversation's in order: the C2C messages,
    // and the group's, which was joined while connected and had no message before.
    let mut missed = recv_messages(&mut bob_events, 4).await;
    missed.sort_by_key(|m| m.group_id.is_some());
    assert_eq!(
        ids(&missed),
        [&away[0], &away[1], &away[2], &group_away].map(|m| m.msg_id.as_str())
    );

    let waited = waiting
        .await
        .expect("task")
        .expect("the queued call is answered after reconnecting");
    let history = bob
        .get_c2c_history_message_list("alice", 100, None)
        .await
        .expect("history");
    assert_eq!(waited, history);
    let expected: Vec<&str> = away
        .iter()
        .rev()
        .map(|m| m.msg_id.as_str())
        .chain([before.msg_id.as_str()])
        .collect();
    assert_eq!(ids(&history), expected);

    // Calls work again, and pushes flow on the new session.
    let reply = bob
        .send_text("alice", "I'm back")
        .await
        .expect("send after reconnecting");
    assert_eq!(reply.seq, 5);
    let (carol, _carol_events) = server.client("carol").await;
    let from_carol = carol.send_text("bob", "welcome back").await.expect("send");
    let got = next_event(&mut bob_events, |event| match event {
        SdkEvent::RecvNewMessage(m) if m.sender == "carol" => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(got.msg_id, from_carol.msg_id);
    bob.mark_c2c_message_as_read("alice")
        .await
        .expect("mark read");
    assert_eq!(
        find(&conversations(&bob).await, "c2c_alice").unread_count,
        0
    );
}

// ---- kicks and expiry ----------------------------------------------------------------------

#[tokio::test]
async fn a_second_login_beyond_the_device_limit_kicks_the_first() {
    let server = TestServer::start_with(|config| config.limits.max_devices_per_user = 1).await;
    let (first, mut first_events) = server.client("alice").await;
    first
        .get_conversation_list(0, 10)
        .await
        .expect("the first device works");

    let (second, mut second_events) = server.client("alice").await;
    let kicked = next_event(&mut first_events, |event| match event {
        SdkEvent::KickedOffline(kicked) => Some(kicked),
        _ => None,
    })
    .await;
    assert!(kicked.reason.contains("devices"), "{kicked:?}");

    let error = first
        .get_conversation_list(0, 10)
        .await
        .expect_err("kicked clients stop");
    assert!(matches!(error, SdkError::KickedOffline { .. }), "{error:?}");
    let end = tokio::time::timeout(WAIT, first_events.recv())
        .await
        .expect("stream ends");
    assert_eq!(end, None, "no events after KickedOffline");
    let error = first
        .send_text("alice", "hello?")
        .await
        .expect_err("still stopped");
    assert!(matches!(error, SdkError::KickedOffline { .. }), "{error:?}");

    // The kicked client stays down (it does not log in again and kick the second device back).
    second
        .get_conversation_list(0, 10)
        .await
        .expect("the second device works");
    let (bob, _bob_events) = server.client("bob").await;
    let sentinel = bob.send_text("alice", "still there?").await.expect("send");
    let seen = events_until(
        &mut second_events,
        |e| matches!(e, SdkEvent::RecvNewMessage(m) if m.msg_id == sentinel.msg_id),
    )
    .await;
    assert!(
        !seen.iter().any(|e| matches!(e, SdkEvent::KickedOffline(_))),
        "the second device keeps its session: {seen:#?}"
    );
    let own = second.send_text("bob", "yes").await.expect("send");
    assert_eq!(own.seq, 2);
}

#[tokio::test]
async fn an_expiring_user_sig_ends_the_session() {
    let server = TestServer::start().await;
    let started = Instant::now();
    let sig = server.auth.sign("alice", 2);
    let (alice, mut events) = Client::connect(server.url.as_str(), "alice", sig)
        .await
        .expect("connects");
    alice
        .get_conversation_list(0, 10)
        .await
        .expect("works before expiry");

    next_event(&mut events, |event| {
        matches!(event, SdkEvent::UserSigExpired).then_some(())
    })
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "expired too early: {elapsed:?}"
    );
    assert!(elapsed <= WAIT, "{elapsed:?}");

    let error = alice
        .get_conversation_list(0, 10)
        .await
        .expect_err("expired clients stop");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::UserSigExpired),
        "{error:?}"
    );
    assert!(error.is_auth_error());
    let end = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("stream ends");
    assert_eq!(end, None);
}

#[tokio::test]
async fn an_expired_user_sig_is_refused_at_login() {
    let server = TestServer::start().await;
    let issued = tidings_service::now() - 120;
    let sig = tidings_usersig::generate(
        server.auth.sdkappid,
        "tidings-test-key",
        "alice",
        60,
        issued,
    );
    let error = Client::connect(server.url.as_str(), "alice", sig)
        .await
        .expect_err("expired");
    assert_eq!(
        code_of(&error),
        Some(ErrorCode::UserSigExpired),
        "{error:?}"
    );
}

// ---- Unread badges ---------------------------------------------------------------------------

/// Waits for an `onNewConversation` carrying `conversation_id`.
async fn new_conversation(events: &mut Events, conversation_id: &str) -> Conversation {
    next_event(events, |event| match event {
        SdkEvent::NewConversation(list) => list
            .into_iter()
            .find(|c| c.conversation_id == conversation_id),
        _ => None,
    })
    .await
}

/// Waits for an `onTotalUnreadMessageCountChanged` with `total`.
async fn total_becomes(events: &mut Events, total: u64) {
    next_event(events, |event| match event {
        SdkEvent::TotalUnreadMessageCountChanged(now) if now == total => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn unread_badges_follow_conversation_and_total_pushes_on_every_device() {
    let server = TestServer::start().await;
    let (alice, mut alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (_bob2, mut bob2_events) = server.client("bob").await;
    let (carol, _carol_events) = server.client("carol").await;

    // A group appears in every initial member's list.
    let group = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: Some("badges".into()),
            group_name: "Badges".into(),
            member_list: vec![GroupMemberSpec {
                user_id: "bob".into(),
                role: GroupRole::Member,
            }],
        })
        .await
        .expect("create group");
    for events in [&mut bob_events, &mut bob2_events] {
        let appeared = new_conversation(events, "group_badges").await;
        assert_eq!(
            (
                appeared.unread_count,
                appeared.group_id.as_deref(),
                appeared.show_name.as_str()
            ),
            (0, Some("badges"), "Badges")
        );
    }
    new_conversation(&mut alice_events, "group_badges").await;

    // Group messages change every member's conversation, the sender's too, and bob's total.
    alice.send_group_text(&group, "one").await.expect("send");
    alice.send_group_text(&group, "two").await.expect("send");
    for events in [&mut bob_events, &mut bob2_events] {
        let changed = conversation_changed(events, "group_badges", |c| c.unread_count == 2).await;
        assert_eq!(changed.last_message.as_ref().map(text_of), Some("two"));
        assert_eq!(changed.group_read_sequence, 0);
        total_becomes(events, 2).await;
    }
    let senders = conversation_changed(&mut alice_events, "group_badges", |c| {
        c.last_message.as_ref().map(text_of) == Some("two")
    })
    .await;
    assert_eq!(senders.unread_count, 0);

    // A first C2C message: a new conversation on both sides.
    carol.send_text("bob", "hi bob").await.expect("send");
    for events in [&mut bob_events, &mut bob2_events] {
        let appeared = new_conversation(events, "c2c_carol").await;
        assert_eq!(appeared.unread_count, 1);
        total_becomes(events, 3).await;
    }

    // Reading on one device moves the other device's badges.
    bob.mark_group_message_as_read(&group).await.expect("read");
    let read =
        conversation_changed(&mut bob2_events, "group_badges", |c| c.unread_count == 0).await;
    assert_eq!(read.group_read_sequence, 2);
    total_becomes(&mut bob2_events, 1).await;
    assert_eq!(
        bob.get_conversation("group_badges")
            .await
            .expect("getConversation")
            .group_read_sequence,
        2
    );
    bob.clean_conversation_unread_message_count("", 0, 0)
        .await
        .expect("clean all");
    total_becomes(&mut bob2_events, 0).await;
    let c2c = bob
        .get_conversation("c2c_carol")
        .await
        .expect("getConversation");
    assert_eq!(c2c.unread_count, 0);
    assert!(c2c.c2c_read_timestamp > 0, "{c2c:?}");
    assert_eq!(
        bob.get_total_unread_message_count().await.expect("total"),
        0
    );

    // Recalling the group's last message shows in every member's conversation.
    let oops = alice.send_group_text(&group, "oops").await.expect("send");
    total_becomes(&mut bob2_events, 1).await;
    alice
        .revoke_message(&oops.msg_id, "")
        .await
        .expect("recall");
    let recalled = conversation_changed(&mut bob2_events, "group_badges", |c| {
        c.last_message.as_ref().is_some_and(|m| m.is_revoked)
    })
    .await;
    assert_eq!(recalled.unread_count, 1, "a recalled message still counts");
}
