//! Private read receipts (a Tidings extension): a private reader's receipts and C2C reads
//! clear the reader's own state and reach the reader's other sessions, checked like any
//! other, while every other user sees the reader as one who has not read; turning the switch
//! off reveals nothing given meanwhile.

use tidings_proto::methods::{
    C2cHistoryParams, CleanUnreadParams, READ_MEMBERS_FILTER_READ, READ_MEMBERS_FILTER_UNREAD,
    ReadMemberListParams, RevokeMessageParams,
};
use tidings_proto::{MessageReceipt, PushEvent};
use tidings_service::{AfterEvent, Tidings};

use crate::harness::{Harness, c2c_receipt_pushes, ids, pushed, receipts_sent, refusal};

/// Whether the sender `viewer` sees each message of its C2C history with `peer` as read by
/// the peer: (`isPeerRead`, `receiptPeerRead`), oldest first.
async fn peer_read(t: &Tidings, viewer: &str, peer: &str) -> Vec<(bool, bool)> {
    let params = C2cHistoryParams {
        user_id: peer.into(),
        count: 20,
        last_msg_id: None,
    };
    let mut history = t.c2c_history(viewer, params).await.expect("history");
    history.reverse();
    history
        .iter()
        .map(|m| (m.is_peer_read, m.receipt_peer_read))
        .collect()
}

/// The user IDs of a page of a group message's read (or unread) members.
async fn members(t: &Tidings, viewer: &str, msg_id: &str, filter: u32) -> Vec<String> {
    let params = ReadMemberListParams {
        message_id: msg_id.into(),
        filter,
        next_seq: 0,
        count: 100,
    };
    let page = t
        .read_member_list(viewer, params)
        .await
        .expect("member list");
    page.member_info_list
        .into_iter()
        .map(|m| m.user_id)
        .collect()
}

#[tokio::test]
async fn the_switch_is_each_users_own_and_needs_an_existing_user() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    assert!(!t.receipt_privacy("bob").await.unwrap());
    t.set_receipt_privacy("bob", true).await.unwrap();
    assert!(t.receipt_privacy("bob").await.unwrap());
    assert!(!t.receipt_privacy("alice").await.unwrap());
    assert_eq!(
        refusal(t.set_receipt_privacy("nobody", true).await),
        "UserNotFound(\"nobody\")"
    );
    assert_eq!(
        refusal(t.receipt_privacy("nobody").await),
        "UserNotFound(\"nobody\")"
    );
    assert_eq!(
        refusal(t.set_receipt_privacy("", true).await),
        "InvalidIdentifier(\"\")"
    );
    assert_eq!(
        refusal(t.receipt_privacy("a b").await),
        "InvalidIdentifier(\"a b\")"
    );
    assert_eq!(h.bus.take(), [], "the switch itself tells nobody");
}

#[tokio::test]
async fn a_private_c2c_reader_clears_its_own_state_and_shows_the_sender_nothing() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    t.set_receipt_privacy("bob", true).await.unwrap();
    let m1 = h.send_c2c_receipted("alice", "bob").await.msg_id;
    h.forget_published().await;

    let skipped = t
        .send_read_receipts("bob", ids(&[&m1]), Some(7))
        .await
        .unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        h.bus.take(),
        [receipts_sent("bob", &[&m1], Some(7))],
        "the reader's other sessions only"
    );
    assert_eq!(h.callbacks.take(), []);
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m1])).await.unwrap(),
        [MessageReceipt::c2c(m1.clone(), "bob".into(), None)]
    );

    // The conversation-level read clears bob's count and tells bob's devices and the app's
    // backend, not alice.
    t.mark_c2c_read("bob", "alice").await.unwrap();
    let deliveries = h.bus.take();
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    let (users, event) = pushed(&deliveries[0]);
    assert_eq!(users, ["bob"]);
    let PushEvent::OnConversationChanged(changed) = event else {
        panic!("expected the conversation, got {event:?}")
    };
    assert_eq!(changed[0].unread_count, 0);
    assert_eq!(
        pushed(&deliveries[1]),
        (vec!["bob"], &PushEvent::OnTotalUnreadMessageCountChanged(0)),
        "and bob's new total"
    );
    assert!(matches!(
        &h.callbacks.take()[..],
        [AfterEvent::C2cReadReported { reader, peer, .. }] if reader == "bob" && peer == "alice"
    ));
    assert_eq!(peer_read(t, "alice", "bob").await, [(false, false)]);
    let bobs = t.conversation("bob", "c2c_alice").await.unwrap();
    assert_eq!(bobs.unread_count, 0);
    assert_eq!(
        bobs.last_message.map(|m| m.is_read),
        Some(true),
        "bob's own view is read"
    );

    // Public again: nothing given while private shows.
    t.set_receipt_privacy("bob", false).await.unwrap();
    assert_eq!(peer_read(t, "alice", "bob").await, [(false, false)]);
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m1])).await.unwrap(),
        [MessageReceipt::c2c(m1.clone(), "bob".into(), None)]
    );
    // Later receipts and reads do; a conversation-level read covers what came before it.
    let m2 = h.send_c2c_receipted("alice", "bob").await.msg_id;
    h.forget_published().await;
    t.send_read_receipts("bob", ids(&[&m2]), None)
        .await
        .unwrap();
    let pulled = t.get_read_receipts("alice", ids(&[&m2])).await.unwrap();
    assert!(pulled[0].is_peer_read);
    assert_eq!(
        h.bus.take(),
        c2c_receipt_pushes("alice", pulled, "bob", &[&m2], None)
    );
    t.mark_c2c_read("bob", "alice").await.unwrap();
    let deliveries = h.bus.take();
    let to_alice: Vec<&PushEvent> = deliveries
        .iter()
        .map(pushed)
        .filter(|(users, _)| *users == ["alice"])
        .map(|(_, event)| event)
        .collect();
    let [PushEvent::OnRecvC2cReadReceipt(receipts)] = &to_alice[..] else {
        panic!("alice is told of the read: {deliveries:?}")
    };
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].user_id, "bob");
    assert_eq!(
        peer_read(t, "alice", "bob").await,
        [(true, false), (true, true)]
    );
}

#[tokio::test]
async fn marking_everything_read_privately_tells_no_peer() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    h.send_c2c("alice", "bob", "one").await;
    h.send_c2c("carol", "bob", "two").await;
    t.set_receipt_privacy("bob", true).await.unwrap();
    h.forget_published().await;
    let everything = CleanUnreadParams {
        conversation_id: String::new(),
        clean_timestamp: 0,
        clean_sequence: 0,
    };
    t.clean_unread("bob", everything).await.unwrap();
    let deliveries = h.bus.take();
    assert!(
        deliveries.iter().all(|d| pushed(d).0 == ["bob"]),
        "only bob's devices are told: {deliveries:?}"
    );
    assert_eq!(t.total_unread("bob").await.unwrap(), 0);
    let mut reported: Vec<String> = h
        .callbacks
        .take()
        .into_iter()
        .map(|event| match event {
            AfterEvent::C2cReadReported { peer, .. } => peer,
            other => panic!("unexpected after-event {other:?}"),
        })
        .collect();
    reported.sort();
    assert_eq!(reported, ["alice", "carol"], "the app's backend is told");
    assert_eq!(peer_read(t, "alice", "bob").await, [(false, false)]);
    assert_eq!(peer_read(t, "carol", "bob").await, [(false, false)]);
}

#[tokio::test]
async fn a_private_group_reader_stays_among_the_unread_and_is_refused_alike() {
    let h = Harness::start(&["alice", "bob", "carol", "dave", "eve"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol", "dave"])
        .await;
    let t = &h.tidings;
    t.set_receipt_privacy("bob", true).await.unwrap();
    let m = h.send_group_receipted("alice", "g").await.msg_id;
    let recalled = h.send_group_receipted("alice", "g").await.msg_id;
    t.revoke_message(
        "alice",
        RevokeMessageParams {
            msg_id: recalled.clone(),
            reason: String::new(),
        },
    )
    .await
    .unwrap();
    h.forget_published().await;
    h.bus.route_notes_away();

    t.send_read_receipts("bob", ids(&[&m]), Some(3))
        .await
        .unwrap();
    assert_eq!(h.bus.take(), [receipts_sent("bob", &[&m], Some(3))]);
    assert_eq!(h.bus.take_routed_away(), [], "no count changed: no note");
    assert_eq!(h.callbacks.take(), [], "nothing recorded: no after-event");
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [MessageReceipt::group(m.clone(), "g".into(), 0, 3)]
    );
    assert_eq!(
        members(t, "alice", &m, READ_MEMBERS_FILTER_READ).await,
        Vec::<String>::new()
    );
    assert_eq!(
        members(t, "alice", &m, READ_MEMBERS_FILTER_UNREAD).await,
        ["bob", "carol", "dave"]
    );

    // Refused exactly as a public reader would be.
    let recalled_refusal = refusal(t.send_read_receipts("bob", ids(&[&recalled]), None).await);
    assert_eq!(recalled_refusal, format!("MessageRevoked({recalled:?})"));
    t.set_receipt_privacy("eve", true).await.unwrap();
    let outsider_private = refusal(t.send_read_receipts("eve", ids(&[&m]), None).await);
    t.set_receipt_privacy("eve", false).await.unwrap();
    let outsider_public = refusal(t.send_read_receipts("eve", ids(&[&m]), None).await);
    assert_eq!(outsider_private, outsider_public);
    assert_eq!(
        outsider_private,
        "PermissionDenied(\"eve is not a member of group g\")"
    );
    assert_eq!(h.bus.take(), []);

    // A public member's receipt counts and is noted for alice.
    t.send_read_receipts("carol", ids(&[&m]), None)
        .await
        .unwrap();
    let noted: Vec<String> = h
        .bus
        .take_routed_away()
        .into_iter()
        .map(|note| note.msg_id)
        .collect();
    assert_eq!(noted, std::slice::from_ref(&m));
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [MessageReceipt::group(m.clone(), "g".into(), 1, 2)]
    );

    // bob's own state clears; nobody else is told of it.
    h.forget_published().await;
    t.mark_group_read("bob", "g").await.unwrap();
    assert!(h.bus.take().iter().all(|d| pushed(d).0 == ["bob"]));
    assert_eq!(
        t.conversation("bob", "group_g").await.unwrap().unread_count,
        0
    );

    // Public again: the private receipt stays private; a later one counts.
    t.set_receipt_privacy("bob", false).await.unwrap();
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [MessageReceipt::group(m.clone(), "g".into(), 1, 2)]
    );
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    assert_eq!(
        t.get_read_receipts("alice", ids(&[&m])).await.unwrap(),
        [MessageReceipt::group(m.clone(), "g".into(), 2, 1)]
    );
    assert_eq!(
        members(t, "alice", &m, READ_MEMBERS_FILTER_READ).await,
        ["bob", "carol"]
    );
}

#[tokio::test]
async fn a_private_reader_who_reads_the_same_message_again_tells_its_sessions_again() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    t.set_receipt_privacy("bob", true).await.unwrap();
    let m = h.send_c2c_receipted("alice", "bob").await.msg_id;
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    h.forget_published().await;
    // Private receipts are not remembered, so a repeat is new again for the reader's sessions
    // (and still for nobody else).
    t.send_read_receipts("bob", ids(&[&m]), None).await.unwrap();
    assert_eq!(h.bus.take(), [receipts_sent("bob", &[&m], None)]);
}
