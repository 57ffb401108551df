//! The hub's routing of deliveries to sessions, and a shared push's one encoding.

use std::sync::Arc;

use tidings_proto::Event;
use tidings_proto::events::{KickedOffline, OnKickedOffline};

use super::*;

/// A push whose payload is `text` (any event will do: the hub does not look inside).
fn push(text: &str) -> Arc<SharedPush> {
    SharedPush::new(OnKickedOffline::push(KickedOffline {
        reason: text.into(),
    }))
}

fn to_alice(push: &Arc<SharedPush>, except: Option<SessionId>) -> Delivery {
    Delivery::Push {
        users: vec!["alice".into()],
        push: Arc::clone(push),
        except,
    }
}

/// The push a session received, or what it got instead.
fn pushed(outbound: Option<Outbound>) -> Arc<SharedPush> {
    match outbound {
        Some(Outbound::Push(push)) => push,
        other => panic!("expected a push, got {other:?}"),
    }
}

#[tokio::test]
async fn every_session_of_the_user_gets_the_same_push() {
    let hub = Hub::new(4);
    let (tx1, mut rx1) = outbound_queue(4, usize::MAX);
    let (tx2, mut rx2) = outbound_queue(4, usize::MAX);
    hub.register("alice", tx1);
    hub.register("alice", tx2);
    let hello = push("hello");
    hub.deliver(&to_alice(&hello, None));
    assert!(Arc::ptr_eq(&pushed(rx1.recv().await), &hello));
    assert!(Arc::ptr_eq(&pushed(rx2.recv().await), &hello));
}

#[test]
fn a_push_is_encoded_once_as_its_frame_and_shared() {
    let hello = push("hello");
    let first = hello.frame().expect("encodes");
    assert_eq!(
        first,
        r#"{"event":"onKickedOffline","data":{"reason":"hello"}}"#
    );
    let again = hello.frame().expect("encodes");
    assert!(
        std::ptr::eq(first, again),
        "the second session reuses the first one's text"
    );
}

#[tokio::test]
async fn a_push_can_leave_out_the_session_that_caused_it() {
    let hub = Hub::new(4);
    let (tx1, mut rx1) = outbound_queue(4, usize::MAX);
    let (tx2, mut rx2) = outbound_queue(4, usize::MAX);
    let caller = hub.register("alice", tx1);
    hub.register("alice", tx2);
    let receipted = push("receipted");
    let later = push("later");
    hub.deliver(&to_alice(&receipted, Some(caller)));
    hub.deliver(&to_alice(&later, None));
    assert!(Arc::ptr_eq(&pushed(rx1.recv().await), &later));
    assert!(Arc::ptr_eq(&pushed(rx2.recv().await), &receipted));
}

#[test]
fn a_push_reaches_anyone_only_through_a_session_it_does_not_leave_out() {
    let hub = Hub::new(4);
    let (tx, _rx) = outbound_queue(4, usize::MAX);
    let users = ["bob".to_owned(), "alice".to_owned()];
    assert!(!hub.reaches_any(&users, None), "nobody is online");
    let alice = hub.register("alice", tx);
    assert!(hub.reaches_any(&users, None));
    assert!(
        !hub.reaches_any(&users, Some(alice)),
        "alice's only session is left out"
    );
    assert!(!hub.reaches_any(&[], None));
}

#[tokio::test]
async fn a_full_queue_closes_that_session_only() {
    let hub = Hub::new(4);
    let (slow_tx, mut slow_rx) = outbound_queue(1, usize::MAX);
    let (fast_tx, mut fast_rx) = outbound_queue(8, usize::MAX);
    hub.register("alice", slow_tx);
    hub.register("alice", fast_tx);
    let (one, two) = (push("1"), push("2"));
    hub.deliver(&to_alice(&one, None));
    hub.deliver(&to_alice(&two, None));
    assert_eq!(hub.session_count(), 1);
    assert!(Arc::ptr_eq(&pushed(slow_rx.recv().await), &one));
    assert_eq!(
        slow_rx.recv().await,
        None,
        "the slow session's queue is closed"
    );
    assert!(Arc::ptr_eq(&pushed(fast_rx.recv().await), &one));
    assert!(Arc::ptr_eq(&pushed(fast_rx.recv().await), &two));
}

#[tokio::test]
async fn the_oldest_session_is_kicked_beyond_the_device_limit() {
    let hub = Hub::new(1);
    let (old_tx, mut old_rx) = outbound_queue(4, usize::MAX);
    let (new_tx, _new_rx) = outbound_queue(4, usize::MAX);
    hub.register("alice", old_tx);
    hub.register("alice", new_tx);
    assert_eq!(
        old_rx.recv().await,
        Some(Outbound::Kicked("logged in on more than 1 devices".into()))
    );
    assert_eq!(hub.session_count(), 1);
}

#[tokio::test]
async fn one_session_is_kicked_by_id_and_sessions_carry_their_login_order() {
    let hub = Hub::new(4);
    let (first_tx, mut first_rx) = outbound_queue(4, usize::MAX);
    let (second_tx, mut second_rx) = outbound_queue(4, usize::MAX);
    let first = hub.register("alice", first_tx);
    let second = hub.register("alice", second_tx);
    let sessions = hub.sessions_of("alice");
    assert_eq!(
        sessions.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [first, second]
    );
    assert!(sessions[0].1 <= sessions[1].1, "{sessions:?}");
    assert!(hub.kick_session("alice", first, "elsewhere"));
    assert!(!hub.kick_session("alice", first, "elsewhere"), "only once");
    assert!(
        !hub.kick_session("bob", second, "elsewhere"),
        "not another user's"
    );
    assert_eq!(
        first_rx.recv().await,
        Some(Outbound::Kicked("elsewhere".into()))
    );
    assert_eq!(first_rx.recv().await, None, "and its queue closes");
    assert_eq!(hub.sessions_of("alice"), [(second, sessions[1].1)]);
    hub.deliver(&to_alice(&push("still here"), None));
    assert!(matches!(second_rx.recv().await, Some(Outbound::Push(_))));
}

#[tokio::test]
async fn dropping_all_sessions_closes_every_queue_and_later_sessions_register_anew() {
    let hub = Hub::new(4);
    let (tx1, mut rx1) = outbound_queue(4, usize::MAX);
    let (tx2, mut rx2) = outbound_queue(4, usize::MAX);
    hub.register("alice", tx1);
    hub.register("bob", tx2);
    hub.drop_all();
    assert_eq!(
        rx1.recv().await,
        None,
        "alice's connection is told to close"
    );
    assert_eq!(rx2.recv().await, None);
    assert_eq!(hub.session_count(), 0);
    let (tx3, mut rx3) = outbound_queue(4, usize::MAX);
    hub.register("alice", tx3);
    let sent = push("again");
    hub.deliver(&to_alice(&sent, None));
    assert_eq!(pushed(rx3.recv().await), sent);
}

#[tokio::test]
async fn dropping_some_users_closes_only_their_sessions() {
    let hub = Hub::new(4);
    let (alice1, mut alice1_rx) = outbound_queue(4, usize::MAX);
    let (alice2, mut alice2_rx) = outbound_queue(4, usize::MAX);
    let (bob, mut bob_rx) = outbound_queue(4, usize::MAX);
    hub.register("alice", alice1);
    hub.register("alice", alice2);
    hub.register("bob", bob);
    hub.drop_users(&["alice".into(), "nobody".into()]);
    assert_eq!(alice1_rx.recv().await, None);
    assert_eq!(alice2_rx.recv().await, None);
    assert_eq!(hub.session_count(), 1);
    let sent = push("bob stays");
    hub.deliver(&Delivery::Push {
        users: vec!["bob".into()],
        push: Arc::clone(&sent),
        except: None,
    });
    assert_eq!(pushed(bob_rx.recv().await), sent);
}

#[tokio::test]
async fn a_queue_full_in_bytes_closes_that_session_though_it_has_room_for_more_pushes() {
    let hub = Hub::new(4);
    // Each frame below is 1,048 bytes: two fit in 2,200 bytes, a third does not.
    let (slow_tx, mut slow_rx) = outbound_queue(100, 2200);
    let (fast_tx, mut fast_rx) = outbound_queue(100, 2200);
    hub.register("alice", slow_tx);
    hub.register("alice", fast_tx);
    let big: Vec<_> = (0..3)
        .map(|n| push(&format!("{n}{}", "x".repeat(999))))
        .collect();
    assert_eq!(big[0].frame().map(str::len), Some(1048));
    hub.deliver(&to_alice(&big[0], None));
    hub.deliver(&to_alice(&big[1], None));
    assert_eq!(slow_rx.queued_bytes(), 2096);
    // The fast session reads one, so the third fits its queue; the slow one read nothing.
    assert!(Arc::ptr_eq(&pushed(fast_rx.recv().await), &big[0]));
    assert_eq!(fast_rx.queued_bytes(), 1048);
    hub.deliver(&to_alice(&big[2], None));
    assert_eq!(hub.session_count(), 1);
    assert!(Arc::ptr_eq(&pushed(slow_rx.recv().await), &big[0]));
    assert!(Arc::ptr_eq(&pushed(slow_rx.recv().await), &big[1]));
    assert_eq!(
        slow_rx.recv().await,
        None,
        "the slow session's queue is closed"
    );
    assert_eq!(slow_rx.queued_bytes(), 0);
    assert!(Arc::ptr_eq(&pushed(fast_rx.recv().await), &big[1]));
    assert!(Arc::ptr_eq(&pushed(fast_rx.recv().await), &big[2]));
}

#[tokio::test]
async fn a_push_larger_than_the_byte_budget_still_reaches_an_empty_queue() {
    let hub = Hub::new(4);
    let (tx, mut rx) = outbound_queue(100, 10);
    hub.register("alice", tx);
    let large = push(&"x".repeat(100));
    hub.deliver(&to_alice(&large, None));
    assert_eq!(hub.session_count(), 1);
    assert!(Arc::ptr_eq(&pushed(rx.recv().await), &large));
}
