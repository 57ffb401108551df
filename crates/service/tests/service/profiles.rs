//! Profiles: a user sets only their own, the administrator anyone's; what each field accepts;
//! the sender's card on messages as sent; nickname, picture and name card in member lists.

use std::collections::BTreeMap;

use tidings_proto::methods::{
    GroupMemberListParams, ReadMemberListParams, SetGroupMemberInfoParams, SetSelfInfoParams,
};
use tidings_proto::{
    Gender, GroupMemberInfo, GroupMemberSpec, GroupRole, PushEvent, ReadMemberInfo, UserFullInfo,
};
use tidings_store::{ProfileUpdate, UserProfile};

use crate::harness::{Harness, group_params, ids, pushed, refusal};

fn custom(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn nick(name: &str) -> SetSelfInfoParams {
    SetSelfInfoParams {
        nick_name: Some(name.into()),
        face_url: Some(format!("https://f/{name}.png")),
        ..SetSelfInfoParams::default()
    }
}

#[tokio::test]
async fn a_user_sets_their_own_profile_and_everyone_reads_it() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    let params = SetSelfInfoParams {
        nick_name: Some("Alice".into()),
        face_url: Some("https://f/a.png".into()),
        self_signature: Some("busy".into()),
        gender: Some(2),
        custom_info: custom(&[("mood", "sunny")]),
        private_read_receipts: None,
    };
    t.set_self_info("alice", params).await.unwrap();
    // Only the fields given change.
    let params = SetSelfInfoParams {
        self_signature: Some(String::new()),
        custom_info: custom(&[("mood", ""), ("city", "Oslo")]),
        ..SetSelfInfoParams::default()
    };
    t.set_self_info("alice", params).await.unwrap();
    let infos = t
        .users_info(&ids(&["nobody", "bob", "alice"]))
        .await
        .unwrap();
    assert_eq!(
        infos,
        [
            UserFullInfo {
                user_id: "bob".into(),
                ..UserFullInfo::default()
            },
            UserFullInfo {
                user_id: "alice".into(),
                nick_name: "Alice".into(),
                face_url: "https://f/a.png".into(),
                self_signature: String::new(),
                gender: Gender::Female,
                custom_info: custom(&[("city", "Oslo")]),
            },
        ]
    );
}

#[tokio::test]
async fn bad_profile_values_are_refused_with_tencents_profile_errors() {
    let h = Harness::start(&["alice"]).await;
    let t = &h.tidings;
    let too_long = SetSelfInfoParams {
        nick_name: Some("n".repeat(501)),
        ..SetSelfInfoParams::default()
    };
    assert_eq!(
        refusal(t.set_self_info("alice", too_long).await),
        r#"ProfileValueTooLong { field: "nickName", size: 501, limit: 500 }"#
    );
    let long_custom = SetSelfInfoParams {
        custom_info: custom(&[("mood", &"x".repeat(501))]),
        ..SetSelfInfoParams::default()
    };
    assert_eq!(
        refusal(t.set_self_info("alice", long_custom).await),
        r#"ProfileValueTooLong { field: "custom field mood", size: 501, limit: 500 }"#
    );
    let bad_gender = SetSelfInfoParams {
        gender: Some(3),
        ..SetSelfInfoParams::default()
    };
    assert_eq!(
        refusal(t.set_self_info("alice", bad_gender).await),
        r#"ProfileValueInvalid("gender must be 0 (unknown), 1 (male) or 2 (female), not 3")"#
    );
    let bad_name = SetSelfInfoParams {
        custom_info: custom(&[("too_long_name", "x")]),
        ..SetSelfInfoParams::default()
    };
    assert_eq!(
        refusal(t.set_self_info("alice", bad_name).await),
        r#"ProfileTagNotFound("custom field name \"too_long_name\": use 1 to 8 ASCII letters, digits or underscores")"#
    );
    // Twenty custom fields at most, across calls.
    let twenty: BTreeMap<String, String> = (0..20).map(|i| (format!("f{i}"), "v".into())).collect();
    t.set_self_info(
        "alice",
        SetSelfInfoParams {
            custom_info: twenty,
            ..SetSelfInfoParams::default()
        },
    )
    .await
    .unwrap();
    let one_more = SetSelfInfoParams {
        nick_name: Some("not kept".into()),
        custom_info: custom(&[("extra", "x")]),
        ..SetSelfInfoParams::default()
    };
    assert_eq!(
        refusal(t.set_self_info("alice", one_more).await),
        r#"InvalidParameters("alice would have more than 20 custom fields; remove some (set them to \"\") first")"#
    );
    // Nothing of a refused call was kept.
    let alice = &t.users_info(&ids(&["alice"])).await.unwrap()[0];
    assert_eq!(
        (alice.nick_name.as_str(), alice.custom_info.len()),
        ("", 20)
    );
    assert_eq!(
        refusal(t.users_info(&[]).await),
        r#"InvalidParameters("name 1 to 100 users, not 0")"#
    );
    assert_eq!(
        refusal(t.users_info(&ids(&["no body"])).await),
        r#"InvalidIdentifier("no body")"#
    );
}

#[tokio::test]
async fn the_administrator_sets_anyones_profile_but_not_a_missing_users() {
    let h = Harness::start(&["alice"]).await;
    let t = &h.tidings;
    let update = ProfileUpdate {
        nick: Some("Al".into()),
        gender: Some(Gender::Male),
        ..ProfileUpdate::default()
    };
    assert_eq!(
        t.update_profile("alice", update.clone()).await.unwrap(),
        UserProfile {
            nick: "Al".into(),
            gender: Gender::Male,
            ..UserProfile::default()
        }
    );
    assert_eq!(
        refusal(t.update_profile("ghost", update).await),
        r#"UserNotFound("ghost")"#
    );
}

#[tokio::test]
async fn messages_carry_the_senders_card_as_sent_and_history_keeps_it() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "team", &["bob"]).await;
    t.set_self_info("alice", nick("Ann")).await.unwrap();
    h.forget_published().await;
    let c2c = h.send_c2c("alice", "bob", "hi").await;
    assert_eq!(
        (c2c.nick_name.as_str(), c2c.face_url.as_str()),
        ("Ann", "https://f/Ann.png")
    );
    let group = h.send_group("alice", "team", "hello").await;
    assert_eq!(group.nick_name, "Ann");
    let published = h.bus.take();
    let delivered: Vec<(Vec<&str>, &str)> = published
        .iter()
        .filter_map(|d| match pushed(d) {
            (users, PushEvent::OnRecvNewMessage(m)) => Some((users, m.nick_name.as_str())),
            _ => None,
        })
        .collect();
    assert!(delivered.contains(&(vec!["bob"], "Ann")), "{delivered:?}");
    t.set_self_info("alice", nick("Anna")).await.unwrap();
    let later = h.send_c2c("alice", "bob", "again").await;
    assert_eq!(later.nick_name, "Anna");
    let history = t
        .c2c_history(
            "bob",
            tidings_proto::methods::C2cHistoryParams {
                user_id: "alice".into(),
                count: 10,
                last_msg_id: None,
            },
        )
        .await
        .unwrap();
    let cards: Vec<(&str, &str)> = history
        .iter()
        .map(|m| (m.nick_name.as_str(), m.face_url.as_str()))
        .collect();
    assert_eq!(
        cards,
        [("Anna", "https://f/Anna.png"), ("Ann", "https://f/Ann.png")]
    );
}

#[tokio::test]
async fn member_lists_show_live_profiles_and_name_cards_set_by_the_allowed() {
    let h = Harness::start(&["owner", "admin", "bob", "carol"]).await;
    let t = &h.tidings;
    let mut params = group_params("Work", "team", &["bob", "carol"]);
    params.member_list.push(GroupMemberSpec {
        user_id: "admin".into(),
        role: GroupRole::Admin,
    });
    t.create_group("owner", params).await.unwrap();
    let card = |group: &str, user: &str, name_card: &str| SetGroupMemberInfoParams {
        group_id: group.into(),
        user_id: user.into(),
        name_card: name_card.into(),
    };
    // Everyone sets their own; the owner anyone's; an admin ordinary members'.
    t.set_group_member_info("bob", card("team", "bob", "Bobby"))
        .await
        .unwrap();
    t.set_group_member_info("admin", card("team", "carol", "Caro"))
        .await
        .unwrap();
    t.set_group_member_info("owner", card("team", "admin", "Boss"))
        .await
        .unwrap();
    assert_eq!(
        refusal(
            t.set_group_member_info("bob", card("team", "carol", "x"))
                .await
        ),
        r#"PermissionDenied("only the owner may set another admin's name card, and only the owner and admins another member's, in group team")"#
    );
    assert_eq!(
        refusal(
            t.set_group_member_info("admin", card("team", "owner", "x"))
                .await
        ),
        r#"PermissionDenied("only the owner may set another admin's name card, and only the owner and admins another member's, in group team")"#
    );
    assert_eq!(
        refusal(
            t.set_group_member_info("bob", card("team", "bob", &"x".repeat(51)))
                .await
        ),
        r#"GroupInvalid("nameCard is 51 bytes; the limit is 50")"#
    );
    assert_eq!(
        refusal(t.set_name_card("team", "stranger", "x").await),
        r#"PermissionDenied("stranger is not a member of group team")"#
    );
    t.set_self_info("bob", nick("Bob")).await.unwrap();
    let list = t
        .group_member_list(
            "carol",
            GroupMemberListParams {
                group_id: "team".into(),
                filter: 0,
                next_seq: 0,
                count: 10,
            },
        )
        .await
        .unwrap();
    let shown: Vec<(&str, &str, &str, &str)> = list
        .member_info_list
        .iter()
        .map(|m: &GroupMemberInfo| {
            (
                m.user_id.as_str(),
                m.nick_name.as_str(),
                m.face_url.as_str(),
                m.name_card.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("owner", "", "", ""),
            ("bob", "Bob", "https://f/Bob.png", "Bobby"),
            ("carol", "", "", "Caro"),
            ("admin", "", "", "Boss"),
        ]
    );
    // Read and unread member lists show them too.
    let message = h.send_group_receipted("owner", "team").await;
    let unread = t
        .read_member_list(
            "owner",
            ReadMemberListParams {
                message_id: message.msg_id.clone(),
                filter: 1,
                next_seq: 0,
                count: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        unread.member_info_list,
        [
            ReadMemberInfo {
                user_id: "bob".into(),
                nick_name: "Bob".into(),
                face_url: "https://f/Bob.png".into(),
                name_card: "Bobby".into(),
            },
            ReadMemberInfo {
                user_id: "carol".into(),
                nick_name: String::new(),
                face_url: String::new(),
                name_card: "Caro".into(),
            },
            ReadMemberInfo {
                user_id: "admin".into(),
                nick_name: String::new(),
                face_url: String::new(),
                name_card: "Boss".into(),
            },
        ]
    );
}

#[tokio::test]
async fn set_self_info_switches_receipt_privacy_after_the_profile_and_not_when_refused() {
    let h = Harness::start(&["alice"]).await;
    let t = &h.tidings;
    let private = SetSelfInfoParams {
        nick_name: Some("Alice".into()),
        private_read_receipts: Some(true),
        ..SetSelfInfoParams::default()
    };
    t.set_self_info("alice", private).await.unwrap();
    assert!(t.receipt_privacy("alice").await.unwrap());
    // Left out: unchanged.
    let nick_only = SetSelfInfoParams {
        nick_name: Some("Al".into()),
        ..SetSelfInfoParams::default()
    };
    t.set_self_info("alice", nick_only).await.unwrap();
    assert!(t.receipt_privacy("alice").await.unwrap());
    // A refused profile changes nothing, the switch included.
    let refused = SetSelfInfoParams {
        gender: Some(7),
        private_read_receipts: Some(false),
        ..SetSelfInfoParams::default()
    };
    assert!(t.set_self_info("alice", refused).await.is_err());
    assert!(t.receipt_privacy("alice").await.unwrap());
    let public = SetSelfInfoParams {
        private_read_receipts: Some(false),
        ..SetSelfInfoParams::default()
    };
    t.set_self_info("alice", public).await.unwrap();
    assert!(!t.receipt_privacy("alice").await.unwrap());
}
