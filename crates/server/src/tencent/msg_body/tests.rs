//! Parsing REST `MsgBody` arrays and writing stored content as one.

use tidings_store::NewMessage;

use super::*;

#[path = "../../../tests/fixtures/elements.rs"]
mod elements;
use elements::every_element;

#[test]
fn every_element_type_maps_field_by_field_both_ways() {
    for (elem, rest) in every_element() {
        let body = json!([rest]);
        assert_eq!(
            parse_msg_body(&body).unwrap(),
            ParsedBody::One(elem.clone()),
            "{rest}"
        );
        assert_eq!(msg_body(&MessageContent::Elem(elem)), body);
    }
}

#[test]
fn several_elements_are_kept_verbatim() {
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
fn malformed_bodies_are_refused_saying_why() {
    let image = |info: Value| json!([{ "MsgType": "TIMImageElem", "MsgContent": { "ImageInfoArray": info } }]);
    let cases = [
        (json!({}), "MsgBody must be an array of elements"),
        (json!([]), "MsgBody must hold at least one element"),
        (
            json!([{"MsgType": "TIMNope", "MsgContent": {}}]),
            "MsgBody has unknown MsgType \"TIMNope\"",
        ),
        (
            json!([{"MsgType": "TIMTextElem"}]),
            "MsgBody elements need a MsgContent object",
        ),
        (
            json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}]),
            "MsgContent.Text must be a string",
        ),
        (
            image(json!([{ "Type": 1, "Size": 1 }])),
            "MsgBody: imageElem.imageList url is missing",
        ),
        (
            image(json!([{ "Type": 1, "URL": "javascript:alert(1)" }])),
            "MsgBody: imageElem.imageList url must be an http:// or https:// URL",
        ),
        (
            image(json!([{ "Type": 4, "URL": "https://x.example/i" }])),
            "MsgContent.ImageInfoArray Type must be 1 (original), 2 (large) or 3 (thumbnail), not 4",
        ),
        (
            image(json!([])),
            "MsgBody: imageElem.imageList must hold 1 to 3 sizes, not 0",
        ),
        (
            json!([{ "MsgType": "TIMFileElem", "MsgContent": { "FileName": "a", "FileSize": 1 } }]),
            "MsgBody: fileElem.url is missing",
        ),
        (
            json!([{ "MsgType": "TIMSoundElem", "MsgContent": { "Second": 1 } }]),
            "MsgBody: soundElem.url is missing",
        ),
        (
            json!([{ "MsgType": "TIMVideoFileElem", "MsgContent": { "VideoUrl": "https://x.example/v" } }]),
            "MsgBody: videoElem.snapshotUrl is missing",
        ),
        (
            json!([{ "MsgType": "TIMLocationElem", "MsgContent": { "Latitude": 91.0 } }]),
            "MsgBody: locationElem needs a latitude from -90 to 90",
        ),
        (
            json!([{ "MsgType": "TIMRelayElem", "MsgContent": { "Title": "t", "MsgList": [] } }]),
            "MsgBody: mergerElem.messageList must hold at least one message",
        ),
        (
            json!([{ "MsgType": "TIMRelayElem", "MsgContent": { "MsgList": [{ "MsgBody": [] }] } }]),
            "each MsgContent.MsgList message needs a MsgBody of one element",
        ),
    ];
    for (bad, why) in cases {
        let error = parse_msg_body(&bad).expect_err(why);
        assert!(error.starts_with(why), "{bad}: {error}");
    }
}

#[test]
fn stored_content_is_written_as_the_msg_body_it_came_from() {
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
        targets: Vec::new(),
        at_users: Vec::new(),
        sender_card: tidings_store::UserCard::default(),
    };
    assert_eq!(msg_body_of(&stored), sent, "kept verbatim");
    let damaged = NewMessage {
        body: "[not json".into(),
        ..stored.clone()
    };
    assert_eq!(msg_body_of(&damaged), json!([]));
    // One element is stored as V2TIM's element object and read back as the same REST element.
    for (elem, rest) in every_element() {
        let one = NewMessage {
            elem_type: elem.elem_type(),
            body: elem.to_json(),
            ..stored.clone()
        };
        assert_eq!(msg_body_of(&one), json!([rest]));
    }
}
