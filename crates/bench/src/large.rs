//! `large-group`: one group of 100,000 members, M messages asking for receipts, every member
//! reading every message.
//!
//! The group is bulk-created in process, below the protocol: users through
//! `Store::ensure_user` (concurrently, so the writer commits them in large batches) and the group
//! with all its members in one `Store::create_group` call. Creating it over the wire would take
//! 100,000 logins and 1,000 invitations and measure nothing of interest here. The sender is a
//! real WebSocket client and sends the messages over the wire. Members read through in-process
//! `Tidings::send_read_receipts` calls (the service method the gateway calls, with every check),
//! `--batch` IDs per call, `--concurrency` calls in flight, in a pseudo-random member order:
//! first half the members, then the rest.
//!
//! With half the members having read (the largest, least compressible read state), the sender
//! measures over WebSocket `getMessageReadReceipts` of 30 messages and read and unread
//! member-list pages at the first, middle and last page (walking each list once to find those
//! cursors and to check that it is exact). Read state on disk is measured with
//! `StorageStats::read_state_bytes` at half and after everyone read.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures_util::StreamExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Deserialize;
use tidings_proto::MessageReceipt;
use tidings_service::Tidings;
use tidings_store::{
    GroupRole, GroupType, NewGroup, NewMember, StoreConfig, StoreUrl, Synchronous, UserCard,
    open_store,
};

use crate::client::Conn;
use crate::report::{Bound, Deadline, Latency, Report, profile_phase, progress, rate};
use crate::setup::send_receipt_messages;
use crate::target::{Target, run_tag};
use crate::{LargeArgs, RunContext};

/// Targets of the issue.
const COUNT_P99_MS: f64 = 5.0;
const PAGE_P99_MS: f64 = 10.0;
const STATE_BYTES: f64 = 5_000_000.0;

pub(crate) async fn run(ctx: &RunContext, args: &LargeArgs) -> Result<Report> {
    if args.members < 3
        || args.messages == 0
        || args.batch == 0
        || args.batch > 100
        || args.concurrency == 0
    {
        bail!(
            "large-group needs --members ≥ 3, --messages ≥ 1, 1 ≤ --batch ≤ 100, --concurrency ≥ 1"
        );
    }
    let started = Instant::now();
    let deadline = Deadline::after(ctx.remaining());
    let mut report = Report::new(
        "large-group",
        serde_json::json!({
            "members": args.members,
            "messages": args.messages,
            "batch": args.batch,
            "concurrency": args.concurrency,
            "samples": args.samples,
            "synchronous": ctx.common.synchronous,
        }),
    );
    if !ctx.common.url.is_empty() {
        bail!(
            "large-group bulk-creates its group through the store, so it runs against the in-process server only (drop --url)"
        );
    }
    let target = Target::start(&ctx.common).await?;
    let outcome = large(ctx, args, &target, deadline, &mut report).await;
    target.stop().await;
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn large(
    ctx: &RunContext,
    args: &LargeArgs,
    target: &Target,
    deadline: Deadline,
    report: &mut Report,
) -> Result<()> {
    let Some(local) = &target.local else {
        bail!("in-process server required")
    };
    let tidings = Arc::clone(&local.tidings);
    // On PostgreSQL, the users and the group are created through a store of their own whose
    // commits do not wait for their WAL flush (`synchronous = normal`): set-up is not measured,
    // and 100,000 durable one-user commits took minutes there.
    let store = match local.database_url() {
        Some(url) => {
            let mut config = StoreConfig::new(StoreUrl::Postgres(url.to_owned()));
            config.synchronous = Synchronous::Normal;
            open_store(&config).await?.store
        }
        None => Arc::clone(tidings.store()),
    };
    let tag = run_tag();
    let owner = format!("{tag}-o");
    let group_id = format!("{tag}-large");
    let readers: Vec<String> = (1..args.members).map(|i| format!("{tag}-u{i}")).collect();

    // Bulk creation, in process.
    let setup = Instant::now();
    let bar = progress(args.members as u64, "large: users", ctx.quiet);
    let now = tidings_service::now();
    let all_users: Vec<&String> = std::iter::once(&owner).chain(readers.iter()).collect();
    let created = deadline
        .run(
            futures_util::stream::iter(all_users)
                .map(|user| {
                    let store = Arc::clone(&store);
                    let bar = bar.clone();
                    async move {
                        let profile = UserCard {
                            nick: format!("nick {user}"),
                            face_url: String::new(),
                        };
                        let result = store.ensure_user(user, Some(profile), now).await;
                        bar.inc(1);
                        result
                    }
                })
                .buffer_unordered(1024)
                .collect::<Vec<_>>(),
        )
        .await;
    bar.finish_and_clear();
    let Some(created) = created else {
        report.cut_short("creating users");
        return Ok(());
    };
    created.into_iter().collect::<Result<Vec<bool>, _>>()?;
    let mut members = vec![NewMember {
        user_id: owner.clone(),
        role: GroupRole::Owner,
        joined_at: now,
    }];
    members.extend(readers.iter().map(|user| NewMember {
        user_id: user.clone(),
        role: GroupRole::Member,
        joined_at: now,
    }));
    let group = NewGroup {
        group_id: group_id.clone(),
        group_type: GroupType::Work,
        name: "large group".into(),
        owner: owner.clone(),
        created_at: now,
    };
    let Some(group) = deadline.run(store.create_group(group, members)).await else {
        report.cut_short("creating the group");
        return Ok(());
    };
    let group = group?;
    report.check(
        "group bulk-created with every member",
        group.member_count == args.members as u64,
        format!("{} of {} members", group.member_count, args.members),
    );
    report.metric("setup_seconds", setup.elapsed().as_secs_f64(), "s");
    drop(store);

    // The sender, over WebSocket.
    let (sender, _) =
        Conn::login(target.url(0), &owner, &target.signer.sign(&owner), false).await?;
    let bar = progress(args.messages as u64, "large: send", ctx.quiet);
    let Some((msg_ids, send_latency)) = send_receipt_messages(
        &sender,
        &group_id,
        args.messages,
        "large",
        deadline,
        report,
        Some(&bar),
    )
    .await?
    else {
        return Ok(());
    };
    bar.finish_and_clear();
    report.latency("send", &send_latency, None);

    // Members read in a pseudo-random order: first half, then the rest.
    let mut order = readers.clone();
    order.shuffle(&mut StdRng::seed_from_u64(ctx.common.seed));
    let half = order.len() / 2;
    let msg_ids = Arc::new(msg_ids);
    let (first, second) = order.split_at(half);
    let mut receipt_time = Duration::ZERO;
    let mut receipts = 0u64;
    let Some((count, elapsed)) = read_all(
        ctx,
        args,
        &tidings,
        first,
        &msg_ids,
        deadline,
        "large: read ½",
        report,
    )
    .await?
    else {
        return Ok(());
    };
    receipts += count;
    receipt_time += elapsed;

    // Half read: the largest read state. Measure the sender's queries over WebSocket.
    let half_bytes = local.storage.read_state_bytes().await?;
    report.metric("read_state_bytes_half_read", half_bytes as f64, "bytes");
    let count_ids: Vec<String> = msg_ids.iter().take(30).cloned().collect();
    let count_params = serde_json::json!({ "messageIDList": count_ids });
    let mut count_latency = Latency::default();
    let mut exact = true;
    for _ in 0..args.samples.max(1) {
        let sent = Instant::now();
        let reply = sender
            .call_value("getMessageReadReceipts", &count_params)
            .await?;
        count_latency.record(reply.at.duration_since(sent));
        let receipts: Vec<MessageReceipt> = reply.decode("getMessageReadReceipts")?;
        exact &= receipts.len() == count_ids.len()
            && receipts.iter().all(|r| {
                r.read_count == half as u64 && r.unread_count == (order.len() - half) as u64
            });
    }
    report.check(
        "counts at half read are exact",
        exact,
        format!(
            "every pull of {} messages: {half} read, {} unread",
            count_ids.len(),
            order.len() - half
        ),
    );
    report.latency("get_receipts_30", &count_latency, Some(COUNT_P99_MS));

    let first_set: HashSet<&String> = first.iter().collect();
    for (filter, name, expected) in [(0u32, "read", half), (1u32, "unread", order.len() - half)] {
        let Some(walk) = deadline.run(walk_list(&sender, &msg_ids[0], filter)).await else {
            report.cut_short("member lists");
            return Ok(());
        };
        let walk = walk?;
        let unique: HashSet<&String> = walk.users.iter().collect();
        let right_side = walk
            .users
            .iter()
            .all(|u| first_set.contains(u) == (filter == 0));
        report.check(
            &format!("{name} member list is exact"),
            walk.users.len() == expected && unique.len() == expected && right_side,
            format!(
                "{} listed ({} distinct) in {} pages, {expected} expected",
                walk.users.len(),
                unique.len(),
                walk.cursors.len()
            ),
        );
        report.latency(&format!("{name}_list_walk_page"), &walk.latency, None);
        let positions = [
            ("first", walk.cursors.first().copied().unwrap_or(0)),
            (
                "middle",
                walk.cursors
                    .get(walk.cursors.len() / 2)
                    .copied()
                    .unwrap_or(0),
            ),
            ("last", walk.cursors.last().copied().unwrap_or(0)),
        ];
        for (position, cursor) in positions {
            let mut latency = Latency::default();
            for _ in 0..args.samples.max(1) {
                let params = serde_json::json!({
                    "messageID": msg_ids[0], "filter": filter, "nextSeq": cursor, "count": 100,
                });
                let sent = Instant::now();
                let reply = sender
                    .call_value("getGroupMessageReadMemberList", &params)
                    .await?;
                if reply.code != 0 {
                    bail!(
                        "member list page failed with {}: {}",
                        reply.code,
                        reply.desc
                    );
                }
                latency.record(reply.at.duration_since(sent));
            }
            report.latency(
                &format!("{name}_page_{position}"),
                &latency,
                Some(PAGE_P99_MS),
            );
        }
    }

    // The rest read.
    let Some((count, elapsed)) = read_all(
        ctx,
        args,
        &tidings,
        second,
        &msg_ids,
        deadline,
        "large: read all",
        report,
    )
    .await?
    else {
        return Ok(());
    };
    receipts += count;
    receipt_time += elapsed;
    report.metric(
        "receipts_per_sec",
        rate(receipts, receipt_time),
        "receipts/s",
    );
    report.metric("receipts", receipts as f64, "receipts");
    report.metric("receipt_seconds", receipt_time.as_secs_f64(), "s");

    let mut exact = 0usize;
    for chunk in msg_ids.chunks(100) {
        let params = serde_json::json!({ "messageIDList": chunk });
        let receipts: Vec<MessageReceipt> = sender.call("getMessageReadReceipts", &params).await?;
        exact += receipts
            .iter()
            .filter(|r| r.read_count == order.len() as u64 && r.unread_count == 0)
            .count();
    }
    report.check(
        "final counts are exact",
        exact == msg_ids.len(),
        format!(
            "{exact} of {} messages read by {}, unread by 0",
            msg_ids.len(),
            order.len()
        ),
    );
    let bytes = local.storage.read_state_bytes().await?;
    report.metric_target(
        "read_state_bytes_all_read",
        bytes as f64,
        "bytes",
        Bound::AtMost(STATE_BYTES),
    );
    report.metric(
        "read_state_bytes_per_receipt_all_read",
        bytes as f64 / (msg_ids.len() * order.len()) as f64,
        "bytes",
    );
    report.notes.push(
        "group bulk-created in process (Store::ensure_user, one Store::create_group); members read \
         through in-process Tidings::send_read_receipts calls, so receipts/s here excludes \
         WebSocket and JSON; counts and member lists are measured over WebSocket"
            .into(),
    );
    sender.close();
    Ok(())
}

/// Every reader receipts every message, `batch` IDs per call, `concurrency` calls at once.
/// Returns the receipts recorded and the time taken, or None when the time ran out.
#[allow(clippy::too_many_arguments)]
async fn read_all(
    ctx: &RunContext,
    args: &LargeArgs,
    tidings: &Arc<Tidings>,
    readers: &[String],
    msg_ids: &Arc<Vec<String>>,
    deadline: Deadline,
    label: &str,
    report: &mut Report,
) -> Result<Option<(u64, Duration)>> {
    let chunks: Vec<(usize, usize)> = (0..msg_ids.len())
        .step_by(args.batch)
        .map(|start| (start, (start + args.batch).min(msg_ids.len())))
        .collect();
    let work: Vec<(&String, (usize, usize))> = readers
        .iter()
        .flat_map(|reader| chunks.iter().map(move |chunk| (reader, *chunk)))
        .collect();
    let bar = progress((readers.len() * msg_ids.len()) as u64, label, ctx.quiet);
    profile_phase(true);
    let begin = Instant::now();
    let outcome = deadline
        .run(
            futures_util::stream::iter(work)
                .map(|(reader, (start, end))| {
                    let tidings = Arc::clone(tidings);
                    let msg_ids = Arc::clone(msg_ids);
                    let bar = bar.clone();
                    async move {
                        let result = tidings
                            .send_read_receipts(reader, msg_ids[start..end].to_vec(), None)
                            .await;
                        bar.inc((end - start) as u64);
                        result.map(|skipped| (end - start - skipped.len()) as u64)
                    }
                })
                .buffer_unordered(args.concurrency)
                .collect::<Vec<_>>(),
        )
        .await;
    let elapsed = begin.elapsed();
    profile_phase(false);
    bar.finish_and_clear();
    let Some(results) = outcome else {
        report.cut_short(label);
        return Ok(None);
    };
    let mut count = 0;
    let mut errors = 0;
    let mut first_error = None;
    for result in results {
        match result {
            Ok(n) => count += n,
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    report.check(
        &format!("{label}: every receipt call succeeded"),
        errors == 0,
        match first_error {
            None => format!("{count} receipts"),
            Some(e) => format!("{errors} failed calls, first: {e}"),
        },
    );
    Ok(Some((count, elapsed)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    member_info_list: Vec<PageMember>,
    next_seq: u64,
    is_finished: bool,
}

#[derive(Deserialize)]
struct PageMember {
    #[serde(rename = "userID")]
    user_id: String,
}

struct Walk {
    users: Vec<String>,
    /// The cursor of every page, in order.
    cursors: Vec<u64>,
    latency: Latency,
}

/// Pages through a whole read (0) or unread (1) member list.
async fn walk_list(sender: &Conn, msg_id: &str, filter: u32) -> Result<Walk> {
    let mut walk = Walk {
        users: Vec::new(),
        cursors: Vec::new(),
        latency: Latency::default(),
    };
    let mut cursor = 0u64;
    loop {
        let params = serde_json::json!({ "messageID": msg_id, "filter": filter, "nextSeq": cursor, "count": 100 });
        let sent = Instant::now();
        let reply = sender
            .call_value("getGroupMessageReadMemberList", &params)
            .await?;
        walk.latency.record(reply.at.duration_since(sent));
        let page: Page = reply.decode("getGroupMessageReadMemberList")?;
        walk.cursors.push(cursor);
        walk.users
            .extend(page.member_info_list.into_iter().map(|m| m.user_id));
        if page.is_finished || page.next_seq == 0 {
            return Ok(walk);
        }
        if page.next_seq <= cursor {
            bail!(
                "member list cursor went backwards: {cursor} then {}",
                page.next_seq
            );
        }
        cursor = page.next_seq;
    }
}
