//! Conversations: unread counts, marking read, read positions that never move back, and the
//! conversation list.

use tidings_proto::events::{OnRecvC2cReadReceipt, OnTotalUnreadMessageCountChanged};
use tidings_proto::methods::{
    C2cHistoryParams, CleanUnreadParams, ConversationListParams, SendMessageParams,
};
use tidings_proto::{C2cReadReceipt, Conversation, MSG_STATUS_REVOKED, PushEvent};
use tidings_service::{AfterEvent, C2cReadMark, ConversationNote, Limits};

use crate::harness::{Harness, Setup, c2c_text, group_text, push, pushed, refusal};

/// The unread count of each of the user's conversations, newest activity first.
async fn unread_counts(h: &Harness, user: &str) -> Vec<(String, u64)> {
    h.tidings
        .conversation_list(
            user,
            ConversationListParams {
                next_seq: 0,
                count: 100,
            },
        )
        .await
        .expect("conversation list")
        .conversation_list
        .into_iter()
        .map(|c| (c.conversation_id, c.unread_count))
        .collect()
}

/// The conversations pushed to `user` in these deliveries.
fn conversations_pushed_to(
    deliveries: &[tidings_service::Delivery],
    user: &str,
) -> Vec<Conversation> {
    deliveries
        .iter()
        .filter_map(|d| match pushed(d) {
            (users, PushEvent::OnConversationChanged(list)) if users == [user] => {
                Some(list.clone())
            }
            _ => None,
        })
        .flatten()
        .collect()
}

fn cleaning(conversation_id: &str, clean_timestamp: i64, clean_sequence: u64) -> CleanUnreadParams {
    CleanUnreadParams {
        conversation_id: conversation_id.to_owned(),
        clean_timestamp,
        clean_sequence,
    }
}

#[tokio::test]
async fn c2c_unread_counts_count_the_peers_counted_messages() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.send_c2c("alice", "bob", "one").await;
    h.send_c2c("alice", "bob", "two").await;
    let excluded = tidings_proto::methods::SendMessageParams {
        is_excluded_from_unread_count: true,
        ..c2c_text("bob", "not counted")
    };
    h.tidings.send_message("alice", excluded).await.unwrap();
    h.send_c2c("bob", "alice", "reply").await;
    assert_eq!(unread_counts(&h, "bob").await, [("c2c_alice".into(), 2)]);
    assert_eq!(unread_counts(&h, "alice").await, [("c2c_bob".into(), 1)]);
    assert_eq!(h.tidings.c2c_unread_total("bob").await.unwrap(), 2);
}

#[tokio::test]
async fn marking_a_c2c_conversation_read_tells_the_reader_and_the_peer() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.send_c2c("alice", "bob", "one").await;
    h.send_c2c("alice", "bob", "two").await;
    h.forget_published().await;
    h.tidings.mark_c2c_read("bob", "alice").await.unwrap();
    let published = h.bus.take();
    let [AfterEvent::C2cReadReported { read_time, .. }] = h.callbacks.take()[..] else {
        panic!("one read report")
    };
    assert_eq!(published.len(), 3, "{published:?}");
    assert_eq!(
        published[1],
        push::<OnTotalUnreadMessageCountChanged>(&["bob"], 0),
        "bob's total went down"
    );
    assert_eq!(
        published[2],
        push::<OnRecvC2cReadReceipt>(
            &["alice"],
            vec![C2cReadReceipt {
                user_id: "bob".into(),
                timestamp: read_time
            }]
        )
    );
    let bobs = conversations_pushed_to(&published, "bob");
    assert_eq!(
        bobs.iter()
            .map(|c| (c.conversation_id.as_str(), c.unread_count))
            .collect::<Vec<_>>(),
        [("c2c_alice", 0)]
    );
    assert_eq!(unread_counts(&h, "bob").await, [("c2c_alice".into(), 0)]);
    let alices_view = h
        .tidings
        .c2c_history(
            "alice",
            C2cHistoryParams {
                user_id: "bob".into(),
                count: 10,
                last_msg_id: None,
            },
        )
        .await
        .unwrap();
    assert!(
        alices_view.iter().all(|m| m.is_peer_read),
        "alice sees both messages read by bob: {alices_view:?}"
    );
}

#[tokio::test]
async fn a_read_position_never_moves_back() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.send_c2c("alice", "bob", "one").await;
    h.forget_published().await;
    h.tidings.mark_c2c_read("bob", "alice").await.unwrap();
    let [AfterEvent::C2cReadReported { read_time, .. }] = h.callbacks.take()[..] else {
        panic!("one read report")
    };
    h.tidings
        .clean_c2c_unread("bob", "alice", C2cReadMark::Time(1))
        .await
        .unwrap();
    assert_eq!(
        h.callbacks.take(),
        [AfterEvent::C2cReadReported {
            reader: "bob".into(),
            peer: "alice".into(),
            read_time
        }],
        "an earlier time leaves the read time where it was"
    );
    assert_eq!(unread_counts(&h, "bob").await, [("c2c_alice".into(), 0)]);
    h.send_c2c("alice", "bob", "two").await;
    assert_eq!(unread_counts(&h, "bob").await, [("c2c_alice".into(), 1)]);
}

#[tokio::test]
async fn a_c2c_clean_by_sequence_marks_exactly_what_was_seen() {
    let h = Harness::start(&["alice", "bob"]).await;
    let seen = h.send_c2c("alice", "bob", "seen").await;
    let later = h.send_c2c("alice", "bob", "stored after bob looked").await;
    h.forget_published().await;
    // The time covers both (seconds are coarse: the two often share one); the sequence says
    // exactly what bob saw, and wins.
    h.tidings
        .clean_unread("bob", cleaning("c2c_alice", later.timestamp, seen.seq))
        .await
        .unwrap();
    assert_eq!(unread_counts(&h, "bob").await, [("c2c_alice".into(), 1)]);
    assert_eq!(
        h.callbacks.take(),
        [AfterEvent::C2cReadReported {
            reader: "bob".into(),
            peer: "alice".into(),
            read_time: seen.timestamp
        }],
        "the read time is the seen message's"
    );
    // A sequence beyond the newest is capped at it.
    h.tidings
        .clean_unread("bob", cleaning("c2c_alice", 0, u64::MAX))
        .await
        .unwrap();
    assert_eq!(unread_counts(&h, "bob").await, [("c2c_alice".into(), 0)]);
}

#[tokio::test]
async fn reading_a_conversation_that_does_not_exist_makes_none() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.tidings.mark_c2c_read("bob", "alice").await.unwrap();
    assert_eq!(h.bus.take(), []);
    assert_eq!(h.callbacks.take(), []);
    assert_eq!(unread_counts(&h, "bob").await, []);
    assert_eq!(
        refusal(h.tidings.mark_c2c_read("bob", "nobody").await),
        "UserNotFound(\"nobody\")"
    );
    assert_eq!(
        refusal(h.tidings.mark_c2c_read("bob", "no body").await),
        "InvalidIdentifier(\"no body\")"
    );
}

#[tokio::test]
async fn group_unread_counts_leave_out_each_members_own_messages() {
    let h = Harness::start(&["alice", "bob", "carol", "erin"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let first = h.send_group("alice", "g", "one").await;
    h.send_group("alice", "g", "two").await;
    h.send_group("bob", "g", "three").await;
    assert_eq!(unread_counts(&h, "alice").await, [("group_g".into(), 1)]);
    assert_eq!(unread_counts(&h, "bob").await, [("group_g".into(), 2)]);
    assert_eq!(unread_counts(&h, "carol").await, [("group_g".into(), 3)]);
    h.tidings
        .invite_to_group(
            "alice",
            tidings_proto::methods::InviteParams {
                group_id: "g".into(),
                user_list: vec!["erin".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        unread_counts(&h, "erin").await,
        [("group_g".into(), 0)],
        "a joiner starts with the group read"
    );

    h.forget_published().await;
    h.tidings
        .clean_group_unread("carol", "g", first.seq)
        .await
        .unwrap();
    let pushed_to_carol = conversations_pushed_to(&h.bus.take(), "carol");
    assert_eq!(
        pushed_to_carol
            .iter()
            .map(|c| (c.conversation_id.as_str(), c.unread_count))
            .collect::<Vec<_>>(),
        [("group_g", 2)]
    );
    h.tidings.mark_group_read("carol", "g").await.unwrap();
    assert_eq!(unread_counts(&h, "carol").await, [("group_g".into(), 0)]);
    h.tidings
        .clean_group_unread("carol", "g", first.seq)
        .await
        .unwrap();
    assert_eq!(
        unread_counts(&h, "carol").await,
        [("group_g".into(), 0)],
        "an earlier sequence leaves the read position where it was"
    );
    assert_eq!(h.callbacks.take(), [], "group reads have no after-event");
    assert_eq!(
        refusal(h.tidings.mark_group_read("erin", "nope").await),
        "GroupNotFound(\"nope\")"
    );
    h.tidings
        .quit_group("erin", "g")
        .await
        .expect("erin leaves");
    assert_eq!(
        refusal(h.tidings.mark_group_read("erin", "g").await),
        "PermissionDenied(\"erin is not a member of group g\")"
    );
}

#[tokio::test]
async fn avchatroom_conversations_count_nothing_unread() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.create_group("alice", "AVChatRoom", "live", &[]).await;
    h.tidings.join_group("bob", "live").await.unwrap();
    h.send_group("alice", "live", "on air").await;
    assert_eq!(unread_counts(&h, "bob").await, [("group_live".into(), 0)]);
}

#[tokio::test]
async fn clean_unread_addresses_one_conversation_a_kind_or_all() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob"]).await;
    h.send_c2c("alice", "bob", "from alice").await;
    h.send_c2c("carol", "bob", "from carol").await;
    h.send_group("alice", "g", "to the group").await;
    let t = &h.tidings;
    let unread_of = |counts: Vec<(String, u64)>, id: &str| {
        counts
            .into_iter()
            .find(|(conversation, _)| conversation == id)
            .map(|(_, unread)| unread)
    };

    t.clean_unread("bob", cleaning("c2c_carol", 0, 0))
        .await
        .unwrap();
    let counts = unread_counts(&h, "bob").await;
    assert_eq!(
        (
            unread_of(counts.clone(), "c2c_carol"),
            unread_of(counts.clone(), "c2c_alice"),
            unread_of(counts, "group_g")
        ),
        (Some(0), Some(1), Some(1))
    );
    t.clean_unread("bob", cleaning("group", 0, 0))
        .await
        .unwrap();
    let counts = unread_counts(&h, "bob").await;
    assert_eq!(
        (
            unread_of(counts.clone(), "c2c_alice"),
            unread_of(counts, "group_g")
        ),
        (Some(1), Some(0))
    );
    t.clean_unread("bob", cleaning("", 0, 0)).await.unwrap();
    assert!(
        unread_counts(&h, "bob")
            .await
            .iter()
            .all(|(_, unread)| *unread == 0)
    );
    assert_eq!(
        refusal(t.clean_unread("bob", cleaning("bogus", 0, 0)).await),
        "InvalidParameters(\"conversationID must be c2c_<userID>, group_<groupID>, c2c, group or empty, not \\\"bogus\\\"\")"
    );
}

#[tokio::test]
async fn the_conversation_list_pages_below_the_last_order_key_so_moves_neither_repeat_nor_skip() {
    let h = Harness::start(&["alice", "bob", "carol", "dave", "erin"]).await;
    h.create_group("erin", "Work", "g", &["alice"]).await;
    h.send_c2c("carol", "alice", "1").await;
    h.send_c2c("dave", "alice", "2").await;
    h.send_group("erin", "g", "3").await;
    h.send_c2c("bob", "alice", "4").await;
    let page = |next_seq, count| {
        h.tidings
            .conversation_list("alice", ConversationListParams { next_seq, count })
    };
    let ids = |list: &[Conversation]| -> Vec<String> {
        list.iter().map(|c| c.conversation_id.clone()).collect()
    };
    let whole = page(0, 100).await.unwrap();
    assert_eq!(
        ids(&whole.conversation_list),
        ["c2c_bob", "group_g", "c2c_dave", "c2c_carol"]
    );
    assert!(whole.is_finished);
    let keys: Vec<i64> = whole
        .conversation_list
        .iter()
        .map(|c| c.order_key)
        .collect();
    assert!(keys.windows(2).all(|w| w[0] > w[1]), "{keys:?}");

    let first = page(0, 2).await.unwrap();
    assert_eq!(
        (ids(&first.conversation_list), first.is_finished),
        (vec!["c2c_bob".to_owned(), "group_g".to_owned()], false)
    );
    assert_eq!(first.next_seq, keys[1] as u64);
    // Leaving a group already seen does not make the next page skip one.
    h.tidings.quit_group("alice", "g").await.unwrap();
    let rest = page(first.next_seq, 2).await.unwrap();
    assert_eq!(
        (
            ids(&rest.conversation_list),
            rest.next_seq,
            rest.is_finished
        ),
        (
            vec!["c2c_dave".to_owned(), "c2c_carol".to_owned()],
            keys[3] as u64,
            true
        )
    );

    // A conversation not seen yet moves to the front: the next page does not repeat one seen.
    let first = page(0, 1).await.unwrap();
    assert_eq!(ids(&first.conversation_list), ["c2c_bob"]);
    h.send_c2c("carol", "alice", "5").await;
    let rest = page(first.next_seq, 5).await.unwrap();
    assert_eq!(
        (ids(&rest.conversation_list), rest.is_finished),
        (vec!["c2c_dave".to_owned()], true)
    );
    assert_eq!(
        ids(&page(0, 1).await.unwrap().conversation_list),
        ["c2c_carol"]
    );
    assert_eq!(
        refusal(page(0, 0).await),
        "InvalidParameters(\"count must be between 1 and 100, not 0\")"
    );
}

#[tokio::test]
async fn cleaning_everything_tells_each_moved_peer_once_and_pushes_only_moved_conversations() {
    let h = Harness::start(&["alice", "bob", "carol", "dave"]).await;
    h.create_group("carol", "Work", "g", &["bob"]).await;
    h.create_group("carol", "Work", "quiet", &["bob"]).await;
    h.send_c2c("alice", "bob", "unread").await;
    h.send_c2c("bob", "dave", "own message only").await;
    h.send_group("carol", "g", "unread too").await;
    h.tidings.mark_c2c_read("bob", "dave").await.unwrap();
    h.forget_published().await;
    h.tidings
        .clean_unread("bob", cleaning("", 0, 0))
        .await
        .unwrap();
    let deliveries = h.bus.take();
    let receipts: Vec<(Vec<&str>, &str)> = deliveries
        .iter()
        .filter_map(|d| match pushed(d) {
            (users, PushEvent::OnRecvC2cReadReceipt(list)) => {
                Some((users, list[0].user_id.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(receipts, [(vec!["alice"], "bob")]);
    let mut changed: Vec<(String, u64)> = conversations_pushed_to(&deliveries, "bob")
        .into_iter()
        .map(|c| (c.conversation_id, c.unread_count))
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [("c2c_alice".to_owned(), 0), ("group_g".to_owned(), 0)]
    );
    assert_eq!(h.tidings.total_unread("bob").await.unwrap(), 0);
    let reported: Vec<AfterEvent> = h.callbacks.take();
    assert_eq!(reported.len(), 1, "{reported:?}");
}

/// The `(conversationID, unreadCount, lastMessage text)` of each conversation in the
/// `onConversationChanged` pushes to `user`, one entry per push.
fn changes_pushed_to(
    deliveries: &[tidings_service::Delivery],
    user: &str,
) -> Vec<Vec<(String, u64, Option<String>)>> {
    deliveries
        .iter()
        .filter_map(|d| match pushed(d) {
            (users, PushEvent::OnConversationChanged(list)) if users == [user] => Some(
                list.iter()
                    .map(|c| {
                        let text = c
                            .last_message
                            .as_ref()
                            .and_then(|m| m.text_elem.as_ref().map(|t| t.text.clone()));
                        (c.conversation_id.clone(), c.unread_count, text)
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The totals pushed to `user` (`onTotalUnreadMessageCountChanged`), in order.
fn totals_pushed_to(deliveries: &[tidings_service::Delivery], user: &str) -> Vec<u64> {
    deliveries
        .iter()
        .filter_map(|d| match pushed(d) {
            (users, PushEvent::OnTotalUnreadMessageCountChanged(total)) if users == [user] => {
                Some(*total)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn group_messages_change_every_members_conversation_once_per_window() {
    let setup = Setup {
        limits: Limits {
            // Long enough for the three sends below to fall in one window.
            receipt_window: std::time::Duration::from_secs(2),
            ..Limits::default()
        },
        ..Setup::default()
    };
    let h = Harness::start_with(setup, &["alice", "bob", "carol", "dave"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol", "dave"])
        .await;
    // dave has no session on this node: another node tells him.
    h.bus.set_online(&["alice", "bob", "carol"]);
    h.send_group("alice", "g", "one").await;
    h.send_group("bob", "g", "two").await;
    let excluded = tidings_proto::methods::SendMessageParams {
        is_excluded_from_unread_count: true,
        ..crate::harness::group_text("g", "three")
    };
    h.tidings.send_message("alice", excluded).await.unwrap();
    h.settled().await;
    let published = h.bus.take();
    let view = |unread| {
        vec![vec![(
            "group_g".to_owned(),
            unread,
            Some("three".to_owned()),
        )]]
    };
    assert_eq!(changes_pushed_to(&published, "alice"), view(1));
    assert_eq!(changes_pushed_to(&published, "bob"), view(1));
    assert_eq!(changes_pushed_to(&published, "carol"), view(2));
    assert_eq!(changes_pushed_to(&published, "dave"), Vec::<Vec<_>>::new());
    // alice's total moved with bob's message, bob's with alice's, carol's with both.
    assert_eq!(totals_pushed_to(&published, "alice"), [1]);
    assert_eq!(totals_pushed_to(&published, "bob"), [1]);
    assert_eq!(totals_pushed_to(&published, "carol"), [2]);
    assert_eq!(totals_pushed_to(&published, "dave"), Vec::<u64>::new());
    let conversation_pushes = published
        .iter()
        .filter(|d| matches!(pushed(d).1, PushEvent::OnConversationChanged(_)))
        .count();
    assert_eq!(
        conversation_pushes, 3,
        "one per member here, not per message"
    );
}

#[tokio::test]
async fn conversation_notes_another_node_published_reach_the_members_here() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.create_group("alice", "Work", "g", &["bob"]).await;
    h.send_group("alice", "g", "from elsewhere").await;
    h.forget_published().await;
    h.tidings
        .receipt_notifier()
        .routed()
        .note_conversations(vec![ConversationNote {
            group_id: "g".into(),
            sender: "alice".into(),
            unread: true,
            only: Vec::new(),
        }]);
    h.settled().await;
    let published = h.bus.take();
    let view = |unread| {
        vec![vec![(
            "group_g".to_owned(),
            unread,
            Some("from elsewhere".to_owned()),
        )]]
    };
    assert_eq!(changes_pushed_to(&published, "alice"), view(0));
    assert_eq!(changes_pushed_to(&published, "bob"), view(1));
    assert_eq!(totals_pushed_to(&published, "alice"), Vec::<u64>::new());
    assert_eq!(totals_pushed_to(&published, "bob"), [1]);
}

#[tokio::test]
async fn the_total_follows_reading_one_conversation_and_cleaning_everything() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("carol", "Work", "g", &["bob"]).await;
    h.send_c2c("alice", "bob", "one").await;
    h.send_c2c("alice", "bob", "two").await;
    h.send_group("carol", "g", "three").await;
    h.forget_published().await;
    assert_eq!(h.tidings.total_unread("bob").await.unwrap(), 3);

    h.tidings
        .clean_unread("bob", cleaning("c2c_alice", 0, 0))
        .await
        .unwrap();
    assert_eq!(totals_pushed_to(&h.bus.take(), "bob"), [1]);
    h.tidings
        .clean_unread("bob", cleaning("c2c_alice", 0, 0))
        .await
        .unwrap();
    assert_eq!(
        totals_pushed_to(&h.bus.take(), "bob"),
        Vec::<u64>::new(),
        "nothing moved, nothing to tell"
    );
    h.tidings
        .clean_unread("bob", cleaning("", 0, 0))
        .await
        .unwrap();
    assert_eq!(totals_pushed_to(&h.bus.take(), "bob"), [0]);
    h.tidings
        .clean_unread("bob", cleaning("", 0, 0))
        .await
        .unwrap();
    assert_eq!(totals_pushed_to(&h.bus.take(), "bob"), Vec::<u64>::new());
}

#[tokio::test]
async fn recalling_a_conversations_last_message_changes_it_for_every_party() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.create_group("alice", "Work", "g", &["bob"]).await;
    let c2c = h.send_c2c("alice", "bob", "c2c last").await.msg_id;
    let group = h.send_group("alice", "g", "group last").await.msg_id;
    h.forget_published().await;
    let revoke = |msg_id: &str| tidings_proto::methods::RevokeMessageParams {
        msg_id: msg_id.to_owned(),
        reason: String::new(),
    };
    h.tidings
        .revoke_message("alice", revoke(&c2c))
        .await
        .unwrap();
    h.tidings
        .revoke_message("alice", revoke(&group))
        .await
        .unwrap();
    h.settled().await;
    let published = h.bus.take();
    let last_status = |user: &str| -> Vec<(String, u64, u32)> {
        published
            .iter()
            .filter_map(|d| match pushed(d) {
                (users, PushEvent::OnConversationChanged(list)) if users == [user] => {
                    Some(list.clone())
                }
                _ => None,
            })
            .flatten()
            .map(|c| {
                let status = c.last_message.map_or(0, |m| m.status);
                (c.conversation_id, c.unread_count, status)
            })
            .collect()
    };
    assert_eq!(
        last_status("alice"),
        [
            ("c2c_bob".to_owned(), 0, MSG_STATUS_REVOKED),
            ("group_g".to_owned(), 0, MSG_STATUS_REVOKED)
        ]
    );
    assert_eq!(
        last_status("bob"),
        [
            ("c2c_alice".to_owned(), 1, MSG_STATUS_REVOKED),
            ("group_g".to_owned(), 1, MSG_STATUS_REVOKED)
        ],
        "a recalled message still counts as unread"
    );
    assert_eq!(totals_pushed_to(&published, "bob"), Vec::<u64>::new());
}

#[tokio::test]
async fn a_list_page_shows_each_conversation_as_reading_it_alone_does() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    let targeted = |group_id: &str, text: &str| SendMessageParams {
        receiver_list: vec!["carol".into()],
        ..group_text(group_id, text)
    };
    // c2c_bob: one unread from bob; alice's reply, which bob read.
    h.send_c2c("bob", "alice", "hi").await;
    h.send_c2c("alice", "bob", "yo").await;
    t.mark_c2c_read("bob", "alice").await.unwrap();
    // group_g: a mention of alice, one for carol alone, then one asking for receipts that
    // alice read.
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let mention = SendMessageParams {
        group_at_user_list: vec!["alice".into()],
        ..group_text("g", "@alice")
    };
    t.send_message("bob", mention).await.unwrap();
    t.send_message("bob", targeted("g", "for carol"))
        .await
        .unwrap();
    let asking = h.send_group_receipted("carol", "g").await;
    t.send_read_receipts("alice", vec![asking.msg_id.clone()], None)
        .await
        .unwrap();
    // group_h: its last message is for carol alone.
    h.create_group("carol", "Work", "h", &["alice", "bob"])
        .await;
    h.send_group("carol", "h", "all of you").await;
    t.send_message("bob", targeted("h", "carol only"))
        .await
        .unwrap();
    h.create_group("bob", "AVChatRoom", "live", &[]).await;
    t.join_group("alice", "live").await.unwrap();
    h.send_group("bob", "live", "on air").await;
    h.create_group("carol", "Work", "quiet", &["alice"]).await;

    let list = |user: &'static str| async move {
        t.conversation_list(
            user,
            ConversationListParams {
                next_seq: 0,
                count: 100,
            },
        )
        .await
        .unwrap()
        .conversation_list
    };
    let alices = list("alice").await;
    type Seen<'a> = (
        &'a str,
        u64,
        Option<(&'a str, u64, Option<u64>, bool)>,
        Vec<u64>,
    );
    let summary: Vec<Seen<'_>> = alices
        .iter()
        .map(|c| {
            let last = c.last_message.as_ref().map(|m| {
                let text = m.text_elem.as_ref().map_or("", |e| e.text.as_str());
                (
                    text,
                    m.seq,
                    m.prev_seq,
                    m.has_sent_receipt || m.is_peer_read,
                )
            });
            let at = c.group_at_info_list.iter().map(|a| a.seq).collect();
            (c.conversation_id.as_str(), c.unread_count, last, at)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("group_quiet", 0, None, vec![]),
            ("group_live", 0, Some(("on air", 1, None, false)), vec![]),
            ("group_h", 1, Some(("all of you", 1, None, false)), vec![]),
            ("group_g", 2, Some(("read me", 3, Some(1), true)), vec![1]),
            ("c2c_bob", 1, Some(("yo", 2, None, true)), vec![]),
        ]
    );
    for user in ["alice", "bob", "carol"] {
        for conversation in list(user).await {
            assert_eq!(
                conversation,
                t.conversation(user, &conversation.conversation_id)
                    .await
                    .unwrap(),
                "{user}"
            );
        }
    }
}
