//! Recalling messages through the whole server: `revokeMessage` over the SDK and raw frames,
//! `onRecvMessageRevoked` on every device of every party, history showing the recall, receipts
//! refused for a recalled message. The REST side is in `rest.rs`, with the other endpoints.

mod common;

use common::{TestServer, next_event};
use serde_json::json;
use tidings_sdk::proto::MSG_STATUS_REVOKED;
use tidings_sdk::{
    CreateGroupParams, ErrorCode, Events, GroupMemberSpec, GroupRole, MessageRevoked, SdkError,
    SdkEvent, SendMessageParams, TextElem,
};

async fn revoked(events: &mut Events, msg_id: &str) -> MessageRevoked {
    next_event(events, |event| match event {
        SdkEvent::RecvMessageRevoked(revoked) if revoked.msg_id == msg_id => Some(revoked),
        _ => None,
    })
    .await
}

fn code(result: Result<impl std::fmt::Debug, SdkError>) -> u32 {
    match result {
        Err(SdkError::Server { code, .. }) => code,
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

fn text(text: &str) -> Option<TextElem> {
    Some(TextElem { text: text.into() })
}

#[tokio::test]
async fn a_recall_reaches_every_device_and_shows_in_history() {
    let server = TestServer::start().await;
    let (alice, mut alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (_bob_phone, mut bob_phone_events) = server.client("bob").await;
    let sent = alice
        .send_message(SendMessageParams {
            receiver: Some("bob".into()),
            text_elem: text("sent to the wrong person"),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await
        .unwrap();

    assert_eq!(
        code(bob.revoke_message(&sent.msg_id, "").await),
        ErrorCode::GroupPermissionDenied.as_u32(),
        "only the sender recalls a C2C message"
    );
    alice
        .revoke_message(&sent.msg_id, "wrong chat")
        .await
        .unwrap();
    for events in [&mut alice_events, &mut bob_events, &mut bob_phone_events] {
        let push = revoked(events, &sent.msg_id).await;
        assert_eq!(push.operate_user.user_id, "alice");
        assert_eq!(push.reason, "wrong chat");
    }
    assert_eq!(
        code(alice.revoke_message(&sent.msg_id, "").await),
        ErrorCode::MessageRevoked.as_u32()
    );
    assert_eq!(
        code(
            bob.send_message_read_receipts(vec![sent.msg_id.clone()])
                .await
        ),
        ErrorCode::MessageRevoked.as_u32(),
        "a recalled message takes no receipt"
    );
    let history = bob
        .get_c2c_history_message_list("alice", 10, None)
        .await
        .unwrap();
    let recalled = &history[0];
    assert_eq!(
        (recalled.status, recalled.is_revoked, &recalled.text_elem),
        (MSG_STATUS_REVOKED, true, &None)
    );
    assert_eq!(recalled.revoke_reason, "wrong chat");
    // Its sender still reads its receipt state.
    let state = alice
        .get_message_read_receipts(vec![sent.msg_id.clone()])
        .await
        .unwrap();
    assert!(!state[0].is_peer_read);
}

#[tokio::test]
async fn group_admins_recall_any_message_and_members_only_their_own() {
    let server = TestServer::start().await;
    let (owner, _owner_events) = server.client("owner").await;
    let (admin, _admin_events) = server.client("admin").await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (carol, _carol_events) = server.client("carol").await;
    let group = owner
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: Some("team".into()),
            group_name: "team".into(),
            member_list: vec![
                GroupMemberSpec {
                    user_id: "admin".into(),
                    role: GroupRole::Admin,
                },
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
        .unwrap();
    let by_carol = carol.send_group_text(&group, "spam").await.unwrap();
    assert_eq!(
        code(bob.revoke_message(&by_carol.msg_id, "").await),
        ErrorCode::GroupPermissionDenied.as_u32()
    );
    admin.revoke_message(&by_carol.msg_id, "").await.unwrap();
    let push = revoked(&mut bob_events, &by_carol.msg_id).await;
    assert_eq!(push.operate_user.user_id, "admin");
    let history = bob
        .get_group_history_message_list(&group, 10, None)
        .await
        .unwrap();
    assert_eq!(history[0].status, MSG_STATUS_REVOKED);
    assert_eq!(
        history[0].revoker_info.as_ref().map(|i| i.user_id.as_str()),
        Some("admin")
    );
}

#[tokio::test]
async fn bad_revoke_frames_get_clear_codes() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let reply = raw.call("revokeMessage", json!({})).await;
    assert_eq!(reply["code"], ErrorCode::InvalidParameters.as_u32());
    let reply = raw.call("revokeMessage", json!({"msgID": 7})).await;
    assert_eq!(reply["code"], ErrorCode::InvalidParameters.as_u32());
    let reply = raw.call("revokeMessage", json!({"msgID": "nope"})).await;
    assert_eq!(reply["code"], ErrorCode::RevokeMessageNotFound.as_u32());
    let sent = raw
        .call(
            "sendMessage",
            json!({"receiver": "alice", "textElem": {"text": "note to self"}}),
        )
        .await;
    let msg_id = sent["data"]["msgID"].as_str().unwrap().to_owned();
    let reply = raw
        .call(
            "revokeMessage",
            json!({"msgID": msg_id, "reason": "x".repeat(300)}),
        )
        .await;
    assert_eq!(reply["code"], ErrorCode::InvalidParameters.as_u32());
    let reply = raw.call("revokeMessage", json!({"msgID": msg_id})).await;
    assert_eq!(reply["code"], 0, "{reply}");
    let push = raw.push("onRecvMessageRevoked").await;
    assert_eq!(
        push["data"],
        json!({"msgID": msg_id, "operateUser": {"userID": "alice", "nickName": "", "faceURL": ""}, "reason": ""})
    );
}
