//! Bounded versions of the resource-exhaustion attacks of issue 15, each against an in-process
//! server on 127.0.0.1:0: what an attacker holds open must be refused or closed, and the server
//! must keep serving others. (Long runs of the same attacks belong to `tidings bench`.)

mod common;

use std::net::SocketAddr;

use common::{TestServer, WAIT};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
