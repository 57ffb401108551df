//! Bounded versions of the resource-exhaustion attacks of issue 15, each against an in-process
//! server on 127.0.0.1:0: what an attacker holds open must be refused or closed, and the server
//! must keep serving others. (Long runs of the same attacks belong to `tidings bench`.)

mod common;

use std::net::SocketAddr;

use common::{TestServer, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const ADMIN: &str = "administrator";

/// One HTTP/1.1 response read off a raw connection: its status and its body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let read = async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "connection closed before a whole response: {received:?}"
            );
            received.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&received).into_owned();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("a Content-Length header");
            if body.len() >= length {
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
                return (status.expect("status line"), body[..length].to_owned());
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("a response within the wait")
}

/// Opens a connection and sends a REST request head that promises a body of `promised` bytes,
/// then only `sent` of them.
async fn stalled_rest_request(
    addr: SocketAddr,
    query: &str,
    promised: usize,
    sent: usize,
) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v4/im_open_login_svc/account_import?{query} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Length: {promised}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream
        .write_all(&vec![b' '; sent])
        .await
        .expect("write part of the body");
    stream
}

fn reply_code(body: &str) -> u64 {
    let reply: Value = serde_json::from_str(body).expect("JSON reply");
    reply["ErrorCode"].as_u64().expect("ErrorCode")
}

#[tokio::test]
async fn unauthenticated_rest_requests_are_refused_without_waiting_for_their_bodies() {
    let server = TestServer::start().await;
    // Each promises just under the 1 MiB limit and stalls after 64 KiB: before the fix the
    // server buffered what came and waited for the rest, for as long as the client liked.
    let mut attackers = Vec::new();
    for _ in 0..20 {
        let query = format!("sdkappid=1400000000&identifier={ADMIN}&usersig=forged");
        attackers.push(stalled_rest_request(server.addr, &query, 1024 * 1024 - 1, 64 * 1024).await);
    }
    for stream in &mut attackers {
        let (status, body) = read_response(stream).await;
        assert_eq!((status, reply_code(&body)), (200, 70003), "{body}");
    }
}

#[tokio::test]
async fn an_authenticated_rest_body_that_stalls_is_refused_after_the_body_timeout() {
    let server = TestServer::start_with(|config| config.limits.http_body_timeout_ms = 200).await;
    let query = format!(
        "sdkappid=1400000000&identifier={ADMIN}&usersig={}",
        server.sig(ADMIN)
    );
    let mut stream = stalled_rest_request(server.addr, &query, 1000, 10).await;
    let (status, body) = read_response(&mut stream).await;
    let reply: Value = serde_json::from_str(&body).expect("JSON reply");
    assert_eq!(status, 200);
    assert_eq!(reply["ErrorCode"], 70402, "{reply}");
    assert_eq!(reply["ErrorInfo"], "body not received within 200 ms");
}

/// A WebSocket client on a bare TCP stream: it answers nothing by itself (no pongs), so a test
/// sees every frame the server sends, in order.
struct BareWs {
    stream: TcpStream,
    read: Vec<u8>,
}

/// A frame the server sent: its opcode and payload.
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;

impl BareWs {
    async fn connect(addr: SocketAddr) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(head.as_bytes())
            .await
            .expect("write upgrade");
        let mut ws = Self {
            stream,
            read: Vec::new(),
        };
        let end = loop {
            if let Some(end) = ws.read.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            ws.fill().await;
        };
        let head = String::from_utf8_lossy(&ws.read[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        ws.read.drain(..end);
        ws
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("bytes within the wait")
            .expect("read");
        assert!(n > 0, "connection closed by the server");
        self.read.extend_from_slice(&chunk[..n]);
    }

    /// Sends a masked text frame (a zero mask key leaves the payload as is).
    async fn send_text(&mut self, text: &str) {
        let mut frame = vec![0x80 | OP_TEXT];
        let length = text.len();
        if length < 126 {
            frame.push(0x80 | u8::try_from(length).expect("short"));
        } else {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&u16::try_from(length).expect("fits").to_be_bytes());
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(text.as_bytes());
        self.stream.write_all(&frame).await.expect("write frame");
    }

    /// The next frame the server sent (the server never masks, and its frames here are short).
    async fn next(&mut self) -> Frame {
        loop {
            if self.read.len() >= 2 {
                let (header, length) = match self.read[1] {
                    126 if self.read.len() >= 4 => (
                        4,
                        usize::from(u16::from_be_bytes([self.read[2], self.read[3]])),
                    ),
                    126 => (usize::MAX, 0),
                    short => (2, usize::from(short)),
                };
                if header != usize::MAX && self.read.len() >= header + length {
                    let opcode = self.read[0] & 0x0f;
                    let payload = self.read[header..header + length].to_vec();
                    self.read.drain(..header + length);
                    return Frame { opcode, payload };
                }
            }
            self.fill().await;
        }
    }
}

/// The close frame `code` and `reason` as a payload.
fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

#[tokio::test]
async fn a_websocket_that_does_not_log_in_is_closed_after_the_login_timeout() {
    // Long enough for the logged-in part below to log in in time on a loaded machine.
    let server = TestServer::start_with(|config| config.limits.login_timeout_ms = 2000).await;
    let mut idle = BareWs::connect(server.addr).await;
    assert_eq!(
        idle.next().await,
        Frame {
            opcode: OP_CLOSE,
            payload: close_payload(1008, "no login within the login timeout"),
        }
    );
    // A logout starts the clock again.
    let mut raw = server.raw_login("alice").await;
    assert_eq!(raw.call("logout", json!({})).await["code"], 0);
    let closed = loop {
        match tokio::time::timeout(WAIT, raw.ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame.expect("a close frame"),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed.code, CloseCode::Policy);
    assert_eq!(closed.reason.as_str(), "no login within the login timeout");
}

#[tokio::test]
async fn a_websocket_client_that_does_not_answer_pings_is_closed() {
    let server = TestServer::start_with(|config| config.limits.ping_interval_ms = 100).await;
    let mut silent = BareWs::connect(server.addr).await;
    let login = json!({"id": 1, "method": "login",
        "params": {"userID": "alice", "userSig": server.sig("alice")}});
    silent.send_text(&login.to_string()).await;
    let response = silent.next().await;
    assert_eq!(response.opcode, OP_TEXT);
    let response: Value = serde_json::from_slice(&response.payload).expect("JSON");
    assert_eq!(response["code"], 0, "{response}");
    assert_eq!(
        silent.next().await,
        Frame {
            opcode: OP_PING,
            payload: Vec::new(),
        }
    );
    assert_eq!(
        silent.next().await,
        Frame {
            opcode: OP_CLOSE,
            payload: close_payload(1008, "no answer to ping"),
        }
    );
}

#[tokio::test]
async fn a_websocket_client_that_answers_pings_stays_connected() {
    // Long enough for a pong to arrive within an interval on a loaded machine.
    let server = TestServer::start_with(|config| config.limits.ping_interval_ms = 1000).await;
    let mut raw = server.raw_login("alice").await;
    // tungstenite answers each ping with a pong as it reads it.
    for _ in 0..3 {
        loop {
            match tokio::time::timeout(WAIT, raw.ws.next()).await {
                Ok(Some(Ok(Message::Ping(_)))) => break,
                Ok(Some(Ok(Message::Close(frame)))) => panic!("closed: {frame:?}"),
                Ok(Some(Ok(_))) => continue,
                other => panic!("expected a ping, got {other:?}"),
            }
        }
    }
    assert_eq!(raw.call("getJoinedGroupList", json!({})).await["code"], 0);
}

/// Whether the REST API reports `user` online (a session registered on this node).
async fn online(server: &TestServer, user: &str) -> bool {
    let reply = server
        .rest(
            "openim/query_online_status",
            json!({ "To_Account": [user] }),
        )
        .await;
    reply["QueryResult"][0]["Status"] == "Online"
}

/// A WebSocket client logged in as `user` whose receive buffer is tiny, so that the server's
/// writes stall soon after it stops reading.
async fn slow_reader(
    server: &TestServer,
    user: &str,
) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let stream = socket.connect(server.addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(server.url.as_str(), stream)
        .await
        .expect("upgrade");
    let login = json!({"id": 1, "method": "login",
        "params": {"userID": user, "userSig": server.sig(user)}});
    ws.send(Message::Text(login.to_string().into()))
        .await
        .expect("send login");
    let response = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("login response");
    assert!(
        matches!(&response, Some(Ok(Message::Text(text))) if text.contains(r#""code":0"#)),
        "{response:?}"
    );
    assert!(online(server, user).await);
    ws
}

/// Sends `user` 12 KiB messages, 20 at a time, until the server dropped `user`'s session;
/// returns how many were sent (at most `limit`).
async fn push_until_offline(server: &TestServer, user: &str, limit: usize) -> usize {
    let mut sender = server.raw_login("bob").await;
    let text = "x".repeat(12 * 1024);
    let mut sent = 0;
    while online(server, user).await {
        assert!(
            sent < limit,
            "{user} is still online after {sent} pushes of 12 KiB"
        );
        for _ in 0..20 {
            let response = sender
                .call(
                    "sendMessage",
                    json!({"receiver": user, "textElem": {"text": text}}),
                )
                .await;
            assert_eq!(response["code"], 0, "{response}");
        }
        sent += 20;
    }
    sent
}

/// Reads what the server wrote (pushes first) up to its close frame.
async fn close_frame_after_pushes(
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
) -> (CloseCode, String) {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                return (frame.code, frame.reason.as_str().to_owned());
            }
            Ok(Some(Ok(Message::Text(_) | Message::Ping(_)))) => continue,
            other => panic!("expected pushes and a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_logged_in_connection_that_stops_reading_is_closed_with_1008_after_the_write_timeout() {
    // Its queue (4096 pushes, 64 MiB) is far from full, so only the write timeout can end it.
    let server = TestServer::start_with(|config| {
        config.limits.write_timeout_ms = 2000;
        config.limits.outbound_queue_bytes = 64 * 1024 * 1024;
    })
    .await;
    let mut victim = slow_reader(&server, "alice").await;
    push_until_offline(&server, "alice", 800).await;
    // Once it reads again, it gets what was written before the timeout, then the close frame.
    assert_eq!(
        close_frame_after_pushes(&mut victim).await,
        (
            CloseCode::Policy,
            "too slow to read; reconnect and catch up".to_owned()
        )
    );
}

#[tokio::test]
async fn large_pushes_to_a_connection_that_stops_reading_fill_its_byte_budget_and_close_it() {
    // The write timeout is out of reach, and 4096 pushes of 12 KiB would be 48 MiB: only the
    // 256 KiB budget can end it, after a few hundred pushes at most (what the kernel's socket
    // buffers take, and 21 in the queue).
    let server = TestServer::start_with(|config| {
        config.limits.write_timeout_ms = 60_000;
        config.limits.outbound_queue_bytes = 256 * 1024;
    })
    .await;
    let mut victim = slow_reader(&server, "alice").await;
    push_until_offline(&server, "alice", 2000).await;
    assert_eq!(
        close_frame_after_pushes(&mut victim).await,
        (
            CloseCode::Policy,
            "pushes may have been missed; reconnect and catch up".to_owned()
        )
    );
    // Others are still served.
    let mut carol = server.raw_login("carol").await;
    assert_eq!(carol.call("getJoinedGroupList", json!({})).await["code"], 0);
}

/// Whether the server ends `stream` (end of stream or reset) before the wait is over.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut sink = [0u8; 4096];
    let drained = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(WAIT, drained).await.is_ok()
}

/// `GET /healthz` on `stream` (kept alive); its status.
async fn healthz_on(stream: &mut TcpStream, addr: SocketAddr) -> u16 {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response(stream).await.0
}

#[tokio::test]
async fn half_sent_headers_and_idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let server = TestServer::start_with(|config| config.limits.http_header_timeout_ms = 200).await;
    let mut slowloris = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let partial = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n", server.addr);
        stream.write_all(partial.as_bytes()).await.expect("write");
        slowloris.push(stream);
    }
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    assert_eq!(healthz_on(&mut idle, server.addr).await, 200);
    for stream in slowloris.iter_mut().chain([&mut idle]) {
        assert!(closed_by_server(stream).await, "a connection was kept open");
    }
}

#[tokio::test]
async fn connections_beyond_the_per_address_cap_get_503_and_others_are_served_again_later() {
    let server = TestServer::start_with(|config| config.limits.max_connections_per_ip = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let mut refused = TcpStream::connect(server.addr).await.expect("connect");
    let (status, body) = read_response(&mut refused).await;
    assert_eq!(
        (status, body.as_str()),
        (503, "too many connections from this address\n")
    );
    // A WebSocket upgrade is refused the same way, before it is read.
    let upgrade = tokio_tungstenite::connect_async(server.url.as_str()).await;
    assert!(
        matches!(&upgrade, Err(tokio_tungstenite::tungstenite::Error::Http(response))
            if response.status() == 503),
        "{upgrade:?}"
    );
    // The held connections are served, and once one goes, a new one is too.
    assert_eq!(healthz_on(&mut held[0], server.addr).await, 200);
    drop(held.pop());
    let served = async {
        loop {
            let mut stream = TcpStream::connect(server.addr).await.expect("connect");
            let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
            stream.write_all(request.as_bytes()).await.expect("write");
            if read_response(&mut stream).await.0 == 200 {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, served)
        .await
        .expect("a connection is served once one of the address's closed");
}

#[test]
fn every_client_gets_the_1001_close_before_serve_returns() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = tidings_server::Config {
        data_dir: data_dir.path().to_owned(),
        secret_key: Some("tidings-test-key".into()),
        ..tidings_server::Config::default()
    };
    config.store.synchronous = "normal".into();
    let (ready, server_ready) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The server runs on its own runtime, dropped as soon as `serve` returns: what a session
    // has not sent by then is lost, as it is when the process exits.
    let server_thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("server runtime");
        runtime.block_on(async {
            let server = tidings_server::Server::open(&config)
                .await
                .expect("server opens");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            ready
                .send((addr, server.state().auth.clone()))
                .expect("test waits");
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
        });
    });
    let (addr, auth) = server_ready.recv().expect("server starts");
    let runtime = tokio::runtime::Runtime::new().expect("client runtime");
    runtime.block_on(async {
        let url = format!("ws://{addr}/ws");
        let login = |user: &str| {
            let params = json!({"userID": user, "userSig": auth.sign(user, 3600)});
            json!({"id": 1, "method": "login", "params": params}).to_string()
        };
        // The clients read nothing until shutdown has begun, so every session is in the middle
        // of writing its pushes then.
        let (start_reading, reading) = tokio::sync::watch::channel(false);
        let mut readers = Vec::new();
        let mut members = Vec::new();
        for i in 0..20 {
            let user = format!("user{i}");
            // A small receive buffer: the pushes below fill it, and the server's writes wait.
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .set_recv_buffer_size(4096)
                .expect("small receive buffer");
            let stream = socket.connect(addr).await.expect("connect");
            let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), stream)
                .await
                .expect("upgrade");
            ws.send(Message::Text(login(&user).into()))
                .await
                .expect("send login");
            // Each reads everything until the server's close frame, if one comes.
            let mut reading = reading.clone();
            readers.push(tokio::spawn(async move {
                let _ = reading.wait_for(|go| *go).await;
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Close(frame) = message {
                        return frame;
                    }
                }
                None
            }));
            members.push(json!({ "userID": user }));
        }
        // 100 pushes of 12 KiB each: far more than the sockets' buffers hold.
        let (mut sender, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect");
        let mut call = async |text: String| {
            sender.send(Message::Text(text.into())).await.expect("send");
            loop {
                match tokio::time::timeout(WAIT, sender.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) if text.contains(r#""id""#) => {
                        let response: Value = serde_json::from_str(&text).expect("JSON");
                        assert_eq!(response["code"], 0, "{response}");
                        return;
                    }
                    Ok(Some(Ok(_))) => continue,
                    other => panic!("no response: {other:?}"),
                }
            }
        };
        call(login("sender")).await;
        let create = json!({"id": 2, "method": "createGroup", "params": {"groupType": "Work",
            "groupID": "busy", "groupName": "busy", "memberList": members}});
        call(create.to_string()).await;
        let text = "x".repeat(12 * 1024);
        for id in 3..103 {
            let send = json!({"id": id, "method": "sendMessage",
                "params": {"groupID": "busy", "textElem": {"text": text}}});
            call(send.to_string()).await;
        }
        stop.send(()).expect("server running");
        start_reading.send(true).expect("readers wait");
        tokio::task::spawn_blocking(move || server_thread.join().expect("server thread"))
            .await
            .expect("join");
        for (i, reader) in readers.into_iter().enumerate() {
            let close = tokio::time::timeout(WAIT, reader)
                .await
                .expect("the connection ends")
                .expect("reader runs");
            let close = close.unwrap_or_else(|| panic!("client {i} got no close frame"));
            assert_eq!(
                (close.code, close.reason.as_str()),
                (CloseCode::Away, "server shutting down"),
                "client {i}"
            );
        }
    });
}

/// `GET path` on a new connection; its status and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response(&mut stream).await
}

#[tokio::test]
async fn with_every_websocket_in_use_healthz_reports_not_ready_and_livez_stays_ok() {
    let server = TestServer::start_with(|config| config.limits.max_connections = 2).await;
    assert_eq!(get(server.addr, "/healthz").await, (200, "ok\n".to_owned()));
    let first = BareWs::connect(server.addr).await;
    let second = BareWs::connect(server.addr).await;
    assert_eq!(
        get(server.addr, "/healthz").await,
        (503, "connection limit reached\n".to_owned())
    );
    assert_eq!(get(server.addr, "/livez").await, (200, "ok\n".to_owned()));
    drop((first, second));
    let ready = async {
        while get(server.addr, "/healthz").await.0 != 200 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, ready)
        .await
        .expect("ready again once the connections closed");
}

/// `POST /demo/usersig` for `user` with the given `Host` header; status and body.
async fn demo_usersig(addr: SocketAddr, host: &str, user: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let body = json!({ "userID": user }).to_string();
    let request = format!(
        "POST /demo/usersig HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response(&mut stream).await
}

#[tokio::test]
async fn demo_usersigs_go_only_to_local_host_names_and_at_a_bounded_rate() {
    let server = TestServer::start_with(|config| config.demo = true).await;
    // DNS rebinding: a page on attacker.example that resolves to 127.0.0.1 sends its own name.
    let (status, body) = demo_usersig(server.addr, "attacker.example:8080", "alice").await;
    assert_eq!(status, 403, "{body}");
    let port = server.addr.port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "[::1]".to_owned(),
    ] {
        let (status, body) = demo_usersig(server.addr, &host, "alice").await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    // A burst of 20 in all, then one a second: 17 more can go at once, and not 30.
    let mut statuses = Vec::new();
    for i in 0..30 {
        let host = format!("127.0.0.1:{port}");
        statuses.push(
            demo_usersig(server.addr, &host, &format!("user{i}"))
                .await
                .0,
        );
    }
    assert!(statuses[..17].iter().all(|&s| s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn a_public_demo_signs_for_any_host_name() {
    let server = TestServer::start_with(|config| {
        config.demo = true;
        config.demo_public = true;
    })
    .await;
    let (status, body) = demo_usersig(server.addr, "demo.example.com", "alice").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn with_metrics_listen_set_metrics_leave_the_client_port_for_their_own() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = tidings_server::Config {
        data_dir: data_dir.path().to_owned(),
        secret_key: Some("tidings-test-key".into()),
        metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
        ..tidings_server::Config::default()
    };
    config.store.synchronous = "normal".into();
    let server = tidings_server::Server::open(&config)
        .await
        .expect("server opens");
    let clients = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (client_addr, metrics_addr) = (
        clients.local_addr().expect("addr"),
        metrics.local_addr().expect("addr"),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_with_metrics(clients, Some(metrics), async {
        let _ = stopped.await;
    }));
    assert_eq!(get(client_addr, "/metrics").await.0, 404);
    assert_eq!(get(client_addr, "/healthz").await.0, 200);
    let (status, body) = get(metrics_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("tidings_"), "{body}");
    assert_eq!(get(metrics_addr, "/healthz").await.0, 404);
    stop.send(()).expect("server running");
    serving.await.expect("joins").expect("server stops cleanly");
}
