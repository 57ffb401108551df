//! SQLite-only tests: the writer's receipt cache, waiting out another connection's lock, and
//! the schema versions of databases written by other builds.

use std::sync::Arc;

use tidings_store::{
    ConversationEntry, PartsLimits, SCHEMA_VERSION, SqliteOptions, SqliteStore, Store, StoreError,
};

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

/// Member ordinals of the fixture's group "team": alice (owner) 0, bob 1, carol 2, dave 3.
#[tokio::test]
async fn a_database_written_by_the_first_release_opens_with_all_its_data() {
    // Made by the first release (schema without a version) through the Store API: four users,
    // group "team", group messages g1 (alice) and g2 (bob) read by bob (g1) and carol (g1, g2),
    // C2C messages c1 (receipted) and c2, bob's C2C read position 1 and carol's group one 2.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tidings.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/store/fixtures/release-1.db"
        ),
        &path,
    )
    .unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(SqliteOptions::new(&path)).expect("the old database opens"));
    let mut users = store
        .get_users(&["alice".into(), "dave".into()])
        .await
        .unwrap();
    users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let nicks: Vec<&str> = users.iter().map(|u| u.profile.nick.as_str()).collect();
    assert_eq!(nicks, ["alice!", "dave!"]);
    let team = store.get_group("team").await.unwrap().expect("group kept");
    assert_eq!((team.last_seq, team.member_count), (2, 4));
    let mut states = store
        .group_receipts(&["g1".into(), "g2".into()])
        .await
        .unwrap();
    states.sort_by(|a, b| a.msg_id.cmp(&b.msg_id));
    let sets: Vec<(Vec<u32>, Vec<u32>)> = states
        .iter()
        .map(|s| (s.recipients.iter().collect(), s.readers.iter().collect()))
        .collect();
    assert_eq!(
        sets,
        [(vec![1, 2, 3], vec![1, 2]), (vec![0, 2, 3], vec![2])]
    );
    let bob = store
        .c2c_conversation("bob", "alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.read_seq, 1);
    assert_eq!(
        (bob.shown_read_seq, bob.shown_read_time),
        (bob.read_seq, bob.read_time),
        "the peer is shown the read position a first-release database held"
    );
    let carol = store.get_member("team", "carol").await.unwrap().unwrap();
    assert_eq!(carol.read_seq, 2);
    assert_eq!(
        store
            .record_c2c_receipts("bob", &["c1".into(), "c2".into()], 20)
            .await
            .unwrap()
            .newly,
        [false, true],
        "c1's receipt was kept"
    );
    // And it takes new writes under the new schema.
    let next = store
        .append_message(group_message("g3", "dave", "team", true))
        .await
        .unwrap();
    assert_eq!(next.seq, 3);
    // Existing conversations were numbered in the order of their activity, new activity
    // numbers come after them.
    let limits = PartsLimits {
        targeted_run: 10,
        mentions: 10,
    };
    let bobs = store
        .conversation_page_parts("bob", None, 10, limits)
        .await
        .unwrap();
    let order: Vec<(String, u64)> = bobs
        .iter()
        .map(|parts| match &parts.entry {
            ConversationEntry::C2c(c2c) => (format!("c2c:{}", c2c.peer), c2c.activity),
            ConversationEntry::Group(group, _) => {
                (format!("group:{}", group.group_id), group.activity)
            }
        })
        .collect();
    assert_eq!(order.len(), 2, "{order:?}");
    assert_eq!(order[0].0, "group:team");
    assert!(order[1].1 > 0 && order[0].1 > order[1].1, "{order:?}");
    store.check_health(30).await.unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[tokio::test]
async fn a_database_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tidings.db");
    drop(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let refused = SqliteStore::open(SqliteOptions::new(&path));
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
