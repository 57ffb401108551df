//! Frame-level tests of the WebSocket protocol: envelope errors, login rules, and every
//! refusal, driven through raw JSON frames.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn requests_before_login_are_refused_and_the_connection_stays_usable() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let refused = raw.call("sendMessage", json!({"receiver": "bob", "textElem": {"text": "hi"}})).await;
    assert_eq!(refused["code"], 6014, "{refused}");
    let login = raw.call("login", json!({"userID": "alice", "userSig": server.sig("alice")})).await;
    assert_eq!(login["code"], 0, "{login}");
}
