//! Errors of the store boundary.

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (e.g. a custom group ID).
    #[error("{0} already exists")]
    Conflict(String),
    /// The addressed record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The user is not a current member of the group.
    #[error("{user} is not a member of group {group}")]
    NotMember {
        /// The group.
        group: String,
        /// The user.
        user: String,
    },
    /// The reader is not among the recipients of a group message (was not a member when it
    /// was sent).
    #[error("not a recipient of message {msg_id}")]
    NotRecipient {
        /// The message.
        msg_id: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The store is shutting down or its worker died.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}
