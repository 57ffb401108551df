//! The typed push against the frame shape the SDK reads.

use super::*;
use crate::Push;

#[test]
fn a_typed_push_encodes_as_the_push_frame_of_its_event() {
    let push = OnMemberLeave::push(MemberLeave {
        group_id: "g1".into(),
        member: ReadMemberInfo {
            user_id: "bob".into(),
            nick_name: "Bob".into(),
            face_url: String::new(),
            name_card: String::new(),
        },
    });
    assert_eq!(push.name(), "onMemberLeave");
    let text = push.encode().expect("encodes");
    assert_eq!(
        text,
        r#"{"event":"onMemberLeave","data":{"groupID":"g1","member":{"userID":"bob","nickName":"Bob","faceURL":""}}}"#
    );
    let frame: Push = serde_json::from_str(&text).expect("a push frame");
    assert_eq!(frame.event, OnMemberLeave::NAME);
    assert_eq!(
        serde_json::from_str::<PushEvent>(&text).expect("decodes typed"),
        push
    );
}

#[test]
fn an_empty_payload_is_an_empty_object() {
    assert_eq!(
        OnUserSigExpired::push(UserSigExpired {})
            .encode()
            .expect("encodes"),
        r#"{"event":"onUserSigExpired","data":{}}"#
    );
}
