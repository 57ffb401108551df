//! The README's Rust SDK snippet: this file holds it verbatim (only the server's address
//! differs), so it compiles with the tests, and it runs against the real binary: it prints the
//! read receipt bob sends and gets the receipt state back.

mod common;

use tidings_sdk::MessageReceipt;

/// The snippet's address in the README; the test's server listens elsewhere.
const README_URL: &str = "\"ws://127.0.0.1:8080/ws\"";
const MARK_BEGIN: &str = "    // README snippet: begin\n";
const MARK_END: &str = "    // README snippet: end\n";

#[rustfmt::skip] // as the README shows it
async fn readme_snippet(
    url: String,
    user_sig: String,
) -> Result<Vec<MessageReceipt>, Box<dyn std::error::Error>> {
    // README snippet: begin
    use tidings_sdk::{Client, SdkEvent, SendMessageParams, TextElem};

    let (alice, mut events) = Client::connect(url.as_str(), "alice", &user_sig).await?;
    let sent = alice.send_message(SendMessageParams { receiver: Some("bob".into()),
        text_elem: Some(TextElem { text: "hi".into() }), need_read_receipt: true, ..Default::default() }).await?;
    while let Some(event) = events.recv().await {
        if let SdkEvent::RecvMessageReadReceipts(receipts) = event { println!("{receipts:?}"); break; }
    }
    let receipts = alice.get_message_read_receipts(vec![sent.msg_id]).await?;
    // README snippet: end
    Ok(receipts)
}

/// The first ```rust block of the README's SDK section.
fn readme_block() -> String {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("A few lines with the Rust SDK"))
        .expect("the README's SDK section");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust block in it");
    block.to_owned()
}

#[test]
fn the_readme_snippet_is_the_code_tested_here() {
    let source = include_str!("readme.rs");
    let start = source.find(MARK_BEGIN).expect("begin mark") + MARK_BEGIN.len();
    let end = source.find(MARK_END).expect("end mark");
    let here: String = source[start..end]
        .lines()
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(here.replace("url.as_str()", README_URL), readme_block());
}

#[tokio::test]
async fn the_readme_snippet_prints_and_returns_the_receipt() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let server = common::serve([
        std::ffi::OsStr::new("--data-dir"),
        data_dir.path().as_os_str(),
    ]);
    let (bob, mut bob_events) =
        tidings_sdk::Client::connect(server.url.as_str(), "bob", common::sig("bob"))
            .await
            .expect("bob logs in");
    let reader = tokio::spawn(async move {
        while let Some(event) = bob_events.recv().await {
            if let tidings_sdk::SdkEvent::RecvNewMessage(message) = event {
                bob.send_message_read_receipts(vec![message.msg_id])
                    .await
                    .expect("bob's receipt");
                return bob;
            }
        }
        panic!("bob's events ended");
    });
    let receipts = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        readme_snippet(server.url.clone(), common::sig("alice")),
    )
    .await
    .expect("the snippet ends once the receipt arrived")
    .expect("the snippet succeeds");
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].user_id, "bob");
    assert!(receipts[0].is_peer_read);
    reader.await.expect("bob").close().await;
}
