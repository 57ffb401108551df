//! Data every store test builds on: members, messages, groups with receipt messages, and
//! readers that receipt them in bulk or one at a time.

use std::sync::Arc;

use tidings_store::{GroupRole, GroupType, NewGroup, NewMember, NewMessage, Store, UserCard};

pub(crate) fn member(user: &str, role: GroupRole) -> NewMember {
    NewMember {
        user_id: user.into(),
        role,
        joined_at: 1,
    }
}

pub(crate) fn group_message(id: &str, sender: &str, group: &str, need_receipt: bool) -> NewMessage {
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
        targets: Vec::new(),
        at_users: Vec::new(),
        sender_card: UserCard::default(),
    }
}

pub(crate) fn c2c_message(id: &str, sender: &str, receiver: &str, timestamp: i64) -> NewMessage {
    NewMessage {
        receiver: Some(receiver.into()),
        group_id: None,
        timestamp,
        ..group_message(id, sender, "", false)
    }
}

pub(crate) async fn group_with(store: &Arc<dyn Store>, group: &str, users: &[&str]) {
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
pub(crate) async fn group_with_receipt_messages(
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
pub(crate) async fn every_reader_receipts_twice_at_once(
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

/// Receipts `m0` of [`group_with_receipt_messages`] for `u1`…`u{readers}`, one call at a time,
/// so that every batch changes the state the writer holds and writes it back.
pub(crate) async fn read_one_at_a_time(store: &Arc<dyn Store>, readers: usize) {
    for user in (1..=readers).map(|i| format!("u{i}")) {
        store
            .record_group_receipts("g", &user, vec!["m0".into()])
            .await
            .expect("receipt recorded");
    }
}
