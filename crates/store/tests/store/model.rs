//! A property test of group read state against a model: random sends, receipts, joins and
//! leaves, after each of which every count, reader set and member page equals the model's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tidings_store::{GroupRole, Store, StoreError};

use crate::engine::TestEngine;
use crate::fixtures::*;

/// Users that may ever be in the group: `u0` (the owner, who never leaves) to `u7`.
const USERS: usize = 8;

#[derive(Debug, Clone)]
enum Op {
    Send { sender: usize },
    Receipt { reader: usize, messages: Vec<usize> },
    Join { user: usize },
    Leave { user: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..USERS).prop_map(|sender| Op::Send { sender }),
        3 => (0..USERS, prop::collection::btree_set(0..12usize, 1..4)).prop_map(
            |(reader, messages)| Op::Receipt { reader, messages: messages.into_iter().collect() }
        ),
        1 => (1..USERS).prop_map(|user| Op::Join { user }),
        1 => (1..USERS).prop_map(|user| Op::Leave { user }),
    ]
}

/// What the store should hold: members now, and per sent message its recipients and readers.
#[derive(Default)]
struct Model {
    members: BTreeSet<usize>,
    messages: Vec<(String, BTreeSet<usize>, BTreeSet<usize>)>,
}

fn user(index: usize) -> String {
    format!("u{index}")
}

/// Read state equals the model's after random operations, each case on a group of its own.
pub(crate) async fn read_state_matches_a_model_of_sends_receipts_joins_and_leaves(
    engine: TestEngine,
) {
    let store = engine.store();
    let cases = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let runtime = tokio::runtime::Handle::current();
    let result = runner.run(&prop::collection::vec(op(), 1..30), |ops| {
        let group = format!("g{}", cases.fetch_add(1, Ordering::Relaxed));
        tokio::task::block_in_place(|| runtime.block_on(run_case(&store, &group, ops)))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

async fn run_case(store: &Arc<dyn Store>, group: &str, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let initial = ["u0", "u1", "u2"];
    group_with(store, group, &initial).await;
    model.members.extend([0, 1, 2]);
    // Ordinals are stable for the life of the group: learnt once per user.
    let mut ordinals: BTreeMap<u32, usize> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Send { sender } => {
                let id = format!("{group}-m{}", model.messages.len());
                let sent = store
                    .append_message(group_message(&id, &user(sender), group, true))
                    .await;
                if model.members.contains(&sender) {
                    prop_assert!(sent.is_ok(), "{sent:?}");
                    let recipients = model.members.iter().copied().filter(|&u| u != sender);
                    model
                        .messages
                        .push((id, recipients.collect(), BTreeSet::new()));
                } else {
                    prop_assert!(
                        matches!(sent, Err(StoreError::NotMember { .. })),
                        "{sent:?}"
                    );
                }
            }
            Op::Receipt { reader, messages } => {
                let chosen: Vec<usize> = messages
                    .into_iter()
                    .filter(|&m| m < model.messages.len())
                    .collect();
                if chosen.is_empty() {
                    continue;
                }
                let ids = chosen
                    .iter()
                    .map(|&m| model.messages[m].0.clone())
                    .collect();
                let recorded = store.record_group_receipts(group, &user(reader), ids).await;
                if !model.members.contains(&reader) {
                    prop_assert!(
                        matches!(recorded, Err(StoreError::NotMember { .. })),
                        "{recorded:?}"
                    );
                } else if chosen
                    .iter()
                    .any(|&m| !model.messages[m].1.contains(&reader))
                {
                    prop_assert!(
                        matches!(recorded, Err(StoreError::NotRecipient { .. })),
                        "{recorded:?}"
                    );
                } else {
                    let updates = recorded.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(updates.len(), chosen.len());
                    for (update, &m) in updates.iter().zip(&chosen) {
                        let (id, recipients, readers) = &mut model.messages[m];
                        let newly = readers.insert(reader);
                        prop_assert_eq!(&update.msg_id, id);
                        prop_assert_eq!(update.changed, newly);
                        prop_assert_eq!(update.read_count, readers.len() as u64);
                        prop_assert_eq!(update.recipient_count, recipients.len() as u64);
                    }
                }
            }
            Op::Join { user: joiner } => {
                let added = store
                    .add_members(group, vec![member(&user(joiner), GroupRole::Member)])
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(added, vec![model.members.insert(joiner)]);
            }
            Op::Leave { user: leaver } => {
                let removed = store
                    .remove_members(group, &[user(leaver)])
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(removed, vec![model.members.remove(&leaver)]);
            }
        }
        check(store, group, &model, &mut ordinals).await?;
    }
    Ok(())
}

/// Every message's state and the member pages against the model.
async fn check(
    store: &Arc<dyn Store>,
    group: &str,
    model: &Model,
    ordinals: &mut BTreeMap<u32, usize>,
) -> Result<(), TestCaseError> {
    let fail = |e: StoreError| TestCaseError::fail(e.to_string());
    // Member pages of two, walked by ordinal, list exactly the current members.
    let (mut walked, mut from) = (Vec::new(), 0);
    loop {
        let page = store
            .list_members(group, from, 2, None)
            .await
            .map_err(fail)?;
        let Some(last) = page.last().map(|m| m.ordinal) else {
            break;
        };
        for member in page {
            let index: usize = member.user_id[1..].parse().expect("a model user");
            prop_assert_eq!(*ordinals.entry(member.ordinal).or_insert(index), index);
            walked.push(index);
        }
        from = last + 1;
    }
    let mut sorted = walked.clone();
    sorted.sort_unstable();
    prop_assert_eq!(sorted, model.members.iter().copied().collect::<Vec<_>>());
    let ids: Vec<String> = model.messages.iter().map(|m| m.0.clone()).collect();
    let states = store.group_receipts(&ids).await.map_err(fail)?;
    prop_assert_eq!(states.len(), ids.len());
    for (id, recipients, readers) in &model.messages {
        let state = states.iter().find(|s| &s.msg_id == id).expect("state read");
        let users = |bitmap: &tidings_store::RoaringBitmap| -> BTreeSet<usize> {
            bitmap.iter().map(|o| ordinals[&o]).collect()
        };
        prop_assert_eq!(&users(&state.recipients), recipients);
        prop_assert_eq!(&users(&state.readers), readers);
        let unread = state.recipients.len() - state.readers.len();
        prop_assert_eq!(unread, (recipients - readers).len() as u64);
    }
    Ok(())
}
