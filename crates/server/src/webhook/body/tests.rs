//! Each after-event's callback body, field by field, as Tencent names them.

use serde_json::{Value, json};
use tidings_proto::{ELEM_TYPE_TEXT, GroupType};
use tidings_service::{AfterEvent, CallbackEvent, GroupReceiptCount, Origin};
use tidings_store::{MessageRecord, NewMessage};

use super::{body, command, unread_total_of, verdict_of};

fn text_message(receiver: Option<&str>, group_id: Option<&str>) -> MessageRecord {
    MessageRecord {
        message: NewMessage {
            msg_id: "1700000000123-00000000000000ff".into(),
            sender: "alice".into(),
            receiver: receiver.map(str::to_owned),
            group_id: group_id.map(str::to_owned),
            timestamp: 1_700_000_000,
            random: 77,
            need_receipt: false,
            excluded_unread: false,
            elem_type: ELEM_TYPE_TEXT,
            body: json!({ "text": "hi" }).to_string(),
            cloud_custom_data: "cc".into(),
            targets: Vec::new(),
            at_users: Vec::new(),
            sender_card: tidings_store::UserCard::default(),
        },
        seq: 5,
        receipt_at: None,
        revoked: None,
    }
}

fn emitted(event: AfterEvent, operator: Option<&str>) -> CallbackEvent {
    CallbackEvent {
        event,
        origin: Origin {
            client_ip: "127.0.0.1".into(),
            platform: "RESTAPI",
            operator: operator.map(str::to_owned),
        },
        time_millis: 1_700_000_000_456,
    }
}

fn text_body() -> Value {
    json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": "hi" } }])
}

#[test]
fn a_c2c_send_names_both_sides_and_counts_the_receivers_unread() {
    let event = emitted(
        AfterEvent::C2cMessageSent {
            message: text_message(Some("bob"), None),
            online_only: false,
        },
        Some("administrator"),
    );
    assert_eq!(command(&event.event), "C2C.CallbackAfterSendMsg");
    assert_eq!(unread_total_of(&event.event), Some("bob"));
    assert_eq!(
        Value::Object(body(&event)),
        json!({
            "CallbackCommand": "C2C.CallbackAfterSendMsg",
            "From_Account": "alice",
            "To_Account": "bob",
            "MsgSeq": 5,
            "MsgRandom": 77,
            "MsgTime": 1_700_000_000,
            "MsgKey": "1700000000123-00000000000000ff",
            "MsgId": "1700000000123-00000000000000ff",
            "OnlineOnlyFlag": 0,
            "SendMsgResult": 0,
            "ErrorInfo": "send msg succeed",
            "MsgBody": text_body(),
            "CloudCustomData": "cc",
            "EventTime": 1_700_000_000_456_i64,
        })
    );
}

#[test]
fn a_rich_element_reaches_the_callback_as_its_tim_elem() {
    use tidings_proto::{Elem, FileElem};
    let file = Elem::File(FileElem {
        uuid: "f-1".into(),
        file_name: "a.pdf".into(),
        file_size: 99,
        url: "https://cdn.example/a.pdf".into(),
    });
    let mut message = text_message(Some("bob"), None);
    message.message.elem_type = file.elem_type();
    message.message.body = file.to_json();
    let event = emitted(
        AfterEvent::C2cMessageSent {
            message,
            online_only: false,
        },
        None,
    );
    assert_eq!(
        body(&event)["MsgBody"],
        json!([{ "MsgType": "TIMFileElem", "MsgContent": {
            "Url": "https://cdn.example/a.pdf", "UUID": "f-1", "FileSize": 99,
            "FileName": "a.pdf", "Download_Flag": 2 } }])
    );
}

#[test]
fn a_group_send_names_the_requester_as_operator_and_the_type_by_its_rest_name() {
    let sent = |operator| {
        emitted(
            AfterEvent::GroupMessageSent {
                group_type: GroupType::Work,
                message: text_message(None, Some("g1")),
                online_only: true,
            },
            operator,
        )
    };
    let event = sent(Some("administrator"));
    assert_eq!(command(&event.event), "Group.CallbackAfterSendMsg");
    assert_eq!(unread_total_of(&event.event), None);
    assert_eq!(
        Value::Object(body(&event)),
        json!({
            "CallbackCommand": "Group.CallbackAfterSendMsg",
            "GroupId": "g1",
            "Type": "Private",
            "From_Account": "alice",
            "Operator_Account": "administrator",
            "Random": 77,
            "MsgSeq": 5,
            "MsgTime": 1_700_000_000,
            "MsgId": "1700000000123-00000000000000ff",
            "OnlineOnlyFlag": 1,
            "MsgBody": text_body(),
            "CloudCustomData": "cc",
            "EventTime": 1_700_000_000_456_i64,
        })
    );
    assert_eq!(
        body(&sent(None))["Operator_Account"],
        "alice",
        "a member acting for themself is the operator"
    );
}

#[test]
fn a_c2c_read_report_names_reader_peer_and_read_time() {
    let event = emitted(
        AfterEvent::C2cReadReported {
            reader: "bob".into(),
            peer: "alice".into(),
            read_time: 1_700_000_100,
        },
        None,
    );
    assert_eq!(command(&event.event), "C2C.CallbackAfterMsgReport");
    assert_eq!(unread_total_of(&event.event), Some("bob"));
    assert_eq!(
        Value::Object(body(&event)),
        json!({
            "CallbackCommand": "C2C.CallbackAfterMsgReport",
            "Report_Account": "bob",
            "Peer_Account": "alice",
            "LastReadTime": 1_700_000_100,
            "EventTime": 1_700_000_000_456_i64,
        })
    );
}

#[test]
fn group_receipts_list_each_message_with_its_counts_and_the_reader() {
    let event = emitted(
        AfterEvent::GroupReceiptsSent {
            group_id: "g1".into(),
            group_type: GroupType::Meeting,
            reader: "bob".into(),
            receipts: vec![
                GroupReceiptCount {
                    seq: 3,
                    read: 1,
                    unread: 2,
                },
                GroupReceiptCount {
                    seq: 4,
                    read: 2,
                    unread: 0,
                },
            ],
        },
        None,
    );
    assert_eq!(command(&event.event), "Group.CallbackAfterReadReceipt");
    assert_eq!(unread_total_of(&event.event), None);
    assert_eq!(
        Value::Object(body(&event)),
        json!({
            "CallbackCommand": "Group.CallbackAfterReadReceipt",
            "GroupId": "g1",
            "Type": "ChatRoom",
            "GroupMsgReceiptList": [
                { "MsgSeq": 3, "ReadNum": 1, "UnreadNum": 2, "ReadReceiptMembers": [{ "Member_Account": "bob" }] },
                { "MsgSeq": 4, "ReadNum": 2, "UnreadNum": 0, "ReadReceiptMembers": [{ "Member_Account": "bob" }] },
            ],
            "EventTime": 1_700_000_000_456_i64,
        })
    );
}

#[test]
fn a_before_send_answer_gives_its_verdict() {
    use tidings_proto::{CustomElem, Elem, TextElem};
    use tidings_service::{ChangedContent, Verdict};
    let deny = |app_code: Option<u32>, info: &str| Verdict::Deny {
        app_code,
        info: info.into(),
    };
    let cases = [
        (json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "" }), Ok(Verdict::Allow)),
        (json!({ "ErrorCode": 0, "MsgBody": null }), Ok(Verdict::Allow)),
        (
            json!({ "ErrorCode": 0, "MsgBody": [{ "MsgType": "TIMTextElem", "MsgContent": { "Text": "***" } }] }),
            Ok(Verdict::Change {
                content: Some(ChangedContent::Elem(Elem::Text(TextElem { text: "***".into() }))),
                cloud_custom_data: None,
            }),
        ),
        (
            json!({ "ErrorCode": 0, "MsgBody": [{ "MsgType": "TIMCustomElem", "MsgContent": { "Data": "d" } }], "CloudCustomData": "c" }),
            Ok(Verdict::Change {
                content: Some(ChangedContent::Elem(Elem::Custom(CustomElem {
                    data: "d".into(),
                    desc: String::new(),
                    extension: String::new(),
                }))),
                cloud_custom_data: Some("c".into()),
            }),
        ),
        (
            json!({ "ErrorCode": 0, "MsgBody": [{ "MsgType": "TIMFaceElem", "MsgContent": { "Index": 1 } }, { "MsgType": "TIMTextElem", "MsgContent": { "Text": "x" } }] }),
            Ok(Verdict::Change {
                content: Some(ChangedContent::Elements {
                    elem_type: 8,
                    json: r#"[{"MsgContent":{"Index":1},"MsgType":"TIMFaceElem"},{"MsgContent":{"Text":"x"},"MsgType":"TIMTextElem"}]"#.into(),
                }),
                cloud_custom_data: None,
            }),
        ),
        (json!({ "ErrorCode": 1, "ErrorInfo": "no" }), Ok(deny(None, ""))),
        (json!({ "ErrorCode": 2 }), Ok(Verdict::Discard)),
        (json!({ "ErrorCode": 120_001, "ErrorInfo": "mine" }), Ok(deny(Some(120_001), "mine"))),
        (json!({ "ErrorCode": 130_000 }), Ok(deny(Some(130_000), ""))),
        (
            json!({ "ErrorCode": 130_001 }),
            Err("the answer's ErrorCode 130001 is none of 0, 1, 2 and 120001 to 130000".to_owned()),
        ),
        (json!({ "ErrorCode": "0" }), Err("the answer has no ErrorCode number".to_owned())),
        (json!([]), Err("the answer has no ErrorCode number".to_owned())),
        (
            json!({ "ErrorCode": 0, "MsgBody": [] }),
            Err("the answer's changed MsgBody must hold at least one element".to_owned()),
        ),
        (
            json!({ "ErrorCode": 0, "CloudCustomData": 5 }),
            Err("the answer's CloudCustomData is not a string".to_owned()),
        ),
    ];
    for (answer, expected) in cases {
        assert_eq!(verdict_of(&answer), expected, "{answer}");
    }
}
