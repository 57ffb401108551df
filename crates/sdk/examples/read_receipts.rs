//! The read-receipt flow of Tencent's guide (`shared/seed/read-receipts.txt`), step by step,
//! with the Rust SDK: the sender asks for receipts, receivers send them, the sender is notified
//! with counts, pulls the counts, and pages the read and unread members.
//!
//! ```text
//! tidings serve --secret-key demo-key &
//! TIDINGS_SECRET_KEY=demo-key cargo run -p tidings-sdk --example read_receipts
//! ```
//!
//! `TIDINGS_URL` defaults to `ws://127.0.0.1:8080/ws`, `TIDINGS_SDKAPPID` to 1400000000. The
//! example signs UserSigs itself with the key, as an app server would.

use std::time::Duration;

use tidings_sdk::{
    Client, CreateGroupParams, CustomElem, GroupMemberSpec, GroupRole, READ_MEMBERS_FILTER_READ,
    READ_MEMBERS_FILTER_UNREAD, SdkEvent, SendMessageParams,
};

type Error = Box<dyn std::error::Error>;

struct Settings {
    url: String,
    sdkappid: u64,
    key: String,
}

impl Settings {
    fn from_env() -> Result<Self, Error> {
        Ok(Self {
            url: std::env::var("TIDINGS_URL").unwrap_or_else(|_| "ws://127.0.0.1:8080/ws".into()),
            sdkappid: std::env::var("TIDINGS_SDKAPPID").map_or(Ok(1_400_000_000), |v| v.parse())?,
            key: std::env::var("TIDINGS_SECRET_KEY")
                .map_err(|_| "set TIDINGS_SECRET_KEY to the server's secret key")?,
        })
    }

    async fn connect(&self, user: &str) -> Result<(Client, tidings_sdk::Events), Error> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let sig =
            tidings_usersig::generate(self.sdkappid, &self.key, user, 3600, i64::try_from(now)?);
        Ok(Client::connect(self.url.as_str(), user, sig).await?)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let settings = Settings::from_env()?;
    let suffix = std::process::id();
    let (sender_id, reader_ids) = (
        format!("sender{suffix}"),
        [format!("reader{suffix}a"), format!("reader{suffix}b")],
    );
    let (sender, mut sender_events) = settings.connect(&sender_id).await?;
    let mut readers = Vec::new();
    for id in &reader_ids {
        readers.push(settings.connect(id).await?);
    }

    // A group of a type that allows receipts (Work, Public and Meeting by default).
    let group_id = sender
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: None,
            group_name: "Receipts demo".into(),
            member_list: reader_ids
                .iter()
                .map(|id| GroupMemberSpec {
                    user_id: id.clone(),
                    role: GroupRole::Member,
                })
                .collect(),
        })
        .await?;

    // 发送端设置消息需要已读回执: the guide's custom message, sent as the guide sends it, with
    // needReadReceipt and onlineUserOnly: it reaches the members online now and is not kept in
    // history, but its receipts and counts are kept like those of any receipt message.
    let message = sender
        .send_message(SendMessageParams {
            group_id: Some(group_id.clone()),
            custom_elem: Some(CustomElem {
                data: "正在输入中".into(),
                ..CustomElem::default()
            }),
            need_read_receipt: true,
            online_user_only: true,
            ..SendMessageParams::default()
        })
        .await?;
    println!(
        "sent {} to group {group_id} asking for receipts",
        message.msg_id
    );

    // 接收端发送消息已读回执: each receiver sees needReadReceipt and reports the message read.
    for (reader, events) in &mut readers {
        let received = loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await? {
                Some(SdkEvent::RecvNewMessage(m)) if m.msg_id == message.msg_id => break m,
                Some(_) => continue,
                None => return Err("event stream ended".into()),
            }
        };
        if received.need_read_receipt && !received.has_sent_receipt {
            reader
                .send_message_read_receipts(vec![received.msg_id.clone()])
                .await?;
        }

        // 发送端监听消息已读回执通知: e.g. update the label to "N read".
        loop {
            match tokio::time::timeout(Duration::from_secs(10), sender_events.recv()).await? {
                Some(SdkEvent::RecvMessageReadReceipts(receipts)) => {
                    for receipt in receipts {
                        println!(
                            "onRecvMessageReadReceipts: {} read {}, unread {}",
                            receipt.msg_id, receipt.read_count, receipt.unread_count
                        );
                    }
                    break;
                }
                Some(_) => continue,
                None => return Err("event stream ended".into()),
            }
        }
    }

    // 发送端主动拉取消息已读回执信息: after reopening the chat, pull the counts.
    for receipt in sender
        .get_message_read_receipts(vec![message.msg_id.clone()])
        .await?
    {
        println!(
            "getMessageReadReceipts: {} read {}, unread {}",
            receipt.msg_id, receipt.read_count, receipt.unread_count
        );
    }

    // 发送端主动拉取群消息已读或未读成员列表: page through both lists.
    for (name, filter) in [
        ("read", READ_MEMBERS_FILTER_READ),
        ("unread", READ_MEMBERS_FILTER_UNREAD),
    ] {
        let mut next_seq = 0;
        loop {
            let page = sender
                .get_group_message_read_member_list(message.msg_id.clone(), filter, next_seq, 1)
                .await?;
            for member in &page.member_info_list {
                println!("{name}: {}", member.user_id);
            }
            if page.is_finished {
                break;
            }
            next_seq = page.next_seq;
        }
    }

    sender.close().await;
    for (reader, _) in readers {
        reader.close().await;
    }
    Ok(())
}
