//! Targeted group messages through the SDK: only their targets get them; the other members
//! get no push, no history entry, no unread count and no gap, and their SDK does not wait for
//! the sequence it will never get.

mod common;

use std::time::Duration;

use common::{TestServer, conversation_unread, events_until, next_event};
use tidings_sdk::{
    Client, ClientOptions, CreateGroupParams, ErrorCode, Events, GroupMemberSpec, GroupRole,
    MessageReceipt, SdkEvent, SendMessageParams, TextElem,
};

/// A client whose SDK would wait an hour for a missing sequence before asking history: if it
/// waited for a targeted message's sequence, the test would time out.
async fn patient_client(server: &TestServer, user: &str) -> (Client, Events) {
    let options =
        ClientOptions::new(&server.url, user, server.sig(user)).gap_wait(Duration::from_secs(3600));
    Client::connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"))
}

/// Every event up to the message `msg_id`, checking that it is the only message among them
/// and that no gap was reported.
async fn only_message_up_to(events: &mut Events, msg_id: &str) -> tidings_sdk::Message {
    let seen = events_until(
        events,
        |event| matches!(event, SdkEvent::RecvNewMessage(m) if m.msg_id == msg_id),
    )
    .await;
    for event in &seen {
        match event {
            SdkEvent::RecvNewMessage(m) => assert_eq!(m.msg_id, msg_id, "an unexpected message"),
            SdkEvent::MessageGap { .. } => panic!("a gap was reported: {event:?}"),
            _ => {}
        }
    }
    match seen.into_iter().last() {
        Some(SdkEvent::RecvNewMessage(message)) => message,
        other => panic!("ends with the message, not {other:?}"),
    }
}

#[tokio::test]
async fn a_targeted_message_reaches_its_targets_and_leaves_no_trace_for_the_others() {
    let server = TestServer::start().await;
    let (alice, _alice_events) = patient_client(&server, "alice").await;
    let (bob, mut bob_events) = patient_client(&server, "bob").await;
    let (carol, mut carol_events) = patient_client(&server, "carol").await;
    let member = |user: &str| GroupMemberSpec {
        user_id: user.into(),
        role: GroupRole::Member,
    };
    let group = alice
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: Some("team".into()),
            group_name: "Team".into(),
            member_list: vec![member("bob"), member("carol")],
        })
        .await
        .expect("create group");
    let first = alice.send_group_text(&group, "hello all").await.unwrap();
    only_message_up_to(&mut carol_events, &first.msg_id).await;
    next_event(&mut bob_events, |event| match event {
        SdkEvent::RecvNewMessage(m) if m.msg_id == first.msg_id => Some(()),
        _ => None,
    })
    .await;

    let secret = alice
        .send_message(SendMessageParams {
            group_id: Some(group.clone()),
            receiver_list: vec!["bob".into()],
            need_read_receipt: true,
            text_elem: Some(TextElem {
                text: "for bob".into(),
            }),
            ..SendMessageParams::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (secret.seq, secret.is_excluded_from_unread_count),
        (2, true)
    );
    let after = bob.send_group_text(&group, "after").await.unwrap();
    assert_eq!((after.seq, after.prev_seq), (3, None));

    let got = only_message_up_to(&mut bob_events, &secret.msg_id).await;
    assert_eq!(got.text_elem.map(|t| t.text).as_deref(), Some("for bob"));
    // Carol gets "after" at once (her SDK would wait an hour for seq 2), told it follows seq 1.
    let as_carol = only_message_up_to(&mut carol_events, &after.msg_id).await;
    assert_eq!((as_carol.seq, as_carol.prev_seq), (3, Some(1)));

    // History and the conversation: nothing of it for carol.
    let history: Vec<(u64, Option<u64>)> = carol
        .get_group_history_message_list(&group, 20, None)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.seq, m.prev_seq))
        .collect();
    assert_eq!(history, [(3, Some(1)), (1, None)]);
    let bobs: Vec<u64> = bob
        .get_group_history_message_list(&group, 20, None)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(bobs, [3, 2, 1]);
    let conversation_id = format!("group_{group}");
    assert_eq!(conversation_unread(&carol, &conversation_id).await, 2);
    assert_eq!(
        conversation_unread(&bob, &conversation_id).await,
        1,
        "bob's own message and the targeted one do not count"
    );

    // Receipts: bob is its one recipient; carol's receipt is refused.
    let refused = carol
        .send_message_read_receipts(vec![secret.msg_id.clone()])
        .await
        .expect_err("carol is no recipient");
    assert_eq!(refused.error_code(), Some(ErrorCode::GroupPermissionDenied));
    bob.send_message_read_receipts(vec![secret.msg_id.clone()])
        .await
        .unwrap();
    assert_eq!(
        alice
            .get_message_read_receipts(vec![secret.msg_id.clone()])
            .await
            .unwrap(),
        [MessageReceipt::group(
            secret.msg_id.clone(),
            group.clone(),
            1,
            0
        )]
    );
}
