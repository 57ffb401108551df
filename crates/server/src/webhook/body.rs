//! Tencent's callback bodies: the `CallbackCommand` and JSON fields of each after-event and
//! before-send question, and the verdict a before-send answer gives.

use serde_json::{Map, Value, json};
use tidings_proto::ErrorCode;
use tidings_service::{AfterEvent, BeforeSend, BeforeSendEvent, CallbackEvent, Verdict};

use crate::tencent::group_type_name;
use crate::tencent::msg_body::{msg_body_of, parse_msg_body};

/// Tencent's `CallbackCommand` of an event, e.g. `C2C.CallbackAfterSendMsg`.
pub(crate) fn command(event: &AfterEvent) -> &'static str {
    match event {
        AfterEvent::C2cMessageSent { .. } => "C2C.CallbackAfterSendMsg",
        AfterEvent::GroupMessageSent { .. } => "Group.CallbackAfterSendMsg",
        AfterEvent::C2cReadReported { .. } => "C2C.CallbackAfterMsgReport",
        AfterEvent::GroupReceiptsSent { .. } => "Group.CallbackAfterReadReceipt",
    }
}

/// The user whose total C2C unread count the body carries as `UnreadMsgNum`, computed at
/// delivery, off the message path: the receiver of a C2C message, the reader of a C2C report.
pub(crate) fn unread_total_of(event: &AfterEvent) -> Option<&str> {
    match event {
        AfterEvent::C2cMessageSent { message, .. } => message.message.receiver.as_deref(),
        AfterEvent::C2cReadReported { reader, .. } => Some(reader),
        AfterEvent::GroupMessageSent { .. } | AfterEvent::GroupReceiptsSent { .. } => None,
    }
}

/// The callback body without `UnreadMsgNum`: `CallbackCommand`, the event's fields by Tencent's
/// names, and `EventTime` (Unix milliseconds).
pub(crate) fn body(emitted: &CallbackEvent) -> Map<String, Value> {
    let fields = match &emitted.event {
        AfterEvent::C2cMessageSent {
            message: record,
            online_only,
        } => json!({
            "From_Account": record.message.sender,
            "To_Account": record.message.receiver,
            "MsgSeq": record.seq,
            "MsgRandom": record.message.random,
            "MsgTime": record.message.timestamp,
            "MsgKey": record.message.msg_id,
            "MsgId": record.message.msg_id,
            "OnlineOnlyFlag": u8::from(*online_only),
            "SendMsgResult": 0,
            "ErrorInfo": "send msg succeed",
            "MsgBody": msg_body_of(&record.message),
            "CloudCustomData": record.message.cloud_custom_data,
        }),
        AfterEvent::GroupMessageSent {
            group_type,
            message: record,
            online_only,
        } => json!({
            "GroupId": record.message.group_id,
            "Type": group_type_name(*group_type),
            "From_Account": record.message.sender,
            "Operator_Account": emitted.origin.operator.as_ref().unwrap_or(&record.message.sender),
            "Random": record.message.random,
            "MsgSeq": record.seq,
            "MsgTime": record.message.timestamp,
            "MsgId": record.message.msg_id,
            "OnlineOnlyFlag": u8::from(*online_only),
            "MsgBody": msg_body_of(&record.message),
            "CloudCustomData": record.message.cloud_custom_data,
        }),
        AfterEvent::C2cReadReported {
            reader,
            peer,
            read_time,
        } => json!({ "Report_Account": reader, "Peer_Account": peer, "LastReadTime": read_time }),
        AfterEvent::GroupReceiptsSent {
            group_id,
            group_type,
            reader,
            receipts,
        } => json!({
            "GroupId": group_id,
            "Type": group_type_name(*group_type),
            "GroupMsgReceiptList": receipts
                .iter()
                .map(|receipt| json!({
                    "MsgSeq": receipt.seq,
                    "ReadNum": receipt.read,
                    "UnreadNum": receipt.unread,
                    "ReadReceiptMembers": [{ "Member_Account": reader }],
                }))
                .collect::<Vec<_>>(),
        }),
    };
    let mut body = Map::new();
    body.insert(
        "CallbackCommand".into(),
        Value::from(command(&emitted.event)),
    );
    if let Value::Object(fields) = fields {
        body.extend(fields);
    }
    body.insert("EventTime".into(), Value::from(emitted.time_millis));
    body
}

/// Tencent's `CallbackCommand` of a before-send question.
pub(crate) fn before_command(event: &BeforeSend) -> &'static str {
    match event {
        BeforeSend::C2c { .. } => "C2C.CallbackBeforeSendMsg",
        BeforeSend::Group { .. } => "Group.CallbackBeforeSendMsg",
    }
}

/// The body of a before-send question: `CallbackCommand`, the message's fields by Tencent's
/// names (no `MsgSeq`: the message has none before it is stored) and `EventTime`.
pub(crate) fn before_body(asked: &BeforeSendEvent) -> Map<String, Value> {
    let fields = match &asked.event {
        BeforeSend::C2c {
            message,
            online_only,
        } => json!({
            "From_Account": message.sender,
            "To_Account": message.receiver,
            "MsgRandom": message.random,
            "MsgTime": message.timestamp,
            "MsgKey": message.msg_id,
            "MsgId": message.msg_id,
            "OnlineOnlyFlag": u8::from(*online_only),
            "MsgBody": msg_body_of(message),
            "CloudCustomData": message.cloud_custom_data,
        }),
        BeforeSend::Group {
            group_type,
            message,
            online_only,
        } => json!({
            "GroupId": message.group_id,
            "Type": group_type_name(*group_type),
            "From_Account": message.sender,
            "Operator_Account": asked.origin.operator.as_ref().unwrap_or(&message.sender),
            "Random": message.random,
            "MsgTime": message.timestamp,
            "MsgId": message.msg_id,
            "OnlineOnlyFlag": u8::from(*online_only),
            "MsgBody": msg_body_of(message),
            "CloudCustomData": message.cloud_custom_data,
        }),
    };
    let mut body = Map::new();
    body.insert(
        "CallbackCommand".into(),
        Value::from(before_command(&asked.event)),
    );
    if let Value::Object(fields) = fields {
        body.extend(fields);
    }
    body.insert("EventTime".into(), Value::from(asked.time_millis));
    body
}

/// The verdict of a before-send answer, by its `ErrorCode`: 0 sends (with `MsgBody` and
/// `CloudCustomData` replacing the message's when given), 1 refuses, 2 drops silently, and a
/// code in 120001–130000 refuses with that code and the answer's `ErrorInfo`. Anything else
/// cannot be read (the caller applies its default).
pub(crate) fn verdict_of(answer: &Value) -> Result<Verdict, String> {
    let code = answer
        .get("ErrorCode")
        .and_then(Value::as_u64)
        .ok_or("the answer has no ErrorCode number")?;
    match code {
        0 => {
            let content = match answer.get("MsgBody") {
                None | Some(Value::Null) => None,
                Some(body) => Some(
                    parse_msg_body(body)
                        .map_err(|e| format!("the answer's changed {e}"))?
                        .into(),
                ),
            };
            let cloud_custom_data = match answer.get("CloudCustomData") {
                None | Some(Value::Null) => None,
                Some(Value::String(data)) => Some(data.clone()),
                Some(_) => return Err("the answer's CloudCustomData is not a string".into()),
            };
            Ok(if content.is_none() && cloud_custom_data.is_none() {
                Verdict::Allow
            } else {
                Verdict::Change {
                    content,
                    cloud_custom_data,
                }
            })
        }
        1 => Ok(Verdict::Deny {
            app_code: None,
            info: String::new(),
        }),
        2 => Ok(Verdict::Discard),
        code if u32::try_from(code).is_ok_and(|c| ErrorCode::APP_REFUSAL_CODES.contains(&c)) => {
            Ok(Verdict::Deny {
                app_code: u32::try_from(code).ok(),
                info: answer
                    .get("ErrorInfo")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
        }
        other => Err(format!(
            "the answer's ErrorCode {other} is none of 0, 1, 2 and 120001 to 130000"
        )),
    }
}

#[cfg(test)]
mod tests;
