//! The administrator's operations (used by the REST API): accounts, history by time, sequence
//! and cursor, receipt state by sequence, and unread counts set on a member's behalf.

use tidings_proto::methods::ReadMemberListResult;
use tidings_proto::{PushEvent, ReadMemberInfo};
use tidings_service::{Delivery, ReceiptCounts, ServiceError};
use tidings_store::UserCard;

use crate::harness::{Harness, pushed, refusal};

fn users(users: &[&str]) -> Vec<String> {
    users.iter().map(|u| (*u).to_owned()).collect()
}

#[tokio::test]
async fn accounts_are_imported_checked_and_deleted_with_their_sessions() {
    let h = Harness::start(&[]).await;
    let t = &h.tidings;
    let profile = UserCard {
        nick: "Alice".into(),
        face_url: "https://example.invalid/a.png".into(),
    };
    t.import_account("alice", profile.clone()).await.unwrap();
    assert_eq!(
        refusal(t.import_account("no body", profile).await),
        "InvalidIdentifier(\"no body\")"
    );
    assert_eq!(
        t.accounts_exist(&users(&["alice", "bob"])).await.unwrap(),
        [true, false]
    );
    assert_eq!(
        t.delete_accounts(&users(&["alice", "bob"])).await.unwrap(),
        [true, false]
    );
    let reason = "account deleted by the administrator".to_owned();
    assert_eq!(
        h.bus.take(),
        [
            Delivery::Kick {
                user: "alice".into(),
                reason: reason.clone()
            },
            Delivery::Kick {
                user: "bob".into(),
                reason
            }
        ]
    );
    assert_eq!(t.accounts_exist(&users(&["alice"])).await.unwrap(), [false]);
}

#[tokio::test]
async fn deleting_or_kicking_refuses_the_user_sigs_issued_until_then() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    let before = tidings_service::now();
    for user in ["alice", "bob", "carol"] {
        t.check_user_sig_issued(user, before).await.unwrap();
    }
    t.delete_accounts(&users(&["alice"])).await.unwrap();
    t.invalidate_login("bob").await.unwrap();
    let after = tidings_service::now();
    assert_eq!(
        h.bus.take(),
        [
            Delivery::Kick {
                user: "alice".into(),
                reason: "account deleted by the administrator".into()
            },
            Delivery::Kick {
                user: "bob".into(),
                reason: "logged out by the administrator".into()
            }
        ]
    );
    for user in ["alice", "bob"] {
        let refused = t.check_user_sig_issued(user, before).await;
        assert!(
            matches!(&refused, Err(ServiceError::UserSigRevoked { user: named, .. }) if named == user),
            "{refused:?}"
        );
        // UserSigs name whole seconds: one of a later second than the revocation's is newer.
        t.check_user_sig_issued(user, after + 1).await.unwrap();
    }
    t.check_user_sig_issued("carol", before).await.unwrap();
}

#[tokio::test]
async fn a_receipt_on_the_senders_behalf_names_the_sender() {
    let h = Harness::start(&["alice", "bob"]).await;
    let m = h.send_c2c("alice", "bob", "hi").await.msg_id;
    let t = &h.tidings;
    t.require_sent_by("alice", &users(&[&m, "missing"]))
        .await
        .unwrap();
    assert_eq!(
        refusal(t.require_sent_by("bob", &users(&[&m])).await),
        format!("InvalidParameters(\"message {m} was sent by alice, not by bob\")")
    );
}

#[tokio::test]
async fn roaming_history_pages_newest_first_within_a_time_window() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let mut sent = Vec::new();
    for text in ["one", "two", "three"] {
        sent.push(h.send_c2c("alice", "bob", text).await);
    }
    sent.push(h.send_c2c("bob", "alice", "four").await);
    let elsewhere = h.send_c2c("alice", "carol", "not this one").await.msg_id;
    let t = &h.tidings;
    let keys = |records: &[tidings_store::MessageRecord]| -> Vec<String> {
        records.iter().map(|r| r.message.msg_id.clone()).collect()
    };
    let (page, complete) = t
        .roam_messages("alice", "bob", 0, i64::MAX, 2, None)
        .await
        .unwrap();
    assert_eq!(
        (keys(&page), complete),
        (vec![sent[3].msg_id.clone(), sent[2].msg_id.clone()], false)
    );
    let (page, complete) = t
        .roam_messages("alice", "bob", 0, i64::MAX, 2, Some(&sent[2].msg_id))
        .await
        .unwrap();
    assert_eq!(
        (keys(&page), complete),
        (vec![sent[1].msg_id.clone(), sent[0].msg_id.clone()], true)
    );
    let (page, complete) = t
        .roam_messages("bob", "alice", 0, sent[0].timestamp - 1, 10, None)
        .await
        .unwrap();
    assert_eq!((page.len(), complete), (0, true), "nothing that old");
    assert_eq!(
        refusal(
            t.roam_messages("alice", "bob", 0, i64::MAX, 2, Some(&elsewhere))
                .await
        ),
        format!(
            "InvalidParameters(\"LastMsgKey {elsewhere} is not a message of this conversation\")"
        )
    );
}

#[tokio::test]
async fn group_messages_by_sequence_never_reach_past_what_the_store_holds() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.create_group("alice", "Work", "g", &["bob"]).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        ids.push(h.send_group("alice", "g", text).await.msg_id);
    }
    let t = &h.tidings;
    let seqs = |records: Vec<tidings_store::MessageRecord>| -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    };
    assert_eq!(
        seqs(t.group_messages("g", Some(2), 10).await.unwrap()),
        [2, 1]
    );
    assert_eq!(seqs(t.group_messages("g", None, 2).await.unwrap()), [3, 2]);
    assert_eq!(
        seqs(t.group_messages("g", Some(u64::MAX), 10).await.unwrap()),
        [3, 2, 1]
    );
    assert_eq!(
        refusal(t.group_messages("nope", None, 10).await),
        "GroupNotFound(\"nope\")"
    );
    assert_eq!(
        t.group_msg_ids("g", &[3, 1]).await.unwrap(),
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(
        refusal(t.group_msg_ids("g", &[9]).await),
        "ReceiptInfoNotFound(\"group g has no message 9\")"
    );
    assert_eq!(
        refusal(t.group_msg_ids("g", &[u64::MAX]).await),
        format!(
            "ReceiptInfoNotFound(\"group g has no message {}\")",
            u64::MAX
        )
    );
}

#[tokio::test]
async fn receipt_state_by_sequence_is_answered_per_message() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let asked = h.send_group_receipted("alice", "g").await.msg_id;
    let plain = h.send_group("alice", "g", "no receipts").await.msg_id;
    let t = &h.tidings;
    t.send_read_receipts("bob", vec![asked], None)
        .await
        .unwrap();
    let answers = t.receipt_counts_by_seq("g", &[1, 2, 9]).await.unwrap();
    let answers: Vec<Result<ReceiptCounts, String>> = answers
        .into_iter()
        .map(|answer| answer.map_err(|e| format!("{e:?}")))
        .collect();
    assert_eq!(
        answers,
        [
            Ok(ReceiptCounts { read: 1, unread: 1 }),
            Err(format!(
                "ReceiptInfoNotFound(\"message {plain} did not ask for read receipts\")"
            )),
            Err("ReceiptInfoNotFound(\"message g/9 did not ask for read receipts\")".to_owned()),
        ]
    );
    assert_eq!(
        refusal(t.receipt_counts_by_seq("nope", &[1]).await),
        "GroupNotFound(\"nope\")"
    );
    let member = |user: &str| ReadMemberInfo {
        user_id: user.to_owned(),
        nick_name: String::new(),
        face_url: String::new(),
        name_card: String::new(),
    };
    assert_eq!(
        t.receipt_members_by_seq("g", 1, 0, 0, 10).await.unwrap(),
        ReadMemberListResult {
            member_info_list: vec![member("bob")],
            next_seq: 0,
            is_finished: true,
        }
    );
    assert_eq!(
        t.receipt_members_by_seq("g", 1, 1, 0, 10)
            .await
            .unwrap()
            .member_info_list,
        [member("carol")]
    );
    assert_eq!(
        refusal(t.receipt_members_by_seq("g", 1, 2, 0, 10).await),
        "InvalidParameters(\"Filter must be 0 (read) or 1 (unread), not 2\")"
    );
}

#[tokio::test]
async fn c2c_unread_counts_per_peer_and_in_total() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.send_c2c("alice", "bob", "one").await;
    h.send_c2c("alice", "bob", "two").await;
    h.send_c2c("carol", "bob", "three").await;
    let t = &h.tidings;
    assert_eq!(t.c2c_unread("bob", "alice").await.unwrap(), 2);
    assert_eq!(t.c2c_unread("bob", "carol").await.unwrap(), 1);
    assert_eq!(t.c2c_unread("alice", "bob").await.unwrap(), 0);
    assert_eq!(t.c2c_unread_total("bob").await.unwrap(), 3);
}

/// The unread count of the group conversation pushed to `user`.
fn pushed_unread(deliveries: &[Delivery], user: &str) -> Vec<u64> {
    deliveries
        .iter()
        .filter_map(|d| match pushed(d) {
            (users, PushEvent::OnConversationChanged(list)) if users == [user] => {
                Some(list.iter().map(|c| c.unread_count).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[tokio::test]
async fn a_members_group_unread_count_is_set_exactly_by_moving_the_read_position() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    h.create_group("alice", "Work", "g", &["bob"]).await;
    h.send_group("alice", "g", "one").await;
    h.send_group("bob", "g", "bob's own").await;
    let excluded = tidings_proto::methods::SendMessageParams {
        is_excluded_from_unread_count: true,
        ..crate::harness::group_text("g", "not counted")
    };
    h.tidings.send_message("alice", excluded).await.unwrap();
    h.send_group("alice", "g", "four").await;
    h.forget_published().await;
    let t = &h.tidings;
    for (asked, counted) in [(1, 1), (2, 2), (0, 0), (5, 2)] {
        t.set_group_unread("g", "bob", asked).await.unwrap();
        assert_eq!(
            pushed_unread(&h.bus.take(), "bob"),
            [counted],
            "asked for {asked}"
        );
    }
    assert_eq!(
        refusal(t.set_group_unread("g", "carol", 1).await),
        "PermissionDenied(\"carol is not a member of group g\")"
    );
}
