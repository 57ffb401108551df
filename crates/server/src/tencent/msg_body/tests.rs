//! Parsing REST `MsgBody` arrays and writing stored content as one.

use tidings_store::NewMessage;

use super::*;

#[test]
fn single_text_and_custom_elements_become_v2tim_elements() {
    let text = json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]);
    assert_eq!(
        parse_msg_body(&text).unwrap(),
        ParsedBody::Text(TextElem { text: "hi".into() })
    );
    let custom = json!([{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "d", "Ext": "e"}}]);
    let ParsedBody::Custom(elem) = parse_msg_body(&custom).unwrap() else {
        panic!("custom")
    };
    assert_eq!(
        (
            elem.data.as_str(),
            elem.desc.as_str(),
            elem.extension.as_str()
        ),
        ("d", "", "e")
    );
}

#[test]
fn other_bodies_are_kept_verbatim() {
    let body = json!([
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "x"}},
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "and"}}
    ]);
    let ParsedBody::Raw { elem_type, json } = parse_msg_body(&body).unwrap() else {
        panic!("raw")
    };
    assert_eq!(elem_type, 8);
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), body);
}

#[test]
fn malformed_bodies_are_refused() {
    for bad in [
        json!({}),
        json!([]),
        json!([{"MsgType": "TIMNope", "MsgContent": {}}]),
        json!([{"MsgType": "TIMTextElem"}]),
        json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}]),
    ] {
        assert!(parse_msg_body(&bad).is_err(), "{bad}");
    }
}

#[test]
fn stored_content_is_written_as_the_msg_body_it_came_from() {
    let text = MessageContent::Text(TextElem { text: "hi".into() });
    assert_eq!(
        msg_body(&text),
        json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": "hi" } }])
    );
    let custom = MessageContent::Custom(CustomElem {
        data: "d".into(),
        desc: "s".into(),
        extension: "e".into(),
    });
    assert_eq!(
        msg_body(&custom),
        json!([{ "MsgType": "TIMCustomElem", "MsgContent": { "Data": "d", "Desc": "s", "Ext": "e" } }])
    );
    let sent = json!([
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "x"}},
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "and"}}
    ]);
    let ParsedBody::Raw { elem_type, json } = parse_msg_body(&sent).unwrap() else {
        panic!("raw")
    };
    let stored = NewMessage {
        msg_id: "m".into(),
        sender: "alice".into(),
        receiver: Some("bob".into()),
        group_id: None,
        timestamp: 0,
        random: 0,
        need_receipt: false,
        excluded_unread: false,
        elem_type,
        body: json,
        cloud_custom_data: String::new(),
    };
    assert_eq!(msg_body_of(&stored), sent, "kept verbatim");
    let damaged = NewMessage {
        body: "[not json".into(),
        ..stored
    };
    assert_eq!(msg_body_of(&damaged), json!([]));
}
