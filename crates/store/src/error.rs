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
    /// The message was recalled: it takes no more receipts.
    #[error("message {msg_id} was recalled")]
    Revoked {
        /// The message.
        msg_id: String,
    },
    /// The database refused or failed a statement (the engine's own message; never shown to
    /// clients).
    #[error("database error: {0}")]
    Database(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database cannot be reached, or the store is shutting down: the call did not take
    /// effect, and may be retried once the database is back.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database holds a schema newer than this build knows.
    #[error(
        "the database's schema is version {found}, newer than {known}, the newest this build knows; run a newer Tidings"
    )]
    SchemaTooNew {
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
}
