//! Micro-benchmarks of the read-state operations against a real SQLite file in a temporary
//! directory, for groups of 1,000, 10,000 and 100,000 members: recording a receipt, the count
//! query of 30 messages (`group_receipts`), and one member-list page of 100 (read members, and
//! recipients minus readers) from a cursor in the middle, resolved through `members_by_ordinal`.
//!
//! Each group has 30 messages asking for receipts, and a pseudo-random half of the members has
//! read all of them: the least compressible read state (bitmap containers, about 8 KiB per
//! 65,536 ordinals), so these are near worst-case costs. The half is written straight into the
//! `readers` blobs with SQL to keep the set-up short; everything measured goes through the
//! `Store` trait. The store runs with `synchronous = NORMAL` so that a receipt's cost is the
//! read-state work and not the disk's fsync latency (the load generator measures durable acks).
//!
//! Run with `cargo bench -p tidings-store --bench read_state`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use divan::Bencher;
use roaring::RoaringBitmap;
use tidings_store::{
    GroupRole, GroupType, NewGroup, NewMember, NewMessage, SqliteOptions, SqliteStore, Store,
    Synchronous,
};

fn main() {
    divan::main();
}

const SIZES: [u32; 3] = [1_000, 10_000, 100_000];
const MESSAGES: usize = 30;
const PAGE: usize = 100;

struct Fixture {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
    group: String,
    msg_ids: Vec<String>,
    /// Members who have not read: fresh receipts for the record benchmark.
    unread: Vec<String>,
    next_fresh: AtomicUsize,
    middle: u32,
}

/// A deterministic pseudo-random half of `1..members` (ordinal 0 is the sender).
fn readers_half(members: u32) -> RoaringBitmap {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (1..members)
        .filter(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state & 1 == 0
        })
        .collect()
}

fn build(members: u32) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut options = SqliteOptions::new(&path);
    options.synchronous = Synchronous::Normal;
    let store = SqliteStore::open(options).expect("store opens");
    let group = format!("g{members}");
    let msg_ids: Vec<String> = (0..MESSAGES).map(|i| format!("m{members}-{i}")).collect();
    runtime.block_on(async {
        let mut list = vec![NewMember {
            user_id: "owner".into(),
            role: GroupRole::Owner,
            joined_at: 0,
        }];
        list.extend((1..members).map(|i| NewMember {
            user_id: format!("u{i}"),
            role: GroupRole::Member,
            joined_at: 0,
        }));
        let new_group = NewGroup {
            group_id: group.clone(),
            group_type: GroupType::Work,
            name: "bench".into(),
            owner: "owner".into(),
            created_at: 0,
        };
        store.create_group(new_group, list).await.expect("group");
        for msg_id in &msg_ids {
            let message = NewMessage {
                msg_id: msg_id.clone(),
                sender: "owner".into(),
                receiver: None,
                group_id: Some(group.clone()),
                timestamp: 0,
                random: 0,
                need_receipt: true,
                excluded_unread: false,
                elem_type: 1,
                body: r#"{"text":"x"}"#.into(),
                cloud_custom_data: String::new(),
                targets: Vec::new(),
                at_users: Vec::new(),
                sender_card: tidings_store::UserCard::default(),
            };
            store.append_message(message).await.expect("message");
        }
    });
    let mut readers = readers_half(members);
    readers.optimize();
    let mut blob = Vec::new();
    readers.serialize_into(&mut blob).expect("serialise");
    let conn = rusqlite::Connection::open(&path).expect("second connection");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    for msg_id in &msg_ids {
        conn.execute(
            "UPDATE group_receipts SET readers = ?2 WHERE msg_id = ?1",
            rusqlite::params![msg_id, blob],
        )
        .expect("readers written");
    }
    drop(conn);
    // Members get ordinals in the order listed: `u{i}` has ordinal i.
    let unread: Vec<String> = (1..members)
        .filter(|o| !readers.contains(*o))
        .map(|o| format!("u{o}"))
        .collect();
    Fixture {
        _dir: dir,
        runtime,
        store,
        group,
        msg_ids,
        unread,
        next_fresh: AtomicUsize::new(0),
        middle: members / 2,
    }
}

fn fixture(members: u32) -> Arc<Fixture> {
    static FIXTURES: OnceLock<Mutex<HashMap<u32, Arc<Fixture>>>> = OnceLock::new();
    let mut fixtures = FIXTURES
        .get_or_init(Mutex::default)
        .lock()
        .expect("fixtures");
    Arc::clone(
        fixtures
            .entry(members)
            .or_insert_with(|| Arc::new(build(members))),
    )
}

/// Records one receipt by a member who had not read the message (durable write through the
/// writer thread: load both blobs, insert, re-encode, save, commit).
#[divan::bench(args = SIZES, sample_count = 100, sample_size = 10)]
fn record_receipt(bencher: Bencher<'_, '_>, members: u32) {
    let f = fixture(members);
    bencher.bench_local(|| {
        let n = f.next_fresh.fetch_add(1, Ordering::Relaxed);
        let msg = &f.msg_ids[n % MESSAGES];
        let reader = &f.unread[(n / MESSAGES) % f.unread.len()];
        let update = f
            .runtime
            .block_on(
                f.store
                    .record_group_receipts(&f.group, reader, vec![msg.clone()]),
            )
            .expect("receipt");
        divan::black_box(update)
    });
}

/// Read and unread counts of 30 messages (`getMessageReadReceipts` of 30).
#[divan::bench(args = SIZES, sample_count = 100, sample_size = 10)]
fn count_30_messages(bencher: Bencher<'_, '_>, members: u32) {
    let f = fixture(members);
    bencher.bench_local(|| {
        let states = f
            .runtime
            .block_on(f.store.group_receipts(&f.msg_ids))
            .expect("counts");
        let counts: Vec<(u64, u64)> = states
            .iter()
            .map(|s| (s.readers.len(), s.recipients.len() - s.readers.len()))
            .collect();
        divan::black_box(counts)
    });
}

fn page(f: &Fixture, unread: bool) -> usize {
    let state = f
        .runtime
        .block_on(f.store.group_receipts(std::slice::from_ref(&f.msg_ids[0])))
        .expect("state")
        .pop()
        .expect("one state");
    let listed = if unread {
        &state.recipients - &state.readers
    } else {
        state.readers
    };
    let mut cursor = listed.iter();
    cursor.advance_to(f.middle);
    let ordinals: Vec<u32> = cursor.take(PAGE).collect();
    let members = f
        .runtime
        .block_on(f.store.members_by_ordinal(&f.group, &ordinals))
        .expect("members");
    members.len()
}

/// A page of 100 members who read, from the middle of the list.
#[divan::bench(args = SIZES, sample_count = 100, sample_size = 10)]
fn read_members_page(bencher: Bencher<'_, '_>, members: u32) {
    let f = fixture(members);
    bencher.bench_local(|| divan::black_box(page(&f, false)));
}

/// A page of 100 members who did not read (recipients − readers), from the middle.
#[divan::bench(args = SIZES, sample_count = 100, sample_size = 10)]
fn unread_members_page(bencher: Bencher<'_, '_>, members: u32) {
    let f = fixture(members);
    bencher.bench_local(|| divan::black_box(page(&f, true)));
}
