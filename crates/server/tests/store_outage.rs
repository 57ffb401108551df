//! A PostgreSQL outage seen from a serving node: requests fail fast with 6999 and a generic
//! description, `/healthz` answers 503, and service resumes by itself when the database is back,
//! with every acknowledged message kept.
//!
//! The node reaches PostgreSQL (`TIDINGS_TEST_PG`, default the local server) through a TCP relay
//! the test controls: cutting it drops every connection and refuses new ones, as a stopped or
//! unreachable server does from the node's side, without stopping the server other tests share.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{TestData, TestServer, WAIT};
use tidings_sdk::SdkError;
use tidings_store::scratch::ScratchDatabase;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP relay to one address that can be cut and restored.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay address");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0);
        let (accepting, cut) = (Arc::clone(&up), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let (target, mut cut) = (target.clone(), cut.subscribe());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cuts }
    }

    /// Drops every relayed connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/database` → (`host:port`, the URL with `host:port` replaced).
fn through(url: &str, relay: SocketAddr) -> (String, String) {
    let (head, rest) = url.split_once('@').expect("URL with user@host");
    let (host, database) = rest.split_once('/').expect("URL with a database");
    (host.to_owned(), format!("{head}@{relay}/{database}"))
}

async fn health(server: &TestServer) -> u16 {
    reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .expect("healthz answers")
        .status()
        .as_u16()
}

/// Polls `/healthz` until it answers `status`.
async fn health_becomes(server: &TestServer, status: u16) {
    tokio::time::timeout(WAIT, async {
        while health(server).await != status {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("/healthz did not answer {status}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_requests_fast_and_service_resumes_with_nothing_lost() {
    let database = ScratchDatabase::for_test().await;
    let (target, _) = through(database.url(), "127.0.0.1:1".parse().unwrap());
    let relay = Relay::start(target).await;
    let (_, relayed) = through(database.url(), relay.addr);
    let data = TestData {
        dir: tempfile::tempdir().expect("temp dir"),
        database: None,
    };
    let server = TestServer::start_in(data, |config| {
        config.store.url = Some(relayed);
        config.store.statement_timeout_ms = 1000;
    })
    .await;
    let (alice, _alice_events) = server.client("alice").await;
    let (bob, _bob_events) = server.client("bob").await;
    let before = alice.send_text("bob", "before").await.expect("sent");
    assert_eq!(health(&server).await, 200);

    relay.cut();
    let started = tokio::time::Instant::now();
    let refused = alice.send_text("bob", "during").await;
    match refused {
        Err(SdkError::Server { code, desc }) => {
            assert_eq!(code, 6999);
            assert_eq!(desc, "internal storage error; the request may be retried");
        }
        other => panic!("expected 6999 while the database is away: {other:?}"),
    }
    // Bounded by the statement timeout (and connect timeout) of 1 s, with room for a slow
    // machine; the SDK's own request timeout is far longer.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    health_becomes(&server, 503).await;

    relay.restore();
    health_becomes(&server, 200).await;
    let after = tokio::time::timeout(WAIT, async {
        loop {
            match alice.send_text("bob", "after").await {
                Ok(message) => return message,
                Err(SdkError::Server { code: 6999, .. }) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("send after the outage: {e}"),
            }
        }
    })
    .await
    .expect("sending works again");
    assert_eq!(
        after.seq,
        before.seq + 1,
        "the refused send took no sequence"
    );
    let history = bob
        .get_c2c_history_message_list("alice", 10, None)
        .await
        .expect("history");
    let texts: Vec<&str> = history
        .iter()
        .filter_map(|m| m.text_elem.as_ref().map(|t| t.text.as_str()))
        .collect();
    assert_eq!(texts, ["after", "before"]);
    server.stop().await;
}
