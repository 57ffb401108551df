//! Recalling messages: who may recall what and until when, one push to every party, history
//! showing the recall, and receipts refused for a recalled message while its counts stay
//! readable and no receipt push for it follows the recall's.

use tidings_proto::events::{MessageRevoked, OnRecvMessageRevoked};
use tidings_proto::methods::{
    C2cHistoryParams, GroupHistoryParams, ReadMemberListParams, RevokeMessageParams,
};
use tidings_proto::{
    GroupMemberSpec, GroupRole, MSG_STATUS_REVOKED, MessageReceipt, PushEvent, ReadMemberInfo,
};
use tidings_service::{Delivery, Limits};
use tidings_store::NewMessage;

use crate::harness::{Harness, Setup, push, pushed, refusal};

fn revoke(msg_id: &str) -> RevokeMessageParams {
    RevokeMessageParams {
        msg_id: msg_id.to_owned(),
        reason: String::new(),
    }
}

fn revoked_push(parties: &[&str], msg_id: &str, by: &str, reason: &str) -> Delivery {
    push::<OnRecvMessageRevoked>(
        parties,
        MessageRevoked {
            msg_id: msg_id.to_owned(),
            operate_user: info(by),
            reason: reason.to_owned(),
        },
    )
}

fn info(user: &str) -> ReadMemberInfo {
    ReadMemberInfo {
        user_id: user.to_owned(),
        nick_name: String::new(),
        face_url: String::new(),
        name_card: String::new(),
    }
}

/// Stores a text message sent long ago (Unix second 1000), past any sender's time limit.
async fn old_message(h: &Harness, id: &str, sender: &str, to: Option<&str>, group: Option<&str>) {
    h.tidings
        .store()
        .append_message(NewMessage {
            msg_id: id.to_owned(),
            sender: sender.to_owned(),
            receiver: to.map(str::to_owned),
            group_id: group.map(str::to_owned),
            timestamp: 1000,
            random: 0,
            need_receipt: false,
            excluded_unread: false,
            elem_type: 1,
            body: r#"{"text":"old"}"#.to_owned(),
            cloud_custom_data: String::new(),
            targets: Vec::new(),
            at_users: Vec::new(),
            sender_card: tidings_store::UserCard::default(),
        })
        .await
        .expect("stored");
}

#[tokio::test]
async fn a_c2c_sender_recalls_and_both_sides_see_it_in_history() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    let m = h.send_c2c("alice", "bob", "oops").await.msg_id;
    h.send_c2c("bob", "alice", "what?").await;
    h.forget_published().await;

    assert_eq!(
        refusal(t.revoke_message("bob", revoke(&m)).await),
        format!("PermissionDenied(\"only the sender of C2C message {m} may recall it\")")
    );
    assert_eq!(
        refusal(t.revoke_message("carol", revoke(&m)).await),
        format!("RevokeMessageNotFound {{ msg_id: \"{m}\", group: false }}"),
        "a stranger learns nothing about the message"
    );
    assert_eq!(
        refusal(t.revoke_message("alice", revoke("no-such-message")).await),
        "RevokeMessageNotFound { msg_id: \"no-such-message\", group: false }"
    );
    let long = RevokeMessageParams {
        reason: "x".repeat(257),
        ..revoke(&m)
    };
    assert_eq!(
        refusal(t.revoke_message("alice", long).await),
        "InvalidParameters(\"reason is 257 bytes; the limit is 256\")"
    );
    assert_eq!(h.bus.take(), [], "a refused recall tells nobody");

    let with_reason = RevokeMessageParams {
        reason: "typo".into(),
        ..revoke(&m)
    };
    t.revoke_message("alice", with_reason).await.unwrap();
    assert_eq!(
        h.bus.take(),
        [revoked_push(&["alice", "bob"], &m, "alice", "typo")]
    );
    assert_eq!(
        refusal(t.revoke_message("alice", revoke(&m)).await),
        format!("MessageRevoked(\"{m}\")")
    );

    for viewer in ["alice", "bob"] {
        let peer = if viewer == "alice" { "bob" } else { "alice" };
        let page = t
            .c2c_history(
                viewer,
                C2cHistoryParams {
                    user_id: peer.into(),
                    count: 10,
                    last_msg_id: None,
                },
            )
            .await
            .unwrap();
        let recalled = &page[1];
        assert_eq!(recalled.msg_id, m);
        assert_eq!(recalled.status, MSG_STATUS_REVOKED);
        assert!(recalled.is_revoked);
        assert_eq!(recalled.revoker_info, Some(info("alice")));
        assert_eq!(recalled.revoke_reason, "typo");
        assert_eq!(recalled.text_elem, None, "the recalled text is gone");
        assert_eq!(recalled.elem_type, 1);
        assert!(!page[0].is_revoked);
        assert!(page[0].text_elem.is_some());
    }
}

#[tokio::test]
async fn a_sender_may_recall_only_within_the_time_limit_owners_and_admins_always() {
    let setup = Setup {
        limits: Limits {
            revoke_time_limit: std::time::Duration::from_secs(60),
            ..Limits::default()
        },
        ..Setup::default()
    };
    let h = Harness::start_with(setup, &["owner", "admin", "bob", "carol", "dave"]).await;
    let t = &h.tidings;
    let mut params = crate::harness::group_params("Work", "g", &["bob", "carol"]);
    params.member_list.push(GroupMemberSpec {
        user_id: "admin".into(),
        role: GroupRole::Admin,
    });
    t.create_group("owner", params).await.unwrap();
    old_message(&h, "c-old", "bob", Some("carol"), None).await;
    old_message(&h, "g-old-1", "bob", None, Some("g")).await;
    old_message(&h, "g-old-2", "bob", None, Some("g")).await;
    let fresh = h.send_group("bob", "g", "fresh").await.msg_id;
    h.forget_published().await;

    assert_eq!(
        refusal(t.revoke_message("bob", revoke("c-old")).await),
        "RevokeTimeLimit { msg_id: \"c-old\", limit_secs: 60, group: false }"
    );
    assert_eq!(
        refusal(t.revoke_message("bob", revoke("g-old-1")).await),
        "RevokeTimeLimit { msg_id: \"g-old-1\", limit_secs: 60, group: true }"
    );
    assert_eq!(
        refusal(t.revoke_message("carol", revoke(&fresh)).await),
        format!(
            "PermissionDenied(\"only the sender of message {fresh} and the owner and admins of group g may recall it\")"
        )
    );
    assert_eq!(
        refusal(t.revoke_message("dave", revoke(&fresh)).await),
        "PermissionDenied(\"dave is not a member of group g\")"
    );
    assert_eq!(h.bus.take(), []);

    t.revoke_message("admin", revoke("g-old-1")).await.unwrap();
    t.revoke_message("owner", revoke("g-old-2")).await.unwrap();
    t.revoke_message("bob", revoke(&fresh)).await.unwrap();
    let everyone = ["admin", "bob", "carol", "owner"];
    assert_eq!(
        h.bus.take(),
        [
            revoked_push(&everyone, "g-old-1", "admin", ""),
            revoked_push(&everyone, "g-old-2", "owner", ""),
            revoked_push(&everyone, &fresh, "bob", ""),
        ]
    );
    let page = t
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
    let seen: Vec<(u64, u32, Option<String>)> = page
        .iter()
        .map(|m| (m.seq, m.status, m.revoker_info.clone().map(|i| i.user_id)))
        .collect();
    assert_eq!(
        seen,
        [
            (3, MSG_STATUS_REVOKED, Some("bob".into())),
            (2, MSG_STATUS_REVOKED, Some("owner".into())),
            (1, MSG_STATUS_REVOKED, Some("admin".into())),
        ]
    );
}

#[tokio::test]
async fn the_administrator_recalls_by_rest_terms_at_any_time() {
    let h = Harness::start(&["admin", "alice", "bob"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "g", &["bob"]).await;
    old_message(&h, "c-old", "alice", Some("bob"), None).await;
    old_message(&h, "g-old", "bob", None, Some("g")).await;
    h.forget_published().await;

    assert_eq!(
        refusal(t.admin_revoke_c2c("admin", "bob", "alice", "c-old").await),
        "RevokeMessageNotFound { msg_id: \"c-old\", group: false }",
        "the message must be one From_Account sent to To_Account"
    );
    t.admin_revoke_c2c("admin", "alice", "bob", "c-old")
        .await
        .unwrap();
    let outcomes: Vec<String> = t
        .admin_revoke_group("admin", "g", &[1, 7, 1, u64::MAX])
        .await
        .unwrap()
        .into_iter()
        .map(|o| format!("{o:?}"))
        .collect();
    assert_eq!(
        outcomes,
        [
            "Ok(())",
            "Err(RevokeMessageNotFound { msg_id: \"g #7\", group: true })",
            "Err(MessageRevoked(\"g-old\"))",
            // Beyond what the store can hold: no message's, not a store failure.
            "Err(RevokeMessageNotFound { msg_id: \"g #18446744073709551615\", group: true })",
        ]
    );
    assert_eq!(
        refusal(t.admin_revoke_group("admin", "nope", &[1]).await),
        "GroupNotFound(\"nope\")"
    );
    h.settled().await;
    let revoked: Vec<_> = h
        .bus
        .take()
        .into_iter()
        .filter(|d| matches!(pushed(d).1, PushEvent::OnRecvMessageRevoked(_)))
        .collect();
    assert_eq!(
        revoked,
        [
            revoked_push(&["alice", "bob"], "c-old", "admin", ""),
            revoked_push(&["alice", "bob"], "g-old", "admin", ""),
        ]
    );
}

#[tokio::test]
async fn a_recalled_message_takes_no_receipts_but_its_sender_still_reads_its_state() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let m = h.send_group_receipted("alice", "g").await.msg_id;
    let other = h.send_group_receipted("alice", "g").await.msg_id;
    let c2c = h.send_c2c_receipted("alice", "bob").await.msg_id;
    t.send_read_receipts("bob", vec![m.clone()], None)
        .await
        .unwrap();
    t.revoke_message("alice", revoke(&m)).await.unwrap();
    t.revoke_message("alice", revoke(&c2c)).await.unwrap();

    assert_eq!(
        refusal(t.send_read_receipts("carol", vec![m.clone()], None).await),
        format!("MessageRevoked(\"{m}\")")
    );
    assert_eq!(
        refusal(t.send_read_receipts("bob", vec![c2c.clone()], None).await),
        format!("MessageRevoked(\"{c2c}\")")
    );
    // With a message that was not recalled, the recalled one is skipped and the other recorded.
    let skipped = t
        .send_read_receipts("carol", vec![m.clone(), other.clone()], None)
        .await
        .unwrap();
    let skipped: Vec<String> = skipped
        .into_iter()
        .map(|s| format!("{} {:?}", s.msg_id, s.error))
        .collect();
    assert_eq!(skipped, [format!("{m} MessageRevoked(\"{m}\")")]);

    assert_eq!(
        t.get_read_receipts("alice", vec![m.clone(), other.clone()])
            .await
            .unwrap(),
        [
            MessageReceipt::group(m.clone(), "g".into(), 1, 1),
            MessageReceipt::group(other.clone(), "g".into(), 1, 1),
        ]
    );
    let unread = t
        .read_member_list(
            "alice",
            ReadMemberListParams {
                message_id: m.clone(),
                filter: 1,
                next_seq: 0,
                count: 10,
            },
        )
        .await
        .unwrap();
    let names: Vec<&str> = unread
        .member_info_list
        .iter()
        .map(|member| member.user_id.as_str())
        .collect();
    assert_eq!(names, ["carol"]);
    let c2c_state = t
        .get_read_receipts("alice", vec![c2c.clone()])
        .await
        .unwrap();
    assert!(!c2c_state[0].is_peer_read);
}

/// The message IDs of an `onRecvMessageReadReceipts` push, if the delivery is one.
fn receipt_push_ids(delivery: &Delivery) -> Option<Vec<String>> {
    match pushed(delivery) {
        (_, PushEvent::OnRecvMessageReadReceipts(receipts)) => {
            Some(receipts.iter().map(|r| r.msg_id.clone()).collect())
        }
        _ => None,
    }
}

#[tokio::test]
async fn no_receipt_push_for_a_message_follows_its_recall() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "g", &["bob", "carol"])
        .await;
    let m = h.send_group_receipted("alice", "g").await.msg_id;
    let later = h.send_group_receipted("alice", "g").await.msg_id;
    h.forget_published().await;
    // Noted for the coalesced push, which the recall may overtake.
    t.send_read_receipts("bob", vec![m.clone()], None)
        .await
        .unwrap();
    t.revoke_message("alice", revoke(&m)).await.unwrap();
    // A receipt noted after the recall: once its push is out, so is any push noted before.
    t.send_read_receipts("carol", vec![later.clone()], None)
        .await
        .unwrap();
    let published = h
        .bus
        .take_until(|d| receipt_push_ids(d).is_some_and(|ids| ids.contains(&later)))
        .await;
    let recall_at = published
        .iter()
        .position(|d| matches!(pushed(d).1, PushEvent::OnRecvMessageRevoked(_)))
        .expect("the recall was pushed");
    for (at, delivery) in published.iter().enumerate() {
        if let Some(ids) = receipt_push_ids(delivery) {
            assert!(
                at < recall_at || !ids.contains(&m),
                "a receipt push for the recalled message came after its recall: {published:?}"
            );
        }
    }
}
