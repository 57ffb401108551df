//! Store tests against a real SQLite file: group commit, sequences, membership ordinals,
//! receipt bitmaps, and durability across reopening.

use std::sync::Arc;

use tidings_store::{
    ConvKey, GroupRole, GroupType, NewGroup, NewMember, NewMessage, SqliteOptions, SqliteStore,
    StorageStats, Store, StoreError,
};

fn open(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    open_engine(dir)
}

fn open_engine(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(SqliteOptions::new(dir.path().join("t.db"))).expect("store opens"))
}

fn member(user: &str, role: GroupRole) -> NewMember {
    NewMember {
        user_id: user.into(),
        role,
        joined_at: 1,
    }
}

fn group_message(id: &str, sender: &str, group: &str, need_receipt: bool) -> NewMessage {
    NewMessage {
        msg_id: id.into(),
        sender: sender.into(),
        receiver: None,
        group_id: Some(group.into()),
        timestamp: 10,
        random: 0,
        need_receipt,
        excluded_unread: false,
        elem_type: 1,
        body: r#"{"text":"x"}"#.into(),
        cloud_custom_data: String::new(),
    }
}

fn c2c_message(id: &str, sender: &str, receiver: &str, timestamp: i64) -> NewMessage {
    NewMessage {
        receiver: Some(receiver.into()),
        group_id: None,
        timestamp,
        ..group_message(id, sender, "", false)
    }
}

async fn group_with(store: &Arc<dyn Store>, group: &str, users: &[&str]) {
    let members = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            member(
                u,
                if i == 0 {
                    GroupRole::Owner
                } else {
                    GroupRole::Member
                },
            )
        })
        .collect();
    let new = NewGroup {
        group_id: group.into(),
        group_type: GroupType::Work,
        name: "g".into(),
        owner: users[0].into(),
        created_at: 1,
    };
    store
        .create_group(new, members)
        .await
        .expect("group created");
}

/// Group "g" of `members` users `u0`… (`u0` owns it) and `messages` messages `m0`… from `u0`
/// asking for receipts; returns the message IDs.
async fn group_with_receipt_messages(
    store: &Arc<dyn Store>,
    members: usize,
    messages: usize,
) -> Vec<String> {
    let users: Vec<String> = (0..members).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    group_with(store, "g", &names).await;
    let ids: Vec<String> = (0..messages).map(|i| format!("m{i}")).collect();
    for id in &ids {
        store
            .append_message(group_message(id, "u0", "g", true))
            .await
            .expect("message appended");
    }
    ids
}

/// Every reader of [`group_with_receipt_messages`] receipts all `ids` twice, all calls at
/// once; returns how many (message, reader) pairs the calls reported as newly read.
async fn every_reader_receipts_twice_at_once(
    store: &Arc<dyn Store>,
    members: usize,
    ids: &[String],
) -> usize {
    let mut tasks = Vec::new();
    for user in (1..members).chain(1..members).map(|i| format!("u{i}")) {
        let (store, ids) = (Arc::clone(store), ids.to_vec());
        tasks.push(tokio::spawn(async move {
            store.record_group_receipts("g", &user, ids).await
        }));
    }
    let mut changed = 0;
    for task in tasks {
        changed += task
            .await
            .expect("receipt task ran")
            .expect("receipts recorded")
            .iter()
            .filter(|u| u.changed)
            .count();
    }
    changed
}

#[tokio::test]
async fn concurrent_group_sends_get_gapless_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b"]).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .append_message(group_message(&format!("m{i}"), "a", "g", false))
                .await
                .unwrap()
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    assert_eq!(store.get_group("g").await.unwrap().unwrap().last_seq, 200);
}

#[tokio::test]
async fn a_failed_write_in_a_batch_leaves_the_others_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b"]).await;
    let good = store.append_message(group_message("ok", "a", "g", false));
    let bad = store.append_message(group_message("bad", "stranger", "g", false));
    let (good, bad) = tokio::join!(good, bad);
    assert_eq!(good.unwrap().seq, 1);
    assert!(matches!(bad, Err(StoreError::NotMember { .. })));
    assert_eq!(
        store
            .get_messages(&["ok".into(), "bad".into()])
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn duplicate_group_ids_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a"]).await;
    let again = NewGroup {
        group_id: "g".into(),
        group_type: GroupType::Work,
        name: "x".into(),
        owner: "b".into(),
        created_at: 2,
    };
    assert!(matches!(
        store
            .create_group(again, vec![member("b", GroupRole::Owner)])
            .await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn ordinals_survive_leaving_and_rejoining() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b", "c"]).await;
    let before = store.get_member("g", "b").await.unwrap().unwrap().ordinal;
    assert_eq!(
        store
            .remove_members("g", &["b".into(), "zz".into()])
            .await
            .unwrap(),
        vec![true, false]
    );
    assert!(store.get_member("g", "b").await.unwrap().is_none());
    assert_eq!(store.get_group("g").await.unwrap().unwrap().member_count, 2);
    assert_eq!(
        store
            .add_members(
                "g",
                vec![
                    member("b", GroupRole::Member),
                    member("c", GroupRole::Member)
                ]
            )
            .await
            .unwrap(),
        vec![true, false]
    );
    assert_eq!(
        store.get_member("g", "b").await.unwrap().unwrap().ordinal,
        before
    );
    let listed: Vec<String> = store
        .list_members("g", 0, 10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    assert_eq!(listed, ["a", "b", "c"]);
}

#[tokio::test]
async fn receipt_recipients_are_the_members_at_send_time_minus_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b", "c"]).await;
    store
        .append_message(group_message("m", "a", "g", true))
        .await
        .unwrap();
    store
        .add_members("g", vec![member("late", GroupRole::Member)])
        .await
        .unwrap();
    let state = store.group_receipts(&["m".into()]).await.unwrap().remove(0);
    let b = store.get_member("g", "b").await.unwrap().unwrap().ordinal;
    let c = store.get_member("g", "c").await.unwrap().unwrap().ordinal;
    assert_eq!(state.recipients.iter().collect::<Vec<_>>(), vec![b, c]);
    assert!(state.readers.is_empty());
    assert!(matches!(
        store
            .record_group_receipts("g", "late", vec!["m".into()])
            .await,
        Err(StoreError::NotRecipient { .. })
    ));
}

#[tokio::test]
async fn group_receipts_count_each_reader_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_engine(&dir);
    let store: Arc<dyn Store> = engine.clone();
    group_with(&store, "g", &["a", "b", "c"]).await;
    store
        .append_message(group_message("m", "a", "g", true))
        .await
        .unwrap();
    let first = store
        .record_group_receipts("g", "b", vec!["m".into()])
        .await
        .unwrap()
        .remove(0);
    assert!(first.changed);
    assert_eq!((first.read_count, first.recipient_count), (1, 2));
    let again = store
        .record_group_receipts("g", "b", vec!["m".into()])
        .await
        .unwrap()
        .remove(0);
    assert!(!again.changed);
    assert_eq!(again.read_count, 1);
    assert!(engine.read_state_bytes().await.unwrap() > 0);
}

#[tokio::test]
async fn c2c_sequences_unread_and_read_positions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for (i, (from, to)) in [("a", "b"), ("b", "a"), ("a", "b")].into_iter().enumerate() {
        let record = store
            .append_message(c2c_message(&format!("c{i}"), from, to, 100 + i as i64))
            .await
            .unwrap();
        assert_eq!(record.seq, i as u64 + 1);
    }
    let conv = ConvKey::c2c("b", "a");
    assert_eq!(store.count_unread(&conv, 0, "b").await.unwrap(), 2);
    assert_eq!(
        store
            .c2c_conversation("b", "a")
            .await
            .unwrap()
            .unwrap()
            .read_seq,
        0,
        "sending does not move the read position"
    );
    assert_eq!(store.count_unread(&conv, 2, "b").await.unwrap(), 1);
    assert_eq!(store.seq_at_time(&conv, 101).await.unwrap(), 2);
    store.set_c2c_read("b", "a", 3, 102).await.unwrap();
    assert_eq!(
        store
            .c2c_conversation("b", "a")
            .await
            .unwrap()
            .unwrap()
            .read_seq,
        3
    );
    let history = store.history(&conv, Some(3), 10).await.unwrap();
    assert_eq!(
        history.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        store
            .record_c2c_receipts(&["c0".into(), "c0".into()], 5)
            .await
            .unwrap(),
        vec![true, false]
    );
}

#[tokio::test]
async fn everything_acknowledged_is_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        group_with(&store, "g", &["a", "b"]).await;
        store
            .append_message(group_message("m", "a", "g", true))
            .await
            .unwrap();
        store
            .record_group_receipts("g", "b", vec!["m".into()])
            .await
            .unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.get_group("g").await.unwrap().unwrap().last_seq, 1);
    assert_eq!(
        store.group_receipts(&["m".into()]).await.unwrap()[0]
            .readers
            .len(),
        1
    );
}

#[tokio::test]
async fn deleting_a_group_removes_its_messages_and_members() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b"]).await;
    store
        .append_message(group_message("m", "a", "g", true))
        .await
        .unwrap();
    store.delete_group("g").await.unwrap();
    assert!(store.get_group("g").await.unwrap().is_none());
    assert!(store.get_messages(&["m".into()]).await.unwrap().is_empty());
    assert!(store.joined_groups("a").await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_receipts_on_the_same_messages_all_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let ids = group_with_receipt_messages(&store, 200, 2).await;
    let changed = every_reader_receipts_twice_at_once(&store, 200, &ids).await;
    assert_eq!(
        changed,
        2 * 199,
        "each reader is new exactly once per message"
    );
    for state in store.group_receipts(&ids).await.unwrap() {
        assert_eq!(state.readers.len(), 199);
        assert_eq!(state.recipients.len(), 199);
    }
}

#[tokio::test]
async fn a_refused_receipt_records_nothing_even_in_a_shared_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b", "c"]).await;
    store
        .append_message(group_message("early", "a", "g", true))
        .await
        .unwrap();
    store
        .add_members("g", vec![member("late", GroupRole::Member)])
        .await
        .unwrap();
    store
        .append_message(group_message("later", "a", "g", true))
        .await
        .unwrap();
    let late = store
        .get_member("g", "late")
        .await
        .unwrap()
        .unwrap()
        .ordinal;
    let b = store.get_member("g", "b").await.unwrap().unwrap().ordinal;
    let ids = vec!["later".to_owned(), "early".to_owned()];
    let (refused, accepted) = tokio::join!(
        store.record_group_receipts("g", "late", ids.clone()),
        store.record_group_receipts("g", "b", ids.clone())
    );
    assert!(matches!(refused, Err(StoreError::NotRecipient { .. })));
    assert!(accepted.unwrap().iter().all(|u| u.changed));
    let states = store.group_receipts(&ids).await.unwrap();
    let later = states.iter().find(|s| s.msg_id == "later").unwrap();
    assert!(
        !later.readers.contains(late),
        "the refused call left no trace"
    );
    assert_eq!(later.readers.iter().collect::<Vec<_>>(), vec![b]);
}

#[tokio::test]
async fn a_receipt_is_refused_to_non_members_and_for_other_groups_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b", "c"]).await;
    group_with(&store, "h", &["x", "y"]).await;
    store
        .append_message(group_message("m", "a", "g", true))
        .await
        .unwrap();
    assert!(matches!(
        store
            .record_group_receipts("g", "x", vec!["m".into()])
            .await,
        Err(StoreError::NotMember { .. })
    ));
    assert!(matches!(
        store
            .record_group_receipts("nope", "b", vec!["m".into()])
            .await,
        Err(StoreError::NotFound(_))
    ));
    // y's ordinal in h equals b's in g: the message of g must still be refused through h.
    assert!(matches!(
        store
            .record_group_receipts("h", "y", vec!["m".into()])
            .await,
        Err(StoreError::NotRecipient { .. })
    ));
    store
        .append_message(group_message("plain", "a", "g", false))
        .await
        .unwrap();
    for no_state in ["plain", "no-such-message"] {
        assert!(matches!(
            store
                .record_group_receipts("g", "b", vec![no_state.into()])
                .await,
            Err(StoreError::NotRecipient { .. })
        ));
    }
    store.remove_members("g", &["c".to_owned()]).await.unwrap();
    assert!(matches!(
        store
            .record_group_receipts("g", "c", vec!["m".into()])
            .await,
        Err(StoreError::NotMember { .. })
    ));
    let states = store.group_receipts(&["m".into()]).await.unwrap();
    assert!(states[0].readers.is_empty(), "refused calls left no trace");
}

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
async fn a_deleted_groups_messages_take_no_receipts_even_when_the_group_is_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with(&store, "g", &["a", "b", "c"]).await;
    store
        .append_message(group_message("old", "a", "g", true))
        .await
        .unwrap();
    // The writer now holds the receipt state of "old".
    store
        .record_group_receipts("g", "b", vec!["old".into()])
        .await
        .unwrap();
    store.delete_group("g").await.unwrap();
    group_with(&store, "g", &["a", "b", "c"]).await;
    assert!(matches!(
        store
            .record_group_receipts("g", "c", vec!["old".into()])
            .await,
        Err(StoreError::NotRecipient { .. })
    ));
    assert!(
        store
            .group_receipts(&["old".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

/// Receipts `m0` of [`group_with_receipt_messages`] for `u1`…`u{readers}`, one call at a time,
/// so that every batch changes the state the writer holds and writes it back.
async fn read_one_at_a_time(store: &Arc<dyn Store>, readers: usize) {
    for user in (1..=readers).map(|i| format!("u{i}")) {
        store
            .record_group_receipts("g", &user, vec!["m0".into()])
            .await
            .expect("receipt recorded");
    }
}

#[tokio::test]
async fn receipt_state_held_by_the_writer_is_what_a_reopened_store_reads() {
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<u32> = {
        let store = open(&dir);
        group_with_receipt_messages(&store, 300, 1).await;
        // Not every recipient: the last batches' readers are still delta rows, not folded.
        read_one_at_a_time(&store, 250).await;
        store.group_receipts(&["m0".into()]).await.unwrap()[0]
            .readers
            .iter()
            .collect()
    };
    assert_eq!(written.len(), 250);
    let store = open(&dir);
    let state = &store.group_receipts(&["m0".into()]).await.unwrap()[0];
    assert_eq!(state.readers.iter().collect::<Vec<_>>(), written);
    assert_eq!(state.recipients.len(), 299);
}

#[tokio::test]
async fn a_message_every_recipient_read_is_stored_compactly() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_engine(&dir);
    let store: Arc<dyn Store> = engine.clone();
    group_with_receipt_messages(&store, 300, 1).await;
    read_one_at_a_time(&store, 298).await;
    let almost = engine.read_state_bytes().await.unwrap();
    read_one_at_a_time(&store, 299).await;
    let settled = engine.read_state_bytes().await.unwrap();
    // Two run-compressed bitmaps of 0..299 and the ID: no delta rows, no array of 299 ordinals.
    assert!(
        settled < 64,
        "a fully read message takes {settled} bytes (before the last reader: {almost})"
    );
    let state = &store.group_receipts(&["m0".into()]).await.unwrap()[0];
    assert_eq!((state.readers.len(), state.recipients.len()), (299, 299));
}

#[tokio::test]
async fn a_write_waits_out_a_lock_another_connection_holds_for_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .append_message(c2c_message("first", "a", "b", 1))
        .await
        .unwrap();
    // Another connection holds the write lock for a moment, as SQLite itself does now and then
    // (a reader that finds the WAL index header mid-update takes it to check the header).
    let path = dir.path().join("t.db");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_read_while_receipts_are_folded_never_go_down() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    group_with_receipt_messages(&store, 600, 1).await;
    let writer = {
        let store = Arc::clone(&store);
        // One receipt per batch: every 15th folds the deltas into the blob.
        tokio::spawn(async move { read_one_at_a_time(&store, 599).await })
    };
    let mut watchers = Vec::new();
    for _ in 0..3 {
        let (store, writer_done) = (Arc::clone(&store), writer.abort_handle());
        watchers.push(tokio::spawn(async move {
            let mut last = 0;
            while !writer_done.is_finished() {
                let state = &store.group_receipts(&["m0".into()]).await.unwrap()[0];
                let count = state.readers.len();
                assert!(count >= last, "a count went down from {last} to {count}");
                last = count;
            }
        }));
    }
    writer.await.unwrap();
    for watcher in watchers {
        watcher.await.unwrap();
    }
}
