//! Profiles through the whole server with the SDK: `setSelfInfo` (a user's own profile only),
//! `getUsersInfo`, the sender's nickname and picture on delivered messages and in history as
//! sent, and nickname, picture and name card (`setGroupMemberInfo`) in member lists and in the
//! read/unread member lists. Bad input gets Tencent's profile codes. The REST side
//! (`portrait_set`, `portrait_get`, `modify_group_member_info`) is in `rest.rs`.

mod common;

use std::collections::BTreeMap;

use common::{TestServer, next_event};
use tidings_sdk::{
    CreateGroupParams, ErrorCode, Gender, GroupMemberSpec, GroupRole, READ_MEMBERS_FILTER_UNREAD,
    ReadMemberInfo, SdkError, SdkEvent, SendMessageParams, SetSelfInfoParams, TextElem,
    UserFullInfo,
};

fn code(result: Result<impl std::fmt::Debug, SdkError>) -> u32 {
    match result {
        Err(SdkError::Server { code, .. }) => code,
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

fn card(nick: &str) -> SetSelfInfoParams {
    SetSelfInfoParams {
        nick_name: Some(nick.into()),
        face_url: Some(format!("https://f/{nick}.png")),
        ..SetSelfInfoParams::default()
    }
}

#[tokio::test]
async fn a_profile_set_over_the_sdk_is_read_by_others_and_travels_with_later_messages() {
    let server = TestServer::start().await;
    let (alice, _alice_events) = server.client("alice").await;
    let (bob, mut bob_events) = server.client("bob").await;
    alice
        .set_self_info(SetSelfInfoParams {
            self_signature: Some("at the lab".into()),
            gender: Some(2),
            custom_info: BTreeMap::from([("mood".to_owned(), "sunny".to_owned())]),
            ..card("Ann")
        })
        .await
        .unwrap();
    let infos = bob
        .get_users_info(vec!["alice".into(), "nobody".into()])
        .await
        .unwrap();
    assert_eq!(
        infos,
        [UserFullInfo {
            user_id: "alice".into(),
            nick_name: "Ann".into(),
            face_url: "https://f/Ann.png".into(),
            self_signature: "at the lab".into(),
            gender: Gender::Female,
            custom_info: BTreeMap::from([("mood".to_owned(), "sunny".to_owned())]),
        }]
    );
    let first = alice.send_text("bob", "one").await.unwrap();
    assert_eq!(first.nick_name, "Ann");
    let delivered = next_event(&mut bob_events, |event| match event {
        SdkEvent::RecvNewMessage(m) if m.msg_id == first.msg_id => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (delivered.nick_name.as_str(), delivered.face_url.as_str()),
        ("Ann", "https://f/Ann.png")
    );
    alice.set_self_info(card("Anna")).await.unwrap();
    alice.send_text("bob", "two").await.unwrap();
    let history = bob
        .get_c2c_history_message_list("alice", 10, None)
        .await
        .unwrap();
    let shown: Vec<(&str, &str)> = history
        .iter()
        .map(|m| (m.nick_name.as_str(), m.face_url.as_str()))
        .collect();
    assert_eq!(
        shown,
        [("Anna", "https://f/Anna.png"), ("Ann", "https://f/Ann.png")],
        "history keeps what each message was sent with"
    );
}

#[tokio::test]
async fn bad_profile_input_gets_tencents_profile_codes_and_changes_nothing() {
    let server = TestServer::start().await;
    let (alice, _events) = server.client("alice").await;
    let long = SetSelfInfoParams {
        self_signature: Some("s".repeat(501)),
        ..card("kept?")
    };
    assert_eq!(
        code(alice.set_self_info(long).await),
        ErrorCode::ProfileSizeLimit.as_u32()
    );
    let gender = SetSelfInfoParams {
        gender: Some(9),
        ..SetSelfInfoParams::default()
    };
    assert_eq!(
        code(alice.set_self_info(gender).await),
        ErrorCode::ProfileValueError.as_u32()
    );
    let name = SetSelfInfoParams {
        custom_info: BTreeMap::from([("no-dash".to_owned(), "x".to_owned())]),
        ..SetSelfInfoParams::default()
    };
    assert_eq!(
        code(alice.set_self_info(name).await),
        ErrorCode::ProfileTagNotFound.as_u32()
    );
    assert_eq!(
        code(alice.get_users_info(Vec::new()).await),
        ErrorCode::InvalidParameters.as_u32()
    );
    let me = alice.get_users_info(vec!["alice".into()]).await.unwrap();
    assert_eq!(me[0].nick_name, "", "the refused call set nothing");
}

#[tokio::test]
async fn member_lists_and_read_member_lists_show_profiles_and_name_cards() {
    let server = TestServer::start().await;
    let (owner, _owner_events) = server.client("owner").await;
    let (bob, _bob_events) = server.client("bob").await;
    let (carol, _carol_events) = server.client("carol").await;
    let group = owner
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: Some("team".into()),
            group_name: "Team".into(),
            member_list: ["bob", "carol"]
                .iter()
                .map(|user| GroupMemberSpec {
                    user_id: (*user).into(),
                    role: GroupRole::Member,
                })
                .collect(),
        })
        .await
        .unwrap();
    bob.set_self_info(card("Bob")).await.unwrap();
    bob.set_group_member_info(&group, "bob", "Bobby")
        .await
        .unwrap();
    owner
        .set_group_member_info(&group, "carol", "Caro")
        .await
        .unwrap();
    assert_eq!(
        code(carol.set_group_member_info(&group, "bob", "B").await),
        ErrorCode::GroupPermissionDenied.as_u32(),
        "an ordinary member sets only their own name card"
    );
    assert_eq!(
        code(
            bob.set_group_member_info(&group, "bob", "b".repeat(51))
                .await
        ),
        ErrorCode::GroupInvalidParameters.as_u32()
    );
    let list = carol.get_group_member_list(&group, 0, 0).await.unwrap();
    let shown: Vec<(&str, &str, &str)> = list
        .member_info_list
        .iter()
        .map(|m| {
            (
                m.user_id.as_str(),
                m.nick_name.as_str(),
                m.name_card.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("owner", "", ""),
            ("bob", "Bob", "Bobby"),
            ("carol", "", "Caro")
        ]
    );
    let sent = owner
        .send_message(SendMessageParams {
            group_id: Some(group.clone()),
            text_elem: Some(TextElem {
                text: "read me".into(),
            }),
            need_read_receipt: true,
            ..SendMessageParams::default()
        })
        .await
        .unwrap();
    // A change after the send shows in the lists: they show profiles as they are now.
    bob.set_self_info(card("Robert")).await.unwrap();
    let unread = owner
        .get_group_message_read_member_list(&sent.msg_id, READ_MEMBERS_FILTER_UNREAD, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        unread.member_info_list,
        [
            ReadMemberInfo {
                user_id: "bob".into(),
                nick_name: "Robert".into(),
                face_url: "https://f/Robert.png".into(),
                name_card: "Bobby".into(),
            },
            ReadMemberInfo {
                user_id: "carol".into(),
                nick_name: String::new(),
                face_url: String::new(),
                name_card: "Caro".into(),
            },
        ]
    );
}
