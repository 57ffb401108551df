//! Sending: what a send checks, whom it pushes to (and only when they are reachable), what it
//! stores, and its after-event.

use tidings_proto::events::{
    OnConversationChanged, OnNewConversation, OnRecvNewMessage, OnTotalUnreadMessageCountChanged,
};
use tidings_proto::methods::{C2cHistoryParams, SendMessageParams};
use tidings_proto::{
    CONVERSATION_TYPE_C2C, CONVERSATION_TYPE_GROUP, CustomElem, ELEM_TYPE_TEXT, GroupType, Message,
    TextElem,
};
use tidings_service::{AfterEvent, SendOptions};
use tidings_store::{MessageRecord, NewMessage};

use crate::harness::{Harness, c2c_text, group_text, push, pushed, refusal};

/// The stored form of a text message as the service writes it.
fn stored_text(sent: &Message, receiver: Option<&str>, text: &str) -> MessageRecord {
    MessageRecord {
        message: NewMessage {
            msg_id: sent.msg_id.clone(),
            sender: sent.sender.clone(),
            receiver: receiver.map(str::to_owned),
            group_id: sent.group_id.clone(),
            timestamp: sent.timestamp,
            random: sent.random,
            need_receipt: sent.need_read_receipt,
            excluded_unread: sent.is_excluded_from_unread_count,
            elem_type: ELEM_TYPE_TEXT,
            body: format!(r#"{{"text":"{text}"}}"#),
            cloud_custom_data: sent.cloud_custom_data.clone(),
            targets: Vec::new(),
            at_users: Vec::new(),
            sender_card: tidings_store::UserCard {
                nick: sent.nick_name.clone(),
                face_url: sent.face_url.clone(),
            },
        },
        seq: sent.seq,
        receipt_at: None,
        revoked: None,
    }
}

#[tokio::test]
async fn a_c2c_message_reaches_the_receiver_and_the_senders_sessions() {
    let h = Harness::start(&["alice", "bob"]).await;
    let sent = h.send_c2c("alice", "bob", "hi").await;
    assert_eq!(
        (
            sent.seq,
            sent.user_id.as_deref(),
            sent.is_self,
            sent.is_read,
            sent.text_elem.clone()
        ),
        (
            1,
            Some("bob"),
            true,
            true,
            Some(TextElem { text: "hi".into() })
        )
    );
    let as_bob = Message {
        user_id: Some("alice".into()),
        is_self: false,
        is_read: false,
        ..sent.clone()
    };
    // Both sides of a C2C conversation share its activity number.
    let activity = h
        .tidings
        .store()
        .c2c_conversation("alice", "bob")
        .await
        .unwrap()
        .unwrap()
        .activity as i64;
    let conversation =
        |owner_peer: &str, unread_count, last_message: &Message| tidings_proto::Conversation {
            conversation_id: format!("c2c_{owner_peer}"),
            conversation_type: CONVERSATION_TYPE_C2C,
            user_id: Some(owner_peer.to_owned()),
            group_id: None,
            group_type: None,
            show_name: owner_peer.to_owned(),
            unread_count,
            c2c_read_timestamp: 0,
            group_read_sequence: 0,
            last_message: Some(last_message.clone()),
            order_key: activity,
            group_at_info_list: Vec::new(),
        };
    assert_eq!(
        h.bus.take(),
        [
            push::<OnRecvNewMessage>(&["bob"], as_bob.clone()),
            push::<OnRecvNewMessage>(&["alice"], sent.clone()),
            push::<OnNewConversation>(&["bob"], vec![conversation("alice", 1, &as_bob)]),
            push::<OnNewConversation>(&["alice"], vec![conversation("bob", 0, &sent)]),
            push::<OnTotalUnreadMessageCountChanged>(&["bob"], 1),
        ],
        "the first message makes the conversation appear on both sides"
    );
    assert_eq!(
        h.callbacks.take(),
        [AfterEvent::C2cMessageSent {
            message: stored_text(&sent, Some("bob"), "hi"),
            online_only: false,
        }]
    );

    let reply = h.send_c2c("bob", "alice", "hello").await;
    let as_alice = Message {
        user_id: Some("bob".into()),
        is_self: false,
        is_read: false,
        ..reply.clone()
    };
    let activity = h
        .tidings
        .store()
        .c2c_conversation("alice", "bob")
        .await
        .unwrap()
        .unwrap()
        .activity as i64;
    let moved = |conversation: tidings_proto::Conversation| tidings_proto::Conversation {
        order_key: activity,
        ..conversation
    };
    assert_eq!(
        h.bus.take(),
        [
            push::<OnRecvNewMessage>(&["alice"], as_alice.clone()),
            push::<OnRecvNewMessage>(&["bob"], reply.clone()),
            push::<OnConversationChanged>(
                &["alice"],
                vec![moved(conversation("bob", 1, &as_alice))]
            ),
            push::<OnConversationChanged>(&["bob"], vec![moved(conversation("alice", 1, &reply))]),
            push::<OnTotalUnreadMessageCountChanged>(&["alice"], 1),
        ],
        "later messages change it; the sender's total does not move"
    );
}

#[tokio::test]
async fn no_push_is_built_for_users_nobody_can_reach() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.bus.set_online(&[]);
    h.send_c2c("alice", "bob", "nobody is online").await;
    assert_eq!(h.bus.take(), []);
    assert_eq!(
        h.callbacks.take().len(),
        1,
        "the after-event is emitted all the same"
    );
    h.bus.set_online(&["bob"]);
    h.send_c2c("alice", "bob", "bob is online").await;
    let published = h.bus.take();
    let recipients: Vec<(Vec<&str>, &str)> = published
        .iter()
        .map(|d| (pushed(d).0, pushed(d).1.name()))
        .collect();
    assert_eq!(
        recipients,
        [
            (vec!["bob"], "onRecvNewMessage"),
            (vec!["bob"], "onConversationChanged"),
            (vec!["bob"], "onTotalUnreadMessageCountChanged")
        ]
    );
}

#[tokio::test]
async fn an_online_only_message_is_pushed_and_not_stored() {
    let h = Harness::start(&["alice", "bob"]).await;
    let params = SendMessageParams {
        online_user_only: true,
        ..c2c_text("bob", "typing…")
    };
    let sent = h.tidings.send_message("alice", params).await.unwrap();
    assert_eq!(sent.seq, 0);
    let events: Vec<&str> = h.bus.take().iter().map(|d| pushed(d).1.name()).collect();
    assert_eq!(
        events,
        ["onRecvNewMessage", "onRecvNewMessage"],
        "no conversation changed"
    );
    assert_eq!(
        h.callbacks.take(),
        [AfterEvent::C2cMessageSent {
            message: stored_text(&sent, Some("bob"), "typing…"),
            online_only: true,
        }]
    );
    let history = h
        .tidings
        .c2c_history(
            "bob",
            C2cHistoryParams {
                user_id: "alice".into(),
                count: 10,
                last_msg_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(history, []);
}

#[tokio::test]
async fn a_send_is_refused_before_anything_is_stored_or_pushed() {
    let h = Harness::start(&["alice", "bob", "erin"]).await;
    h.create_group("alice", "Work", "g", &["bob"]).await;
    let t = &h.tidings;
    let custom = Some(CustomElem {
        data: "d".into(),
        desc: String::new(),
        extension: String::new(),
    });
    let cases = [
        (
            "alice",
            SendMessageParams {
                custom_elem: custom,
                ..c2c_text("bob", "both")
            },
            "InvalidParameters(\"give exactly one element, not textElem and customElem\")".to_owned(),
        ),
        (
            "alice",
            SendMessageParams {
                text_elem: None,
                ..c2c_text("bob", "")
            },
            "InvalidParameters(\"give one element: textElem, customElem, imageElem, soundElem, videoElem, fileElem, locationElem, faceElem or mergerElem\")".to_owned(),
        ),
        (
            "alice",
            SendMessageParams {
                group_at_user_list: vec!["bob".into()],
                receiver_list: vec!["bob".into()],
                ..group_text("g", "@bob, for you only")
            },
            "InvalidParameters(\"a targeted group message (receiverList, REST To_Account) cannot mention members (groupAtUserList, REST GroupAtInfo)\")".to_owned(),
        ),
        (
            "alice",
            SendMessageParams {
                receiver_list: vec!["bob".into(), "erin".into(), "nobody".into()],
                ..group_text("g", "for some")
            },
            "InvalidParameters(\"receiverList (REST To_Account) names users who are not members of group g: erin, nobody; the message was not sent\")".to_owned(),
        ),
        (
            "alice",
            SendMessageParams {
                receiver_list: (0..51).map(|i| format!("u{i}")).collect(),
                ..group_text("g", "for many")
            },
            "InvalidParameters(\"receiverList (REST To_Account) names 51 members; the limit is 50\")".to_owned(),
        ),
        (
            "alice",
            SendMessageParams {
                receiver_list: vec!["bob".into()],
                ..c2c_text("bob", "not a group")
            },
            "InvalidParameters(\"groupAtUserList and receiverList are for group messages: give groupID\")".to_owned(),
        ),
        (
            "alice",
            SendMessageParams {
                group_at_user_list: vec!["no body".into()],
                ..group_text("g", "@?")
            },
            "InvalidIdentifier(\"no body\")".to_owned(),
        ),
        (
            "alice",
            SendMessageParams {
                group_at_user_list: (0..101).map(|i| format!("u{i}")).collect(),
                ..group_text("g", "@many")
            },
            "InvalidParameters(\"groupAtUserList (REST GroupAtInfo) has 101 entries; the limit is 100\")".to_owned(),
        ),
        (
            "alice",
            c2c_text("bob", &"x".repeat(12 * 1024 + 1)),
            "MessageTooLarge { size: 12289, limit: 12288 }".to_owned(),
        ),
        (
            "alice",
            c2c_text("nobody", "hello?"),
            "UserNotFound(\"nobody\")".to_owned(),
        ),
        (
            "alice",
            c2c_text("no body", "hello?"),
            "InvalidIdentifier(\"no body\")".to_owned(),
        ),
        (
            "erin",
            group_text("g", "let me in"),
            "PermissionDenied(\"erin is not a member of group g\")".to_owned(),
        ),
        (
            "alice",
            group_text("nope", "anyone?"),
            "GroupNotFound(\"nope\")".to_owned(),
        ),
    ];
    for (sender, params, expected) in cases {
        assert_eq!(
            refusal(t.send_message(sender, params.clone()).await),
            expected,
            "{params:?}"
        );
    }
    assert_eq!(h.bus.take(), []);
    assert_eq!(h.callbacks.take(), []);
}

#[tokio::test]
async fn a_group_message_reaches_the_other_members_and_the_senders_sessions() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let sent = h.send_group("alice", "g", "hello all").await;
    assert_eq!(
        (sent.seq, sent.group_id.as_deref(), sent.is_self),
        (1, Some("g"), true)
    );
    let as_member = Message {
        is_self: false,
        is_read: false,
        ..sent.clone()
    };
    let activity = h
        .tidings
        .store()
        .get_group("g")
        .await
        .unwrap()
        .unwrap()
        .activity as i64;
    let alices_conversation = tidings_proto::Conversation {
        conversation_id: "group_g".into(),
        conversation_type: CONVERSATION_TYPE_GROUP,
        user_id: None,
        group_id: Some("g".into()),
        group_type: Some("Work".into()),
        show_name: "g name".into(),
        unread_count: 0,
        c2c_read_timestamp: 0,
        group_read_sequence: 0,
        last_message: Some(sent.clone()),
        order_key: activity,
        group_at_info_list: Vec::new(),
    };
    let members_conversation = tidings_proto::Conversation {
        unread_count: 1,
        last_message: Some(as_member.clone()),
        ..alices_conversation.clone()
    };
    h.settled().await;
    assert_eq!(
        h.bus.take(),
        [
            push::<OnRecvNewMessage>(&["bob", "carol"], as_member.clone()),
            push::<OnRecvNewMessage>(&["alice"], sent.clone()),
            // Then, from the notifier, every member's view; the sender's total did not move.
            push::<OnConversationChanged>(&["alice"], vec![alices_conversation]),
            push::<OnConversationChanged>(&["bob"], vec![members_conversation.clone()]),
            push::<OnConversationChanged>(&["carol"], vec![members_conversation]),
            push::<OnTotalUnreadMessageCountChanged>(&["bob"], 1),
            push::<OnTotalUnreadMessageCountChanged>(&["carol"], 1),
        ]
    );
    assert_eq!(
        h.callbacks.take(),
        [AfterEvent::GroupMessageSent {
            group_type: GroupType::Work,
            message: stored_text(&sent, None, "hello all"),
            online_only: false,
        }]
    );

    let options = SendOptions {
        as_admin: true,
        ..SendOptions::default()
    };
    let from_admin = h
        .tidings
        .send_message_with("administrator", group_text("g", "notice"), options)
        .await
        .expect("the administrator needs no membership");
    h.settled().await;
    let published = h.bus.take();
    let recipients: Vec<(Vec<&str>, &str)> = published
        .iter()
        .map(|d| (pushed(d).0, pushed(d).1.name()))
        .collect();
    assert_eq!(
        recipients,
        [
            (vec!["alice", "bob", "carol"], "onRecvNewMessage"),
            (vec!["administrator"], "onRecvNewMessage"),
            (vec!["alice"], "onConversationChanged"),
            (vec!["bob"], "onConversationChanged"),
            (vec!["carol"], "onConversationChanged"),
            (vec!["alice"], "onTotalUnreadMessageCountChanged"),
            (vec!["bob"], "onTotalUnreadMessageCountChanged"),
            (vec!["carol"], "onTotalUnreadMessageCountChanged"),
        ],
        "every member, then the sender's own sessions, then every member's conversation and \
         total; no conversation of a non-member"
    );
    assert_eq!(from_admin.seq, 2);
}

#[tokio::test]
async fn no_after_event_is_built_when_none_is_wanted() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.callbacks.set_wanted(false);
    h.send_c2c("alice", "bob", "quiet").await;
    assert_eq!(h.callbacks.take(), []);
}
