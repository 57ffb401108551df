//! The SDK's types against the shapes `docs/protocol.md` documents: every push example decodes
//! into its `SdkEvent` variant (not `Unknown`), and every successful request/response pair
//! decodes into the method's parameter and result types, each of them with every field the
//! example has. So a documented field the SDK would drop, or a shape it cannot read, fails here.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tidings_sdk::SdkEvent;
use tidings_sdk::proto::events::{self, ALL_EVENTS};
use tidings_sdk::proto::methods::{self, ALL_METHODS, MethodKind};
use tidings_sdk::proto::{Event, Method, Push};

fn doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every JSON value of the ```json blocks, with the line of its block.
fn examples(text: &str) -> Vec<(usize, Value)> {
    let mut values = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        match (&mut block, line.trim()) {
            (None, "```json") => block = Some((index + 1, String::new())),
            (None, _) => {}
            (Some(_), "```") => {
                if let Some((at, content)) = block.take() {
                    let stream = serde_json::Deserializer::from_str(&content).into_iter::<Value>();
                    for value in stream {
                        let value =
                            value.unwrap_or_else(|e| panic!("block at line {at} is not JSON: {e}"));
                        values.push((at, value));
                    }
                }
            }
            (Some((_, content)), _) => {
                content.push_str(line);
                content.push('\n');
            }
        }
    }
    values
}

/// Decodes `value` as `T`, then checks that encoding it again loses no field of the example
/// (the SDK's type holds everything documented).
fn round_trip<T: DeserializeOwned + serde::Serialize>(value: &Value, what: &str) {
    let decoded: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what}: the SDK cannot read {value}: {e}"));
    let again = serde_json::to_value(&decoded).expect("encodes");
    let missing = missing_fields(value, &again);
    assert!(
        missing.is_empty(),
        "{what}: the SDK's type drops {missing:?} of {value}"
    );
}

/// Paths of object fields present in `example` but absent from `decoded`.
fn missing_fields(example: &Value, decoded: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    match (example, decoded) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    None => missing.push(key.clone()),
                    Some(other) => missing.extend(
                        missing_fields(value, other)
                            .into_iter()
                            .map(|m| format!("{key}.{m}")),
                    ),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                missing.extend(
                    missing_fields(x, y)
                        .into_iter()
                        .map(|m| format!("[{i}].{m}")),
                );
            }
        }
        _ => {}
    }
    missing
}

fn check<M: Method>(params: &Value, data: &Value, line: usize) {
    round_trip::<M::Params>(params, &format!("{} params (line {line})", M::NAME));
    round_trip::<M::Output>(data, &format!("{} result (line {line})", M::NAME));
}

/// Checks one successful exchange with the method's own types.
fn check_exchange(kind: MethodKind, params: &Value, data: &Value, line: usize) {
    macro_rules! by_kind {
        ($($marker:ident),* $(,)?) => {
            match kind {
                $(MethodKind::$marker => check::<methods::$marker>(params, data, line),)*
            }
        };
    }
    by_kind!(
        Login,
        Logout,
        SendMessage,
        GetC2cHistoryMessageList,
        GetGroupHistoryMessageList,
        GetConversationList,
        GetConversation,
        GetTotalUnreadMessageCount,
        CreateGroup,
        JoinGroup,
        QuitGroup,
        DismissGroup,
        InviteUserToGroup,
        KickGroupMember,
        GetGroupMemberList,
        GetJoinedGroupList,
        GetGroupsInfo,
        MarkC2cMessageAsRead,
        MarkGroupMessageAsRead,
        CleanConversationUnreadMessageCount,
        SendMessageReadReceipts,
        GetMessageReadReceipts,
        GetGroupMessageReadMemberList,
        RevokeMessage,
        SetReceiptPrivacy,
        GetReceiptPrivacy,
        SubscribeUserStatus,
        UnsubscribeUserStatus,
        GetUserStatus,
        SetSelfStatus,
        SetSelfInfo,
        GetUsersInfo,
        SetGroupMemberInfo,
    );
}

/// Checks a push's data with its event's own type.
fn check_push(event: &str, data: &Value, line: usize) {
    fn with<E: Event>(data: &Value, line: usize) {
        round_trip::<E::Data>(data, &format!("{} (line {line})", E::NAME));
    }
    macro_rules! by_name {
        ($($marker:ident),* $(,)?) => {
            match event {
                $(events::$marker::NAME => with::<events::$marker>(data, line),)*
                other => panic!("line {line}: no SDK type for event {other}"),
            }
        };
    }
    by_name!(
        OnRecvNewMessage,
        OnConversationChanged,
        OnNewConversation,
        OnTotalUnreadMessageCountChanged,
        OnKickedOffline,
        OnUserSigExpired,
        OnMemberEnter,
        OnMemberInvited,
        OnMemberLeave,
        OnMemberKicked,
        OnGroupDismissed,
        OnRecvMessageReadReceipts,
        OnRecvC2cReadReceipt,
        OnMessageReceiptsSent,
        OnRecvMessageRevoked,
        OnUserStatusChanged,
    );
}

/// `{}` for an absent or `null` member, as the protocol reads it.
fn or_empty(value: Option<&Value>) -> Value {
    match value {
        None | Some(Value::Null) => Value::Object(serde_json::Map::new()),
        Some(value) => value.clone(),
    }
}

#[test]
fn every_documented_push_and_result_fits_the_sdk_types() {
    let mut requests: HashMap<u64, (MethodKind, Value)> = HashMap::new();
    let mut events_seen = HashSet::new();
    let mut methods_seen = HashSet::new();
    for (line, frame) in examples(&doc()) {
        if let (Some(event), Some(data)) = (frame.get("event"), frame.get("data")) {
            let event = event.as_str().expect("event name").to_owned();
            let push = Push {
                event: event.clone(),
                data: data.clone(),
            };
            let decoded = SdkEvent::from_push(push);
            assert!(
                !matches!(decoded, SdkEvent::Unknown { .. }),
                "line {line}: the SDK cannot read this {event}: {frame}"
            );
            check_push(&event, data, line);
            events_seen.insert(event);
        } else if let Some(method) = frame.get("method").and_then(Value::as_str) {
            let id = frame["id"].as_u64().expect("request id");
            let kind = MethodKind::from_name(method)
                .unwrap_or_else(|| panic!("line {line}: unknown method {method}"));
            requests.insert(id, (kind, or_empty(frame.get("params"))));
        } else if frame.get("code").and_then(Value::as_u64) == Some(0) {
            let Some(id) = frame.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let Some((kind, params)) = requests.get(&id) else {
                continue;
            };
            check_exchange(*kind, params, &or_empty(frame.get("data")), line);
            methods_seen.insert(kind.name());
        }
    }
    let events_missing: Vec<&str> = ALL_EVENTS
        .iter()
        .copied()
        .filter(|e| !events_seen.contains(*e))
        .collect();
    assert_eq!(
        events_missing,
        Vec::<&str>::new(),
        "events without an example"
    );
    let methods_missing: Vec<&str> = ALL_METHODS
        .iter()
        .copied()
        .filter(|m| !methods_seen.contains(m))
        .collect();
    assert_eq!(
        methods_missing,
        Vec::<&str>::new(),
        "methods without a successful example exchange"
    );
}
