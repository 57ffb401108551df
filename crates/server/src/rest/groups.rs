//! Group endpoints: create, info, members, add, delete, destroy, listings.

use serde_json::{Map, Value, json};
use tidings_proto::methods::CreateGroupParams;
use tidings_proto::{GroupMemberSpec, GroupRole, MEMBER_OP_INVALID, MEMBER_OP_SUCCESS};
use tidings_service::ServiceError;

use super::{Call, Reply, RestError, fields};
use crate::error::WireError;
use crate::tencent::group_type_name;

/// A member's role by Tencent's REST name.
fn role_name(role: GroupRole) -> &'static str {
    match role {
        GroupRole::Owner => "Owner",
        GroupRole::Admin => "Admin",
        GroupRole::Member => "Member",
    }
}

/// `group_open_http_svc/create_group`; without `Owner_Account` the group has no owner and is
/// managed by the App administrator.
pub(crate) async fn create(call: &Call<'_>) -> Reply {
    let owner = call.opt_string("Owner_Account")?;
    let group_type = call.string("Type")?;
    let name = call.string("Name")?;
    let mut member_list = Vec::new();
    for item in call.array("MemberList")? {
        let user = item
            .get("Member_Account")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RestError::new(
                    call.invalid_code,
                    "each MemberList item needs a Member_Account string",
                )
            })?;
        let role = match item.get("Role").and_then(Value::as_str) {
            None | Some("Member") => GroupRole::Member,
            Some("Admin") => GroupRole::Admin,
            Some(other) => {
                return Err(RestError::new(
                    call.invalid_code,
                    format!("Role must be Admin or Member, not {other}"),
                ));
            }
        };
        if Some(user) != owner.as_deref() {
            member_list.push(GroupMemberSpec {
                user_id: user.to_owned(),
                role,
            });
        }
    }
    let params = CreateGroupParams {
        group_type,
        group_id: call.opt_string("GroupId")?,
        group_name: name,
        member_list,
    };
    if let Some(owner) = &owner
        && !call
            .state
            .tidings
            .accounts_exist(std::slice::from_ref(owner))
            .await?[0]
    {
        return Err(ServiceError::UserNotFound(owner.clone()).into());
    }
    let created = call
        .state
        .tidings
        .create_group_owned(owner.as_deref(), params)
        .await?;
    Ok(fields(json!({ "GroupId": created.group_id })))
}

/// `group_open_http_svc/get_group_info`.
pub(crate) async fn info(call: &Call<'_>) -> Reply {
    let group_ids = call.strings("GroupIdList", 50)?;
    let mut infos = Vec::with_capacity(group_ids.len());
    for group_id in group_ids {
        let info = match call.state.tidings.group(&group_id).await {
            Ok(group) => json!({
                "GroupId": group.group_id,
                "ErrorCode": 0,
                "ErrorInfo": "",
                "Type": group_type_name(group.group_type),
                "Name": group.name,
                "Owner_Account": group.owner,
                "CreateTime": group.created_at,
                "MemberNum": group.member_count,
                "MaxMemberNum": call.state.tidings.limits().max_group_members,
                "NextMsgSeq": group.last_seq + 1,
            }),
            Err(error) => {
                let error = WireError::from(error);
                json!({ "GroupId": group_id, "ErrorCode": error.code.as_u32(), "ErrorInfo": error.desc })
            }
        };
        infos.push(info);
    }
    Ok(fields(json!({ "GroupInfo": infos })))
}

/// `group_open_http_svc/get_group_member_info`: `Offset`/`Limit` paging in joining order.
pub(crate) async fn members(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let limit = call.opt_u64("Limit")?.unwrap_or(100).clamp(1, 6000) as u32;
    let offset = u32::try_from(call.opt_u64("Offset")?.unwrap_or(0)).unwrap_or(u32::MAX);
    let group = call.state.tidings.group(&group_id).await?;
    let members = call
        .state
        .tidings
        .members_at_offset(&group_id, offset, limit)
        .await?;
    let list: Vec<Value> = members
        .iter()
        .map(|m| {
            json!({
                "Member_Account": m.user_id,
                "Role": role_name(m.role),
                "JoinTime": m.joined_at,
                "MsgSeq": m.read_seq,
                "NameCard": m.name_card,
            })
        })
        .collect();
    Ok(fields(
        json!({ "MemberNum": group.member_count, "MemberList": list }),
    ))
}

/// `group_open_http_svc/add_group_member`: per member `Result` 0 failed, 1 added, 2 already.
pub(crate) async fn add_members(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let users = call.object_strings("MemberList", "Member_Account", 300)?;
    let group = call.state.tidings.group(&group_id).await?;
    let results = call
        .state
        .tidings
        .add_to_group(&group, &call.state.auth.admin, &users)
        .await?;
    let list: Vec<Value> = results
        .iter()
        .map(|r| {
            let result = match r.result {
                MEMBER_OP_SUCCESS => 1,
                MEMBER_OP_INVALID => 2,
                _ => 0,
            };
            json!({ "Member_Account": r.member_id, "Result": result })
        })
        .collect();
    Ok(fields(json!({ "MemberList": list })))
}

/// `group_open_http_svc/delete_group_member`.
pub(crate) async fn delete_members(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let users = call.strings("MemberToDel_Account", 100)?;
    let group = call.state.tidings.group(&group_id).await?;
    if users.contains(&group.owner) {
        return Err(RestError::new(
            call.invalid_code,
            format!(
                "{} owns group {group_id} and cannot be removed from it",
                group.owner
            ),
        ));
    }
    call.state
        .tidings
        .remove_from_group(&group_id, &call.state.auth.admin, &users)
        .await?;
    Ok(Map::new())
}

/// `group_open_http_svc/destroy_group`.
pub(crate) async fn destroy(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    call.state.tidings.group(&group_id).await?;
    call.state
        .tidings
        .delete_group(&group_id, &call.state.auth.admin)
        .await?;
    Ok(Map::new())
}

/// `group_open_http_svc/get_joined_group_list`.
pub(crate) async fn joined(call: &Call<'_>) -> Reply {
    let user = call.string("Member_Account")?;
    let type_filter = call.opt_string("GroupType")?;
    let limit = call.opt_u64("Limit")?.unwrap_or(u64::from(u32::MAX)) as usize;
    let offset = call.opt_u64("Offset")?.unwrap_or(0) as usize;
    let groups: Vec<_> = call
        .state
        .tidings
        .joined_group_list(&user)
        .await?
        .into_iter()
        .filter(|g| {
            type_filter
                .as_deref()
                .is_none_or(|t| tidings_proto::GroupType::parse(t) == Some(g.group_type))
        })
        .collect();
    let page: Vec<Value> = groups
        .iter()
        .skip(offset)
        .take(limit)
        .map(|g| json!({ "GroupId": g.group_id }))
        .collect();
    Ok(fields(
        json!({ "TotalCount": groups.len(), "GroupIdList": page }),
    ))
}

/// `group_open_http_svc/get_appid_group_list`: `Next` is an offset (0 first).
pub(crate) async fn all(call: &Call<'_>) -> Reply {
    let limit = call.opt_u64("Limit")?.unwrap_or(10_000).clamp(1, 10_000) as u32;
    let offset = u32::try_from(call.opt_u64("Next")?.unwrap_or(0)).unwrap_or(u32::MAX);
    let group_type = match call.opt_string("GroupType")? {
        Some(name) => Some(tidings_proto::GroupType::parse(&name).ok_or_else(|| {
            RestError::new(call.invalid_code, format!("unknown GroupType {name}"))
        })?),
        None => None,
    };
    let (groups, total) = call
        .state
        .tidings
        .list_groups("", offset.saturating_add(limit), group_type)
        .await?;
    let page: Vec<Value> = groups
        .iter()
        .skip(offset as usize)
        .map(|g| json!({ "GroupId": g.group_id }))
        .collect();
    let next = if u64::from(offset) + (page.len() as u64) < total {
        u64::from(offset) + page.len() as u64
    } else {
        0
    };
    Ok(fields(
        json!({ "TotalCount": total, "GroupIdList": page, "Next": next }),
    ))
}
