//! Groups: creation, joining, leaving, invitations, removals and listings, with Tencent's rules
//! per group type.

use rand::Rng;
use rand::distr::Alphanumeric;
use tidings_proto::events::{
    GroupDismissed, MemberEnter, MemberInvited, MemberKicked, MemberLeave, OnGroupDismissed,
    OnMemberEnter, OnMemberInvited, OnMemberKicked, OnMemberLeave,
};
use tidings_proto::methods::{
    CreateGroupParams, CreateGroupResult, GroupMemberListParams, GroupMemberListResult,
    InviteParams, JoinedGroupListParams, KickParams,
};
use tidings_proto::{
    GroupInfo, GroupMemberInfo, GroupRole, GroupType, MAX_LIST_PAGE, MEMBER_OP_FAIL,
    MEMBER_OP_INVALID, MEMBER_OP_OVER_LIMIT, MEMBER_OP_SUCCESS, MemberOperationResult,
    ReadMemberInfo,
};
use tidings_store::{GroupRecord, MemberRecord, NewGroup, NewMember};

use crate::checks::{check_id, check_page};
use crate::error::InGroup;
use crate::{ServiceError, ServiceResult, Tidings, now};

/// Prefix of generated group IDs; custom IDs may not use it.
const GENERATED_PREFIX: &str = "@TGS#";
/// Most users one invitation, removal or creation may name.
const MAX_MEMBERS_PER_CALL: usize = 100;
/// Longest group name, in bytes.
const MAX_GROUP_NAME_BYTES: usize = 100;

fn member_info(member: MemberRecord) -> GroupMemberInfo {
    GroupMemberInfo {
        role: member.role,
        user_id: member.user_id,
        nick_name: member.profile.nick,
        face_url: member.profile.face_url,
        name_card: member.name_card,
        join_time: member.joined_at,
    }
}

fn group_info(group: &GroupRecord, member: Option<&MemberRecord>) -> ServiceResult<GroupInfo> {
    Ok(GroupInfo {
        group_id: group.group_id.clone(),
        group_type: group.group_type,
        group_name: group.name.clone(),
        owner: group.owner.clone(),
        create_time: group.created_at,
        member_count: group.member_count,
        role: member.map(|member| member.role),
        last_message_seq: group.last_seq,
    })
}

fn check_batch(users: &[String]) -> ServiceResult<()> {
    if users.is_empty() || users.len() > MAX_MEMBERS_PER_CALL {
        return Err(ServiceError::InvalidParameters(format!(
            "name between 1 and {MAX_MEMBERS_PER_CALL} users, not {}",
            users.len()
        )));
    }
    users.iter().try_for_each(|user| check_id(user))
}

impl Tidings {
    /// Creates a group owned by `owner`.
    pub async fn create_group(
        &self,
        owner: &str,
        params: CreateGroupParams,
    ) -> ServiceResult<CreateGroupResult> {
        self.create_group_owned(Some(owner), params).await
    }

    /// Creates a group with an optional owner (the REST API may create ownerless groups,
    /// managed by the App administrator).
    pub async fn create_group_owned(
        &self,
        owner: Option<&str>,
        params: CreateGroupParams,
    ) -> ServiceResult<CreateGroupResult> {
        let group_type = GroupType::parse(&params.group_type).ok_or_else(|| {
            ServiceError::GroupInvalid(format!(
                "groupType must be Work, Public, Meeting, AVChatRoom or Community, not {:?}",
                params.group_type
            ))
        })?;
        if params.group_name.len() > MAX_GROUP_NAME_BYTES {
            return Err(ServiceError::GroupInvalid(format!(
                "groupName is longer than {MAX_GROUP_NAME_BYTES} bytes"
            )));
        }
        if params.member_list.len() > MAX_MEMBERS_PER_CALL {
            return Err(ServiceError::GroupInvalid(format!(
                "memberList may hold at most {MAX_MEMBERS_PER_CALL} users"
            )));
        }
        if group_type == GroupType::AvChatRoom && !params.member_list.is_empty() {
            return Err(ServiceError::GroupInvalid(
                "AVChatRoom groups take no initial members: users join them".into(),
            ));
        }
        let group_id = match params.group_id.filter(|id| !id.is_empty()) {
            Some(id) if id.starts_with(GENERATED_PREFIX) => {
                return Err(ServiceError::GroupInvalid(format!(
                    "custom group IDs may not start with {GENERATED_PREFIX}"
                )));
            }
            Some(id) => {
                check_id(&id)?;
                id
            }
            None => {
                let suffix: String = rand::rng()
                    .sample_iter(Alphanumeric)
                    .take(10)
                    .map(char::from)
                    .collect();
                format!("{GENERATED_PREFIX}{suffix}")
            }
        };
        let created_at = now();
        let mut members: Vec<NewMember> = owner
            .map(|owner| NewMember {
                user_id: owner.to_owned(),
                role: GroupRole::Owner,
                joined_at: created_at,
            })
            .into_iter()
            .collect();
        let owner_count = members.len();
        for spec in &params.member_list {
            check_id(&spec.user_id)?;
            if spec.role == GroupRole::Owner {
                return Err(ServiceError::GroupInvalid(
                    "the creator is the owner; members may be 200 or 300".into(),
                ));
            }
            if !members.iter().any(|m| m.user_id == spec.user_id) {
                members.push(NewMember {
                    user_id: spec.user_id.clone(),
                    role: spec.role,
                    joined_at: created_at,
                });
            }
        }
        if members.len() as u64 > self.limits.max_group_members {
            return Err(ServiceError::GroupFull {
                group: group_id,
                limit: self.limits.max_group_members,
            });
        }
        let invited: Vec<String> = members
            .iter()
            .skip(owner_count)
            .map(|m| m.user_id.clone())
            .collect();
        let existing = self.store.get_users(&invited).await?;
        if let Some(missing) = invited
            .iter()
            .find(|id| !existing.iter().any(|u| &u.user_id == *id))
        {
            return Err(ServiceError::UserNotFound(missing.clone()));
        }
        if let Some(owner) = owner {
            let counts = self.store.group_counts(owner).await?;
            if counts.owned >= self.limits.max_groups_created_per_user {
                return Err(ServiceError::GroupQuotaExceeded {
                    user: owner.to_owned(),
                    what: "own",
                    limit: self.limits.max_groups_created_per_user,
                });
            }
        }
        for member in &members {
            self.require_room_to_join(&member.user_id).await?;
        }
        let group = NewGroup {
            group_id: group_id.clone(),
            group_type,
            name: params.group_name,
            owner: owner.unwrap_or_default().to_owned(),
            created_at,
        };
        let all: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
        self.store
            .create_group(group, members)
            .await
            .in_group(&group_id)?;
        let change = MemberEnter {
            group_id: group_id.clone(),
            member_list: self.member_infos(&all).await?,
        };
        self.push::<OnMemberEnter>(all.clone(), change);
        self.publish_new_group_conversation(&group_id, &all).await?;
        Ok(CreateGroupResult { group_id })
    }

    /// Joins a group that admits members without invitation.
    pub async fn join_group(&self, user: &str, group_id: &str) -> ServiceResult<()> {
        let group = self.group_or_not_found(group_id).await?;
        if group.group_type == GroupType::Work {
            return Err(ServiceError::PermissionDenied(format!(
                "Work group {group_id} admits members only by invitation"
            )));
        }
        if self.store.get_member(group_id, user).await?.is_some() {
            return Err(ServiceError::AlreadyMember {
                group: group_id.to_owned(),
                user: user.to_owned(),
            });
        }
        self.require_room_to_join(user).await?;
        self.add_to_group(&group, user, &[user.to_owned()]).await?;
        Ok(())
    }

    /// Refuses a user who already belongs to as many groups as allowed.
    async fn require_room_to_join(&self, user: &str) -> ServiceResult<()> {
        if self.has_room_to_join(user).await? {
            Ok(())
        } else {
            Err(ServiceError::GroupQuotaExceeded {
                user: user.to_owned(),
                what: "belong to",
                limit: self.limits.max_groups_joined_per_user,
            })
        }
    }

    /// Whether the user may belong to one more group. A check before the write, so users
    /// joining several groups at the same moment may pass it together: the quota bounds a
    /// user's groups to about itself, not to the unit.
    async fn has_room_to_join(&self, user: &str) -> ServiceResult<bool> {
        Ok(self.store.group_counts(user).await?.joined < self.limits.max_groups_joined_per_user)
    }

    /// Leaves a group. The owner cannot; they dismiss it instead.
    pub async fn quit_group(&self, user: &str, group_id: &str) -> ServiceResult<()> {
        let group = self.group_or_not_found(group_id).await?;
        self.require_member(group_id, user).await?;
        if group.owner == user {
            return Err(ServiceError::OwnerCannotQuit(group_id.to_owned()));
        }
        let mut audience = self.store.member_user_ids(group_id).await?;
        self.store
            .remove_members(group_id, &[user.to_owned()])
            .await
            .in_group(group_id)?;
        audience.retain(|member| member != user);
        audience.push(user.to_owned());
        let change = MemberLeave {
            group_id: group_id.to_owned(),
            member: self.member_info(user).await?,
        };
        self.push::<OnMemberLeave>(audience, change);
        Ok(())
    }

    /// Dismisses a group (owner only), deleting its messages.
    pub async fn dismiss_group(&self, user: &str, group_id: &str) -> ServiceResult<()> {
        let group = self.group_or_not_found(group_id).await?;
        if group.owner != user {
            return Err(ServiceError::PermissionDenied(format!(
                "only the owner may dismiss group {group_id}"
            )));
        }
        self.delete_group(group_id, user).await
    }

    /// Deletes a group and tells its members (used by owners and administrators).
    pub async fn delete_group(&self, group_id: &str, op_user: &str) -> ServiceResult<()> {
        let audience = self.store.member_user_ids(group_id).await?;
        self.store.delete_group(group_id).await?;
        self.facts.forget_group(group_id);
        let event = GroupDismissed {
            group_id: group_id.to_owned(),
            op_user: op_user.to_owned(),
        };
        self.push::<OnGroupDismissed>(audience, event);
        Ok(())
    }

    /// Adds users to a group on a member's invitation.
    pub async fn invite_to_group(
        &self,
        user: &str,
        params: InviteParams,
    ) -> ServiceResult<Vec<MemberOperationResult>> {
        check_batch(&params.user_list)?;
        let group = self.group_or_not_found(&params.group_id).await?;
        let inviter = self.require_member(&params.group_id, user).await?;
        match group.group_type {
            GroupType::AvChatRoom => {
                return Err(ServiceError::PermissionDenied(
                    "AVChatRoom groups take no invitations: users join them".into(),
                ));
            }
            GroupType::Public if inviter.role == GroupRole::Member => {
                return Err(ServiceError::PermissionDenied(format!(
                    "only the owner and admins may invite to Public group {}",
                    params.group_id
                )));
            }
            _ => {}
        }
        self.add_to_group(&group, user, &params.user_list).await
    }

    /// Adds users as ordinary members (used by joins, invitations and the REST API): unknown
    /// users are reported failed, members already present invalid, users who belong to as many
    /// groups as allowed over the limit (and are not added). A user adding themself
    /// entered (`onMemberEnter`); anyone else was invited (`onMemberInvited`).
    pub async fn add_to_group(
        &self,
        group: &GroupRecord,
        op_user: &str,
        users: &[String],
    ) -> ServiceResult<Vec<MemberOperationResult>> {
        let existing = self.store.get_users(users).await?;
        let joined_at = now();
        let mut candidates: Vec<NewMember> = users
            .iter()
            .filter(|id| existing.iter().any(|u| &&u.user_id == id))
            .map(|id| NewMember {
                user_id: id.clone(),
                role: GroupRole::Member,
                joined_at,
            })
            .collect();
        let mut joining = 0;
        let mut over_limit = Vec::new();
        for candidate in &candidates {
            if self
                .store
                .get_member(&group.group_id, &candidate.user_id)
                .await?
                .is_none()
            {
                if self.has_room_to_join(&candidate.user_id).await? {
                    joining += 1;
                } else {
                    over_limit.push(candidate.user_id.clone());
                }
            }
        }
        candidates.retain(|candidate| !over_limit.contains(&candidate.user_id));
        if group.member_count + joining > self.limits.max_group_members {
            return Err(ServiceError::GroupFull {
                group: group.group_id.clone(),
                limit: self.limits.max_group_members,
            });
        }
        let added = self
            .store
            .add_members(&group.group_id, candidates.clone())
            .await
            .in_group(&group.group_id)?;
        let added_ids: Vec<String> = candidates
            .iter()
            .zip(&added)
            .filter(|(_, added)| **added)
            .map(|(member, _)| member.user_id.clone())
            .collect();
        let results = users
            .iter()
            .map(|id| {
                let result = match candidates.iter().position(|m| &m.user_id == id) {
                    None if over_limit.contains(id) => MEMBER_OP_OVER_LIMIT,
                    None => MEMBER_OP_FAIL,
                    Some(index) if added[index] => MEMBER_OP_SUCCESS,
                    Some(_) => MEMBER_OP_INVALID,
                };
                MemberOperationResult {
                    member_id: id.clone(),
                    result,
                }
            })
            .collect();
        if !added_ids.is_empty() {
            let audience = self.store.member_user_ids(&group.group_id).await?;
            let member_list = self.member_infos(&added_ids).await?;
            if added_ids == [op_user] {
                let change = MemberEnter {
                    group_id: group.group_id.clone(),
                    member_list,
                };
                self.push::<OnMemberEnter>(audience, change);
            } else {
                let change = MemberInvited {
                    group_id: group.group_id.clone(),
                    op_user: self.member_info(op_user).await?,
                    member_list,
                };
                self.push::<OnMemberInvited>(audience, change);
            }
            self.publish_new_group_conversation(&group.group_id, &added_ids)
                .await?;
        }
        Ok(results)
    }

    /// Removes members (owner or admin; admins remove ordinary members only).
    pub async fn kick_members(
        &self,
        user: &str,
        params: KickParams,
    ) -> ServiceResult<Vec<MemberOperationResult>> {
        check_batch(&params.member_list)?;
        self.group_or_not_found(&params.group_id).await?;
        let actor = self.require_member(&params.group_id, user).await?;
        let actor_role = actor.role;
        if actor_role == GroupRole::Member {
            return Err(ServiceError::PermissionDenied(format!(
                "only the owner and admins may remove members of group {}",
                params.group_id
            )));
        }
        for target in &params.member_list {
            if target == user {
                return Err(ServiceError::PermissionDenied(
                    "you cannot remove yourself; quit the group instead".into(),
                ));
            }
            if let Some(member) = self.store.get_member(&params.group_id, target).await?
                && member.role != GroupRole::Member
                && actor_role != GroupRole::Owner
            {
                return Err(ServiceError::PermissionDenied(format!(
                    "only the owner may remove admin {target}"
                )));
            }
            if let Some(member) = self.store.get_member(&params.group_id, target).await?
                && member.role == GroupRole::Owner
            {
                return Err(ServiceError::PermissionDenied(
                    "the owner cannot be removed".into(),
                ));
            }
        }
        self.remove_from_group(&params.group_id, user, &params.member_list)
            .await
    }

    /// Removes members and tells the group (used by kicks and the REST API).
    pub async fn remove_from_group(
        &self,
        group_id: &str,
        op_user: &str,
        users: &[String],
    ) -> ServiceResult<Vec<MemberOperationResult>> {
        let mut audience = self.store.member_user_ids(group_id).await?;
        let removed = self
            .store
            .remove_members(group_id, users)
            .await
            .in_group(group_id)?;
        let removed_ids: Vec<String> = users
            .iter()
            .zip(&removed)
            .filter(|(_, removed)| **removed)
            .map(|(id, _)| id.clone())
            .collect();
        let results = users
            .iter()
            .zip(&removed)
            .map(|(id, removed)| MemberOperationResult {
                member_id: id.clone(),
                result: if *removed {
                    MEMBER_OP_SUCCESS
                } else {
                    MEMBER_OP_INVALID
                },
            })
            .collect();
        if !removed_ids.is_empty() {
            audience.retain(|member| !removed_ids.contains(member));
            audience.extend(removed_ids.iter().cloned());
            let change = MemberKicked {
                group_id: group_id.to_owned(),
                op_user: self.member_info(op_user).await?,
                member_list: self.member_infos(&removed_ids).await?,
            };
            self.push::<OnMemberKicked>(audience, change);
        }
        Ok(results)
    }

    /// Users as member objects of the membership events, in the order given (a user without a
    /// profile, such as the administrator, has empty fields).
    async fn member_infos(&self, users: &[String]) -> ServiceResult<Vec<ReadMemberInfo>> {
        let records = self.store.get_users(users).await?;
        Ok(users
            .iter()
            .map(|user_id| {
                let profile = records
                    .iter()
                    .find(|r| &r.user_id == user_id)
                    .map(|r| r.profile.clone())
                    .unwrap_or_default();
                ReadMemberInfo {
                    user_id: user_id.clone(),
                    nick_name: profile.nick,
                    face_url: profile.face_url,
                    name_card: String::new(),
                }
            })
            .collect())
    }

    /// One user as a member object (see [`Tidings::member_infos`]).
    async fn member_info(&self, user: &str) -> ServiceResult<ReadMemberInfo> {
        Ok(self
            .member_infos(&[user.to_owned()])
            .await?
            .pop()
            .unwrap_or(ReadMemberInfo {
                user_id: user.to_owned(),
                nick_name: String::new(),
                face_url: String::new(),
                name_card: String::new(),
            }))
    }

    /// A page of members in joining order; members only.
    pub async fn group_member_list(
        &self,
        user: &str,
        params: GroupMemberListParams,
    ) -> ServiceResult<GroupMemberListResult> {
        check_page(params.count, MAX_LIST_PAGE, "count")?;
        let role = match params.filter {
            0 => None,
            1 => Some(GroupRole::Owner),
            2 => Some(GroupRole::Admin),
            4 => Some(GroupRole::Member),
            other => {
                return Err(ServiceError::InvalidParameters(format!(
                    "filter must be 0 (all), 1 (owner), 2 (admins) or 4 (members), not {other}"
                )));
            }
        };
        self.group_or_not_found(&params.group_id).await?;
        self.require_member(&params.group_id, user).await?;
        let from = u32::try_from(params.next_seq).map_err(|_| {
            ServiceError::InvalidParameters("nextSeq is not one this server returned".into())
        })?;
        let mut page = self
            .store
            .list_members(&params.group_id, from, params.count + 1, role)
            .await?;
        let next_seq = if page.len() > params.count as usize {
            page.truncate(params.count as usize);
            page.last().map_or(0, |m| u64::from(m.ordinal) + 1)
        } else {
            0
        };
        Ok(GroupMemberListResult {
            next_seq,
            member_info_list: page.into_iter().map(member_info).collect(),
        })
    }

    /// Every group the user belongs to, in group ID order: at most the per-user quota, read
    /// page by page.
    pub async fn joined_group_list(&self, user: &str) -> ServiceResult<Vec<GroupInfo>> {
        self.joined_group_page(user, JoinedGroupListParams::default())
            .await
    }

    /// The groups the user belongs to after `params.after_group_id`, in group ID order: a page
    /// of `params.count`, or all of them (at most the per-user quota; a user above it, from
    /// before the quota was lowered, gets that many).
    pub async fn joined_group_page(
        &self,
        user: &str,
        params: JoinedGroupListParams,
    ) -> ServiceResult<Vec<GroupInfo>> {
        /// Groups read per store call when all are asked for.
        const CHUNK: u32 = 500;
        let wanted = match params.count {
            Some(count) => {
                check_page(count, MAX_LIST_PAGE, "count")?;
                u64::from(count)
            }
            None => self.limits.max_groups_joined_per_user,
        };
        let mut after = params.after_group_id;
        let mut groups = Vec::new();
        while (groups.len() as u64) < wanted {
            let limit = (wanted - groups.len() as u64).min(u64::from(CHUNK)) as u32;
            let page = self.store.joined_groups_page(user, &after, limit).await?;
            let done = (page.len() as u32) < limit;
            for (group, member) in &page {
                groups.push(group_info(group, Some(member))?);
            }
            match page.last() {
                Some((last, _)) if !done => after = last.group_id.clone(),
                _ => break,
            }
        }
        Ok(groups)
    }

    /// Information on groups, each found or refused on its own (the edge turns refusals into
    /// per-group result codes).
    pub async fn groups_info(
        &self,
        user: &str,
        group_ids: &[String],
    ) -> ServiceResult<Vec<ServiceResult<GroupInfo>>> {
        check_batch(group_ids)?;
        let mut results = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            let result = match self.store.get_group(group_id).await? {
                Some(group) => {
                    let member = self.store.get_member(group_id, user).await?;
                    group_info(&group, member.as_ref())
                }
                None => Err(ServiceError::GroupNotFound(group_id.clone())),
            };
            results.push(result);
        }
        Ok(results)
    }
}
