//! The conformance cases: what every engine must do, each run unchanged against SQLite and
//! PostgreSQL (see `main.rs`).

use std::sync::Arc;

use tidings_store::{ConvKey, GroupRole, GroupType, NewGroup, RoaringBitmap, StoreError};

use crate::engine::TestEngine;
use crate::fixtures::*;
pub(crate) use crate::model::read_state_matches_a_model_of_sends_receipts_joins_and_leaves;

pub(crate) async fn concurrent_group_sends_get_gapless_sequences(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn a_failed_write_in_a_batch_leaves_the_others_committed(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn duplicate_group_ids_conflict(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn ordinals_survive_leaving_and_rejoining(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn receipt_recipients_are_the_members_at_send_time_minus_the_sender(
    engine: TestEngine,
) {
    let store = engine.store();
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

pub(crate) async fn group_receipts_count_each_reader_once(engine: TestEngine) {
    let store = engine.store();
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
}

pub(crate) async fn c2c_sequences_unread_and_read_positions(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn everything_acknowledged_is_there_after_reopening(mut engine: TestEngine) {
    {
        let store = engine.store();
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
    engine.reopen().await;
    let store = engine.store();
    assert_eq!(store.get_group("g").await.unwrap().unwrap().last_seq, 1);
    assert_eq!(
        store.group_receipts(&["m".into()]).await.unwrap()[0]
            .readers
            .len(),
        1
    );
}

pub(crate) async fn deleting_a_group_removes_its_messages_and_members(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn concurrent_receipts_on_the_same_messages_all_count_once(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn a_refused_receipt_records_nothing_even_in_a_shared_batch(engine: TestEngine) {
    let store = engine.store();
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

pub(crate) async fn a_receipt_is_refused_to_non_members_and_for_other_groups_messages(
    engine: TestEngine,
) {
    let store = engine.store();
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

pub(crate) async fn a_deleted_groups_messages_take_no_receipts_even_when_the_group_is_recreated(
    engine: TestEngine,
) {
    let store = engine.store();
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

pub(crate) async fn receipt_state_held_by_the_writer_is_what_a_reopened_store_reads(
    mut engine: TestEngine,
) {
    let written: Vec<u32> = {
        let store = engine.store();
        group_with_receipt_messages(&store, 300, 1).await;
        // Not every recipient: the last batches' readers are still delta rows, not folded.
        read_one_at_a_time(&store, 250).await;
        store.group_receipts(&["m0".into()]).await.unwrap()[0]
            .readers
            .iter()
            .collect()
    };
    assert_eq!(written.len(), 250);
    engine.reopen().await;
    let store = engine.store();
    let state = &store.group_receipts(&["m0".into()]).await.unwrap()[0];
    assert_eq!(state.readers.iter().collect::<Vec<_>>(), written);
    assert_eq!(state.recipients.len(), 299);
}

pub(crate) async fn a_message_every_recipient_read_is_stored_compactly(engine: TestEngine) {
    let store = engine.store();
    group_with_receipt_messages(&store, 300, 1).await;
    read_one_at_a_time(&store, 299).await;
    let settled = engine.stats().read_state_bytes().await.unwrap();
    let state = &store.group_receipts(&["m0".into()]).await.unwrap()[0];
    assert_eq!((state.readers.len(), state.recipients.len()), (299, 299));
    // The two sets as stored, each one run of 299 ordinals, and the ID: nothing else (no
    // unfolded additions, no array of 299 ordinals).
    assert!(state.recipients.iter().eq(1..300) && state.readers.iter().eq(1..300));
    let mut run = RoaringBitmap::from_iter(1..300);
    run.optimize();
    assert_eq!(
        settled,
        2 * run.serialized_size() as u64 + "m0".len() as u64
    );
    assert!(settled < 64, "a fully read message takes {settled} bytes");
}

pub(crate) async fn counts_read_while_receipts_are_folded_never_go_down(engine: TestEngine) {
    let store = engine.store();
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
            let (mut last, mut seen) = (0, std::collections::BTreeSet::new());
            while !writer_done.is_finished() {
                let state = &store.group_receipts(&["m0".into()]).await.unwrap()[0];
                let count = state.readers.len();
                assert!(count >= last, "a count went down from {last} to {count}");
                last = count;
                seen.insert(count);
            }
            seen
        }));
    }
    writer.await.unwrap();
    for watcher in watchers {
        let seen = watcher.await.unwrap();
        // Reads that all came before or after the writer would prove nothing.
        assert!(
            seen.iter().any(|&count| count > 0 && count < 599),
            "a watcher saw no count while the writer ran: {seen:?}"
        );
    }
}

pub(crate) async fn settings_are_replaced_by_name_and_kept_across_reopening(
    mut engine: TestEngine,
) {
    let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    };
    {
        let store = engine.store();
        assert_eq!(store.settings().await.unwrap(), pairs(&[]));
        store
            .put_settings(&pairs(&[("webhook", "{\"url\":\"\"}"), ("receipts", "on")]))
            .await
            .unwrap();
        store
            .put_settings(&pairs(&[("webhook", "{\"url\":\"http://h/\"}")]))
            .await
            .unwrap();
    }
    engine.reopen().await;
    assert_eq!(
        engine.store().settings().await.unwrap(),
        pairs(&[("receipts", "on"), ("webhook", "{\"url\":\"http://h/\"}")])
    );
}

pub(crate) async fn revoked_user_sigs_move_only_later_and_outlive_the_user(mut engine: TestEngine) {
    {
        let store = engine.store();
        store.ensure_user("a", None, 1).await.unwrap();
        assert_eq!(store.user_sigs_not_before("a").await.unwrap(), 0);
        store
            .revoke_user_sigs(&["a".into(), "b".into(), "a".into()], 100)
            .await
            .unwrap();
        store.revoke_user_sigs(&["a".into()], 50).await.unwrap();
        assert_eq!(store.delete_users(&["a".into()]).await.unwrap(), [true]);
        store.revoke_user_sigs(&["b".into()], 200).await.unwrap();
    }
    engine.reopen().await;
    let store = engine.store();
    assert_eq!(store.user_sigs_not_before("a").await.unwrap(), 100);
    assert_eq!(store.user_sigs_not_before("b").await.unwrap(), 200);
    assert_eq!(store.user_sigs_not_before("c").await.unwrap(), 0);
}
