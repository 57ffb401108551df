//! Profiles: a user's own changes (`setSelfInfo`), the administrator's (REST `portrait_set`),
//! reading them (`getUsersInfo`, `portrait_get`), and group name cards. The nickname and
//! picture also travel with each message as they were when it was sent (`messages.rs`), and
//! with members in member lists as they are now (the store joins them).

use tidings_proto::methods::{SetGroupMemberInfoParams, SetSelfInfoParams};
use tidings_proto::{
    Gender, GroupRole, MAX_CUSTOM_PROFILE_FIELDS, MAX_NAME_CARD_BYTES, MAX_PROFILE_VALUE_BYTES,
    MAX_USERS_INFO, UserFullInfo, is_valid_custom_field_name,
};
use tidings_store::{ProfileUpdate, ProfileUpdated, UserCard, UserProfile, UserRecord};

use crate::checks::check_id;
use crate::{ServiceError, ServiceResult, Tidings};

/// Refuses a profile value longer than Tencent's limit; `field` names it.
fn check_value(field: &str, value: &str) -> ServiceResult<()> {
    if value.len() > MAX_PROFILE_VALUE_BYTES {
        return Err(ServiceError::ProfileValueTooLong {
            field: field.to_owned(),
            size: value.len(),
            limit: MAX_PROFILE_VALUE_BYTES,
        });
    }
    Ok(())
}

/// Refuses a nickname or picture URL over the limit (also for an imported account).
pub(crate) fn check_card(card: &UserCard) -> ServiceResult<()> {
    check_value("nickName", &card.nick)?;
    check_value("faceURL", &card.face_url)
}

/// Refuses an update with a value over the limit, a custom field name Tidings does not keep, or
/// more custom fields than a user may have.
fn check_update(update: &ProfileUpdate) -> ServiceResult<()> {
    let fields = [
        ("nickName", &update.nick),
        ("faceURL", &update.face_url),
        ("selfSignature", &update.self_signature),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            check_value(field, value)?;
        }
    }
    if update.custom.len() > MAX_CUSTOM_PROFILE_FIELDS {
        return Err(ServiceError::InvalidParameters(format!(
            "{} custom fields given; a user has at most {MAX_CUSTOM_PROFILE_FIELDS}",
            update.custom.len()
        )));
    }
    for (name, value) in &update.custom {
        if !is_valid_custom_field_name(name) {
            return Err(ServiceError::ProfileTagNotFound(format!(
                "custom field name {name:?}: use 1 to 8 ASCII letters, digits or underscores"
            )));
        }
        check_value(&format!("custom field {name}"), value)?;
    }
    Ok(())
}

/// A stored profile as V2TIM's user info.
pub fn user_full_info(user_id: String, profile: UserProfile) -> UserFullInfo {
    UserFullInfo {
        user_id,
        nick_name: profile.nick,
        face_url: profile.face_url,
        self_signature: profile.self_signature,
        gender: profile.gender,
        custom_info: profile.custom,
    }
}

impl Tidings {
    /// `setSelfInfo`: changes the caller's own profile (the fields given).
    pub async fn set_self_info(&self, user: &str, params: SetSelfInfoParams) -> ServiceResult<()> {
        let gender = params
            .gender
            .map(|g| Gender::try_from(g).map_err(ServiceError::ProfileValueInvalid))
            .transpose()?;
        let update = ProfileUpdate {
            nick: params.nick_name,
            face_url: params.face_url,
            self_signature: params.self_signature,
            gender,
            custom: params.custom_info,
        };
        self.update_profile(user, update).await?;
        // After the profile's write: a refused profile changes nothing, the switch included.
        if let Some(private) = params.private_read_receipts {
            self.set_receipt_privacy(user, private).await?;
        }
        Ok(())
    }

    /// Changes a user's profile as `update` says and returns it as stored now: the user's own
    /// call, or the administrator's (REST `portrait_set`) for anyone. Later messages carry the
    /// new nickname and picture; those already sent keep theirs.
    pub async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
    ) -> ServiceResult<UserProfile> {
        check_id(user_id)?;
        check_update(&update)?;
        match self
            .store
            .update_profile(user_id, update, MAX_CUSTOM_PROFILE_FIELDS)
            .await?
        {
            ProfileUpdated::Updated(profile) => Ok(profile),
            ProfileUpdated::NoSuchUser => Err(ServiceError::UserNotFound(user_id.to_owned())),
            ProfileUpdated::TooManyCustomFields => Err(ServiceError::InvalidParameters(format!(
                "{user_id} would have more than {MAX_CUSTOM_PROFILE_FIELDS} custom fields; remove \
                 some (set them to \"\") first"
            ))),
        }
    }

    /// The stored users among `user_ids` (1 to [`MAX_USERS_INFO`] valid IDs), in the order
    /// asked; users that do not exist are left out.
    pub async fn users(&self, user_ids: &[String]) -> ServiceResult<Vec<UserRecord>> {
        if user_ids.is_empty() || user_ids.len() > MAX_USERS_INFO {
            return Err(ServiceError::InvalidParameters(format!(
                "name 1 to {MAX_USERS_INFO} users, not {}",
                user_ids.len()
            )));
        }
        for user_id in user_ids {
            check_id(user_id)?;
        }
        let mut found = self.store.get_users(user_ids).await?;
        let mut ordered = Vec::with_capacity(found.len());
        for user_id in user_ids {
            if let Some(at) = found.iter().position(|u| &u.user_id == user_id) {
                ordered.push(found.swap_remove(at));
            }
        }
        Ok(ordered)
    }

    /// `getUsersInfo`: the profiles of the users that exist among `user_ids`, in the order asked.
    pub async fn users_info(&self, user_ids: &[String]) -> ServiceResult<Vec<UserFullInfo>> {
        Ok(self
            .users(user_ids)
            .await?
            .into_iter()
            .map(|u| user_full_info(u.user_id, u.profile))
            .collect())
    }

    /// `setGroupMemberInfo`: sets a member's name card. Anyone may set their own; the owner may
    /// set any member's, an admin an ordinary member's.
    pub async fn set_group_member_info(
        &self,
        user: &str,
        params: SetGroupMemberInfoParams,
    ) -> ServiceResult<()> {
        self.group_or_not_found(&params.group_id).await?;
        let actor = self.require_member(&params.group_id, user).await?;
        if params.user_id != user {
            let target = self
                .store
                .get_member(&params.group_id, &params.user_id)
                .await?;
            let allowed = matches!(
                (actor.role, target.as_ref().map(|t| t.role)),
                (GroupRole::Owner, _) | (GroupRole::Admin, Some(GroupRole::Member) | None)
            );
            if !allowed {
                return Err(ServiceError::PermissionDenied(format!(
                    "only the owner may set another admin's name card, and only the owner and \
                     admins another member's, in group {}",
                    params.group_id
                )));
            }
        }
        self.set_name_card(&params.group_id, &params.user_id, &params.name_card)
            .await
    }

    /// Sets a current member's name card (the administrator, REST `modify_group_member_info`,
    /// or a caller [`Tidings::set_group_member_info`] allowed).
    pub async fn set_name_card(
        &self,
        group_id: &str,
        user_id: &str,
        name_card: &str,
    ) -> ServiceResult<()> {
        check_id(group_id)?;
        check_id(user_id)?;
        if name_card.len() > MAX_NAME_CARD_BYTES {
            return Err(ServiceError::GroupInvalid(format!(
                "nameCard is {} bytes; the limit is {MAX_NAME_CARD_BYTES}",
                name_card.len()
            )));
        }
        self.group_or_not_found(group_id).await?;
        if !self
            .store
            .set_name_card(group_id, user_id, name_card)
            .await?
        {
            return Err(ServiceError::not_member(group_id, user_id));
        }
        Ok(())
    }
}
