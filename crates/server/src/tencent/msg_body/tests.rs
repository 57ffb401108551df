//! Parsing REST `MsgBody` arrays and writing stored content as one.

use tidings_store::NewMessage;

use super::*;

/// Every element type: its V2TIM element and its REST element as the server writes it.
fn every_type() -> Vec<(Elem, Value)> {
    let text = Elem::Text(TextElem { text: "hi".into() });
    let custom = Elem::Custom(CustomElem {
        data: "d".into(),
        desc: "s".into(),
        extension: "e".into(),
    });
    let mut forwarded = MergedMessage {
        sender: "alice".into(),
        user_id: Some("bob".into()),
        seq: 4,
        random: 5,
        timestamp: 1_700_000_000,
        cloud_custom_data: "c".into(),
        ..MergedMessage::default()
    };
    forwarded.set_elem(text.clone());
    vec![
        (
            text,
            json!({ "MsgType": "TIMTextElem", "MsgContent": { "Text": "hi" } }),
        ),
        (
            custom,
            json!({ "MsgType": "TIMCustomElem", "MsgContent": { "Data": "d", "Desc": "s", "Ext": "e" } }),
        ),
        (
            Elem::Image(ImageElem {
                uuid: "img-1".into(),
                image_format: 3,
                image_list: vec![
                    Image {
                        uuid: String::new(),
                        image_type: IMAGE_TYPE_ORIGIN,
                        size: 2048,
                        width: 640,
                        height: 480,
                        url: "https://cdn.example/o.png".into(),
                    },
                    Image {
                        uuid: String::new(),
                        image_type: IMAGE_TYPE_THUMB,
                        size: 100,
                        width: 64,
                        height: 48,
                        url: "https://cdn.example/t.png".into(),
                    },
                ],
            }),
            json!({ "MsgType": "TIMImageElem", "MsgContent": { "UUID": "img-1", "ImageFormat": 3,
                "ImageInfoArray": [
                    { "Type": 1, "Size": 2048, "Width": 640, "Height": 480, "URL": "https://cdn.example/o.png" },
                    { "Type": 3, "Size": 100, "Width": 64, "Height": 48, "URL": "https://cdn.example/t.png" }
                ] } }),
        ),
        (
            Elem::Sound(SoundElem {
                uuid: "s-1".into(),
                data_size: 4000,
                duration: 3,
                url: "https://cdn.example/s.m4a".into(),
            }),
            json!({ "MsgType": "TIMSoundElem", "MsgContent": { "Url": "https://cdn.example/s.m4a",
                "UUID": "s-1", "Size": 4000, "Second": 3, "Download_Flag": 2 } }),
        ),
        (
            Elem::Video(VideoElem {
                uuid: "v-1".into(),
                video_type: "mp4".into(),
                video_size: 90_000,
                duration: 12,
                video_url: "https://cdn.example/v.mp4".into(),
                snapshot_uuid: "t-1".into(),
                snapshot_type: "JPG".into(),
                snapshot_size: 900,
                snapshot_width: 320,
                snapshot_height: 180,
                snapshot_url: "https://cdn.example/v.jpg".into(),
            }),
            json!({ "MsgType": "TIMVideoFileElem", "MsgContent": {
                "VideoUrl": "https://cdn.example/v.mp4", "VideoUUID": "v-1", "VideoSize": 90_000,
                "VideoSecond": 12, "VideoFormat": "mp4", "VideoDownloadFlag": 2,
                "ThumbUrl": "https://cdn.example/v.jpg", "ThumbUUID": "t-1", "ThumbSize": 900,
                "ThumbWidth": 320, "ThumbHeight": 180, "ThumbFormat": "JPG", "ThumbDownloadFlag": 2 } }),
        ),
        (
            Elem::File(FileElem {
                uuid: "f-1".into(),
                file_name: "report.pdf".into(),
                file_size: 12_345,
                url: "https://cdn.example/report.pdf".into(),
            }),
            json!({ "MsgType": "TIMFileElem", "MsgContent": { "Url": "https://cdn.example/report.pdf",
                "UUID": "f-1", "FileSize": 12_345, "FileName": "report.pdf", "Download_Flag": 2 } }),
        ),
        (
            Elem::Location(LocationElem {
                desc: "Tower".into(),
                longitude: 113.934_5,
                latitude: -22.5,
            }),
            json!({ "MsgType": "TIMLocationElem", "MsgContent": { "Desc": "Tower", "Latitude": -22.5, "Longitude": 113.934_5 } }),
        ),
        (
            Elem::Face(FaceElem {
                index: 7,
                data: "set-a".into(),
            }),
            json!({ "MsgType": "TIMFaceElem", "MsgContent": { "Index": 7, "Data": "set-a" } }),
        ),
        (
            Elem::Merger(MergerElem {
                title: "Chat of Alice and Bob".into(),
                abstract_list: vec!["alice: hi".into()],
                compatible_text: "upgrade to see this".into(),
                message_list: vec![forwarded],
            }),
            json!({ "MsgType": "TIMRelayElem", "MsgContent": {
                "Title": "Chat of Alice and Bob", "MsgNum": 1, "CompatibleText": "upgrade to see this",
                "AbstractList": ["alice: hi"],
                "MsgList": [{ "From_Account": "alice", "To_Account": "bob", "MsgSeq": 4, "MsgRandom": 5,
                    "MsgTimeStamp": 1_700_000_000, "CloudCustomData": "c",
                    "MsgBody": [{ "MsgType": "TIMTextElem", "MsgContent": { "Text": "hi" } }] }] } }),
        ),
    ]
}

#[test]
fn every_element_type_maps_field_by_field_both_ways() {
    for (elem, rest) in every_type() {
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
    for (elem, rest) in every_type() {
        let one = NewMessage {
            elem_type: elem.elem_type(),
            body: elem.to_json(),
            ..stored.clone()
        };
        assert_eq!(msg_body_of(&one), json!([rest]));
    }
}
