//! Tencent's callback bodies: the `CallbackCommand` and JSON fields of each after-event.

use serde_json::{Map, Value, json};
use tidings_service::{AfterEvent, CallbackEvent};

use crate::tencent::group_type_name;
use crate::tencent::msg_body::msg_body_of;

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

#[cfg(test)]
mod tests;
