//! `c2c`: P pairs of users chatting, each on its own connection. Each user sends K messages
//! asking for receipts to the other, one at a time; on each message pushed to it, the peer
//! sends a receipt for it at once, and the sender is notified.
//!
//! Reports messages acknowledged per second, send→receive latency (from the `sendMessage`
//! request to the peer reading the `onRecvNewMessage` push), and receipt→notify latency (from
//! the receiver's `sendMessageReadReceipts` request to the sender reading its
//! `onRecvMessageReadReceipts` push). Checks that every message arrived once and in order, every
//! receipt was notified, and a final pull shows every message peer-read.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::Deserialize;
use tidings_proto::{Message, MessageReceipt, TextElem};
use tokio::sync::mpsc;

use crate::client::{Conn, PushFrame};
use crate::report::{Deadline, Latency, Report, profile_phase, progress, rate};
use crate::setup::{log_in_all, sign_users};
use crate::target::{Target, run_tag};
use crate::{C2cArgs, RunContext};

/// Receipt calls in flight, by message ID, shared by the two users of a pair.
type ReceiptClock = Arc<Mutex<HashMap<String, Instant>>>;

#[derive(Default)]
struct UserResult {
    sent: u64,
    send_ack: Latency,
    delivery: Latency,
    receipt_ack: Latency,
    notify: Latency,
    last_send_ack: Option<Instant>,
    received_in_order: bool,
    received: u64,
    receipts_sent: u64,
    notified: u64,
    pulled_read: u64,
    errors: Vec<String>,
}

pub(crate) async fn run(ctx: &RunContext, args: &C2cArgs) -> Result<Report> {
    if args.pairs == 0 || args.messages == 0 {
        bail!("c2c needs --pairs ≥ 1 and --messages ≥ 1");
    }
    let started = Instant::now();
    let deadline = Deadline::after(ctx.remaining());
    let mut report = Report::new(
        "c2c",
        serde_json::json!({
            "pairs": args.pairs,
            "messages": args.messages,
            "synchronous": ctx.common.synchronous,
        }),
    );
    let target = Target::start(&ctx.common).await?;
    let outcome = c2c(ctx, args, &target, deadline, &mut report).await;
    target.stop().await;
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn c2c(
    ctx: &RunContext,
    args: &C2cArgs,
    target: &Target,
    deadline: Deadline,
    report: &mut Report,
) -> Result<()> {
    let tag = run_tag();
    let users = sign_users(
        &target.signer,
        (0..args.pairs).flat_map(|i| ["a", "b"].map(|side| format!("{tag}-{side}{i}"))),
    );
    let Some(conns) = log_in_all(
        ctx,
        &target.urls,
        &users,
        true,
        "c2c: login",
        deadline,
        report,
    )
    .await?
    else {
        return Ok(());
    };

    let total = (args.pairs * 2 * args.messages) as u64;
    let bar = progress(total, "c2c: messages", ctx.quiet);
    profile_phase(true);
    let base = Instant::now();
    let clocks: Vec<ReceiptClock> = (0..args.pairs).map(|_| ReceiptClock::default()).collect();
    let mut tasks = Vec::with_capacity(users.len());
    // Held until every chat is done: a chat closing its connection as soon as it is done would
    // put disconnects and logouts into the others' measured window.
    let mut open = Vec::with_capacity(users.len());
    for (index, (conn, pushes)) in conns.into_iter().enumerate() {
        open.push(Arc::clone(&conn));
        let peer = users[index ^ 1].0.clone();
        let chat = Chat {
            conn,
            pushes: pushes.unwrap_or_else(|| mpsc::unbounded_channel().1),
            peer,
            messages: args.messages,
            base,
            clock: Arc::clone(&clocks[index / 2]),
            bar: bar.clone(),
            deadline,
        };
        tasks.push(tokio::spawn(chat.run()));
    }
    let results = futures_util::future::join_all(tasks).await;
    profile_phase(false);
    drop(open);
    bar.finish_and_clear();

    let mut all = UserResult {
        received_in_order: true,
        ..UserResult::default()
    };
    for result in results {
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                all.errors.push(format!("user task failed: {e}"));
                continue;
            }
        };
        all.sent += result.sent;
        all.send_ack.merge(&result.send_ack);
        all.delivery.merge(&result.delivery);
        all.receipt_ack.merge(&result.receipt_ack);
        all.notify.merge(&result.notify);
        all.last_send_ack = all.last_send_ack.max(result.last_send_ack);
        all.received_in_order &= result.received_in_order;
        all.received += result.received;
        all.receipts_sent += result.receipts_sent;
        all.notified += result.notified;
        all.pulled_read += result.pulled_read;
        all.errors.extend(result.errors);
    }
    if deadline.expired() {
        report.cut_short("chatting");
    }
    let send_time = all
        .last_send_ack
        .map_or(Duration::ZERO, |at| at.duration_since(base));
    report.metric("messages_per_sec", rate(all.sent, send_time), "messages/s");
    report.metric("messages", all.sent as f64, "messages");
    report.latency("delivery", &all.delivery, None);
    report.latency("send_ack", &all.send_ack, None);
    report.latency("receipt_ack", &all.receipt_ack, None);
    report.latency("receipt_notify", &all.notify, None);
    report.check(
        "every message sent",
        all.sent == total && all.errors.is_empty(),
        match all.errors.first() {
            None => format!("{} of {total}", all.sent),
            Some(e) => format!(
                "{} of {total}; {} errors, first: {e}",
                all.sent,
                all.errors.len()
            ),
        },
    );
    report.check(
        "every message received once, in order",
        all.received == total && all.received_in_order,
        format!("{} of {total} received", all.received),
    );
    report.check(
        "every receipt sent and notified",
        all.receipts_sent == total && all.notified == total,
        format!(
            "{} receipts sent, {} notified, {total} expected",
            all.receipts_sent, all.notified
        ),
    );
    report.check(
        "pulled receipts are exact",
        all.pulled_read == total,
        format!(
            "{} of {total} messages pulled as peer-read",
            all.pulled_read
        ),
    );
    report.notes.push(
        "messages/s counts acknowledged sends from the start until the last acknowledgement; each \
         user has one send in flight and answers each pushed message with its own receipt call"
            .into(),
    );
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pushed {
    #[serde(rename = "msgID")]
    msg_id: String,
    sender: String,
    seq: u64,
    #[serde(default)]
    text_elem: Option<TextElem>,
}

struct Chat {
    conn: Arc<Conn>,
    pushes: mpsc::UnboundedReceiver<PushFrame>,
    peer: String,
    messages: usize,
    base: Instant,
    clock: ReceiptClock,
    bar: indicatif::ProgressBar,
    deadline: Deadline,
}

impl Chat {
    async fn run(mut self) -> UserResult {
        let mut sending = tokio::spawn(send_all(
            Arc::clone(&self.conn),
            self.peer.clone(),
            self.messages,
            self.base,
            self.bar.clone(),
        ));
        let mut result = UserResult {
            received_in_order: true,
            ..UserResult::default()
        };
        let mut own: HashSet<String> = HashSet::new();
        let mut notified: HashSet<String> = HashSet::new();
        let mut last_seq = 0u64;
        let mut early: Vec<(String, Instant)> = Vec::new();
        let mut send_result = None;
        let mut sending_done = false;
        while (result.receipts_sent as usize) < self.messages
            || (notified.len()) < self.messages
            || send_result.is_none()
        {
            let push = tokio::select! {
                joined = &mut sending, if !sending_done => {
                    sending_done = true;
                    match joined {
                        Ok(sent) => {
                            for msg_id in &sent.1 {
                                own.insert(msg_id.clone());
                            }
                            send_result = Some(sent);
                        }
                        Err(e) => {
                            result.errors.push(format!("sending failed: {e}"));
                            send_result = Some((SendStats::default(), Vec::new()));
                        }
                    }
                    // Notifications that arrived before the sends were acknowledged.
                    for (msg_id, at) in std::mem::take(&mut early) {
                        self.note_read(&own, &mut notified, &mut result, &msg_id, at);
                    }
                    continue;
                }
                push = self.deadline.run(self.pushes.recv()) => push,
            };
            let Some(Some(push)) = push else { break };
            match push.event.as_str() {
                "onRecvNewMessage" => {
                    let Ok(message) = serde_json::from_str::<Pushed>(push.data.get()) else {
                        continue;
                    };
                    if message.sender != self.peer {
                        continue;
                    }
                    if let Some(micros) = message
                        .text_elem
                        .as_ref()
                        .and_then(|t| t.text.strip_prefix('t'))
                        .and_then(|t| t.parse::<u64>().ok())
                    {
                        let sent = self.base + Duration::from_micros(micros);
                        result
                            .delivery
                            .record(push.at.saturating_duration_since(sent));
                    }
                    result.received_in_order &= message.seq > last_seq;
                    last_seq = message.seq;
                    result.received += 1;
                    let id = self.conn.next_id();
                    let text = format!(
                        "{{\"id\":{id},\"method\":\"sendMessageReadReceipts\",\"params\":{{\"messageIDList\":[\"{}\"]}}}}",
                        message.msg_id
                    );
                    let asked = Instant::now();
                    if let Ok(mut clock) = self.clock.lock() {
                        clock.insert(message.msg_id.clone(), asked);
                    }
                    match self.conn.call_text(id, text).await {
                        Ok(reply) if reply.code == 0 => {
                            result.receipt_ack.record(reply.at.duration_since(asked));
                            result.receipts_sent += 1;
                        }
                        Ok(reply) => result
                            .errors
                            .push(format!("receipt refused: {} {}", reply.code, reply.desc)),
                        Err(e) => result.errors.push(format!("receipt failed: {e}")),
                    }
                }
                "onRecvMessageReadReceipts" => {
                    let Ok(receipts) = serde_json::from_str::<Vec<MessageReceipt>>(push.data.get())
                    else {
                        continue;
                    };
                    for receipt in receipts.into_iter().filter(|r| r.is_peer_read) {
                        if send_result.is_some() {
                            self.note_read(
                                &own,
                                &mut notified,
                                &mut result,
                                &receipt.msg_id,
                                push.at,
                            );
                        } else {
                            early.push((receipt.msg_id, push.at));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some((stats, ids)) = send_result {
            result.sent = stats.sent;
            result.send_ack = stats.ack;
            result.last_send_ack = stats.last_ack;
            result.errors.extend(stats.errors);
            result.notified = notified.len() as u64;
            for chunk in ids.chunks(100) {
                let params = serde_json::json!({ "messageIDList": chunk });
                match self
                    .conn
                    .call::<Vec<MessageReceipt>>("getMessageReadReceipts", &params)
                    .await
                {
                    Ok(receipts) => {
                        result.pulled_read +=
                            receipts.iter().filter(|r| r.is_peer_read).count() as u64;
                    }
                    Err(e) => result.errors.push(e.to_string()),
                }
            }
        }
        result
    }

    fn note_read(
        &self,
        own: &HashSet<String>,
        notified: &mut HashSet<String>,
        result: &mut UserResult,
        msg_id: &str,
        at: Instant,
    ) {
        if !own.contains(msg_id) || !notified.insert(msg_id.to_owned()) {
            return;
        }
        let asked = self
            .clock
            .lock()
            .ok()
            .and_then(|mut clock| clock.remove(msg_id));
        if let Some(asked) = asked {
            result.notify.record(at.saturating_duration_since(asked));
        }
    }
}

#[derive(Default)]
struct SendStats {
    sent: u64,
    ack: Latency,
    last_ack: Option<Instant>,
    errors: Vec<String>,
}

/// Sends `count` messages to `peer`, one at a time; returns the stats and the message IDs.
async fn send_all(
    conn: Arc<Conn>,
    peer: String,
    count: usize,
    base: Instant,
    bar: indicatif::ProgressBar,
) -> (SendStats, Vec<String>) {
    let mut stats = SendStats::default();
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        let params = serde_json::json!({
            "receiver": peer,
            "textElem": { "text": format!("t{}", sent.duration_since(base).as_micros()) },
            "needReadReceipt": true,
        });
        match conn.call_value("sendMessage", &params).await {
            Ok(reply) => match reply.decode::<Message>("sendMessage") {
                Ok(message) => {
                    stats.ack.record(reply.at.duration_since(sent));
                    stats.last_ack = Some(reply.at);
                    stats.sent += 1;
                    ids.push(message.msg_id);
                    bar.inc(1);
                }
                Err(e) => {
                    stats.errors.push(e.to_string());
                    break;
                }
            },
            Err(e) => {
                stats.errors.push(e.to_string());
                break;
            }
        }
    }
    (stats, ids)
}
