//! Moderation before delivery through the whole server: Tencent's `C2C.CallbackBeforeSendMsg`
//! and `Group.CallbackBeforeSendMsg` asked of a real HTTP backend on 127.0.0.1:0, which answers
//! allow, refuse, its own code, a changed body, a silent drop, nothing in time, an HTTP error or
//! garbage; over the SDK and REST, with the codes the sender gets, what history holds and what
//! after-events follow.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use common::{TestServer, WAIT, next_event};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tidings_sdk::{
    Client, CreateGroupParams, GroupMemberSpec, GroupRole, SdkError, SdkEvent, SendMessageParams,
    TextElem,
};
use tidings_server::WebhookSettings;
use tidings_server::webhook::BeforeSendSettings;

const ADMIN: &str = "administrator";
const TOKEN: &str = "hook-token";

/// What the backend answers.
#[derive(Debug, Clone)]
enum Answer {
    /// HTTP 200 with this JSON.
    Json(Value),
    /// This HTTP status.
    Status(StatusCode),
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Never answers.
    Hang,
}

/// One request as the backend saw it.
#[derive(Debug, Clone)]
struct Asked {
    query: HashMap<String, String>,
    body: Value,
}

#[derive(Clone)]
struct Log {
    answer: Arc<Mutex<Answer>>,
    asked: Arc<Mutex<Vec<Asked>>>,
}

async fn answer(
    State(log): State<Log>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let before = body["CallbackCommand"]
        .as_str()
        .is_some_and(|c| c.ends_with("CallbackBeforeSendMsg"));
    log.asked.lock().expect("log").push(Asked { query, body });
    if !before {
        // After-events: acknowledged, whatever the before-send answer is.
        return (StatusCode::OK, json!({ "ErrorCode": 0 }).to_string());
    }
    let answer = log.answer.lock().expect("log").clone();
    match answer {
        Answer::Json(value) => (StatusCode::OK, value.to_string()),
        Answer::Status(status) => (status, "failed".into()),
        Answer::Garbage => (StatusCode::OK, "<html>not json</html>".into()),
        Answer::Hang => std::future::pending().await,
    }
}

/// The app's backend: an HTTP server on 127.0.0.1:0.
struct Backend {
    url: String,
    log: Log,
}

impl Backend {
    async fn start() -> Self {
        let log = Log {
            answer: Arc::new(Mutex::new(Answer::Json(json!({ "ErrorCode": 0 })))),
            asked: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(answer))
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

    fn answer(&self, answer: Answer) {
        *self.log.answer.lock().expect("log") = answer;
    }

    fn answer_json(&self, value: Value) {
        self.answer(Answer::Json(value));
    }

    /// The requests of `command` received so far.
    fn asked(&self, command: &str) -> Vec<Asked> {
        self.log
            .asked
            .lock()
            .expect("log")
            .iter()
            .filter(|asked| asked.body["CallbackCommand"] == command)
            .cloned()
            .collect()
    }

    /// The last before-send question of `command`.
    fn last(&self, command: &str) -> Asked {
        self.asked(command).pop().expect("the backend was asked")
    }

    /// Waits for an after-event `command` whose body `pick` accepts.
    async fn after_event(&self, command: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(asked) = self.asked(command).into_iter().find(|a| pick(&a.body)) {
                return asked.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {command} arrived"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn hooks_on(url: &str) -> WebhookSettings {
    WebhookSettings {
        url: url.to_owned(),
        token: TOKEN.into(),
        before_send_msg: BeforeSendSettings {
            c2c: true,
            group: true,
            ..BeforeSendSettings::default()
        },
    }
}

async fn server_with_hooks(backend: &Backend) -> TestServer {
    let settings = hooks_on(&backend.url);
    TestServer::start_with(|config| config.webhook = settings).await
}

fn code(result: Result<impl std::fmt::Debug, SdkError>) -> (u32, String) {
    match result {
        Err(SdkError::Server { code, desc }) => (code, desc),
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

fn texts(messages: &[tidings_sdk::Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m.text_elem
                .as_ref()
                .map(|t| t.text.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn text_body(text: &str) -> Value {
    json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": text } }])
}

fn text_of_body(body: &Value) -> &Value {
    &body["MsgBody"][0]["MsgContent"]["Text"]
}

/// hex(sha256(token + RequestTime)), computed independently of the server.
fn expected_sign(request_time: &str) -> String {
    Sha256::digest(format!("{TOKEN}{request_time}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn work_group(owner: &Client, members: &[&str]) -> String {
    owner
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_name: "team".into(),
            member_list: members
                .iter()
                .map(|user| GroupMemberSpec {
                    user_id: (*user).into(),
                    role: GroupRole::Member,
                })
                .collect(),
            group_id: None,
        })
        .await
        .expect("group created")
}

/// A REST call's `(ActionStatus, ErrorCode)`.
async fn rest_status(server: &TestServer, path: &str, body: Value) -> (String, u64) {
    let reply = server.rest(path, body).await;
    (
        reply["ActionStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        reply["ErrorCode"].as_u64().unwrap_or(u64::MAX),
    )
}

fn ok() -> (String, u64) {
    ("OK".into(), 0)
}

fn failed(code: u64) -> (String, u64) {
    ("FAIL".into(), code)
}

#[tokio::test]
async fn c2c_verdicts_over_the_sdk() {
    let backend = Backend::start().await;
    let server = server_with_hooks(&backend).await;
    let (alice, _alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;

    // Allowed: sent, and the question was Tencent's, signed, with the message before storing.
    let hello = alice.send_text("bob", "hello").await.unwrap();
    let asked = backend.last("C2C.CallbackBeforeSendMsg");
    let q = |name: &str| asked.query.get(name).cloned().unwrap_or_default();
    assert_eq!(
        (
            q("SdkAppid"),
            q("CallbackCommand"),
            q("contenttype"),
            q("ClientIP"),
            q("OptPlatform")
        ),
        (
            "1400000000".into(),
            "C2C.CallbackBeforeSendMsg".into(),
            "json".into(),
            "127.0.0.1".into(),
            "Web".into()
        )
    );
    assert_eq!(q("Sign"), expected_sign(&q("RequestTime")));
    let mut body = asked.body.clone();
    let event_time = body
        .as_object_mut()
        .and_then(|b| b.remove("EventTime"))
        .and_then(|t| t.as_i64());
    assert!(event_time.is_some_and(|t| t / 1000 >= hello.timestamp - 1));
    assert_eq!(
        body,
        json!({
            "CallbackCommand": "C2C.CallbackBeforeSendMsg",
            "From_Account": "alice",
            "To_Account": "bob",
            "MsgRandom": 0,
            "MsgTime": hello.timestamp,
            "MsgKey": hello.msg_id,
            "MsgId": hello.msg_id,
            "OnlineOnlyFlag": 0,
            "MsgBody": text_body("hello"),
            "CloudCustomData": "",
        })
    );

    // Refused: 20006, and then with the backend's own code and text.
    backend.answer_json(json!({ "ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "ignored" }));
    let refused = alice
        .send_message(SendMessageParams {
            receiver: Some("bob".into()),
            text_elem: Some(TextElem {
                text: "refused".into(),
            }),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await;
    assert_eq!(
        code(refused),
        (
            20006,
            "the app's backend refused this message (C2C.CallbackBeforeSendMsg)".into()
        )
    );
    let refused_id = backend.last("C2C.CallbackBeforeSendMsg").body["MsgId"]
        .as_str()
        .expect("MsgId")
        .to_owned();
    backend.answer_json(
        json!({ "ActionStatus": "FAIL", "ErrorCode": 120_123, "ErrorInfo": "no links, please" }),
    );
    assert_eq!(
        code(alice.send_text("bob", "http://spam").await),
        (120_123, "no links, please".into())
    );

    // Changed: the changed body is what the sender, the receiver and history get.
    backend.answer_json(json!({
        "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
        "MsgBody": text_body("***"), "CloudCustomData": "moderated",
    }));
    let changed = alice.send_text("bob", "darn").await.unwrap();
    assert_eq!(
        (
            changed.text_elem.clone(),
            changed.cloud_custom_data.as_str()
        ),
        (Some(TextElem { text: "***".into() }), "moderated")
    );
    let received = next_event(&mut bob_events, |event| match event {
        SdkEvent::RecvNewMessage(m) if m.msg_id == changed.msg_id => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(received.text_elem, Some(TextElem { text: "***".into() }));

    // Dropped silently: a success for the sender, with no sequence; nothing else.
    backend.answer_json(json!({ "ErrorCode": 2 }));
    let dropped = alice.send_text("bob", "dropped").await.unwrap();
    assert_eq!(
        (dropped.seq, dropped.text_elem.clone()),
        (
            0,
            Some(TextElem {
                text: "dropped".into()
            })
        )
    );

    backend.answer_json(json!({ "ErrorCode": 0 }));
    let last = alice.send_text("bob", "last").await.unwrap();
    let history = bob
        .get_c2c_history_message_list("alice", 20, None)
        .await
        .unwrap();
    assert_eq!(texts(&history), ["last", "***", "hello"]);
    assert_eq!(bob.get_total_unread_message_count().await.unwrap(), 3);
    // The refused message asked for receipts: it has no receipt state.
    assert_eq!(
        code(
            alice
                .get_message_read_receipts(vec![refused_id.clone()])
                .await
        )
        .0,
        10062
    );
    assert_eq!(
        code(bob.send_message_read_receipts(vec![refused_id]).await).0,
        10062
    );

    // After-events: for the messages sent only, the changed one as changed.
    backend
        .after_event("C2C.CallbackAfterSendMsg", |b| b["MsgKey"] == last.msg_id)
        .await;
    let after: Vec<Value> = backend
        .asked("C2C.CallbackAfterSendMsg")
        .iter()
        .map(|a| text_of_body(&a.body).clone())
        .collect();
    assert_eq!(after, [json!("hello"), json!("***"), json!("last")]);
}

#[tokio::test]
async fn group_verdicts_over_the_sdk() {
    let backend = Backend::start().await;
    let server = server_with_hooks(&backend).await;
    let (alice, _alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    let (carol, _carol_events) = server.client("carol").await;
    let group = work_group(&alice, &["bob"]).await;

    alice.send_group_text(&group, "hello").await.unwrap();
    let asked = backend.last("Group.CallbackBeforeSendMsg").body;
    assert_eq!(
        (
            &asked["GroupId"],
            &asked["Type"],
            &asked["From_Account"],
            &asked["Operator_Account"],
            asked.get("MsgSeq"),
            text_of_body(&asked)
        ),
        (
            &json!(group),
            &json!("Private"),
            &json!("alice"),
            &json!("alice"),
            None,
            &json!("hello")
        )
    );

    backend.answer_json(json!({ "ErrorCode": 1 }));
    assert_eq!(
        code(alice.send_group_text(&group, "refused").await),
        (
            10016,
            "the app's backend refused this message (Group.CallbackBeforeSendMsg)".into()
        )
    );
    backend.answer_json(json!({ "ErrorCode": 129_999, "ErrorInfo": "slow down" }));
    assert_eq!(
        code(bob.send_group_text(&group, "flood").await),
        (129_999, "slow down".into())
    );
    // A non-member is refused by the server; the backend is not asked.
    let questions = backend.asked("Group.CallbackBeforeSendMsg").len();
    assert_eq!(
        code(carol.send_group_text(&group, "let me in").await).0,
        10007
    );
    assert_eq!(
        backend.asked("Group.CallbackBeforeSendMsg").len(),
        questions
    );

    backend.answer_json(json!({
        "ErrorCode": 0,
        "MsgBody": [{ "MsgType": "TIMCustomElem", "MsgContent": { "Data": "{\"hidden\":1}", "Desc": "hidden" } }],
    }));
    let changed = alice.send_group_text(&group, "bad words").await.unwrap();
    let received = next_event(&mut bob_events, |event| match event {
        SdkEvent::RecvNewMessage(m) if m.msg_id == changed.msg_id => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (
            received.text_elem,
            received.custom_elem.map(|c| (c.data, c.desc))
        ),
        (None, Some(("{\"hidden\":1}".into(), "hidden".into())))
    );

    backend.answer_json(json!({ "ErrorCode": 2 }));
    assert_eq!(
        alice.send_group_text(&group, "dropped").await.unwrap().seq,
        0
    );
    let history = bob
        .get_group_history_message_list(&group, 20, None)
        .await
        .unwrap();
    let seqs: Vec<(u64, bool)> = history
        .iter()
        .map(|m| (m.seq, m.custom_elem.is_some()))
        .collect();
    assert_eq!(
        seqs,
        [(2, true), (1, false)],
        "no gap: nothing refused took a seq"
    );
}

#[tokio::test]
async fn rest_sends_ask_the_backend_unless_told_not_to() {
    let backend = Backend::start().await;
    let server = server_with_hooks(&backend).await;
    server
        .rest(
            "im_open_login_svc/multiaccount_import",
            json!({ "Accounts": ["alice", "bob"] }),
        )
        .await;
    let group = server
        .rest(
            "group_open_http_svc/create_group",
            json!({ "Owner_Account": "alice", "Type": "Public", "Name": "team",
                    "MemberList": [{ "Member_Account": "bob" }] }),
        )
        .await["GroupId"]
        .as_str()
        .expect("GroupId")
        .to_owned();
    let c2c = |text: &str| json!({ "From_Account": "alice", "To_Account": "bob", "MsgRandom": 5, "MsgBody": text_body(text) });
    let in_group =
        |text: &str| json!({ "GroupId": group, "Random": 5, "MsgBody": text_body(text) });

    backend.answer_json(json!({ "ErrorCode": 1 }));
    assert_eq!(
        rest_status(&server, "openim/sendmsg", c2c("no")).await,
        failed(20006)
    );
    let asked = backend.last("C2C.CallbackBeforeSendMsg");
    assert_eq!(
        (
            asked.query["OptPlatform"].as_str(),
            &asked.body["MsgRandom"]
        ),
        ("RESTAPI", &json!(5))
    );
    assert_eq!(
        rest_status(
            &server,
            "group_open_http_svc/send_group_msg",
            in_group("no")
        )
        .await,
        failed(10016)
    );
    let asked = backend.last("Group.CallbackBeforeSendMsg").body;
    assert_eq!(
        (
            &asked["From_Account"],
            &asked["Operator_Account"],
            &asked["Type"]
        ),
        (&json!(ADMIN), &json!(ADMIN), &json!("Public"))
    );
    backend.answer_json(json!({ "ErrorCode": 120_001, "ErrorInfo": "policy" }));
    let reply = server.rest("openim/sendmsg", c2c("no")).await;
    assert_eq!(
        (
            &reply["ActionStatus"],
            &reply["ErrorCode"],
            &reply["ErrorInfo"]
        ),
        (&json!("FAIL"), &json!(120_001), &json!("policy"))
    );
    assert_eq!(
        rest_status(
            &server,
            "group_open_http_svc/send_group_msg",
            in_group("no")
        )
        .await,
        failed(120_001)
    );

    // ForbidCallbackControl skips the question (and, for the after-event, that callback).
    let questions = backend.asked("C2C.CallbackBeforeSendMsg").len()
        + backend.asked("Group.CallbackBeforeSendMsg").len();
    let mut forbidden = c2c("forbidden");
    forbidden["ForbidCallbackControl"] = json!(["ForbidBeforeSendMsgCallback"]);
    assert_eq!(
        rest_status(&server, "openim/sendmsg", forbidden).await,
        ok()
    );
    let mut forbidden = in_group("forbidden");
    forbidden["ForbidCallbackControl"] =
        json!(["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"]);
    assert_eq!(
        rest_status(&server, "group_open_http_svc/send_group_msg", forbidden).await,
        ok()
    );
    // Tencent asks before sendmsg only: not before a batch.
    let batch = json!({ "From_Account": "alice", "To_Account": ["bob"], "MsgRandom": 6, "MsgBody": text_body("batch") });
    assert_eq!(
        rest_status(&server, "openim/batchsendmsg", batch).await,
        ok()
    );
    assert_eq!(
        backend.asked("C2C.CallbackBeforeSendMsg").len()
            + backend.asked("Group.CallbackBeforeSendMsg").len(),
        questions
    );

    // Changed over REST: stored changed.
    backend.answer_json(json!({ "ErrorCode": 0, "MsgBody": text_body("clean") }));
    assert_eq!(
        rest_status(&server, "openim/sendmsg", c2c("dirty")).await,
        ok()
    );
    let (bob, _events) = server.client("bob").await;
    let history = bob
        .get_c2c_history_message_list("alice", 20, None)
        .await
        .unwrap();
    assert_eq!(texts(&history), ["clean", "batch", "forbidden"]);
    let history = bob
        .get_group_history_message_list(&group, 20, None)
        .await
        .unwrap();
    assert_eq!(texts(&history), ["forbidden"]);
}

#[tokio::test]
async fn without_an_answer_the_configured_default_applies() {
    let backend = Backend::start().await;
    let mut settings = hooks_on(&backend.url);
    settings.before_send_msg.timeout_ms = 200;
    let server = TestServer::start_with(|config| config.webhook = settings).await;
    let (alice, _alice_events) = server.client("alice").await;
    let (bob, _bob_events) = server.client("bob").await;
    let group = work_group(&alice, &["bob"]).await;
    let failures = [
        ("hang", Answer::Hang),
        ("status", Answer::Status(StatusCode::INTERNAL_SERVER_ERROR)),
        ("garbage", Answer::Garbage),
        ("unknown code", Answer::Json(json!({ "ErrorCode": 7 }))),
        ("no code", Answer::Json(json!({ "ActionStatus": "OK" }))),
        (
            "bad body",
            Answer::Json(json!({ "ErrorCode": 0, "MsgBody": [{ "MsgType": "TIMNopeElem" }] })),
        ),
    ];

    // Tencent's default: sent unchanged.
    for (what, answer) in failures.clone() {
        backend.answer(answer);
        let sent = alice.send_text("bob", what).await;
        assert_eq!(
            sent.map(|m| m.text_elem),
            Ok(Some(TextElem { text: what.into() }))
        );
        assert!(alice.send_group_text(&group, what).await.is_ok(), "{what}");
    }

    // Refuse when the backend cannot be asked: set at runtime over REST.
    let reply = server
        .rest(
            "tidings/set_settings",
            json!({ "Webhook": { "BeforeSendMsg": { "OnFailure": "deny" } } }),
        )
        .await;
    assert_eq!(
        reply["Webhook"]["BeforeSendMsg"],
        json!({ "C2C": true, "Group": true, "TimeoutMs": 200, "OnFailure": "deny" })
    );
    for (what, answer) in failures {
        backend.answer(answer);
        assert_eq!(
            code(alice.send_text("bob", "lost").await).0,
            20006,
            "{what}"
        );
        assert_eq!(
            code(alice.send_group_text(&group, "lost").await).0,
            10016,
            "{what}"
        );
    }
    // Unreachable.
    server
        .rest(
            "tidings/set_settings",
            json!({ "Webhook": { "Url": "http://127.0.0.1:1/hook" } }),
        )
        .await;
    let (code_, desc) = code(alice.send_text("bob", "lost").await);
    assert_eq!(code_, 20006);
    assert!(
        desc.starts_with(
            "the app's backend could not be asked about this message (C2C.CallbackBeforeSendMsg: no answer"
        ),
        "{desc}"
    );
    // Hooks off for C2C: sent without asking.
    server
        .rest(
            "tidings/set_settings",
            json!({ "Webhook": { "BeforeSendMsg": { "C2C": false } } }),
        )
        .await;
    alice.send_text("bob", "unmoderated").await.unwrap();
    assert_eq!(code(alice.send_group_text(&group, "lost").await).0, 10016);

    // Every question that got no usable answer was counted (only this test's fail, and the
    // recorder is the process's).
    let metrics = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let failed: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("tidings_webhooks_before_send_total{result=\"failed\"}"))
        .collect();
    assert_eq!(
        failed,
        ["tidings_webhooks_before_send_total{result=\"failed\"} 26"]
    );

    let history = bob
        .get_c2c_history_message_list("alice", 20, None)
        .await
        .unwrap();
    assert_eq!(
        texts(&history),
        [
            "unmoderated",
            "bad body",
            "no code",
            "unknown code",
            "garbage",
            "status",
            "hang"
        ]
    );
}
