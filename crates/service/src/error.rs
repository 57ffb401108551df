//! Errors of the service layer: each variant is one reason a request is refused.

use tidings_store::StoreError;

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
    /// The group ID is taken.
    #[error("group ID {0} is already in use")]
    GroupIdInUse(String),
    /// Read receipts are switched off, or not allowed here.
    #[error("{0}")]
    ReceiptsNotSupported(String),
    /// A message does not exist or has no receipt information.
    #[error("{0}")]
    ReceiptInfoNotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;
