//! Two nodes' buses on a real NATS server (`TIDINGS_TEST_NATS`, else 127.0.0.1:4222), in one
//! process: what reaches the other node's sessions, and what happens when the bus cannot take
//! a delivery.

use std::time::Duration;

use tidings_proto::events::{KickedOffline, OnKickedOffline};
use tidings_proto::{Event, PushEvent};
use tidings_service::{Outbound, SharedPush, outbound_queue};

use super::*;

/// Generous: a CI host may be busy, and a wait that runs out means something was lost.
const WAIT: Duration = Duration::from_secs(30);

fn nats_url() -> String {
    std::env::var("TIDINGS_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// An SDKAppID no other test run uses, so that runs sharing the NATS server do not hear each
/// other.
fn fresh_sdkappid() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    1_000_000_000 + u64::try_from(nanos % 1_000_000_000).expect("fits")
}

/// Any event will do: the hubs do not look inside.
fn event(text: &str) -> PushEvent {
    OnKickedOffline::push(KickedOffline {
        reason: text.into(),
    })
}

fn push_to(user: &str, text: &str) -> Delivery {
    Delivery::Push {
        users: vec![user.into()],
        push: SharedPush::new(event(text)),
        except: None,
    }
}

async fn next(rx: &mut tidings_service::OutboundQueue, what: &str) -> Option<Outbound> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("nothing within the wait: {what}"))
}

async fn pushed(rx: &mut tidings_service::OutboundQueue, what: &str) -> PushEvent {
    match next(rx, what).await {
        Some(Outbound::Push(push)) => push.event().clone(),
        other => panic!("expected a push, got {other:?}"),
    }
}

// One thread: the publishing task runs only when the test awaits, so the queue fills exactly.
#[tokio::test(flavor = "current_thread")]
async fn deliveries_the_bus_could_not_take_close_their_users_sessions_on_the_other_nodes() {
    let sdkappid = fresh_sdkappid();
    let (hub_a, hub_b) = (Arc::new(Hub::new(4)), Arc::new(Hub::new(4)));
    let a = NatsBus::connect_with(&nats_url(), "a", sdkappid, Arc::clone(&hub_a), 2)
        .await
        .expect("node a on NATS");
    let b = NatsBus::connect(&nats_url(), "b", sdkappid, Arc::clone(&hub_b))
        .await
        .expect("node b on NATS");
    b.client.flush().await.expect("b's subscriptions in place");
    // The cluster formed, as before any client could connect to a node.
    tokio::time::timeout(WAIT, async {
        while !(a.nodes.is_alive("b") && b.nodes.is_alive("a")) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the nodes hear each other");
    let (alice, mut alice_rx) = outbound_queue(16, usize::MAX);
    let (bob, mut bob_rx) = outbound_queue(16, usize::MAX);
    hub_b.register("alice", alice);
    hub_b.register("bob", bob);

    // Two wait for the bus; the next two are dropped.
    a.publish(push_to("bob", "one"));
    a.publish(push_to("bob", "two"));
    a.publish(push_to("alice", "lost"));
    a.publish(push_to("alice", "lost too"));

    assert_eq!(pushed(&mut bob_rx, "bob's one").await, event("one"));
    assert_eq!(pushed(&mut bob_rx, "bob's two").await, event("two"));
    assert_eq!(
        next(&mut alice_rx, "alice's close").await,
        None,
        "alice's session is closed: she catches up"
    );
    assert!(!hub_b.is_online("alice"));

    // Bob missed nothing and keeps his session.
    a.publish(push_to("bob", "three"));
    assert_eq!(pushed(&mut bob_rx, "bob's three").await, event("three"));
    assert!(hub_b.is_online("bob"));
}
