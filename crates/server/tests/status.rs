//! Online status through the whole server: `subscribeUserStatus`, `getUserStatus`,
//! `setSelfStatus` over the SDK and raw frames, and the exact `onUserStatusChanged` events that
//! logins, logouts and custom statuses cause. The kick is in `rest.rs`, with the REST query.

mod common;

use common::{TestServer, next_event};
use serde_json::json;
use tidings_sdk::proto::{USER_STATUS_OFFLINE, USER_STATUS_ONLINE, UserStatus};
use tidings_sdk::{ErrorCode, Events, SdkError, SdkEvent};

fn status(user: &str, status_type: u32, custom: &str) -> UserStatus {
    UserStatus {
        user_id: user.to_owned(),
        status_type,
        custom_status: custom.to_owned(),
    }
}

async fn changed(events: &mut Events) -> Vec<UserStatus> {
    next_event(events, |event| match event {
        SdkEvent::UserStatusChanged(statuses) => Some(statuses),
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

#[tokio::test]
async fn subscribers_get_online_custom_status_and_offline_exactly_once() {
    let server = TestServer::start().await;
    let (bob, mut bob_events) = server.client("bob").await;
    bob.subscribe_user_status(["alice"]).await.unwrap();
    assert_eq!(
        bob.get_user_status(["alice", "bob"]).await.unwrap(),
        [
            status("alice", USER_STATUS_OFFLINE, ""),
            status("bob", USER_STATUS_ONLINE, "")
        ]
    );

    let (alice, alice_events) = server.client("alice").await;
    assert_eq!(
        changed(&mut bob_events).await,
        [status("alice", USER_STATUS_ONLINE, "")]
    );
    // A second device is no change; the custom status reaches the subscriber and the other
    // device, and the first change bob sees after the login is that one.
    let (alice_phone, mut phone_events) = server.client("alice").await;
    alice.set_self_status("in a meeting").await.unwrap();
    let meeting = [status("alice", USER_STATUS_ONLINE, "in a meeting")];
    assert_eq!(changed(&mut bob_events).await, meeting);
    assert_eq!(changed(&mut phone_events).await, meeting);
    assert_eq!(
        bob.get_user_status(["alice"]).await.unwrap(),
        meeting.to_vec()
    );

    // One device leaving is no change either; the last one is, and clears the custom status.
    alice_phone.logout().await.unwrap();
    alice.logout().await.unwrap();
    assert_eq!(
        changed(&mut bob_events).await,
        [status("alice", USER_STATUS_OFFLINE, "")]
    );
    assert_eq!(
        bob.get_user_status(["alice"]).await.unwrap(),
        [status("alice", USER_STATUS_OFFLINE, "")]
    );
    drop(alice_events);

    // The subscription outlives bob's reconnects: it belongs to the user.
    bob.logout().await.unwrap();
    drop(bob_events);
    let (bob, mut bob_events) = server.client("bob").await;
    let (_alice, _alice_events) = server.client("alice").await;
    assert_eq!(
        changed(&mut bob_events).await,
        [status("alice", USER_STATUS_ONLINE, "")]
    );
    bob.unsubscribe_user_status(Vec::<String>::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_lists_and_long_custom_statuses_are_refused() {
    let server = TestServer::start().await;
    let (alice, _events) = server.client("alice").await;
    let invalid = ErrorCode::InvalidParameters.as_u32();
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    assert_eq!(code(alice.subscribe_user_status(many).await), invalid);
    assert_eq!(
        code(alice.subscribe_user_status(Vec::<String>::new()).await),
        invalid
    );
    assert_eq!(code(alice.subscribe_user_status(["alice"]).await), invalid);
    assert_eq!(
        code(alice.subscribe_user_status(["b c"]).await),
        ErrorCode::InvalidIdentifier.as_u32()
    );
    assert_eq!(code(alice.set_self_status("x".repeat(257)).await), invalid);
    let queried: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    assert_eq!(code(alice.get_user_status(queried).await), invalid);

    let mut raw = server.raw_login("carol").await;
    let reply = raw
        .call("subscribeUserStatus", json!({"userIDList": "alice"}))
        .await;
    assert_eq!(reply["code"], json!(invalid));
    let reply = raw.call("setSelfStatus", json!({"customStatus": 7})).await;
    assert_eq!(reply["code"], json!(invalid));
    let reply = raw
        .call(
            "getUserStatus",
            json!({"userIDList": ["alice", "carol", "alice"]}),
        )
        .await;
    assert_eq!(
        reply["data"],
        json!([
            {"userID": "alice", "statusType": 1, "customStatus": ""},
            {"userID": "carol", "statusType": 1, "customStatus": ""}
        ])
    );
}
