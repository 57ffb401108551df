//! The Tencent IM v4 REST API (`POST /v4/<service>/<command>`) through real HTTP against an
//! in-process server on 127.0.0.1:0: every endpoint of `docs/openapi.json` with Tencent's request
//! and response fields (every reply is checked against the OpenAPI description), the common
//! protocol (admin UserSig in the query, a JSON body whatever the Content-Type, always HTTP 200
//! with `ActionStatus`/`ErrorCode`/`ErrorInfo`, Tencent's error codes), messages and receipts
//! made over REST reaching SDK clients exactly like WebSocket ones, read-receipt settings changed
//! at runtime, signed webhooks (retries, the dropped counter), and a third-party Python REST
//! client (`scripts/rest_client_check.py`) pointed at the server.

mod common;
#[path = "fixtures/elements.rs"]
mod elements;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use common::{PythonCheck, TestServer, WAIT, conversation_unread, events_until, next_event};
use elements::every_element;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tidings_proto::MAX_MESSAGE_BYTES;
use tidings_sdk::{
    Elem, Events, FaceElem, FileElem, GroupType, Image, ImageElem, Message, SdkError, SdkEvent,
    SendMessageParams, TextElem,
};
use tidings_server::WebhookSettings;

const SDKAPPID: u64 = 1_400_000_000;
const ADMIN: &str = "administrator";
/// The secret key of [`TestServer`].
const TEST_KEY: &str = "tidings-test-key";

// ---------------------------------------------------------------------------------------------
// The REST client and the OpenAPI check
// ---------------------------------------------------------------------------------------------

/// The REST API of one test server, called as the App administrator.
struct Rest {
    http: reqwest::Client,
    base: String,
    sig: String,
}

impl Rest {
    fn new(server: &TestServer) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{}", server.addr),
            sig: server.sig(ADMIN),
        }
    }

    /// The common query string with the administrator's UserSig.
    fn query(&self) -> String {
        query_for(ADMIN, &self.sig)
    }

    /// POSTs `body` as is to `/v4/{path}?{query}`, with a Content-Type header only when given;
    /// asserts HTTP 200 and the envelope, and returns the reply.
    async fn post(
        &self,
        path: &str,
        query: &str,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> Value {
        let url = format!("{}/v4/{path}?{query}", self.base);
        let mut request = self.http.post(&url).body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        let response = request.send().await.expect("HTTP request");
        assert_eq!(response.status(), 200, "POST {url}");
        let text = response.text().await.expect("reply body");
        let reply: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {url}: reply is not JSON ({e}): {text}"));
        assert_envelope(&reply);
        reply
    }

    /// Calls `path` with a JSON body and no Content-Type header (as many clients do); the reply
    /// must match `docs/openapi.json`.
    async fn call(&self, path: &str, body: &Value) -> Value {
        let reply = self.post(path, &self.query(), body.to_string(), None).await;
        assert_documented(path, &reply);
        reply
    }

    /// Calls `path` and asserts success.
    async fn ok(&self, path: &str, body: Value) -> Value {
        let reply = self.call(path, &body).await;
        assert_eq!(reply["ActionStatus"], "OK", "{path} {body}: {reply}");
        reply
    }

    /// Calls `path` and asserts a refusal with `code`.
    async fn fail(&self, path: &str, body: Value, code: u64) -> Value {
        let reply = self.call(path, &body).await;
        assert_eq!(
            (reply["ActionStatus"].as_str(), reply["ErrorCode"].as_u64()),
            (Some("FAIL"), Some(code)),
            "{path} {body}: {reply}"
        );
        reply
    }

    /// Imports accounts.
    async fn import(&self, users: &[&str]) {
        let reply = self
            .ok(
                "im_open_login_svc/multiaccount_import",
                json!({ "Accounts": users }),
            )
            .await;
        assert_eq!(reply["FailAccounts"], json!([]), "{reply}");
    }

    /// Sends a C2C text message; returns its `MsgKey`.
    async fn send_text(&self, from: &str, to: &str, text: &str) -> String {
        let reply = self
            .ok(
                "openim/sendmsg",
                json!({ "From_Account": from, "To_Account": to, "MsgRandom": 1, "MsgBody": text_body(text) }),
            )
            .await;
        key(&reply)
    }

    /// Creates a group; returns its ID.
    async fn create_group(&self, group_type: &str, owner: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({ "Member_Account": m }))
            .collect();
        let reply = self
            .ok(
                "group_open_http_svc/create_group",
                json!({ "Owner_Account": owner, "Type": group_type, "Name": "team", "MemberList": members }),
            )
            .await;
        reply["GroupId"].as_str().expect("GroupId").to_owned()
    }

    /// Sends a group text message; returns its `MsgSeq`.
    async fn send_group_text(&self, group: &str, from: &str, text: &str, receipt: bool) -> u64 {
        let reply = self
            .ok(
                "group_open_http_svc/send_group_msg",
                json!({ "GroupId": group, "From_Account": from, "Random": 9, "MsgBody": text_body(text),
                        "NeedReadReceipt": u8::from(receipt) }),
            )
            .await;
        reply["MsgSeq"].as_u64().expect("MsgSeq")
    }
}

/// The common query string for `identifier` with `sig`.
fn query_for(identifier: &str, sig: &str) -> String {
    format!(
        "sdkappid={SDKAPPID}&identifier={identifier}&usersig={sig}&random={}&contenttype=json",
        rand::random::<u32>()
    )
}

fn text_body(text: &str) -> Value {
    json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": text } }])
}

fn key(reply: &Value) -> String {
    reply["MsgKey"].as_str().expect("MsgKey").to_owned()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Every reply: HTTP 200 and `ActionStatus` OK with code 0 and empty info, or FAIL with a code
/// and a message.
#[track_caller]
fn assert_envelope(reply: &Value) {
    let status = reply["ActionStatus"].as_str();
    let code = reply["ErrorCode"].as_u64();
    let info = reply["ErrorInfo"].as_str();
    match status {
        Some("OK") => assert_eq!((code, info), (Some(0), Some("")), "{reply}"),
        Some("FAIL") => {
            assert!(code.is_some_and(|c| c != 0), "FAIL without a code: {reply}");
            assert!(
                info.is_some_and(|i| !i.is_empty()),
                "FAIL without info: {reply}"
            );
            assert_eq!(
                reply.as_object().map(|o| o.len()),
                Some(3),
                "a refusal carries only the envelope: {reply}"
            );
        }
        _ => panic!("no ActionStatus: {reply}"),
    }
}

fn openapi() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        serde_json::from_str(include_str!("../../../docs/openapi.json")).expect("openapi.json")
    })
}

/// The documented endpoints, as `service/command`.
fn documented_paths() -> Vec<String> {
    openapi()["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(|path| path.trim_start_matches("/v4/").to_owned())
        .collect()
}

/// The reply matches the documented response schema of `path`: every field is documented, with
/// its type, enumeration and minimum; required fields are present.
#[track_caller]
fn assert_documented(path: &str, reply: &Value) {
    let schema = &openapi()["paths"][format!("/v4/{path}")]["post"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    assert!(schema.is_object(), "{path} is not in docs/openapi.json");
    check_schema(path, schema, reply);
}

#[track_caller]
fn check_schema(at: &str, schema: &Value, value: &Value) {
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(
            allowed.contains(value),
            "{at}: {value} is not one of {allowed:?}"
        );
    }
    match schema["type"].as_str() {
        Some("object") => {
            let object = value
                .as_object()
                .unwrap_or_else(|| panic!("{at}: object expected, got {value}"));
            if let Some(properties) = schema["properties"].as_object() {
                for (name, field) in object {
                    let field_schema = properties.get(name).unwrap_or_else(|| {
                        panic!("{at}: field {name} is not documented in docs/openapi.json")
                    });
                    check_schema(&format!("{at}.{name}"), field_schema, field);
                }
            }
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().expect("required names");
                assert!(object.contains_key(name), "{at}: required {name} missing");
            }
        }
        Some("array") => {
            let items = value
                .as_array()
                .unwrap_or_else(|| panic!("{at}: array expected, got {value}"));
            for (index, item) in items.iter().enumerate() {
                check_schema(&format!("{at}[{index}]"), &schema["items"], item);
            }
        }
        Some("string") => assert!(value.is_string(), "{at}: string expected, got {value}"),
        Some("boolean") => assert!(value.is_boolean(), "{at}: boolean expected, got {value}"),
        Some("number") => assert!(value.is_number(), "{at}: number expected, got {value}"),
        Some("integer") => {
            assert!(
                value.is_i64() || value.is_u64(),
                "{at}: integer expected, got {value}"
            );
            if let Some(minimum) = schema["minimum"].as_i64() {
                assert!(
                    value.as_i64().is_none_or(|v| v >= minimum),
                    "{at}: {value} < {minimum}"
                );
            }
        }
        None => {}
        Some(other) => panic!("{at}: unexpected schema type {other}"),
    }
}

/// A message as any viewer-independent comparison needs it: without its identity.
fn normalized(mut message: Message) -> Message {
    message.msg_id.clear();
    message.timestamp = 0;
    message.seq = 0;
    message
}

async fn recv_message(events: &mut Events, msg_id: &str) -> Message {
    next_event(events, |event| match event {
        SdkEvent::RecvNewMessage(message) if message.msg_id == msg_id => Some(message),
        _ => None,
    })
    .await
}

async fn recv_text(events: &mut Events, text: &str) -> Message {
    next_event(events, |event| match event {
        SdkEvent::RecvNewMessage(message)
            if message.text_elem.as_ref().is_some_and(|t| t.text == text) =>
        {
            Some(message)
        }
        _ => None,
    })
    .await
}

/// Waits until a pushed conversation `conversation_id` (changed, or new: its first message) has
/// `unread` unread messages.
async fn unread_becomes(events: &mut Events, conversation_id: &str, unread: u64) {
    next_event(events, |event| match event {
        SdkEvent::ConversationChanged(list) | SdkEvent::NewConversation(list)
            if list
                .iter()
                .any(|c| c.conversation_id == conversation_id && c.unread_count == unread) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
}

async fn c2c_unread(rest: &Rest, user: &str, peer: &str) -> u64 {
    let reply = rest
        .ok(
            "openim/get_c2c_unread_msg_num",
            json!({ "To_Account": user, "Peer_Account": [peer] }),
        )
        .await;
    reply["C2CUnreadMsgNumList"][0]["C2CUnreadMsgNum"]
        .as_u64()
        .expect("count")
}

async fn roam(rest: &Rest, operator: &str, peer: &str) -> Vec<Value> {
    let reply = rest
        .ok(
            "openim/admin_getroammsg",
            json!({ "Operator_Account": operator, "Peer_Account": peer, "MaxCnt": 100, "MinTime": 0, "MaxTime": now() + 60 }),
        )
        .await;
    reply["MsgList"].as_array().expect("MsgList").clone()
}

fn by_key<'a>(list: &'a [Value], msg_key: &str) -> &'a Value {
    list.iter()
        .find(|m| m["MsgKey"] == msg_key)
        .unwrap_or_else(|| panic!("{msg_key} not in {list:?}"))
}

// ---------------------------------------------------------------------------------------------
// Recalls (admin_msgwithdraw, group_msg_recall) and recalled messages in history
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rest_recalls_reach_clients_and_history_marks_recalled_messages() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    let (alice, mut alice_events) = server.client("alice").await;
    let (_bob, _bob_events) = server.client("bob").await;
    let recalled = alice.send_text("bob", "one").await.expect("sent");
    let kept = alice.send_text("bob", "two").await.expect("sent");

    rest.fail(
        "openim/admin_msgwithdraw",
        json!({ "From_Account": "bob", "To_Account": "alice", "MsgKey": recalled.msg_id }),
        20022,
    )
    .await;
    rest.fail(
        "openim/admin_msgwithdraw",
        json!({ "From_Account": "alice", "To_Account": "bob" }),
        90001,
    )
    .await;
    rest.ok(
        "openim/admin_msgwithdraw",
        json!({ "From_Account": "alice", "To_Account": "bob", "MsgKey": recalled.msg_id }),
    )
    .await;
    rest.fail(
        "openim/admin_msgwithdraw",
        json!({ "From_Account": "alice", "To_Account": "bob", "MsgKey": recalled.msg_id }),
        20023,
    )
    .await;
    let push = next_event(&mut alice_events, |event| match event {
        SdkEvent::RecvMessageRevoked(push) if push.msg_id == recalled.msg_id => Some(push),
        _ => None,
    })
    .await;
    assert_eq!(push.operate_user.user_id, ADMIN);
    let list = roam(&rest, "alice", "bob").await;
    let flags: Vec<(&str, u64, usize)> = list
        .iter()
        .map(|m| {
            (
                m["MsgKey"].as_str().expect("MsgKey"),
                m["MsgFlagBits"].as_u64().expect("MsgFlagBits"),
                m["MsgBody"].as_array().expect("MsgBody").len(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            (kept.msg_id.as_str(), 0, 1),
            (recalled.msg_id.as_str(), 8, 0)
        ]
    );

    let group = rest.create_group("Public", "alice", &["bob"]).await;
    alice.send_group_text(&group, "g1").await.expect("sent");
    alice.send_group_text(&group, "g2").await.expect("sent");
    let reply = rest
        .ok(
            "group_open_http_svc/group_msg_recall",
            json!({ "GroupId": group, "MsgSeqList": [{ "MsgSeq": 1 }, { "MsgSeq": 9 }, { "MsgSeq": 1 }] }),
        )
        .await;
    assert_eq!(
        reply["RecallRetList"],
        json!([{ "MsgSeq": 1, "RetCode": 0 }, { "MsgSeq": 9, "RetCode": 10030 }, { "MsgSeq": 1, "RetCode": 20023 }])
    );
    let eleven: Vec<Value> = (1..=11).map(|seq| json!({ "MsgSeq": seq })).collect();
    rest.fail(
        "group_open_http_svc/group_msg_recall",
        json!({ "GroupId": group, "MsgSeqList": eleven }),
        10004,
    )
    .await;
    rest.fail(
        "group_open_http_svc/group_msg_recall",
        json!({ "GroupId": "missing", "MsgSeqList": [{ "MsgSeq": 1 }] }),
        10010,
    )
    .await;
    let listed = |reply: &Value| -> Vec<(u64, u64)> {
        reply["RspMsgList"]
            .as_array()
            .expect("RspMsgList")
            .iter()
            .map(|m| {
                (
                    m["MsgSeq"].as_u64().expect("MsgSeq"),
                    m["IsPlaceMsg"].as_u64().expect("IsPlaceMsg"),
                )
            })
            .collect()
    };
    let without = rest
        .ok(
            "group_open_http_svc/group_msg_get_simple",
            json!({ "GroupId": group, "ReqMsgNumber": 20 }),
        )
        .await;
    assert_eq!(
        listed(&without),
        [(2, 0)],
        "recalled messages are left out by default"
    );
    let with = rest
        .ok(
            "group_open_http_svc/group_msg_get_simple",
            json!({ "GroupId": group, "ReqMsgNumber": 20, "WithRecalledMsg": 1 }),
        )
        .await;
    assert_eq!(listed(&with), [(2, 0), (1, 2)]);
}

// ---------------------------------------------------------------------------------------------
// The common protocol
// ---------------------------------------------------------------------------------------------

#[test]
fn every_documented_endpoint_is_exercised_by_name_in_this_file() {
    let source = include_str!("rest.rs");
    let paths = documented_paths();
    assert!(paths.len() > 20, "the description was read");
    for path in paths {
        assert!(
            source.contains(&format!("\"{path}\"")),
            "{path} is documented but no test here calls it by name"
        );
    }
}

#[test]
fn the_openapi_check_catches_undocumented_fields_and_wrong_types() {
    let path = "group_open_http_svc/get_group_msg_receipt";
    let good = json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
                       "GroupMsgReceiptList": [{ "MsgSeq": 1, "Code": 0, "ReadNum": 1, "UnreadNum": 0 }] });
    assert_documented(path, &good);
    let mut extra = good.clone();
    extra["GroupMsgReceiptList"][0]["Surprise"] = json!(1);
    let mut wrong_type = good.clone();
    wrong_type["GroupMsgReceiptList"][0]["ReadNum"] = json!("1");
    let mut wrong_enum = good;
    wrong_enum["ActionStatus"] = json!("MAYBE");
    for bad in [extra, wrong_type, wrong_enum] {
        let caught = std::panic::catch_unwind(|| assert_documented(path, &bad));
        assert!(caught.is_err(), "not caught: {bad}");
    }
}

/// The code each service answers for a missing field, a body that is not a JSON object, and a
/// body that is not JSON at all (Tencent's codes differ per service).
fn invalid_body_code(path: &str) -> u64 {
    match path.split('/').next() {
        Some("im_open_login_svc") => 70402,
        Some("openim") => 90001,
        Some("group_open_http_svc") => 10004,
        Some("profile") => 40001,
        _ => 60003,
    }
}

#[tokio::test]
async fn every_endpoint_answers_http_200_with_an_envelope_and_refuses_bad_bodies() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    for path in documented_paths() {
        // No credentials at all.
        let reply = rest.post(&path, "", "{}", None).await;
        assert_eq!(reply["ErrorCode"], 60002, "{path}: {reply}");
        // Bodies that are not a JSON object, with and without a JSON Content-Type.
        let code = invalid_body_code(&path);
        for body in [
            "",
            "{",
            "{\"GroupId\": ",
            "[]",
            "null",
            "42",
            "\"text\"",
            "\u{1}",
        ] {
            for content_type in [None, Some("application/json")] {
                let reply = rest.post(&path, &rest.query(), body, content_type).await;
                assert_eq!(reply["ErrorCode"], code, "{path} {body:?}: {reply}");
            }
        }
        // An empty object: refused for a missing field (naming it), or served when nothing is
        // required.
        let reply = rest.call(&path, &json!({})).await;
        let expected = match path.as_str() {
            "group_open_http_svc/get_appid_group_list"
            | "tidings/get_settings"
            | "tidings/set_settings" => 0,
            "openim/query_online_status"
            | "openim/sendmsg"
            | "openim/batchsendmsg"
            | "openim/get_c2c_unread_msg_num" => 90003,
            "openim/admin_set_msg_read" | "openim/admin_msgwithdraw" => 90008,
            "openim/c2c_msg_read_receipt" => 20001,
            other => invalid_body_code(other),
        };
        assert_eq!(reply["ErrorCode"], expected, "{path} {{}}: {reply}");
        if expected != 0 {
            let info = reply["ErrorInfo"].as_str().unwrap_or_default();
            assert!(
                info.chars().next().is_some_and(char::is_uppercase),
                "{path}: the refusal names the missing field: {info}"
            );
        }
    }
}

#[tokio::test]
async fn the_body_is_json_whatever_the_content_type_says() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    let body = json!({ "Accounts": ["ct1"] }).to_string();
    for content_type in [
        None,
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let reply = rest
            .post(
                "im_open_login_svc/multiaccount_import",
                &rest.query(),
                body.clone(),
                content_type,
            )
            .await;
        assert_eq!(reply["ActionStatus"], "OK", "{content_type:?}: {reply}");
    }
    // A body over the 1 MiB limit is refused like a malformed one, still with HTTP 200.
    let huge = format!("{{\"Accounts\": [\"{}\"]}}", "x".repeat(1_100_000));
    let reply = rest
        .post(
            "im_open_login_svc/multiaccount_import",
            &rest.query(),
            huge,
            None,
        )
        .await;
    assert_eq!(reply["ErrorCode"], 70402, "{reply}");
    // Query parameters in another order, percent-encoded, and without the optional ones.
    let reply = rest
        .post(
            "im_open_login_svc/account_check",
            &format!(
                "contenttype=json&usersig={}&identifier=%61dministrator&sdkappid={SDKAPPID}",
                rest.sig
            ),
            json!({ "CheckItem": [{ "UserID": "ct1" }] }).to_string(),
            None,
        )
        .await;
    assert_eq!(
        reply["ResultItem"][0]["AccountStatus"], "Imported",
        "{reply}"
    );
}

#[tokio::test]
async fn auth_failures_have_tencents_codes_and_change_nothing() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    let admin_sig = rest.sig.clone();
    let user_sig = server.sig("bob");
    let expired = tidings_usersig::generate(SDKAPPID, TEST_KEY, ADMIN, 60, now() - 3600);
    let forged = tidings_usersig::generate(SDKAPPID, "another-key", ADMIN, 3600, now());
    let other_app = tidings_usersig::generate(SDKAPPID + 1, TEST_KEY, ADMIN, 3600, now());
    let cases: Vec<(String, u64)> = vec![
        (
            format!("identifier={ADMIN}&usersig={admin_sig}&random=1&contenttype=json"),
            60002,
        ),
        (
            format!("sdkappid=&identifier={ADMIN}&usersig={admin_sig}"),
            60002,
        ),
        (format!("sdkappid={SDKAPPID}&usersig={admin_sig}"), 60002),
        (
            format!("sdkappid={SDKAPPID}&identifier=&usersig={admin_sig}"),
            60002,
        ),
        (
            format!("sdkappid=1400000001&identifier={ADMIN}&usersig={admin_sig}"),
            70014,
        ),
        (
            format!("sdkappid=abc&identifier={ADMIN}&usersig={admin_sig}"),
            70014,
        ),
        (format!("sdkappid={SDKAPPID}&identifier={ADMIN}"), 70002),
        (query_for("bob", &user_sig), 60010),
        (query_for(ADMIN, &user_sig), 70013),
        (query_for(ADMIN, &expired), 70001),
        (query_for(ADMIN, &forged), 70009),
        (query_for(ADMIN, &other_app), 70014),
        (query_for(ADMIN, "not-a-user-sig"), 70003),
    ];
    for (query, code) in cases {
        let body = json!({ "UserID": "intruder" }).to_string();
        let reply = rest
            .post("im_open_login_svc/account_import", &query, body, None)
            .await;
        assert_eq!(reply["ErrorCode"], code, "{query}: {reply}");
    }
    let reply = rest
        .ok(
            "im_open_login_svc/account_check",
            json!({ "CheckItem": [{ "UserID": "intruder" }] }),
        )
        .await;
    assert_eq!(reply["ResultItem"][0]["AccountStatus"], "NotImported");
}

#[tokio::test]
async fn unknown_commands_are_refused_with_60009_and_counted_under_one_label() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    for path in [
        "openim/no_such_command",
        "group_open_http_svc/modify_group_base_info",
        "no_such_service/sendmsg",
        "tidings/no_such_setting",
    ] {
        let reply = rest.post(path, &rest.query(), "{}", None).await;
        assert_eq!(reply["ErrorCode"], 60009, "{path}: {reply}");
    }
    let metrics = reqwest::get(format!("{}/metrics", rest.base))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    let counted = |labels: &str| {
        metrics
            .lines()
            .any(|line| line.starts_with("tidings_rest_requests_total{") && line.contains(labels))
    };
    assert!(counted(r#"command="unknown",code="60009""#), "{metrics}");
    assert!(!metrics.contains("no_such"), "{metrics}");
    // Authentication comes first.
    let reply = rest.post("openim/no_such_command", "", "{}", None).await;
    assert_eq!(reply["ErrorCode"], 60002, "{reply}");
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn accounts_are_imported_checked_and_deleted() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    let import = "im_open_login_svc/account_import";
    rest.ok(
        import,
        json!({ "UserID": "alice", "Nick": "Alice", "FaceUrl": "https://example.invalid/a.png" }),
    )
    .await;
    rest.ok(import, json!({ "UserID": "alice", "Nick": "Alice again" }))
        .await;
    rest.ok(import, json!({ "Identifier": "legacy" })).await;
    rest.fail(import, json!({ "UserID": "has space" }), 70402)
        .await;
    rest.fail(import, json!({ "UserID": "x".repeat(33) }), 70402)
        .await;
    rest.fail(import, json!({ "UserID": 42 }), 70402).await;
    rest.fail(import, json!({ "Nick": "nobody" }), 70402).await;

    let multi = "im_open_login_svc/multiaccount_import";
    let reply = rest
        .ok(
            multi,
            json!({ "Accounts": ["bob", "carol", "bad id", "dave", "alice"] }),
        )
        .await;
    assert_eq!(reply["FailAccounts"], json!(["bad id"]));
    rest.fail(multi, json!({ "Accounts": [] }), 70402).await;
    let too_many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    rest.fail(multi, json!({ "Accounts": too_many }), 70402)
        .await;
    rest.fail(multi, json!({ "Accounts": "bob" }), 70402).await;

    let check = "im_open_login_svc/account_check";
    let reply = rest
        .ok(
            check,
            json!({ "CheckItem": [{ "UserID": "alice" }, { "UserID": "legacy" }, { "UserID": "dave" }, { "UserID": "ghost" }] }),
        )
        .await;
    let statuses: Vec<(&str, &str)> = reply["ResultItem"]
        .as_array()
        .expect("ResultItem")
        .iter()
        .map(|item| {
            assert_eq!(
                (&item["ResultCode"], &item["ResultInfo"]),
                (&json!(0), &json!(""))
            );
            (
                item["UserID"].as_str().unwrap_or_default(),
                item["AccountStatus"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("alice", "Imported"),
            ("legacy", "Imported"),
            ("dave", "Imported"),
            ("ghost", "NotImported")
        ]
    );
    rest.fail(check, json!({ "CheckItem": [] }), 70402).await;
    rest.fail(check, json!({ "CheckItem": [{ "Nope": 1 }] }), 70402)
        .await;

    // Deleting logs the user out everywhere.
    let (_carol, mut carol_events) = server.client("carol").await;
    let delete = "im_open_login_svc/account_delete";
    let reply = rest
        .ok(
            delete,
            json!({ "DeleteItem": [{ "UserID": "carol" }, { "UserID": "ghost" }] }),
        )
        .await;
    let items = reply["ResultItem"].as_array().expect("ResultItem");
    assert_eq!(
        (
            &items[0]["UserID"],
            &items[0]["ResultCode"],
            &items[0]["ResultInfo"]
        ),
        (&json!("carol"), &json!(0), &json!(""))
    );
    assert_eq!(
        (&items[1]["UserID"], &items[1]["ResultCode"]),
        (&json!("ghost"), &json!(70107))
    );
    assert!(
        items[1]["ResultInfo"]
            .as_str()
            .is_some_and(|i| !i.is_empty())
    );
    next_event(&mut carol_events, |event| {
        matches!(event, SdkEvent::KickedOffline(_)).then_some(())
    })
    .await;
    let reply = rest
        .ok(check, json!({ "CheckItem": [{ "UserID": "carol" }] }))
        .await;
    assert_eq!(reply["ResultItem"][0]["AccountStatus"], "NotImported");
    rest.fail(delete, json!({ "DeleteItem": "carol" }), 70402)
        .await;
}

#[tokio::test]
async fn online_status_and_kick() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["bob", "carol", "dave"]).await;
    let (_bob, mut bob_events) = server.client("bob").await;
    let (dave, mut dave_events) = server.client("dave").await;
    // Dave follows bob's status: the kick is bob going offline.
    dave.subscribe_user_status(["bob"]).await.unwrap();
    let status = |reply: &Value| -> Vec<(String, String)> {
        reply["QueryResult"]
            .as_array()
            .expect("QueryResult")
            .iter()
            .map(|r| {
                (
                    r["To_Account"].as_str().unwrap_or_default().to_owned(),
                    r["Status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let online = "openim/query_online_status";
    let reply = rest
        .ok(
            online,
            json!({ "To_Account": ["bob", "carol"], "IsNeedDetail": 0 }),
        )
        .await;
    assert_eq!(
        status(&reply),
        [
            ("bob".to_owned(), "Online".to_owned()),
            ("carol".to_owned(), "Offline".to_owned())
        ]
    );
    assert_eq!(reply["ErrorList"], json!([]));
    rest.fail(online, json!({ "To_Account": "bob" }), 90003)
        .await;

    let kick = "im_open_login_svc/kick";
    rest.ok(kick, json!({ "UserID": "bob" })).await;
    next_event(&mut bob_events, |event| {
        matches!(event, SdkEvent::KickedOffline(_)).then_some(())
    })
    .await;
    let offline = next_event(&mut dave_events, |event| match event {
        SdkEvent::UserStatusChanged(statuses) => Some(statuses),
        _ => None,
    })
    .await;
    assert_eq!(
        serde_json::to_value(offline).unwrap(),
        json!([{"userID": "bob", "statusType": 2, "customStatus": ""}])
    );
    let reply = rest.ok(online, json!({ "To_Account": ["bob"] })).await;
    assert_eq!(status(&reply), [("bob".to_owned(), "Offline".to_owned())]);
    rest.ok(kick, json!({ "Identifier": "dave" })).await;
    next_event(&mut dave_events, |event| {
        matches!(event, SdkEvent::KickedOffline(_)).then_some(())
    })
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = rest
            .ok(online, json!({ "To_Account": ["bob", "dave"] }))
            .await;
        if status(&reply).iter().all(|(_, s)| s == "Offline") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still online: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rest.fail(kick, json!({}), 70402).await;
}

/// The code of a `login` on a fresh connection.
async fn login_code(server: &TestServer, user: &str, user_sig: &str) -> Value {
    let mut raw = server.raw().await;
    raw.call("login", json!({ "userID": user, "userSig": user_sig }))
        .await["code"]
        .clone()
}

#[tokio::test]
async fn deleted_and_kicked_users_cannot_log_in_again_with_an_old_user_sig() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["bob", "carol", "dave"]).await;
    let old = |user: &str| tidings_usersig::generate(SDKAPPID, TEST_KEY, user, 3600, now());
    let (bob_sig, carol_sig, dave_sig) = (old("bob"), old("carol"), old("dave"));
    let mut bob = server.raw().await;
    let login = json!({ "userID": "bob", "userSig": bob_sig });
    assert_eq!(bob.call("login", login.clone()).await["code"], 0);

    // Kicked: the session is logged out, and the same UserSig no longer logs in, there or
    // anywhere. Deleted: likewise. Others are untouched.
    rest.ok("im_open_login_svc/kick", json!({ "UserID": "bob" }))
        .await;
    bob.push("onKickedOffline").await;
    assert_eq!(bob.call("login", login).await["code"], 70052);
    rest.ok(
        "im_open_login_svc/account_delete",
        json!({ "DeleteItem": [{ "UserID": "carol" }] }),
    )
    .await;
    assert_eq!(login_code(&server, "carol", &carol_sig).await, 70052);
    assert_eq!(login_code(&server, "dave", &dave_sig).await, 0);

    // The revocation is stored with the data; a UserSig issued after it logs in.
    let server = TestServer::start_in(server.stop().await, |_| {}).await;
    for (user, sig) in [("bob", &bob_sig), ("carol", &carol_sig)] {
        assert_eq!(login_code(&server, user, sig).await, 70052, "{user}");
        let newer = tidings_usersig::generate(SDKAPPID, TEST_KEY, user, 3600, now() + 1);
        assert_eq!(login_code(&server, user, &newer).await, 0, "{user}");
    }
    assert_eq!(login_code(&server, "dave", &dave_sig).await, 0);
}

#[tokio::test]
async fn a_login_racing_a_kick_is_refused_or_kicked_never_kept() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    let users: Vec<String> = (0..40).map(|i| format!("racer{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    rest.import(&names).await;
    let (mut refused, mut kicked) = (0, 0);
    for user in &users {
        let sig = tidings_usersig::generate(SDKAPPID, TEST_KEY, user, 3600, now() - 5);
        let mut raw = server.raw().await;
        let login = json!({ "userID": user, "userSig": sig });
        let kick = json!({ "UserID": user });
        let (reply, _) = tokio::join!(
            raw.call("login", login),
            rest.ok("im_open_login_svc/kick", kick)
        );
        match reply["code"].as_u64() {
            Some(70052) => refused += 1,
            Some(0) => {
                // Logged in before the revocation was stored, or while it was: kicked either way.
                let push = raw.push("onKickedOffline").await;
                assert_eq!(push["data"]["reason"], "logged out by the administrator");
                kicked += 1;
            }
            _ => panic!("{user}: {reply}"),
        }
    }
    assert_eq!(refused + kicked, users.len());
}

#[tokio::test]
async fn a_kicked_administrator_user_sig_no_longer_calls_the_rest_api() {
    let server = TestServer::start().await;
    let old = tidings_usersig::generate(SDKAPPID, TEST_KEY, ADMIN, 3600, now() - 10);
    let leaked = Rest {
        sig: old,
        ..Rest::new(&server)
    };
    leaked.import(&["bob"]).await;
    // A leaked administrator's UserSig is revoked as any user's: kick the administrator.
    leaked
        .ok("im_open_login_svc/kick", json!({ "UserID": ADMIN }))
        .await;
    let reply = leaked
        .call(
            "im_open_login_svc/account_check",
            &json!({ "CheckItem": [{ "UserID": "bob" }] }),
        )
        .await;
    assert_eq!(
        (&reply["ActionStatus"], &reply["ErrorCode"]),
        (&json!("FAIL"), &json!(70052)),
        "{reply}"
    );
    // One issued after the revocation works, also after a restart.
    let server = TestServer::start_in(server.stop().await, |_| {}).await;
    let newer = Rest {
        sig: tidings_usersig::generate(SDKAPPID, TEST_KEY, ADMIN, 3600, now() + 1),
        ..Rest::new(&server)
    };
    newer
        .ok(
            "im_open_login_svc/account_check",
            json!({ "CheckItem": [{ "UserID": "bob" }] }),
        )
        .await;
    let stale = Rest {
        sig: tidings_usersig::generate(SDKAPPID, TEST_KEY, ADMIN, 3600, now() - 60),
        ..Rest::new(&server)
    };
    let reply = stale
        .call(
            "im_open_login_svc/account_check",
            &json!({ "CheckItem": [{ "UserID": "bob" }] }),
        )
        .await;
    assert_eq!(reply["ErrorCode"], 70052, "{reply}");
}

// ---------------------------------------------------------------------------------------------
// C2C messages
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rest_c2c_messages_reach_sdk_clients_exactly_like_websocket_ones() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice"]).await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (carol, mut carol_events) = server.client("carol").await;

    // The same message, once over WebSocket and once over REST.
    let sent = carol
        .send_message(SendMessageParams {
            receiver: Some("bob".into()),
            text_elem: Some(TextElem {
                text: "same".into(),
            }),
            need_read_receipt: true,
            cloud_custom_data: "ccd".into(),
            random: 7,
            ..SendMessageParams::default()
        })
        .await
        .expect("WebSocket send");
    let via_ws = recv_message(&mut bob_events, &sent.msg_id).await;
    unread_becomes(&mut bob_events, "c2c_carol", 1).await;
    let before = now();
    let reply = rest
        .ok(
            "openim/sendmsg",
            json!({ "SyncOtherMachine": 1, "From_Account": "carol", "To_Account": "bob", "MsgLifeTime": 604800,
                    "MsgRandom": 7, "MsgBody": text_body("same"), "CloudCustomData": "ccd", "IsNeedReadReceipt": 1 }),
        )
        .await;
    let msg_key = key(&reply);
    assert_eq!(reply["MsgId"], msg_key.as_str());
    let msg_time = reply["MsgTime"].as_i64().expect("MsgTime");
    assert!((before..=now()).contains(&msg_time), "{reply}");
    let via_rest = recv_message(&mut bob_events, &msg_key).await;
    assert_eq!(via_rest.seq, via_ws.seq + 1);
    assert_eq!(via_rest.timestamp, msg_time);
    assert_eq!(normalized(via_rest), normalized(via_ws.clone()));
    unread_becomes(&mut bob_events, "c2c_carol", 2).await;
    // The sender's own devices get it too (SyncOtherMachine 1), as their own message.
    let own = recv_message(&mut carol_events, &msg_key).await;
    assert!(own.is_self && own.is_read && own.user_id.as_deref() == Some("bob"));
    // Both are in the SDK history, and in the REST history alike.
    let history = bob
        .get_c2c_history_message_list("carol", 10, None)
        .await
        .expect("history");
    let ids: Vec<&str> = history.iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(ids, [msg_key.as_str(), sent.msg_id.as_str()]);
    let list = roam(&rest, "bob", "carol").await;
    for item in [by_key(&list, &msg_key), by_key(&list, &sent.msg_id)] {
        assert_eq!(
            (
                &item["From_Account"],
                &item["To_Account"],
                &item["MsgRandom"],
                &item["MsgBody"],
                &item["CloudCustomData"]
            ),
            (
                &json!("carol"),
                &json!("bob"),
                &json!(7),
                &text_body("same"),
                &json!("ccd")
            )
        );
    }

    // Unread counts over REST agree with the pushes.
    let reply = rest
        .ok(
            "openim/get_c2c_unread_msg_num",
            json!({ "To_Account": "bob" }),
        )
        .await;
    assert_eq!(reply["AllC2CUnreadMsgNum"], 2, "{reply}");
    let reply = rest
        .ok(
            "openim/get_c2c_unread_msg_num",
            json!({ "To_Account": "bob", "Peer_Account": ["carol", "alice", "ghost"] }),
        )
        .await;
    assert_eq!(
        reply["C2CUnreadMsgNumList"],
        json!([{ "Peer_Account": "carol", "C2CUnreadMsgNum": 2 }, { "Peer_Account": "alice", "C2CUnreadMsgNum": 0 }])
    );
    assert_eq!(
        reply["ErrorList"],
        json!([{ "Peer_Account": "ghost", "ErrorCode": 70107 }])
    );
    rest.fail(
        "openim/get_c2c_unread_msg_num",
        json!({ "To_Account": "ghost" }),
        90003,
    )
    .await;
    let eleven: Vec<String> = (0..11).map(|i| format!("p{i}")).collect();
    rest.fail(
        "openim/get_c2c_unread_msg_num",
        json!({ "To_Account": "bob", "Peer_Account": eleven }),
        90001,
    )
    .await;
    // Reading over WebSocket shows over REST.
    bob.mark_c2c_message_as_read("carol").await.expect("read");
    assert_eq!(c2c_unread(&rest, "bob", "carol").await, 0);
}

#[tokio::test]
async fn sendmsg_options_and_refusals() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice"]).await;
    let (_bob, mut bob_events) = server.client("bob").await;
    // Raw frames: the SDK would fill the conversation's gap from history once the next
    // message arrives, and this checks what the server pushes.
    let mut carol = server.raw_login("carol").await;
    let send = "openim/sendmsg";

    // SyncOtherMachine 2: not pushed to the sender's devices.
    let quiet = key(&rest
        .ok(
            send,
            json!({ "SyncOtherMachine": 2, "From_Account": "carol", "To_Account": "bob", "MsgBody": text_body("quiet") }),
        )
        .await);
    recv_message(&mut bob_events, &quiet).await;
    let marker = rest.send_text("carol", "bob", "marker").await;
    let first = carol.push("onRecvNewMessage").await;
    assert_eq!(
        first["data"]["msgID"], marker,
        "the SyncOtherMachine 2 message was pushed to carol"
    );

    // MsgLifeTime 0: delivered online only, never stored nor counted.
    let online = key(&rest
        .ok(
            send,
            json!({ "From_Account": "alice", "To_Account": "bob", "MsgLifeTime": 0, "MsgBody": text_body("online only") }),
        )
        .await);
    let message = recv_message(&mut bob_events, &online).await;
    assert_eq!(message.seq, 0);
    assert!(roam(&rest, "bob", "alice").await.is_empty());
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 0);
    // With IsNeedReadReceipt too: still online only, and its receipt state is kept.
    let online_receipted = key(&rest
        .ok(
            send,
            json!({ "From_Account": "alice", "To_Account": "bob", "MsgLifeTime": 0, "IsNeedReadReceipt": 1, "MsgBody": text_body("live, read me") }),
        )
        .await);
    let message = recv_message(&mut bob_events, &online_receipted).await;
    assert_eq!((message.seq, message.need_read_receipt), (0, true));
    assert!(roam(&rest, "bob", "alice").await.is_empty());
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 0);

    // SendMsgControl NoUnread: stored, not counted.
    let uncounted = key(&rest
        .ok(
            send,
            json!({ "From_Account": "alice", "To_Account": "bob", "SendMsgControl": ["NoUnread"], "MsgBody": text_body("fyi") }),
        )
        .await);
    let message = recv_message(&mut bob_events, &uncounted).await;
    assert!(message.is_excluded_from_unread_count);
    assert_eq!(roam(&rest, "alice", "bob").await.len(), 1);
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 0);

    // Without From_Account the App administrator sends.
    let from_admin = key(&rest
        .ok(
            send,
            json!({ "To_Account": "bob", "MsgBody": text_body("from the admin") }),
        )
        .await);
    let message = recv_message(&mut bob_events, &from_admin).await;
    assert_eq!(message.sender, ADMIN);
    assert_eq!(c2c_unread(&rest, "bob", ADMIN).await, 1);

    // A custom element arrives as a V2TIM custom element and is returned as given.
    let custom = json!([{ "MsgType": "TIMCustomElem", "MsgContent": { "Data": "{\"k\":1}", "Desc": "d", "Ext": "e" } }]);
    let custom_key = key(&rest
        .ok(
            send,
            json!({ "From_Account": "alice", "To_Account": "bob", "MsgBody": custom }),
        )
        .await);
    let message = recv_message(&mut bob_events, &custom_key).await;
    let elem = message.custom_elem.expect("custom element");
    assert_eq!(
        (
            elem.data.as_str(),
            elem.desc.as_str(),
            elem.extension.as_str()
        ),
        ("{\"k\":1}", "d", "e")
    );
    assert_eq!(
        by_key(&roam(&rest, "alice", "bob").await, &custom_key)["MsgBody"],
        custom
    );

    // Refusals.
    let body = text_body("x");
    rest.fail(
        send,
        json!({ "From_Account": "alice", "MsgBody": body }),
        90003,
    )
    .await;
    rest.fail(
        send,
        json!({ "From_Account": "alice", "To_Account": 5, "MsgBody": body }),
        90003,
    )
    .await;
    rest.fail(
        send,
        json!({ "From_Account": "ghost", "To_Account": "bob", "MsgBody": body }),
        90008,
    )
    .await;
    rest.fail(
        send,
        json!({ "From_Account": "alice", "To_Account": "ghost", "MsgBody": body }),
        20003,
    )
    .await;
    for bad_body in [
        Value::Null,
        json!([]),
        json!({ "MsgType": "TIMTextElem" }),
        json!([{ "MsgType": "TIMNoSuchElem", "MsgContent": {} }]),
        json!([{ "MsgType": "TIMTextElem" }]),
        json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": 5 } }]),
    ] {
        rest.fail(
            send,
            json!({ "From_Account": "alice", "To_Account": "bob", "MsgBody": bad_body }),
            90001,
        )
        .await;
    }
    rest.fail(
        send,
        json!({ "From_Account": "alice", "To_Account": "bob", "MsgRandom": -1, "MsgBody": body }),
        90001,
    )
    .await;
    rest.fail(
        send,
        json!({ "From_Account": "alice", "To_Account": "bob", "MsgBody": text_body(&"x".repeat(20_000)) }),
        80002,
    )
    .await;
}

#[tokio::test]
async fn batchsendmsg_sends_one_message_per_receiver() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice"]).await;
    let (_bob, mut bob_events) = server.client("bob").await;
    let (_carol, mut carol_events) = server.client("carol").await;
    let reply = rest
        .ok(
            "openim/batchsendmsg",
            json!({ "SyncOtherMachine": 2, "From_Account": "alice", "To_Account": ["bob", "ghost", "carol"],
                    "MsgRandom": 3, "MsgBody": text_body("to all"), "IsNeedReadReceipt": 1 }),
        )
        .await;
    assert!(!key(&reply).is_empty());
    assert_eq!(reply["MsgId"], reply["MsgKey"]);
    assert_eq!(
        reply["ErrorList"],
        json!([{ "To_Account": "ghost", "ErrorCode": 20003 }])
    );
    for events in [&mut bob_events, &mut carol_events] {
        let message = recv_text(events, "to all").await;
        assert!(message.need_read_receipt && message.sender == "alice" && message.random == 3);
    }
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 1);
    assert_eq!(c2c_unread(&rest, "carol", "alice").await, 1);
    rest.fail(
        "openim/batchsendmsg",
        json!({ "From_Account": "alice", "To_Account": "bob", "MsgBody": text_body("x") }),
        90003,
    )
    .await;
    rest.fail(
        "openim/batchsendmsg",
        json!({ "From_Account": "alice", "To_Account": ["bob"], "MsgBody": [] }),
        90001,
    )
    .await;
}

#[tokio::test]
async fn multi_element_msg_bodies_are_stored_and_returned_as_given() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice"]).await;
    let (_bob, mut bob_events) = server.client("bob").await;
    let face = json!([{ "MsgType": "TIMFaceElem", "MsgContent": { "Index": 1, "Data": "smile" } }]);
    let multi = json!([
        { "MsgType": "TIMTextElem", "MsgContent": { "Text": "look ✓" } },
        { "MsgType": "TIMImageElem", "MsgContent": { "UUID": "u1", "ImageFormat": 1,
          "ImageInfoArray": [{ "Type": 1, "Size": 10, "Width": 2, "Height": 3, "URL": "https://example.invalid/i.png" }] } },
        { "MsgType": "TIMLocationElem", "MsgContent": { "Desc": "here", "Latitude": 1.5, "Longitude": -2.25 } },
        { "MsgType": "TIMCustomElem", "MsgContent": { "Data": "d", "Desc": "", "Ext": "", "Sound": "dingdong.aiff" } },
        { "MsgType": "TIMSoundElem", "MsgContent": { "Url": "https://example.invalid/s.mp3", "Size": 5, "Second": 1, "Download_Flag": 2 } },
        { "MsgType": "TIMFileElem", "MsgContent": { "Url": "https://example.invalid/f", "FileSize": 7, "FileName": "f.txt", "Download_Flag": 2 } },
        { "MsgType": "TIMVideoFileElem", "MsgContent": { "VideoUrl": "https://example.invalid/v", "VideoSize": 9, "VideoSecond": 2, "ThumbUrl": "https://example.invalid/t.jpg" } }
    ]);
    let mut keys = Vec::new();
    for (body, elem_type) in [(&face, 8), (&multi, 1)] {
        let msg_key = key(&rest
            .ok(
                "openim/sendmsg",
                json!({ "From_Account": "alice", "To_Account": "bob", "MsgBody": body }),
            )
            .await);
        let message = recv_message(&mut bob_events, &msg_key).await;
        assert_eq!(message.elem_type, elem_type);
        if elem_type == 8 {
            // One element is V2TIM's element of that type.
            assert_eq!(message.msg_body, None);
            assert_eq!(
                message.rich.face_elem,
                Some(FaceElem {
                    index: 1,
                    data: "smile".into()
                })
            );
        } else {
            // Several are kept as given.
            assert_eq!(message.msg_body.as_ref(), Some(body));
            assert!(message.text_elem.is_none() && message.custom_elem.is_none());
        }
        keys.push(msg_key);
    }
    let list = roam(&rest, "alice", "bob").await;
    assert_eq!(by_key(&list, &keys[0])["MsgBody"], face);
    assert_eq!(by_key(&list, &keys[1])["MsgBody"], multi);

    // Group messages alike.
    let group = rest.create_group("Public", "alice", &["bob"]).await;
    let reply = rest
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({ "GroupId": group, "From_Account": "alice", "Random": 1, "MsgBody": multi }),
        )
        .await;
    let message = recv_message(&mut bob_events, reply["MsgId"].as_str().expect("MsgId")).await;
    assert_eq!(message.msg_body.as_ref(), Some(&multi));
    let history = rest
        .ok(
            "group_open_http_svc/group_msg_get_simple",
            json!({ "GroupId": group, "ReqMsgNumber": 1 }),
        )
        .await;
    assert_eq!(history["RspMsgList"][0]["MsgBody"], multi);
}

// ---------------------------------------------------------------------------------------------
// Rich message elements: WebSocket and REST, both directions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_element_type_round_trips_from_websocket_to_rest_history() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    let (alice, _alice_events) = server.client("alice").await;
    let (_bob, mut bob_events) = server.client("bob").await;
    let group = rest.create_group("Public", "alice", &["bob"]).await;
    let mut c2c_keys = Vec::new();
    for (elem, rest_elem) in every_element() {
        // C2C: the receiver gets exactly what was sent, and so does history over both APIs.
        let sent = alice.send_elem("bob", elem.clone()).await.expect("send");
        assert_eq!(
            (sent.elem(), sent.elem_type),
            (Some(elem.clone()), elem.elem_type())
        );
        assert_eq!(sent.msg_body, None);
        let received = recv_message(&mut bob_events, &sent.msg_id).await;
        assert_eq!(received.elem(), Some(elem.clone()), "{rest_elem}");
        assert_eq!(received.elem_type, elem.elem_type());
        let history = alice
            .get_c2c_history_message_list("bob", 1, None)
            .await
            .expect("history");
        assert_eq!(history[0].elem(), Some(elem.clone()));
        c2c_keys.push((sent.msg_id, rest_elem.clone()));

        // Group alike.
        let sent = alice
            .send_group_elem(group.as_str(), elem.clone())
            .await
            .expect("group send");
        let received = recv_message(&mut bob_events, &sent.msg_id).await;
        assert_eq!(received.elem(), Some(elem.clone()));
        let simple = rest
            .ok(
                "group_open_http_svc/group_msg_get_simple",
                json!({ "GroupId": group, "ReqMsgNumber": 1 }),
            )
            .await;
        assert_eq!(simple["RspMsgList"][0]["MsgBody"], json!([rest_elem]));
    }
    let roamed = roam(&rest, "bob", "alice").await;
    for (msg_key, rest_elem) in &c2c_keys {
        assert_eq!(
            by_key(&roamed, msg_key)["MsgBody"],
            json!([rest_elem]),
            "{msg_key}"
        );
    }
}

#[tokio::test]
async fn every_rest_element_type_reaches_websocket_clients_unchanged() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice"]).await;
    let (bob, mut bob_events) = server.client("bob").await;
    let group = rest.create_group("Public", "alice", &["bob"]).await;
    for (elem, rest_elem) in every_element() {
        let msg_key = key(&rest
            .ok("openim/sendmsg", json!({ "From_Account": "alice", "To_Account": "bob", "MsgRandom": 3, "MsgBody": [rest_elem] }))
            .await);
        let received = recv_message(&mut bob_events, &msg_key).await;
        assert_eq!(
            (received.elem(), received.elem_type),
            (Some(elem.clone()), elem.elem_type())
        );
        assert_eq!(received.msg_body, None);
        let history = bob
            .get_c2c_history_message_list("alice", 1, None)
            .await
            .expect("history");
        assert_eq!(history[0].elem(), Some(elem.clone()));
        assert_eq!(
            by_key(&roam(&rest, "alice", "bob").await, &msg_key)["MsgBody"],
            json!([rest_elem])
        );

        let reply = rest
            .ok("group_open_http_svc/send_group_msg", json!({ "GroupId": group, "From_Account": "alice", "Random": 4, "MsgBody": [rest_elem] }))
            .await;
        let received = recv_message(&mut bob_events, reply["MsgId"].as_str().expect("MsgId")).await;
        assert_eq!(received.elem(), Some(elem.clone()));
        let history = bob
            .get_group_history_message_list(group.as_str(), 1, None)
            .await
            .expect("history");
        assert_eq!(history[0].elem(), Some(elem));
    }
}

#[tokio::test]
async fn malformed_rich_elements_are_refused_with_clear_codes() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let (alice, _events) = server.client("alice").await;
    let group = rest.create_group("Public", "alice", &["bob"]).await;
    let refusal = |result: Result<Message, SdkError>| match result {
        Err(SdkError::Server { code, desc }) => (code, desc),
        other => panic!("expected a refusal, got {other:?}"),
    };

    // WebSocket: a missing URL, an unknown elemType, an oversize element, two elements.
    let no_url = Elem::File(FileElem {
        file_name: "a.txt".into(),
        file_size: 1,
        ..FileElem::default()
    });
    assert_eq!(
        refusal(alice.send_elem("bob", no_url).await),
        (
            6017,
            "fileElem.url is missing: media are uploaded by the app and messages carry their URL"
                .to_owned()
        )
    );
    let script = Elem::Image(ImageElem {
        image_list: vec![Image {
            url: "javascript:alert(1)".into(),
            ..Image::default()
        }],
        ..ImageElem::default()
    });
    assert_eq!(
        refusal(alice.send_elem("bob", script).await),
        (
            6017,
            "imageElem.imageList url must be an http:// or https:// URL".to_owned()
        )
    );
    let unknown = SendMessageParams {
        receiver: Some("bob".into()),
        elem_type: Some(9),
        ..SendMessageParams::with_elem(Elem::Text(TextElem { text: "x".into() }))
    };
    let (code, desc) = refusal(alice.send_message(unknown).await);
    assert_eq!(code, 6017);
    assert!(desc.starts_with("unknown elemType 9"), "{desc}");
    let mismatched = SendMessageParams {
        receiver: Some("bob".into()),
        elem_type: Some(3),
        ..SendMessageParams::with_elem(Elem::Text(TextElem { text: "x".into() }))
    };
    assert_eq!(
        refusal(alice.send_message(mismatched).await),
        (
            6017,
            "elemType 3 does not match textElem (elemType 1)".to_owned()
        )
    );
    let oversize = Elem::File(FileElem {
        file_name: "n".repeat(MAX_MESSAGE_BYTES),
        url: "https://cdn.example/f".into(),
        ..FileElem::default()
    });
    assert_eq!(refusal(alice.send_elem("bob", oversize).await).0, 80002);
    let mut two = SendMessageParams::with_elem(Elem::Face(FaceElem::default()));
    two.receiver = Some("bob".into());
    two.text_elem = Some(TextElem { text: "x".into() });
    assert_eq!(
        refusal(alice.send_message(two).await),
        (
            6017,
            "give exactly one element, not textElem and faceElem".to_owned()
        )
    );

    // REST: the same in Tencent's codes, for C2C (90001) and groups (10004).
    let no_url = json!([{ "MsgType": "TIMImageElem", "MsgContent": { "ImageInfoArray": [{ "Type": 1, "Width": 2, "Height": 2 }] } }]);
    let unknown = json!([{ "MsgType": "TIMGroupTipElem", "MsgContent": {} }]);
    let oversize = json!([{ "MsgType": "TIMFileElem", "MsgContent": { "Url": "https://cdn.example/f", "FileName": "n".repeat(MAX_MESSAGE_BYTES) } }]);
    for (body, c2c_code, group_code, why) in [
        (
            &no_url,
            90001,
            10004,
            "MsgBody: imageElem.imageList url is missing",
        ),
        (
            &unknown,
            90001,
            10004,
            "MsgBody has unknown MsgType \"TIMGroupTipElem\"",
        ),
        (&oversize, 80002, 80002, ""),
    ] {
        let reply = rest
            .fail(
                "openim/sendmsg",
                json!({ "From_Account": "alice", "To_Account": "bob", "MsgBody": body }),
                c2c_code,
            )
            .await;
        assert!(
            reply["ErrorInfo"]
                .as_str()
                .is_some_and(|i| i.starts_with(why)),
            "{reply}"
        );
        let reply = rest
            .fail(
                "group_open_http_svc/send_group_msg",
                json!({ "GroupId": group, "From_Account": "alice", "MsgBody": body }),
                group_code,
            )
            .await;
        assert!(
            reply["ErrorInfo"]
                .as_str()
                .is_some_and(|i| i.starts_with(why)),
            "{reply}"
        );
    }
    // Nothing was stored.
    assert_eq!(roam(&rest, "alice", "bob").await, Vec::<Value>::new());
}

#[tokio::test]
async fn admin_getroammsg_pages_newest_first_with_both_field_namings() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob", "carol"]).await;
    let mut keys = Vec::new();
    for i in 0..5u32 {
        let (from, to) = if i % 2 == 0 {
            ("alice", "bob")
        } else {
            ("bob", "alice")
        };
        let reply = rest
            .ok(
                "openim/sendmsg",
                json!({ "From_Account": from, "To_Account": to, "MsgRandom": 100 + i,
                        "MsgBody": text_body(&format!("m{i}")), "CloudCustomData": format!("c{i}") }),
            )
            .await;
        keys.push((key(&reply), reply["MsgTime"].as_i64().expect("MsgTime")));
    }
    rest.send_text("alice", "carol", "elsewhere").await;
    let path = "openim/admin_getroammsg";
    let max_time = now() + 60;

    // Pages of 2, continued as Tencent's clients do: LastMsgKey, and MaxTime = LastMsgTime.
    let mut seen = Vec::new();
    let mut request = json!({ "Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 2, "MinTime": 0, "MaxTime": max_time });
    let mut pages = 0;
    loop {
        pages += 1;
        let reply = rest.ok(path, request.clone()).await;
        let list = reply["MsgList"].as_array().expect("MsgList");
        assert_eq!(reply["MsgCnt"], list.len(), "{reply}");
        let last = list.last().expect("a message");
        assert_eq!(reply["LastMsgKey"], last["MsgKey"]);
        assert_eq!(reply["LastMsgTime"], last["MsgTimeStamp"]);
        seen.extend(list.iter().cloned());
        if reply["Complete"] == 1 {
            break;
        }
        assert_eq!(reply["Complete"], 0);
        assert_eq!(list.len(), 2);
        request["LastMsgKey"] = reply["LastMsgKey"].clone();
        request["MaxTime"] = reply["LastMsgTime"].clone();
    }
    assert_eq!(pages, 3);
    let expected: Vec<&str> = keys.iter().rev().map(|(k, _)| k.as_str()).collect();
    let got: Vec<&str> = seen.iter().filter_map(|m| m["MsgKey"].as_str()).collect();
    assert_eq!(got, expected, "newest first, no gaps or repeats");
    for (index, item) in seen.iter().enumerate() {
        let i = 4 - index;
        let (from, to) = if i % 2 == 0 {
            ("alice", "bob")
        } else {
            ("bob", "alice")
        };
        assert_eq!(
            item,
            &json!({
                "From_Account": from, "To_Account": to, "MsgSeq": i + 1, "MsgRandom": 100 + i,
                "MsgTimeStamp": keys[i].1, "MsgFlagBits": 0, "IsPeerRead": 0, "MsgKey": keys[i].0,
                "MsgId": keys[i].0, "MsgBody": text_body(&format!("m{i}")), "CloudCustomData": format!("c{i}"),
            })
        );
    }

    // The earlier field names, and the other side's view: the same conversation.
    for request in [
        json!({ "From_Account": "alice", "To_Account": "bob", "MaxCnt": 100, "MinTime": 0, "MaxTime": max_time }),
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 100, "MinTime": 0, "MaxTime": max_time }),
        json!({ "From_Account": "bob", "To_Account": "alice" }),
    ] {
        let reply = rest.ok(path, request.clone()).await;
        assert_eq!(
            (&reply["Complete"], &reply["MsgCnt"]),
            (&json!(1), &json!(5))
        );
        assert_eq!(reply["MsgList"].as_array(), Some(&seen), "{request}");
    }

    // Time windows.
    let first_time = keys[0].1;
    let reply = rest
        .ok(
            path,
            json!({ "Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 100, "MinTime": 0, "MaxTime": first_time - 1 }),
        )
        .await;
    assert_eq!(
        (
            &reply["Complete"],
            &reply["MsgCnt"],
            &reply["LastMsgKey"],
            &reply["MsgList"]
        ),
        (&json!(1), &json!(0), &json!(""), &json!([]))
    );
    let reply = rest
        .ok(
            path,
            json!({ "Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 100, "MinTime": now() + 30, "MaxTime": max_time }),
        )
        .await;
    assert_eq!(reply["MsgCnt"], 0);

    // Refusals.
    rest.fail(path, json!({ "Operator_Account": "alice" }), 90001)
        .await;
    rest.fail(
        path,
        json!({ "Operator_Account": "alice", "Peer_Account": "bob", "LastMsgKey": "no-such-key" }),
        90001,
    )
    .await;
    rest.fail(
        path,
        json!({ "Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": "many" }),
        90001,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// C2C read state and receipts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c2c_receipts_over_rest_reach_the_sender_and_set_is_peer_read() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["bob", "carol"]).await;
    let (alice, mut alice_events) = server.client("alice").await;
    let wanted = key(&rest
        .ok(
            "openim/sendmsg",
            json!({ "From_Account": "alice", "To_Account": "bob", "IsNeedReadReceipt": 1, "MsgBody": text_body("read me") }),
        )
        .await);
    let plain = rest.send_text("alice", "bob", "no receipt").await;
    let list = roam(&rest, "alice", "bob").await;
    assert_eq!(by_key(&list, &wanted)["IsPeerRead"], 0);

    let path = "openim/c2c_msg_read_receipt";
    let item =
        |msg_key: &str| json!({ "From_Account": "alice", "To_Account": "bob", "MsgKey": msg_key });
    rest.ok(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [item(&wanted)] }),
    )
    .await;
    let receipts = next_event(&mut alice_events, |event| match event {
        SdkEvent::RecvMessageReadReceipts(list) => Some(list),
        _ => None,
    })
    .await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(
        (
            receipts[0].msg_id.as_str(),
            receipts[0].user_id.as_str(),
            receipts[0].is_peer_read
        ),
        (wanted.as_str(), "bob", true)
    );
    // admin_getroammsg shows it, under either field naming.
    let reply = rest
        .ok(
            "openim/admin_getroammsg",
            json!({ "From_Account": "alice", "To_Account": "bob", "MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 60 }),
        )
        .await;
    let list = reply["MsgList"].as_array().expect("MsgList");
    assert_eq!(by_key(list, &wanted)["IsPeerRead"], 1);
    assert_eq!(by_key(list, &plain)["IsPeerRead"], 0);
    let list = roam(&rest, "bob", "alice").await;
    assert_eq!(by_key(&list, &wanted)["IsPeerRead"], 1);
    // The sender's SDK sees it too.
    let state = alice
        .get_message_read_receipts(vec![wanted.clone()])
        .await
        .expect("receipts");
    assert!(state[0].is_peer_read);
    // Repeating changes nothing and is not refused.
    rest.ok(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [item(&wanted)] }),
    )
    .await;
    // No push for the repeat: none arrives before a message bob sends after it.
    rest.send_text("bob", "alice", "after the repeat").await;
    let seen = events_until(&mut alice_events, |event| {
        matches!(event, SdkEvent::RecvNewMessage(m)
            if m.text_elem.as_ref().is_some_and(|t| t.text == "after the repeat"))
    })
    .await;
    assert!(
        !seen
            .iter()
            .any(|event| matches!(event, SdkEvent::RecvMessageReadReceipts(_))),
        "a push for the repeat: {seen:?}"
    );

    // Refusals: the endpoint's own codes (20001 invalid request, 20003 unknown account).
    rest.fail(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [item(&plain)] }),
        20001,
    )
    .await;
    let from_carol = key(&rest
        .ok(
            "openim/sendmsg",
            json!({ "From_Account": "carol", "To_Account": "bob", "IsNeedReadReceipt": 1, "MsgBody": text_body("from carol") }),
        )
        .await);
    rest.fail(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [item(&from_carol)] }),
        20001,
    )
    .await;
    assert_eq!(
        by_key(&roam(&rest, "carol", "bob").await, &from_carol)["IsPeerRead"],
        0,
        "a receipt naming the wrong sender records nothing"
    );
    rest.fail(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [item("no-such-key")] }),
        20001,
    )
    .await;
    rest.fail(
        path,
        json!({ "Operator_Account": "carol", "Peer_Account": "alice",
                "C2CMsgInfo": [{ "From_Account": "alice", "To_Account": "carol", "MsgKey": wanted }] }),
        20001,
    )
    .await;
    rest.fail(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice",
                "C2CMsgInfo": [{ "From_Account": "carol", "To_Account": "bob", "MsgKey": wanted }] }),
        20001,
    )
    .await;
    rest.fail(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [] }),
        20001,
    )
    .await;
    rest.fail(
        path,
        json!({ "Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [{ "From_Account": "alice", "To_Account": "bob" }] }),
        20001,
    )
    .await;
    rest.fail(
        path,
        json!({ "Operator_Account": "nobody", "Peer_Account": "alice",
                "C2CMsgInfo": [{ "From_Account": "alice", "To_Account": "nobody", "MsgKey": wanted }] }),
        20003,
    )
    .await;
    rest.fail(
        path,
        json!({ "Peer_Account": "alice", "C2CMsgInfo": [item(&wanted)] }),
        20001,
    )
    .await;
}

#[tokio::test]
async fn admin_set_msg_read_marks_a_conversation_read_on_the_users_behalf() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["carol"]).await;
    let (_alice, mut alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    for i in 0..3 {
        rest.send_text("alice", "bob", &format!("m{i}")).await;
    }
    unread_becomes(&mut bob_events, "c2c_alice", 3).await;
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 3);

    let path = "openim/admin_set_msg_read";
    rest.ok(
        path,
        json!({ "Report_Account": "bob", "Peer_Account": "alice" }),
    )
    .await;
    unread_becomes(&mut bob_events, "c2c_alice", 0).await;
    let read = next_event(&mut alice_events, |event| match event {
        SdkEvent::RecvC2cReadReceipt(list) => Some(list),
        _ => None,
    })
    .await;
    assert_eq!(read[0].user_id, "bob");
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 0);
    let conversations = bob.get_conversation_list(0, 10).await.expect("list");
    assert_eq!(conversations.conversation_list[0].unread_count, 0);

    // A read time before the newest messages leaves them unread; the read position never moves
    // back.
    let earlier = now() - 3600;
    rest.send_text("alice", "bob", "later").await;
    rest.send_text("alice", "bob", "later still").await;
    rest.ok(
        path,
        json!({ "Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": earlier }),
    )
    .await;
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 2);
    rest.ok(
        path,
        json!({ "Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": (now() + 5).to_string() }),
    )
    .await;
    assert_eq!(c2c_unread(&rest, "bob", "alice").await, 0);
    // Marking a conversation that has no message is a no-op.
    rest.ok(
        path,
        json!({ "Report_Account": "bob", "Peer_Account": "carol" }),
    )
    .await;

    // Refusals.
    rest.fail(path, json!({ "Peer_Account": "alice" }), 90008)
        .await;
    rest.fail(
        path,
        json!({ "Report_Account": "ghost", "Peer_Account": "alice" }),
        90008,
    )
    .await;
    rest.fail(path, json!({ "Report_Account": "bob" }), 90003)
        .await;
    rest.fail(
        path,
        json!({ "Report_Account": "bob", "Peer_Account": "ghost" }),
        90003,
    )
    .await;
    rest.fail(
        path,
        json!({ "Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": "soon" }),
        90001,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

fn group_info_of(reply: &Value, index: usize) -> &Value {
    &reply["GroupInfo"][index]
}

#[tokio::test]
async fn groups_are_created_described_changed_and_destroyed() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "carol", "erin"]).await;
    let (_bob, mut bob_events) = server.client("bob").await;
    let (_dave, mut dave_events) = server.client("dave").await;

    let before = now();
    let reply = rest
        .ok(
            "group_open_http_svc/create_group",
            json!({ "Owner_Account": "alice", "Type": "Private", "Name": "team", "Introduction": "ignored",
                    "MaxMemberCount": 500, "ApplyJoinOption": "FreeAccess",
                    "MemberList": [{ "Member_Account": "bob", "Role": "Admin" }, { "Member_Account": "carol" },
                                   { "Member_Account": "alice" }] }),
        )
        .await;
    let group = reply["GroupId"].as_str().expect("GroupId").to_owned();
    assert!(group.starts_with("@TGS#"), "{group}");
    let entered = next_event(&mut bob_events, |event| match event {
        SdkEvent::MemberEnter(change) => Some(change),
        _ => None,
    })
    .await;
    assert_eq!(entered.group_id, group);

    let info = rest
        .ok(
            "group_open_http_svc/get_group_info",
            json!({ "GroupIdList": [group, "no-such-group"] }),
        )
        .await;
    let first = group_info_of(&info, 0);
    assert_eq!(
        (
            &first["GroupId"],
            &first["ErrorCode"],
            &first["Type"],
            &first["Name"],
            &first["Owner_Account"],
            &first["MemberNum"],
            &first["NextMsgSeq"]
        ),
        (
            &json!(group),
            &json!(0),
            &json!("Private"),
            &json!("team"),
            &json!("alice"),
            &json!(3),
            &json!(1)
        )
    );
    let created = first["CreateTime"].as_i64().expect("CreateTime");
    assert!((before..=now()).contains(&created));
    assert!(first["MaxMemberNum"].as_u64().is_some_and(|n| n >= 3));
    let second = group_info_of(&info, 1);
    assert_eq!(
        (&second["GroupId"], &second["ErrorCode"]),
        (&json!("no-such-group"), &json!(10010))
    );

    let members = "group_open_http_svc/get_group_member_info";
    let reply = rest.ok(members, json!({ "GroupId": group })).await;
    assert_eq!(reply["MemberNum"], 3);
    let roles: Vec<(&str, &str)> = reply["MemberList"]
        .as_array()
        .expect("MemberList")
        .iter()
        .map(|m| {
            assert!(m["JoinTime"].as_i64().is_some_and(|t| t >= before));
            assert_eq!(m["MsgSeq"], 0);
            (
                m["Member_Account"].as_str().unwrap_or_default(),
                m["Role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [("alice", "Owner"), ("bob", "Admin"), ("carol", "Member")]
    );
    let reply = rest
        .ok(
            members,
            json!({ "GroupId": group, "Offset": 1, "Limit": 1 }),
        )
        .await;
    assert_eq!(reply["MemberNum"], 3);
    assert_eq!(reply["MemberList"][0]["Member_Account"], "bob");
    assert_eq!(reply["MemberList"].as_array().map(Vec::len), Some(1));
    let reply = rest
        .ok(members, json!({ "GroupId": group, "Offset": 3 }))
        .await;
    assert_eq!(reply["MemberList"], json!([]));

    // Adding: added, already a member, unknown user.
    let add = "group_open_http_svc/add_group_member";
    let reply = rest
        .ok(
            add,
            json!({ "GroupId": group, "Silence": 1,
                    "MemberList": [{ "Member_Account": "dave" }, { "Member_Account": "bob" }, { "Member_Account": "ghost" }] }),
        )
        .await;
    assert_eq!(
        reply["MemberList"],
        json!([{ "Member_Account": "dave", "Result": 1 }, { "Member_Account": "bob", "Result": 2 },
               { "Member_Account": "ghost", "Result": 0 }])
    );
    // The administrator added dave: he was invited, by the administrator.
    let invited = next_event(&mut dave_events, |event| match event {
        SdkEvent::MemberInvited(change) => Some(change),
        _ => None,
    })
    .await;
    let added: Vec<&str> = invited
        .member_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!(
        (
            invited.group_id.as_str(),
            invited.op_user.user_id.as_str(),
            added.as_slice()
        ),
        (group.as_str(), ADMIN, ["dave"].as_slice())
    );
    let reply = rest
        .ok(
            "group_open_http_svc/get_joined_group_list",
            json!({ "Member_Account": "dave" }),
        )
        .await;
    assert_eq!(
        (&reply["TotalCount"], &reply["GroupIdList"]),
        (&json!(1), &json!([{ "GroupId": group }]))
    );

    // Removing; never the owner, which would leave the group with an owner outside it.
    let delete = "group_open_http_svc/delete_group_member";
    rest.fail(
        delete,
        json!({ "GroupId": group, "MemberToDel_Account": ["carol", "alice"] }),
        10004,
    )
    .await;
    let reply = rest.ok(members, json!({ "GroupId": group })).await;
    assert_eq!(reply["MemberNum"], 4, "nothing was removed: {reply}");
    rest.ok(
        delete,
        json!({ "GroupId": group, "Silence": 0, "Reason": "bye", "MemberToDel_Account": ["carol"] }),
    )
    .await;
    let kicked = next_event(&mut bob_events, |event| match event {
        SdkEvent::MemberKicked(change) => Some(change),
        _ => None,
    })
    .await;
    let removed: Vec<&str> = kicked
        .member_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!(
        (kicked.op_user.user_id.as_str(), removed.as_slice()),
        (ADMIN, ["carol"].as_slice())
    );
    let reply = rest.ok(members, json!({ "GroupId": group })).await;
    let accounts: Vec<&str> = reply["MemberList"]
        .as_array()
        .expect("MemberList")
        .iter()
        .filter_map(|m| m["Member_Account"].as_str())
        .collect();
    assert_eq!(accounts, ["alice", "bob", "dave"]);

    // Destroying.
    let destroy = "group_open_http_svc/destroy_group";
    rest.ok(destroy, json!({ "GroupId": group })).await;
    next_event(&mut bob_events, |event| match event {
        SdkEvent::GroupDismissed(dismissed) if dismissed.group_id == group => Some(()),
        _ => None,
    })
    .await;
    let info = rest
        .ok(
            "group_open_http_svc/get_group_info",
            json!({ "GroupIdList": [group] }),
        )
        .await;
    assert_eq!(group_info_of(&info, 0)["ErrorCode"], 10010);
    rest.fail(destroy, json!({ "GroupId": group }), 10010).await;
    rest.fail(members, json!({ "GroupId": group }), 10010).await;
    rest.fail(
        add,
        json!({ "GroupId": group, "MemberList": [{ "Member_Account": "erin" }] }),
        10010,
    )
    .await;
    rest.fail(
        delete,
        json!({ "GroupId": group, "MemberToDel_Account": ["bob"] }),
        10010,
    )
    .await;

    // Refusals.
    rest.fail(add, json!({ "GroupId": "x", "MemberList": [] }), 10004)
        .await;
    rest.fail(delete, json!({ "GroupId": "x" }), 10004).await;
    rest.fail(
        "group_open_http_svc/get_group_info",
        json!({ "GroupIdList": [] }),
        10004,
    )
    .await;
}

#[tokio::test]
async fn create_group_takes_every_type_name_and_reports_tencents_names() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let create = "group_open_http_svc/create_group";
    let mut by_type = Vec::new();
    for (given, reported) in [
        ("Private", "Private"),
        ("Work", "Private"),
        ("Public", "Public"),
        ("ChatRoom", "ChatRoom"),
        ("Meeting", "ChatRoom"),
        ("AVChatRoom", "AVChatRoom"),
        ("Community", "Community"),
    ] {
        let members = if given == "AVChatRoom" {
            json!([])
        } else {
            json!([{ "Member_Account": "bob" }])
        };
        let reply = rest
            .ok(
                create,
                json!({ "Owner_Account": "alice", "Type": given, "Name": given, "MemberList": members }),
            )
            .await;
        let group = reply["GroupId"].as_str().expect("GroupId").to_owned();
        let info = rest
            .ok(
                "group_open_http_svc/get_group_info",
                json!({ "GroupIdList": [group] }),
            )
            .await;
        assert_eq!(group_info_of(&info, 0)["Type"], reported, "{given}: {info}");
        by_type.push((group, reported));
    }

    // A custom ID, an ownerless group, and refusals.
    let reply = rest
        .ok(
            create,
            json!({ "Type": "Public", "Name": "lobby", "GroupId": "lobby" }),
        )
        .await;
    assert_eq!(reply["GroupId"], "lobby");
    let info = rest
        .ok(
            "group_open_http_svc/get_group_info",
            json!({ "GroupIdList": ["lobby"] }),
        )
        .await;
    assert_eq!(
        (
            &group_info_of(&info, 0)["Owner_Account"],
            &group_info_of(&info, 0)["MemberNum"]
        ),
        (&json!(""), &json!(0))
    );
    rest.fail(
        create,
        json!({ "Type": "Public", "Name": "again", "GroupId": "lobby" }),
        10021,
    )
    .await;
    rest.fail(create, json!({ "Name": "x" }), 10004).await;
    rest.fail(create, json!({ "Type": "Nope", "Name": "x" }), 10004)
        .await;
    rest.fail(create, json!({ "Type": "Public" }), 10004).await;
    rest.fail(
        create,
        json!({ "Type": "Public", "Name": "x".repeat(101) }),
        10004,
    )
    .await;
    rest.fail(
        create,
        json!({ "Type": "Public", "Name": "x", "GroupId": "@TGS#mine" }),
        10004,
    )
    .await;
    rest.fail(
        create,
        json!({ "Type": "Public", "Name": "x", "MemberList": [{ "Member_Account": "bob", "Role": "Owner" }] }),
        10004,
    )
    .await;
    rest.fail(
        create,
        json!({ "Type": "AVChatRoom", "Name": "x", "MemberList": [{ "Member_Account": "bob" }] }),
        10004,
    )
    .await;
    rest.fail(
        create,
        json!({ "Type": "Public", "Name": "x", "MemberList": [{ "Member_Account": "ghost" }] }),
        20003,
    )
    .await;
    rest.fail(
        create,
        json!({ "Owner_Account": "ghost", "Type": "Public", "Name": "x" }),
        20003,
    )
    .await;

    // Listings: bob's groups by type and page; all groups by page and type.
    let joined = "group_open_http_svc/get_joined_group_list";
    let reply = rest.ok(joined, json!({ "Member_Account": "bob" })).await;
    assert_eq!(reply["TotalCount"], 6, "{reply}");
    let all_of_bob: BTreeSet<String> = reply["GroupIdList"]
        .as_array()
        .expect("GroupIdList")
        .iter()
        .filter_map(|g| g["GroupId"].as_str().map(str::to_owned))
        .collect();
    let expected: BTreeSet<String> = by_type
        .iter()
        .filter(|(_, t)| *t != "AVChatRoom")
        .map(|(g, _)| g.clone())
        .collect();
    assert_eq!(all_of_bob, expected);
    let reply = rest
        .ok(
            joined,
            json!({ "Member_Account": "bob", "GroupType": "Private" }),
        )
        .await;
    assert_eq!(reply["TotalCount"], 2);
    let mut paged = BTreeSet::new();
    for offset in 0..6 {
        let reply = rest
            .ok(
                joined,
                json!({ "Member_Account": "bob", "Limit": 1, "Offset": offset }),
            )
            .await;
        assert_eq!(reply["TotalCount"], 6);
        paged.insert(
            reply["GroupIdList"][0]["GroupId"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    assert_eq!(paged, all_of_bob);

    let appid = "group_open_http_svc/get_appid_group_list";
    let mut listed = BTreeSet::new();
    let mut next = 0;
    loop {
        let reply = rest.ok(appid, json!({ "Limit": 3, "Next": next })).await;
        assert_eq!(reply["TotalCount"], 8);
        for item in reply["GroupIdList"].as_array().expect("GroupIdList") {
            assert!(listed.insert(item["GroupId"].as_str().expect("id").to_owned()));
        }
        next = reply["Next"].as_u64().expect("Next");
        if next == 0 {
            break;
        }
    }
    assert_eq!(listed.len(), 8);
    let reply = rest
        .ok(appid, json!({ "GroupType": "ChatRoom", "Limit": 100 }))
        .await;
    assert_eq!(reply["TotalCount"], 2, "{reply}");
    rest.ok(appid, json!({ "GroupType": "" })).await;
    rest.fail(appid, json!({ "GroupType": "Nope" }), 10004)
        .await;
    rest.fail(joined, json!({ "Member_Account": 5 }), 10004)
        .await;
}

#[tokio::test]
async fn rest_group_messages_reach_members_like_websocket_ones_and_page_in_history() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["dave"]).await;
    let (alice, mut alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (_carol, _carol_events) = server.client("carol").await;
    let group = rest
        .create_group("Private", "alice", &["bob", "carol"])
        .await;
    let conversation = format!("group_{group}");

    // The same message over WebSocket and over REST.
    let sent = alice
        .send_message(SendMessageParams {
            group_id: Some(group.clone()),
            text_elem: Some(TextElem {
                text: "same".into(),
            }),
            need_read_receipt: true,
            random: 9,
            cloud_custom_data: "g".into(),
            ..SendMessageParams::default()
        })
        .await
        .expect("WebSocket send");
    let via_ws = recv_message(&mut bob_events, &sent.msg_id).await;
    assert_eq!(conversation_unread(&bob, &conversation).await, 1);
    let reply = rest
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({ "GroupId": group, "From_Account": "alice", "Random": 9, "MsgPriority": "Normal",
                    "MsgBody": text_body("same"), "CloudCustomData": "g", "NeedReadReceipt": 1 }),
        )
        .await;
    assert_eq!(reply["MsgSeq"], 2);
    let msg_id = reply["MsgId"].as_str().expect("MsgId").to_owned();
    let via_rest = recv_message(&mut bob_events, &msg_id).await;
    assert_eq!(via_rest.seq, 2);
    assert_eq!(
        via_rest.timestamp,
        reply["MsgTime"].as_i64().expect("MsgTime")
    );
    assert_eq!(normalized(via_rest), normalized(via_ws));
    assert_eq!(conversation_unread(&bob, &conversation).await, 2);
    // The sender's devices get their own message, read.
    let own = recv_message(&mut alice_events, &msg_id).await;
    assert!(own.is_self && own.is_read);

    // The App administrator sends without being a member.
    let reply = rest
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({ "GroupId": group, "MsgBody": text_body("notice") }),
        )
        .await;
    let message = recv_message(&mut bob_events, reply["MsgId"].as_str().expect("MsgId")).await;
    assert_eq!(message.sender, ADMIN);
    assert_eq!(conversation_unread(&bob, &conversation).await, 3);
    // Online only: pushed, not stored.
    let reply = rest
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({ "GroupId": group, "From_Account": "alice", "OnlineOnlyFlag": 1, "MsgBody": text_body("typing") }),
        )
        .await;
    let message = recv_message(&mut bob_events, reply["MsgId"].as_str().expect("MsgId")).await;
    assert_eq!(message.seq, 0);
    for i in 4..=6 {
        rest.send_group_text(&group, "bob", &format!("m{i}"), false)
            .await;
    }

    // History: newest first, paged as Tencent documents it (the smallest MsgSeq returned minus 1,
    // until nothing comes back); IsFinished 1 says every message of the requested range came.
    let path = "group_open_http_svc/group_msg_get_simple";
    let mut seqs = Vec::new();
    let mut request = json!({ "GroupId": group, "ReqMsgNumber": 4 });
    let mut pages = Vec::new();
    loop {
        let reply = rest.ok(path, request.clone()).await;
        assert_eq!(
            (&reply["GroupId"], &reply["IsFinished"]),
            (&json!(group), &json!(1))
        );
        let list = reply["RspMsgList"].as_array().expect("RspMsgList");
        pages.push(list.len());
        for item in list {
            seqs.push(item["MsgSeq"].as_u64().expect("MsgSeq"));
            assert_eq!(
                (&item["IsPlaceMsg"], &item["IsSystemMsg"]),
                (&json!(0), &json!(0))
            );
            assert!(item["MsgTimeStamp"].as_i64().is_some() && item["MsgPriority"].is_u64());
        }
        match seqs.last() {
            Some(&smallest) if !list.is_empty() && smallest > 1 => {
                request["ReqMsgSeq"] = json!(smallest - 1);
            }
            _ => break,
        }
    }
    assert_eq!(seqs, [6, 5, 4, 3, 2, 1]);
    assert_eq!(pages, [4, 2]);
    let reply = rest
        .ok(
            path,
            json!({ "GroupId": group, "ReqMsgSeq": 2, "ReqMsgNumber": 20 }),
        )
        .await;
    let list = reply["RspMsgList"].as_array().expect("RspMsgList");
    assert_eq!(reply["IsFinished"], 1);
    assert_eq!(
        list[0],
        json!({ "From_Account": "alice", "IsPlaceMsg": 0, "IsSystemMsg": 0, "MsgBody": text_body("same"),
                "MsgPriority": list[0]["MsgPriority"], "MsgRandom": 9, "MsgSeq": 2,
                "MsgTimeStamp": list[0]["MsgTimeStamp"], "MsgId": msg_id, "CloudCustomData": "g" })
    );
    assert_eq!(list[1]["MsgId"], sent.msg_id.as_str());

    // Refusals.
    let send = "group_open_http_svc/send_group_msg";
    rest.fail(
        send,
        json!({ "GroupId": "no-such-group", "From_Account": "alice", "MsgBody": text_body("x") }),
        10010,
    )
    .await;
    rest.fail(
        send,
        json!({ "GroupId": group, "From_Account": "dave", "MsgBody": text_body("x") }),
        10007,
    )
    .await;
    rest.fail(
        send,
        json!({ "GroupId": group, "From_Account": "alice", "MsgBody": [] }),
        10004,
    )
    .await;
    rest.fail(send, json!({ "GroupId": group }), 10004).await;
    for number in [0, 21] {
        rest.fail(
            path,
            json!({ "GroupId": group, "ReqMsgNumber": number }),
            10004,
        )
        .await;
    }
    rest.fail(
        path,
        json!({ "GroupId": "no-such-group", "ReqMsgNumber": 1 }),
        10010,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Group receipts and unread counts
// ---------------------------------------------------------------------------------------------

/// Reads every page of `get_group_msg_receipt_detail` with `count` per page.
async fn receipt_members(
    rest: &Rest,
    group: &str,
    seq: u64,
    filter: u8,
    count: u64,
) -> Vec<String> {
    let (list, item) = if filter == 0 {
        ("ReadList", "Read_Account")
    } else {
        ("UnreadList", "Unread_Account")
    };
    let mut members = Vec::new();
    let mut cursor = String::new();
    for _ in 0..20 {
        let reply = rest
            .ok(
                "group_open_http_svc/get_group_msg_receipt_detail",
                json!({ "GroupId": group, "MsgSeq": seq, "Filter": filter, "Cursor": cursor, "Count": count }),
            )
            .await;
        assert_eq!(reply["MsgSeq"], seq);
        let page = reply[list].as_array().expect("member list");
        assert!(page.len() as u64 <= count, "{reply}");
        members.extend(
            page.iter()
                .map(|m| m[item].as_str().expect("account").to_owned()),
        );
        if reply["IsFinished"] == 1 {
            assert_eq!(reply["Cursor"], "", "{reply}");
            return members;
        }
        assert_eq!(reply["IsFinished"], 0);
        cursor = reply["Cursor"].as_str().expect("Cursor").to_owned();
        assert!(!cursor.is_empty(), "{reply}");
    }
    panic!("the pages never finished");
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

#[tokio::test]
async fn group_receipts_over_rest_reach_the_sender_and_the_receipt_queries() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["bob", "carol", "erin", "frank", "outsider"])
        .await;
    let (alice, mut alice_events) = server.client("alice").await;
    let (dave, _dave_events) = server.client("dave").await;
    let members = ["bob", "carol", "dave", "erin", "frank"];
    let group = rest.create_group("Private", "alice", &members).await;
    let wanted = rest.send_group_text(&group, "alice", "read me", true).await;
    let plain = rest
        .send_group_text(&group, "alice", "no receipt", false)
        .await;
    let wanted_id = rest
        .ok(
            "group_open_http_svc/group_msg_get_simple",
            json!({ "GroupId": group, "ReqMsgSeq": wanted, "ReqMsgNumber": 1 }),
        )
        .await["RspMsgList"][0]["MsgId"]
        .as_str()
        .expect("MsgId")
        .to_owned();

    // bob and carol over REST, dave over WebSocket.
    let path = "group_open_http_svc/group_msg_receipt";
    rest.ok(
        path,
        json!({ "GroupId": group, "From_Account": "bob", "MsgSeqList": [{ "MsgSeq": wanted }] }),
    )
    .await;
    let mut latest = (0, 0);
    while latest.0 < 1 {
        let receipts = next_event(&mut alice_events, |event| match event {
            SdkEvent::RecvMessageReadReceipts(list) => Some(list),
            _ => None,
        })
        .await;
        let receipt = receipts
            .iter()
            .find(|r| r.msg_id == wanted_id)
            .expect("receipt of the message");
        assert_eq!(receipt.group_id, group);
        latest = (receipt.read_count, receipt.unread_count);
    }
    assert_eq!(latest, (1, 4));
    rest.ok(
        path,
        json!({ "GroupId": group, "From_Account": "carol", "MsgSeqList": [{ "MsgSeq": wanted }] }),
    )
    .await;
    dave.send_message_read_receipts(vec![wanted_id.clone()])
        .await
        .expect("WebSocket receipt");
    while latest.0 < 3 {
        let receipts = next_event(&mut alice_events, |event| match event {
            SdkEvent::RecvMessageReadReceipts(list) => Some(list),
            _ => None,
        })
        .await;
        let receipt = receipts
            .iter()
            .find(|r| r.msg_id == wanted_id)
            .expect("receipt of the message");
        latest = (receipt.read_count, receipt.unread_count);
    }
    assert_eq!(latest, (3, 2));
    let state = alice
        .get_message_read_receipts(vec![wanted_id.clone()])
        .await
        .expect("receipts");
    assert_eq!((state[0].read_count, state[0].unread_count), (3, 2));

    // Counts, with 10062 per message that has no receipt information.
    let reply = rest
        .ok(
            "group_open_http_svc/get_group_msg_receipt",
            json!({ "GroupId": group, "MsgSeqList": [{ "MsgSeq": wanted }, { "MsgSeq": plain }, { "MsgSeq": 999 }] }),
        )
        .await;
    assert_eq!(
        reply["GroupMsgReceiptList"],
        json!([
            { "MsgSeq": wanted, "Code": 0, "ReadNum": 3, "UnreadNum": 2 },
            { "MsgSeq": plain, "Code": 10062, "ReadNum": 0, "UnreadNum": 0 },
            { "MsgSeq": 999, "Code": 10062, "ReadNum": 0, "UnreadNum": 0 }
        ])
    );

    // Member lists, paged with Cursor until IsFinished, in pages of 1, 2 and 200.
    for count in [1, 2, 200] {
        assert_eq!(
            sorted(receipt_members(&rest, &group, wanted, 0, count).await),
            ["bob", "carol", "dave"]
        );
        assert_eq!(
            sorted(receipt_members(&rest, &group, wanted, 1, count).await),
            ["erin", "frank"]
        );
    }
    // A receipt arriving between pages neither repeats nor skips anyone.
    let detail = "group_open_http_svc/get_group_msg_receipt_detail";
    let reply = rest
        .ok(
            detail,
            json!({ "GroupId": group, "MsgSeq": wanted, "Filter": 1, "Cursor": "", "Count": 1 }),
        )
        .await;
    let first = reply["UnreadList"][0]["Unread_Account"].clone();
    rest.ok(
        path,
        json!({ "GroupId": group, "From_Account": "frank", "MsgSeqList": [{ "MsgSeq": wanted }] }),
    )
    .await;
    let reply = rest
        .ok(
            detail,
            json!({ "GroupId": group, "MsgSeq": wanted, "Filter": 1, "Cursor": reply["Cursor"], "Count": 200 }),
        )
        .await;
    assert_eq!(reply["IsFinished"], 1);
    assert!(
        !reply["UnreadList"]
            .as_array()
            .expect("list")
            .contains(&json!({ "Unread_Account": first }))
    );

    // Refusals.
    for (body, code) in [
        (
            json!({ "GroupId": group, "From_Account": "erin", "MsgSeqList": [{ "MsgSeq": plain }] }),
            10062,
        ),
        (
            json!({ "GroupId": group, "From_Account": "erin", "MsgSeqList": [{ "MsgSeq": 999 }] }),
            10062,
        ),
        (
            json!({ "GroupId": group, "From_Account": "outsider", "MsgSeqList": [{ "MsgSeq": wanted }] }),
            10007,
        ),
        (
            json!({ "GroupId": group, "From_Account": "alice", "MsgSeqList": [{ "MsgSeq": wanted }] }),
            10004,
        ),
        (
            json!({ "GroupId": "no-such-group", "From_Account": "erin", "MsgSeqList": [{ "MsgSeq": 1 }] }),
            10010,
        ),
        (
            json!({ "GroupId": group, "From_Account": "erin", "MsgSeqList": [] }),
            10004,
        ),
        (
            json!({ "GroupId": group, "From_Account": "erin", "MsgSeqList": [{ "Seq": 1 }] }),
            10004,
        ),
        (
            json!({ "GroupId": group, "MsgSeqList": [{ "MsgSeq": wanted }] }),
            10004,
        ),
    ] {
        rest.fail(path, body, code).await;
    }
    let fifty_one: Vec<Value> = (1..=51).map(|seq| json!({ "MsgSeq": seq })).collect();
    rest.fail(
        path,
        json!({ "GroupId": group, "From_Account": "erin", "MsgSeqList": fifty_one }),
        10004,
    )
    .await;
    rest.fail(
        "group_open_http_svc/get_group_msg_receipt",
        json!({ "GroupId": "no-such-group", "MsgSeqList": [{ "MsgSeq": 1 }] }),
        10010,
    )
    .await;
    for (body, code) in [
        (
            json!({ "GroupId": group, "MsgSeq": wanted, "Filter": 0, "Count": 0 }),
            10004,
        ),
        (
            json!({ "GroupId": group, "MsgSeq": wanted, "Filter": 0, "Count": 201 }),
            10004,
        ),
        (
            json!({ "GroupId": group, "MsgSeq": wanted, "Filter": 2, "Count": 10 }),
            10004,
        ),
        (
            json!({ "GroupId": group, "MsgSeq": wanted, "Cursor": "not-a-cursor" }),
            10004,
        ),
        (json!({ "GroupId": group, "Filter": 0 }), 10004),
        (
            json!({ "GroupId": group, "MsgSeq": plain, "Filter": 0 }),
            10062,
        ),
        (
            json!({ "GroupId": "no-such-group", "MsgSeq": 1, "Filter": 0 }),
            10010,
        ),
    ] {
        rest.fail(detail, body, code).await;
    }
}

/// Found by `scripts/fuzz-rest`: sequences and times past `i64::MAX` reached the store, which
/// refused them (ErrorCode 6999, an internal error), or wrapped around to negative times.
#[tokio::test]
async fn sequences_and_times_past_i64_max_are_no_internal_errors() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let group = rest.create_group("Private", "alice", &["bob"]).await;
    let seq = rest.send_group_text(&group, "alice", "huge", true).await;
    let (past, max) = (1u64 << 63, u64::MAX);

    let reply = rest
        .ok(
            "group_open_http_svc/get_group_msg_receipt",
            json!({ "GroupId": group, "MsgSeqList": [{ "MsgSeq": seq }, { "MsgSeq": past }, { "MsgSeq": max }] }),
        )
        .await;
    let codes: Vec<&Value> = reply["GroupMsgReceiptList"]
        .as_array()
        .expect("GroupMsgReceiptList")
        .iter()
        .map(|item| &item["Code"])
        .collect();
    assert_eq!(codes, [&json!(0), &json!(10062), &json!(10062)], "{reply}");
    for huge in [past, max] {
        rest.fail(
            "group_open_http_svc/get_group_msg_receipt_detail",
            json!({ "GroupId": group, "MsgSeq": huge }),
            10062,
        )
        .await;
        rest.fail(
            "group_open_http_svc/group_msg_receipt",
            json!({ "GroupId": group, "From_Account": "bob", "MsgSeqList": [{ "MsgSeq": huge }] }),
            10062,
        )
        .await;
    }
    for up_to in [past - 1, past, max] {
        let reply = rest
            .ok(
                "group_open_http_svc/group_msg_get_simple",
                json!({ "GroupId": group, "ReqMsgSeq": up_to }),
            )
            .await;
        assert_eq!(reply["RspMsgList"][0]["MsgSeq"], seq, "{reply}");
    }

    rest.send_text("alice", "bob", "timed").await;
    let roam = |min: u64, max: u64| json!({ "Operator_Account": "alice", "Peer_Account": "bob", "MinTime": min, "MaxTime": max });
    let reply = rest.ok("openim/admin_getroammsg", roam(0, max)).await;
    assert_eq!(reply["MsgCnt"], 1, "{reply}");
    let reply = rest.ok("openim/admin_getroammsg", roam(max, max)).await;
    assert_eq!(reply["MsgCnt"], 0, "{reply}");
}

#[tokio::test]
async fn set_unread_msg_num_moves_a_members_read_position() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "carol", "outsider"]).await;
    let (bob, mut bob_events) = server.client("bob").await;
    let group = rest
        .create_group("Public", "alice", &["bob", "carol"])
        .await;
    let conversation = format!("group_{group}");
    for i in 0..5 {
        rest.send_group_text(&group, "alice", &format!("m{i}"), false)
            .await;
    }
    // bob's own message and an uncounted one are not unread for him.
    rest.send_group_text(&group, "bob", "mine", false).await;
    rest.ok(
        "group_open_http_svc/send_group_msg",
        json!({ "GroupId": group, "From_Account": "alice", "SendMsgControl": ["NoUnread"], "MsgBody": text_body("fyi") }),
    )
    .await;
    bob.mark_group_message_as_read(group.clone())
        .await
        .expect("read");
    unread_becomes(&mut bob_events, &conversation, 0).await;

    let path = "group_open_http_svc/set_unread_msg_num";
    rest.ok(
        path,
        json!({ "GroupId": group, "Member_Account": "bob", "UnreadMsgNum": 3 }),
    )
    .await;
    unread_becomes(&mut bob_events, &conversation, 3).await;
    let list = bob.get_conversation_list(0, 10).await.expect("list");
    assert_eq!(list.conversation_list[0].unread_count, 3);
    let reply = rest
        .ok(
            "group_open_http_svc/get_group_member_info",
            json!({ "GroupId": group }),
        )
        .await;
    let bob_seq = reply["MemberList"]
        .as_array()
        .expect("MemberList")
        .iter()
        .find(|m| m["Member_Account"] == "bob")
        .map(|m| m["MsgSeq"].clone());
    assert_eq!(bob_seq, Some(json!(2)), "{reply}");
    rest.ok(
        path,
        json!({ "GroupId": group, "Member_Account": "bob", "UnreadMsgNum": 0 }),
    )
    .await;
    unread_becomes(&mut bob_events, &conversation, 0).await;
    rest.ok(
        path,
        json!({ "GroupId": group, "Member_Account": "bob", "UnreadMsgNum": 100 }),
    )
    .await;
    unread_becomes(&mut bob_events, &conversation, 5).await;

    rest.fail(
        path,
        json!({ "GroupId": group, "Member_Account": "outsider", "UnreadMsgNum": 1 }),
        10004,
    )
    .await;
    rest.fail(
        path,
        json!({ "GroupId": "no-such-group", "Member_Account": "bob", "UnreadMsgNum": 1 }),
        10010,
    )
    .await;
    rest.fail(
        path,
        json!({ "GroupId": group, "Member_Account": "bob" }),
        10004,
    )
    .await;
    rest.fail(
        path,
        json!({ "GroupId": group, "Member_Account": "bob", "UnreadMsgNum": -1 }),
        10004,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn settings_change_read_receipts_at_runtime() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice"]).await;
    let get = "tidings/get_settings";
    let set = "tidings/set_settings";
    let reply = rest.ok(get, json!({})).await;
    assert_eq!(
        (&reply["ReadReceipt"], &reply["Webhook"]),
        (
            &json!({ "Enabled": true, "GroupTypes": ["Work", "Public", "Meeting"] }),
            &json!({ "Url": "", "Token": "", "BeforeSendMsg": { "C2C": false, "Group": false, "TimeoutMs": 2000, "OnFailure": "allow" } })
        )
    );
    let mut bob = server.raw_login("bob").await;
    let msg_key = key(&rest
        .ok(
            "openim/sendmsg",
            json!({ "From_Account": "alice", "To_Account": "bob", "IsNeedReadReceipt": 1, "MsgBody": text_body("x") }),
        )
        .await);
    let work = rest.create_group("Work", "alice", &["bob"]).await;
    let public = rest.create_group("Public", "alice", &["bob"]).await;
    let seq = rest.send_group_text(&work, "alice", "g", true).await;

    // Off: every receipt method answers 7013 over WebSocket and 60017 (request disabled) over
    // REST, without a restart.
    let reply = rest
        .ok(set, json!({ "ReadReceipt": { "Enabled": false } }))
        .await;
    assert_eq!(reply["ReadReceipt"]["Enabled"], false);
    assert_eq!(
        reply["ReadReceipt"]["GroupTypes"],
        json!(["Work", "Public", "Meeting"])
    );
    assert_eq!(
        rest.ok(get, json!({})).await["ReadReceipt"]["Enabled"],
        false
    );
    for (method, params) in [
        (
            "sendMessageReadReceipts",
            json!({ "messageIDList": [msg_key] }),
        ),
        (
            "getMessageReadReceipts",
            json!({ "messageIDList": [msg_key] }),
        ),
    ] {
        let response = bob.call(method, params).await;
        assert_eq!(response["code"], 7013, "{method}: {response}");
    }
    rest.fail(
        "openim/c2c_msg_read_receipt",
        json!({ "Operator_Account": "bob", "Peer_Account": "alice",
                "C2CMsgInfo": [{ "From_Account": "alice", "To_Account": "bob", "MsgKey": msg_key }] }),
        60017,
    )
    .await;
    rest.fail(
        "group_open_http_svc/group_msg_receipt",
        json!({ "GroupId": work, "From_Account": "bob", "MsgSeqList": [{ "MsgSeq": seq }] }),
        60017,
    )
    .await;
    rest.fail(
        "openim/sendmsg",
        json!({ "From_Account": "alice", "To_Account": "bob", "IsNeedReadReceipt": 1, "MsgBody": text_body("x") }),
        60017,
    )
    .await;

    // On again.
    rest.ok(set, json!({ "ReadReceipt": { "Enabled": true } }))
        .await;
    let response = bob
        .call(
            "sendMessageReadReceipts",
            json!({ "messageIDList": [msg_key] }),
        )
        .await;
    assert_eq!(response["code"], 0, "{response}");

    // Group types: Tencent's REST names are accepted and reported in V2TIM's vocabulary.
    let reply = rest
        .ok(set, json!({ "ReadReceipt": { "GroupTypes": ["Private"] } }))
        .await;
    assert_eq!(
        reply["ReadReceipt"],
        json!({ "Enabled": true, "GroupTypes": ["Work"] })
    );
    rest.fail(
        "group_open_http_svc/send_group_msg",
        json!({ "GroupId": public, "From_Account": "alice", "NeedReadReceipt": 1, "MsgBody": text_body("x") }),
        60017,
    )
    .await;
    rest.send_group_text(&work, "alice", "still fine", true)
        .await;
    rest.ok(
        set,
        json!({ "ReadReceipt": { "GroupTypes": ["Work", "Public", "ChatRoom", "Community"] } }),
    )
    .await;
    rest.send_group_text(&public, "alice", "fine again", true)
        .await;

    // Refusals leave everything as it was.
    let before = rest.ok(get, json!({})).await;
    for body in [
        json!({ "ReadReceipt": { "Enabled": "yes" } }),
        json!({ "ReadReceipt": { "GroupTypes": ["AVChatRoom"] } }),
        json!({ "ReadReceipt": { "GroupTypes": ["Nope"] } }),
        json!({ "ReadReceipt": { "GroupTypes": "Work" } }),
        json!({ "Webhook": { "Url": "ftp://example.invalid/hook" } }),
        // No TLS client: an https:// URL would be accepted and every callback then dropped.
        json!({ "Webhook": { "Url": "https://example.invalid/hook" } }),
        json!({ "ReadReceipt": { "Enabled": false }, "Webhook": { "Url": "https://x.invalid" } }),
        json!({ "Webhook": { "Url": "http://" } }),
        json!({ "Webhook": { "Url": 5 } }),
        json!({ "Webhook": { "Token": false } }),
        json!({ "ReadReceipt": { "Enabled": false }, "Webhook": { "Url": "nope" } }),
        json!({ "Webhook": { "BeforeSendMsg": { "TimeoutMs": 9 } } }),
        json!({ "Webhook": { "BeforeSendMsg": { "TimeoutMs": 30001 } } }),
        json!({ "Webhook": { "BeforeSendMsg": { "TimeoutMs": "2s" } } }),
        json!({ "Webhook": { "BeforeSendMsg": { "OnFailure": "maybe" } } }),
        json!({ "Webhook": { "BeforeSendMsg": { "C2C": "yes" } } }),
        json!({ "Webhook": { "BeforeSendMsg": true } }),
        json!({ "ReadReceipt": { "Enabled": false }, "Webhook": { "BeforeSendMsg": { "Group": 1 } } }),
    ] {
        rest.fail(set, body, 60003).await;
    }
    assert_eq!(rest.ok(get, json!({})).await, before);
}

/// The read-receipt and webhook settings in force, as `tidings/get_settings` reports them.
async fn settings_in_force(rest: &Rest) -> Value {
    let reply = rest.ok("tidings/get_settings", json!({})).await;
    json!({ "ReadReceipt": reply["ReadReceipt"], "Webhook": reply["Webhook"] })
}

#[tokio::test]
async fn settings_set_over_rest_survive_restarts_until_the_config_file_changes() {
    let set = "tidings/set_settings";
    let hook = "http://127.0.0.1:9/hook";
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let hooks = json!({ "C2C": true, "Group": false, "TimeoutMs": 500, "OnFailure": "deny" });
    let over_rest = json!({ "ReadReceipt": { "Enabled": false, "GroupTypes": ["Work"] },
                            "Webhook": { "Url": hook, "Token": "secret", "BeforeSendMsg": hooks } });
    rest.ok(set, over_rest.clone()).await;

    // Same config file: the REST change holds, and is in force.
    let server = TestServer::start_in(server.stop().await, |_| {}).await;
    let rest = Rest::new(&server);
    assert_eq!(settings_in_force(&rest).await, over_rest);
    rest.fail(
        "openim/sendmsg",
        json!({ "From_Account": "alice", "To_Account": "bob", "IsNeedReadReceipt": 1, "MsgBody": text_body("x") }),
        60017,
    )
    .await;

    // The operator edits the file's receipts since: the file wins there, on this start and the
    // next; the webhook, whose file value did not change, keeps its REST value.
    let edited = |config: &mut tidings_server::Config| {
        config.read_receipts.group_types = vec![GroupType::Work, GroupType::Public];
    };
    let from_file = json!({ "ReadReceipt": { "Enabled": true, "GroupTypes": ["Work", "Public"] },
                            "Webhook": { "Url": hook, "Token": "secret", "BeforeSendMsg": hooks } });
    let server = TestServer::start_in(server.stop().await, edited).await;
    assert_eq!(settings_in_force(&Rest::new(&server)).await, from_file);
    let server = TestServer::start_in(server.stop().await, edited).await;
    let rest = Rest::new(&server);
    assert_eq!(settings_in_force(&rest).await, from_file);

    // A REST change made on the edited file holds again.
    let again = json!({ "ReadReceipt": { "Enabled": true, "GroupTypes": ["Meeting"] },
                        "Webhook": { "Url": "", "Token": "", "BeforeSendMsg": { "C2C": false, "Group": false, "TimeoutMs": 2000, "OnFailure": "allow" } } });
    rest.ok(set, again.clone()).await;
    let server = TestServer::start_in(server.stop().await, edited).await;
    assert_eq!(settings_in_force(&Rest::new(&server)).await, again);
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/// One callback request as the receiver saw it.
#[derive(Debug, Clone)]
struct Hook {
    query: HashMap<String, String>,
    content_type: String,
    body: Value,
}

#[derive(Clone, Default)]
struct HookLog {
    received: Arc<Mutex<Vec<Hook>>>,
    attempts: Arc<AtomicUsize>,
    fail_next: Arc<AtomicUsize>,
    /// Callbacks wait here, unanswered, while a test holds it for writing.
    gate: Arc<tokio::sync::RwLock<()>>,
}

/// A test HTTP receiver of webhooks on 127.0.0.1:0.
struct Receiver {
    url: String,
    log: HookLog,
}

async fn receive(
    State(log): State<HookLog>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    log.attempts.fetch_add(1, Ordering::SeqCst);
    let _open = log.gate.read().await;
    let failing = log
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return (StatusCode::INTERNAL_SERVER_ERROR, "try again".into());
    }
    let hook = Hook {
        query,
        content_type: headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    log.received.lock().expect("log").push(hook);
    (
        StatusCode::OK,
        json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "" }).to_string(),
    )
}

impl Receiver {
    async fn start() -> Self {
        let log = HookLog::default();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, log }
    }

    fn received(&self) -> Vec<Hook> {
        self.log.received.lock().expect("log").clone()
    }

    /// Waits for a callback `command` whose body `pick` accepts.
    async fn hook(&self, command: &str, pick: impl Fn(&Value) -> bool) -> Hook {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(hook) = self
                .received()
                .into_iter()
                .find(|h| h.body["CallbackCommand"] == command && pick(&h.body))
            {
                return hook;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {command} callback arrived; got {:?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// hex(sha256(token + RequestTime)), computed independently of the server.
fn expected_sign(token: &str, request_time: &str) -> String {
    Sha256::digest(format!("{token}{request_time}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Tencent's callback query parameters, and the signature when a token is set.
#[track_caller]
fn assert_callback_query(hook: &Hook, platform: &str, token: Option<&str>) {
    let q = &hook.query;
    let get = |name: &str| q.get(name).map(String::as_str);
    assert_eq!(get("SdkAppid"), Some("1400000000"), "{q:?}");
    assert_eq!(
        get("CallbackCommand"),
        hook.body["CallbackCommand"].as_str()
    );
    assert_eq!(get("contenttype"), Some("json"));
    assert_eq!(get("ClientIP"), Some("127.0.0.1"));
    assert_eq!(get("OptPlatform"), Some(platform));
    assert!(
        hook.content_type.starts_with("application/json"),
        "{hook:?}"
    );
    match token {
        Some(token) => {
            let time = get("RequestTime").expect("RequestTime");
            let seconds: i64 = time.parse().expect("RequestTime is Unix seconds");
            assert!((seconds - now()).abs() <= 60, "RequestTime {time}");
            assert_eq!(get("Sign"), Some(expected_sign(token, time).as_str()));
        }
        None => assert!(
            get("RequestTime").is_none() && get("Sign").is_none(),
            "unsigned without a token: {q:?}"
        ),
    }
}

#[test]
fn the_test_signature_matches_a_known_sha256() {
    // `printf '%s' 0 | sha256sum` and `printf '%s' tok1700000000 | sha256sum`.
    assert_eq!(
        expected_sign("", "0"),
        "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"
    );
    let expected = "1f4112aa726e20f097d526ff82863c835ad47a6a34dc4ca14240702535c75dbc";
    assert_eq!(expected_sign("tok", "1700000000"), expected);
    assert_eq!(
        tidings_server::webhook::sign("tok", 1_700_000_000),
        expected
    );
}

#[tokio::test]
async fn webhooks_arrive_signed_with_tencents_fields() {
    let receiver = Receiver::start().await;
    let token = "hook-token";
    let url = receiver.url.clone();
    let server = TestServer::start_with(|config| {
        config.webhook = WebhookSettings {
            url,
            token: token.into(),
            ..WebhookSettings::default()
        };
    })
    .await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob", "carol"]).await;

    // C2C.CallbackAfterSendMsg, over REST and over WebSocket.
    rest.send_text("alice", "bob", "earlier").await;
    let reply = rest
        .ok(
            "openim/sendmsg",
            json!({ "From_Account": "alice", "To_Account": "bob", "MsgRandom": 77, "MsgBody": text_body("hi"),
                    "CloudCustomData": "cc" }),
        )
        .await;
    let msg_key = key(&reply);
    let hook = receiver
        .hook("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == msg_key)
        .await;
    assert_callback_query(&hook, "RESTAPI", Some(token));
    let body = &hook.body;
    assert_eq!(
        (
            &body["From_Account"],
            &body["To_Account"],
            &body["MsgRandom"],
            &body["MsgTime"]
        ),
        (
            &json!("alice"),
            &json!("bob"),
            &json!(77),
            &reply["MsgTime"]
        )
    );
    assert_eq!(
        (
            &body["MsgSeq"],
            &body["MsgBody"],
            &body["CloudCustomData"],
            &body["UnreadMsgNum"]
        ),
        (&json!(2), &text_body("hi"), &json!("cc"), &json!(2))
    );
    assert_eq!(
        (
            &body["OnlineOnlyFlag"],
            &body["SendMsgResult"],
            &body["ErrorInfo"]
        ),
        (&json!(0), &json!(0), &json!("send msg succeed"))
    );
    assert_event_time(body);
    let (carol, _carol_events) = server.client("carol").await;
    let sent = carol.send_text("bob", "from the app").await.expect("send");
    let hook = receiver
        .hook("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == sent.msg_id)
        .await;
    assert_callback_query(&hook, "Web", Some(token));
    assert_eq!(hook.body["UnreadMsgNum"], 3);

    // Group.CallbackAfterSendMsg.
    let group = rest
        .create_group("Private", "alice", &["bob", "carol"])
        .await;
    let seq = rest
        .send_group_text(&group, "alice", "to the group", true)
        .await;
    let hook = receiver
        .hook("Group.CallbackAfterSendMsg", |b| b["GroupId"] == group)
        .await;
    assert_callback_query(&hook, "RESTAPI", Some(token));
    let body = &hook.body;
    assert_eq!(
        (
            &body["Type"],
            &body["From_Account"],
            &body["Operator_Account"],
            &body["MsgSeq"]
        ),
        (
            &json!("Private"),
            &json!("alice"),
            &json!("administrator"),
            &json!(seq)
        ),
        "Operator_Account is the requester: the App administrator for a REST send"
    );
    assert_eq!(
        (&body["Random"], &body["MsgBody"], &body["OnlineOnlyFlag"]),
        (&json!(9), &text_body("to the group"), &json!(0))
    );
    assert!(
        body["MsgTime"]
            .as_i64()
            .is_some_and(|t| (t - now()).abs() < 60)
    );
    assert_event_time(body);

    // Group.CallbackAfterReadReceipt.
    let before = tidings_now_millis();
    rest.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({ "GroupId": group, "From_Account": "bob", "MsgSeqList": [{ "MsgSeq": seq }] }),
    )
    .await;
    let hook = receiver
        .hook("Group.CallbackAfterReadReceipt", |b| b["GroupId"] == group)
        .await;
    assert_callback_query(&hook, "RESTAPI", Some(token));
    assert_eq!(hook.body["Type"], "Private");
    assert_eq!(
        hook.body["GroupMsgReceiptList"],
        json!([{ "MsgSeq": seq, "ReadNum": 1, "UnreadNum": 1, "ReadReceiptMembers": [{ "Member_Account": "bob" }] }])
    );
    let event_time = hook.body["EventTime"].as_i64().expect("EventTime in ms");
    assert!(event_time >= before && event_time <= tidings_now_millis());

    // C2C.CallbackAfterMsgReport.
    rest.ok(
        "openim/admin_set_msg_read",
        json!({ "Report_Account": "bob", "Peer_Account": "alice" }),
    )
    .await;
    let hook = receiver
        .hook("C2C.CallbackAfterMsgReport", |b| {
            b["Report_Account"] == "bob"
        })
        .await;
    assert_callback_query(&hook, "RESTAPI", Some(token));
    assert_eq!(
        (&hook.body["Peer_Account"], &hook.body["UnreadMsgNum"]),
        (&json!("alice"), &json!(1)),
        "bob still has carol's message unread: {:?}",
        hook.body
    );
    assert!(
        hook.body["LastReadTime"]
            .as_i64()
            .is_some_and(|t| (t - now()).abs() < 60)
    );
    assert_event_time(&hook.body);
}

/// Tencent's `EventTime`: when the event happened, in Unix milliseconds.
#[track_caller]
fn assert_event_time(body: &Value) {
    let time = body["EventTime"].as_i64().expect("EventTime");
    assert!(
        (time - tidings_now_millis()).abs() < 60_000,
        "EventTime {time} in ms"
    );
}

fn tidings_now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[tokio::test]
async fn webhooks_are_configured_at_runtime_signed_only_with_a_token() {
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let set = "tidings/set_settings";

    // No URL: nothing is sent.
    rest.send_text("alice", "bob", "unseen").await;
    let reply = rest
        .ok(set, json!({ "Webhook": { "Url": receiver.url } }))
        .await;
    assert_eq!(
        reply["Webhook"],
        json!({ "Url": receiver.url, "Token": "", "BeforeSendMsg": { "C2C": false, "Group": false, "TimeoutMs": 2000, "OnFailure": "allow" } })
    );
    let first = rest.send_text("alice", "bob", "unsigned").await;
    let hook = receiver
        .hook("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == first)
        .await;
    assert_callback_query(&hook, "RESTAPI", None);

    // With a token: signed.
    rest.ok(set, json!({ "Webhook": { "Token": "t0k3n" } }))
        .await;
    let reply = rest.ok("tidings/get_settings", json!({})).await;
    assert_eq!(
        reply["Webhook"],
        json!({ "Url": receiver.url, "Token": "t0k3n", "BeforeSendMsg": { "C2C": false, "Group": false, "TimeoutMs": 2000, "OnFailure": "allow" } })
    );
    let second = rest.send_text("alice", "bob", "signed").await;
    let hook = receiver
        .hook("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == second)
        .await;
    assert_callback_query(&hook, "RESTAPI", Some("t0k3n"));

    // An empty URL switches callbacks off.
    let reply = rest.ok(set, json!({ "Webhook": { "Url": "" } })).await;
    assert_eq!(
        reply["Webhook"],
        json!({ "Url": "", "Token": "t0k3n", "BeforeSendMsg": { "C2C": false, "Group": false, "TimeoutMs": 2000, "OnFailure": "allow" } })
    );
    rest.send_text("alice", "bob", "unseen again").await;
    // The marker: callbacks on again, and one more message. Events leave the webhook queue in
    // order, so a callback of "unseen again" would have gone to delivery before the marker's.
    rest.ok(set, json!({ "Webhook": { "Url": receiver.url } }))
        .await;
    let marker = rest.send_text("alice", "bob", "marker").await;
    receiver
        .hook("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == marker)
        .await;
    let texts: Vec<Value> = receiver
        .received()
        .iter()
        .map(|h| h.body["MsgBody"][0]["MsgContent"]["Text"].clone())
        .collect();
    assert_eq!(texts, [json!("unsigned"), json!("signed"), json!("marker")]);
}

#[tokio::test]
async fn a_receiver_that_fails_twice_still_gets_the_event() {
    let receiver = Receiver::start().await;
    receiver.log.fail_next.store(2, Ordering::SeqCst);
    let url = receiver.url.clone();
    let server = TestServer::start_with(|config| {
        config.webhook = WebhookSettings {
            url,
            token: "tok".into(),
            ..WebhookSettings::default()
        };
    })
    .await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let msg_key = rest.send_text("alice", "bob", "persist").await;
    let hook = receiver
        .hook("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == msg_key)
        .await;
    assert_callback_query(&hook, "RESTAPI", Some("tok"));
    assert_eq!(receiver.log.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn the_message_path_does_not_wait_for_the_webhook_receiver() {
    let receiver = Receiver::start().await;
    // Until this is dropped, the receiver takes every callback and answers none.
    let unanswered = receiver.log.gate.write().await;
    let url = receiver.url.clone();
    let server = TestServer::start_with(|config| {
        config.webhook = WebhookSettings {
            url,
            token: String::new(),
            ..WebhookSettings::default()
        };
    })
    .await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    // Each send is answered while no callback is: a send that waited for its callback would
    // wait for all its delivery attempts to time out, far beyond the wait.
    let mut keys = Vec::new();
    for i in 0..3 {
        let text = format!("unanswered {i}");
        let key = tokio::time::timeout(WAIT, rest.send_text("alice", "bob", &text))
            .await
            .expect("the send waited for its callback");
        keys.push(key);
    }
    assert!(receiver.received().is_empty());
    drop(unanswered);
    for key in keys {
        receiver
            .hook("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == key)
            .await;
    }
}

/// The sum of `tidings_webhooks_dropped_total` over its labels in `/metrics`.
async fn dropped_total(server: &TestServer) -> f64 {
    let text = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| line.starts_with("tidings_webhooks_dropped_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn an_unreachable_webhook_is_dropped_after_its_retries_and_counted() {
    // Port 1 on the loopback interface: nothing listens there, so connections are refused.
    let server = TestServer::start_with(|config| {
        config.webhook = WebhookSettings {
            url: "http://127.0.0.1:1/hook".into(),
            token: String::new(),
            ..WebhookSettings::default()
        };
    })
    .await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let before = dropped_total(&server).await;
    for i in 0..3 {
        rest.send_text("alice", "bob", &format!("nobody hears {i}"))
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if dropped_total(&server).await > before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tidings_webhooks_dropped_total did not grow"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// A third-party Python REST client
// ---------------------------------------------------------------------------------------------

/// `scripts/rest_client_check.py`, its imports and their pip packages (as pinned in `.ci/run`).
const PYTHON_REST_CLIENT: PythonCheck = PythonCheck {
    imports: "tencentcloud_im.tcim_client, TLSSigAPIv2, requests",
    packages: "'tencentcloud-sdk-python-im==0.9.4' 'tls-sig-api-v2==1.1' 'requests==2.34.2'",
    script: "rest_client_check.py",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_python_rest_client_works_unchanged() {
    if PYTHON_REST_CLIENT.skipped().await {
        return;
    }
    let server = TestServer::start().await;
    let (_bob, mut bob_events) = server.client("py_bob").await;
    let envs = vec![
        ("TIDINGS_URL", format!("http://{}", server.addr)),
        ("TIDINGS_SDKAPPID", SDKAPPID.to_string()),
        ("TIDINGS_SECRET_KEY", TEST_KEY.to_owned()),
        ("TIDINGS_ADMIN", ADMIN.to_owned()),
        ("TIDINGS_USER_PREFIX", "py".to_owned()),
    ];
    let stdout = PYTHON_REST_CLIENT.run(envs).await;
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the script's last line is its JSON summary ({e}): {stdout}"));

    // What the Python backend did reached bob's connected client like any message.
    assert_eq!(summary["online"]["py_bob"], "Online", "{summary}");
    let hello = recv_text(&mut bob_events, "hello bob").await;
    assert_eq!(
        (hello.sender.as_str(), hello.cloud_custom_data.as_str()),
        ("py_alice", "order:42")
    );
    let keys: Vec<String> = summary["c2c_keys"]
        .as_array()
        .expect("c2c_keys")
        .iter()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    assert_eq!(keys.first(), Some(&hello.msg_id));
    let file = recv_message(&mut bob_events, &keys[1]).await;
    let body = file.msg_body.expect("the file message keeps its MsgBody");
    assert_eq!(body[1]["MsgType"], "TIMFileElem");
    let group_id = summary["group_id"].as_str().expect("group_id");
    next_event(&mut bob_events, |event| match event {
        SdkEvent::RecvNewMessage(message) if message.group_id.as_deref() == Some(group_id) => {
            Some(())
        }
        _ => None,
    })
    .await;
    let rest = Rest::new(&server);
    assert_eq!(c2c_unread(&rest, "py_bob", "py_alice").await, 0);
}

#[tokio::test]
async fn rest_targeted_group_messages_reach_only_their_members_and_mentions_reach_everyone() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob", "carol", "dave"]).await;
    let group = rest.create_group("Work", "alice", &["bob", "carol"]).await;
    let (_bob, mut bob_events) = server.client("bob").await;
    let (_carol, mut carol_events) = server.client("carol").await;
    let send = "group_open_http_svc/send_group_msg";
    let body = |text: &str, extra: Value| {
        let mut body =
            json!({ "GroupId": group, "From_Account": "alice", "MsgBody": text_body(text) });
        for (name, value) in extra.as_object().expect("fields") {
            body[name] = value.clone();
        }
        body
    };
    let many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    for (extra, says) in [
        (
            json!({ "To_Account": "bob" }),
            "To_Account must be an array",
        ),
        (
            json!({ "To_Account": many }),
            "To_Account must hold 1 to 50 items",
        ),
        (
            json!({ "To_Account": ["bob", "dave"] }),
            "names users who are not members of group",
        ),
        (
            json!({ "To_Account": ["bob"], "GroupAtInfo": [{ "GroupAtAllFlag": 1 }] }),
            "cannot mention members",
        ),
        (
            json!({ "GroupAtInfo": [{ "GroupAtAllFlag": 0 }] }),
            "each GroupAtInfo item needs GroupAtAllFlag 1 or a GroupAt_Account",
        ),
    ] {
        let reply = rest.fail(send, body("refused", extra), 10004).await;
        let info = reply["ErrorInfo"].as_str().unwrap_or_default();
        assert!(info.contains(says), "{reply}");
    }
    let history = rest
        .ok(
            "group_open_http_svc/group_msg_get_simple",
            json!({ "GroupId": group, "ReqMsgNumber": 20 }),
        )
        .await;
    assert_eq!(history["RspMsgList"], json!([]), "nothing was sent");

    // For bob only, then for everyone, mentioning everyone and carol.
    let secret = rest
        .ok(send, body("for bob", json!({ "To_Account": ["bob"] })))
        .await;
    assert_eq!(secret["MsgSeq"], 1);
    let open = rest
        .ok(
            send,
            body(
                "for all",
                json!({ "GroupAtInfo": [
                    { "GroupAtAllFlag": 1 },
                    { "GroupAtAllFlag": 0, "GroupAt_Account": "carol" },
                ] }),
            ),
        )
        .await;
    let secret_id = secret["MsgId"].as_str().expect("MsgId");
    let open_id = open["MsgId"].as_str().expect("MsgId");
    assert_eq!(recv_message(&mut bob_events, secret_id).await.seq, 1);
    let as_bob = recv_message(&mut bob_events, open_id).await;
    assert_eq!((as_bob.seq, as_bob.prev_seq), (2, None));
    let seen = events_until(
        &mut carol_events,
        |event| matches!(event, SdkEvent::RecvNewMessage(m) if m.msg_id == open_id),
    )
    .await;
    for event in &seen {
        match event {
            SdkEvent::RecvNewMessage(m) => assert_eq!(m.msg_id, open_id, "carol got only hers"),
            SdkEvent::MessageGap { .. } => panic!("carol was told of a gap: {event:?}"),
            _ => {}
        }
    }
    let Some(SdkEvent::RecvNewMessage(as_carol)) = seen.last() else {
        panic!("ends with the message")
    };
    assert_eq!((as_carol.seq, as_carol.prev_seq), (2, Some(0)));
    assert_eq!(
        as_carol.group_at_user_list,
        ["__kImSDK_MesssageAtALL__", "carol"]
    );
    // The administrator's history has both.
    let history = rest
        .ok(
            "group_open_http_svc/group_msg_get_simple",
            json!({ "GroupId": group, "ReqMsgNumber": 20 }),
        )
        .await;
    assert_eq!(history["RspMsgList"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn rest_receipt_batches_record_the_valid_messages_and_list_the_skipped_ones() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let group = rest.create_group("Work", "alice", &["bob"]).await;
    let asked = rest.send_group_text(&group, "alice", "asked", true).await;
    let plain = rest.send_group_text(&group, "alice", "plain", false).await;
    let own = rest.send_group_text(&group, "bob", "own", true).await;
    let reply = rest
        .ok(
            "group_open_http_svc/group_msg_receipt",
            json!({ "GroupId": group, "From_Account": "bob",
                    "MsgSeqList": [{ "MsgSeq": plain }, { "MsgSeq": asked }, { "MsgSeq": own }] }),
        )
        .await;
    let skipped: Vec<(u64, u64)> = reply["SkippedList"]
        .as_array()
        .expect("SkippedList")
        .iter()
        .map(|s| {
            (
                s["MsgSeq"].as_u64().unwrap_or(0),
                s["ErrorCode"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(skipped, [(plain, 10062), (own, 10004)], "{reply}");
    let counts = rest
        .ok(
            "group_open_http_svc/get_group_msg_receipt",
            json!({ "GroupId": group, "MsgSeqList": [{ "MsgSeq": asked }] }),
        )
        .await;
    assert_eq!(counts["GroupMsgReceiptList"][0]["ReadNum"], 1, "{counts}");
    // Nothing valid: the call fails with the first message's code.
    rest.fail(
        "group_open_http_svc/group_msg_receipt",
        json!({ "GroupId": group, "From_Account": "bob",
                "MsgSeqList": [{ "MsgSeq": plain }, { "MsgSeq": own }] }),
        10062,
    )
    .await;

    let wanted = key(&rest
        .ok(
            "openim/sendmsg",
            json!({ "From_Account": "alice", "To_Account": "bob", "IsNeedReadReceipt": 1, "MsgBody": text_body("c2c") }),
        )
        .await);
    let unasked = rest.send_text("alice", "bob", "no receipt").await;
    let item =
        |msg_key: &str| json!({ "From_Account": "alice", "To_Account": "bob", "MsgKey": msg_key });
    let reply = rest
        .ok(
            "openim/c2c_msg_read_receipt",
            json!({ "Operator_Account": "bob", "Peer_Account": "alice",
                    "C2CMsgInfo": [item(&unasked), item(&wanted)] }),
        )
        .await;
    assert_eq!(
        reply["SkippedList"][0]["MsgKey"],
        unasked.as_str(),
        "{reply}"
    );
    assert_eq!(reply["SkippedList"][0]["ErrorCode"], 20001, "{reply}");
    assert_eq!(reply["SkippedList"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn rest_makes_a_users_receipts_private_and_senders_see_no_read() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    let (alice, _alice_events) = server.client("alice").await;
    let (bob, _bob_events) = server.client("bob").await;
    let get = "tidings/get_receipt_privacy";
    let set = "tidings/set_receipt_privacy";
    let reply = rest.ok(get, json!({ "From_Account": "bob" })).await;
    assert_eq!(
        (&reply["From_Account"], &reply["PrivateReadReceipts"]),
        (&json!("bob"), &json!(false))
    );
    rest.ok(
        set,
        json!({ "From_Account": "bob", "PrivateReadReceipts": true }),
    )
    .await;
    let reply = rest.ok(get, json!({ "From_Account": "bob" })).await;
    assert_eq!(reply["PrivateReadReceipts"], true);
    assert!(bob.get_receipt_privacy().await.expect("bob reads it"));
    assert!(!alice.get_receipt_privacy().await.expect("alice reads hers"));

    // Bad input and unknown accounts.
    rest.fail(
        set,
        json!({ "From_Account": "nobody", "PrivateReadReceipts": true }),
        20003,
    )
    .await;
    rest.fail(get, json!({ "From_Account": "nobody" }), 20003)
        .await;
    rest.fail(
        set,
        json!({ "From_Account": "bob", "PrivateReadReceipts": "yes" }),
        60003,
    )
    .await;
    rest.fail(set, json!({ "From_Account": "bob" }), 60003)
        .await;
    rest.fail(
        set,
        json!({ "From_Account": "a b", "PrivateReadReceipts": true }),
        60003,
    )
    .await;
    rest.fail(get, json!({ "From_Account": 7 }), 60003).await;

    // bob's receipt reaches nobody; once public again, later ones do.
    let sent = alice
        .send_message(tidings_sdk::SendMessageParams {
            receiver: Some("bob".into()),
            text_elem: Some(tidings_sdk::TextElem {
                text: "read me".into(),
            }),
            need_read_receipt: true,
            ..tidings_sdk::SendMessageParams::default()
        })
        .await
        .expect("sent");
    bob.send_message_read_receipts(vec![sent.msg_id.clone()])
        .await
        .expect("receipt");
    let pulled = alice
        .get_message_read_receipts(vec![sent.msg_id.clone()])
        .await
        .expect("pulled");
    assert!(!pulled[0].is_peer_read, "{pulled:?}");
    rest.ok(
        set,
        json!({ "From_Account": "bob", "PrivateReadReceipts": false }),
    )
    .await;
    assert!(!bob.get_receipt_privacy().await.expect("bob reads it"));
    let pulled = alice
        .get_message_read_receipts(vec![sent.msg_id.clone()])
        .await
        .expect("pulled");
    assert!(!pulled[0].is_peer_read, "switching back reveals nothing");
}

// ---------------------------------------------------------------------------------------------
// Profiles and name cards
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rest_profiles_are_set_and_read_by_tag_and_reach_clients() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let (bob, _bob_events) = server.client("bob").await;
    rest.ok(
        "profile/portrait_set",
        json!({ "From_Account": "alice", "ProfileItem": [
            { "Tag": "Tag_Profile_IM_Nick", "Value": "Alice" },
            { "Tag": "Tag_Profile_IM_Image", "Value": "https://f/a.png" },
            { "Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female" },
            { "Tag": "Tag_Profile_Custom_mood", "Value": "sunny" },
            { "Tag": "Tag_Profile_Custom_level", "Value": 3 }
        ] }),
    )
    .await;
    let reply = rest
        .ok(
            "profile/portrait_get",
            json!({ "To_Account": ["alice", "ghost"], "TagList": [
                "Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender", "Tag_Profile_IM_SelfSignature",
                "Tag_Profile_Custom_level", "Tag_Profile_Custom_unset"
            ] }),
        )
        .await;
    assert_eq!(
        (&reply["UserProfileItem"], &reply["Fail_Account"]),
        (
            &json!([
                { "To_Account": "alice", "ResultCode": 0, "ResultInfo": "", "ProfileItem": [
                    { "Tag": "Tag_Profile_IM_Nick", "Value": "Alice" },
                    { "Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female" },
                    { "Tag": "Tag_Profile_IM_SelfSignature", "Value": "" },
                    { "Tag": "Tag_Profile_Custom_level", "Value": "3" },
                    { "Tag": "Tag_Profile_Custom_unset", "Value": "" }
                ] },
                { "To_Account": "ghost", "ResultCode": 40003,
                  "ResultInfo": "account ghost does not exist", "ProfileItem": [] }
            ]),
            &json!(["ghost"])
        )
    );
    // A WebSocket client reads what the administrator set, by V2TIM's names.
    let infos = bob.get_users_info(vec!["alice".into()]).await.unwrap();
    assert_eq!(
        serde_json::to_value(&infos).unwrap(),
        json!([{ "userID": "alice", "nickName": "Alice", "faceURL": "https://f/a.png",
                 "selfSignature": "", "gender": 2,
                 "customInfo": { "level": "3", "mood": "sunny" } }])
    );
    // Messages sent over REST in alice's name carry her card.
    rest.send_text("alice", "bob", "hi").await;
    let history = bob
        .get_c2c_history_message_list("alice", 1, None)
        .await
        .unwrap();
    assert_eq!(
        (history[0].nick_name.as_str(), history[0].face_url.as_str()),
        ("Alice", "https://f/a.png")
    );
}

#[tokio::test]
async fn rest_profile_refusals_carry_tencents_profile_codes() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice"]).await;
    let set = |items: Value| json!({ "From_Account": "alice", "ProfileItem": items });
    let nick = |value: Value| json!([{ "Tag": "Tag_Profile_IM_Nick", "Value": value }]);
    rest.fail(
        "profile/portrait_set",
        set(nick(json!("n".repeat(501)))),
        40601,
    )
    .await;
    rest.fail("profile/portrait_set", set(nick(json!(7))), 40610)
        .await;
    rest.fail(
        "profile/portrait_set",
        set(json!([{ "Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Robot" }])),
        40605,
    )
    .await;
    rest.fail(
        "profile/portrait_set",
        set(json!([{ "Tag": "Tag_Profile_IM_Level", "Value": 1 }])),
        40009,
    )
    .await;
    rest.fail(
        "profile/portrait_set",
        set(json!([{ "Tag": "Tag_Profile_Custom_much_too_long", "Value": "x" }])),
        40009,
    )
    .await;
    rest.fail("profile/portrait_set", set(json!([])), 40001)
        .await;
    rest.fail(
        "profile/portrait_set",
        json!({ "From_Account": "ghost", "ProfileItem": nick(json!("G")) }),
        40003,
    )
    .await;
    rest.fail(
        "profile/portrait_get",
        json!({ "To_Account": ["alice"], "TagList": ["Tag_Profile_IM_Bogus"] }),
        40009,
    )
    .await;
    rest.fail(
        "profile/portrait_get",
        json!({ "To_Account": [], "TagList": ["Tag_Profile_IM_Nick"] }),
        40001,
    )
    .await;
    // Nothing of the refused calls was kept.
    let reply = rest
        .ok(
            "profile/portrait_get",
            json!({ "To_Account": ["alice"], "TagList": ["Tag_Profile_IM_Nick"] }),
        )
        .await;
    assert_eq!(
        reply["UserProfileItem"][0]["ProfileItem"],
        json!([{ "Tag": "Tag_Profile_IM_Nick", "Value": "" }])
    );
}

#[tokio::test]
async fn rest_name_cards_show_in_member_lists() {
    let server = TestServer::start().await;
    let rest = Rest::new(&server);
    rest.import(&["alice", "bob"]).await;
    let group = rest.create_group("Work", "alice", &["bob"]).await;
    rest.ok(
        "group_open_http_svc/modify_group_member_info",
        json!({ "GroupId": group, "Member_Account": "bob", "NameCard": "Bobby" }),
    )
    .await;
    rest.fail(
        "group_open_http_svc/modify_group_member_info",
        json!({ "GroupId": group, "Member_Account": "bob", "NameCard": "x".repeat(51) }),
        10004,
    )
    .await;
    rest.fail(
        "group_open_http_svc/modify_group_member_info",
        json!({ "GroupId": group, "Member_Account": "bob", "Role": "Admin" }),
        10004,
    )
    .await;
    rest.fail(
        "group_open_http_svc/modify_group_member_info",
        json!({ "GroupId": group, "Member_Account": "carol", "NameCard": "C" }),
        10007,
    )
    .await;
    rest.fail(
        "group_open_http_svc/modify_group_member_info",
        json!({ "GroupId": "nope", "Member_Account": "bob", "NameCard": "C" }),
        10010,
    )
    .await;
    let reply = rest
        .ok(
            "group_open_http_svc/get_group_member_info",
            json!({ "GroupId": group }),
        )
        .await;
    let cards: Vec<(&str, &str)> = reply["MemberList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Member_Account"].as_str().unwrap(),
                m["NameCard"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(cards, [("alice", ""), ("bob", "Bobby")]);
    let (alice, _events) = server.client("alice").await;
    let list = alice.get_group_member_list(&group, 0, 0).await.unwrap();
    assert_eq!(list.member_info_list[1].name_card, "Bobby");
}
