//! Read-state endpoints: C2C read positions and unread counts, message-level receipts on a
//! user's behalf, group receipt counts and member lists, group unread counts.

use serde_json::{Map, Value, json};
use tidings_proto::ErrorCode;
use tidings_service::{C2cReadMark, ServiceError};

use super::{Call, Reply, RestError, codes, fields};

/// Most messages per `group_msg_receipt` call (Tencent's limit).
const MAX_GROUP_RECEIPTS: usize = 50;
/// Largest `get_group_msg_receipt_detail` page (Tencent's limit).
const MAX_DETAIL_PAGE: u64 = 200;

/// `openim/admin_set_msg_read`: marks `Report_Account`'s conversation with `Peer_Account` read
/// up to `MsgReadTime` (now when absent).
pub(crate) async fn set_c2c_read(call: &Call<'_>) -> Reply {
    let reader = call
        .string("Report_Account")
        .map_err(|e| RestError::new(codes::OPENIM_FROM_ACCOUNT, e.info))?;
    let peer = call
        .string("Peer_Account")
        .map_err(|e| RestError::new(codes::OPENIM_TO_ACCOUNT, e.info))?;
    let time = call.opt_u64("MsgReadTime")?.unwrap_or(0);
    let exist = call
        .state
        .tidings
        .accounts_exist(&[reader.clone(), peer.clone()])
        .await?;
    if !exist[0] {
        return Err(RestError::new(
            codes::OPENIM_FROM_ACCOUNT,
            format!("Report_Account {reader} does not exist"),
        ));
    }
    if !exist[1] {
        return Err(RestError::new(
            codes::OPENIM_TO_ACCOUNT,
            format!("Peer_Account {peer} does not exist"),
        ));
    }
    call.state
        .tidings
        .clean_c2c_unread(
            &reader,
            &peer,
            C2cReadMark::Time(i64::try_from(time).unwrap_or(i64::MAX)),
        )
        .await?;
    Ok(Map::new())
}

/// `openim/get_c2c_unread_msg_num`.
pub(crate) async fn c2c_unread(call: &Call<'_>) -> Reply {
    let user = call
        .string("To_Account")
        .map_err(|e| RestError::new(codes::OPENIM_TO_ACCOUNT, e.info))?;
    if !call
        .state
        .tidings
        .accounts_exist(std::slice::from_ref(&user))
        .await?[0]
    {
        return Err(RestError::new(
            codes::OPENIM_TO_ACCOUNT,
            format!("To_Account {user} does not exist"),
        ));
    }
    if call.array("Peer_Account")?.is_empty() {
        let total = call.state.tidings.c2c_unread_total(&user).await?;
        return Ok(fields(json!({ "AllC2CUnreadMsgNum": total })));
    }
    let peers = call.strings("Peer_Account", 10)?;
    let exist = call.state.tidings.accounts_exist(&peers).await?;
    let mut counts = Vec::new();
    let mut errors = Vec::new();
    for (peer, exists) in peers.iter().zip(exist) {
        if exists {
            let unread = call.state.tidings.c2c_unread(&user, peer).await?;
            counts.push(json!({ "Peer_Account": peer, "C2CUnreadMsgNum": unread }));
        } else {
            errors.push(json!({ "Peer_Account": peer, "ErrorCode": codes::ACCOUNT_NOT_FOUND }));
        }
    }
    Ok(fields(
        json!({ "C2CUnreadMsgNumList": counts, "ErrorList": errors }),
    ))
}

/// `openim/c2c_msg_read_receipt`: `Operator_Account` (the reader) receipts messages that
/// `Peer_Account` sent to them. Its refusals carry the endpoint's own codes from Tencent's page:
/// 20003 for an account that was never imported, 20001 for anything else wrong with the
/// request; only a switched-off feature (60017) and internal errors keep their common codes.
pub(crate) async fn c2c_receipt(call: &Call<'_>) -> Reply {
    record_c2c_receipt(call)
        .await
        .map_err(|error| match error.code {
            codes::REQUEST_DISABLED | codes::C2C_RECEIPT_ACCOUNT => error,
            code if code == ErrorCode::Internal.as_u32() => error,
            _ => RestError::new(codes::C2C_RECEIPT_INVALID, error.info),
        })
}

async fn record_c2c_receipt(call: &Call<'_>) -> Reply {
    let reader = call.string("Operator_Account")?;
    let sender = call.string("Peer_Account")?;
    let items = call.array("C2CMsgInfo")?;
    if items.is_empty() || items.len() > tidings_proto::MAX_RECEIPT_BATCH {
        return Err(RestError::new(
            call.invalid_code,
            format!(
                "C2CMsgInfo must hold 1 to {} items",
                tidings_proto::MAX_RECEIPT_BATCH
            ),
        ));
    }
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        let field = |name: &str| {
            item.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if field("From_Account") != sender || field("To_Account") != reader {
            return Err(RestError::new(
                call.invalid_code,
                "each C2CMsgInfo item needs From_Account = Peer_Account and To_Account = Operator_Account",
            ));
        }
        let key = field("MsgKey");
        if key.is_empty() {
            return Err(RestError::new(
                call.invalid_code,
                "each C2CMsgInfo item needs a MsgKey",
            ));
        }
        keys.push(key);
    }
    let exist = call
        .state
        .tidings
        .accounts_exist(&[reader.clone(), sender.clone()])
        .await?;
    if let Some((account, _)) = [&reader, &sender]
        .into_iter()
        .zip(exist)
        .find(|(_, exists)| !exists)
    {
        return Err(RestError::new(
            codes::C2C_RECEIPT_ACCOUNT,
            format!("account {account} was never imported"),
        ));
    }
    call.state.tidings.require_sent_by(&sender, &keys).await?;
    let skipped = call
        .state
        .tidings
        .send_read_receipts(&reader, keys, None)
        .await?;
    let list: Vec<Value> = skipped
        .into_iter()
        .map(|s| {
            let error = RestError::from(s.error);
            json!({ "MsgKey": s.msg_id, "ErrorCode": codes::C2C_RECEIPT_INVALID, "ErrorInfo": error.info })
        })
        .collect();
    Ok(fields(json!({ "SkippedList": list })))
}

/// `group_open_http_svc/group_msg_receipt`: `From_Account` receipts group messages by sequence.
pub(crate) async fn group_receipt(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let reader = call.string("From_Account")?;
    let seqs = call.object_numbers("MsgSeqList", "MsgSeq", MAX_GROUP_RECEIPTS)?;
    call.state.tidings.group(&group_id).await?;
    let ids = call.state.tidings.group_msg_ids(&group_id, &seqs).await?;
    let skipped = call
        .state
        .tidings
        .send_read_receipts(&reader, ids.clone(), None)
        .await?;
    let list: Vec<Value> = skipped
        .into_iter()
        .map(|s| {
            // `ids` follows `seqs`; a skipped message is one of them.
            let seq = ids
                .iter()
                .position(|id| *id == s.msg_id)
                .map_or(0, |i| seqs[i]);
            let error = RestError::from(s.error).in_service(call.invalid_code);
            json!({ "MsgSeq": seq, "ErrorCode": error.code, "ErrorInfo": error.info })
        })
        .collect();
    Ok(fields(json!({ "SkippedList": list })))
}

/// `group_open_http_svc/get_group_msg_receipt`: per message `Code` 0 or 10062.
pub(crate) async fn group_counts(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let seqs = call.object_numbers("MsgSeqList", "MsgSeq", tidings_proto::MAX_RECEIPT_BATCH)?;
    let counts = call
        .state
        .tidings
        .receipt_counts_by_seq(&group_id, &seqs)
        .await?;
    let list: Vec<Value> = seqs
        .iter()
        .zip(counts)
        .map(|(seq, counts)| match counts {
            Ok(counts) => json!({ "MsgSeq": seq, "Code": 0, "ReadNum": counts.read, "UnreadNum": counts.unread }),
            Err(error) => json!({ "MsgSeq": seq, "Code": RestError::from(error).code, "ReadNum": 0, "UnreadNum": 0 }),
        })
        .collect();
    Ok(fields(json!({ "GroupMsgReceiptList": list })))
}

/// `group_open_http_svc/get_group_msg_receipt_detail`: `Cursor` is `""` first, then the
/// returned value (a keyset cursor: stable while receipts arrive).
pub(crate) async fn group_detail(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let seq = call.u64("MsgSeq")?;
    let filter = call.opt_u64("Filter")?.unwrap_or(0);
    let count = call.opt_u64("Count")?.unwrap_or(100);
    if !(1..=MAX_DETAIL_PAGE).contains(&count) {
        return Err(RestError::new(
            call.invalid_code,
            format!("Count must be between 1 and {MAX_DETAIL_PAGE}"),
        ));
    }
    let cursor = match call.opt_string("Cursor")? {
        None => 0,
        Some(text) => text.parse::<u32>().map_err(|_| {
            RestError::new(call.invalid_code, "Cursor is not one this server returned")
        })?,
    };
    let page = call
        .state
        .tidings
        .receipt_members_by_seq(
            &group_id,
            seq,
            u32::try_from(filter).unwrap_or(u32::MAX),
            cursor,
            count as u32,
        )
        .await?;
    let (list_name, item_name) = if filter == 0 {
        ("ReadList", "Read_Account")
    } else {
        ("UnreadList", "Unread_Account")
    };
    let list: Vec<Value> = page
        .member_info_list
        .iter()
        .map(|m| json!({ item_name: m.user_id }))
        .collect();
    let next = if page.is_finished {
        String::new()
    } else {
        page.next_seq.to_string()
    };
    Ok(fields(
        json!({ "MsgSeq": seq, list_name: list, "Cursor": next, "IsFinished": u8::from(page.is_finished) }),
    ))
}

/// `group_open_http_svc/set_unread_msg_num`.
pub(crate) async fn set_group_unread(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let member = call.string("Member_Account")?;
    let unread = call.u64("UnreadMsgNum")?;
    call.state
        .tidings
        .set_group_unread(&group_id, &member, unread)
        .await
        .map_err(|e| match e {
            ServiceError::PermissionDenied(info) => RestError::new(call.invalid_code, info),
            other => other.into(),
        })?;
    Ok(Map::new())
}
