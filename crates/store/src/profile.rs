//! Profiles as every engine stores them: custom fields as one JSON object of text values, and
//! the one rule by which an update changes a profile.

use std::collections::BTreeMap;

use tidings_proto::Gender;

use crate::{ProfileUpdate, ProfileUpdated, StoreError, StoreResult, UserProfile};

/// The stored form of custom fields: a JSON object of name to value.
pub(crate) fn encode_custom(custom: &BTreeMap<String, String>) -> String {
    serde_json::to_string(custom).unwrap_or_else(|_| "{}".to_owned())
}

/// Reads custom fields written by [`encode_custom`].
pub(crate) fn decode_custom(text: &str) -> StoreResult<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("custom profile: {e}")))
}

/// A stored gender number as a [`Gender`].
pub(crate) fn decode_gender(value: i64) -> StoreResult<Gender> {
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("gender {value}")))
        .and_then(|v| Gender::try_from(v).map_err(StoreError::Corrupt))
}

/// `profile` changed by `update`, or the refusal when the user would have more than
/// `max_custom` custom fields.
pub(crate) fn apply(
    mut profile: UserProfile,
    update: ProfileUpdate,
    max_custom: usize,
) -> ProfileUpdated {
    if let Some(nick) = update.nick {
        profile.nick = nick;
    }
    if let Some(face_url) = update.face_url {
        profile.face_url = face_url;
    }
    if let Some(signature) = update.self_signature {
        profile.self_signature = signature;
    }
    if let Some(gender) = update.gender {
        profile.gender = gender;
    }
    for (name, value) in update.custom {
        if value.is_empty() {
            profile.custom.remove(&name);
        } else {
            profile.custom.insert(name, value);
        }
    }
    if profile.custom.len() > max_custom {
        return ProfileUpdated::TooManyCustomFields;
    }
    ProfileUpdated::Updated(profile)
}
