//! What scenarios share to set up their load over the protocol: signing users, logging them in
//! each on its own connection, creating a group of them, and sending messages that ask for
//! receipts. Each step honours the run's time limit: cut short, it notes so in the report and
//! returns `None`.

use std::time::Instant;

use anyhow::Result;
use tidings_proto::methods::{CreateGroupParams, CreateGroupResult, InviteParams};
use tidings_proto::{GroupMemberSpec, GroupRole, Message};

use crate::RunContext;
use crate::client::{Conn, LoggedIn, login_many};
use crate::report::{Deadline, Latency, Report, progress};
use crate::target::Signer;

/// Members a `createGroup` call takes besides its owner; the rest are invited in calls of
/// [`INVITE_CHUNK`].
const CREATE_WITH: usize = 99;
/// Users per `inviteUserToGroup` call.
const INVITE_CHUNK: usize = 100;

/// Each user with a UserSig for it.
pub(crate) fn sign_users(
    signer: &Signer,
    users: impl IntoIterator<Item = String>,
) -> Vec<(String, String)> {
    users
        .into_iter()
        .map(|user| {
            let sig = signer.sign(&user);
            (user, sig)
        })
        .collect()
}

/// Logs every user in on its own connection (the `i`-th to `urls[i % urls.len()]`), with a
/// progress bar named `label`; `None` when the time limit cut it short.
pub(crate) async fn log_in_all(
    ctx: &RunContext,
    urls: &[String],
    users: &[(String, String)],
    want_pushes: bool,
    label: &str,
    deadline: Deadline,
    report: &mut Report,
) -> Result<Option<Vec<LoggedIn>>> {
    let bar = progress(users.len() as u64, label, ctx.quiet);
    let Some(conns) = deadline
        .run(login_many(urls, users, want_pushes, &bar))
        .await
    else {
        bar.finish_and_clear();
        report.cut_short(label);
        return Ok(None);
    };
    bar.finish_and_clear();
    conns.map(Some)
}

/// Has `owner` create a Work group `group_id` with `members` (all existing users): the first
/// 99 in `createGroup`, the others invited 100 at a time. Returns the group's ID, or `None` when
/// the time limit cut it short. The bar, when given, counts the members added.
pub(crate) async fn create_work_group(
    owner: &Conn,
    group_id: &str,
    name: &str,
    members: &[String],
    deadline: Deadline,
    report: &mut Report,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Option<String>> {
    let first = members.len().min(CREATE_WITH);
    let create = CreateGroupParams {
        group_type: "Work".into(),
        group_id: Some(group_id.to_owned()),
        group_name: name.into(),
        member_list: members[..first]
            .iter()
            .map(|user| GroupMemberSpec {
                user_id: user.clone(),
                role: GroupRole::Member,
            })
            .collect(),
    };
    let Some(created) = deadline
        .run(owner.call::<CreateGroupResult>("createGroup", &serde_json::to_value(&create)?))
        .await
    else {
        report.cut_short("creating the group");
        return Ok(None);
    };
    let created = created?;
    if let Some(bar) = bar {
        bar.inc(first as u64);
    }
    for chunk in members[first..].chunks(INVITE_CHUNK) {
        let invite = InviteParams {
            group_id: created.group_id.clone(),
            user_list: chunk.to_vec(),
        };
        let Some(reply) =
            deadline
                .run(owner.call::<serde_json::Value>(
                    "inviteUserToGroup",
                    &serde_json::to_value(&invite)?,
                ))
                .await
        else {
            report.cut_short("inviting");
            return Ok(None);
        };
        reply?;
        if let Some(bar) = bar {
            bar.inc(chunk.len() as u64);
        }
    }
    Ok(Some(created.group_id))
}

/// Sends `count` group messages asking for receipts, one at a time; returns their IDs and the
/// send latencies, or None when the deadline cut the run short (noted in the report).
pub(crate) async fn send_receipt_messages(
    sender: &Conn,
    group_id: &str,
    count: usize,
    label: &str,
    deadline: Deadline,
    report: &mut Report,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Option<(Vec<String>, Latency)>> {
    let mut msg_ids = Vec::with_capacity(count);
    let mut send_latency = Latency::default();
    for i in 0..count {
        let params = serde_json::json!({
            "groupID": group_id,
            "textElem": { "text": format!("{label} message {i}") },
            "needReadReceipt": true,
        });
        let sent_at = Instant::now();
        let Some(reply) = deadline
            .run(sender.call_value("sendMessage", &params))
            .await
        else {
            report.cut_short("sending");
            return Ok(None);
        };
        let reply = reply?;
        send_latency.record(reply.at.duration_since(sent_at));
        let message: Message = reply.decode("sendMessage")?;
        msg_ids.push(message.msg_id);
        if let Some(bar) = bar {
            bar.inc(1);
        }
    }
    Ok(Some((msg_ids, send_latency)))
}
