//! TEMPORARY experiment (will be replaced).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tidings_server::{Config, Server};
use tokio_tungstenite::tungstenite::Message;

async fn start(
    adjust: impl FnOnce(&mut Config),
) -> (String, tidings_server::Auth, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        secret_key: Some("k".into()),
        ..Config::default()
    };
    config.store.synchronous = "normal".into();
    config.read_receipts.notify_window_ms = 20;
    adjust(&mut config);
    let server = Server::open(&config).unwrap();
    let auth = server.state().auth.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        server
            .serve(listener, std::future::pending())
            .await
            .unwrap()
    });
    (format!("ws://{addr}/ws"), auth, dir)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}
async fn next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(std::time::Duration::from_secs(3), ws.next())
        .await
        .ok()
        .flatten()
        .map(|r| r.unwrap_or_else(|e| Message::Text(format!("\"ERR {e}\"").into())))
}

#[tokio::test]
async fn experiment() {
    let (url, auth, _dir) = start(|c| c.limits.max_devices_per_user = 1).await;
    let (mut a, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    send(&mut a, json!({"id":1,"method":"login","params":{"userID":"alice","userSig":auth.sign("alice", 3600)}})).await;
    println!("login: {:?}", next(&mut a).await);
    let (mut b, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    send(
        &mut b,
        json!({"id":1,"method":"login","params":{"userID":"bob","userSig":auth.sign("bob", 3600)}}),
    )
    .await;
    println!("login b: {:?}", next(&mut b).await);
    send(&mut a, json!({"id":2,"method":"sendMessage","params":{"receiver":"bob","textElem":{"text":"hi"},"needReadReceipt":true}})).await;
    for _ in 0..3 {
        println!("a: {:?}", next(&mut a).await);
    }
    for _ in 0..2 {
        println!("b: {:?}", next(&mut b).await);
    }
    send(&mut a, json!({"id":3,"method":"nope"})).await;
    println!("unknown: {:?}", next(&mut a).await);
    send(
        &mut a,
        json!({"id":4,"method":"getConversationList","params":{"count":10}}),
    )
    .await;
    println!("convs: {:?}", next(&mut a).await);
    // second device for alice kicks first
    let (mut a2, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    send(&mut a2, json!({"id":1,"method":"login","params":{"userID":"alice","userSig":auth.sign("alice", 3600)}})).await;
    println!("a2 login: {:?}", next(&mut a2).await);
    println!("a kicked: {:?}", next(&mut a).await);
    send(&mut a, json!({"id":5,"method":"getJoinedGroupList"})).await;
    println!("a after kick: {:?}", next(&mut a).await);
    // big frame
    send(
        &mut a,
        json!({"id":6,"method":"logout","params":{"x":"y".repeat(70_000)}}),
    )
    .await;
    println!("70k: {:?}", next(&mut a).await);
    a.send(Message::Text("z".repeat(1_100_000).into()))
        .await
        .unwrap();
    println!("1.1M: {:?}", next(&mut a).await);
    println!("1.1M after: {:?}", next(&mut a).await);
    // expiry
    let (mut c, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    send(&mut c, json!({"id":1,"method":"login","params":{"userID":"carol","userSig":auth.sign("carol", 2)}})).await;
    println!("c login: {:?}", next(&mut c).await);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    println!("c expired: {:?}", next(&mut c).await);
}
