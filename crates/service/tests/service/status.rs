//! Online status: subscriptions bounded per subscriber, custom statuses, and the
//! `onUserStatusChanged` pushes that a hub's first and last sessions of a user cause.

use std::sync::Arc;

use tidings_proto::events::OnUserStatusChanged;
use tidings_proto::{USER_STATUS_OFFLINE, USER_STATUS_ONLINE, UserStatus};
use tidings_service::{Delivery, Hub, outbound_queue};

use crate::harness::{Harness, push, push_except, refusal};

fn status(user: &str, status_type: u32, custom: &str) -> Vec<UserStatus> {
    vec![UserStatus {
        user_id: user.to_owned(),
        status_type,
        custom_status: custom.to_owned(),
    }]
}

fn names(users: &[&str]) -> Vec<String> {
    users.iter().map(|u| (*u).to_owned()).collect()
}

fn is_status_push(delivery: &Delivery) -> bool {
    matches!(delivery, Delivery::Push { push, .. } if push.event().name() == "onUserStatusChanged")
}

#[tokio::test]
async fn subscribers_see_the_first_login_the_custom_status_and_the_last_logout() {
    let h = Harness::start(&["a", "b", "c"]).await;
    let hub = Arc::new(Hub::new(10));
    h.tidings.watch_presence(Arc::clone(&hub));
    h.tidings
        .subscribe_user_status("b", names(&["a"]))
        .await
        .unwrap();
    h.tidings
        .subscribe_user_status("c", names(&["a", "b"]))
        .await
        .unwrap();
    h.forget_published().await;

    let (first_queue, _first) = outbound_queue(16, 1 << 20);
    let first = hub.register("a", first_queue);
    let online = h.bus.take_until(is_status_push).await;
    assert_eq!(
        online,
        [push::<OnUserStatusChanged>(
            &["b", "c"],
            status("a", USER_STATUS_ONLINE, "")
        )]
    );

    // A second session is no change; the custom status goes to the subscribers and to the
    // user's other sessions, not to the one that set it.
    let (second_queue, _second) = outbound_queue(16, 1 << 20);
    let second = hub.register("a", second_queue);
    h.tidings
        .set_self_status("a", Some(second), "busy".into())
        .await
        .unwrap();
    assert_eq!(
        h.bus.take(),
        [push_except::<OnUserStatusChanged>(
            &["b", "c", "a"],
            status("a", USER_STATUS_ONLINE, "busy"),
            Some(second)
        )]
    );
    // Setting the same status again changes nothing.
    h.tidings
        .set_self_status("a", Some(second), "busy".into())
        .await
        .unwrap();
    assert_eq!(h.bus.take(), []);
    h.bus.set_online(&["a"]);
    assert_eq!(
        h.tidings.get_user_status(names(&["a", "b"])).await.unwrap(),
        [
            status("a", USER_STATUS_ONLINE, "busy"),
            status("b", USER_STATUS_OFFLINE, "")
        ]
        .concat()
    );

    h.bus.set_online(&["a", "b", "c"]);
    hub.unregister("a", first);
    hub.unregister("a", second);
    let offline = h.bus.take_until(is_status_push).await;
    assert_eq!(
        offline,
        [push::<OnUserStatusChanged>(
            &["b", "c"],
            status("a", USER_STATUS_OFFLINE, "")
        )]
    );
    // Going offline cleared the custom status.
    assert_eq!(
        h.tidings
            .store()
            .custom_statuses(&names(&["a"]))
            .await
            .unwrap(),
        [""]
    );

    // After unsubscribing, b hears nothing more of a; c still does.
    h.tidings
        .unsubscribe_user_status("b", Vec::new())
        .await
        .unwrap();
    let (again_queue, _again) = outbound_queue(16, 1 << 20);
    hub.register("a", again_queue);
    assert_eq!(
        h.bus.take_until(is_status_push).await,
        [push::<OnUserStatusChanged>(
            &["c"],
            status("a", USER_STATUS_ONLINE, "")
        )]
    );
}

#[tokio::test]
async fn a_kicked_last_session_is_the_user_going_offline() {
    let h = Harness::start(&["a", "b"]).await;
    let hub = Arc::new(Hub::new(10));
    h.tidings.watch_presence(Arc::clone(&hub));
    h.tidings
        .subscribe_user_status("b", names(&["a"]))
        .await
        .unwrap();
    let (queue, _session) = outbound_queue(16, 1 << 20);
    let id = hub.register("a", queue);
    h.bus.take_until(is_status_push).await;
    assert!(hub.kick_session("a", id, "bye"));
    assert_eq!(
        h.bus.take_until(is_status_push).await,
        [push::<OnUserStatusChanged>(
            &["b"],
            status("a", USER_STATUS_OFFLINE, "")
        )]
    );
}

#[tokio::test]
async fn subscriptions_are_bounded_and_bad_lists_are_refused() {
    let h = Harness::start(&["a"]).await;
    let t = &h.tidings;
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    assert_eq!(
        refusal(t.subscribe_user_status("a", many.clone()).await),
        r#"InvalidParameters("userIDList names 101 users; the limit is 100")"#
    );
    assert_eq!(
        refusal(t.unsubscribe_user_status("a", many).await),
        r#"InvalidParameters("userIDList names 101 users; the limit is 100")"#
    );
    assert_eq!(
        refusal(t.subscribe_user_status("a", Vec::new()).await),
        r#"InvalidParameters("userIDList must name at least one user")"#
    );
    assert_eq!(
        refusal(t.subscribe_user_status("a", names(&["b", "a"])).await),
        r#"InvalidParameters("a user cannot subscribe to its own status; its own changes come anyway")"#
    );
    assert_eq!(
        refusal(t.subscribe_user_status("a", names(&["b c"])).await),
        r#"InvalidIdentifier("b c")"#
    );
    let queried: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    assert_eq!(
        refusal(t.get_user_status(queried).await),
        r#"InvalidParameters("userIDList names 501 users; the limit is 500")"#
    );
    assert_eq!(
        refusal(t.set_self_status("a", None, "x".repeat(257)).await),
        r#"InvalidParameters("customStatus is 257 bytes; the limit is 256")"#
    );
    t.set_self_status("a", None, "x".repeat(256)).await.unwrap();

    // 201 subscriptions keep the latest 200: the earliest (u0) is dropped.
    for call in 0..2 {
        let batch: Vec<String> = (call * 100..call * 100 + 100)
            .map(|i| format!("u{i}"))
            .collect();
        t.subscribe_user_status("a", batch).await.unwrap();
    }
    t.subscribe_user_status("a", names(&["x"])).await.unwrap();
    let kept = t.status_subscriptions("a").await.unwrap();
    assert_eq!(kept.len(), 200);
    assert_eq!(kept.first().map(String::as_str), Some("u1"));
    assert_eq!(kept.last().map(String::as_str), Some("x"));
    // A repeated name counts once.
    t.unsubscribe_user_status("a", names(&["x", "x", "u1"]))
        .await
        .unwrap();
    assert_eq!(t.status_subscriptions("a").await.unwrap().len(), 198);
}
