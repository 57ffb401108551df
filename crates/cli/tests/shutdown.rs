//! Graceful shutdown of the real binary: on SIGTERM every connected client, idle or busy, gets
//! the documented close frame (1001, `server shutting down`) before the process exits 0.

mod common;

use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

use common::{serve, sig};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CLIENTS: usize = 100;
const ROUNDS: usize = 3;
/// Generous: the server itself gives up on a client after 1 s, and exits within 10 s.
const WAIT: Duration = Duration::from_secs(30);

async fn logged_in(url: &str, user: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let login = json!({"id": 1, "method": "login",
        "params": {"userID": user, "userSig": sig(user)}});
    ws.send(Message::Text(login.to_string().into()))
        .await
        .expect("send login");
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) if text.contains(r#""code":0"#) => ws,
        other => panic!("login of {user} failed: {other:?}"),
    }
}

/// How the connection ended, seen by the client: the close frame's code and reason, or what
/// came instead of one.
async fn ending(mut ws: Ws, busy: bool) -> Result<(u16, String), String> {
    let mut next_id = 2;
    loop {
        if busy {
            // A request in flight as the server stops: its answer may or may not come first.
            let request = json!({"id": next_id, "method": "getTotalUnreadMessageCount",
                "params": {}});
            next_id += 1;
            if let Err(e) = ws.send(Message::Text(request.to_string().into())).await {
                return Err(format!("send failed before a close frame: {e}"));
            }
        }
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                return Ok((u16::from(frame.code), frame.reason.as_str().to_owned()));
            }
            Ok(Some(Ok(Message::Close(None)))) => return Err("a close frame without a code".into()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(format!("error before a close frame: {e}")),
            Ok(None) => return Err("end of stream before a close frame".into()),
            Err(_) => return Err("nothing within the wait".into()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_connected_client_with_1001_before_the_process_exits() {
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = serve([OsStr::new("--data-dir"), dir.path().as_os_str()]);
        let mut clients = Vec::new();
        for n in 0..CLIENTS {
            clients.push(logged_in(&server.url, &format!("user{n}")).await);
        }
        // Half the clients keep sending requests while the server stops; half are idle.
        let endings: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(n, ws)| tokio::spawn(ending(ws, n % 2 == 0)))
            .collect();
        let pid = server.process.0.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let mut process = server.process;
        let exit = tokio::task::spawn_blocking(move || process.0.wait().expect("reaped"))
            .await
            .expect("waited");
        assert!(
            exit.success(),
            "round {round}: the server exited with {exit}"
        );
        let mut wrong = Vec::new();
        for (n, ending) in endings.into_iter().enumerate() {
            let ending = ending.await.expect("client task");
            if ending != Ok((1001, "server shutting down".to_owned())) {
                wrong.push((n, ending));
            }
        }
        assert!(
            wrong.is_empty(),
            "round {round}: {} of {CLIENTS} clients did not get 1001, e.g. {:?}",
            wrong.len(),
            wrong.first()
        );
    }
}
