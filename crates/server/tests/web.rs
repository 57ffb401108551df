//! The web chat's server side: the page and its files at `/`, and demo mode (`POST
//! /demo/usersig`, 404 unless demo mode is on, and the seeded demo users and group).

mod common;

use std::net::SocketAddr;

use common::{TestData, TestServer};
use serde_json::{Value, json};
use tidings_server::{Config, DEMO_GROUP, DEMO_USERS, Server, seed_demo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain HTTP/1.1 response.
struct HttpResponse {
    status: u16,
    headers: String,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("JSON body expected ({e}): {}", self.body))
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut raw = Vec::new();
    tokio::time::timeout(common::WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .expect("reads");
    let text = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body = if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpResponse {
        status,
        headers: headers.to_owned(),
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

#[tokio::test]
async fn the_page_and_its_files_are_served_at_the_root() {
    let server = TestServer::start().await;
    let page = http(server.addr, "GET", "/", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{}",
        page.headers
    );
    assert!(
        page.body
            .contains("<script type=\"module\" src=\"/js/main.js\"></script>"),
        "the page loads its entry module"
    );
    assert!(page.body.contains("data-testid=\"login-form\""));

    // Every module the entry module imports, directly or not, is served as JavaScript, and
    // every file of web/js is among them (a module left out of the binary fails here).
    let mut pending = vec!["main.js".to_owned()];
    let mut served = std::collections::BTreeMap::new();
    while let Some(name) = pending.pop() {
        if served.contains_key(&name) {
            continue;
        }
        let script = http(server.addr, "GET", &format!("/js/{name}"), None).await;
        assert_eq!(script.status, 200, "/js/{name}");
        assert!(
            script
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/javascript")),
            "/js/{name}"
        );
        for line in script.body.lines().filter(|l| l.starts_with("import ")) {
            let imported = line
                .rsplit("from './")
                .next()
                .and_then(|rest| rest.split('\'').next())
                .expect("a relative import");
            pending.push(imported.to_owned());
        }
        served.insert(name, script.body);
    }
    let on_disk: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/js"))
            .expect("web/js")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .into_string()
                    .expect("name")
            })
            .collect();
    let mut on_disk = on_disk;
    on_disk.sort();
    assert_eq!(served.keys().cloned().collect::<Vec<_>>(), on_disk);
    let all: String = served.values().cloned().collect();
    for method in [
        "login",
        "sendMessageReadReceipts",
        "getMessageReadReceipts",
        "getGroupMessageReadMemberList",
    ] {
        assert!(
            all.contains(&format!("'{method}'")),
            "the page calls {method}"
        );
    }
    assert_eq!(
        http(server.addr, "GET", "/js/missing.js", None)
            .await
            .status,
        404
    );

    let style = http(server.addr, "GET", "/style.css", None).await;
    assert_eq!(style.status, 200);
    assert!(
        style
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/css"))
    );
}

#[tokio::test]
async fn demo_usersig_is_not_found_without_demo_mode() {
    let server = TestServer::start().await;
    let answer = http(
        server.addr,
        "POST",
        "/demo/usersig",
        Some(r#"{"userID":"alice"}"#),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert!(
        !answer.body.contains("userSig"),
        "no UserSig without demo mode: {}",
        answer.body
    );
    // Whatever the body: the check comes first.
    assert_eq!(
        http(server.addr, "POST", "/demo/usersig", Some("not json"))
            .await
            .status,
        404
    );
    // The page itself is there, and asks for a UserSig (it learns the mode from that 404).
    assert_eq!(http(server.addr, "GET", "/", None).await.status, 200);
}

#[tokio::test]
async fn demo_usersig_signs_a_usersig_that_logs_in() {
    let server = TestServer::start_with(|config| config.demo = true).await;
    let answer = http(
        server.addr,
        "POST",
        "/demo/usersig",
        Some(r#"{"userID":"erin"}"#),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = answer.json();
    assert_eq!(data["userID"], "erin");
    assert_eq!(data["sdkAppID"], Config::default().sdkappid);
    let user_sig = data["userSig"].as_str().expect("userSig string");
    assert!(!user_sig.is_empty());

    let mut raw = server.raw().await;
    let login = raw
        .call("login", json!({"userID": "erin", "userSig": user_sig}))
        .await;
    assert_eq!(login["code"], 0, "the demo UserSig logs in: {login}");
    // The UserSig is for that user only.
    let mut other = server.raw().await;
    let refused = other
        .call("login", json!({"userID": "mallory", "userSig": user_sig}))
        .await;
    assert_eq!(refused["code"], 70013, "{refused}");

    // Bad requests are refused, and the App administrator's UserSig is never handed out.
    assert_eq!(
        http(
            server.addr,
            "POST",
            "/demo/usersig",
            Some(r#"{"userID":"a b"}"#)
        )
        .await
        .status,
        400
    );
    assert_eq!(
        http(server.addr, "POST", "/demo/usersig", Some("{}"))
            .await
            .status,
        400
    );
    let admin = format!(r#"{{"userID":"{}"}}"#, Config::default().admin);
    assert_eq!(
        http(server.addr, "POST", "/demo/usersig", Some(&admin))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn a_short_demo_usersig_expires() {
    let server = TestServer::start_with(|config| config.demo = true).await;
    let answer = http(
        server.addr,
        "POST",
        "/demo/usersig",
        Some(r#"{"userID":"erin","expire":1}"#),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let user_sig = answer.json()["userSig"]
        .as_str()
        .expect("userSig")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let mut raw = server.raw().await;
    let login = raw
        .call("login", json!({"userID": "erin", "userSig": user_sig}))
        .await;
    assert_eq!(login["code"], 70001, "expired: {login}");
}

#[tokio::test]
async fn demo_users_and_group_are_seeded_once() {
    let data = TestData::new().await;
    let mut config = Config {
        secret_key: Some("tidings-web-test-key".into()),
        demo: true,
        ..Config::default()
    };
    data.configure(&mut config);
    config.store.synchronous = "normal".into();
    let server = Server::open(&config).await.expect("server opens");
    seed_demo(server.state()).await.expect("seeds");
    seed_demo(server.state())
        .await
        .expect("seeding again (a restart) is fine");
    let auth = server.state().auth.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    let url = format!("ws://{addr}/ws");
    let (bob, _events) = tidings_sdk::Client::connect(&url, "bob", &auth.sign("bob", 600))
        .await
        .expect("bob logs in");
    let groups = bob.get_joined_group_list().await.expect("groups");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].group_id, DEMO_GROUP);
    assert_eq!(groups[0].owner, DEMO_USERS[0].0);
    assert_eq!(groups[0].member_count, DEMO_USERS.len() as u64);
    let members = bob
        .get_group_member_list(DEMO_GROUP, 0, 0)
        .await
        .expect("members");
    let mut seen: Vec<(String, String)> = members
        .member_info_list
        .into_iter()
        .map(|m| (m.user_id, m.nick_name))
        .collect();
    seen.sort();
    let expected: Vec<(String, String)> = DEMO_USERS
        .iter()
        .map(|(id, nick)| ((*id).to_owned(), (*nick).to_owned()))
        .collect();
    assert_eq!(seen, expected);

    let _ = stop.send(());
    task.await.expect("joins").expect("serves");
}
