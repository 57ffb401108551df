//! SQLite-only tests: the writer's receipt cache and waiting out another connection's lock.

use std::sync::Arc;

use tidings_store::{SqliteOptions, SqliteStore, Store};

use crate::fixtures::*;

#[tokio::test]
async fn receipts_stay_exact_when_the_writer_keeps_no_receipt_state_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::new(dir.path().join("t.db"));
    options.receipt_cache_bytes = 0;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(options).expect("store opens"));
    let ids = group_with_receipt_messages(&store, 50, 5).await;
    // Every reader twice, concurrently, so batches mix loads, repeats and evictions.
    let changed = every_reader_receipts_twice_at_once(&store, 50, &ids).await;
    assert_eq!(changed, 49 * ids.len(), "each reader is new exactly once");
    for state in store.group_receipts(&ids).await.unwrap() {
        assert_eq!(state.readers.len(), 49);
    }
}

#[tokio::test]
async fn a_write_waits_out_a_lock_another_connection_holds_for_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(SqliteOptions::new(&path)).expect("store opens"));
    store
        .append_message(c2c_message("first", "a", "b", 1))
        .await
        .unwrap();
    // Another connection holds the write lock for a moment, as SQLite itself does now and then
    // (a reader that finds the WAL index header mid-update takes it to check the header).
    let (locked, is_locked) = std::sync::mpsc::channel();
    let blocker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("second connection");
        conn.execute_batch("BEGIN IMMEDIATE").expect("write lock");
        locked.send(()).expect("test waits");
        std::thread::sleep(std::time::Duration::from_millis(300));
        conn.execute_batch("COMMIT").expect("lock released");
    });
    is_locked.recv().unwrap();
    // A C2C append reads the conversation's last sequence before it writes.
    let appended = store
        .append_message(c2c_message("second", "a", "b", 2))
        .await;
    blocker.join().unwrap();
    assert!(
        appended.is_ok(),
        "the write failed instead of waiting: {appended:?}"
    );
    assert_eq!(
        store.get_messages(&["second".into()]).await.unwrap().len(),
        1
    );
}
