//! Message-level read receipts: who may send them, exact counts, idempotent repeats, late
//! joiners refused, and one push and one after-event for each new receipt.

use tidings_proto::methods::{
    C2cHistoryParams, CreateGroupParams, GroupHistoryParams, ReadMemberListParams,
    SendMessageParams,
};
use tidings_proto::{GroupMemberSpec, GroupRole, GroupType, MessageReceipt, ReadMemberInfo};
use tidings_service::{AfterEvent, GroupReceiptCount, ReadReceiptSettings};

use crate::harness::{Harness, Setup, c2c_receipt_pushes, ids, pushed, receipts_sent, refusal};

/// The pull of a C2C message's receipt state by its sender.
fn c2c_receipt(msg_id: &str, reader: &str, read_at: Option<i64>) -> MessageReceipt {
    MessageReceipt::c2c(msg_id.to_owned(), reader.to_owned(), read_at)
}

/// The pull (and push) of a group message's counts.
fn group_receipt(msg_id: &str, group_id: &str, read: u64, unread: u64) -> MessageReceipt {
    MessageReceipt::group(msg_id.to_owned(), group_id.to_owned(), read, unread)
}

#[tokio::test]
async fn a_c2c_receipt_is_sent_by_the_receiver_alone() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let m = h.send_c2c_receipted("alice", "bob").await.msg_id;
    h.forget_published().await;
    let t = &h.tidings;
    assert_eq!(
        refusal(t.send_read_receipts("carol", ids(&[&m]), None).await),
        format!("PermissionDenied(\"message {m} was not sent to you\")")
    );
    assert_eq!(
        refusal(t.send_read_receipts("alice", ids(&[&m]), None).await),
        format!(
            "InvalidParameters(\"message {m} is your own: receipts are sent by its recipients\")"
        )
    );
    assert_eq!(h.bus.take(), [], "a refused receipt tells nobody");
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [c2c_receipt(&m, "bob", None)]
    );
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    let [pulled] = &t.get_read_receipts("alice", ids(&[&m])).await.unwrap()[..] else {
        panic!("one receipt per message")
    };
    assert!(pulled.is_peer_read);
}

#[tokio::test]
async fn a_new_c2c_receipt_tells_the_sender_and_the_readers_other_sessions_once() {
    let h = Harness::start(&["alice", "bob"]).await;
    let m1 = h.send_c2c_receipted("alice", "bob").await.msg_id;
    h.forget_published().await;
    let t = &h.tidings;
    t.send_read_receipts("bob", ids(&[&m1]), Some(7))
        .await
        .unwrap();
    let pulled = t.get_read_receipts("alice", ids(&[&m1])).await.unwrap();
    let read_at = Some(pulled[0].timestamp).filter(|at| *at > 0);
    assert_eq!(pulled, [c2c_receipt(&m1, "bob", read_at)]);
    assert_eq!(
        h.bus.take(),
        c2c_receipt_pushes("alice", pulled.clone(), "bob", &[&m1], Some(7))
    );
    assert_eq!(
        h.callbacks.take(),
        [],
        "C2C message-level receipts have no after-event"
    );

    t.send_read_receipts("bob", ids(&[&m1]), Some(8))
        .await
        .unwrap();
    assert_eq!(h.bus.take(), [], "a repeat tells nobody");
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m1])).await.unwrap(),
        pulled,
        "a repeat keeps the first receipt's time"
    );

    let m2 = h.send_c2c_receipted("alice", "bob").await.msg_id;
    h.forget_published().await;
    t.send_read_receipts("bob", ids(&[&m1, &m2, &m2]), None)
        .await
        .unwrap();
    let pulled = t.get_read_receipts("alice", ids(&[&m2])).await.unwrap();
    assert!(pulled[0].is_peer_read);
    assert_eq!(
        h.bus.take(),
        c2c_receipt_pushes("alice", pulled, "bob", &[&m2], None),
        "only the newly receipted message, once"
    );
}

#[tokio::test]
async fn receipt_calls_name_existing_receipted_messages_of_one_conversation() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let from_alice = h.send_c2c_receipted("alice", "bob").await.msg_id;
    let from_carol = h.send_c2c_receipted("carol", "bob").await.msg_id;
    let plain = h.send_c2c("alice", "bob", "no receipt asked").await.msg_id;
    h.forget_published().await;
    let t = &h.tidings;
    assert_eq!(
        refusal(t.send_read_receipts("bob", Vec::new(), None).await),
        "InvalidParameters(\"messageIDList must name between 1 and 100 messages, not 0\")"
    );
    assert_eq!(
        refusal(
            t.send_read_receipts("bob", vec![from_alice.clone(); 101], None)
                .await
        ),
        "InvalidParameters(\"messageIDList must name between 1 and 100 messages, not 101\")"
    );
    assert_eq!(
        refusal(t.send_read_receipts("bob", ids(&["nope"]), None).await),
        "ReceiptInfoNotFound(\"message nope does not exist\")"
    );
    assert_eq!(
        refusal(t.send_read_receipts("bob", ids(&[&plain]), None).await),
        format!("ReceiptInfoNotFound(\"message {plain} did not ask for read receipts\")")
    );
    assert_eq!(
        refusal(t.get_read_receipts("alice", ids(&[&plain])).await),
        format!("ReceiptInfoNotFound(\"message {plain} did not ask for read receipts\")")
    );
    assert_eq!(
        refusal(
            t.send_read_receipts("bob", ids(&[&from_alice, &from_carol]), None)
                .await
        ),
        format!(
            "InvalidParameters(\"message {from_carol} belongs to another conversation than {from_alice}: name messages of one conversation per call\")"
        )
    );
    assert_eq!(
        refusal(t.get_read_receipts("bob", ids(&[&from_alice])).await),
        format!(
            "PermissionDenied(\"message {from_alice} is not yours: only its sender may pull its receipts\")"
        )
    );
    assert_eq!(h.bus.take(), []);
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&from_alice]))
            .await
            .unwrap(),
        [c2c_receipt(&from_alice, "bob", None)],
        "no refused call recorded anything"
    );
}

#[tokio::test]
async fn switched_off_receipts_refuse_every_receipt_call_and_receipted_sends() {
    let h = Harness::start(&["alice", "bob"]).await;
    let m = h.send_c2c_receipted("alice", "bob").await.msg_id;
    let t = &h.tidings;
    t.set_read_receipt_settings(ReadReceiptSettings {
        enabled: false,
        ..ReadReceiptSettings::default()
    });
    let off = "ReceiptsNotSupported(\"read receipts are disabled on this server\")";
    assert_eq!(
        refusal(t.send_read_receipts("bob", ids(&[&m]), None).await),
        off
    );
    assert_eq!(refusal(t.get_read_receipts("alice", ids(&[&m])).await), off);
    let params = tidings_proto::methods::SendMessageParams {
        need_read_receipt: true,
        ..crate::harness::c2c_text("bob", "read me")
    };
    assert_eq!(refusal(t.send_message("alice", params).await), off);
}

#[tokio::test]
async fn group_receipt_counts_are_exact_and_repeats_change_nothing() {
    let h = Harness::start(&["alice", "bob", "carol", "dave"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol", "dave"])
        .await;
    let sent = h.send_group_receipted("alice", "g").await;
    let m = sent.msg_id.clone();
    h.forget_published().await;
    let t = &h.tidings;

    t.send_read_receipts("bob", ids(&[&m]), Some(3))
        .await
        .unwrap();
    assert_eq!(
        h.bus.take(),
        [receipts_sent("bob", &[&m], Some(3))],
        "the sender's push is the notifier's (see notifier.rs)"
    );
    assert_eq!(
        h.callbacks.take(),
        [AfterEvent::GroupReceiptsSent {
            group_id: "g".into(),
            group_type: GroupType::Work,
            reader: "bob".into(),
            receipts: vec![GroupReceiptCount {
                seq: sent.seq,
                read: 1,
                unread: 2
            }],
        }]
    );
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [group_receipt(&m, "g", 1, 2)]
    );

    t.send_read_receipts("carol", ids(&[&m]), None)
        .await
        .unwrap();
    h.forget_published().await;
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    assert_eq!(h.bus.take(), [], "a repeat tells nobody");
    assert_eq!(h.callbacks.take(), [], "a repeat is no event");
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [group_receipt(&m, "g", 2, 1)]
    );
}

#[tokio::test]
async fn a_late_joiners_old_messages_are_skipped_and_outsiders_refused() {
    let h = Harness::start(&["alice", "bob", "erin", "frank"]).await;
    h.create_group("alice", "Public", "p", &["bob"]).await;
    let before = h.send_group_receipted("alice", "p").await.msg_id;
    h.tidings.join_group("erin", "p").await.unwrap();
    let after = h.send_group_receipted("alice", "p").await.msg_id;
    h.forget_published().await;
    let t = &h.tidings;
    let late = format!(
        "PermissionDenied(\"you were not a member of group p when message {before} was sent\")"
    );
    // Alone, the old message is refused and nothing is told.
    assert_eq!(
        refusal(t.send_read_receipts("erin", ids(&[&before]), None).await),
        late
    );
    assert_eq!(
        refusal(
            t.send_read_receipts("frank", ids(&[&before, &after]), None)
                .await
        ),
        "PermissionDenied(\"frank is not a member of group p\")"
    );
    assert_eq!(h.bus.take(), []);
    assert_eq!(h.callbacks.take(), []);
    // With a message she did receive, it is skipped and the other recorded.
    let skipped = t
        .send_read_receipts("erin", ids(&[&before, &after]), None)
        .await
        .unwrap();
    assert_eq!(
        skipped
            .iter()
            .map(|s| (s.msg_id.as_str(), format!("{:?}", s.error)))
            .collect::<Vec<_>>(),
        [(before.as_str(), late)]
    );
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&before, &after]))
            .await
            .unwrap(),
        [
            group_receipt(&before, "p", 0, 1),
            group_receipt(&after, "p", 1, 1)
        ]
    );
}

#[tokio::test]
async fn a_leaver_keeps_the_state_it_had_and_can_add_none() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let read = h.send_group_receipted("alice", "g").await.msg_id;
    let unread = h.send_group_receipted("alice", "g").await.msg_id;
    let t = &h.tidings;
    t.send_read_receipts("bob", ids(&[&read]), None)
        .await
        .unwrap();
    t.quit_group("bob", "g").await.unwrap();
    assert_eq!(
        refusal(t.send_read_receipts("bob", ids(&[&unread]), None).await),
        "PermissionDenied(\"bob is not a member of group g\")"
    );
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&read, &unread]))
            .await
            .unwrap(),
        [
            group_receipt(&read, "g", 1, 1),
            group_receipt(&unread, "g", 0, 2)
        ],
        "bob stays a recipient of both"
    );
}

#[tokio::test]
async fn receipts_follow_the_group_types_they_are_enabled_for() {
    let setup = Setup {
        receipts: ReadReceiptSettings {
            enabled: true,
            group_types: vec![GroupType::Work],
        },
        ..Setup::default()
    };
    let h = Harness::start_with(setup, &["alice", "bob"]).await;
    h.create_group("alice", "Work", "w", &["bob"]).await;
    h.create_group("alice", "Public", "p", &["bob"]).await;
    h.create_group("alice", "AVChatRoom", "live", &[]).await;
    h.tidings.join_group("bob", "live").await.unwrap();
    let t = &h.tidings;
    let receipted = |group_id: &str| tidings_proto::methods::SendMessageParams {
        need_read_receipt: true,
        ..crate::harness::group_text(group_id, "read me")
    };
    assert_eq!(
        refusal(t.send_message("alice", receipted("p")).await),
        "ReceiptsNotSupported(\"read receipts are not enabled for Public groups on this server\")"
    );
    assert_eq!(
        refusal(t.send_message("alice", receipted("live")).await),
        "ReceiptsNotSupported(\"read receipts are not enabled for AVChatRoom groups on this server\")"
    );
    let m = t
        .send_message("alice", receipted("w"))
        .await
        .unwrap()
        .msg_id;
    t.set_read_receipt_settings(ReadReceiptSettings {
        enabled: true,
        group_types: Vec::new(),
    });
    assert_eq!(
        refusal(t.send_read_receipts("bob", ids(&[&m]), None).await),
        "ReceiptsNotSupported(\"read receipts are not enabled for Work groups on this server\")",
        "the settings in force when the receipt arrives decide"
    );
}

fn member(user: &str) -> ReadMemberInfo {
    ReadMemberInfo {
        user_id: user.to_owned(),
        nick_name: String::new(),
        face_url: String::new(),
        name_card: String::new(),
    }
}

fn page_params(msg_id: &str, filter: u32, next_seq: u64, count: u32) -> ReadMemberListParams {
    ReadMemberListParams {
        message_id: msg_id.to_owned(),
        filter,
        next_seq,
        count,
    }
}

#[tokio::test]
async fn member_lists_page_through_readers_and_non_readers_in_joining_order() {
    let h = Harness::start(&["alice", "bob", "carol", "dave", "erin", "frank"]).await;
    let params = CreateGroupParams {
        member_list: vec![
            GroupMemberSpec {
                user_id: "bob".into(),
                role: GroupRole::Admin,
            },
            GroupMemberSpec {
                user_id: "carol".into(),
                role: GroupRole::Member,
            },
            GroupMemberSpec {
                user_id: "dave".into(),
                role: GroupRole::Member,
            },
            GroupMemberSpec {
                user_id: "erin".into(),
                role: GroupRole::Member,
            },
        ],
        ..crate::harness::group_params("Work", "g", &[])
    };
    h.tidings.create_group("alice", params).await.unwrap();
    let m = h.send_group_receipted("alice", "g").await.msg_id;
    let t = &h.tidings;
    t.send_read_receipts("erin", ids(&[&m]), None)
        .await
        .unwrap();
    t.send_read_receipts("carol", ids(&[&m]), None)
        .await
        .unwrap();

    let readers = t
        .read_member_list("alice", page_params(&m, 0, 0, 100))
        .await
        .unwrap();
    assert_eq!(
        (
            readers.member_info_list,
            readers.next_seq,
            readers.is_finished
        ),
        (vec![member("carol"), member("erin")], 0, true)
    );
    let first = t
        .read_member_list("bob", page_params(&m, 1, 0, 1))
        .await
        .unwrap();
    assert_eq!(
        (first.member_info_list, first.is_finished),
        (vec![member("bob")], false),
        "an admin may list too"
    );
    assert_ne!(first.next_seq, 0);
    let second = t
        .read_member_list("bob", page_params(&m, 1, first.next_seq, 1))
        .await
        .unwrap();
    assert_eq!(
        (second.member_info_list, second.next_seq, second.is_finished),
        (vec![member("dave")], 0, true)
    );

    assert_eq!(
        refusal(t.read_member_list("carol", page_params(&m, 0, 0, 10)).await),
        format!(
            "PermissionDenied(\"only the sender of message {m} and the group's owner and admins may list its readers\")"
        )
    );
    assert_eq!(
        refusal(t.read_member_list("frank", page_params(&m, 0, 0, 10)).await),
        "PermissionDenied(\"frank is not a member of group g\")"
    );
    assert_eq!(
        refusal(t.read_member_list("alice", page_params(&m, 2, 0, 10)).await),
        "InvalidParameters(\"filter must be 0 (read) or 1 (unread), not 2\")"
    );
    assert_eq!(
        refusal(t.read_member_list("alice", page_params(&m, 0, 0, 0)).await),
        "InvalidParameters(\"count must be between 1 and 100, not 0\")"
    );
    let c2c = h.send_c2c_receipted("alice", "bob").await.msg_id;
    assert_eq!(
        refusal(
            t.read_member_list("alice", page_params(&c2c, 0, 0, 10))
                .await
        ),
        format!(
            "InvalidParameters(\"message {c2c} is a C2C message; member lists exist for group messages\")"
        )
    );
}

/// Parameters of an `onlineUserOnly` message that asks for receipts, to `to` or group `group`.
fn online_receipted(to: Option<&str>, group: Option<&str>) -> SendMessageParams {
    let text = match (to, group) {
        (Some(to), _) => crate::harness::c2c_text(to, "live, read me"),
        (None, Some(group)) => crate::harness::group_text(group, "live, read me"),
        (None, None) => unreachable!("a receiver or a group"),
    };
    SendMessageParams {
        need_read_receipt: true,
        online_user_only: true,
        ..text
    }
}

#[tokio::test]
async fn an_online_only_c2c_message_keeps_its_receipt_state_but_no_history() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    let sent = t
        .send_message("alice", online_receipted(Some("bob"), None))
        .await
        .unwrap();
    let m = sent.msg_id.clone();
    assert_eq!((sent.seq, sent.need_read_receipt), (0, true));
    let published = h.bus.take();
    let events: Vec<(Vec<&str>, &str)> = published
        .iter()
        .map(|d| (pushed(d).0, pushed(d).1.name()))
        .collect();
    assert_eq!(
        events,
        [
            (vec!["bob"], "onRecvNewMessage"),
            (vec!["alice"], "onRecvNewMessage")
        ],
        "delivered, and no conversation changed"
    );
    let history = |user: &'static str, peer: &'static str| {
        t.c2c_history(
            user,
            C2cHistoryParams {
                user_id: peer.into(),
                count: 10,
                last_msg_id: None,
            },
        )
    };
    assert_eq!(history("bob", "alice").await.unwrap(), []);
    assert_eq!(t.total_unread("bob").await.unwrap(), 0);
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [c2c_receipt(&m, "bob", None)]
    );
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    let pulled = t.get_read_receipts("alice", ids(&[&m])).await.unwrap();
    assert!(pulled[0].is_peer_read && pulled[0].timestamp > 0);
    assert_eq!(
        h.bus.take(),
        c2c_receipt_pushes("alice", pulled.clone(), "bob", &[&m], None)
    );
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    assert_eq!(h.bus.take(), [], "a repeat tells nobody");
    // The next stored message is the conversation's first: the online one took no sequence.
    assert_eq!(h.send_c2c("alice", "bob", "stored").await.seq, 1);
    let stored = history("bob", "alice").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].msg_id, m);
    assert_eq!(
        refusal(
            t.c2c_history(
                "bob",
                C2cHistoryParams {
                    user_id: "alice".into(),
                    count: 10,
                    last_msg_id: Some(m.clone()),
                },
            )
            .await
        ),
        format!(
            "InvalidParameters(\"lastMsgID {m} is not a message of this conversation's history\")"
        )
    );
}

#[tokio::test]
async fn an_online_only_group_message_counts_its_recipients_at_send_time_but_has_no_history() {
    let h = Harness::start(&["alice", "bob", "carol", "dave", "erin"]).await;
    h.create_group("alice", "Public", "p", &["bob", "carol", "dave"])
        .await;
    let t = &h.tidings;
    let sent = t
        .send_message("alice", online_receipted(None, Some("p")))
        .await
        .unwrap();
    let m = sent.msg_id.clone();
    assert_eq!(sent.seq, 0);
    let events: Vec<&str> = h.bus.take().iter().map(|d| pushed(d).1.name()).collect();
    assert_eq!(
        events,
        ["onRecvNewMessage", "onRecvNewMessage"],
        "members and the sender; no conversation changed"
    );
    t.join_group("erin", "p").await.unwrap();
    h.forget_published().await;
    let group_history = |user: &'static str| {
        t.group_history(
            user,
            GroupHistoryParams {
                group_id: "p".into(),
                count: 10,
                last_msg_id: None,
            },
        )
    };
    assert_eq!(group_history("bob").await.unwrap(), []);
    assert_eq!(t.total_unread("bob").await.unwrap(), 0);
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [group_receipt(&m, "p", 0, 3)],
        "recipients: the members at send time minus the sender"
    );
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    assert_eq!(
        h.callbacks.take(),
        [AfterEvent::GroupReceiptsSent {
            group_id: "p".into(),
            group_type: GroupType::Public,
            reader: "bob".into(),
            receipts: vec![GroupReceiptCount {
                seq: 0,
                read: 1,
                unread: 2
            }],
        }]
    );
    t.send_read_receipts("carol", ids(&[&m]), None)
        .await
        .unwrap();
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [group_receipt(&m, "p", 2, 1)],
        "a repeat changes nothing"
    );
    assert_eq!(
        refusal(t.send_read_receipts("erin", ids(&[&m]), None).await),
        format!("PermissionDenied(\"you were not a member of group p when message {m} was sent\")")
    );
    let read = t
        .read_member_list("alice", page_params(&m, 0, 0, 100))
        .await
        .unwrap();
    assert_eq!(
        (read.member_info_list, read.is_finished),
        (vec![member("bob"), member("carol")], true)
    );
    let unread = t
        .read_member_list("alice", page_params(&m, 1, 0, 100))
        .await
        .unwrap();
    assert_eq!(
        (unread.member_info_list, unread.is_finished),
        (vec![member("dave")], true)
    );
    // The next stored message is the group's first: the online one took no sequence.
    assert_eq!(h.send_group("alice", "p", "stored").await.seq, 1);
    let stored = group_history("dave").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].msg_id, m);
}
