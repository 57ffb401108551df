//! The typed push against the frame shape the SDK reads.

use super::*;
use crate::Push;

#[test]
fn a_typed_push_encodes_as_the_push_frame_of_its_event() {
    let push = OnMemberLeave::push(MemberChange {
        group_id: "g1".into(),
        op_user: "bob".into(),
        member_list: vec!["bob".into()],
    });
    assert_eq!(push.name(), "onMemberLeave");
    let text = push.encode().expect("encodes");
    assert_eq!(
        text,
        r#"{"event":"onMemberLeave","data":{"groupID":"g1","opUser":"bob","memberList":["bob"]}}"#
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
