//! The normal load beside which `abuse` runs its attacks: a Work group of members, each on its
//! own connection; the sender sends messages asking for receipts at a fixed rate (open loop, so
//! the offered load is the same with and without attacks), and every member answers the
//! messages pushed to it with `sendMessageReadReceipts` calls, one in flight, each naming every
//! message received and not yet receipted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Deserialize;
use tidings_proto::{Message, MessageReceipt, TextElem};
use tokio::sync::{mpsc, watch};

use crate::RunContext;
use crate::client::{Conn, PushFrame};
use crate::echo::receipt_request;
use crate::report::{Deadline, Latency, Report};
use crate::setup::{create_work_group, log_in_all, sign_users};
use crate::target::Target;

/// How long members may take, once the sender stopped, to receipt every message of a phase.
const DRAIN_WAIT: Duration = Duration::from_secs(60);

/// A member's connection and its pushes, kept from one phase to the next.
struct Member {
    conn: Arc<Conn>,
    pushes: mpsc::UnboundedReceiver<PushFrame>,
}

/// The group, its sender and its members, logged in.
pub(super) struct NormalLoad {
    sender: Arc<Conn>,
    members: Vec<Member>,
    group_id: Arc<str>,
    base: Instant,
}

/// What one phase of the load measured and checked.
#[derive(Default)]
pub(super) struct Phase {
    /// Messages the sender had acknowledged.
    pub(super) sent: u64,
    /// Messages the sender tried to send.
    pub(super) attempted: u64,
    /// Pushes of those messages read by members.
    pub(super) delivered: u64,
    /// Receipts acknowledged (one per member and message).
    pub(super) receipted: u64,
    /// Messages whose pulled counts were exact (every member read, none unread).
    pub(super) pulled_exact: u64,
    /// From the receipt call to its response.
    pub(super) ack: Latency,
    /// From `sendMessage` to the member reading the push.
    pub(super) delivery: Latency,
    /// From `sendMessage` to its response.
    pub(super) send: Latency,
    /// Refusals and failures of the sender's and the members' calls.
    pub(super) errors: Vec<String>,
    /// Seconds from the first send until the last receipt was acknowledged.
    pub(super) seconds: f64,
}

impl Phase {
    /// Receipts every member owed: one per member and message sent.
    pub(super) fn expected(&self, members: usize) -> u64 {
        self.sent * members as u64
    }
}

#[derive(Deserialize)]
struct Pushed {
    #[serde(rename = "msgID")]
    msg_id: String,
    #[serde(rename = "groupID", default)]
    group_id: Option<String>,
    #[serde(rename = "textElem", default)]
    text_elem: Option<TextElem>,
}

/// What one member did in a phase.
#[derive(Default)]
struct MemberPhase {
    delivered: u64,
    receipted: u64,
    ack: Latency,
    delivery: Latency,
    last_ack: Option<Instant>,
    errors: Vec<String>,
}

impl NormalLoad {
    /// Logs the `members` in (the first is the sender) and makes the group; `None` when the
    /// time limit cut it short.
    pub(super) async fn set_up(
        ctx: &RunContext,
        target: &Target,
        tag: &str,
        members: usize,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<Option<Self>> {
        let users = sign_users(&target.signer, (0..members).map(|i| format!("{tag}-n{i}")));
        let Some(mut conns) = log_in_all(
            ctx,
            &target.urls,
            &users,
            true,
            "abuse: login",
            deadline,
            report,
        )
        .await?
        else {
            return Ok(None);
        };
        let (sender, _) = conns.remove(0);
        let member_ids: Vec<String> = users[1..].iter().map(|(u, _)| u.clone()).collect();
        let Some(group_id) = create_work_group(
            &sender,
            &format!("{tag}-normal"),
            "normal load",
            &member_ids,
            deadline,
            report,
            None,
        )
        .await?
        else {
            return Ok(None);
        };
        let members = conns
            .into_iter()
            .map(|(conn, pushes)| Member {
                conn,
                pushes: pushes.unwrap_or_else(|| mpsc::unbounded_channel().1),
            })
            .collect();
        Ok(Some(Self {
            sender,
            members,
            group_id: group_id.into(),
            base: Instant::now(),
        }))
    }

    /// Members who receipt (every one but the sender).
    pub(super) fn readers(&self) -> usize {
        self.members.len()
    }

    /// Runs the load for `seconds` at `rate` messages a second, then waits until every member
    /// receipted every message (at most [`DRAIN_WAIT`]) and pulls the counts.
    pub(super) async fn phase(&mut self, seconds: u64, rate: u32, deadline: Deadline) -> Phase {
        let (total_tx, total_rx) = watch::channel(None::<u64>);
        let give_up =
            Deadline::after((Duration::from_secs(seconds) + DRAIN_WAIT).min(deadline.remaining()));
        let began = Instant::now();
        let tasks: Vec<_> = std::mem::take(&mut self.members)
            .into_iter()
            .map(|member| {
                tokio::spawn(member_phase(
                    member,
                    Arc::clone(&self.group_id),
                    self.base,
                    total_rx.clone(),
                    give_up,
                ))
            })
            .collect();

        // The sender: one message every 1/rate s until the phase ends, each send its own task
        // so that a slow response does not lower the offered load.
        let mut phase = Phase::default();
        let end = began + Duration::from_secs(seconds);
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
        let mut sends = Vec::new();
        loop {
            tick.tick().await;
            if Instant::now() >= end || deadline.expired() {
                break;
            }
            let sender = Arc::clone(&self.sender);
            let group_id = Arc::clone(&self.group_id);
            let base = self.base;
            sends.push(tokio::spawn(async move {
                let at = Instant::now();
                let params = serde_json::json!({
                    "groupID": &*group_id,
                    "textElem": { "text": format!("t{}", at.duration_since(base).as_micros()) },
                    "needReadReceipt": true,
                });
                let reply = sender.call_value("sendMessage", &params).await?;
                let message: Message = reply.decode("sendMessage")?;
                anyhow::Ok((message.msg_id, reply.at.duration_since(at)))
            }));
        }
        let mut msg_ids = Vec::with_capacity(sends.len());
        for send in sends {
            phase.attempted += 1;
            match send.await {
                Ok(Ok((msg_id, took))) => {
                    phase.send.record(took);
                    msg_ids.push(msg_id);
                }
                Ok(Err(e)) => phase.errors.push(format!("send: {e}")),
                Err(e) => phase.errors.push(format!("send task: {e}")),
            }
        }
        phase.sent = msg_ids.len() as u64;
        let _ = total_tx.send(Some(phase.sent));

        let mut last_ack = began;
        for task in tasks {
            match task.await {
                Ok((member, result)) => {
                    self.members.push(member);
                    phase.delivered += result.delivered;
                    phase.receipted += result.receipted;
                    phase.ack.merge(&result.ack);
                    phase.delivery.merge(&result.delivery);
                    last_ack = last_ack.max(result.last_ack.unwrap_or(began));
                    phase.errors.extend(result.errors);
                }
                Err(e) => phase.errors.push(format!("member task: {e}")),
            }
        }
        phase.seconds = last_ack.duration_since(began).as_secs_f64();

        let want = self.readers() as u64;
        for chunk in msg_ids.chunks(100) {
            let params = serde_json::json!({ "messageIDList": chunk });
            match self
                .sender
                .call::<Vec<MessageReceipt>>("getMessageReadReceipts", &params)
                .await
            {
                Ok(receipts) => {
                    phase.pulled_exact += receipts
                        .iter()
                        .filter(|r| r.read_count == want && r.unread_count == 0)
                        .count() as u64;
                }
                Err(e) => phase.errors.push(format!("pull: {e}")),
            }
        }
        phase
    }
}

/// One member through a phase: receipts what was pushed, until it receipted as many messages
/// as the sender sent (known once the sender stopped) or `give_up`.
async fn member_phase(
    mut member: Member,
    group_id: Arc<str>,
    base: Instant,
    mut total: watch::Receiver<Option<u64>>,
    give_up: Deadline,
) -> (Member, MemberPhase) {
    let mut result = MemberPhase::default();
    let mut pending: Vec<String> = Vec::new();
    loop {
        let wanted = *total.borrow();
        if wanted.is_some_and(|total| result.receipted >= total) && pending.is_empty() {
            break;
        }
        if pending.is_empty() {
            tokio::select! {
                push = member.pushes.recv() => match push {
                    Some(push) => note_push(&push, &group_id, base, &mut pending, &mut result),
                    None => {
                        result.errors.push("connection closed".into());
                        break;
                    }
                },
                changed = total.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(give_up.remaining()) => {
                    result.errors.push(format!(
                        "{} of {} messages receipted when the phase gave up",
                        result.receipted,
                        wanted.map_or_else(|| "?".to_owned(), |t| t.to_string())
                    ));
                    break;
                }
            }
        }
        while let Ok(push) = member.pushes.try_recv() {
            note_push(&push, &group_id, base, &mut pending, &mut result);
        }
        if pending.is_empty() {
            continue;
        }
        let batch: Vec<String> = pending
            .drain(..pending.len().min(tidings_proto::MAX_RECEIPT_BATCH))
            .collect();
        let id = member.conn.next_id();
        let asked = Instant::now();
        match member.conn.call_text(id, receipt_request(id, &batch)).await {
            Ok(reply) if reply.code == 0 => {
                result.ack.record(reply.at.duration_since(asked));
                result.last_ack = Some(reply.at);
                result.receipted += batch.len() as u64;
            }
            Ok(reply) => {
                result
                    .errors
                    .push(format!("receipt refused: {} {}", reply.code, reply.desc));
                break;
            }
            Err(e) => {
                result.errors.push(format!("receipt failed: {e}"));
                break;
            }
        }
    }
    (member, result)
}

/// Notes a pushed message of the group: its delivery latency, and that it awaits a receipt.
fn note_push(
    push: &PushFrame,
    group_id: &str,
    base: Instant,
    pending: &mut Vec<String>,
    result: &mut MemberPhase,
) {
    if push.event != "onRecvNewMessage" {
        return;
    }
    let Ok(message) = serde_json::from_str::<Pushed>(push.data.get()) else {
        return;
    };
    if message.group_id.as_deref() != Some(group_id) {
        return;
    }
    if let Some(micros) = message
        .text_elem
        .as_ref()
        .and_then(|t| t.text.strip_prefix('t'))
        .and_then(|t| t.parse::<u64>().ok())
    {
        let sent = base + Duration::from_micros(micros);
        result
            .delivery
            .record(push.at.saturating_duration_since(sent));
    }
    result.delivered += 1;
    pending.push(message.msg_id);
}
