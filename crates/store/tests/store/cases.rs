//! The conformance cases: what every engine must do, each run unchanged against SQLite and
//! PostgreSQL (see `main.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use tidings_store::{
    C2cConversationRecord, C2cReceiptsRecorded, ConvKey, ConversationEntry, Gender, GroupCounts,
    GroupReceiptUpdate, GroupRole, GroupType, Mention, NewGroup, NewMessage, PartsLimits,
    ProfileUpdate, ProfileUpdated, ReadMoved, ReadScope, Revocation, RoaringBitmap, Store,
    StoreError, TargetedSeq, UserCard, UserProfile,
};

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
            .record_c2c_receipts("b", &["c0".into(), "c0".into()], 5)
            .await
            .unwrap()
            .newly,
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

pub(crate) async fn status_subscriptions_keep_the_latest_within_the_cap_and_custom_statuses_clear(
    mut engine: TestEngine,
) {
    let ids = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    {
        let store = engine.store();
        store
            .subscribe_user_status("a", &ids(&["x", "y", "x", "z"]), 100, 3)
            .await
            .unwrap();
        // x took its last place: y, x, z.
        assert_eq!(
            store.status_subscriptions("a").await.unwrap(),
            ids(&["y", "x", "z"])
        );
        store
            .subscribe_user_status("a", &ids(&["w"]), 200, 3)
            .await
            .unwrap();
        // Beyond the cap the earliest (y) went.
        assert_eq!(
            store.status_subscriptions("a").await.unwrap(),
            ids(&["x", "z", "w"])
        );
        store
            .subscribe_user_status("a", &ids(&["x"]), 300, 3)
            .await
            .unwrap();
        assert_eq!(
            store.status_subscriptions("a").await.unwrap(),
            ids(&["z", "w", "x"])
        );
        store
            .subscribe_user_status("b", &ids(&["x"]), 50, 3)
            .await
            .unwrap();
        assert_eq!(
            store.status_subscribers("x").await.unwrap(),
            ids(&["a", "b"])
        );
        assert_eq!(
            store.status_subscribers("y").await.unwrap(),
            Vec::<String>::new()
        );
        store
            .unsubscribe_user_status("a", &ids(&["z", "nobody"]))
            .await
            .unwrap();
        assert_eq!(
            store.status_subscriptions("a").await.unwrap(),
            ids(&["w", "x"])
        );
        store.unsubscribe_user_status("b", &[]).await.unwrap();
        assert_eq!(store.status_subscribers("x").await.unwrap(), ids(&["a"]));

        assert!(store.set_custom_status("a", "busy").await.unwrap());
        assert!(!store.set_custom_status("a", "busy").await.unwrap());
        assert!(store.set_custom_status("b", "away").await.unwrap());
        assert!(store.set_custom_status("b", "").await.unwrap());
        assert!(!store.set_custom_status("c", "").await.unwrap());
    }
    engine.reopen().await;
    let store = engine.store();
    assert_eq!(
        store.status_subscriptions("a").await.unwrap(),
        ids(&["w", "x"])
    );
    assert_eq!(
        store.custom_statuses(&ids(&["b", "a", "c"])).await.unwrap(),
        ids(&["", "busy", ""])
    );
}

/// A page of the owner's conversation list, its entries only.
async fn page(
    store: &Arc<dyn Store>,
    owner: &str,
    before: Option<u64>,
    limit: u32,
) -> Vec<ConversationEntry> {
    let limits = PartsLimits {
        targeted_run: 10,
        mentions: 10,
    };
    let parts = store.conversation_page_parts(owner, before, limit, limits);
    parts.await.unwrap().into_iter().map(|p| p.entry).collect()
}

/// The names of a conversation page's entries: `c2c:<peer>` or `group:<id>`.
fn entry_names(entries: &[ConversationEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| match entry {
            ConversationEntry::C2c(c2c) => format!("c2c:{}", c2c.peer),
            ConversationEntry::Group(group, _) => format!("group:{}", group.group_id),
        })
        .collect()
}

pub(crate) async fn the_conversation_list_is_read_by_activity_and_pages_stay_stable_while_conversations_move(
    engine: TestEngine,
) {
    let store = engine.store();
    group_with(&store, "g1", &["a", "b"]).await;
    group_with(&store, "g2", &["c", "a"]).await;
    group_with(&store, "other", &["c", "d"]).await;
    store
        .append_message(c2c_message("m1", "a", "b", 100))
        .await
        .unwrap();
    store
        .append_message(group_message("m2", "b", "g1", false))
        .await
        .unwrap();
    store
        .append_message(c2c_message("m3", "c", "a", 90))
        .await
        .unwrap();
    store
        .append_message(group_message("m4", "d", "other", false))
        .await
        .unwrap();
    // Newest activity first, whatever the message times say: c2c:c, group:g1, c2c:b, group:g2.
    let all = page(&store, "a", None, 10).await;
    assert_eq!(
        entry_names(&all),
        vec!["c2c:c", "group:g1", "c2c:b", "group:g2"]
    );
    let activities: Vec<u64> = all.iter().map(ConversationEntry::activity).collect();
    assert!(activities.windows(2).all(|w| w[0] > w[1]), "{activities:?}");
    if let ConversationEntry::Group(group, member) = &all[1] {
        assert_eq!((group.last_seq, member.user_id.as_str()), (1, "a"));
    } else {
        panic!("second entry is g1");
    }
    // Both sides of a C2C conversation take the same number.
    let c_side = page(&store, "c", None, 10).await;
    assert_eq!(
        entry_names(&c_side),
        vec!["group:other", "c2c:a", "group:g2"]
    );
    assert_eq!(c_side[1].activity(), all[0].activity());

    let first = page(&store, "a", None, 2).await;
    assert_eq!(entry_names(&first), vec!["c2c:c", "group:g1"]);
    // g2 moves to the front between pages: the next page neither repeats nor skips.
    store
        .append_message(group_message("m5", "c", "g2", false))
        .await
        .unwrap();
    let cursor = first.last().unwrap().activity();
    let second = page(&store, "a", Some(cursor), 2).await;
    assert_eq!(entry_names(&second), vec!["c2c:b"]);
    assert_eq!(
        entry_names(&page(&store, "a", None, 1).await),
        vec!["group:g2"]
    );
    // A group left is no longer listed; one never joined never was.
    store.remove_members("g1", &["a".into()]).await.unwrap();
    assert_eq!(
        entry_names(&page(&store, "a", None, 10).await),
        vec!["group:g2", "c2c:c", "c2c:b"]
    );
    assert!(page(&store, "nobody", None, 10).await.is_empty());
}

pub(crate) async fn a_pages_parts_are_what_reads_one_at_a_time_give(engine: TestEngine) {
    let store = engine.store();
    // c2c:b: two unread from b, one of a's, and b read a's (shown to a).
    for (id, sender, receiver) in [("c1", "b", "a"), ("c2", "a", "b"), ("c3", "b", "a")] {
        store
            .append_message(c2c_message(id, sender, receiver, 50))
            .await
            .unwrap();
    }
    assert!(store.set_c2c_read("b", "a", 2, 60).await.unwrap());
    // g: a mention of a, a message targeted at c only, then one asking for receipts that c read.
    group_with(&store, "g", &["b", "a", "c"]).await;
    store
        .append_message(NewMessage {
            at_users: vec!["a".into()],
            ..group_message("g1", "b", "g", false)
        })
        .await
        .unwrap();
    store
        .append_message(NewMessage {
            targets: vec!["c".into()],
            ..group_message("g2", "b", "g", false)
        })
        .await
        .unwrap();
    store
        .append_message(group_message("g3", "b", "g", true))
        .await
        .unwrap();
    store
        .record_group_receipts("g", "c", vec!["g3".into()])
        .await
        .unwrap();
    // An AVChatRoom with a message, and a group without any.
    store
        .create_group(
            NewGroup {
                group_id: "live".into(),
                group_type: GroupType::AvChatRoom,
                name: "live".into(),
                owner: "b".into(),
                created_at: 1,
            },
            vec![
                member("b", GroupRole::Owner),
                member("a", GroupRole::Member),
            ],
        )
        .await
        .unwrap();
    store
        .append_message(group_message("l1", "b", "live", false))
        .await
        .unwrap();
    group_with(&store, "quiet", &["a"]).await;
    store
        .append_message(c2c_message("d1", "d", "a", 70))
        .await
        .unwrap();

    let limits = PartsLimits {
        targeted_run: 10,
        mentions: 10,
    };
    let parts = store
        .conversation_page_parts("a", None, 10, limits)
        .await
        .unwrap();
    let entries: Vec<ConversationEntry> = parts.iter().map(|p| p.entry.clone()).collect();
    assert_eq!(
        entry_names(&entries),
        vec!["c2c:d", "group:quiet", "group:live", "group:g", "c2c:b"]
    );
    let summary: Vec<(u64, Option<&str>, u64)> = parts
        .iter()
        .map(|p| {
            let last = p.last.as_ref().map(|r| r.message.msg_id.as_str());
            (p.unread, last, p.peer_shown_read_seq)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, Some("d1"), 0),
            (0, None, 0),
            (0, Some("l1"), 0),
            (3, Some("g3"), 0),
            (2, Some("c3"), 2),
        ]
    );
    let g = &parts[3];
    assert_eq!(
        g.last_receipts
            .as_ref()
            .map(|r| r.readers.iter().collect::<Vec<_>>()),
        Some(vec![2])
    );
    assert_eq!(
        g.targeted_run,
        vec![TargetedSeq {
            seq: 2,
            sender: "b".into(),
            targets: vec!["c".into()],
        }]
    );
    assert_eq!(
        g.mentions,
        vec![Mention {
            seq: 1,
            me: true,
            all: false,
        }]
    );
    // Each part is what the reads one at a time give.
    for p in &parts {
        let (conv, read_seq) = match &p.entry {
            ConversationEntry::C2c(mine) => (ConvKey::c2c("a", &mine.peer), mine.read_seq),
            ConversationEntry::Group(group, member) => {
                (ConvKey::Group(group.group_id.clone()), member.read_seq)
            }
        };
        assert_eq!(
            p.last,
            store.history(&conv, None, 1).await.unwrap().pop(),
            "{conv:?}"
        );
        if let ConversationEntry::Group(group, _) = &p.entry
            && group.group_type != GroupType::AvChatRoom
        {
            assert_eq!(
                p.unread,
                store.count_unread(&conv, read_seq, "a").await.unwrap()
            );
        }
    }
    assert_eq!(
        g.last_receipts,
        store.group_receipts(&["g3".into()]).await.unwrap().pop()
    );
    assert_eq!(
        g.targeted_run,
        store.targeted_before("g", 3, 10).await.unwrap()
    );
    assert_eq!(
        g.mentions,
        store.mentions_after("g", 0, "a", 10).await.unwrap()
    );

    // Pages follow the cursor, and the limits cut the lists.
    let cursor = parts[1].entry.activity();
    let next = store
        .conversation_page_parts(
            "a",
            Some(cursor),
            2,
            PartsLimits {
                targeted_run: 0,
                mentions: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|p| p.entry.clone()).collect::<Vec<_>>(),
        entries[2..4].to_vec()
    );
    assert_eq!(
        (
            next[1].targeted_run.len(),
            next[1].mentions.len(),
            next[1].unread
        ),
        (0, 0, 3)
    );
    assert!(
        store
            .conversation_page_parts("nobody", None, 10, limits)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn batched_unread_reads_agree_with_one_at_a_time(engine: TestEngine) {
    let store = engine.store();
    group_with(&store, "g", &["b", "a", "c"]).await;
    group_with(&store, "h", &["a"]).await;
    for (i, sender) in ["b", "b", "a", "c"].into_iter().enumerate() {
        store
            .append_message(group_message(&format!("g{i}"), sender, "g", false))
            .await
            .unwrap();
    }
    store
        .append_message(group_message("h0", "a", "h", false))
        .await
        .unwrap();
    store
        .append_message(c2c_message("c1", "b", "a", 100))
        .await
        .unwrap();
    store.set_group_read_seq("g", "c", 2).await.unwrap();
    store.remove_members("g", &["b".to_owned()]).await.unwrap();

    let users: Vec<String> = ["c", "nobody", "a", "b"].map(String::from).to_vec();
    let views = store.members_unread("g", &users).await.unwrap();
    let summary: Vec<(String, u64, u64)> = views
        .iter()
        .map(|(m, unread)| (m.user_id.clone(), m.read_seq, *unread))
        .collect();
    // In join order, current members only: a (g0, g1, g3 unread), c (read to 2: g2 by a
    // unread, g3 its own).
    assert_eq!(
        summary,
        vec![("a".to_owned(), 0, 3), ("c".to_owned(), 2, 1)]
    );
    for (member, unread) in &views {
        let one = store.get_member("g", &member.user_id).await.unwrap();
        assert_eq!(one.as_ref(), Some(member));
        let conv = ConvKey::Group("g".into());
        let counted = store
            .count_unread(&conv, member.read_seq, &member.user_id)
            .await
            .unwrap();
        assert_eq!(counted, *unread, "{}", member.user_id);
    }

    let totals = store.total_unread_of(&users).await.unwrap();
    let mut one_at_a_time = Vec::new();
    for user in &users {
        one_at_a_time.push(store.total_unread(user).await.unwrap());
    }
    assert_eq!(totals, one_at_a_time);
    // b left the group and sent c1 itself.
    assert_eq!(totals, vec![1, 0, 4, 0]);
    assert_eq!(store.total_unread_of(&[]).await.unwrap(), Vec::<u64>::new());
    assert!(store.members_unread("g", &[]).await.unwrap().is_empty());
}

pub(crate) async fn total_unread_and_marking_everything_read_cover_every_conversation(
    engine: TestEngine,
) {
    let store = engine.store();
    group_with(&store, "g", &["b", "a"]).await;
    for (i, sender) in ["b", "b", "a"].into_iter().enumerate() {
        store
            .append_message(group_message(&format!("g{i}"), sender, "g", false))
            .await
            .unwrap();
    }
    let mut excluded = group_message("gx", "b", "g", false);
    excluded.excluded_unread = true;
    store.append_message(excluded).await.unwrap();
    store
        .append_message(c2c_message("c1", "b", "a", 100))
        .await
        .unwrap();
    store
        .append_message(c2c_message("c2", "c", "a", 101))
        .await
        .unwrap();
    store
        .append_message(c2c_message("c3", "a", "c", 102))
        .await
        .unwrap();
    store
        .append_message(c2c_message("c4", "a", "d", 103))
        .await
        .unwrap();
    // Group: g0, g1 (own and excluded messages do not count); C2C: c1, c2.
    assert_eq!(store.total_unread("a").await.unwrap(), 4);
    assert_eq!(store.total_unread("b").await.unwrap(), 1);
    store.set_c2c_read("a", "b", 1, 150).await.unwrap();
    assert_eq!(store.total_unread("a").await.unwrap(), 3);

    // Only C2C conversations behind their last message move; the group stays unread.
    let moved = store
        .mark_all_read(
            "a",
            ReadScope {
                c2c: true,
                groups: false,
            },
            200,
        )
        .await
        .unwrap();
    let mut moved_peers: Vec<(String, u64, i64)> = moved
        .iter()
        .map(|m| match m {
            ReadMoved::C2c {
                peer,
                read_seq,
                read_time,
                shown,
            } => {
                assert!(shown, "a user who never chose private receipts is shown");
                (peer.clone(), *read_seq, *read_time)
            }
            ReadMoved::Group { .. } => panic!("no group in a C2C scope"),
        })
        .collect();
    moved_peers.sort();
    assert_eq!(
        moved_peers,
        vec![("c".to_owned(), 2, 200), ("d".to_owned(), 1, 200)]
    );
    assert_eq!(store.total_unread("a").await.unwrap(), 2);
    let moved = store
        .mark_all_read(
            "a",
            ReadScope {
                c2c: true,
                groups: true,
            },
            300,
        )
        .await
        .unwrap();
    assert_eq!(
        moved,
        vec![ReadMoved::Group {
            group_id: "g".into(),
            read_seq: 4
        }]
    );
    assert_eq!(store.total_unread("a").await.unwrap(), 0);
    assert_eq!(
        store.get_member("g", "a").await.unwrap().unwrap().read_seq,
        4
    );
    let c = store.c2c_conversation("a", "c").await.unwrap().unwrap();
    assert_eq!((c.read_seq, c.read_time), (2, 200));
    // A second call finds nothing behind.
    assert!(
        store
            .mark_all_read(
                "a",
                ReadScope {
                    c2c: true,
                    groups: true
                },
                400
            )
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn an_avchatroom_counts_no_unread_messages(engine: TestEngine) {
    let store = engine.store();
    store
        .create_group(
            NewGroup {
                group_id: "live".into(),
                group_type: GroupType::AvChatRoom,
                name: "live".into(),
                owner: "b".into(),
                created_at: 1,
            },
            vec![
                member("b", GroupRole::Owner),
                member("a", GroupRole::Member),
            ],
        )
        .await
        .unwrap();
    store
        .append_message(group_message("l1", "b", "live", false))
        .await
        .unwrap();
    assert_eq!(store.total_unread("a").await.unwrap(), 0);
}

pub(crate) async fn joined_groups_come_page_by_page_and_are_counted(engine: TestEngine) {
    let store = engine.store();
    group_with(&store, "g3", &["a", "b"]).await;
    group_with(&store, "g1", &["b", "a"]).await;
    group_with(&store, "g2", &["a"]).await;
    group_with(&store, "g4", &["b"]).await;
    let first = store.joined_groups_page("a", "", 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|(g, m)| (g.group_id.as_str(), m.user_id.as_str(), m.role))
            .collect::<Vec<_>>(),
        vec![
            ("g1", "a", GroupRole::Member),
            ("g2", "a", GroupRole::Owner)
        ]
    );
    let second = store.joined_groups_page("a", "g2", 2).await.unwrap();
    assert_eq!(
        second
            .iter()
            .map(|(g, _)| g.group_id.as_str())
            .collect::<Vec<_>>(),
        vec!["g3"]
    );
    assert_eq!(
        store.group_counts("a").await.unwrap(),
        GroupCounts {
            owned: 2,
            joined: 3
        }
    );
    store.remove_members("g1", &["a".into()]).await.unwrap();
    store.delete_group("g2").await.unwrap();
    assert_eq!(
        store.group_counts("a").await.unwrap(),
        GroupCounts {
            owned: 1,
            joined: 1
        }
    );
}

fn revocation(by: &str, at: i64) -> Revocation {
    Revocation {
        by: by.into(),
        at,
        reason: "typo".into(),
    }
}

pub(crate) async fn a_recalled_message_keeps_its_place_and_loses_its_content(engine: TestEngine) {
    let store = engine.store();
    let mut sent = c2c_message("c1", "a", "b", 10);
    sent.cloud_custom_data = "app data".into();
    store.append_message(sent).await.unwrap();
    store
        .append_message(c2c_message("c2", "b", "a", 11))
        .await
        .unwrap();
    assert_eq!(
        store
            .revoke_message("nope", revocation("a", 20))
            .await
            .unwrap(),
        None
    );

    let (record, changed) = store
        .revoke_message("c1", revocation("a", 20))
        .await
        .unwrap()
        .unwrap();
    assert!(changed);
    assert_eq!(record.seq, 1);
    assert_eq!(record.revoked, Some(revocation("a", 20)));
    assert_eq!(record.message.body, "");
    assert_eq!(record.message.cloud_custom_data, "");
    assert_eq!(record.message.sender, "a");

    // A second recall changes nothing and keeps the first one's facts.
    let (again, changed) = store
        .revoke_message("c1", revocation("admin", 30))
        .await
        .unwrap()
        .unwrap();
    assert!(!changed);
    assert_eq!(again.revoked, Some(revocation("a", 20)));

    let history = store
        .history(&ConvKey::c2c("a", "b"), None, 10)
        .await
        .unwrap();
    let seen: Vec<(u64, bool)> = history
        .iter()
        .map(|r| (r.seq, r.revoked.is_some()))
        .collect();
    assert_eq!(seen, vec![(2, false), (1, true)]);
    let read_back = store.get_messages(&["c1".into()]).await.unwrap();
    assert_eq!(read_back[0].revoked, Some(revocation("a", 20)));
}

pub(crate) async fn a_recalled_message_takes_no_receipts_but_keeps_its_counts(engine: TestEngine) {
    let store = engine.store();
    group_with(&store, "g", &["a", "b", "c"]).await;
    store
        .append_message(group_message("g1", "a", "g", true))
        .await
        .unwrap();
    store
        .append_message(group_message("g2", "a", "g", true))
        .await
        .unwrap();
    store
        .record_group_receipts("g", "b", vec!["g1".into()])
        .await
        .unwrap();
    store
        .revoke_message("g1", revocation("a", 20))
        .await
        .unwrap();

    // Refused whole: g2 is not recorded either.
    let refused = store
        .record_group_receipts("g", "c", vec!["g2".into(), "g1".into()])
        .await;
    assert!(matches!(refused, Err(StoreError::Revoked { msg_id }) if msg_id == "g1"));
    let states = store
        .group_receipts(&["g1".into(), "g2".into()])
        .await
        .unwrap();
    let counts: Vec<(&str, u64, u64, bool)> = states
        .iter()
        .map(|s| {
            (
                s.msg_id.as_str(),
                s.readers.len(),
                s.recipients.len(),
                s.revoked,
            )
        })
        .collect();
    assert_eq!(counts, vec![("g1", 1, 2, true), ("g2", 0, 2, false)]);
    // The message that was not recalled still takes receipts.
    let updates = store
        .record_group_receipts("g", "c", vec!["g2".into()])
        .await
        .unwrap();
    assert_eq!(updates[0].read_count, 1);

    // C2C: same refusal, nothing recorded.
    store
        .append_message(c2c_message("c1", "a", "b", 10))
        .await
        .unwrap();
    store
        .append_message(c2c_message("c2", "a", "b", 11))
        .await
        .unwrap();
    store
        .revoke_message("c1", revocation("a", 20))
        .await
        .unwrap();
    let refused = store
        .record_c2c_receipts("b", &["c2".into(), "c1".into()], 30)
        .await;
    assert!(matches!(refused, Err(StoreError::Revoked { msg_id }) if msg_id == "c1"));
    let c2 = store.get_messages(&["c2".into()]).await.unwrap();
    assert_eq!(c2[0].receipt_at, None);
    assert_eq!(
        store
            .record_c2c_receipts("b", &["c2".into()], 30)
            .await
            .unwrap()
            .newly,
        vec![true]
    );
}

pub(crate) async fn receipts_racing_a_recall_are_all_recorded_before_it_or_refused(
    engine: TestEngine,
) {
    let store = engine.store();
    let users: Vec<String> = (0..41).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    group_with(&store, "g", &names).await;
    store
        .append_message(group_message("m", "u0", "g", true))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for reader in users.into_iter().skip(1) {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .record_group_receipts("g", &reader, vec!["m".into()])
                .await
        }));
    }
    let recall = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.revoke_message("m", revocation("u0", 20)).await })
    };
    let mut recorded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(updates) => recorded += u64::from(updates[0].changed),
            Err(StoreError::Revoked { .. }) => {}
            Err(other) => panic!("unexpected refusal {other}"),
        }
    }
    assert!(recall.await.unwrap().unwrap().unwrap().1);
    // Whatever the interleaving, the readers are exactly the receipts that were accepted.
    let state = store.group_receipts(&["m".into()]).await.unwrap();
    assert_eq!(state[0].readers.len(), recorded);
    assert!(state[0].revoked);
    assert!(matches!(
        store
            .record_group_receipts("g", "u1", vec!["m".into()])
            .await,
        Err(StoreError::Revoked { .. })
    ));
}

pub(crate) async fn online_messages_with_receipts_keep_receipt_state_outside_the_sequence(
    engine: TestEngine,
) {
    let store = engine.store();
    group_with(&store, "g", &["a", "b", "c"]).await;
    let ordinal = |user: &'static str| {
        let store = Arc::clone(&store);
        async move { store.get_member("g", user).await.unwrap().unwrap().ordinal }
    };
    let (b, c) = (ordinal("b").await, ordinal("c").await);
    store
        .append_message(group_message("m1", "a", "g", false))
        .await
        .unwrap();
    let live = store
        .append_online_message(group_message("live", "a", "g", true), false)
        .await
        .unwrap();
    assert_eq!(live.seq, 0, "outside the sequence");
    let after = store
        .append_message(group_message("m2", "a", "g", false))
        .await
        .unwrap();
    assert_eq!(after.seq, 2, "the online message took no sequence");
    let group = ConvKey::Group("g".into());
    let history = store.history(&group, None, 10).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|r| r.message.msg_id.as_str())
            .collect::<Vec<_>>(),
        vec!["m2", "m1"]
    );
    assert_eq!(store.count_unread(&group, 0, "b").await.unwrap(), 2);
    let found = store.get_messages(&["live".into()]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].seq, 0);
    assert_eq!(found[0].message, group_message("live", "a", "g", true));
    let state = store.group_receipts(&["live".into()]).await.unwrap();
    assert_eq!(state[0].recipients.iter().collect::<Vec<_>>(), vec![b, c]);
    // A member who joins after the send is no recipient.
    store
        .add_members("g", vec![member("late", GroupRole::Member)])
        .await
        .unwrap();
    assert!(matches!(
        store
            .record_group_receipts("g", "late", vec!["live".into()])
            .await,
        Err(StoreError::NotRecipient { .. })
    ));
    let updates = store
        .record_group_receipts("g", "b", vec!["live".into()])
        .await
        .unwrap();
    assert!(updates[0].changed);
    assert_eq!((updates[0].read_count, updates[0].recipient_count), (1, 2));
    let again = store
        .record_group_receipts("g", "b", vec!["live".into()])
        .await
        .unwrap();
    assert!(!again[0].changed);
    assert_eq!(
        store.group_receipts(&["live".into()]).await.unwrap()[0]
            .readers
            .iter()
            .collect::<Vec<_>>(),
        vec![b]
    );
    assert!(matches!(
        store
            .append_online_message(group_message("x", "stranger", "g", true), false)
            .await,
        Err(StoreError::NotMember { .. })
    ));
    assert!(matches!(
        store
            .append_online_message(group_message("y", "a", "nowhere", true), false)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let by_admin = store
        .append_online_message(group_message("admin-live", "admin", "g", true), true)
        .await
        .unwrap();
    assert_eq!(by_admin.seq, 0);
    assert_eq!(
        store.group_receipts(&["admin-live".into()]).await.unwrap()[0]
            .recipients
            .len(),
        4,
        "every current member"
    );
    assert_eq!(store.get_group("g").await.unwrap().unwrap().last_seq, 2);

    store
        .append_message(c2c_message("x1", "a", "b", 100))
        .await
        .unwrap();
    let mut online_c2c = c2c_message("cl", "a", "b", 101);
    online_c2c.need_receipt = true;
    assert_eq!(
        store
            .append_online_message(online_c2c, false)
            .await
            .unwrap()
            .seq,
        0
    );
    assert_eq!(
        store
            .append_message(c2c_message("x2", "a", "b", 102))
            .await
            .unwrap()
            .seq,
        2
    );
    let pair = ConvKey::c2c("a", "b");
    assert_eq!(store.count_unread(&pair, 0, "b").await.unwrap(), 2);
    let conversation = store.c2c_conversation("b", "a").await.unwrap().unwrap();
    assert_eq!((conversation.last_seq, conversation.last_time), (2, 102));
    assert_eq!(store.history(&pair, None, 10).await.unwrap().len(), 2);
    assert_eq!(
        store
            .record_c2c_receipts("b", &["cl".into(), "cl".into(), "x1".into()], 7)
            .await
            .unwrap()
            .newly,
        vec![true, false, true]
    );
    assert_eq!(
        store.get_messages(&["cl".into()]).await.unwrap()[0].receipt_at,
        Some(7)
    );

    store.delete_group("g").await.unwrap();
    let gone = vec!["live".to_owned(), "admin-live".to_owned()];
    assert!(store.get_messages(&gone).await.unwrap().is_empty());
    assert!(store.group_receipts(&gone).await.unwrap().is_empty());
}

pub(crate) async fn private_receipts_are_checked_and_shown_to_nobody(mut engine: TestEngine) {
    let store = engine.store();
    for user in ["a", "b", "c"] {
        store.ensure_user(user, None, 1).await.unwrap();
    }
    assert_eq!(store.private_receipts("b").await.unwrap(), Some(false));
    assert_eq!(store.private_receipts("nobody").await.unwrap(), None);
    assert!(!store.set_private_receipts("nobody", true).await.unwrap());
    assert!(store.set_private_receipts("b", true).await.unwrap());
    assert_eq!(store.private_receipts("b").await.unwrap(), Some(true));

    // Group: checked like any receipt, added to no readers.
    group_with(&store, "g", &["a", "b", "c"]).await;
    group_with(&store, "h", &["a", "b"]).await;
    for (id, group) in [("m1", "g"), ("m2", "g"), ("m3", "h")] {
        store
            .append_message(group_message(id, "a", group, true))
            .await
            .unwrap();
    }
    let update = |msg_id: &str, read_count, changed, private| GroupReceiptUpdate {
        msg_id: msg_id.into(),
        read_count,
        recipient_count: 2,
        changed,
        private,
    };
    let private = store
        .record_group_receipts("g", "b", vec!["m1".into()])
        .await
        .unwrap();
    assert_eq!(private, vec![update("m1", 0, true, true)]);
    assert!(matches!(
        store.record_group_receipts("g", "b", vec!["m1".into(), "m3".into()]).await,
        Err(StoreError::NotRecipient { msg_id }) if msg_id == "m3"
    ));
    store
        .revoke_message("m2", revocation("a", 20))
        .await
        .unwrap();
    assert!(matches!(
        store.record_group_receipts("g", "b", vec!["m1".into(), "m2".into()]).await,
        Err(StoreError::Revoked { msg_id }) if msg_id == "m2"
    ));
    let public = store
        .record_group_receipts("g", "c", vec!["m1".into()])
        .await
        .unwrap();
    assert_eq!(public, vec![update("m1", 1, true, false)]);
    let state = &store.group_receipts(&["m1".into()]).await.unwrap()[0];
    let c = store.get_member("g", "c").await.unwrap().unwrap().ordinal;
    assert_eq!(state.readers.iter().collect::<Vec<_>>(), vec![c]);

    // C2C: no receipt time, and the read position the peer is shown stays.
    for (id, time) in [("p1", 100), ("p2", 110)] {
        store
            .append_message(c2c_message(id, "a", "b", time))
            .await
            .unwrap();
    }
    let recorded = store
        .record_c2c_receipts("b", &["p1".into(), "p1".into(), "none".into()], 120)
        .await
        .unwrap();
    assert_eq!(
        recorded,
        C2cReceiptsRecorded {
            newly: vec![true, true, false],
            private: true,
        }
    );
    assert_eq!(
        store.get_messages(&["p1".into()]).await.unwrap()[0].receipt_at,
        None
    );
    assert!(!store.set_c2c_read("b", "a", 1, 130).await.unwrap());
    let positions =
        |c: C2cConversationRecord| (c.read_seq, c.read_time, c.shown_read_seq, c.shown_read_time);
    let b_of_a = store.c2c_conversation("b", "a").await.unwrap().unwrap();
    assert_eq!(positions(b_of_a), (1, 130, 0, 0));
    // A conversation first made by a private read shows nothing either.
    assert!(!store.set_c2c_read("b", "c", 0, 131).await.unwrap());
    let b_of_c = store.c2c_conversation("b", "c").await.unwrap().unwrap();
    assert_eq!(positions(b_of_c), (0, 131, 0, 0));
    let moved = store
        .mark_all_read(
            "b",
            ReadScope {
                c2c: true,
                groups: false,
            },
            140,
        )
        .await
        .unwrap();
    assert_eq!(
        moved,
        vec![ReadMoved::C2c {
            peer: "a".into(),
            read_seq: 2,
            read_time: 140,
            shown: false,
        }]
    );
    let b_of_a = store.c2c_conversation("b", "a").await.unwrap().unwrap();
    assert_eq!(positions(b_of_a), (2, 140, 0, 0));

    // Public again: what was private stays so, later receipts and reads show.
    assert!(store.set_private_receipts("b", false).await.unwrap());
    assert!(store.set_c2c_read("b", "a", 2, 150).await.unwrap());
    let b_of_a = store.c2c_conversation("b", "a").await.unwrap().unwrap();
    assert_eq!(positions(b_of_a), (2, 150, 2, 150));
    assert_eq!(
        store
            .record_c2c_receipts("b", &["p2".into()], 160)
            .await
            .unwrap(),
        C2cReceiptsRecorded {
            newly: vec![true],
            private: false,
        }
    );
    assert_eq!(
        store.get_messages(&["p1".into()]).await.unwrap()[0].receipt_at,
        None
    );
    drop(store);
    engine.reopen().await;
    let store = engine.store();
    assert_eq!(store.private_receipts("b").await.unwrap(), Some(false));
    let state = &store.group_receipts(&["m1".into()]).await.unwrap()[0];
    assert_eq!(state.readers.len(), 1, "nothing private was written");
    let again = store
        .record_group_receipts("g", "b", vec!["m1".into()])
        .await
        .unwrap();
    assert_eq!(again, vec![update("m1", 2, true, false)]);
}

pub(crate) async fn targeted_messages_are_seen_by_their_targets_and_sender_only(
    engine: TestEngine,
) {
    let store = engine.store();
    group_with(&store, "g", &["a", "b", "c", "d"]).await;
    let targeted = |id: &str, sender: &str, targets: &[&str], receipt: bool| NewMessage {
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        ..group_message(id, sender, "g", receipt)
    };
    store
        .append_message(group_message("m1", "a", "g", false))
        .await
        .unwrap();
    // "gone" is named but not a member: it is kept as named, and is no recipient.
    let sent = store
        .append_message(targeted("t2", "a", &["b", "gone"], true))
        .await
        .unwrap();
    assert_eq!(sent.seq, 2);
    assert_eq!(
        sent.message.targets,
        vec!["b".to_owned(), "gone".to_owned()]
    );
    store
        .append_message(targeted("t3", "c", &["d"], false))
        .await
        .unwrap();
    store
        .append_message(group_message("m4", "d", "g", false))
        .await
        .unwrap();
    store
        .append_message(targeted("t5", "b", &["c"], false))
        .await
        .unwrap();
    let conv = ConvKey::Group("g".into());
    let seqs_seen_by = async |viewer: &str| -> Vec<u64> {
        store
            .visible_history(&conv, viewer, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    assert_eq!(seqs_seen_by("a").await, vec![4, 2, 1]);
    assert_eq!(seqs_seen_by("b").await, vec![5, 4, 2, 1]);
    assert_eq!(seqs_seen_by("c").await, vec![5, 4, 3, 1]);
    assert_eq!(seqs_seen_by("d").await, vec![4, 3, 1]);
    // A name that is a prefix of a target's is not that target.
    assert_eq!(seqs_seen_by("go").await, vec![4, 1]);
    let page: Vec<u64> = store
        .visible_history(&conv, "d", Some(4), 1)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(page, vec![3]);
    // The unfiltered history has them all; the record keeps its targets.
    let all = store.history(&conv, None, 10).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].message.targets, vec!["c".to_owned()]);
    assert!(all[1].message.targets.is_empty());

    // The run of targeted messages below a sequence.
    let run = |seqs: &[(u64, &str, &[&str])]| -> Vec<TargetedSeq> {
        seqs.iter()
            .map(|(seq, sender, targets)| TargetedSeq {
                seq: *seq,
                sender: (*sender).to_owned(),
                targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            })
            .collect()
    };
    assert_eq!(
        store.targeted_before("g", 4, 100).await.unwrap(),
        run(&[(2, "a", &["b", "gone"]), (3, "c", &["d"])])
    );
    assert_eq!(
        store.targeted_before("g", 3, 100).await.unwrap(),
        run(&[(2, "a", &["b", "gone"])])
    );
    assert_eq!(
        store.targeted_before("g", 4, 1).await.unwrap(),
        run(&[(3, "c", &["d"])])
    );
    assert_eq!(store.targeted_before("g", 2, 100).await.unwrap(), run(&[]));
    assert_eq!(store.targeted_before("g", 5, 100).await.unwrap(), run(&[]));
    assert_eq!(
        store.targeted_before("g", 6, 100).await.unwrap(),
        run(&[(5, "b", &["c"])])
    );
    assert_eq!(
        store.targeted_before("none", 6, 100).await.unwrap(),
        run(&[])
    );

    // Receipts: the recipients are the targets who are members, minus the sender.
    let state = store
        .group_receipts(&["t2".into()])
        .await
        .unwrap()
        .remove(0);
    let b = store.get_member("g", "b").await.unwrap().unwrap().ordinal;
    assert_eq!(state.recipients.iter().collect::<Vec<_>>(), vec![b]);
    assert!(matches!(
        store
            .record_group_receipts("g", "c", vec!["t2".into()])
            .await,
        Err(StoreError::NotRecipient { .. })
    ));
    let update = store
        .record_group_receipts("g", "b", vec!["t2".into()])
        .await
        .unwrap();
    assert_eq!((update[0].read_count, update[0].recipient_count), (1, 1));
}

pub(crate) async fn a_message_keeps_its_mentions_and_an_online_message_its_targets(
    engine: TestEngine,
) {
    let store = engine.store();
    group_with(&store, "g", &["a", "b", "c"]).await;
    let mentioned = NewMessage {
        at_users: vec!["b".into(), "__kImSDK_MesssageAtALL__".into()],
        ..group_message("m", "a", "g", false)
    };
    store.append_message(mentioned).await.unwrap();
    let online = NewMessage {
        targets: vec!["c".into()],
        ..group_message("o", "a", "g", true)
    };
    store.append_online_message(online, false).await.unwrap();
    let found = store.get_messages(&["m".into(), "o".into()]).await.unwrap();
    assert_eq!(
        found[0].message.at_users,
        vec!["b".to_owned(), "__kImSDK_MesssageAtALL__".to_owned()]
    );
    assert!(found[0].message.targets.is_empty());
    assert_eq!(found[1].message.targets, vec!["c".to_owned()]);
    assert!(found[1].message.at_users.is_empty());
    let state = store.group_receipts(&["o".into()]).await.unwrap().remove(0);
    let c = store.get_member("g", "c").await.unwrap().unwrap().ordinal;
    assert_eq!(state.recipients.iter().collect::<Vec<_>>(), vec![c]);

    // Mentions after a read position: of the viewer or everyone, not the viewer's own.
    for (id, sender, at) in [
        ("m2", "b", vec!["c"]),
        ("m3", "c", vec!["b", "c"]),
        ("m4", "a", vec!["cc"]),
        ("m5", "a", vec![]),
        ("m6", "b", vec!["__kImSDK_MesssageAtALL__", "c"]),
    ] {
        let message = NewMessage {
            at_users: at.into_iter().map(str::to_owned).collect(),
            ..group_message(id, sender, "g", false)
        };
        store.append_message(message).await.unwrap();
    }
    let mention = |seq, me, all| Mention { seq, me, all };
    assert_eq!(
        store.mentions_after("g", 0, "c", 10).await.unwrap(),
        [
            mention(1, false, true),
            mention(2, true, false),
            mention(6, true, true)
        ]
    );
    assert_eq!(
        store.mentions_after("g", 1, "c", 2).await.unwrap(),
        [mention(2, true, false), mention(6, true, true)]
    );
    assert_eq!(
        store.mentions_after("g", 0, "b", 10).await.unwrap(),
        [mention(1, true, true), mention(3, true, false)]
    );
    assert_eq!(
        store.mentions_after("g", 0, "a", 10).await.unwrap(),
        [mention(6, false, true)]
    );
    assert_eq!(store.mentions_after("g", 6, "c", 10).await.unwrap(), []);
    // Many viewers in one read, each as alone, in the order given.
    let viewers: Vec<(String, u64)> = [("c", 1), ("nobody", 0), ("b", 0), ("c", 6)]
        .map(|(viewer, after)| (viewer.to_owned(), after))
        .to_vec();
    assert_eq!(
        store.mentions_after_of("g", &viewers, 2).await.unwrap(),
        vec![
            vec![mention(2, true, false), mention(6, true, true)],
            vec![mention(1, false, true), mention(6, false, true)],
            vec![mention(1, true, true), mention(3, true, false)],
            vec![],
        ]
    );
    assert!(
        store
            .mentions_after_of("g", &[], 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn many_viewers_mentions_are_exact_past_many_mentioning_messages(
    engine: TestEngine,
) {
    const ALL: &str = "__kImSDK_MesssageAtALL__";
    let store = engine.store();
    let members = ["a", "b", "c", "d"];
    group_with(&store, "g", &members).await;
    // Message `seq` is sent by members[seq % 4]; every fifth mentions everyone, every third
    // (else) the next member; the rest mention nobody. More mentioning messages than one shared
    // scan reads, so both ways of answering are crossed.
    let sender = |seq: u64| members[(seq % 4) as usize];
    let at_users = |seq: u64| -> Vec<&str> {
        if seq.is_multiple_of(5) {
            vec![ALL]
        } else if seq.is_multiple_of(3) {
            vec![members[((seq + 1) % 4) as usize]]
        } else {
            vec![]
        }
    };
    for seq in 1..=600u64 {
        let message = NewMessage {
            at_users: at_users(seq).into_iter().map(str::to_owned).collect(),
            ..group_message(&format!("m{seq}"), sender(seq), "g", false)
        };
        store.append_message(message).await.unwrap();
    }
    let expected = |viewer: &str, after: u64, limit: usize| -> Vec<Mention> {
        (after + 1..=600)
            .filter(|seq| sender(*seq) != viewer)
            .filter_map(|seq| {
                let at = at_users(seq);
                let me = at.contains(&viewer);
                let all = at.contains(&ALL);
                (me || all).then_some(Mention { seq, me, all })
            })
            .take(limit)
            .collect()
    };
    for (positions, limit) in [
        (vec![("a", 0), ("b", 7), ("c", 399), ("d", 150)], 1000),
        (vec![("d", 0), ("a", 250), ("b", 0)], 5),
        (vec![("b", 300), ("c", 390), ("a", 310)], 1000),
        (vec![("c", 350), ("nobody", 360)], 3),
    ] {
        let viewers: Vec<(String, u64)> = positions
            .iter()
            .map(|(viewer, after)| ((*viewer).to_owned(), *after))
            .collect();
        let wanted: Vec<Vec<Mention>> = positions
            .iter()
            .map(|(viewer, after)| expected(viewer, *after, limit))
            .collect();
        assert_eq!(
            store
                .mentions_after_of("g", &viewers, limit as u32)
                .await
                .unwrap(),
            wanted,
            "{positions:?} limit {limit}"
        );
    }
}

fn card(nick: &str, face_url: &str) -> UserCard {
    UserCard {
        nick: nick.into(),
        face_url: face_url.into(),
    }
}

fn custom(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) async fn profiles_change_field_by_field_and_are_kept_across_reopening(
    mut engine: TestEngine,
) {
    let store = engine.store();
    assert!(
        store
            .ensure_user("a", Some(card("Ann", "https://f/a.png")), 1)
            .await
            .unwrap()
    );
    let update = ProfileUpdate {
        self_signature: Some("hi".into()),
        gender: Some(Gender::Female),
        custom: custom(&[("mood", "sunny"), ("level", "3")]),
        ..ProfileUpdate::default()
    };
    let expected = UserProfile {
        nick: "Ann".into(),
        face_url: "https://f/a.png".into(),
        self_signature: "hi".into(),
        gender: Gender::Female,
        custom: custom(&[("level", "3"), ("mood", "sunny")]),
    };
    assert_eq!(
        store.update_profile("a", update, 3).await.unwrap(),
        ProfileUpdated::Updated(expected.clone())
    );
    // Named fields change, the others stay; an empty custom value removes the field.
    let update = ProfileUpdate {
        nick: Some("Annie".into()),
        custom: custom(&[("mood", ""), ("city", "Oslo")]),
        ..ProfileUpdate::default()
    };
    let expected = UserProfile {
        nick: "Annie".into(),
        custom: custom(&[("city", "Oslo"), ("level", "3")]),
        ..expected
    };
    assert_eq!(
        store.update_profile("a", update, 3).await.unwrap(),
        ProfileUpdated::Updated(expected.clone())
    );
    // Beyond the custom field limit nothing changes, not even the other fields.
    let update = ProfileUpdate {
        nick: Some("ignored".into()),
        custom: custom(&[("x", "1"), ("y", "2")]),
        ..ProfileUpdate::default()
    };
    assert_eq!(
        store.update_profile("a", update, 3).await.unwrap(),
        ProfileUpdated::TooManyCustomFields
    );
    assert_eq!(
        store
            .update_profile("nobody", ProfileUpdate::default(), 3)
            .await
            .unwrap(),
        ProfileUpdated::NoSuchUser
    );
    assert!(
        store
            .get_users(&["nobody".into()])
            .await
            .unwrap()
            .is_empty()
    );
    // Importing the account again sets the card and keeps the rest.
    assert!(
        !store
            .ensure_user("a", Some(card("Ann", "")), 2)
            .await
            .unwrap()
    );
    let expected = UserProfile {
        nick: "Ann".into(),
        face_url: String::new(),
        ..expected
    };
    drop(store);
    engine.reopen().await;
    let users = engine.store().get_users(&["a".into()]).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].profile, expected);
}

pub(crate) async fn name_cards_are_set_for_current_members_and_listed_with_live_profiles(
    engine: TestEngine,
) {
    let store = engine.store();
    for user in ["a", "b", "c"] {
        store.ensure_user(user, None, 1).await.unwrap();
    }
    group_with(&store, "g", &["a", "b", "c"]).await;
    assert!(store.set_name_card("g", "b", "Bee").await.unwrap());
    assert!(!store.set_name_card("g", "stranger", "X").await.unwrap());
    assert!(!store.set_name_card("nogroup", "b", "X").await.unwrap());
    store
        .update_profile(
            "b",
            ProfileUpdate {
                nick: Some("Bob".into()),
                face_url: Some("https://f/b.png".into()),
                ..ProfileUpdate::default()
            },
            0,
        )
        .await
        .unwrap();
    let listed: Vec<(String, UserCard, String)> = store
        .list_members("g", 0, 10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.user_id, m.profile, m.name_card))
        .collect();
    assert_eq!(
        listed,
        [
            ("a".to_owned(), UserCard::default(), String::new()),
            (
                "b".to_owned(),
                card("Bob", "https://f/b.png"),
                "Bee".to_owned()
            ),
            ("c".to_owned(), UserCard::default(), String::new()),
        ]
    );
    let b = store.get_member("g", "b").await.unwrap().unwrap();
    assert_eq!(
        (b.name_card.as_str(), b.profile.nick.as_str()),
        ("Bee", "Bob")
    );
    let by_ordinal = store.members_by_ordinal("g", &[b.ordinal]).await.unwrap();
    assert_eq!(by_ordinal[0].name_card, "Bee");
    let joined = store.joined_groups("b").await.unwrap();
    assert_eq!(joined[0].1.name_card, "Bee");
    // A former member's card cannot be set, and is kept with the membership.
    store.remove_members("g", &["b".into()]).await.unwrap();
    assert!(!store.set_name_card("g", "b", "Gone").await.unwrap());
    let former = store.members_by_ordinal("g", &[b.ordinal]).await.unwrap();
    assert_eq!(former[0].name_card, "Bee");
}

pub(crate) async fn a_message_keeps_the_sender_card_it_was_sent_with(engine: TestEngine) {
    let store = engine.store();
    store
        .ensure_user("a", Some(card("Ann", "https://f/1.png")), 1)
        .await
        .unwrap();
    group_with(&store, "g", &["a", "b"]).await;
    let sent = NewMessage {
        sender_card: card("Ann", "https://f/1.png"),
        ..group_message("m1", "a", "g", false)
    };
    let online = NewMessage {
        sender_card: card("Ann", "https://f/1.png"),
        ..group_message("live", "a", "g", true)
    };
    let c2c = NewMessage {
        sender_card: card("Ann", "https://f/1.png"),
        ..c2c_message("c1", "a", "b", 5)
    };
    assert_eq!(
        store.append_message(sent.clone()).await.unwrap().message,
        sent
    );
    store
        .append_online_message(online.clone(), false)
        .await
        .unwrap();
    store.append_message(c2c.clone()).await.unwrap();
    store
        .update_profile(
            "a",
            ProfileUpdate {
                nick: Some("Anna".into()),
                face_url: Some("https://f/2.png".into()),
                ..ProfileUpdate::default()
            },
            0,
        )
        .await
        .unwrap();
    let history = store
        .history(&ConvKey::Group("g".into()), None, 10)
        .await
        .unwrap();
    assert_eq!(
        history[0].message.sender_card,
        card("Ann", "https://f/1.png")
    );
    let mut found = store
        .get_messages(&["m1".into(), "live".into(), "c1".into()])
        .await
        .unwrap();
    found.sort_by(|x, y| x.message.msg_id.cmp(&y.message.msg_id));
    let messages: Vec<_> = found.into_iter().map(|r| r.message).collect();
    assert_eq!(messages, [c2c, online, sent]);
}
