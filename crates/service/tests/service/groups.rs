//! Groups: creation, each type's rules for joining and inviting, roles and kicks, quitting,
//! dismissal, member lists and the member limit.

use tidings_proto::events::{
    GroupDismissed, MemberEnter, MemberInvited, MemberKicked, MemberLeave, OnGroupDismissed,
    OnMemberEnter, OnMemberInvited, OnMemberKicked, OnMemberLeave, OnNewConversation,
};
use tidings_proto::methods::{
    CreateGroupParams, GroupHistoryParams, GroupMemberListParams, InviteParams,
    JoinedGroupListParams, KickParams,
};
use tidings_proto::{
    CONVERSATION_TYPE_GROUP, Conversation, GroupInfo, GroupMemberSpec, GroupRole, GroupType,
    MEMBER_OP_FAIL, MEMBER_OP_INVALID, MEMBER_OP_OVER_LIMIT, MEMBER_OP_SUCCESS,
    MemberOperationResult, ReadMemberInfo,
};
use tidings_service::Limits;

use crate::harness::{Harness, Setup, group_params, push, refusal};

/// A member object as the events carry it (the harness's users have no profile).
fn member(user: &str) -> ReadMemberInfo {
    ReadMemberInfo {
        user_id: user.to_owned(),
        nick_name: String::new(),
        face_url: String::new(),
        name_card: String::new(),
    }
}

fn members(users: &[&str]) -> Vec<ReadMemberInfo> {
    users.iter().map(|u| member(u)).collect()
}

fn entered(group_id: &str, users: &[&str]) -> MemberEnter {
    MemberEnter {
        group_id: group_id.to_owned(),
        member_list: members(users),
    }
}

/// The `onNewConversation` pushes of a group (without messages) that these users just
/// joined: each one's view, unread 0, read position `read_seq`.
async fn new_conversations(
    h: &Harness,
    group_id: &str,
    users: &[&str],
    read_seq: u64,
) -> Vec<tidings_service::Delivery> {
    let group = h
        .tidings
        .store()
        .get_group(group_id)
        .await
        .expect("store reads")
        .expect("group");
    users
        .iter()
        .map(|user| {
            push::<OnNewConversation>(
                &[user],
                vec![Conversation {
                    conversation_id: format!("group_{group_id}"),
                    conversation_type: CONVERSATION_TYPE_GROUP,
                    user_id: None,
                    group_id: Some(group_id.to_owned()),
                    group_type: Some(group.group_type.as_str().to_owned()),
                    show_name: group.name.clone(),
                    unread_count: 0,
                    c2c_read_timestamp: 0,
                    group_read_sequence: read_seq,
                    last_message: None,
                    order_key: group.activity as i64,
                    group_at_info_list: Vec::new(),
                }],
            )
        })
        .collect()
}

fn result(member: &str, result: u32) -> MemberOperationResult {
    MemberOperationResult {
        member_id: member.to_owned(),
        result,
    }
}

fn users(users: &[&str]) -> Vec<String> {
    users.iter().map(|u| (*u).to_owned()).collect()
}

fn invite(group_id: &str, invited: &[&str]) -> InviteParams {
    InviteParams {
        group_id: group_id.to_owned(),
        user_list: users(invited),
    }
}

fn kick(group_id: &str, kicked: &[&str]) -> KickParams {
    KickParams {
        group_id: group_id.to_owned(),
        member_list: users(kicked),
        reason: String::new(),
    }
}

/// A group owned by alice with these members and roles.
async fn group_with_roles(h: &Harness, group_id: &str, members: &[(&str, GroupRole)]) {
    let params = CreateGroupParams {
        member_list: members
            .iter()
            .map(|(user, role)| GroupMemberSpec {
                user_id: (*user).to_owned(),
                role: *role,
            })
            .collect(),
        ..group_params("Work", group_id, &[])
    };
    h.tidings
        .create_group("alice", params)
        .await
        .expect("group created");
    h.forget_published().await;
}

#[tokio::test]
async fn creating_a_group_checks_its_type_name_id_and_members() {
    let setup = Setup {
        limits: Limits {
            max_group_members: 3,
            ..Limits::default()
        },
        ..Setup::default()
    };
    let h = Harness::start_with(setup, &["alice", "bob", "carol", "dave"]).await;
    let t = &h.tidings;
    let created = t
        .create_group("alice", group_params("Work", "g", &["bob", "carol", "bob"]))
        .await
        .unwrap();
    assert_eq!(created.group_id, "g");
    let mut expected = vec![push::<OnMemberEnter>(
        &["alice", "bob", "carol"],
        entered("g", &["alice", "bob", "carol"]),
    )];
    expected.extend(new_conversations(&h, "g", &["alice", "bob", "carol"], 0).await);
    assert_eq!(
        h.bus.take(),
        expected,
        "the owner first, repeats once; each member's list shows the group"
    );

    let generated = t
        .create_group(
            "alice",
            CreateGroupParams {
                group_id: None,
                ..group_params("Public", "", &[])
            },
        )
        .await
        .unwrap()
        .group_id;
    assert!(
        generated.starts_with("@TGS#") && generated.len() == 15,
        "{generated}"
    );

    let refusals = [
        (
            group_params("Nope", "x", &[]),
            "GroupInvalid(\"groupType must be Work, Public, Meeting, AVChatRoom or Community, not \\\"Nope\\\"\")",
        ),
        (
            group_params("Work", "@TGS#mine", &[]),
            "GroupInvalid(\"custom group IDs may not start with @TGS#\")",
        ),
        (
            group_params("AVChatRoom", "live", &["bob"]),
            "GroupInvalid(\"AVChatRoom groups take no initial members: users join them\")",
        ),
        (
            CreateGroupParams {
                group_name: "n".repeat(101),
                ..group_params("Work", "x", &[])
            },
            "GroupInvalid(\"groupName is longer than 100 bytes\")",
        ),
        (
            CreateGroupParams {
                member_list: vec![GroupMemberSpec {
                    user_id: "bob".into(),
                    role: GroupRole::Owner,
                }],
                ..group_params("Work", "x", &[])
            },
            "GroupInvalid(\"the creator is the owner; members may be 200 or 300\")",
        ),
        (
            group_params("Work", "x", &["bob", "nobody"]),
            "UserNotFound(\"nobody\")",
        ),
        (
            group_params("Work", "no space", &[]),
            "InvalidIdentifier(\"no space\")",
        ),
        (
            group_params("Work", "x", &["bob", "carol", "dave"]),
            "GroupFull { group: \"x\", limit: 3 }",
        ),
        (group_params("Public", "g", &[]), "GroupIdInUse(\"g\")"),
    ];
    h.forget_published().await;
    for (params, expected) in refusals {
        assert_eq!(
            refusal(t.create_group("alice", params.clone()).await),
            expected,
            "{params:?}"
        );
    }
    assert_eq!(h.bus.take(), []);
    let joined: Vec<String> = t
        .joined_group_list("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    assert_eq!(joined.len(), 2, "no refused group was made: {joined:?}");
}

#[tokio::test]
async fn work_groups_admit_by_invitation_only_and_the_others_let_users_join() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "w", &[]).await;
    assert_eq!(
        refusal(t.join_group("bob", "w").await),
        "PermissionDenied(\"Work group w admits members only by invitation\")"
    );
    for group_type in ["Public", "Meeting", "AVChatRoom", "Community"] {
        h.create_group("alice", group_type, group_type, &[]).await;
        t.join_group("bob", group_type).await.unwrap();
        let mut expected = vec![push::<OnMemberEnter>(
            &["alice", "bob"],
            entered(group_type, &["bob"]),
        )];
        expected.extend(new_conversations(&h, group_type, &["bob"], 0).await);
        assert_eq!(h.bus.take(), expected, "{group_type}");
        assert_eq!(
            refusal(t.join_group("bob", group_type).await),
            format!("AlreadyMember {{ group: \"{group_type}\", user: \"bob\" }}")
        );
    }
    assert_eq!(
        refusal(t.join_group("bob", "nope").await),
        "GroupNotFound(\"nope\")"
    );
}

#[tokio::test]
async fn who_may_invite_depends_on_the_group_type_and_role() {
    let h = Harness::start(&["alice", "bob", "carol", "dave", "erin"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "w", &["bob"]).await;
    h.create_group("alice", "Public", "p", &["bob"]).await;
    h.create_group("alice", "AVChatRoom", "live", &[]).await;
    t.join_group("bob", "live").await.unwrap();
    h.forget_published().await;

    assert_eq!(
        t.invite_to_group("bob", invite("w", &["carol", "alice", "nobody"]))
            .await
            .unwrap(),
        [
            result("carol", MEMBER_OP_SUCCESS),
            result("alice", MEMBER_OP_INVALID),
            result("nobody", MEMBER_OP_FAIL)
        ],
        "any member of a Work group may invite"
    );
    let mut expected = vec![push::<OnMemberInvited>(
        &["alice", "bob", "carol"],
        MemberInvited {
            group_id: "w".into(),
            op_user: member("bob"),
            member_list: members(&["carol"]),
        },
    )];
    expected.extend(new_conversations(&h, "w", &["carol"], 0).await);
    assert_eq!(h.bus.take(), expected);
    assert_eq!(
        refusal(t.invite_to_group("bob", invite("p", &["dave"])).await),
        "PermissionDenied(\"only the owner and admins may invite to Public group p\")"
    );
    assert_eq!(
        t.invite_to_group("alice", invite("p", &["dave"]))
            .await
            .unwrap(),
        [result("dave", MEMBER_OP_SUCCESS)]
    );
    assert_eq!(
        refusal(t.invite_to_group("alice", invite("live", &["erin"])).await),
        "PermissionDenied(\"AVChatRoom groups take no invitations: users join them\")"
    );
    assert_eq!(
        refusal(t.invite_to_group("erin", invite("w", &["dave"])).await),
        "PermissionDenied(\"erin is not a member of group w\")"
    );
    assert_eq!(
        refusal(t.invite_to_group("alice", invite("w", &[])).await),
        "InvalidParameters(\"name between 1 and 100 users, not 0\")"
    );
}

#[tokio::test]
async fn the_owner_cannot_quit_and_a_member_leaves_once() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "w", &["bob", "carol"])
        .await;
    assert_eq!(
        refusal(t.quit_group("alice", "w").await),
        "OwnerCannotQuit(\"w\")"
    );
    t.quit_group("bob", "w").await.unwrap();
    assert_eq!(
        h.bus.take(),
        [push::<OnMemberLeave>(
            &["alice", "carol", "bob"],
            MemberLeave {
                group_id: "w".into(),
                member: member("bob"),
            }
        )],
        "the group and the leaver hear of it"
    );
    assert_eq!(
        refusal(t.quit_group("bob", "w").await),
        "PermissionDenied(\"bob is not a member of group w\")"
    );
}

#[tokio::test]
async fn owners_remove_anyone_and_admins_only_ordinary_members() {
    let h = Harness::start(&["alice", "bob", "carol", "dave", "erin"]).await;
    let t = &h.tidings;
    group_with_roles(
        &h,
        "g",
        &[
            ("bob", GroupRole::Admin),
            ("carol", GroupRole::Admin),
            ("dave", GroupRole::Member),
            ("erin", GroupRole::Member),
        ],
    )
    .await;
    let refusals = [
        (
            "dave",
            &["erin"][..],
            "PermissionDenied(\"only the owner and admins may remove members of group g\")",
        ),
        (
            "bob",
            &["carol"],
            "PermissionDenied(\"only the owner may remove admin carol\")",
        ),
        (
            "bob",
            &["alice"],
            "PermissionDenied(\"only the owner may remove admin alice\")",
        ),
        (
            "bob",
            &["dave", "bob"],
            "PermissionDenied(\"you cannot remove yourself; quit the group instead\")",
        ),
        (
            "alice",
            &["alice"],
            "PermissionDenied(\"you cannot remove yourself; quit the group instead\")",
        ),
    ];
    for (actor, kicked, expected) in refusals {
        assert_eq!(
            refusal(t.kick_members(actor, kick("g", kicked)).await),
            expected,
            "{actor} kicks {kicked:?}"
        );
    }
    assert_eq!(h.bus.take(), [], "a refused kick removes nobody");

    assert_eq!(
        t.kick_members("bob", kick("g", &["dave", "frank"]))
            .await
            .unwrap(),
        [
            result("dave", MEMBER_OP_SUCCESS),
            result("frank", MEMBER_OP_INVALID)
        ]
    );
    assert_eq!(
        h.bus.take(),
        [push::<OnMemberKicked>(
            &["alice", "bob", "carol", "erin", "dave"],
            MemberKicked {
                group_id: "g".into(),
                op_user: member("bob"),
                member_list: members(&["dave"]),
            }
        )]
    );
    assert_eq!(
        t.kick_members("alice", kick("g", &["carol"]))
            .await
            .unwrap(),
        [result("carol", MEMBER_OP_SUCCESS)]
    );
}

#[tokio::test]
async fn only_the_owner_dismisses_and_the_group_is_gone_with_its_messages() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Work", "w", &["bob"]).await;
    let m = h.send_group_receipted("alice", "w").await.msg_id;
    h.forget_published().await;
    assert_eq!(
        refusal(t.dismiss_group("bob", "w").await),
        "PermissionDenied(\"only the owner may dismiss group w\")"
    );
    t.dismiss_group("alice", "w").await.unwrap();
    assert_eq!(
        h.bus.take(),
        [push::<OnGroupDismissed>(
            &["alice", "bob"],
            GroupDismissed {
                group_id: "w".into(),
                op_user: "alice".into()
            }
        )]
    );
    assert_eq!(
        refusal(
            t.group_history(
                "bob",
                GroupHistoryParams {
                    group_id: "w".into(),
                    count: 10,
                    last_msg_id: None
                }
            )
            .await
        ),
        "GroupNotFound(\"w\")"
    );
    assert_eq!(t.joined_group_list("bob").await.unwrap(), []);
    assert_eq!(
        refusal(t.send_read_receipts("bob", vec![m.clone()], None).await),
        format!("ReceiptInfoNotFound(\"message {m} does not exist\")"),
        "the message's cached facts went with the group"
    );
}

fn member_page(group_id: &str, filter: u32, next_seq: u64, count: u32) -> GroupMemberListParams {
    GroupMemberListParams {
        group_id: group_id.to_owned(),
        filter,
        next_seq,
        count,
    }
}

#[tokio::test]
async fn member_lists_filter_by_role_and_page_in_joining_order() {
    let h = Harness::start(&["alice", "bob", "carol", "dave", "erin"]).await;
    let t = &h.tidings;
    group_with_roles(
        &h,
        "g",
        &[
            ("bob", GroupRole::Member),
            ("carol", GroupRole::Admin),
            ("dave", GroupRole::Member),
        ],
    )
    .await;
    let listed = |filter| async move {
        let page = t
            .group_member_list("bob", member_page("g", filter, 0, 100))
            .await
            .unwrap();
        assert_eq!(page.next_seq, 0, "one page holds them all");
        page.member_info_list
            .into_iter()
            .map(|m| (m.user_id, m.role))
            .collect::<Vec<_>>()
    };
    let owner = ("alice".to_owned(), GroupRole::Owner);
    let admin = ("carol".to_owned(), GroupRole::Admin);
    let (bob, dave) = (
        ("bob".to_owned(), GroupRole::Member),
        ("dave".to_owned(), GroupRole::Member),
    );
    assert_eq!(
        listed(0).await,
        [owner.clone(), bob.clone(), admin.clone(), dave.clone()]
    );
    assert_eq!(listed(1).await, [owner]);
    assert_eq!(listed(2).await, [admin]);
    assert_eq!(listed(4).await, [bob, dave]);

    let first = t
        .group_member_list("bob", member_page("g", 0, 0, 3))
        .await
        .unwrap();
    assert_eq!(first.member_info_list.len(), 3);
    assert_ne!(first.next_seq, 0);
    let rest = t
        .group_member_list("bob", member_page("g", 0, first.next_seq, 3))
        .await
        .unwrap();
    let rest_ids: Vec<&str> = rest
        .member_info_list
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!((rest_ids, rest.next_seq), (vec!["dave"], 0));

    assert_eq!(
        refusal(t.group_member_list("bob", member_page("g", 3, 0, 10)).await),
        "InvalidParameters(\"filter must be 0 (all), 1 (owner), 2 (admins) or 4 (members), not 3\")"
    );
    assert_eq!(
        refusal(
            t.group_member_list("erin", member_page("g", 0, 0, 10))
                .await
        ),
        "PermissionDenied(\"erin is not a member of group g\")"
    );
}

#[tokio::test]
async fn a_full_group_admits_nobody_more() {
    let setup = Setup {
        limits: Limits {
            max_group_members: 3,
            ..Limits::default()
        },
        ..Setup::default()
    };
    let h = Harness::start_with(setup, &["alice", "bob", "carol", "dave"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Public", "p", &["bob"]).await;
    t.join_group("carol", "p").await.unwrap();
    let full = "GroupFull { group: \"p\", limit: 3 }";
    assert_eq!(refusal(t.join_group("dave", "p").await), full);
    assert_eq!(
        refusal(t.invite_to_group("alice", invite("p", &["dave"])).await),
        full
    );
}

#[tokio::test]
async fn group_information_is_answered_per_group_with_the_callers_role() {
    let h = Harness::start(&["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    h.create_group("alice", "Meeting", "m", &["bob"]).await;
    h.send_group("alice", "m", "hello").await;
    let info = t.groups_info("bob", &users(&["m", "nope"])).await.unwrap();
    let [Ok(found), Err(missing)] = &info[..] else {
        panic!("one answer per group: {info:?}")
    };
    assert_eq!(
        found,
        &GroupInfo {
            group_id: "m".into(),
            group_type: GroupType::Meeting,
            group_name: "m name".into(),
            owner: "alice".into(),
            create_time: found.create_time,
            member_count: 2,
            role: Some(GroupRole::Member),
            last_message_seq: 1,
        }
    );
    assert_eq!(format!("{missing:?}"), "GroupNotFound(\"nope\")");
    let outsider = t.groups_info("carol", &users(&["m"])).await.unwrap();
    assert_eq!(
        outsider[0].as_ref().map(|info| info.role).ok(),
        Some(None),
        "anyone may look; a non-member has no role"
    );
    assert_eq!(
        t.joined_group_list("bob").await.unwrap(),
        std::slice::from_ref(found)
    );
}

#[tokio::test]
async fn per_user_quotas_bound_the_groups_a_user_owns_and_belongs_to() {
    let setup = Setup {
        limits: Limits {
            max_groups_created_per_user: 2,
            max_groups_joined_per_user: 3,
            ..Limits::default()
        },
        ..Setup::default()
    };
    let h = Harness::start_with(setup, &["alice", "bob", "carol"]).await;
    let t = &h.tidings;
    t.create_group("alice", group_params("Public", "a1", &[]))
        .await
        .unwrap();
    t.create_group("alice", group_params("Public", "a2", &["bob"]))
        .await
        .unwrap();
    assert_eq!(
        refusal(
            t.create_group("alice", group_params("Public", "a3", &[]))
                .await
        ),
        "GroupQuotaExceeded { user: \"alice\", what: \"own\", limit: 2 }"
    );
    t.create_group("carol", group_params("Public", "c1", &["bob"]))
        .await
        .unwrap();
    t.join_group("bob", "a1").await.unwrap();
    // bob now belongs to a2, c1 and a1: full.
    assert_eq!(
        refusal(
            t.create_group("bob", group_params("Public", "b1", &[]))
                .await
        ),
        "GroupQuotaExceeded { user: \"bob\", what: \"belong to\", limit: 3 }"
    );
    assert_eq!(
        refusal(
            t.create_group("carol", group_params("Public", "c2", &["bob"]))
                .await
        ),
        "GroupQuotaExceeded { user: \"bob\", what: \"belong to\", limit: 3 }"
    );
    t.create_group("carol", group_params("Public", "c2", &[]))
        .await
        .unwrap();
    assert_eq!(
        refusal(t.join_group("bob", "c2").await),
        "GroupQuotaExceeded { user: \"bob\", what: \"belong to\", limit: 3 }"
    );
    h.forget_published().await;
    let invited = t
        .invite_to_group(
            "carol",
            InviteParams {
                group_id: "c2".into(),
                user_list: vec!["bob".into(), "alice".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        invited,
        [
            MemberOperationResult {
                member_id: "bob".into(),
                result: MEMBER_OP_OVER_LIMIT,
            },
            MemberOperationResult {
                member_id: "alice".into(),
                result: MEMBER_OP_SUCCESS,
            },
        ]
    );
    assert!(t.store().get_member("c2", "bob").await.unwrap().is_none());
    // Leaving makes room again; dismissing a group gives back its owner's quota.
    t.quit_group("bob", "c1").await.unwrap();
    t.join_group("bob", "c2").await.unwrap();
    t.dismiss_group("alice", "a1").await.unwrap();
    t.create_group("alice", group_params("Public", "a3", &[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_joined_group_list_comes_whole_or_page_by_page_in_group_id_order() {
    let h = Harness::start(&["alice", "bob"]).await;
    let t = &h.tidings;
    for id in ["g3", "g1", "g5", "g2", "g4"] {
        t.create_group("alice", group_params("Public", id, &[]))
            .await
            .unwrap();
    }
    let ids = |groups: Vec<GroupInfo>| -> Vec<String> {
        groups.into_iter().map(|g| g.group_id).collect()
    };
    assert_eq!(
        ids(t.joined_group_list("alice").await.unwrap()),
        ["g1", "g2", "g3", "g4", "g5"]
    );
    let page = |after: &str, count| {
        t.joined_group_page(
            "alice",
            JoinedGroupListParams {
                after_group_id: after.to_owned(),
                count,
            },
        )
    };
    assert_eq!(ids(page("", Some(2)).await.unwrap()), ["g1", "g2"]);
    assert_eq!(ids(page("g2", Some(2)).await.unwrap()), ["g3", "g4"]);
    assert_eq!(ids(page("g4", Some(2)).await.unwrap()), ["g5"]);
    assert_eq!(ids(page("g2", None).await.unwrap()), ["g3", "g4", "g5"]);
    assert!(ids(page("", None).await.unwrap()).len() == 5);
    assert!(t.joined_group_list("bob").await.unwrap().is_empty());
    assert_eq!(
        refusal(page("", Some(101)).await),
        "InvalidParameters(\"count must be between 1 and 100, not 101\")"
    );
}
