//! PostgreSQL-only tests: several stores with pools of their own, as several nodes would have,
//! writing the same conversations and group messages of one database at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use tidings_store::{
    GroupRole, SCHEMA_VERSION, Store, StoreError, StoreUrl, Synchronous, open_store,
};

use crate::engine::TestEngine;
use crate::fixtures::*;

/// Nodes in these tests: enough that every write races writes of other pools.
const NODES: usize = 4;

async fn nodes(engine: &TestEngine) -> Vec<Arc<dyn Store>> {
    let mut nodes = vec![engine.store()];
    for _ in 1..NODES {
        nodes.push(engine.open_another().await);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequences_stay_unique_and_gapless_when_every_node_sends_at_once() {
    let engine = TestEngine::postgres().await;
    let nodes = nodes(&engine).await;
    group_with(&nodes[0], "g", &["a", "b"]).await;
    let mut tasks = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for i in 0..50 {
            let node = Arc::clone(node);
            tasks.push(tokio::spawn(async move {
                let group = node
                    .append_message(group_message(&format!("g{n}-{i}"), "a", "g", true))
                    .await
                    .expect("group message stored")
                    .seq;
                let (from, to) = if i % 2 == 0 { ("a", "b") } else { ("b", "a") };
                let c2c = node
                    .append_message(c2c_message(&format!("c{n}-{i}"), from, to, i))
                    .await
                    .expect("C2C message stored")
                    .seq;
                (group, c2c)
            }));
        }
    }
    let (mut group, mut c2c) = (Vec::new(), Vec::new());
    for task in tasks {
        let (g, c) = task.await.expect("sender ran");
        group.push(g);
        c2c.push(c);
    }
    group.sort_unstable();
    c2c.sort_unstable();
    let all: Vec<u64> = (1..=(NODES as u64 * 50)).collect();
    assert_eq!(group, all);
    assert_eq!(c2c, all, "both directions share one C2C sequence");
    assert_eq!(
        nodes[1].get_group("g").await.unwrap().unwrap().last_seq,
        NODES as u64 * 50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_receipt_counts_once_when_nodes_record_the_same_readers_at_once() {
    let engine = TestEngine::postgres().await;
    let nodes = nodes(&engine).await;
    let ids = group_with_receipt_messages(&nodes[0], 120, 3).await;
    // Every reader receipts every message through two nodes at once, and again through two
    // others: each (message, reader) is recorded four times, on four pools.
    let mut tasks = Vec::new();
    for reader in 1..120 {
        for node in &nodes {
            let (node, ids, user) = (Arc::clone(node), ids.clone(), format!("u{reader}"));
            tasks.push(tokio::spawn(async move {
                node.record_group_receipts("g", &user, ids).await
            }));
        }
    }
    let mut changed = 0;
    for task in tasks {
        let updates = task.await.expect("reader ran").expect("receipts recorded");
        changed += updates.iter().filter(|u| u.changed).count();
    }
    assert_eq!(
        changed,
        119 * ids.len(),
        "exactly one of the identical receipts is newly read"
    );
    for node in &nodes {
        for state in node.group_receipts(&ids).await.unwrap() {
            assert!(state.readers.iter().eq(1..120), "{}", state.msg_id);
            assert!(state.recipients.iter().eq(1..120));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_and_member_pages_that_other_nodes_read_never_go_back() {
    let engine = TestEngine::postgres().await;
    let nodes = nodes(&engine).await;
    group_with_receipt_messages(&nodes[0], 300, 1).await;
    let writers: Vec<_> = nodes[..2]
        .iter()
        .enumerate()
        .map(|(half, node)| {
            let node = Arc::clone(node);
            tokio::spawn(async move {
                // Half the readers each, one receipt per call, while new members join.
                for reader in (1..300).filter(|r| r % 2 == half) {
                    node.record_group_receipts("g", &format!("u{reader}"), vec!["m0".into()])
                        .await
                        .expect("receipt recorded");
                    if reader % 10 == 0 {
                        node.add_members(
                            "g",
                            vec![member(&format!("late{reader}"), GroupRole::Member)],
                        )
                        .await
                        .expect("member added");
                    }
                }
            })
        })
        .collect();
    let watchers: Vec<_> = nodes[2..]
        .iter()
        .map(|node| {
            let node = Arc::clone(node);
            let done: Vec<_> = writers.iter().map(|w| w.abort_handle()).collect();
            tokio::spawn(async move {
                let (mut last, mut seen) = (0, BTreeSet::new());
                while done.iter().any(|w| !w.is_finished()) {
                    let count = node.group_receipts(&["m0".into()]).await.unwrap()[0]
                        .readers
                        .len();
                    assert!(count >= last, "a count went down from {last} to {count}");
                    (last, _) = (count, seen.insert(count));
                    // A page walk by ordinal sees every original member once, in order.
                    let mut walked = Vec::new();
                    let mut from = 0;
                    loop {
                        let page = node.list_members("g", from, 64, None).await.unwrap();
                        let Some(end) = page.last().map(|m| m.ordinal) else {
                            break;
                        };
                        walked.extend(page.into_iter().map(|m| m.ordinal));
                        from = end + 1;
                    }
                    assert!(
                        walked.windows(2).all(|w| w[0] < w[1]),
                        "pages repeat or go back"
                    );
                    assert!(
                        walked.iter().take(300).copied().eq(0..300),
                        "a member was skipped"
                    );
                }
                seen
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer ran");
    }
    for watcher in watchers {
        let seen = watcher.await.expect("watcher ran");
        assert!(
            seen.iter().any(|&count| count > 0 && count < 299),
            "a watcher saw no count while the writers ran: {seen:?}"
        );
    }
    let state = &nodes[3].group_receipts(&["m0".into()]).await.unwrap()[0];
    assert!(state.readers.iter().eq(1..300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_of_a_newer_schema_is_refused() {
    let engine = TestEngine::postgres().await;
    let url = match &engine.config().url {
        StoreUrl::Postgres(url) => url.clone(),
        other => panic!("not PostgreSQL: {other:?}"),
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("UPDATE tidings_schema SET version = 99")
        .await
        .unwrap();
    let refused = open_store(&engine.config()).await.map(|_| ());
    assert!(
        matches!(
            refused,
            Err(StoreError::SchemaTooNew {
                found: 99,
                known: SCHEMA_VERSION
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_commits_do_not_wait_for_the_flush_serves_and_keeps_its_writes() {
    let engine = TestEngine::postgres().await;
    let mut config = engine.config();
    config.synchronous = Synchronous::Normal;
    let store = open_store(&config)
        .await
        .expect("opens with synchronous_commit off");
    assert!(store.store.ensure_user("a", None, 1).await.unwrap());
    let seen = engine.store().get_users(&["a".to_owned()]).await.unwrap();
    assert_eq!(
        seen.iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
}
