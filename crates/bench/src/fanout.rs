//! `fan-out`: a group of G members, each on its own connection, spread over every `--url` in
//! turn (so over the nodes of a cluster); the sender sends M messages, one at a time, each only
//! once every member received the previous one.
//!
//! Reports the delivery latency: for every (message, member), from the sender's `sendMessage`
//! request until that member read the `onRecvNewMessage` push off its socket; and the time until
//! the last member of a message had it. Checks that every member got every message exactly once
//! and in the order sent.
//!
//! Users exist once they logged in: the members log in once and leave, the group is filled while
//! they are offline (so the set-up's membership events, one per invited member to every member
//! online, do not load the run), then they log in again and stay for the measurement.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::Deserialize;
use tidings_proto::Message;
use tokio::sync::{mpsc, watch};

use crate::client::{Conn, PushFrame};
use crate::report::{Deadline, Latency, Report, progress, rate};
use crate::setup::{create_work_group, log_in_all, sign_users};
use crate::target::{Target, run_tag};
use crate::{FanOutArgs, RunContext};

/// How long the run waits for the members to receive one message before it gives up on it.
const DELIVERY_WAIT: Duration = Duration::from_secs(60);

pub(crate) async fn run(ctx: &RunContext, args: &FanOutArgs) -> Result<Report> {
    if args.members < 2 || args.messages == 0 {
        bail!("fan-out needs --members ≥ 2 and --messages ≥ 1");
    }
    let started = Instant::now();
    let deadline = Deadline::after(ctx.remaining());
    let mut report = Report::new(
        "fan-out",
        serde_json::json!({
            "members": args.members,
            "messages": args.messages,
            "synchronous": ctx.common.synchronous,
        }),
    );
    let target = Target::start(&ctx.common).await?;
    report.params["nodes"] = serde_json::json!(target.nodes());
    if !target.in_process() {
        report.params["url"] = serde_json::json!(target.urls);
    }
    let outcome = fan_out(ctx, args, &target, deadline, &mut report).await;
    target.stop().await;
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[derive(Deserialize)]
struct PushedMessage {
    #[serde(rename = "msgID")]
    msg_id: String,
    #[serde(rename = "groupID", default)]
    group_id: Option<String>,
}

async fn fan_out(
    ctx: &RunContext,
    args: &FanOutArgs,
    target: &Target,
    deadline: Deadline,
    report: &mut Report,
) -> Result<()> {
    let tag = run_tag();
    let sender_id = format!("{tag}-s");
    let group_id = format!("{tag}-fanout");
    let receivers = args.members - 1;
    let member_ids: Vec<String> = (1..args.members).map(|i| format!("{tag}-m{i}")).collect();
    let users = sign_users(&target.signer, member_ids.iter().cloned());

    // Every member logs in once (which makes the user), then leaves.
    let Some(first_logins) = log_in_all(
        ctx,
        &target.urls,
        &users,
        false,
        "fan-out: first login",
        deadline,
        report,
    )
    .await?
    else {
        return Ok(());
    };
    drop(first_logins);
    // The servers close those sessions as their close frames arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The sender creates the group and invites everyone while nobody else is online.
    let (sender, _) = Conn::login(
        target.url(0),
        &sender_id,
        &target.signer.sign(&sender_id),
        false,
    )
    .await?;
    let bar = progress(receivers as u64, "fan-out: invite", ctx.quiet);
    let created = create_work_group(
        &sender,
        &group_id,
        "fan-out",
        &member_ids,
        deadline,
        report,
        Some(&bar),
    )
    .await?;
    bar.finish_and_clear();
    let Some(group_id) = created else {
        return Ok(());
    };

    // The members log in again and stay, the i-th to the i-th URL in turn.
    let login_began = Instant::now();
    let Some(conns) = log_in_all(
        ctx,
        &target.urls,
        &users,
        true,
        "fan-out: login",
        deadline,
        report,
    )
    .await?
    else {
        return Ok(());
    };
    let login_time = login_began.elapsed();

    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel::<(String, Instant)>();
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = Vec::with_capacity(receivers);
    let mut open = Vec::with_capacity(receivers);
    for (conn, pushes) in conns {
        open.push(conn);
        let pushes = pushes.unwrap_or_else(|| mpsc::unbounded_channel().1);
        tasks.push(tokio::spawn(receive(
            pushes,
            group_id.clone(),
            args.messages,
            arrivals_tx.clone(),
            stop.clone(),
        )));
    }
    drop(arrivals_tx);

    // The messages, one at a time; each waits until every member has it (or gives up).
    let bar = progress(
        (receivers * args.messages) as u64,
        "fan-out: deliveries",
        ctx.quiet,
    );
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let mut order = Vec::with_capacity(args.messages);
    let mut delivered: HashMap<String, usize> = HashMap::new();
    let mut delivery = Latency::default();
    let mut spread = Latency::default();
    let mut send_latency = Latency::default();
    let mut incomplete = 0usize;
    let began = Instant::now();
    let mut last_arrival = began;
    for i in 0..args.messages {
        let params = serde_json::json!({
            "groupID": group_id,
            "textElem": { "text": format!("fan-out message {i}") },
        });
        let at = Instant::now();
        let Some(reply) = deadline
            .run(sender.call_value("sendMessage", &params))
            .await
        else {
            report.cut_short("sending");
            break;
        };
        let reply = reply?;
        send_latency.record(reply.at.duration_since(at));
        let message: Message = reply.decode("sendMessage")?;
        sent_at.insert(message.msg_id.clone(), at);
        order.push(message.msg_id.clone());
        let wait_until = Instant::now() + DELIVERY_WAIT.min(deadline.remaining());
        let mut last_of_this = at;
        while delivered.get(&message.msg_id).copied().unwrap_or(0) < receivers {
            let left = wait_until.saturating_duration_since(Instant::now());
            let Ok(Some((msg_id, arrived))) = tokio::time::timeout(left, arrivals.recv()).await
            else {
                break;
            };
            let Some(sent) = sent_at.get(&msg_id) else {
                continue;
            };
            delivery.record(arrived.saturating_duration_since(*sent));
            *delivered.entry(msg_id.clone()).or_default() += 1;
            last_arrival = last_arrival.max(arrived);
            if msg_id == message.msg_id {
                last_of_this = last_of_this.max(arrived);
            }
            bar.inc(1);
        }
        if delivered.get(&message.msg_id).copied().unwrap_or(0) < receivers {
            incomplete += 1;
            if deadline.expired() {
                report.cut_short("deliveries");
                break;
            }
        } else {
            spread.record(last_of_this.saturating_duration_since(at));
        }
    }
    bar.finish_and_clear();
    let _ = stop_tx.send(true);
    let mut in_order = 0usize;
    for task in tasks {
        if let Ok(received) = task.await
            && received == order
        {
            in_order += 1;
        }
    }
    drop(open);
    let deliveries: usize = delivered.values().sum();
    let expected = receivers * order.len();
    report.check(
        "every member received every message once",
        incomplete == 0 && deliveries == expected && order.len() == args.messages,
        format!(
            "{deliveries} of {expected} deliveries; {incomplete} of {} messages not delivered \
             to every member within {} s",
            order.len(),
            DELIVERY_WAIT.as_secs()
        ),
    );
    report.check(
        "every member received the messages in the order sent",
        in_order == receivers,
        format!("{in_order} of {receivers} members"),
    );
    report.latency("delivery", &delivery, Some(500.0));
    report.latency("last_delivery", &spread, None);
    report.latency("send", &send_latency, None);
    report.metric(
        "deliveries_per_sec",
        rate(deliveries as u64, last_arrival.duration_since(began)),
        "deliveries/s",
    );
    report.metric(
        "logins_per_sec",
        rate(receivers as u64, login_time),
        "logins/s",
    );
    report.notes.push(format!(
        "{receivers} members on {} server URL(s) in turn; each message is sent once the previous \
         one reached every member; the load generator shares the machine with the server(s)",
        target.nodes()
    ));
    sender.close();
    Ok(())
}

/// One member: the group's messages in the order they arrived, until it has `messages` of them
/// or the run says stop.
async fn receive(
    mut pushes: mpsc::UnboundedReceiver<PushFrame>,
    group_id: String,
    messages: usize,
    arrivals: mpsc::UnboundedSender<(String, Instant)>,
    mut stop: watch::Receiver<bool>,
) -> Vec<String> {
    let mut received = Vec::with_capacity(messages);
    loop {
        let push = tokio::select! {
            push = pushes.recv() => push,
            _ = stop.wait_for(|stop| *stop) => None,
        };
        let Some(push) = push else {
            return received;
        };
        if push.event != "onRecvNewMessage" {
            continue;
        }
        let Ok(message) = serde_json::from_str::<PushedMessage>(push.data.get()) else {
            continue;
        };
        if message.group_id.as_deref() != Some(group_id.as_str()) {
            continue;
        }
        let _ = arrivals.send((message.msg_id.clone(), push.at));
        received.push(message.msg_id);
    }
}
