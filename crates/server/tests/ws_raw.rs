//! Frame-level tests of the WebSocket protocol: envelope errors, login rules, and every
//! refusal, driven through raw JSON frames.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Raw, TestServer, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The signing key the servers of these tests are started with.
const KEY: &str = "tidings-frame-test-key";

/// A server signing with [`KEY`], so tests can forge UserSigs with the same or another key.
async fn keyed_server() -> TestServer {
    TestServer::start_with(|config| config.secret_key = Some(KEY.into())).await
}

/// Sends a hand-written frame and returns the response to it.
async fn exchange(raw: &mut Raw, text: &str) -> Value {
    raw.send_text(text).await;
    raw.next_response().await
}

/// Asserts a refusal with `code`, a description and no data.
#[track_caller]
fn assert_refused(response: &Value, code: u32) {
    assert_eq!(response["code"], code, "{response}");
    assert!(
        response["desc"].as_str().is_some_and(|d| !d.is_empty()),
        "no desc: {response}"
    );
    assert!(response["data"].is_null(), "data on error: {response}");
}

/// Asserts a refusal with `code` whose description contains every one of `words`.
#[track_caller]
fn assert_refused_naming(response: &Value, code: u32, words: &[&str]) {
    assert_refused(response, code);
    let desc = response["desc"].as_str().unwrap_or_default();
    for word in words {
        assert!(desc.contains(word), "desc should name {word:?}: {response}");
    }
}

/// Calls `method` and returns its `data`, asserting success.
async fn ok(raw: &mut Raw, method: &str, params: Value) -> Value {
    let response = raw.call(method, params).await;
    assert_eq!(response["code"], 0, "{method} failed: {response}");
    response["data"].clone()
}

/// Calls `method` and asserts it is refused with `code`.
async fn refused(raw: &mut Raw, method: &str, params: Value, code: u32) -> Value {
    let response = raw.call(method, params).await;
    assert_refused(&response, code);
    response
}

async fn send_c2c(raw: &mut Raw, receiver: &str, text: &str) -> Value {
    ok(
        raw,
        "sendMessage",
        json!({"receiver": receiver, "textElem": {"text": text}}),
    )
    .await
}

async fn send_group(raw: &mut Raw, group_id: &str, text: &str) -> Value {
    ok(
        raw,
        "sendMessage",
        json!({"groupID": group_id, "textElem": {"text": text}}),
    )
    .await
}

/// Creates a group with a custom ID and plain members.
async fn create_group(raw: &mut Raw, group_type: &str, group_id: &str, members: &[&str]) {
    let member_list: Vec<Value> = members.iter().map(|m| json!({"userID": m})).collect();
    let data = ok(
        raw,
        "createGroup",
        json!({"groupType": group_type, "groupID": group_id, "groupName": group_id, "memberList": member_list}),
    )
    .await;
    assert_eq!(data["groupID"], group_id);
}

/// Waits for a push named `event` whose data `pick` accepts (others of that name are dropped).
async fn push_where(raw: &mut Raw, event: &str, pick: impl Fn(&Value) -> bool) -> Value {
    loop {
        let push = raw.push(event).await;
        if pick(&push["data"]) {
            return push["data"].clone();
        }
    }
}

/// The caller's conversation `id` from the conversation list.
async fn conversation(raw: &mut Raw, id: &str) -> Value {
    let list = ok(raw, "getConversationList", json!({"count": 100})).await;
    list["conversationList"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["conversationID"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no conversation {id} in {list}"))
}

async fn unread(raw: &mut Raw, id: &str) -> u64 {
    conversation(raw, id).await["unreadCount"]
        .as_u64()
        .expect("unreadCount")
}

fn seqs(messages: &Value) -> Vec<u64> {
    messages
        .as_array()
        .expect("message list")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect()
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|item| item[field].as_str().expect(field).to_owned())
        .collect()
}

/// A plain HTTP/1.1 GET: the status code and the whole response text.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        (status, response)
    })
    .await
    .expect("HTTP task")
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_refused_with_6017_and_a_null_id() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    for text in ["{", r#"{"id":1,"method":"login""#, "not json", ""] {
        let response = exchange(&mut raw, text).await;
        assert_refused_naming(&response, 6017, &["malformed JSON"]);
        assert!(response["id"].is_null(), "{response}");
    }
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
}

#[tokio::test]
async fn a_frame_that_is_not_a_json_object_is_refused_with_6017() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    for text in [
        "[]",
        r#"[{"id":1,"method":"logout"}]"#,
        "42",
        r#""login""#,
        "null",
    ] {
        let response = exchange(&mut raw, text).await;
        assert_refused_naming(&response, 6017, &["object"]);
        assert!(response["id"].is_null(), "{response}");
    }
    ok(&mut raw, "logout", json!({})).await;
}

#[tokio::test]
async fn a_missing_or_negative_id_is_refused_with_a_null_id() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let missing = exchange(&mut raw, r#"{"method":"logout"}"#).await;
    assert_refused_naming(&missing, 6017, &["id"]);
    assert!(missing["id"].is_null(), "{missing}");
    for id in ["-1", "1.5", r#""7""#, "null"] {
        let response = exchange(&mut raw, &format!(r#"{{"id":{id},"method":"logout"}}"#)).await;
        assert_refused_naming(&response, 6017, &["\"id\" must be an unsigned integer"]);
        assert!(response["id"].is_null(), "{response}");
    }
    ok(&mut raw, "logout", json!({})).await;
}

#[tokio::test]
async fn a_missing_or_non_string_method_is_refused_with_the_id_echoed() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let missing = exchange(&mut raw, r#"{"id":41,"params":{}}"#).await;
    assert_refused_naming(&missing, 6017, &["method"]);
    assert_eq!(missing["id"], 41);
    for method in ["7", "null", r#"["login"]"#, r#"{"name":"login"}"#] {
        let response = exchange(&mut raw, &format!(r#"{{"id":42,"method":{method}}}"#)).await;
        assert_refused_naming(&response, 6017, &["\"method\" must be a string"]);
        assert_eq!(response["id"], 42);
    }
    ok(&mut raw, "logout", json!({})).await;
}

#[tokio::test]
async fn non_object_params_are_refused_with_the_id_echoed_and_null_params_mean_empty() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    for params in ["[1]", r#""x""#, "3", "true"] {
        let response = exchange(
            &mut raw,
            &format!(r#"{{"id":43,"method":"logout","params":{params}}}"#),
        )
        .await;
        assert_refused_naming(&response, 6017, &["\"params\" must be an object"]);
        assert_eq!(response["id"], 43);
    }
    let null_params = exchange(&mut raw, r#"{"id":44,"method":"logout","params":null}"#).await;
    assert_eq!(null_params["code"], 0, "{null_params}");
    assert_eq!(null_params["id"], 44);
    let absent = exchange(&mut raw, r#"{"id":45,"method":"logout"}"#).await;
    assert_eq!(absent["code"], 0, "{absent}");
}

#[tokio::test]
async fn an_unknown_method_is_refused_with_the_id_echoed_and_the_connection_stays_usable() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let before_login = exchange(
        &mut raw,
        r#"{"id":77,"method":"getFriendList","params":{}}"#,
    )
    .await;
    assert_refused_naming(&before_login, 6017, &["unknown method", "getFriendList"]);
    assert_eq!(before_login["id"], 77);
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    let after_login = exchange(&mut raw, r#"{"id":78,"method":"SendMessage","params":{}}"#).await;
    assert_refused_naming(&after_login, 6017, &["unknown method", "SendMessage"]);
    assert_eq!(after_login["id"], 78);
    ok(&mut raw, "getJoinedGroupList", json!({})).await;
}

#[tokio::test]
async fn a_binary_frame_is_refused_with_6017_and_the_connection_stays_usable() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let request = json!({"id": 1, "method": "logout", "params": {}}).to_string();
    raw.ws
        .send(WsMessage::Binary(request.into_bytes().into()))
        .await
        .expect("send binary");
    let response = raw.next_response().await;
    assert_refused_naming(&response, 6017, &["binary"]);
    assert!(response["id"].is_null(), "{response}");
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
}

#[tokio::test]
async fn a_frame_of_exactly_64_kib_is_parsed_and_one_byte_more_is_refused_with_9522() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let request = r#"{"id":5,"method":"logout","params":{}}"#;
    let at_limit = format!(
        "{request}{}",
        " ".repeat(tidings_proto::MAX_FRAME_BYTES - request.len())
    );
    assert_eq!(at_limit.len(), 64 * 1024);
    let parsed = exchange(&mut raw, &at_limit).await;
    assert_eq!(parsed["code"], 0, "{parsed}");
    assert_eq!(parsed["id"], 5);

    let over = format!("{at_limit} ");
    let response = exchange(&mut raw, &over).await;
    assert_refused_naming(&response, 9522, &["65537", "65536"]);
    assert!(
        response["id"].is_null(),
        "an oversized frame is not parsed, so no id: {response}"
    );
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    let big_message = "x".repeat(100 * 1024);
    let response = exchange(
        &mut raw,
        &json!({"id": 6, "method": "sendMessage", "params": {"receiver": "alice", "textElem": {"text": big_message}}})
            .to_string(),
    )
    .await;
    assert_refused(&response, 9522);
    ok(&mut raw, "getJoinedGroupList", json!({})).await;
}

#[tokio::test]
async fn a_frame_over_1_mib_closes_the_connection() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let huge =
        json!({"id": 9, "method": "logout", "params": {"pad": "x".repeat(1024 * 1024 + 1024)}})
            .to_string();
    // The server may reset the connection while the frame is still being written.
    let _ = raw.ws.send(WsMessage::Text(huge.into())).await;
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match raw.ws.next().await {
                Some(Ok(WsMessage::Text(text))) => panic!("answered instead of closing: {text}"),
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the connection stayed open after a frame over 1 MiB"
    );
    let next = tokio::time::timeout(WAIT, raw.ws.next()).await;
    assert!(
        matches!(next, Ok(None | Some(Err(_)))),
        "nothing more may arrive on a closed connection: {next:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_method_but_login_and_logout_is_refused_with_6014_before_login() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    for method in tidings_proto::methods::ALL_METHODS {
        if matches!(*method, "login" | "logout") {
            continue;
        }
        let response = raw.call(method, json!({})).await;
        assert_refused_naming(&response, 6014, &[method]);
    }
    assert_eq!(
        raw.call("logout", json!({})).await["code"],
        0,
        "logout is a no-op before login"
    );
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    ok(&mut raw, "getJoinedGroupList", json!({})).await;
}

/// Attempts a login, asserts the refusal code, and that the connection stays logged out and open.
async fn assert_login_refused(server: &TestServer, user: &str, user_sig: &str, code: u32) {
    let mut raw = server.raw().await;
    let response = raw
        .call("login", json!({"userID": user, "userSig": user_sig}))
        .await;
    assert_refused(&response, code);
    refused(&mut raw, "getJoinedGroupList", json!({}), 6014).await;
    let valid = tidings_usersig::generate(
        server.auth.sdkappid,
        KEY,
        "someone",
        3600,
        tidings_service::now(),
    );
    ok(
        &mut raw,
        "login",
        json!({"userID": "someone", "userSig": valid}),
    )
    .await;
}

#[tokio::test]
async fn an_empty_user_sig_is_refused_with_70002() {
    let server = keyed_server().await;
    assert_login_refused(&server, "alice", "", 70002).await;
}

#[tokio::test]
async fn an_undecodable_user_sig_is_refused_with_70003() {
    let server = keyed_server().await;
    assert_login_refused(&server, "alice", "garbage!!", 70003).await;
    assert_login_refused(&server, "alice", "aGVsbG8gd29ybGQ_", 70003).await;
}

#[tokio::test]
async fn a_user_sig_signed_with_another_key_is_refused_with_70009() {
    let server = keyed_server().await;
    let sig = tidings_usersig::generate(
        server.auth.sdkappid,
        "another-key",
        "alice",
        3600,
        tidings_service::now(),
    );
    assert_login_refused(&server, "alice", &sig, 70009).await;
}

#[tokio::test]
async fn a_user_sig_issued_for_another_user_is_refused_with_70013() {
    let server = keyed_server().await;
    let sig = tidings_usersig::generate(
        server.auth.sdkappid,
        KEY,
        "bob",
        3600,
        tidings_service::now(),
    );
    assert_login_refused(&server, "alice", &sig, 70013).await;
}

#[tokio::test]
async fn a_user_sig_issued_for_another_sdkappid_is_refused_with_70014() {
    let server = keyed_server().await;
    let sig = tidings_usersig::generate(
        server.auth.sdkappid + 1,
        KEY,
        "alice",
        3600,
        tidings_service::now(),
    );
    assert_login_refused(&server, "alice", &sig, 70014).await;
}

#[tokio::test]
async fn an_expired_user_sig_is_refused_with_70001() {
    let server = keyed_server().await;
    let sig = tidings_usersig::generate(
        server.auth.sdkappid,
        KEY,
        "alice",
        1,
        tidings_service::now() - 86_400,
    );
    assert_login_refused(&server, "alice", &sig, 70001).await;
}

#[tokio::test]
async fn an_invalid_user_id_is_refused_with_7003() {
    let server = keyed_server().await;
    let too_long = "u".repeat(33);
    for user in ["", "has space", too_long.as_str(), "tab\tbed", "ünicode"] {
        assert_login_refused(&server, user, &server.sig("alice"), 7003).await;
    }
    let longest = "u".repeat(32);
    let mut raw = server.raw().await;
    ok(
        &mut raw,
        "login",
        json!({"userID": longest, "userSig": server.sig(&longest)}),
    )
    .await;
}

#[tokio::test]
async fn a_login_without_user_sig_is_refused_with_6017_naming_the_field() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let response = raw.call("login", json!({"userID": "alice"})).await;
    assert_refused_naming(&response, 6017, &["login", "userSig"]);
    refused(&mut raw, "getJoinedGroupList", json!({}), 6014).await;
}

#[tokio::test]
async fn a_user_sig_expiring_during_the_session_ends_it_with_on_user_sig_expired() {
    let server = keyed_server().await;
    let mut raw = server.raw().await;
    let sig = tidings_usersig::generate(
        server.auth.sdkappid,
        KEY,
        "alice",
        1,
        tidings_service::now(),
    );
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": sig}),
    )
    .await;
    raw.push("onUserSigExpired").await;
    refused(&mut raw, "getJoinedGroupList", json!({}), 6014).await;
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
}

#[tokio::test]
async fn logging_in_as_another_user_on_a_logged_in_connection_is_refused() {
    let server = TestServer::start().await;
    let _bob = server.raw_login("bob").await;
    let mut raw = server.raw_login("alice").await;
    let response = raw
        .call(
            "login",
            json!({"userID": "bob", "userSig": server.sig("bob")}),
        )
        .await;
    assert_refused_naming(&response, 6017, &["alice", "log out first"]);
    let sent = send_c2c(&mut raw, "bob", "still alice").await;
    assert_eq!(
        sent["sender"], "alice",
        "the session is still alice's: {sent}"
    );
}

#[tokio::test]
async fn logging_in_again_as_the_same_user_refreshes_the_session() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    ok(
        &mut raw,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    ok(&mut raw, "getJoinedGroupList", json!({})).await;
}

#[tokio::test]
async fn after_logout_requests_are_refused_with_6014_and_login_works_again() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    ok(&mut raw, "logout", json!({})).await;
    refused(&mut raw, "getJoinedGroupList", json!({}), 6014).await;
    refused(
        &mut raw,
        "sendMessage",
        json!({"receiver": "alice", "textElem": {"text": "x"}}),
        6014,
    )
    .await;
    ok(
        &mut raw,
        "login",
        json!({"userID": "bob", "userSig": server.sig("bob")}),
    )
    .await;
    let sent = send_c2c(&mut raw, "alice", "now bob").await;
    assert_eq!(sent["sender"], "bob");
}

#[tokio::test]
async fn a_logged_out_connection_gets_no_more_pushes() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    ok(&mut alice, "logout", json!({})).await;
    send_c2c(&mut bob, "alice", "while alice is out").await;
    // The marker: a request after the send. The connection reads its next request only when no
    // push is ready, so a push queued for alice would be written before this response.
    ok(&mut alice, "logout", json!({})).await;
    assert!(
        alice.pushes.is_empty(),
        "a logged-out connection got a push: {:?}",
        alice.pushes
    );
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn params_of_the_wrong_type_are_refused_with_6017_naming_the_nested_field() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let response = raw
        .call(
            "sendMessage",
            json!({"receiver": "bob", "textElem": {"text": 5}}),
        )
        .await;
    assert_refused_naming(&response, 6017, &["sendMessage", "textElem.text"]);
    let response = raw
        .call(
            "sendMessageReadReceipts",
            json!({"messageIDList": ["a", 7]}),
        )
        .await;
    assert_refused_naming(&response, 6017, &["messageIDList[1]"]);
}

#[tokio::test]
async fn a_wrongly_typed_field_is_refused_with_6017_naming_the_method_and_the_problem() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let response = raw
        .call(
            "getC2CHistoryMessageList",
            json!({"userID": "alice", "count": "10"}),
        )
        .await;
    assert_refused_naming(
        &response,
        6017,
        &[
            "getC2CHistoryMessageList",
            "invalid type: string \"10\"",
            "u32",
        ],
    );
    let response = raw
        .call(
            "sendMessage",
            json!({"receiver": "alice", "textElem": {"text": "x"}, "random": "7"}),
        )
        .await;
    assert_refused_naming(
        &response,
        6017,
        &["sendMessage", "invalid type: string \"7\""],
    );
    let response = raw
        .call(
            "sendMessage",
            json!({"receiver": 5, "textElem": {"text": "x"}}),
        )
        .await;
    assert_refused_naming(
        &response,
        6017,
        &["sendMessage", "invalid type: integer `5`"],
    );
    let response = raw
        .call("getGroupsInfo", json!({"groupIDList": "g1"}))
        .await;
    assert_refused_naming(
        &response,
        6017,
        &["getGroupsInfo", "invalid type: string \"g1\""],
    );
}

#[tokio::test]
async fn a_missing_required_field_is_refused_with_6017_naming_it() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let response = raw
        .call("getC2CHistoryMessageList", json!({"userID": "alice"}))
        .await;
    assert_refused_naming(
        &response,
        6017,
        &["getC2CHistoryMessageList", "missing field `count`"],
    );
    let response = raw.call("createGroup", json!({"groupName": "g"})).await;
    assert_refused_naming(
        &response,
        6017,
        &["createGroup", "missing field `groupType`"],
    );
    let response = raw.call("markC2CMessageAsRead", json!({})).await;
    assert_refused_naming(
        &response,
        6017,
        &["markC2CMessageAsRead", "missing field `userID`"],
    );
    let response = raw.call("getConversationList", json!({"nextSeq": 0})).await;
    assert_refused_naming(
        &response,
        6017,
        &["getConversationList", "missing field `count`"],
    );
}

#[tokio::test]
async fn a_page_size_out_of_range_is_refused_with_6017() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    create_group(&mut raw, "Work", "paging", &[]).await;
    for count in [0, 101] {
        let response = raw
            .call(
                "getC2CHistoryMessageList",
                json!({"userID": "alice", "count": count}),
            )
            .await;
        assert_refused_naming(
            &response,
            6017,
            &["count must be between 1 and 100", &count.to_string()],
        );
        let response = raw
            .call(
                "getGroupHistoryMessageList",
                json!({"groupID": "paging", "count": count}),
            )
            .await;
        assert_refused_naming(&response, 6017, &["count must be between 1 and 100"]);
        let response = raw
            .call("getConversationList", json!({"count": count}))
            .await;
        assert_refused_naming(&response, 6017, &["count must be between 1 and 100"]);
        let response = raw
            .call(
                "getGroupMemberList",
                json!({"groupID": "paging", "count": count}),
            )
            .await;
        assert_refused_naming(&response, 6017, &["count must be between 1 and 100"]);
    }
    let response = raw
        .call(
            "getC2CHistoryMessageList",
            json!({"userID": "alice", "count": -1}),
        )
        .await;
    assert_refused(&response, 6017);
    ok(
        &mut raw,
        "getC2CHistoryMessageList",
        json!({"userID": "alice", "count": 100}),
    )
    .await;
    ok(
        &mut raw,
        "getGroupHistoryMessageList",
        json!({"groupID": "paging", "count": 1}),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// sendMessage
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_message_needs_a_receiver_or_a_group_id() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    create_group(&mut raw, "Work", "g", &[]).await;
    let neither = raw
        .call("sendMessage", json!({"textElem": {"text": "x"}}))
        .await;
    assert_refused_naming(&neither, 6017, &["receiver", "groupID"]);
    let history = ok(
        &mut raw,
        "getGroupHistoryMessageList",
        json!({"groupID": "g", "count": 10}),
    )
    .await;
    assert_eq!(history, json!([]), "a refused message is not stored");
}

#[tokio::test]
async fn an_empty_receiver_or_group_id_counts_as_absent() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    create_group(&mut raw, "Work", "g", &[]).await;
    // The Flutter guide's group send: `receiver: ""` next to the `groupID`.
    let group = ok(
        &mut raw,
        "sendMessage",
        json!({"receiver": "", "groupID": "g", "textElem": {"text": "to the group"}}),
    )
    .await;
    assert_eq!(group["groupID"], "g");
    assert!(group.get("userID").is_none(), "{group}");
    let c2c = ok(
        &mut raw,
        "sendMessage",
        json!({"receiver": "alice", "groupID": "", "textElem": {"text": "to me"}}),
    )
    .await;
    assert_eq!(c2c["userID"], "alice");
    assert!(c2c.get("groupID").is_none(), "{c2c}");
    let neither = raw
        .call(
            "sendMessage",
            json!({"receiver": "", "groupID": "", "textElem": {"text": "x"}}),
        )
        .await;
    assert_refused_naming(&neither, 6017, &["receiver", "groupID"]);
}

#[tokio::test]
async fn targeted_group_messages_reach_their_target_and_mentions_everyone() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut carol = server.raw_login("carol").await;
    create_group(&mut raw, "Work", "g", &["bob", "carol"]).await;
    // V2TIM sends a message for one member of a group with both receiver and groupID.
    let targeted = ok(
        &mut raw,
        "sendMessage",
        json!({"receiver": "bob", "groupID": "g", "textElem": {"text": "for bob only"}}),
    )
    .await;
    assert_eq!(
        (&targeted["seq"], &targeted["isExcludedFromUnreadCount"]),
        (&json!(1), &json!(true))
    );
    let refused = raw
        .call(
            "sendMessage",
            json!({"groupID": "g", "textElem": {"text": "@bob"}, "receiverList": ["bob"],
                   "groupAtUserList": ["bob"]}),
        )
        .await;
    assert_refused_naming(&refused, 6017, &["receiverList", "groupAtUserList"]);
    let everyone = "__kImSDK_MesssageAtALL__";
    let mentioned = ok(
        &mut raw,
        "sendMessage",
        json!({"groupID": "g", "textElem": {"text": "@all"}, "groupAtUserList": [everyone]}),
    )
    .await;
    assert_eq!(mentioned["groupAtUserList"], json!([everyone]));
    assert!(mentioned.get("prevSeq").is_none(), "{mentioned}");
    let first = bob.push("onRecvNewMessage").await;
    assert_eq!(first["data"]["msgID"], targeted["msgID"]);
    let second = bob.push("onRecvNewMessage").await;
    assert_eq!(second["data"]["seq"], 2);
    assert!(second["data"].get("prevSeq").is_none(), "{second}");
    // Carol's first push is the second message, saying that she has nothing before it.
    let only = carol.push("onRecvNewMessage").await;
    assert_eq!(
        (&only["data"]["seq"], &only["data"]["prevSeq"]),
        (&json!(2), &json!(0))
    );
    let history = ok(
        &mut carol,
        "getGroupHistoryMessageList",
        json!({"groupID": "g", "count": 10}),
    )
    .await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!(history[0]["msgID"], mentioned["msgID"]);
}

#[tokio::test]
async fn a_message_needs_exactly_one_of_text_elem_and_custom_elem() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let _bob = server.raw_login("bob").await;
    let both = raw
        .call(
            "sendMessage",
            json!({"receiver": "bob", "textElem": {"text": "x"}, "customElem": {"data": "d"}}),
        )
        .await;
    assert_refused_naming(&both, 6017, &["textElem", "customElem"]);
    let neither = raw.call("sendMessage", json!({"receiver": "bob"})).await;
    assert_refused_naming(&neither, 6017, &["textElem", "customElem"]);
    let custom = ok(
        &mut raw,
        "sendMessage",
        json!({"receiver": "bob", "customElem": {"data": "d"}}),
    )
    .await;
    assert_eq!(custom["elemType"], 2);
    assert_eq!(custom["customElem"]["data"], "d");
    assert_eq!(custom["seq"], 1, "the refused messages took no sequence");
}

#[tokio::test]
async fn a_message_to_an_unknown_user_is_refused_with_20003() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let response = raw
        .call(
            "sendMessage",
            json!({"receiver": "nobody", "textElem": {"text": "x"}}),
        )
        .await;
    assert_refused_naming(&response, 20003, &["nobody"]);
    let response = raw
        .call(
            "sendMessage",
            json!({"receiver": "bad id", "textElem": {"text": "x"}}),
        )
        .await;
    assert_refused(&response, 7003);
}

#[tokio::test]
async fn a_payload_over_12_kib_is_refused_with_80002_and_12_kib_is_accepted() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    let _bob = server.raw_login("bob").await;
    let limit = tidings_proto::MAX_MESSAGE_BYTES;
    let at_limit = ok(
        &mut raw,
        "sendMessage",
        json!({"receiver": "bob", "textElem": {"text": "x".repeat(limit)}}),
    )
    .await;
    assert_eq!(at_limit["seq"], 1);
    let over = raw
        .call(
            "sendMessage",
            json!({"receiver": "bob", "textElem": {"text": "x".repeat(limit + 1)}}),
        )
        .await;
    assert_refused_naming(&over, 80002, &[&(limit + 1).to_string()]);
    // Every part of the payload counts: custom data, desc, extension and cloudCustomData.
    let split = json!({
        "receiver": "bob",
        "customElem": {"data": "d".repeat(limit / 4), "desc": "e".repeat(limit / 4), "extension": "f".repeat(limit / 4)},
        "cloudCustomData": "c".repeat(limit / 4 + 1),
    });
    refused(&mut raw, "sendMessage", split, 80002).await;
    let group_over = json!({"groupID": "any", "textElem": {"text": "x".repeat(limit + 1)}});
    refused(&mut raw, "sendMessage", group_over, 80002).await;
}

#[tokio::test]
async fn need_read_receipt_with_online_user_only_is_receipted_but_not_kept_in_history() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut carol = server.raw_login("carol").await;
    let live = json!({"receiver": "bob", "textElem": {"text": "live"}, "needReadReceipt": true, "onlineUserOnly": true});
    let sent = ok(&mut alice, "sendMessage", live).await;
    let c2c_id = sent["msgID"].as_str().expect("msgID").to_owned();
    assert_eq!(
        (&sent["seq"], &sent["needReadReceipt"]),
        (&json!(0), &json!(true))
    );
    let pushed = push_where(&mut bob, "onRecvNewMessage", |m| m["msgID"] == c2c_id).await;
    assert_eq!(
        (&pushed["seq"], &pushed["needReadReceipt"]),
        (&json!(0), &json!(true))
    );
    let history = ok(
        &mut bob,
        "getC2CHistoryMessageList",
        json!({"userID": "alice", "count": 10}),
    )
    .await;
    assert_eq!(history, json!([]));
    let list = ok(&mut bob, "getConversationList", json!({"count": 10})).await;
    assert_eq!(
        list["conversationList"],
        json!([]),
        "no conversation, no unread count"
    );
    ok(
        &mut bob,
        "sendMessageReadReceipts",
        json!({"messageIDList": [c2c_id]}),
    )
    .await;
    let pushed = push_where(&mut alice, "onRecvMessageReadReceipts", |d| {
        d[0]["msgID"] == c2c_id
    })
    .await;
    assert_eq!(pushed[0]["isPeerRead"], true, "{pushed}");

    create_group(&mut alice, "Work", "live", &["bob", "carol"]).await;
    let live = json!({"groupID": "live", "textElem": {"text": "live"}, "needReadReceipt": true, "onlineUserOnly": true});
    let sent = ok(&mut alice, "sendMessage", live).await;
    let group_id = sent["msgID"].as_str().expect("msgID").to_owned();
    assert_eq!(sent["seq"], 0);
    push_where(&mut carol, "onRecvNewMessage", |m| m["msgID"] == group_id).await;
    let history = ok(
        &mut carol,
        "getGroupHistoryMessageList",
        json!({"groupID": "live", "count": 10}),
    )
    .await;
    assert_eq!(history, json!([]));
    assert_eq!(unread(&mut carol, "group_live").await, 0);

    // After a restart nothing of it is in memory: the receipt state comes from the store.
    drop((alice, bob, carol));
    let server = TestServer::start_in(server.stop().await, |_| {}).await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    ok(
        &mut bob,
        "sendMessageReadReceipts",
        json!({"messageIDList": [group_id]}),
    )
    .await;
    let pulled = ok(
        &mut alice,
        "getMessageReadReceipts",
        json!({"messageIDList": [group_id]}),
    )
    .await;
    assert_eq!(
        pulled,
        json!([{"msgID": group_id, "userID": "", "groupID": "live", "isPeerRead": false,
                "timestamp": 0, "readCount": 1, "unreadCount": 1}])
    );
    let pulled = ok(
        &mut alice,
        "getMessageReadReceipts",
        json!({"messageIDList": [c2c_id]}),
    )
    .await;
    assert_eq!(pulled[0]["isPeerRead"], true, "{pulled}");
    for (filter, member) in [(0, "bob"), (1, "carol")] {
        let page = ok(
            &mut alice,
            "getGroupMessageReadMemberList",
            json!({"messageID": group_id, "filter": filter, "nextSeq": 0, "count": 10}),
        )
        .await;
        assert_eq!(page["memberInfoList"][0]["userID"], member, "{page}");
        assert_eq!(
            page["memberInfoList"].as_array().map(Vec::len),
            Some(1),
            "{page}"
        );
    }
}

#[tokio::test]
async fn c2c_sequences_count_1_2_3_per_pair_and_every_msg_id_is_unique() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let _carol = server.raw_login("carol").await;
    let mut sent = vec![
        send_c2c(&mut alice, "bob", "1").await,
        send_c2c(&mut bob, "alice", "2").await,
        send_c2c(&mut alice, "bob", "3").await,
    ];
    assert_eq!(
        sent.iter().map(|m| m["seq"].as_u64()).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3)]
    );
    let to_carol = send_c2c(&mut alice, "carol", "other pair").await;
    assert_eq!(to_carol["seq"], 1, "each pair of users counts on its own");
    let to_self = send_c2c(&mut alice, "alice", "note to self").await;
    assert_eq!(to_self["seq"], 1);
    sent.push(to_carol);
    sent.push(to_self);
    let msg_ids: HashSet<&str> = sent
        .iter()
        .map(|m| m["msgID"].as_str().expect("msgID"))
        .collect();
    assert_eq!(msg_ids.len(), sent.len(), "duplicate msgID among {sent:?}");
    let history = ok(
        &mut bob,
        "getC2CHistoryMessageList",
        json!({"userID": "alice", "count": 10}),
    )
    .await;
    assert_eq!(seqs(&history), [3, 2, 1]);
}

#[tokio::test]
async fn group_sequences_count_up_without_gaps_across_senders() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut carol = server.raw_login("carol").await;
    let mut outsider = server.raw_login("outsider").await;
    create_group(&mut alice, "Public", "seqs", &["bob", "carol"]).await;
    let mut seen = Vec::new();
    for round in 0..3 {
        seen.push(send_group(&mut alice, "seqs", &format!("a{round}")).await);
        refused(
            &mut outsider,
            "sendMessage",
            json!({"groupID": "seqs", "textElem": {"text": "no"}}),
            10007,
        )
        .await;
        seen.push(send_group(&mut bob, "seqs", &format!("b{round}")).await);
        let online =
            json!({"groupID": "seqs", "textElem": {"text": "live"}, "onlineUserOnly": true});
        assert_eq!(
            ok(&mut carol, "sendMessage", online).await["seq"],
            0,
            "online-only messages take no sequence"
        );
        seen.push(send_group(&mut carol, "seqs", &format!("c{round}")).await);
    }
    let expected: Vec<u64> = (1..=9).collect();
    assert_eq!(
        seen.iter()
            .map(|m| m["seq"].as_u64().expect("seq"))
            .collect::<Vec<_>>(),
        expected
    );
    let msg_ids: HashSet<&str> = seen
        .iter()
        .map(|m| m["msgID"].as_str().expect("msgID"))
        .collect();
    assert_eq!(msg_ids.len(), 9, "duplicate msgID");
    let history = ok(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "seqs", "count": 100}),
    )
    .await;
    assert_eq!(seqs(&history), (1..=9).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn every_device_of_sender_and_receiver_gets_on_recv_new_message() {
    let server = TestServer::start().await;
    let mut alice_phone = server.raw_login("alice").await;
    let mut alice_laptop = server.raw_login("alice").await;
    let mut bob_phone = server.raw_login("bob").await;
    let mut bob_laptop = server.raw_login("bob").await;
    let sent = send_c2c(&mut alice_phone, "bob", "to every device").await;
    let msg_id = sent["msgID"].clone();
    for (device, is_self, user_id) in [
        (&mut alice_phone, true, "bob"),
        (&mut alice_laptop, true, "bob"),
        (&mut bob_phone, false, "alice"),
        (&mut bob_laptop, false, "alice"),
    ] {
        let pushed = push_where(device, "onRecvNewMessage", |m| m["msgID"] == msg_id).await;
        assert_eq!(pushed["isSelf"], is_self, "{pushed}");
        assert_eq!(pushed["userID"], user_id, "{pushed}");
        assert_eq!(pushed["seq"], 1);
        assert_eq!(pushed["textElem"]["text"], "to every device");
    }

    create_group(&mut alice_phone, "Work", "devices", &["bob"]).await;
    let sent = send_group(&mut bob_laptop, "devices", "group fan-out").await;
    let msg_id = sent["msgID"].clone();
    for device in [
        &mut alice_phone,
        &mut alice_laptop,
        &mut bob_phone,
        &mut bob_laptop,
    ] {
        let pushed = push_where(device, "onRecvNewMessage", |m| m["msgID"] == msg_id).await;
        assert_eq!(pushed["groupID"], "devices");
        assert_eq!(pushed["sender"], "bob");
    }
}

#[tokio::test]
async fn online_user_only_messages_are_delivered_but_not_kept_in_history() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let online =
        json!({"receiver": "bob", "textElem": {"text": "typing…"}, "onlineUserOnly": true});
    let sent = ok(&mut alice, "sendMessage", online).await;
    let pushed = push_where(&mut bob, "onRecvNewMessage", |m| {
        m["msgID"] == sent["msgID"]
    })
    .await;
    assert_eq!(pushed["textElem"]["text"], "typing…");
    let history = ok(
        &mut bob,
        "getC2CHistoryMessageList",
        json!({"userID": "alice", "count": 10}),
    )
    .await;
    assert_eq!(history, json!([]));
    let list = ok(&mut bob, "getConversationList", json!({"count": 10})).await;
    assert_eq!(
        list["conversationList"],
        json!([]),
        "an online-only message makes no conversation"
    );
    assert_eq!(send_c2c(&mut alice, "bob", "stored").await["seq"], 1);

    create_group(&mut alice, "Meeting", "live", &["bob"]).await;
    let online =
        json!({"groupID": "live", "textElem": {"text": "live only"}, "onlineUserOnly": true});
    let sent = ok(&mut alice, "sendMessage", online).await;
    push_where(&mut bob, "onRecvNewMessage", |m| {
        m["msgID"] == sent["msgID"]
    })
    .await;
    let history = ok(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "live", "count": 10}),
    )
    .await;
    assert_eq!(history, json!([]));
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_custom_group_id_can_be_used_once_and_then_is_refused_with_10021() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Work", "team", &[]).await;
    let again = bob
        .call(
            "createGroup",
            json!({"groupType": "Public", "groupID": "team", "groupName": "x"}),
        )
        .await;
    assert_refused_naming(&again, 10021, &["team"]);
    let generated = ok(
        &mut bob,
        "createGroup",
        json!({"groupType": "Public", "groupName": "auto"}),
    )
    .await;
    assert!(
        generated["groupID"]
            .as_str()
            .is_some_and(|id| id.starts_with("@TGS#")),
        "{generated}"
    );
    let info = ok(
        &mut alice,
        "getGroupsInfo",
        json!({"groupIDList": ["team"]}),
    )
    .await;
    assert_eq!(
        info[0]["groupInfo"]["owner"], "alice",
        "the refused creation changed nothing"
    );
}

#[tokio::test]
async fn custom_group_ids_may_not_use_the_reserved_prefix() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let response = alice
        .call(
            "createGroup",
            json!({"groupType": "Work", "groupID": "@TGS#mine", "groupName": "x"}),
        )
        .await;
    assert_refused_naming(&response, 10004, &["@TGS#"]);
    let response = alice
        .call(
            "createGroup",
            json!({"groupType": "Work", "groupID": "has space", "groupName": "x"}),
        )
        .await;
    assert_refused(&response, 7003);
}

#[tokio::test]
async fn an_unknown_group_type_is_refused_with_10004() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    for group_type in ["Club", "work", ""] {
        let response = alice
            .call(
                "createGroup",
                json!({"groupType": group_type, "groupName": "x"}),
            )
            .await;
        assert_refused_naming(&response, 10004, &["groupType"]);
    }
    assert_eq!(
        ok(&mut alice, "getJoinedGroupList", json!({})).await,
        json!([])
    );
}

#[tokio::test]
async fn a_work_group_cannot_be_joined_without_invitation() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Work", "private", &[]).await;
    let response = bob.call("joinGroup", json!({"groupID": "private"})).await;
    assert_refused_naming(&response, 10007, &["private"]);
    refused(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "private", "count": 1}),
        10007,
    )
    .await;
}

#[tokio::test]
async fn public_meeting_community_and_avchatroom_groups_can_be_joined() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    for group_type in ["Public", "Meeting", "Community", "AVChatRoom"] {
        create_group(&mut alice, group_type, group_type, &[]).await;
        ok(
            &mut bob,
            "joinGroup",
            json!({"groupID": group_type, "message": "hi"}),
        )
        .await;
        let entered = push_where(&mut alice, "onMemberEnter", |c| {
            c["groupID"] == group_type && c["memberList"][0]["userID"] == "bob"
        })
        .await;
        // V2TIM's onMemberEnter(groupID, memberList): member objects, no operator.
        assert_eq!(
            entered,
            json!({"groupID": group_type, "memberList": [{"userID": "bob", "nickName": "", "faceURL": ""}]})
        );
        let sent = send_group(&mut bob, group_type, "joined").await;
        assert_eq!(sent["seq"], 1);
    }
    let joined = ok(&mut bob, "getJoinedGroupList", json!({})).await;
    let mut groups = ids(&joined, "groupID");
    groups.sort();
    assert_eq!(groups, ["AVChatRoom", "Community", "Meeting", "Public"]);
}

#[tokio::test]
async fn joining_a_group_twice_is_refused_with_10013() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Public", "club", &[]).await;
    ok(&mut bob, "joinGroup", json!({"groupID": "club"})).await;
    let again = bob.call("joinGroup", json!({"groupID": "club"})).await;
    assert_refused_naming(&again, 10013, &["bob", "club"]);
    refused(&mut alice, "joinGroup", json!({"groupID": "club"}), 10013).await;
}

#[tokio::test]
async fn non_members_can_neither_send_to_nor_read_a_group() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Public", "closed", &[]).await;
    send_group(&mut alice, "closed", "members only").await;
    let send = bob
        .call(
            "sendMessage",
            json!({"groupID": "closed", "textElem": {"text": "x"}}),
        )
        .await;
    assert_refused_naming(&send, 10007, &["bob", "closed"]);
    let online = json!({"groupID": "closed", "textElem": {"text": "x"}, "onlineUserOnly": true});
    refused(&mut bob, "sendMessage", online, 10007).await;
    refused(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "closed", "count": 10}),
        10007,
    )
    .await;
    refused(
        &mut bob,
        "getGroupMemberList",
        json!({"groupID": "closed"}),
        10007,
    )
    .await;
    refused(
        &mut bob,
        "markGroupMessageAsRead",
        json!({"groupID": "closed"}),
        10007,
    )
    .await;
    refused(&mut bob, "quitGroup", json!({"groupID": "closed"}), 10007).await;
    let history = ok(
        &mut alice,
        "getGroupHistoryMessageList",
        json!({"groupID": "closed", "count": 10}),
    )
    .await;
    assert_eq!(seqs(&history), [1]);
}

#[tokio::test]
async fn every_operation_on_a_missing_group_is_refused_with_10010() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let _bob = server.raw_login("bob").await;
    let missing = json!({"groupID": "missing"});
    for (method, params) in [
        ("joinGroup", missing.clone()),
        ("quitGroup", missing.clone()),
        ("dismissGroup", missing.clone()),
        (
            "sendMessage",
            json!({"groupID": "missing", "textElem": {"text": "x"}}),
        ),
        (
            "getGroupHistoryMessageList",
            json!({"groupID": "missing", "count": 1}),
        ),
        ("getGroupMemberList", missing.clone()),
        (
            "inviteUserToGroup",
            json!({"groupID": "missing", "userList": ["bob"]}),
        ),
        (
            "kickGroupMember",
            json!({"groupID": "missing", "memberList": ["bob"]}),
        ),
        ("markGroupMessageAsRead", missing.clone()),
        (
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "group_missing"}),
        ),
    ] {
        let response = alice.call(method, params).await;
        assert_refused_naming(&response, 10010, &["missing"]);
    }
}

#[tokio::test]
async fn only_the_owner_and_admins_may_invite_to_a_public_group() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut admin = server.raw_login("admin").await;
    let mut carol = server.raw_login("carol").await;
    let _dave = server.raw_login("dave").await;
    let members = json!([{"userID": "bob"}, {"userID": "admin", "role": 300}]);
    ok(
        &mut alice,
        "createGroup",
        json!({"groupType": "Public", "groupID": "pub", "groupName": "p", "memberList": members}),
    )
    .await;
    let response = bob
        .call(
            "inviteUserToGroup",
            json!({"groupID": "pub", "userList": ["carol"]}),
        )
        .await;
    assert_refused_naming(&response, 10007, &["pub"]);
    refused(
        &mut carol,
        "getGroupMemberList",
        json!({"groupID": "pub"}),
        10007,
    )
    .await;
    let by_admin = ok(
        &mut admin,
        "inviteUserToGroup",
        json!({"groupID": "pub", "userList": ["carol"]}),
    )
    .await;
    assert_eq!(by_admin, json!([{"memberID": "carol", "result": 1}]));
    let by_owner = ok(
        &mut alice,
        "inviteUserToGroup",
        json!({"groupID": "pub", "userList": ["dave", "carol", "ghost"]}),
    )
    .await;
    assert_eq!(
        by_owner,
        json!([{"memberID": "dave", "result": 1}, {"memberID": "carol", "result": 2}, {"memberID": "ghost", "result": 0}]),
        "V2TIMGroupMemberResult: 2 invalid (already a member), 0 failed (no such user)"
    );
    let invited = push_where(&mut carol, "onMemberInvited", |c| c["groupID"] == "pub").await;
    assert_eq!(invited["opUser"]["userID"], "admin");
    assert_eq!(
        invited["memberList"],
        json!([{"userID": "carol", "nickName": "", "faceURL": ""}])
    );
}

#[tokio::test]
async fn ordinary_members_may_invite_to_a_work_group() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut carol = server.raw_login("carol").await;
    create_group(&mut alice, "Work", "work", &["bob"]).await;
    let invited = ok(
        &mut bob,
        "inviteUserToGroup",
        json!({"groupID": "work", "userList": ["carol"]}),
    )
    .await;
    assert_eq!(invited, json!([{"memberID": "carol", "result": 1}]));
    send_group(&mut carol, "work", "invited in").await;
    let _outsider = server.raw_login("outsider").await;
    let mut dave = server.raw_login("dave").await;
    refused(
        &mut dave,
        "inviteUserToGroup",
        json!({"groupID": "work", "userList": ["outsider"]}),
        10007,
    )
    .await;
    let avchat = json!({"groupType": "AVChatRoom", "groupID": "live", "groupName": "live"});
    ok(&mut alice, "createGroup", avchat).await;
    refused(
        &mut alice,
        "inviteUserToGroup",
        json!({"groupID": "live", "userList": ["bob"]}),
        10007,
    )
    .await;
}

#[tokio::test]
async fn ordinary_members_cannot_remove_anyone() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let _carol = server.raw_login("carol").await;
    create_group(&mut alice, "Work", "kicks", &["bob", "carol"]).await;
    let response = bob
        .call(
            "kickGroupMember",
            json!({"groupID": "kicks", "memberList": ["carol"]}),
        )
        .await;
    assert_refused_naming(&response, 10007, &["kicks"]);
    let members = ok(
        &mut alice,
        "getGroupMemberList",
        json!({"groupID": "kicks"}),
    )
    .await;
    assert_eq!(
        ids(&members["memberInfoList"], "userID"),
        ["alice", "bob", "carol"]
    );
}

#[tokio::test]
async fn admins_may_remove_members_but_not_admins_or_the_owner() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut admin = server.raw_login("admin").await;
    let _admin2 = server.raw_login("admin2").await;
    let mut carol = server.raw_login("carol").await;
    let members = json!([{"userID": "admin", "role": 300}, {"userID": "admin2", "role": 300}, {"userID": "carol"}]);
    ok(
        &mut alice,
        "createGroup",
        json!({"groupType": "Public", "groupID": "g", "groupName": "g", "memberList": members}),
    )
    .await;
    refused(
        &mut admin,
        "kickGroupMember",
        json!({"groupID": "g", "memberList": ["admin2"]}),
        10007,
    )
    .await;
    refused(
        &mut admin,
        "kickGroupMember",
        json!({"groupID": "g", "memberList": ["alice"]}),
        10007,
    )
    .await;
    refused(
        &mut admin,
        "kickGroupMember",
        json!({"groupID": "g", "memberList": ["carol", "admin2"]}),
        10007,
    )
    .await;
    let members = ok(&mut alice, "getGroupMemberList", json!({"groupID": "g"})).await;
    assert_eq!(
        members["memberInfoList"].as_array().map(Vec::len),
        Some(4),
        "a refused kick removes nobody"
    );
    let kicked = ok(
        &mut admin,
        "kickGroupMember",
        json!({"groupID": "g", "memberList": ["carol"]}),
    )
    .await;
    assert_eq!(kicked, json!([{"memberID": "carol", "result": 1}]));
    let event = push_where(&mut carol, "onMemberKicked", |c| c["groupID"] == "g").await;
    assert_eq!(
        event["memberList"],
        json!([{"userID": "carol", "nickName": "", "faceURL": ""}])
    );
    assert_eq!(event["opUser"]["userID"], "admin");
    refused(
        &mut carol,
        "getGroupHistoryMessageList",
        json!({"groupID": "g", "count": 1}),
        10007,
    )
    .await;
}

#[tokio::test]
async fn the_owner_may_remove_admins_and_members_but_not_themself() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let _admin = server.raw_login("admin").await;
    let _carol = server.raw_login("carol").await;
    let members = json!([{"userID": "admin", "role": 300}, {"userID": "carol"}]);
    ok(
        &mut alice,
        "createGroup",
        json!({"groupType": "Work", "groupID": "g", "groupName": "g", "memberList": members}),
    )
    .await;
    refused(
        &mut alice,
        "kickGroupMember",
        json!({"groupID": "g", "memberList": ["alice"]}),
        10007,
    )
    .await;
    let kicked = ok(
        &mut alice,
        "kickGroupMember",
        json!({"groupID": "g", "memberList": ["admin", "carol", "ghost"]}),
    )
    .await;
    assert_eq!(
        kicked,
        json!([{"memberID": "admin", "result": 1}, {"memberID": "carol", "result": 1}, {"memberID": "ghost", "result": 2}])
    );
    let members = ok(&mut alice, "getGroupMemberList", json!({"groupID": "g"})).await;
    assert_eq!(ids(&members["memberInfoList"], "userID"), ["alice"]);
}

#[tokio::test]
async fn the_owner_cannot_quit_but_a_member_can() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Public", "stay", &["bob"]).await;
    let response = alice.call("quitGroup", json!({"groupID": "stay"})).await;
    assert_refused_naming(&response, 10009, &["stay"]);
    ok(&mut bob, "quitGroup", json!({"groupID": "stay"})).await;
    let left = push_where(&mut alice, "onMemberLeave", |c| c["groupID"] == "stay").await;
    assert_eq!(
        left,
        json!({"groupID": "stay", "member": {"userID": "bob", "nickName": "", "faceURL": ""}})
    );
    assert_eq!(
        ok(&mut bob, "getJoinedGroupList", json!({})).await,
        json!([])
    );
    assert_eq!(
        ids(
            &ok(&mut alice, "getJoinedGroupList", json!({})).await,
            "groupID"
        ),
        ["stay"]
    );
}

#[tokio::test]
async fn only_the_owner_can_dismiss_a_group_and_then_it_is_gone_for_everyone() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut admin = server.raw_login("admin").await;
    let members = json!([{"userID": "bob"}, {"userID": "admin", "role": 300}]);
    ok(&mut alice, "createGroup", json!({"groupType": "Public", "groupID": "doomed", "groupName": "d", "memberList": members}))
        .await;
    send_group(&mut bob, "doomed", "before").await;
    refused(
        &mut bob,
        "dismissGroup",
        json!({"groupID": "doomed"}),
        10007,
    )
    .await;
    refused(
        &mut admin,
        "dismissGroup",
        json!({"groupID": "doomed"}),
        10007,
    )
    .await;
    ok(&mut alice, "dismissGroup", json!({"groupID": "doomed"})).await;
    for member in [&mut alice, &mut bob, &mut admin] {
        let event = push_where(member, "onGroupDismissed", |d| d["groupID"] == "doomed").await;
        assert_eq!(event["opUser"], "alice");
        assert_eq!(ok(member, "getJoinedGroupList", json!({})).await, json!([]));
        let list = ok(member, "getConversationList", json!({"count": 100})).await;
        assert!(!list.to_string().contains("group_doomed"), "{list}");
    }
    let info = ok(
        &mut bob,
        "getGroupsInfo",
        json!({"groupIDList": ["doomed"]}),
    )
    .await;
    assert_eq!(info[0]["resultCode"], 10010, "{info}");
    refused(
        &mut bob,
        "sendMessage",
        json!({"groupID": "doomed", "textElem": {"text": "x"}}),
        10010,
    )
    .await;
    refused(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "doomed", "count": 1}),
        10010,
    )
    .await;
    refused(
        &mut alice,
        "dismissGroup",
        json!({"groupID": "doomed"}),
        10010,
    )
    .await;
    create_group(&mut bob, "Work", "doomed", &[]).await;
    let history = ok(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "doomed", "count": 10}),
    )
    .await;
    assert_eq!(history, json!([]), "a dismissed group's messages are gone");
}

#[tokio::test]
async fn the_group_member_list_pages_in_joining_order_with_next_seq() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut others = Vec::new();
    for user in ["m1", "m2", "m3", "m4"] {
        others.push(server.raw_login(user).await);
    }
    create_group(&mut alice, "Work", "big", &["m1", "m2", "m3", "m4"]).await;
    let mut pages = Vec::new();
    let mut next_seq = 0;
    loop {
        let page = ok(
            &mut alice,
            "getGroupMemberList",
            json!({"groupID": "big", "nextSeq": next_seq, "count": 2}),
        )
        .await;
        pages.push(ids(&page["memberInfoList"], "userID"));
        next_seq = page["nextSeq"].as_u64().expect("nextSeq");
        if next_seq == 0 {
            break;
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, [vec!["alice", "m1"], vec!["m2", "m3"], vec!["m4"]]);
    let even = ok(
        &mut alice,
        "getGroupMemberList",
        json!({"groupID": "big", "count": 5}),
    )
    .await;
    assert_eq!(
        even["nextSeq"], 0,
        "an exactly full page is the last: {even}"
    );
    let owner = ok(
        &mut alice,
        "getGroupMemberList",
        json!({"groupID": "big", "filter": 1}),
    )
    .await;
    assert_eq!(owner["memberInfoList"][0]["role"], 400);
    assert_eq!(ids(&owner["memberInfoList"], "userID"), ["alice"]);
    let plain = ok(
        &mut others[0],
        "getGroupMemberList",
        json!({"groupID": "big", "filter": 4}),
    )
    .await;
    assert_eq!(
        ids(&plain["memberInfoList"], "userID"),
        ["m1", "m2", "m3", "m4"]
    );
    refused(
        &mut alice,
        "getGroupMemberList",
        json!({"groupID": "big", "filter": 3}),
        6017,
    )
    .await;
}

#[tokio::test]
async fn get_groups_info_reports_a_missing_group_per_item() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Meeting", "here", &[]).await;
    let info = ok(
        &mut bob,
        "getGroupsInfo",
        json!({"groupIDList": ["here", "missing"]}),
    )
    .await;
    assert_eq!(info[0]["resultCode"], 0, "{info}");
    assert_eq!(info[0]["groupInfo"]["groupID"], "here");
    assert_eq!(info[0]["groupInfo"]["groupType"], "Meeting");
    assert_eq!(info[0]["groupInfo"]["memberCount"], 1);
    assert!(
        info[0]["groupInfo"].get("role").is_none(),
        "bob is not a member: {info}"
    );
    assert_eq!(info[1]["resultCode"], 10010, "{info}");
    assert!(
        info[1]["resultMessage"]
            .as_str()
            .is_some_and(|m| m.contains("missing")),
        "{info}"
    );
    assert!(info[1]["groupInfo"].is_null(), "{info}");
    let mine = ok(
        &mut alice,
        "getGroupsInfo",
        json!({"groupIDList": ["here"]}),
    )
    .await;
    assert_eq!(mine[0]["groupInfo"]["role"], 400);
    refused(
        &mut alice,
        "getGroupsInfo",
        json!({"groupIDList": []}),
        6017,
    )
    .await;
}

#[tokio::test]
async fn the_joined_group_list_holds_exactly_the_callers_groups() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Work", "both", &["bob"]).await;
    create_group(&mut alice, "Public", "alice-only", &[]).await;
    create_group(&mut bob, "Community", "bob-only", &[]).await;
    let mut alices = ids(
        &ok(&mut alice, "getJoinedGroupList", json!({})).await,
        "groupID",
    );
    alices.sort();
    assert_eq!(alices, ["alice-only", "both"]);
    let bobs = ok(&mut bob, "getJoinedGroupList", json!({})).await;
    let mut bob_ids = ids(&bobs, "groupID");
    bob_ids.sort();
    assert_eq!(bob_ids, ["bob-only", "both"]);
    let both = bobs
        .as_array()
        .and_then(|g| g.iter().find(|g| g["groupID"] == "both"))
        .expect("both");
    assert_eq!(both["role"], 200);
    assert_eq!(both["owner"], "alice");
    assert_eq!(both["memberCount"], 2);
}

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c2c_unread_counts_are_exact_and_skip_excluded_messages() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    send_c2c(&mut bob, "alice", "1").await;
    let excluded = json!({"receiver": "alice", "textElem": {"text": "quiet"}, "isExcludedFromUnreadCount": true});
    ok(&mut bob, "sendMessage", excluded).await;
    send_c2c(&mut bob, "alice", "3").await;
    assert_eq!(unread(&mut alice, "c2c_bob").await, 2);
    assert_eq!(
        unread(&mut bob, "c2c_alice").await,
        0,
        "own messages are never unread"
    );
    let conv = conversation(&mut alice, "c2c_bob").await;
    assert_eq!(conv["type"], 1);
    assert_eq!(conv["userID"], "bob");
    assert_eq!(conv["lastMessage"]["seq"], 3);
}

#[tokio::test]
async fn group_unread_counts_are_exact_and_skip_excluded_messages() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut carol = server.raw_login("carol").await;
    create_group(&mut alice, "Public", "g", &["bob", "carol"]).await;
    send_group(&mut bob, "g", "b1").await;
    send_group(&mut bob, "g", "b2").await;
    let excluded =
        json!({"groupID": "g", "textElem": {"text": "quiet"}, "isExcludedFromUnreadCount": true});
    ok(&mut carol, "sendMessage", excluded).await;
    send_group(&mut carol, "g", "c2").await;
    assert_eq!(unread(&mut alice, "group_g").await, 3);
    assert_eq!(
        unread(&mut bob, "group_g").await,
        1,
        "bob's own messages and the excluded one do not count"
    );
    assert_eq!(
        unread(&mut carol, "group_g").await,
        2,
        "sending does not mark earlier messages read"
    );
    let mut dave = server.raw_login("dave").await;
    ok(&mut dave, "joinGroup", json!({"groupID": "g"})).await;
    assert_eq!(
        unread(&mut dave, "group_g").await,
        0,
        "messages from before joining are not unread"
    );
    send_group(&mut bob, "g", "b3").await;
    assert_eq!(unread(&mut dave, "group_g").await, 1);

    create_group(&mut alice, "AVChatRoom", "live", &[]).await;
    ok(&mut bob, "joinGroup", json!({"groupID": "live"})).await;
    send_group(&mut alice, "live", "streaming").await;
    assert_eq!(
        unread(&mut bob, "group_live").await,
        0,
        "AVChatRoom groups have no unread counts"
    );
}

#[tokio::test]
async fn marking_a_c2c_conversation_read_clears_it_on_every_device_and_tells_the_peer() {
    let server = TestServer::start().await;
    let mut alice_phone = server.raw_login("alice").await;
    let mut alice_laptop = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    send_c2c(&mut bob, "alice", "1").await;
    send_c2c(&mut bob, "alice", "2").await;
    let before = ok(
        &mut bob,
        "getC2CHistoryMessageList",
        json!({"userID": "alice", "count": 10}),
    )
    .await;
    assert!(
        before
            .as_array()
            .expect("list")
            .iter()
            .all(|m| m["isPeerRead"] == false),
        "{before}"
    );
    assert_eq!(unread(&mut alice_phone, "c2c_bob").await, 2);

    ok(
        &mut alice_phone,
        "markC2CMessageAsRead",
        json!({"userID": "bob"}),
    )
    .await;
    for device in [&mut alice_phone, &mut alice_laptop] {
        let changed = push_where(device, "onConversationChanged", |list| {
            list[0]["conversationID"] == "c2c_bob" && list[0]["unreadCount"] == 0
        })
        .await;
        assert_eq!(changed[0]["lastMessage"]["isRead"], true, "{changed}");
    }
    let receipt = bob.push("onRecvC2CReadReceipt").await;
    assert_eq!(receipt["data"][0]["userID"], "alice", "{receipt}");
    assert!(
        receipt["data"][0]["timestamp"]
            .as_i64()
            .is_some_and(|t| t > 0),
        "{receipt}"
    );
    assert_eq!(unread(&mut alice_laptop, "c2c_bob").await, 0);
    let after = ok(
        &mut bob,
        "getC2CHistoryMessageList",
        json!({"userID": "alice", "count": 10}),
    )
    .await;
    assert_eq!(seqs(&after), [2, 1]);
    assert!(
        after
            .as_array()
            .expect("list")
            .iter()
            .all(|m| m["isPeerRead"] == true),
        "{after}"
    );
    let mine = ok(
        &mut alice_laptop,
        "getC2CHistoryMessageList",
        json!({"userID": "bob", "count": 10}),
    )
    .await;
    assert!(
        mine.as_array()
            .expect("list")
            .iter()
            .all(|m| m["isRead"] == true),
        "{mine}"
    );
    send_c2c(&mut bob, "alice", "3").await;
    assert_eq!(
        unread(&mut alice_phone, "c2c_bob").await,
        1,
        "later messages are unread again"
    );
}

#[tokio::test]
async fn marking_a_group_conversation_read_clears_its_unread_count() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut alice_laptop = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Work", "g", &["bob"]).await;
    for text in ["1", "2", "3"] {
        send_group(&mut bob, "g", text).await;
    }
    assert_eq!(unread(&mut alice, "group_g").await, 3);
    ok(
        &mut alice,
        "markGroupMessageAsRead",
        json!({"groupID": "g"}),
    )
    .await;
    push_where(&mut alice_laptop, "onConversationChanged", |list| {
        list[0]["conversationID"] == "group_g" && list[0]["unreadCount"] == 0
    })
    .await;
    assert_eq!(unread(&mut alice, "group_g").await, 0);
    let history = ok(
        &mut alice,
        "getGroupHistoryMessageList",
        json!({"groupID": "g", "count": 10}),
    )
    .await;
    assert!(
        history
            .as_array()
            .expect("list")
            .iter()
            .all(|m| m["isRead"] == true),
        "{history}"
    );
    send_group(&mut bob, "g", "4").await;
    assert_eq!(unread(&mut alice, "group_g").await, 1);
}

#[tokio::test]
async fn cleaning_unread_up_to_a_sequence_leaves_later_messages_unread() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Public", "g", &["bob"]).await;
    for text in ["1", "2", "3", "4", "5"] {
        send_group(&mut bob, "g", text).await;
    }
    let clean = |sequence: u64| json!({"conversationID": "group_g", "cleanSequence": sequence});
    ok(&mut alice, "cleanConversationUnreadMessageCount", clean(3)).await;
    assert_eq!(unread(&mut alice, "group_g").await, 2);
    ok(&mut alice, "cleanConversationUnreadMessageCount", clean(2)).await;
    assert_eq!(
        unread(&mut alice, "group_g").await,
        2,
        "the read position never moves back"
    );
    ok(&mut alice, "cleanConversationUnreadMessageCount", clean(99)).await;
    assert_eq!(unread(&mut alice, "group_g").await, 0);

    for text in ["a", "b"] {
        send_c2c(&mut bob, "alice", text).await;
    }
    let long_ago = json!({"conversationID": "c2c_bob", "cleanTimestamp": 1});
    ok(&mut alice, "cleanConversationUnreadMessageCount", long_ago).await;
    assert_eq!(
        unread(&mut alice, "c2c_bob").await,
        2,
        "nothing was sent before the clean time"
    );
    ok(
        &mut alice,
        "cleanConversationUnreadMessageCount",
        json!({"conversationID": "c2c_bob"}),
    )
    .await;
    assert_eq!(unread(&mut alice, "c2c_bob").await, 0);
    let bad = alice
        .call(
            "cleanConversationUnreadMessageCount",
            json!({"conversationID": "chat_bob"}),
        )
        .await;
    assert_refused_naming(&bad, 6017, &["conversationID", "chat_bob"]);
}

#[tokio::test]
async fn the_conversation_list_pages_newest_first() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    // Activity happens in alphabetical order, so sorting by name cannot pass for newest first.
    for peer in ["peer-a", "peer-b", "peer-c", "peer-d", "peer-e"] {
        let mut raw = server.raw_login(peer).await;
        send_c2c(&mut raw, "alice", "hello").await;
    }
    let mut pages = Vec::new();
    let mut next_seq = 0;
    loop {
        let page = ok(
            &mut alice,
            "getConversationList",
            json!({"nextSeq": next_seq, "count": 2}),
        )
        .await;
        pages.push(ids(&page["conversationList"], "conversationID"));
        next_seq = page["nextSeq"].as_u64().expect("nextSeq");
        if page["isFinished"] == true {
            break;
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(
        pages,
        [
            vec!["c2c_peer-e", "c2c_peer-d"],
            vec!["c2c_peer-c", "c2c_peer-b"],
            vec!["c2c_peer-a"]
        ]
    );
    let mut peer_b = server.raw_login("peer-b").await;
    send_c2c(&mut peer_b, "alice", "again").await;
    let first = ok(&mut alice, "getConversationList", json!({"count": 1})).await;
    assert_eq!(
        ids(&first["conversationList"], "conversationID"),
        ["c2c_peer-b"],
        "new activity moves it to the top"
    );
    assert_eq!(first["isFinished"], false);
    // nextSeq is an orderKey: below the oldest conversation's there is nothing.
    let oldest = pages[2][0].clone();
    assert_eq!(oldest, "c2c_peer-a");
    let past_end = ok(
        &mut alice,
        "getConversationList",
        json!({"nextSeq": 1, "count": 10}),
    )
    .await;
    assert_eq!(past_end["conversationList"], json!([]));
    assert_eq!(past_end["isFinished"], true);
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c2c_history_pages_newest_first_and_continues_after_last_msg_id() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    for n in 1..=5 {
        send_c2c(&mut alice, "bob", &n.to_string()).await;
    }
    let mut pages = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let mut params = json!({"userID": "alice", "count": 2});
        if let Some(last) = &last {
            params["lastMsgID"] = json!(last);
        }
        let page = ok(&mut bob, "getC2CHistoryMessageList", params).await;
        if page == json!([]) {
            break;
        }
        pages.push(seqs(&page));
        last = page
            .as_array()
            .and_then(|p| p.last())
            .map(|m| m["msgID"].as_str().expect("msgID").to_owned());
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, [vec![5, 4], vec![3, 2], vec![1]]);
    let texts = ok(
        &mut alice,
        "getC2CHistoryMessageList",
        json!({"userID": "bob", "count": 5}),
    )
    .await;
    let texts: Vec<&str> = texts
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["textElem"]["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, ["5", "4", "3", "2", "1"]);
}

#[tokio::test]
async fn group_history_pages_newest_first_and_continues_after_last_msg_id() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Work", "g", &["bob"]).await;
    for n in 1..=4 {
        let sender = if n % 2 == 0 { &mut bob } else { &mut alice };
        send_group(sender, "g", &n.to_string()).await;
    }
    let first = ok(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "g", "count": 3}),
    )
    .await;
    assert_eq!(seqs(&first), [4, 3, 2]);
    let last = first[2]["msgID"].clone();
    let rest = ok(
        &mut bob,
        "getGroupHistoryMessageList",
        json!({"groupID": "g", "count": 3, "lastMsgID": last}),
    )
    .await;
    assert_eq!(seqs(&rest), [1]);
    assert_eq!(rest[0]["sender"], "alice");
    assert_eq!(rest[0]["isSelf"], false);
}

#[tokio::test]
async fn a_last_msg_id_from_another_conversation_is_refused() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let _bob = server.raw_login("bob").await;
    let _carol = server.raw_login("carol").await;
    create_group(&mut alice, "Work", "g", &["bob"]).await;
    let with_bob = send_c2c(&mut alice, "bob", "b").await["msgID"].clone();
    let with_carol = send_c2c(&mut alice, "carol", "c").await["msgID"].clone();
    let in_group = send_group(&mut alice, "g", "g").await["msgID"].clone();
    let response = alice
        .call(
            "getC2CHistoryMessageList",
            json!({"userID": "carol", "count": 5, "lastMsgID": with_bob}),
        )
        .await;
    assert_refused_naming(
        &response,
        6017,
        &["lastMsgID", with_bob.as_str().expect("id")],
    );
    let response = alice
        .call(
            "getC2CHistoryMessageList",
            json!({"userID": "bob", "count": 5, "lastMsgID": in_group}),
        )
        .await;
    assert_refused(&response, 6017);
    let response = alice
        .call(
            "getGroupHistoryMessageList",
            json!({"groupID": "g", "count": 5, "lastMsgID": with_carol}),
        )
        .await;
    assert_refused(&response, 6017);
    let response = alice
        .call(
            "getC2CHistoryMessageList",
            json!({"userID": "bob", "count": 5, "lastMsgID": "no-such-id"}),
        )
        .await;
    assert_refused(&response, 6017);
    let own = ok(
        &mut alice,
        "getC2CHistoryMessageList",
        json!({"userID": "bob", "count": 5, "lastMsgID": with_bob}),
    )
    .await;
    assert_eq!(own, json!([]), "its own conversation's ID is accepted");
}

// ---------------------------------------------------------------------------------------------
// Limits, devices and HTTP
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_beyond_the_burst_are_refused_with_7008_and_the_connection_stays_usable() {
    let server = TestServer::start_with(|config| {
        config.limits.requests_per_second = 1;
        config.limits.request_burst = 2;
    })
    .await;
    let mut raw = server.raw().await;
    ok(&mut raw, "logout", json!({})).await;
    ok(&mut raw, "logout", json!({})).await;
    let limited = raw
        .call(
            "login",
            json!({"userID": "alice", "userSig": server.sig("alice")}),
        )
        .await;
    assert_refused_naming(&limited, 7008, &["too many requests"]);
    let malformed = exchange(&mut raw, "{").await;
    assert_refused(&malformed, 6017);
    let deadline = Instant::now() + WAIT;
    loop {
        let login = raw
            .call(
                "login",
                json!({"userID": "alice", "userSig": server.sig("alice")}),
            )
            .await;
        if login["code"] == 0 {
            break;
        }
        assert_refused(&login, 7008);
        assert!(Instant::now() < deadline, "the bucket never refilled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_login_beyond_the_device_limit_kicks_the_oldest_session() {
    let server = TestServer::start_with(|config| config.limits.max_devices_per_user = 1).await;
    let mut first = server.raw_login("alice").await;
    let mut second = server.raw_login("alice").await;
    let kicked = first.push("onKickedOffline").await;
    assert!(
        kicked["data"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{kicked}"
    );
    refused(&mut first, "getJoinedGroupList", json!({}), 6014).await;
    ok(&mut second, "getJoinedGroupList", json!({})).await;

    let mut bob = server.raw_login("bob").await;
    let sent = send_c2c(&mut bob, "alice", "who gets this").await;
    push_where(&mut second, "onRecvNewMessage", |m| {
        m["msgID"] == sent["msgID"]
    })
    .await;

    ok(
        &mut first,
        "login",
        json!({"userID": "alice", "userSig": server.sig("alice")}),
    )
    .await;
    second.push("onKickedOffline").await;
    refused(&mut second, "getJoinedGroupList", json!({}), 6014).await;
}

#[tokio::test]
async fn healthz_answers_200_and_metrics_count_requests() {
    let server = TestServer::start().await;
    let mut raw = server.raw_login("alice").await;
    ok(&mut raw, "getJoinedGroupList", json!({})).await;
    refused(&mut raw, "noSuchMethod", json!({}), 6017).await;
    let (status, body) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let has_line = |prefix: &str, labels: &[&str]| {
        body.lines()
            .any(|line| line.starts_with(prefix) && labels.iter().all(|l| line.contains(l)))
    };
    assert!(
        has_line(
            "tidings_requests_total",
            &["method=\"getJoinedGroupList\"", "code=\"0\""]
        ),
        "{body}"
    );
    assert!(
        has_line(
            "tidings_requests_total",
            &["method=\"unknown\"", "code=\"6017\""]
        ),
        "{body}"
    );
    assert!(
        has_line(
            "tidings_request_seconds",
            &["method=\"getJoinedGroupList\""]
        ),
        "{body}"
    );
    let (status, _) = http_get(server.addr, "/nowhere").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn with_one_request_in_progress_server_wide_every_pipelined_request_is_answered_in_order() {
    let server = TestServer::start_with(|config| config.limits.max_requests_in_progress = 1).await;
    let users: Vec<String> = (0..8).map(|i| format!("u{i}")).collect();
    let mut conns = Vec::new();
    for user in &users {
        conns.push(server.raw_login(user).await);
    }
    // Every connection pipelines five requests (sends, and snapshots that hold pushes) before
    // reading any response: a permit that is not given back would leave them unanswered.
    for (i, conn) in conns.iter_mut().enumerate() {
        let peer = &users[(i + 1) % users.len()];
        for n in 0..5u64 {
            let frame = if n % 2 == 0 {
                json!({"id": 100 + n, "method": "sendMessage",
                       "params": {"receiver": peer, "textElem": {"text": format!("m{n}")}}})
            } else {
                json!({"id": 100 + n, "method": "getConversationList",
                       "params": {"nextSeq": 0, "count": 10}})
            };
            conn.send_text(&frame.to_string()).await;
        }
    }
    for conn in &mut conns {
        for n in 0..5u64 {
            let response = conn.next_response().await;
            assert_eq!(response["id"], 100 + n, "{response}");
            assert_eq!(response["code"], 0, "{response}");
        }
    }
}

#[tokio::test]
async fn every_message_receipt_carries_every_field() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    create_group(&mut alice, "Work", "g", &["bob"]).await;
    let grouped = ok(
        &mut alice,
        "sendMessage",
        json!({"groupID": "g", "textElem": {"text": "read me"}, "needReadReceipt": true}),
    )
    .await;
    let c2c = ok(
        &mut alice,
        "sendMessage",
        json!({"receiver": "bob", "textElem": {"text": "and me"}, "needReadReceipt": true}),
    )
    .await;
    let group_id = grouped["msgID"].as_str().expect("msgID");
    let c2c_id = c2c["msgID"].as_str().expect("msgID");

    let pulled = ok(
        &mut alice,
        "getMessageReadReceipts",
        json!({"messageIDList": [group_id]}),
    )
    .await;
    assert_eq!(
        pulled,
        json!([{"msgID": group_id, "userID": "", "groupID": "g", "isPeerRead": false,
                "timestamp": 0, "readCount": 0, "unreadCount": 1}])
    );
    let pulled = ok(
        &mut alice,
        "getMessageReadReceipts",
        json!({"messageIDList": [c2c_id]}),
    )
    .await;
    assert_eq!(
        pulled,
        json!([{"msgID": c2c_id, "userID": "bob", "groupID": "", "isPeerRead": false,
                "timestamp": 0, "readCount": 0, "unreadCount": 0}])
    );

    ok(
        &mut bob,
        "sendMessageReadReceipts",
        json!({"messageIDList": [c2c_id]}),
    )
    .await;
    let pushed = push_where(&mut alice, "onRecvMessageReadReceipts", |d| {
        d[0]["msgID"] == c2c_id
    })
    .await;
    let read_at = pushed[0]["timestamp"].as_i64().expect("timestamp");
    assert!(
        read_at >= c2c["timestamp"].as_i64().expect("sent at"),
        "{pushed}"
    );
    assert_eq!(
        pushed,
        json!([{"msgID": c2c_id, "userID": "bob", "groupID": "", "isPeerRead": true,
                "timestamp": read_at, "readCount": 0, "unreadCount": 0}])
    );
    ok(
        &mut bob,
        "sendMessageReadReceipts",
        json!({"messageIDList": [group_id]}),
    )
    .await;
    let pushed = push_where(&mut alice, "onRecvMessageReadReceipts", |d| {
        d[0]["msgID"] == group_id
    })
    .await;
    assert_eq!(
        pushed,
        json!([{"msgID": group_id, "userID": "", "groupID": "g", "isPeerRead": false,
                "timestamp": 0, "readCount": 1, "unreadCount": 0}])
    );
}

#[tokio::test]
async fn get_conversation_and_the_total_unread_count_with_read_positions() {
    let server = TestServer::start().await;
    let mut alice = server.raw_login("alice").await;
    let mut bob = server.raw_login("bob").await;
    let mut carol = server.raw_login("carol").await;
    create_group(&mut alice, "Work", "g", &["bob"]).await;
    for text in ["one", "two"] {
        send_c2c(&mut bob, "alice", text).await;
    }
    for text in ["a", "b", "c"] {
        send_group(&mut bob, "g", text).await;
    }
    let total = ok(&mut alice, "getTotalUnreadMessageCount", json!({})).await;
    assert_eq!(total, json!(5));

    let c2c = ok(
        &mut alice,
        "getConversation",
        json!({"conversationID": "c2c_bob"}),
    )
    .await;
    assert_eq!(c2c, conversation(&mut alice, "c2c_bob").await);
    assert_eq!(
        (
            &c2c["unreadCount"],
            &c2c["c2cReadTimestamp"],
            &c2c["groupReadSequence"]
        ),
        (&json!(2), &json!(0), &json!(0))
    );
    ok(
        &mut alice,
        "cleanConversationUnreadMessageCount",
        json!({"conversationID": "group_g", "cleanSequence": 2}),
    )
    .await;
    let group = ok(
        &mut alice,
        "getConversation",
        json!({"conversationID": "group_g"}),
    )
    .await;
    assert_eq!(
        (
            &group["unreadCount"],
            &group["groupReadSequence"],
            &group["c2cReadTimestamp"]
        ),
        (&json!(1), &json!(2), &json!(0))
    );
    assert_eq!(
        ok(&mut alice, "getTotalUnreadMessageCount", json!({})).await,
        json!(3)
    );
    ok(&mut alice, "markC2CMessageAsRead", json!({"userID": "bob"})).await;
    let c2c = ok(
        &mut alice,
        "getConversation",
        json!({"conversationID": "c2c_bob"}),
    )
    .await;
    assert_eq!(c2c["unreadCount"], 0);
    assert!(
        c2c["c2cReadTimestamp"].as_i64().unwrap_or(0)
            >= c2c["lastMessage"]["timestamp"].as_i64().unwrap_or(i64::MAX),
        "{c2c}"
    );
    assert_eq!(
        ok(&mut alice, "getTotalUnreadMessageCount", json!({})).await,
        json!(1)
    );

    refused(
        &mut alice,
        "getConversation",
        json!({"conversationID": "c2c"}),
        6017,
    )
    .await;
    refused(
        &mut alice,
        "getConversation",
        json!({"conversationID": "c2c_nobody"}),
        20003,
    )
    .await;
    refused(
        &mut alice,
        "getConversation",
        json!({"conversationID": "group_nope"}),
        10010,
    )
    .await;
    refused(
        &mut carol,
        "getConversation",
        json!({"conversationID": "group_g"}),
        10007,
    )
    .await;
    assert_eq!(
        ok(&mut carol, "getTotalUnreadMessageCount", json!({})).await,
        json!(0)
    );
}
