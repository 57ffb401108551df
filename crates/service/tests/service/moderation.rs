//! Before-send hooks: the question the app's backend is asked (after every check, before the
//! store), and what each verdict does: a refused or dropped message is not stored, delivered or
//! reported; a changed one is stored, delivered and reported changed.

use tidings_proto::methods::{C2cHistoryParams, GroupHistoryParams, SendMessageParams};
use tidings_proto::{
    CustomElem, ELEM_TYPE_CUSTOM, Elem, FileElem, GroupType, IMAGE_TYPE_ORIGIN, Image, ImageElem,
    MAX_MESSAGE_BYTES, TextElem,
};
use tidings_service::{AfterEvent, BeforeSend, ChangedContent, SendOptions, Verdict};

use crate::harness::{Harness, c2c_text, group_text, pushed, refusal};

async fn c2c_history(h: &Harness, user: &str, peer: &str) -> Vec<String> {
    h.tidings
        .c2c_history(
            user,
            C2cHistoryParams {
                user_id: peer.into(),
                count: 20,
                last_msg_id: None,
            },
        )
        .await
        .expect("history")
        .into_iter()
        .map(|m| m.text_elem.map(|t| t.text).unwrap_or_default())
        .collect()
}

async fn group_history(h: &Harness, user: &str, group: &str) -> Vec<String> {
    h.tidings
        .group_history(
            user,
            GroupHistoryParams {
                group_id: group.into(),
                count: 20,
                last_msg_id: None,
            },
        )
        .await
        .expect("history")
        .into_iter()
        .map(|m| m.text_elem.map(|t| t.text).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_backend_is_asked_with_the_message_as_it_would_be_stored() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.callbacks.answer_before_send(true, false, Verdict::Allow);
    let params = SendMessageParams {
        online_user_only: true,
        cloud_custom_data: "cc".into(),
        random: 9,
        ..c2c_text("bob", "hello")
    };
    let sent = h.tidings.send_message("alice", params).await.unwrap();
    let asked = h.callbacks.take_asked();
    let [
        BeforeSend::C2c {
            message,
            online_only: true,
        },
    ] = asked.as_slice()
    else {
        panic!("one C2C question, online only: {asked:?}");
    };
    assert_eq!(
        (
            message.msg_id.as_str(),
            message.sender.as_str(),
            message.receiver.as_deref(),
            message.timestamp,
            message.random,
            message.body.as_str(),
            message.cloud_custom_data.as_str()
        ),
        (
            sent.msg_id.as_str(),
            "alice",
            Some("bob"),
            sent.timestamp,
            9,
            r#"{"text":"hello"}"#,
            "cc"
        )
    );
    // The group hook is off: a group message is not asked about.
    h.tidings
        .create_group("alice", group_params_work("team"))
        .await
        .unwrap();
    h.send_group("alice", "team", "no question").await;
    assert_eq!(h.callbacks.take_asked(), []);
}

fn group_params_work(group_id: &str) -> tidings_proto::methods::CreateGroupParams {
    crate::harness::group_params("Work", group_id, &["bob"])
}

#[tokio::test]
async fn a_refused_c2c_message_is_not_stored_delivered_or_reported() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.send_c2c("alice", "bob", "before").await;
    h.forget_published().await;
    h.callbacks.answer_before_send(
        true,
        true,
        Verdict::Deny {
            app_code: None,
            info: String::new(),
        },
    );
    let result = h
        .tidings
        .send_message(
            "alice",
            SendMessageParams {
                need_read_receipt: true,
                ..c2c_text("bob", "spam")
            },
        )
        .await;
    assert_eq!(
        refusal(result),
        r#"RefusedBeforeSend { group: false, app_code: None, info: "the app's backend refused this message (C2C.CallbackBeforeSendMsg)" }"#
    );
    assert_eq!(h.callbacks.take_asked().len(), 1);
    assert_eq!(h.bus.take(), []);
    assert_eq!(h.callbacks.take(), []);
    assert_eq!(c2c_history(&h, "bob", "alice").await, ["before"]);
    assert_eq!(h.tidings.total_unread("bob").await.unwrap(), 1);
}

#[tokio::test]
async fn a_group_refusal_with_the_backends_own_code_carries_it_and_its_text() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.create_group("alice", "Work", "team", &["bob"]).await;
    h.callbacks.answer_before_send(
        false,
        true,
        Verdict::Deny {
            app_code: Some(120_005),
            info: "links are not allowed here".into(),
        },
    );
    let result = h
        .tidings
        .send_message("alice", group_text("team", "http://spam"))
        .await;
    assert_eq!(
        refusal(result),
        r#"RefusedBeforeSend { group: true, app_code: Some(120005), info: "links are not allowed here" }"#
    );
    assert_eq!(h.bus.take(), []);
    assert_eq!(h.callbacks.take(), []);
    assert_eq!(group_history(&h, "bob", "team").await, Vec::<String>::new());
}

#[tokio::test]
async fn a_non_members_group_message_is_refused_before_the_backend_is_asked() {
    let h = Harness::start(&["alice", "bob", "mallory"]).await;
    h.create_group("alice", "Work", "team", &["bob"]).await;
    h.callbacks.answer_before_send(false, true, Verdict::Allow);
    let result = h
        .tidings
        .send_message("mallory", group_text("team", "let me in"))
        .await;
    assert_eq!(
        refusal(result),
        r#"PermissionDenied("mallory is not a member of group team")"#
    );
    assert_eq!(h.callbacks.take_asked(), []);
}

#[tokio::test]
async fn a_changed_message_is_stored_delivered_and_reported_changed() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.callbacks.answer_before_send(
        true,
        false,
        Verdict::Change {
            content: Some(ChangedContent::Elem(Elem::Text(TextElem {
                text: "***".into(),
            }))),
            cloud_custom_data: Some("moderated".into()),
        },
    );
    let sent = h
        .tidings
        .send_message("alice", c2c_text("bob", "darn"))
        .await
        .unwrap();
    assert_eq!(
        (
            sent.seq,
            sent.text_elem.clone(),
            sent.cloud_custom_data.as_str()
        ),
        (1, Some(TextElem { text: "***".into() }), "moderated")
    );
    let delivered: Vec<Option<String>> = h
        .bus
        .take()
        .iter()
        .filter_map(|d| match pushed(d).1 {
            tidings_proto::PushEvent::OnRecvNewMessage(m) => {
                Some(m.text_elem.as_ref().map(|t| t.text.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [Some("***".into()), Some("***".into())]);
    assert_eq!(c2c_history(&h, "bob", "alice").await, ["***"]);
    let events = h.callbacks.take();
    let [AfterEvent::C2cMessageSent { message, .. }] = events.as_slice() else {
        panic!("one C2C after-event");
    };
    assert_eq!(
        (
            message.message.body.as_str(),
            message.message.cloud_custom_data.as_str()
        ),
        (r#"{"text":"***"}"#, "moderated")
    );
}

#[tokio::test]
async fn rich_elements_survive_the_before_send_hook_unchanged_or_as_the_change() {
    let h = Harness::start(&["alice", "bob"]).await;
    let image = Elem::Image(ImageElem {
        uuid: "u".into(),
        image_format: 1,
        image_list: vec![Image {
            uuid: "u-0".into(),
            image_type: IMAGE_TYPE_ORIGIN,
            size: 10,
            width: 4,
            height: 3,
            url: "https://cdn.example/a.jpg".into(),
        }],
    });
    let file = Elem::File(FileElem {
        uuid: "f".into(),
        file_name: "a.pdf".into(),
        file_size: 99,
        url: "https://cdn.example/a.pdf".into(),
    });
    // Allowed: the image is stored and delivered as sent.
    h.callbacks.answer_before_send(true, false, Verdict::Allow);
    let params = SendMessageParams {
        receiver: Some("bob".into()),
        ..SendMessageParams::with_elem(image.clone())
    };
    let sent = h
        .tidings
        .send_message("alice", params.clone())
        .await
        .unwrap();
    assert_eq!(sent.elem(), Some(image.clone()));
    let asked = h.callbacks.take_asked();
    let [BeforeSend::C2c { message, .. }] = asked.as_slice() else {
        panic!("one C2C question");
    };
    assert_eq!(
        (message.elem_type, message.body.clone()),
        (3, image.to_json())
    );
    // Changed into a file: the file is what is stored, delivered and listed.
    h.callbacks.answer_before_send(
        true,
        false,
        Verdict::Change {
            content: Some(ChangedContent::Elem(file.clone())),
            cloud_custom_data: None,
        },
    );
    let sent = h.tidings.send_message("alice", params).await.unwrap();
    assert_eq!((sent.elem(), sent.elem_type), (Some(file.clone()), 6));
    let history = h
        .tidings
        .c2c_history(
            "bob",
            C2cHistoryParams {
                user_id: "alice".into(),
                count: 2,
                last_msg_id: None,
            },
        )
        .await
        .unwrap();
    let elems: Vec<_> = history.iter().map(|m| m.elem()).collect();
    assert_eq!(elems, [Some(file), Some(image)]);
}

#[tokio::test]
async fn a_group_message_may_change_kind_and_keep_its_cloud_data() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.create_group("alice", "Work", "team", &["bob"]).await;
    let custom = CustomElem {
        data: "{\"hidden\":true}".into(),
        desc: "hidden".into(),
        extension: String::new(),
    };
    h.callbacks.answer_before_send(
        false,
        true,
        Verdict::Change {
            content: Some(ChangedContent::Elem(Elem::Custom(custom.clone()))),
            cloud_custom_data: None,
        },
    );
    let params = SendMessageParams {
        cloud_custom_data: "mine".into(),
        ..group_text("team", "bad words")
    };
    let sent = h.tidings.send_message("alice", params).await.unwrap();
    assert_eq!(
        (
            sent.elem_type,
            sent.text_elem.clone(),
            sent.custom_elem.clone(),
            sent.cloud_custom_data.as_str()
        ),
        (ELEM_TYPE_CUSTOM, None, Some(custom.clone()), "mine")
    );
    let history = h
        .tidings
        .group_history(
            "bob",
            GroupHistoryParams {
                group_id: "team".into(),
                count: 20,
                last_msg_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|m| m.custom_elem.clone())
            .collect::<Vec<_>>(),
        [Some(custom)]
    );
    let [
        AfterEvent::GroupMessageSent {
            group_type: GroupType::Work,
            ..
        },
    ] = h.callbacks.take().as_slice()
    else {
        panic!("one group after-event");
    };
}

#[tokio::test]
async fn a_change_that_makes_the_message_too_large_fails_the_send() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.callbacks.answer_before_send(
        true,
        false,
        Verdict::Change {
            content: Some(ChangedContent::Elem(Elem::Text(TextElem {
                text: "x".repeat(MAX_MESSAGE_BYTES + 1),
            }))),
            cloud_custom_data: None,
        },
    );
    let result = h.tidings.send_message("alice", c2c_text("bob", "hi")).await;
    assert_eq!(
        refusal(result),
        "MessageTooLarge { size: 12289, limit: 12288 }"
    );
    assert_eq!(h.bus.take(), []);
    assert_eq!(h.callbacks.take(), []);
}

#[tokio::test]
async fn a_discarded_message_succeeds_for_the_sender_and_exists_nowhere() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.create_group("alice", "Work", "team", &["bob"]).await;
    h.callbacks.answer_before_send(true, true, Verdict::Discard);
    for params in [c2c_text("bob", "dropped"), group_text("team", "dropped")] {
        let params = SendMessageParams {
            need_read_receipt: true,
            ..params
        };
        let sent = h.tidings.send_message("alice", params).await.unwrap();
        assert_eq!(
            (sent.seq, sent.is_self, sent.text_elem.clone()),
            (
                0,
                true,
                Some(TextElem {
                    text: "dropped".into()
                })
            )
        );
        assert_eq!(
            refusal(
                h.tidings
                    .get_read_receipts("alice", vec![sent.msg_id.clone()])
                    .await
            ),
            format!(
                "ReceiptInfoNotFound(\"message {} does not exist\")",
                sent.msg_id
            )
        );
    }
    assert_eq!(h.callbacks.take_asked().len(), 2);
    assert_eq!(h.bus.take(), []);
    assert_eq!(h.callbacks.take(), []);
    assert_eq!(c2c_history(&h, "bob", "alice").await, Vec::<String>::new());
    assert_eq!(group_history(&h, "bob", "team").await, Vec::<String>::new());
    assert_eq!(h.tidings.total_unread("bob").await.unwrap(), 0);
}

#[tokio::test]
async fn a_send_may_skip_the_hook_and_the_after_event() {
    let h = Harness::start(&["alice", "bob"]).await;
    h.callbacks.answer_before_send(
        true,
        true,
        Verdict::Deny {
            app_code: None,
            info: String::new(),
        },
    );
    let options = SendOptions {
        before_send_hook: false,
        after_send_callback: false,
        ..SendOptions::default()
    };
    let sent = h
        .tidings
        .send_message_with("alice", c2c_text("bob", "from the admin"), options)
        .await
        .unwrap();
    assert_eq!(sent.seq, 1);
    assert_eq!(h.callbacks.take_asked(), []);
    assert_eq!(h.callbacks.take(), []);
}
