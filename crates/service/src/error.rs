//! Errors of the service layer: each variant is one reason a request is refused.

use tidings_store::{StoreError, StoreResult};

/// Why a service call was refused or failed. The edge maps each variant to one wire code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A parameter is missing, malformed or out of range.
    #[error("{0}")]
    InvalidParameters(String),
    /// A user or group ID is not a valid identifier.
    #[error("invalid identifier {0:?}: use 1 to 32 printable ASCII characters without spaces")]
    InvalidIdentifier(String),
    /// The named user does not exist.
    #[error("user {0} does not exist (users exist once they log in or are imported)")]
    UserNotFound(String),
    /// The message payload is too large.
    #[error("message is {size} bytes; the limit is {limit}")]
    MessageTooLarge {
        /// Payload bytes.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// A group parameter is invalid.
    #[error("{0}")]
    GroupInvalid(String),
    /// The group does not exist.
    #[error("group {0} does not exist")]
    GroupNotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The owner may not quit.
    #[error("the owner cannot quit group {0}; dismiss it instead")]
    OwnerCannotQuit(String),
    /// Already a member.
    #[error("{user} is already a member of group {group}")]
    AlreadyMember {
        /// Group.
        group: String,
        /// User.
        user: String,
    },
    /// The group is full.
    #[error("group {group} is full ({limit} members)")]
    GroupFull {
        /// Group.
        group: String,
        /// Member limit.
        limit: u64,
    },
    /// The user would own or belong to more groups than allowed.
    #[error("{user} would {what} more than {limit} groups, the most this server allows")]
    GroupQuotaExceeded {
        /// The user.
        user: String,
        /// "own" or "belong to".
        what: &'static str,
        /// The quota.
        limit: u64,
    },
    /// The group ID is taken.
    #[error("group ID {0} is already in use")]
    GroupIdInUse(String),
    /// Read receipts are switched off, or not allowed here.
    #[error("{0}")]
    ReceiptsNotSupported(String),
    /// A message does not exist or has no receipt information.
    #[error("{0}")]
    ReceiptInfoNotFound(String),
    /// The UserSig was issued before the user's UserSigs were revoked.
    #[error(
        "the UserSigs of {user} issued before {not_before} (Unix seconds) were revoked by the administrator; use a newer one"
    )]
    UserSigRevoked {
        /// The user.
        user: String,
        /// UserSigs issued before this time are refused.
        not_before: i64,
    },
    /// The message to recall does not exist (or is not one the caller can see).
    #[error("message {msg_id} does not exist")]
    RevokeMessageNotFound {
        /// The message as named.
        msg_id: String,
        /// Whether it was named as a group message (Tencent's group code applies).
        group: bool,
    },
    /// The sender's time to recall the message is over.
    #[error(
        "message {msg_id} was sent more than {limit_secs} s ago: its sender may recall it only within that time{}",
        if *group { "; the group's owner and admins may at any time" } else { "" }
    )]
    RevokeTimeLimit {
        /// The message.
        msg_id: String,
        /// The limit in force, seconds.
        limit_secs: u64,
        /// Whether it is a group message.
        group: bool,
    },
    /// The message was recalled: it cannot be recalled again and takes no more receipts.
    #[error("message {0} was recalled")]
    MessageRevoked(String),
    /// The app's backend refused the message before it was sent (its before-send hook, or the
    /// configured default when the backend could not be asked).
    #[error("{info}")]
    RefusedBeforeSend {
        /// Whether it was a group message (Tencent's group code applies).
        group: bool,
        /// The backend's own code (120001–130000), passed to the sender as is.
        app_code: Option<u32>,
        /// Why.
        info: String,
    },
    /// A profile field name is not one Tidings keeps.
    #[error("{0}")]
    ProfileTagNotFound(String),
    /// A profile value is too long.
    #[error("{field} is {size} bytes; the limit is {limit}")]
    ProfileValueTooLong {
        /// The field.
        field: String,
        /// Its bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A standard profile field has a value it cannot take.
    #[error("{0}")]
    ProfileValueInvalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// `user` is not a current member of `group`.
    pub(crate) fn not_member(group: &str, user: &str) -> Self {
        Self::PermissionDenied(format!("{user} is not a member of group {group}"))
    }

    /// The message did not ask for read receipts, so it has no receipt state.
    pub(crate) fn no_receipt_info(msg_id: &str) -> Self {
        Self::ReceiptInfoNotFound(format!("message {msg_id} did not ask for read receipts"))
    }

    /// What the client is told when a store call on group `group_id` fails: the refusals the
    /// store makes inside its transaction (checks that must see the same commit as the write)
    /// become the same refusals as the service's own checks; anything else is a store failure.
    pub(crate) fn of_group_store_error(group_id: &str, error: StoreError) -> Self {
        match error {
            StoreError::NotFound(_) => Self::GroupNotFound(group_id.to_owned()),
            StoreError::Conflict(_) => Self::GroupIdInUse(group_id.to_owned()),
            StoreError::NotMember { group, user } => Self::not_member(&group, &user),
            StoreError::NotRecipient { msg_id } => Self::PermissionDenied(format!(
                "you were not a member of group {group_id} when message {msg_id} was sent"
            )),
            StoreError::Revoked { msg_id } => Self::MessageRevoked(msg_id),
            other => Self::Store(other),
        }
    }
}

/// Names the group a store call was about, so that its refusals reach the client as refusals
/// (see [`ServiceError`]'s mapping); without it, every store error is a store failure.
pub(crate) trait InGroup<T> {
    /// The result, its error mapped for a call on group `group_id`.
    fn in_group(self, group_id: &str) -> ServiceResult<T>;
}

impl<T> InGroup<T> for StoreResult<T> {
    fn in_group(self, group_id: &str) -> ServiceResult<T> {
        self.map_err(|error| ServiceError::of_group_store_error(group_id, error))
    }
}
