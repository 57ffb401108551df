//! SQLite queries of users: creation, profiles, deletion, UserSig revocation.

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{USER_COLUMNS, user_from_row};
use crate::profile::{apply, encode_custom};
use crate::{ProfileUpdate, ProfileUpdated, StoreResult, UserCard, UserRecord};

/// Creates the user if absent, and sets nickname and picture when given; whether it was
/// created.
pub(super) fn ensure(
    conn: &Connection,
    user_id: &str,
    profile: Option<UserCard>,
    now: i64,
) -> StoreResult<bool> {
    let created = conn.execute(
        "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
        params![user_id, now],
    )? == 1;
    if let Some(profile) = profile {
        conn.execute(
            "UPDATE users SET nick = ?2, face_url = ?3 WHERE user_id = ?1",
            params![user_id, profile.nick, profile.face_url],
        )?;
    }
    Ok(created)
}

/// Changes an existing user's profile (see [`crate::Store::update_profile`]).
pub(super) fn update_profile(
    conn: &Connection,
    user_id: &str,
    update: ProfileUpdate,
    max_custom: usize,
) -> StoreResult<ProfileUpdated> {
    let Some(user) = get(conn, &[user_id.to_owned()])?.pop() else {
        return Ok(ProfileUpdated::NoSuchUser);
    };
    let updated = apply(user.profile, update, max_custom);
    if let ProfileUpdated::Updated(profile) = &updated {
        conn.prepare_cached(
            "UPDATE users SET nick = ?2, face_url = ?3, self_signature = ?4, gender = ?5, \
             custom_info = ?6 WHERE user_id = ?1",
        )?
        .execute(params![
            user_id,
            profile.nick,
            profile.face_url,
            profile.self_signature,
            u32::from(profile.gender),
            encode_custom(&profile.custom)
        ])?;
    }
    Ok(updated)
}

/// The named users that exist.
pub(super) fn get(conn: &Connection, user_ids: &[String]) -> StoreResult<Vec<UserRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1"
    ))?;
    let mut users = Vec::with_capacity(user_ids.len());
    for user_id in user_ids {
        if let Some(user) = stmt.query_row([user_id], user_from_row).optional()? {
            users.push(user);
        }
    }
    Ok(users)
}

/// Deletes users; for each, whether it existed.
pub(super) fn delete(conn: &Connection, user_ids: &[String]) -> StoreResult<Vec<bool>> {
    let mut stmt = conn.prepare_cached("DELETE FROM users WHERE user_id = ?1")?;
    user_ids
        .iter()
        .map(|id| Ok(stmt.execute([id])? == 1))
        .collect()
}

/// Moves each user's UserSig not-before time to `not_before`, unless it is later already.
pub(super) fn revoke_sigs(
    conn: &Connection,
    user_ids: &[String],
    not_before: i64,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO user_sig_revocations (user_id, not_before) VALUES (?1, ?2) \
         ON CONFLICT (user_id) DO UPDATE SET not_before = MAX(not_before, excluded.not_before)",
    )?;
    for user_id in user_ids {
        stmt.execute(params![user_id, not_before])?;
    }
    Ok(())
}

/// The user's UserSig not-before time (0 when never revoked).
pub(super) fn sigs_not_before(conn: &Connection, user_id: &str) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT not_before FROM user_sig_revocations WHERE user_id = ?1")?
        .query_row([user_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Whether the user keeps read receipts private (None: no such user).
pub(super) fn private_receipts(conn: &Connection, user_id: &str) -> StoreResult<Option<bool>> {
    Ok(conn
        .prepare_cached("SELECT private_receipts FROM users WHERE user_id = ?1")?
        .query_row([user_id], |row| row.get(0))
        .optional()?)
}

/// Sets whether the user keeps read receipts private; false when the user does not exist.
pub(super) fn set_private_receipts(
    conn: &Connection,
    user_id: &str,
    private: bool,
) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("UPDATE users SET private_receipts = ?2 WHERE user_id = ?1")?
        .execute(params![user_id, private])?
        == 1)
}
