//! Message endpoints: C2C and group sends, C2C roaming history, group history, recalls.

use serde_json::{Value, json};
use tidings_proto::MAX_TARGETED_RECEIVERS;
use tidings_proto::methods::{GROUP_AT_ALL, SendMessageParams};
use tidings_service::SendOptions;
use tidings_store::MessageRecord;

use super::{Call, Reply, RestError, codes, fields};
use crate::tencent::msg_body::{ParsedBody, msg_body_of, parse_msg_body};

/// The V2TIM send parameters and options of a REST send body (without the addressee).
fn send_params(
    call: &Call<'_>,
    need_receipt_field: &str,
    online_only: bool,
) -> Result<(SendMessageParams, SendOptions), RestError> {
    let body = call
        .body
        .get("MsgBody")
        .ok_or_else(|| RestError::new(call.invalid_code, "MsgBody is missing"))?;
    let parsed = parse_msg_body(body).map_err(|e| RestError::new(call.invalid_code, e))?;
    let no_unread = call
        .array("SendMsgControl")?
        .iter()
        .any(|control| control.as_str() == Some("NoUnread"));
    let random = call
        .opt_u64("MsgRandom")?
        .or(call.opt_u64("Random")?)
        .unwrap_or(0);
    let mut params = SendMessageParams {
        need_read_receipt: call.opt_u64(need_receipt_field)?.unwrap_or(0) == 1,
        online_user_only: online_only,
        is_excluded_from_unread_count: no_unread,
        cloud_custom_data: call.opt_string("CloudCustomData")?.unwrap_or_default(),
        random: u32::try_from(random).unwrap_or(u32::MAX),
        ..SendMessageParams::default()
    };
    let forbidden = call.array("ForbidCallbackControl")?;
    let forbids = |name: &str| forbidden.iter().any(|item| item.as_str() == Some(name));
    let mut options = SendOptions {
        before_send_hook: !forbids("ForbidBeforeSendMsgCallback"),
        after_send_callback: !forbids("ForbidAfterSendMsgCallback"),
        ..SendOptions::default()
    };
    match parsed {
        ParsedBody::One(elem) => elem.into_fields(
            &mut params.text_elem,
            &mut params.custom_elem,
            &mut params.rich,
        ),
        ParsedBody::Raw { elem_type, json } => options.raw_body = Some((elem_type, json)),
    }
    Ok((params, options))
}

/// The sender: `From_Account`, or the App administrator when absent.
fn sender(call: &Call<'_>) -> Result<(String, bool), RestError> {
    Ok(match call.opt_string("From_Account")? {
        Some(user) => {
            let is_admin = user == call.state.auth.admin;
            (user, is_admin)
        }
        None => (call.state.auth.admin.clone(), true),
    })
}

/// The sender, parameters and options shared by `sendmsg` and `batchsendmsg`.
async fn c2c_send(call: &Call<'_>) -> Result<(String, SendMessageParams, SendOptions), RestError> {
    let online_only = call.opt_u64("MsgLifeTime")? == Some(0);
    let (params, mut options) = send_params(call, "IsNeedReadReceipt", online_only)?;
    options.sync_to_sender = call.opt_u64("SyncOtherMachine")?.unwrap_or(1) != 2;
    let (from, _) = sender(call)?;
    ensure_exists(call, &from).await?;
    Ok((from, params, options))
}

/// `openim/sendmsg`.
pub(crate) async fn send_c2c(call: &Call<'_>) -> Reply {
    let receiver = call
        .string("To_Account")
        .map_err(|e| RestError::new(codes::OPENIM_TO_ACCOUNT, e.info))?;
    let (from, mut params, options) = c2c_send(call).await?;
    params.receiver = Some(receiver);
    let message = call
        .state
        .tidings
        .send_message_with(&from, params, options)
        .await?;
    Ok(fields(
        json!({ "MsgTime": message.timestamp, "MsgKey": message.msg_id, "MsgId": message.msg_id }),
    ))
}

/// `openim/batchsendmsg`: one message per receiver; failures listed per receiver.
pub(crate) async fn send_batch(call: &Call<'_>) -> Reply {
    let receivers = call
        .strings("To_Account", 500)
        .map_err(|e| RestError::new(codes::OPENIM_TO_ACCOUNT, e.info))?;
    let (from, params, mut options) = c2c_send(call).await?;
    // Tencent asks the app's backend before C2C messages sent by users and by REST `sendmsg`
    // only: a batch is the administrator's own broadcast.
    options.before_send_hook = false;
    let mut errors = Vec::new();
    let mut first_key = None;
    for receiver in receivers {
        let params = SendMessageParams {
            receiver: Some(receiver.clone()),
            ..params.clone()
        };
        match call
            .state
            .tidings
            .send_message_with(&from, params, options.clone())
            .await
        {
            Ok(message) => {
                first_key.get_or_insert(message.msg_id);
            }
            Err(error) => {
                let code = RestError::from(error).in_service(call.invalid_code).code;
                errors.push(json!({ "To_Account": receiver, "ErrorCode": code }));
            }
        }
    }
    let key = first_key.unwrap_or_default();
    Ok(fields(
        json!({ "MsgKey": key, "MsgId": key, "ErrorList": errors }),
    ))
}

/// Makes sure the App administrator exists as a user before it sends.
async fn ensure_exists(call: &Call<'_>, user: &str) -> Result<(), RestError> {
    if user == call.state.auth.admin {
        call.state.tidings.login(user).await?;
    } else if !call
        .state
        .tidings
        .accounts_exist(&[user.to_owned()])
        .await?[0]
    {
        return Err(RestError::new(
            codes::OPENIM_FROM_ACCOUNT,
            format!("From_Account {user} does not exist"),
        ));
    }
    Ok(())
}

/// `group_open_http_svc/send_group_msg`.
pub(crate) async fn send_group(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let online_only = call.opt_u64("OnlineOnlyFlag")?.unwrap_or(0) == 1;
    let (mut params, mut options) = send_params(call, "NeedReadReceipt", online_only)?;
    // A targeted group message: for these members only.
    if !call.array("To_Account")?.is_empty() {
        params.receiver_list = call.strings("To_Account", MAX_TARGETED_RECEIVERS)?;
    }
    params.group_at_user_list = group_at_accounts(call)?;
    let (from, is_admin) = sender(call)?;
    if is_admin {
        call.state.tidings.login(&from).await?;
    }
    options.as_admin = is_admin;
    params.group_id = Some(group_id);
    let message = call
        .state
        .tidings
        .send_message_with(&from, params, options)
        .await?;
    Ok(fields(
        json!({ "MsgTime": message.timestamp, "MsgSeq": message.seq, "MsgId": message.msg_id }),
    ))
}

/// `GroupAtInfo` as V2TIM's `groupAtUserList`: each item's `GroupAt_Account`, or V2TIM's
/// "everyone" marker for `GroupAtAllFlag` 1 (`GroupAt_AllFlag` is read too) or the account
/// `@RM#ALL`.
fn group_at_accounts(call: &Call<'_>) -> Result<Vec<String>, RestError> {
    call.array("GroupAtInfo")?
        .iter()
        .map(|item| {
            let all_flag = ["GroupAtAllFlag", "GroupAt_AllFlag"]
                .iter()
                .any(|flag| item.get(*flag).and_then(Value::as_u64) == Some(1));
            let account = item.get("GroupAt_Account").and_then(Value::as_str);
            match account {
                _ if all_flag => Ok(GROUP_AT_ALL.to_owned()),
                Some(REST_AT_ALL) => Ok(GROUP_AT_ALL.to_owned()),
                Some(account) => Ok(account.to_owned()),
                None => Err(RestError::new(
                    call.invalid_code,
                    "each GroupAtInfo item needs GroupAtAllFlag 1 or a GroupAt_Account",
                )),
            }
        })
        .collect()
}

/// The `GroupAt_Account` that mentions everyone in Tencent's REST API.
const REST_AT_ALL: &str = "@RM#ALL";

/// `MsgFlagBits` of a recalled message in roaming history.
const MSG_FLAG_RECALLED: u8 = 8;
/// `IsPlaceMsg` of a recalled message in group history.
const PLACE_MSG_RECALLED: u8 = 2;
/// Most messages one `group_msg_recall` call may recall (Tencent's limit).
const MAX_GROUP_RECALL: usize = 10;

fn roam_item(record: &MessageRecord) -> Value {
    let message = &record.message;
    json!({
        "From_Account": message.sender,
        "To_Account": message.receiver,
        "MsgSeq": record.seq,
        "MsgRandom": message.random,
        "MsgTimeStamp": message.timestamp,
        // Tencent's flag of a recalled message.
        "MsgFlagBits": if record.revoked.is_some() { MSG_FLAG_RECALLED } else { 0 },
        "IsPeerRead": u8::from(record.receipt_at.is_some()),
        "MsgKey": message.msg_id,
        "MsgId": message.msg_id,
        "MsgBody": msg_body_of(message),
        "CloudCustomData": message.cloud_custom_data,
    })
}

/// `openim/admin_getroammsg`: newest first; `LastMsgKey` continues with older messages.
pub(crate) async fn roam(call: &Call<'_>) -> Reply {
    let operator = call.string_of(&["Operator_Account", "From_Account"])?;
    let peer = call.string_of(&["Peer_Account", "To_Account"])?;
    let max = call.opt_u64("MaxCnt")?.unwrap_or(100).clamp(1, 100) as u32;
    let time = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    let min_time = call.opt_u64("MinTime")?.map_or(0, time);
    let max_time = call.opt_u64("MaxTime")?.map_or(i64::MAX, time);
    let last_key = call.opt_string("LastMsgKey")?;
    let (records, complete) = call
        .state
        .tidings
        .roam_messages(
            &operator,
            &peer,
            min_time,
            max_time,
            max,
            last_key.as_deref(),
        )
        .await?;
    let last = records.last();
    Ok(fields(json!({
        "Complete": u8::from(complete),
        "MsgCnt": records.len(),
        "LastMsgTime": last.map_or(0, |r| r.message.timestamp),
        "LastMsgKey": last.map_or(String::new(), |r| r.message.msg_id.clone()),
        "MsgList": records.iter().map(roam_item).collect::<Vec<_>>(),
    })))
}

/// `group_open_http_svc/group_msg_get_simple`: newest first from `ReqMsgSeq`.
pub(crate) async fn group_history(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let count = call.opt_u64("ReqMsgNumber")?.unwrap_or(20);
    if !(1..=20).contains(&count) {
        return Err(RestError::new(
            call.invalid_code,
            "ReqMsgNumber must be between 1 and 20",
        ));
    }
    let up_to = call.opt_u64("ReqMsgSeq")?;
    let records = call
        .state
        .tidings
        .group_messages(&group_id, up_to, count as u32)
        .await?;
    // Tencent leaves recalled messages out unless asked for (as placeholders, `IsPlaceMsg` 2).
    let with_recalled = call.opt_u64("WithRecalledMsg")?.unwrap_or(0) == 1;
    let items: Vec<Value> = records
        .iter()
        .filter(|record| with_recalled || record.revoked.is_none())
        .map(|record| {
            json!({
                "From_Account": record.message.sender,
                "IsPlaceMsg": if record.revoked.is_some() { PLACE_MSG_RECALLED } else { 0 },
                "IsSystemMsg": 0,
                "MsgBody": msg_body_of(&record.message),
                "MsgPriority": 1,
                "MsgRandom": record.message.random,
                "MsgSeq": record.seq,
                "MsgTimeStamp": record.message.timestamp,
                "MsgId": record.message.msg_id,
                "CloudCustomData": record.message.cloud_custom_data,
            })
        })
        .collect();
    // Tencent's IsFinished tells whether every message of the requested range was returned (0
    // when a reply had to be cut short); this server never cuts one short. Callers page on by
    // asking for the smallest returned MsgSeq minus 1, until nothing comes back.
    Ok(fields(
        json!({ "GroupId": group_id, "IsFinished": 1, "RspMsgList": items }),
    ))
}

/// `openim/admin_msgwithdraw`: recalls the C2C message `MsgKey` that `From_Account` sent to
/// `To_Account`, at any time.
pub(crate) async fn withdraw_c2c(call: &Call<'_>) -> Reply {
    let from = call
        .string("From_Account")
        .map_err(|e| RestError::new(codes::OPENIM_FROM_ACCOUNT, e.info))?;
    let to = call
        .string("To_Account")
        .map_err(|e| RestError::new(codes::OPENIM_TO_ACCOUNT, e.info))?;
    let key = call.string("MsgKey")?;
    call.state
        .tidings
        .admin_revoke_c2c(&call.state.auth.admin, &from, &to, &key)
        .await?;
    Ok(fields(json!({})))
}

/// `group_open_http_svc/group_msg_recall`: recalls group messages by `MsgSeq`, at any time;
/// `RecallRetList` gives each one's `RetCode` (0, 10030 no such message, 20023 already
/// recalled).
pub(crate) async fn recall_group(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let seqs = call.object_numbers("MsgSeqList", "MsgSeq", MAX_GROUP_RECALL)?;
    let outcomes = call
        .state
        .tidings
        .admin_revoke_group(&call.state.auth.admin, &group_id, &seqs)
        .await?;
    let list: Vec<Value> = seqs
        .iter()
        .zip(outcomes)
        .map(|(seq, outcome)| {
            let code = match outcome {
                Ok(()) => 0,
                Err(error) => RestError::from(error).in_service(call.invalid_code).code,
            };
            json!({ "MsgSeq": seq, "RetCode": code })
        })
        .collect();
    Ok(fields(json!({ "RecallRetList": list })))
}
