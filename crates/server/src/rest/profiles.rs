//! Profile endpoints (`profile/portrait_set`, `profile/portrait_get`) and group name cards
//! (`group_open_http_svc/modify_group_member_info`): Tencent's tags translated to the same
//! service calls as `setSelfInfo`, `getUsersInfo` and `setGroupMemberInfo`.

use serde_json::{Map, Value, json};
use tidings_proto::{CUSTOM_PROFILE_TAG_PREFIX, Gender, MAX_USERS_INFO};
use tidings_service::ServiceError;
use tidings_store::{ProfileUpdate, UserProfile};

use super::{Call, Reply, RestError, fields};

/// The profile account does not exist (Tencent's `portrait_set` and `portrait_get` pages).
const PROFILE_ACCOUNT_NOT_FOUND: u32 = 40003;
/// A profile tag that is not a standard field Tidings keeps nor a custom field.
const PROFILE_TAG_NOT_FOUND: u32 = 40009;
/// A profile value of the wrong JSON type (a number for the nickname, say).
const PROFILE_VALUE_TYPE: u32 = 40610;
/// A standard field's value it cannot take (an unknown gender name).
const PROFILE_VALUE_ERROR: u32 = 40605;

const NICK: &str = "Tag_Profile_IM_Nick";
const IMAGE: &str = "Tag_Profile_IM_Image";
const SIGNATURE: &str = "Tag_Profile_IM_SelfSignature";
const GENDER: &str = "Tag_Profile_IM_Gender";

/// Most items of one `portrait_set` call.
const MAX_PROFILE_ITEMS: usize = 100;

fn gender_name(gender: Gender) -> &'static str {
    match gender {
        Gender::Unknown => "Gender_Type_Unknown",
        Gender::Female => "Gender_Type_Female",
        Gender::Male => "Gender_Type_Male",
    }
}

fn gender_of(name: &str) -> Option<Gender> {
    [Gender::Unknown, Gender::Female, Gender::Male]
        .into_iter()
        .find(|g| gender_name(*g) == name)
}

fn unknown_tag(tag: &str) -> RestError {
    RestError::new(
        PROFILE_TAG_NOT_FOUND,
        format!(
            "unknown profile tag {tag:?}: Tidings keeps {NICK}, {IMAGE}, {SIGNATURE}, {GENDER} \
             and {CUSTOM_PROFILE_TAG_PREFIX}<name>"
        ),
    )
}

fn string_value(tag: &str, value: &Value) -> Result<String, RestError> {
    value.as_str().map(str::to_owned).ok_or_else(|| {
        RestError::new(
            PROFILE_VALUE_TYPE,
            format!("the Value of {tag} must be a string"),
        )
    })
}

/// A profile service refusal in this endpoint's codes: a missing account is 40003.
fn in_profile(error: ServiceError) -> RestError {
    match error {
        ServiceError::UserNotFound(user) => RestError::new(
            PROFILE_ACCOUNT_NOT_FOUND,
            format!("account {user} does not exist"),
        ),
        other => other.into(),
    }
}

/// Adds one `ProfileItem` to the update.
fn add_item(update: &mut ProfileUpdate, item: &Value) -> Result<(), RestError> {
    let tag = item.get("Tag").and_then(Value::as_str).ok_or_else(|| {
        RestError::new(
            super::codes::PROFILE_INVALID,
            "each ProfileItem needs a Tag string",
        )
    })?;
    let value = item.get("Value").ok_or_else(|| {
        RestError::new(
            super::codes::PROFILE_INVALID,
            format!("the ProfileItem of {tag} needs a Value"),
        )
    })?;
    match tag {
        NICK => update.nick = Some(string_value(tag, value)?),
        IMAGE => update.face_url = Some(string_value(tag, value)?),
        SIGNATURE => update.self_signature = Some(string_value(tag, value)?),
        GENDER => {
            let name = string_value(tag, value)?;
            let gender = gender_of(&name).ok_or_else(|| {
                RestError::new(
                    PROFILE_VALUE_ERROR,
                    format!(
                        "{name:?} is no gender: use Gender_Type_Unknown, Gender_Type_Female or \
                         Gender_Type_Male"
                    ),
                )
            })?;
            update.gender = Some(gender);
        }
        _ => {
            let name = tag
                .strip_prefix(CUSTOM_PROFILE_TAG_PREFIX)
                .ok_or_else(|| unknown_tag(tag))?;
            // Custom fields hold text; an integer one (Tencent's other kind) is kept as its
            // decimal text.
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
                _ => {
                    return Err(RestError::new(
                        PROFILE_VALUE_TYPE,
                        format!("the Value of {tag} must be a string or an integer"),
                    ));
                }
            };
            update.custom.insert(name.to_owned(), text);
        }
    }
    Ok(())
}

/// `profile/portrait_set`: sets any user's profile fields.
pub(crate) async fn set(call: &Call<'_>) -> Reply {
    let user = call.string("From_Account")?;
    let items = call.array("ProfileItem")?;
    if items.is_empty() || items.len() > MAX_PROFILE_ITEMS {
        return Err(RestError::new(
            call.invalid_code,
            format!("ProfileItem must hold 1 to {MAX_PROFILE_ITEMS} items"),
        ));
    }
    let mut update = ProfileUpdate::default();
    for item in items {
        add_item(&mut update, item)?;
    }
    call.state
        .tidings
        .update_profile(&user, update)
        .await
        .map_err(in_profile)?;
    Ok(Map::new())
}

/// One tag of a profile as `portrait_get` answers it.
fn tag_value(profile: &UserProfile, tag: &str) -> Result<Value, RestError> {
    Ok(match tag {
        NICK => json!(profile.nick),
        IMAGE => json!(profile.face_url),
        SIGNATURE => json!(profile.self_signature),
        GENDER => json!(gender_name(profile.gender)),
        _ => {
            let name = tag
                .strip_prefix(CUSTOM_PROFILE_TAG_PREFIX)
                .filter(|name| tidings_proto::is_valid_custom_field_name(name))
                .ok_or_else(|| unknown_tag(tag))?;
            json!(profile.custom.get(name).cloned().unwrap_or_default())
        }
    })
}

/// `profile/portrait_get`: the asked tags of each user, in the order asked; a user that does not
/// exist gets `ResultCode` 40003 and is listed in `Fail_Account`.
pub(crate) async fn get(call: &Call<'_>) -> Reply {
    let users = call.strings("To_Account", MAX_USERS_INFO)?;
    let tags = call.strings("TagList", 100)?;
    let empty = UserProfile::default();
    for tag in &tags {
        tag_value(&empty, tag)?;
    }
    let found = call.state.tidings.users(&users).await?;
    let mut items = Vec::with_capacity(users.len());
    let mut failed = Vec::new();
    for user in &users {
        let item = match found.iter().find(|u| &u.user_id == user) {
            Some(record) => {
                let profile: Vec<Value> = tags
                    .iter()
                    .map(|tag| Ok(json!({ "Tag": tag, "Value": tag_value(&record.profile, tag)? })))
                    .collect::<Result<_, RestError>>()?;
                json!({ "To_Account": user, "ProfileItem": profile, "ResultCode": 0,
                        "ResultInfo": "" })
            }
            None => {
                failed.push(user.clone());
                json!({ "To_Account": user, "ProfileItem": [],
                        "ResultCode": PROFILE_ACCOUNT_NOT_FOUND,
                        "ResultInfo": format!("account {user} does not exist") })
            }
        };
        items.push(item);
    }
    Ok(fields(
        json!({ "UserProfileItem": items, "Fail_Account": failed }),
    ))
}

/// `group_open_http_svc/modify_group_member_info`: sets a member's `NameCard` (the one member
/// field Tidings keeps; a request naming none changes nothing).
pub(crate) async fn modify_member(call: &Call<'_>) -> Reply {
    let group_id = call.string("GroupId")?;
    let user = call.string("Member_Account")?;
    for unsupported in ["Role", "MsgFlag", "AppMemberDefinedData", "ShutUpTime"] {
        if call.body.get(unsupported).is_some() {
            return Err(RestError::new(
                call.invalid_code,
                format!("{unsupported} is not supported: Tidings keeps only NameCard"),
            ));
        }
    }
    let name_card = match call.body.get("NameCard") {
        None | Some(Value::Null) => None,
        Some(Value::String(card)) => Some(card.clone()),
        Some(_) => {
            return Err(RestError::new(
                call.invalid_code,
                "NameCard must be a string",
            ));
        }
    };
    match name_card {
        Some(card) => {
            call.state
                .tidings
                .set_name_card(&group_id, &user, &card)
                .await?
        }
        None => {
            call.state.tidings.group(&group_id).await?;
        }
    }
    Ok(Map::new())
}
