//! The receipt notifier: group receipts reach their message's sender as coalesced pushes of
//! committed counts, one push per sender per flush, never decreasing, the last equal to a pull.

use tidings_proto::{MessageReceipt, PushEvent};
use tidings_service::{Delivery, ReceiptNote};

use crate::harness::{Harness, pushed};

/// The receipts of an `onRecvMessageReadReceipts` push to `user`, if the delivery is one.
fn receipts_to<'a>(delivery: &'a Delivery, user: &str) -> Option<&'a [MessageReceipt]> {
    match pushed(delivery) {
        (users, PushEvent::OnRecvMessageReadReceipts(receipts)) if users == [user] => {
            Some(receipts)
        }
        _ => None,
    }
}

fn counts(receipts: &[MessageReceipt]) -> Vec<(String, u64, u64)> {
    let mut counts: Vec<_> = receipts
        .iter()
        .map(|r| (r.msg_id.clone(), r.read_count, r.unread_count))
        .collect();
    counts.sort();
    counts
}

#[tokio::test]
async fn the_sender_is_pushed_the_committed_counts() {
    let h = Harness::start(&["alice", "bob", "carol", "dave"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol", "dave"])
        .await;
    let m = h.send_group_receipted("alice", "g").await.msg_id;
    h.forget_published().await;
    h.tidings
        .send_read_receipts("bob", vec![m.clone()], None)
        .await
        .unwrap();
    let published = h
        .bus
        .take_until(|d| receipts_to(d, "alice").is_some())
        .await;
    let pull = h
        .tidings
        .get_read_receipts("alice", vec![m.clone()])
        .await
        .unwrap();
    assert_eq!(
        published.last().and_then(|d| receipts_to(d, "alice")),
        Some(&pull[..]),
        "the push carries what a pull returns: {published:?}"
    );
    assert_eq!(counts(&pull), [(m, 1, 2)]);
    assert_eq!(
        published.len(),
        2,
        "the reader's own sync push, then the sender's: {published:?}"
    );
}

#[tokio::test]
async fn one_receipt_call_is_one_push_per_sender() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let a1 = h.send_group_receipted("alice", "g").await.msg_id;
    let a2 = h.send_group_receipted("alice", "g").await.msg_id;
    let b1 = h.send_group_receipted("bob", "g").await.msg_id;
    h.forget_published().await;
    h.tidings
        .send_read_receipts("carol", vec![a1.clone(), b1.clone(), a2.clone()], None)
        .await
        .unwrap();
    h.bus.take();
    let mut published = h
        .bus
        .take_until(|d| receipts_to(d, "alice").is_some())
        .await;
    if !published.iter().any(|d| receipts_to(d, "bob").is_some()) {
        published.extend(h.bus.take_until(|d| receipts_to(d, "bob").is_some()).await);
    }
    let to = |user| -> Vec<_> {
        published
            .iter()
            .filter_map(|d| receipts_to(d, user))
            .map(counts)
            .collect()
    };
    let mut alice_counts = vec![(a1, 1, 1), (a2, 1, 1)];
    alice_counts.sort();
    assert_eq!(
        to("alice"),
        [alice_counts],
        "alice's two messages share one push"
    );
    assert_eq!(to("bob"), [vec![(b1, 1, 1)]]);
    assert_eq!(published.len(), 2, "{published:?}");
}

#[tokio::test]
async fn pushed_counts_never_go_down_and_the_last_equals_a_pull() {
    let readers = ["bob", "carol", "dave", "erin", "frank"];
    let mut users = vec!["alice"];
    users.extend(readers);
    let h = Harness::start(&users).await;
    h.create_group("alice", "Work", "g", &readers).await;
    let m = h.send_group_receipted("alice", "g").await.msg_id;
    h.forget_published().await;
    let read = |reader: &'static str| h.tidings.send_read_receipts(reader, vec![m.clone()], None);
    let done = tokio::join!(
        read("bob"),
        read("carol"),
        read("dave"),
        read("erin"),
        read("frank")
    );
    for result in [done.0, done.1, done.2, done.3, done.4] {
        result.unwrap();
    }
    let all_read = vec![(m.clone(), 5, 0)];
    let published = h
        .bus
        .take_until(|d| receipts_to(d, "alice").is_some_and(|r| counts(r) == all_read))
        .await;
    let read_counts: Vec<u64> = published
        .iter()
        .filter_map(|d| receipts_to(d, "alice"))
        .map(|receipts| receipts[0].read_count)
        .collect();
    assert!(
        read_counts.windows(2).all(|pair| pair[0] <= pair[1]),
        "counts went down: {read_counts:?}"
    );
    assert!(
        (1..=5).contains(&read_counts.len()),
        "at most one push per receipt: {read_counts:?}"
    );
    let pull = h.tidings.get_read_receipts("alice", vec![m]).await.unwrap();
    assert_eq!(counts(&pull), all_read, "the last push equals a pull");
    assert!(
        published.iter().all(
            |d| matches!(pushed(d), (_, PushEvent::OnMessageReceiptsSent(_)))
                || receipts_to(d, "alice").is_some()
        ),
        "nothing else was pushed: {published:?}"
    );
}

#[tokio::test]
async fn nothing_is_read_or_pushed_for_a_sender_nobody_would_receive() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let a1 = h.send_group_receipted("alice", "g").await.msg_id;
    let b1 = h.send_group_receipted("bob", "g").await.msg_id;
    h.bus.set_online(&["bob"]);
    h.forget_published().await;
    h.tidings
        .send_read_receipts("carol", vec![a1, b1.clone()], None)
        .await
        .unwrap();
    // One call: both notes are in the same flush, and Alice (offline) would come first.
    let published = h.bus.take_until(|d| receipts_to(d, "bob").is_some()).await;
    assert!(
        published.iter().all(|d| receipts_to(d, "alice").is_none()),
        "{published:?}"
    );
    assert_eq!(
        published
            .iter()
            .filter_map(|d| receipts_to(d, "bob"))
            .map(counts)
            .collect::<Vec<_>>(),
        [vec![(b1, 1, 1)]]
    );
}

#[tokio::test]
async fn notes_go_where_the_bus_routes_them_and_routed_notes_are_pushed_here() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let m = h.send_group_receipted("alice", "g").await.msg_id;
    let b1 = h.send_group_receipted("bob", "g").await.msg_id;
    h.bus.route_notes_away();
    h.forget_published().await;
    h.tidings
        .send_read_receipts("carol", vec![m.clone()], None)
        .await
        .unwrap();
    let away = h.bus.take_routed_away();
    assert_eq!(
        away,
        [ReceiptNote {
            msg_id: m.clone(),
            group_id: "g".into(),
            sender: "alice".into(),
        }]
    );
    // Nothing was queued here: a later note that stays here is pushed alone.
    h.bus.keep_notes();
    h.tidings
        .send_read_receipts("carol", vec![b1.clone()], None)
        .await
        .unwrap();
    let published = h.bus.take_until(|d| receipts_to(d, "bob").is_some()).await;
    assert!(
        published.iter().all(|d| receipts_to(d, "alice").is_none()),
        "{published:?}"
    );
    // This node coalesces what another node routed here.
    h.tidings.receipt_notifier().routed().note(away);
    let published = h
        .bus
        .take_until(|d| receipts_to(d, "alice").is_some())
        .await;
    assert_eq!(
        published
            .iter()
            .filter_map(|d| receipts_to(d, "alice"))
            .map(counts)
            .collect::<Vec<_>>(),
        [vec![(m, 1, 1)]]
    );
}
