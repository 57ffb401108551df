//! `receipt-storm`: a group of G members, each on its own connection; the sender sends M
//! messages asking for receipts; every other member receipts all of them in batches of 10–30
//! IDs, one call at a time, as a client reading a backlog would.
//!
//! Reports receipts acknowledged per second, the ack latency of receipt calls, and the notify
//! latency: for the k-th acknowledged receipt of a message, the time from that acknowledgement
//! until the sender holds an `onRecvMessageReadReceipts` push whose `readCount` is at least k
//! (counts are exact and never go down, so that push counts k receipts acknowledged by then).
//! Checks that every member got every message, that every receipt call succeeded, and that the
//! last pushed counts and a final pull both equal G − 1 read, 0 unread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tidings_proto::MessageReceipt;
use tokio::sync::{mpsc, watch};

use crate::client::{Conn, PushFrame};
use crate::echo::receipt_request;
use crate::report::{Bound, Deadline, Latency, Report, profile_phase, progress, rate};
use crate::setup::{create_work_group, log_in_all, send_receipt_messages, sign_users};
use crate::target::{Target, cpu_us_per, process_cpu, run_tag};
use crate::{RunContext, StormArgs};

/// What one member measured.
struct MemberResult {
    ack: Latency,
    /// (message index, ack instant) for every receipt acknowledged.
    acks: Vec<(usize, Instant)>,
    calls: u64,
    errors: Vec<String>,
}

/// Latest pushed counts and every push sample of the sender.
#[derive(Default)]
struct SenderPushes {
    samples: Vec<(Instant, String, u64, u64)>,
    latest: HashMap<String, (u64, u64)>,
}

pub(crate) async fn run(ctx: &RunContext, args: &StormArgs) -> Result<Report> {
    if args.members < 2
        || args.messages == 0
        || args.batch_min == 0
        || args.batch_min > args.batch_max
    {
        bail!(
            "receipt-storm needs --members ≥ 2, --messages ≥ 1 and 1 ≤ --batch-min ≤ --batch-max"
        );
    }
    let started = Instant::now();
    let deadline = Deadline::after(ctx.remaining());
    let mut report = Report::new(
        "receipt-storm",
        serde_json::json!({
            "members": args.members,
            "messages": args.messages,
            "batch_min": args.batch_min,
            "batch_max": args.batch_max,
            "synchronous": ctx.common.synchronous,
            "notify_window_ms": ctx.common.notify_window_ms,
        }),
    );
    let target = Target::start(&ctx.common).await?;
    if !target.in_process() {
        report.params["url"] = serde_json::json!(target.urls);
    }
    let outcome = storm(ctx, args, &target, deadline, &mut report).await;
    target.stop().await;
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn storm(
    ctx: &RunContext,
    args: &StormArgs,
    target: &Target,
    deadline: Deadline,
    report: &mut Report,
) -> Result<()> {
    let tag = run_tag();
    let sender_id = format!("{tag}-s");
    let group_id = format!("{tag}-storm");
    let readers = args.members - 1;
    let users = sign_users(
        &target.signer,
        std::iter::once(sender_id).chain((1..args.members).map(|i| format!("{tag}-m{i}"))),
    );

    // Connect and log everyone in.
    let Some(mut conns) = log_in_all(
        ctx,
        &target.urls,
        &users,
        true,
        "storm: login",
        deadline,
        report,
    )
    .await?
    else {
        return Ok(());
    };
    let (sender, sender_pushes) = conns.remove(0);
    let sender_pushes = sender_pushes.unwrap_or_else(|| mpsc::unbounded_channel().1);

    // The sender's receipt pushes, recorded as they arrive.
    let pushes = Arc::new(Mutex::new(SenderPushes::default()));
    let collector = tokio::spawn(collect_receipt_pushes(sender_pushes, Arc::clone(&pushes)));

    let member_ids: Vec<String> = users[1..].iter().map(|(u, _)| u.clone()).collect();
    let Some(group_id) = create_work_group(
        &sender,
        &group_id,
        "receipt storm",
        &member_ids,
        deadline,
        report,
        None,
    )
    .await?
    else {
        return Ok(());
    };

    // Members wait for the M messages, then for the signal to start reading.
    let (go_tx, go_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<bool>();
    let bar = progress(
        (readers * args.messages) as u64,
        "storm: receipts",
        ctx.quiet,
    );
    let mut tasks = Vec::with_capacity(readers);
    // Held until the storm is measured: a member closing its connection as soon as it is done
    // would put disconnects and logouts into the measured window.
    let mut open = Vec::with_capacity(readers);
    for (index, (conn, pushes)) in conns.into_iter().enumerate() {
        open.push(Arc::clone(&conn));
        let pushes = pushes.unwrap_or_else(|| mpsc::unbounded_channel().1);
        let member = Member {
            conn,
            pushes,
            group_id: group_id.clone(),
            messages: args.messages,
            batch: (args.batch_min, args.batch_max),
            seed: ctx
                .common
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(index as u64),
            ready: ready_tx.clone(),
            go: go_rx.clone(),
            bar: bar.clone(),
            deadline,
        };
        tasks.push(tokio::spawn(member.run()));
    }
    drop(ready_tx);

    // The sender sends the messages, one at a time.
    let Some((msg_ids, send_latency)) = send_receipt_messages(
        &sender,
        &group_id,
        args.messages,
        "storm",
        deadline,
        report,
        None,
    )
    .await?
    else {
        return Ok(());
    };
    let index_of: HashMap<String, usize> = msg_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();

    let mut ready = 0usize;
    let mut delivered_all = 0usize;
    while let Some(Some(got_all)) = deadline.run(ready_rx.recv()).await {
        ready += 1;
        delivered_all += usize::from(got_all);
        if ready == readers {
            break;
        }
    }
    report.check(
        "every member received every message",
        delivered_all == readers,
        format!(
            "{delivered_all} of {readers} members got all {} messages",
            args.messages
        ),
    );
    if ready < readers {
        report.cut_short("message delivery");
        return Ok(());
    }

    // The storm.
    profile_phase(true);
    let cpu_before = process_cpu();
    let begin = Instant::now();
    let _ = go_tx.send(true);
    let results = deadline.run(futures_util::future::join_all(tasks)).await;
    let cpu_after = process_cpu();
    profile_phase(false);
    drop(open);
    let Some(results) = results else {
        bar.finish_and_clear();
        report.cut_short("receipts");
        return Ok(());
    };
    bar.finish_and_clear();
    let mut ack = Latency::default();
    let mut acks_by_message: Vec<Vec<Instant>> = vec![Vec::with_capacity(readers); args.messages];
    let mut calls = 0u64;
    let mut errors = Vec::new();
    let mut last_ack = begin;
    for result in results {
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                errors.push(format!("member task failed: {e}"));
                continue;
            }
        };
        ack.merge(&result.ack);
        calls += result.calls;
        errors.extend(result.errors);
        for (index, at) in result.acks {
            last_ack = last_ack.max(at);
            acks_by_message[index].push(at);
        }
    }
    let receipts: u64 = acks_by_message.iter().map(|a| a.len() as u64).sum();
    let storm_time = last_ack.duration_since(begin);
    let expected = (readers * args.messages) as u64;
    report.check(
        "every receipt call acknowledged",
        errors.is_empty() && receipts == expected,
        if errors.is_empty() {
            format!("{receipts} of {expected} receipts in {calls} calls")
        } else {
            format!("{} errors, first: {}", errors.len(), errors[0])
        },
    );

    // Wait for the coalesced pushes to reach the final counts (bounded).
    let want = readers as u64;
    let settle = Duration::from_millis(ctx.common.notify_window_ms * 4) + Duration::from_secs(5);
    let settle_until = Instant::now() + settle.min(deadline.remaining());
    loop {
        let done = {
            let pushes = pushes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            msg_ids
                .iter()
                .all(|id| pushes.latest.get(id).is_some_and(|(read, _)| *read >= want))
        };
        if done || Instant::now() >= settle_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    collector.abort();

    // Notify latency, and the last pushed counts.
    let mut notify = Latency::default();
    let mut unnotified = 0u64;
    let mut final_push_exact = 0usize;
    {
        let pushes = pushes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let mut by_message: Vec<Vec<(Instant, u64)>> = vec![Vec::new(); args.messages];
        for (at, msg_id, read, _) in &pushes.samples {
            if let Some(&index) = index_of.get(msg_id) {
                by_message[index].push((*at, *read));
            }
        }
        for (index, samples) in by_message.iter_mut().enumerate() {
            samples.sort_by_key(|(at, _)| *at);
            let acks = &mut acks_by_message[index];
            acks.sort();
            let mut cursor = 0;
            let mut best = 0u64;
            for (k, ack_at) in acks.iter().enumerate() {
                let rank = k as u64 + 1;
                while cursor < samples.len() && best < rank {
                    best = best.max(samples[cursor].1);
                    cursor += 1;
                }
                if best >= rank {
                    notify.record(samples[cursor - 1].0.saturating_duration_since(*ack_at));
                } else {
                    unnotified += 1;
                }
            }
            if pushes.latest.get(&msg_ids[index]) == Some(&(want, 0)) {
                final_push_exact += 1;
            }
        }
    }
    report.check(
        "last pushed counts are exact",
        final_push_exact == args.messages,
        format!(
            "{final_push_exact} of {} messages pushed with readCount {want}, unreadCount 0",
            args.messages
        ),
    );
    report.check(
        "every acknowledged receipt was notified",
        unnotified == 0,
        format!("{unnotified} receipts never covered by a push"),
    );

    // A final pull must agree.
    let mut pulled_exact = 0usize;
    for chunk in msg_ids.chunks(100) {
        let params = serde_json::json!({ "messageIDList": chunk });
        let receipts: Vec<MessageReceipt> = sender.call("getMessageReadReceipts", &params).await?;
        pulled_exact += receipts
            .iter()
            .filter(|r| r.read_count == want && r.unread_count == 0)
            .count();
    }
    report.check(
        "pulled counts are exact",
        pulled_exact == args.messages,
        format!(
            "{pulled_exact} of {} messages read by {want}, unread by 0",
            args.messages
        ),
    );

    report.metric_target(
        "receipts_per_sec",
        rate(receipts, storm_time),
        "receipts/s",
        Bound::AtLeast(50_000.0),
    );
    report.metric("receipt_calls_per_sec", rate(calls, storm_time), "calls/s");
    report.metric("receipts", receipts as f64, "receipts");
    report.metric("receipt_calls", calls as f64, "calls");
    report.metric("storm_seconds", storm_time.as_secs_f64(), "s");
    if target.in_process()
        && let Some(per_call) = cpu_us_per(cpu_before, cpu_after, calls)
    {
        report.metric("cpu_us_per_call", per_call, "µs");
    }
    report.latency("ack", &ack, Some(50.0));
    report.latency("notify", &notify, Some(250.0));
    report.latency("send", &send_latency, None);
    report.notes.push(format!(
        "{readers} readers, each on its own connection, one receipt call in flight per \
         connection; the load generator shares the machine with the server; cpu_us_per_call is \
         the CPU time of this process (server and load generator) per call"
    ));
    sender.close();
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushedMessage {
    #[serde(rename = "msgID")]
    msg_id: String,
    #[serde(rename = "groupID", default)]
    group_id: Option<String>,
    #[serde(default)]
    need_read_receipt: bool,
}

struct Member {
    conn: Arc<Conn>,
    pushes: mpsc::UnboundedReceiver<PushFrame>,
    group_id: String,
    messages: usize,
    batch: (usize, usize),
    seed: u64,
    ready: mpsc::UnboundedSender<bool>,
    go: watch::Receiver<bool>,
    bar: indicatif::ProgressBar,
    deadline: Deadline,
}

impl Member {
    async fn run(mut self) -> MemberResult {
        let mut result = MemberResult {
            ack: Latency::default(),
            acks: Vec::with_capacity(self.messages),
            calls: 0,
            errors: Vec::new(),
        };
        // The messages, in the order pushed (the sender's order).
        let mut ids: Vec<String> = Vec::with_capacity(self.messages);
        while ids.len() < self.messages {
            let Some(Some(push)) = self.deadline.run(self.pushes.recv()).await else {
                break;
            };
            if push.event != "onRecvNewMessage" {
                continue;
            }
            if let Ok(message) = serde_json::from_str::<PushedMessage>(push.data.get())
                && message.group_id.as_deref() == Some(self.group_id.as_str())
                && message.need_read_receipt
            {
                ids.push(message.msg_id);
            }
        }
        let _ = self.ready.send(ids.len() == self.messages);
        if self
            .deadline
            .run(self.go.wait_for(|go| *go))
            .await
            .is_none()
        {
            return result;
        }
        // Pushes from now on are not needed: stop queueing them.
        drop(self.pushes);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut next = 0;
        while next < ids.len() {
            let size = rng
                .random_range(self.batch.0..=self.batch.1)
                .min(ids.len() - next);
            let chunk = &ids[next..next + size];
            let id = self.conn.next_id();
            let text = receipt_request(id, chunk);
            let sent = Instant::now();
            match self.conn.call_text(id, text).await {
                Ok(reply) if reply.code == 0 => {
                    result.ack.record(reply.at.duration_since(sent));
                    result
                        .acks
                        .extend((next..next + size).map(|i| (i, reply.at)));
                    result.calls += 1;
                    self.bar.inc(size as u64);
                }
                Ok(reply) => {
                    result
                        .errors
                        .push(format!("code {}: {}", reply.code, reply.desc));
                    return result;
                }
                Err(e) => {
                    result.errors.push(e.to_string());
                    return result;
                }
            }
            next += size;
        }
        result
    }
}

async fn collect_receipt_pushes(
    mut pushes: mpsc::UnboundedReceiver<PushFrame>,
    into: Arc<Mutex<SenderPushes>>,
) {
    while let Some(push) = pushes.recv().await {
        if push.event != "onRecvMessageReadReceipts" {
            continue;
        }
        let Ok(receipts) = serde_json::from_str::<Vec<MessageReceipt>>(push.data.get()) else {
            continue;
        };
        let Ok(mut into) = into.lock() else { return };
        for receipt in receipts {
            let (read, unread) = (receipt.read_count, receipt.unread_count);
            into.samples
                .push((push.at, receipt.msg_id.clone(), read, unread));
            let latest = into.latest.entry(receipt.msg_id).or_insert((0, u64::MAX));
            if read >= latest.0 {
                *latest = (read, unread);
            }
        }
    }
}
