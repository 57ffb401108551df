//! Connects as one user, sends a text message that asks for a read receipt, and prints events.
//!
//! ```text
//! TIDINGS_URL=ws://127.0.0.1:8080/ws \
//!     cargo run -p tidings-sdk --example quickstart -- <userID> <userSig> <peerID> [text]
//! ```
//!
//! `TIDINGS_URL` defaults to `ws://127.0.0.1:8080/ws`. The example prints events until the
//! client stops or nothing arrives for 60 seconds.

use std::time::Duration;

use tidings_sdk::{Client, SdkEvent, SendMessageParams, TextElem};

const USAGE: &str = "usage: quickstart <userID> <userSig> <peerID> [text]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("TIDINGS_URL").unwrap_or_else(|_| "ws://127.0.0.1:8080/ws".into());
    let mut args = std::env::args().skip(1);
    let (Some(user_id), Some(user_sig), Some(peer)) = (args.next(), args.next(), args.next())
    else {
        return Err(USAGE.into());
    };
    let text = args.next().unwrap_or_else(|| "Hello from Tidings!".into());

    let (client, mut events) = Client::connect(url.as_str(), user_id.as_str(), user_sig).await?;
    println!("logged in to {url} as {user_id}");

    let message = client
        .send_message(SendMessageParams {
            receiver: Some(peer.clone()),
            text_elem: Some(TextElem { text }),
            need_read_receipt: true,
            ..Default::default()
        })
        .await?;
    println!("sent {} to {peer} (seq {})", message.msg_id, message.seq);

    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
        match event {
            SdkEvent::RecvNewMessage(message) => {
                let text = message.text_elem.map(|t| t.text).unwrap_or_default();
                println!("message from {}: {text}", message.sender);
            }
            SdkEvent::RecvMessageReadReceipts(receipts) => {
                for receipt in receipts {
                    println!("receipt for {}: {receipt:?}", receipt.msg_id);
                }
            }
            other => println!("{other:?}"),
        }
    }
    client.close().await;
    Ok(())
}
