//! Targeted group messages: only their targets (and sender) get them, see them in history and
//! in the conversation, and can send receipts for them; the others are told, with the next
//! message they see, which sequences were not theirs, and count none of them as unread.

use tidings_proto::methods::{GroupHistoryParams, RevokeMessageParams, SendMessageParams};
use tidings_proto::{Message, MessageReceipt, PushEvent};
use tidings_service::SendOptions;

use crate::harness::{Harness, group_text, pushed, refusal};

/// The new-message pushes of what the bus recorded: (recipients, msgID, prevSeq).
fn new_message_pushes(h: &Harness) -> Vec<(Vec<String>, String, Option<u64>)> {
    h.bus
        .take()
        .iter()
        .filter_map(|delivery| match pushed(delivery) {
            (users, PushEvent::OnRecvNewMessage(message)) => Some((
                users.iter().map(|u| (*u).to_owned()).collect(),
                message.msg_id.clone(),
                message.prev_seq,
            )),
            _ => None,
        })
        .collect()
}

fn names(users: &[&str]) -> Vec<String> {
    users.iter().map(|u| (*u).to_owned()).collect()
}

fn targeted(group_id: &str, text: &str, receivers: &[&str]) -> SendMessageParams {
    SendMessageParams {
        receiver_list: names(receivers),
        ..group_text(group_id, text)
    }
}

/// (seq, prevSeq) of a member's page of group history, newest first.
async fn history(
    h: &Harness,
    user: &str,
    count: u32,
    last: Option<&Message>,
) -> Vec<(u64, Option<u64>)> {
    h.tidings
        .group_history(
            user,
            GroupHistoryParams {
                group_id: "g".into(),
                count,
                last_msg_id: last.map(|m| m.msg_id.clone()),
            },
        )
        .await
        .expect("group history")
        .iter()
        .map(|m| (m.seq, m.prev_seq))
        .collect()
}

#[tokio::test]
async fn a_targeted_message_reaches_its_targets_alone_and_the_others_skip_its_sequence() {
    let h = Harness::start(&["alice", "bob", "carol", "dave"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol", "dave"])
        .await;
    let t = &h.tidings;
    let first = h.send_group("alice", "g", "to all").await;
    h.forget_published().await;

    let secret = t
        .send_message("alice", targeted("g", "for bob", &["bob"]))
        .await
        .unwrap();
    assert_eq!(
        (
            secret.seq,
            secret.prev_seq,
            secret.is_excluded_from_unread_count
        ),
        (2, None, true)
    );
    h.settled().await;
    let deliveries = h.bus.take();
    let reached: std::collections::BTreeSet<&str> = deliveries
        .iter()
        .flat_map(|delivery| pushed(delivery).0)
        .collect();
    assert_eq!(
        reached,
        ["alice", "bob"].into(),
        "nobody else gets anything, not even a conversation change"
    );
    let messages: Vec<(Vec<&str>, &str)> = deliveries
        .iter()
        .map(pushed)
        .filter_map(|(users, event)| match event {
            PushEvent::OnRecvNewMessage(m) => Some((users, m.msg_id.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        [
            (vec!["bob"], secret.msg_id.as_str()),
            (vec!["alice"], secret.msg_id.as_str()),
        ]
    );

    // The next message tells those who did not see seq 2 that their predecessor is seq 1.
    let next = h.send_group("carol", "g", "to all again").await;
    assert_eq!((next.seq, next.prev_seq), (3, Some(1)));
    assert_eq!(
        new_message_pushes(&h),
        [
            (names(&["alice", "bob"]), next.msg_id.clone(), None),
            (names(&["dave"]), next.msg_id.clone(), Some(1)),
            (names(&["carol"]), next.msg_id.clone(), Some(1)),
        ]
    );

    // History: the others have no entry for it, and each page says what was skipped.
    assert_eq!(
        history(&h, "bob", 10, None).await,
        [(3, None), (2, None), (1, None)]
    );
    assert_eq!(
        history(&h, "alice", 10, None).await,
        [(3, None), (2, None), (1, None)]
    );
    assert_eq!(
        history(&h, "dave", 10, None).await,
        [(3, Some(1)), (1, None)]
    );
    assert_eq!(history(&h, "dave", 1, None).await, [(3, Some(1))]);
    assert_eq!(history(&h, "dave", 1, Some(&next)).await, [(1, None)]);
    assert_eq!(
        refusal(
            t.group_history(
                "dave",
                GroupHistoryParams {
                    group_id: "g".into(),
                    count: 10,
                    last_msg_id: Some(secret.msg_id.clone()),
                },
            )
            .await
        ),
        format!(
            "InvalidParameters(\"lastMsgID {} is not a message of this conversation's history\")",
            secret.msg_id
        )
    );

    // Unread: the targeted message counts for nobody (Tencent's default), the others do.
    for (user, unread) in [("bob", 2), ("dave", 2), ("carol", 1), ("alice", 1)] {
        let conversation = t.conversation(user, "group_g").await.unwrap();
        assert_eq!(conversation.unread_count, unread, "{user}");
        assert_eq!(t.total_unread(user).await.unwrap(), unread, "{user}");
    }
    assert_eq!(first.seq, 1);

    // Its recall reaches those who got it, and nobody else.
    h.forget_published().await;
    t.revoke_message(
        "alice",
        RevokeMessageParams {
            msg_id: secret.msg_id.clone(),
            reason: String::new(),
        },
    )
    .await
    .unwrap();
    let told: Vec<Vec<String>> = h
        .bus
        .take()
        .iter()
        .map(pushed)
        .filter(|(_, event)| matches!(event, PushEvent::OnRecvMessageRevoked(_)))
        .map(|(users, _)| users.iter().map(|u| (*u).to_owned()).collect())
        .collect();
    assert_eq!(told, [names(&["alice", "bob"])]);
}

#[tokio::test]
async fn the_last_message_of_the_conversation_is_the_last_one_the_member_sees() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let t = &h.tidings;
    let first = h.send_group("alice", "g", "to all").await;
    let secret = t
        .send_message("alice", targeted("g", "for bob", &["bob"]))
        .await
        .unwrap();
    let seen = |user: &'static str| async move {
        let last = t
            .conversation(user, "group_g")
            .await
            .unwrap()
            .last_message
            .unwrap();
        (last.msg_id, last.prev_seq)
    };
    assert_eq!(seen("carol").await, (first.msg_id.clone(), None));
    assert_eq!(seen("bob").await, (secret.msg_id.clone(), None));
    let more = t
        .send_message("bob", targeted("g", "for carol", &["carol"]))
        .await
        .unwrap();
    assert_eq!(more.prev_seq, None, "bob saw seq 2");
    assert_eq!(seen("carol").await, (more.msg_id.clone(), Some(1)));
    assert_eq!(seen("alice").await, (secret.msg_id.clone(), None));
    assert_eq!(seen("bob").await, (more.msg_id.clone(), None));
}

#[tokio::test]
async fn only_the_targets_are_recipients_of_a_targeted_messages_receipts() {
    let h = Harness::start(&["alice", "bob", "carol", "dave"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol", "dave"])
        .await;
    let t = &h.tidings;
    let params = SendMessageParams {
        need_read_receipt: true,
        ..targeted("g", "read me, you two", &["bob", "carol"])
    };
    let sent = t.send_message("alice", params).await.unwrap();
    let counts = |read, unread| {
        vec![MessageReceipt::group(
            sent.msg_id.clone(),
            "g".into(),
            read,
            unread,
        )]
    };
    assert_eq!(
        t.get_read_receipts("alice", vec![sent.msg_id.clone()])
            .await
            .unwrap(),
        counts(0, 2)
    );
    assert_eq!(
        refusal(
            t.send_read_receipts("dave", vec![sent.msg_id.clone()], None)
                .await
        ),
        format!(
            "PermissionDenied(\"message {} is a targeted group message that was not sent to you\")",
            sent.msg_id
        )
    );
    t.send_read_receipts("bob", vec![sent.msg_id.clone()], None)
        .await
        .unwrap();
    assert_eq!(
        t.get_read_receipts("alice", vec![sent.msg_id.clone()])
            .await
            .unwrap(),
        counts(1, 1)
    );
}

#[tokio::test]
async fn a_targeted_message_is_refused_where_tencent_has_none_and_sent_by_the_administrator() {
    let h = Harness::start(&["alice", "bob", "carol", "admin"]).await;
    let t = &h.tidings;
    for group_type in ["AVChatRoom", "Community"] {
        h.create_group("alice", group_type, "g", &[]).await;
        assert_eq!(
            refusal(
                t.send_message("alice", targeted("g", "psst", &["bob"]))
                    .await
            ),
            format!(
                "InvalidParameters(\"a targeted group message (receiverList, REST To_Account) cannot be sent in a {group_type} group\")"
            )
        );
        t.dismiss_group("alice", "g").await.unwrap();
    }
    h.create_group("alice", "Public", "g", &["bob", "carol"])
        .await;
    h.forget_published().await;
    // receiver with groupID is V2TIM's targeted message to one member.
    let params = SendMessageParams {
        receiver: Some("carol".into()),
        ..group_text("g", "for carol")
    };
    let sent = t
        .send_message_with(
            "admin",
            params,
            SendOptions {
                as_admin: true,
                ..SendOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        new_message_pushes(&h),
        [
            (names(&["carol"]), sent.msg_id.clone(), None),
            (names(&["admin"]), sent.msg_id.clone(), None),
        ]
    );
    assert_eq!(history(&h, "bob", 10, None).await, []);
    assert_eq!(history(&h, "carol", 10, None).await, [(1, None)]);
}

#[tokio::test]
async fn mentions_are_kept_with_the_message_and_listed_in_the_mentioned_members_conversation() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let t = &h.tidings;
    let mention = |text: &str, at: &[&str]| SendMessageParams {
        group_at_user_list: names(at),
        ..group_text("g", text)
    };
    let all = tidings_proto::methods::GROUP_AT_ALL;
    let m1 = t
        .send_message("alice", mention("@bob", &["bob", "bob", "nobody"]))
        .await
        .unwrap();
    assert_eq!(
        m1.group_at_user_list,
        names(&["bob", "nobody"]),
        "repeats kept once"
    );
    t.send_message("bob", mention("@all", &[all]))
        .await
        .unwrap();
    t.send_message("carol", mention("@all @bob", &[all, "bob"]))
        .await
        .unwrap();
    let at = |user: &'static str| async move {
        t.conversation(user, "group_g")
            .await
            .unwrap()
            .group_at_info_list
            .iter()
            .map(|info| (info.seq, info.at_type))
            .collect::<Vec<_>>()
    };
    assert_eq!(at("bob").await, [(1, 1), (3, 3)]);
    assert_eq!(at("carol").await, [(2, 2)]);
    assert_eq!(at("alice").await, [(2, 2), (3, 2)]);
    let history = t
        .group_history(
            "carol",
            GroupHistoryParams {
                group_id: "g".into(),
                count: 10,
                last_msg_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        history[0].group_at_user_list,
        [all.to_owned(), "bob".to_owned()]
    );
    // Reading the conversation clears them.
    t.mark_group_read("bob", "g").await.unwrap();
    assert_eq!(at("bob").await, []);
}
