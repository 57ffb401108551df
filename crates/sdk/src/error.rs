//! [`SdkError`]: everything a call or a connection attempt can fail with.

use tidings_proto::ErrorCode;

/// Why a call, or connecting, failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdkError {
    /// The server answered with a non-zero code (see [`ErrorCode`]).
    #[error("server error {code}: {desc}")]
    Server {
        /// The wire code, normally one of [`ErrorCode`].
        code: u32,
        /// The server's explanation.
        desc: String,
    },
    /// The connection dropped before the server answered. The request may or may not have been
    /// carried out; the client reconnects by itself.
    #[error("connection lost before the server answered")]
    Disconnected,
    /// No answer within the request timeout ([`crate::ClientOptions::request_timeout`]).
    #[error("no answer from the server within the request timeout")]
    Timeout,
    /// The WebSocket connection could not be opened.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server sent something this SDK cannot read, or a value could not be encoded.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The client was closed: by [`crate::Client::close`], or because the connection ended after
    /// [`crate::Client::logout`].
    #[error("the client is closed")]
    Closed,
    /// The server logged this connection out (`onKickedOffline`), for example because the user
    /// logged in on too many devices. Connect again to continue.
    #[error("kicked offline: {reason}")]
    KickedOffline {
        /// The reason the server gave.
        reason: String,
    },
}

impl SdkError {
    /// The error a client ends with after `onUserSigExpired`: a [`SdkError::Server`] carrying
    /// [`ErrorCode::UserSigExpired`].
    pub(crate) fn user_sig_expired() -> Self {
        Self::Server {
            code: ErrorCode::UserSigExpired.as_u32(),
            desc: "the UserSig expired; connect again with a fresh one".to_owned(),
        }
    }

    /// The server's wire code, for [`SdkError::Server`].
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The server's code as an [`ErrorCode`], for [`SdkError::Server`] with a known code.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code().and_then(ErrorCode::from_u32)
    }

    /// Whether the server refused the credentials: a UserSig error (expired, empty, invalid,
    /// wrong key, user or SDKAppID, revoked) or an invalid user ID. Retrying with the same UserSig cannot
    /// succeed.
    pub fn is_auth_error(&self) -> bool {
        matches!(
            self.error_code(),
            Some(
                ErrorCode::UserSigExpired
                    | ErrorCode::UserSigEmpty
                    | ErrorCode::UserSigInvalid
                    | ErrorCode::UserSigKeyMismatch
                    | ErrorCode::UserSigIdentifierMismatch
                    | ErrorCode::UserSigSdkAppIdMismatch
                    | ErrorCode::UserSigRevoked
                    | ErrorCode::InvalidIdentifier
            )
        )
    }

    /// Whether a failed login may succeed if simply tried again later: transport failures,
    /// timeouts, and the server's internal and rate-limit errors. Every other server answer
    /// (auth errors above all) would fail the same way again.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Server { .. } => matches!(
                self.error_code(),
                Some(ErrorCode::Internal | ErrorCode::RateLimited)
            ),
            Self::Disconnected | Self::Timeout | Self::Connect(_) | Self::Protocol(_) => true,
            Self::Closed | Self::KickedOffline { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: ErrorCode) -> SdkError {
        SdkError::Server {
            code: code.as_u32(),
            desc: String::new(),
        }
    }

    #[test]
    fn code_helpers() {
        let err = server(ErrorCode::GroupNotFound);
        assert_eq!(err.code(), Some(10010));
        assert_eq!(err.error_code(), Some(ErrorCode::GroupNotFound));
        let unknown = SdkError::Server {
            code: 123_456,
            desc: String::new(),
        };
        assert_eq!(unknown.code(), Some(123_456));
        assert_eq!(unknown.error_code(), None);
        assert_eq!(SdkError::Timeout.code(), None);
    }

    #[test]
    fn auth_errors_are_not_transient() {
        for code in [
            ErrorCode::UserSigExpired,
            ErrorCode::UserSigEmpty,
            ErrorCode::UserSigInvalid,
            ErrorCode::UserSigKeyMismatch,
            ErrorCode::UserSigIdentifierMismatch,
            ErrorCode::UserSigSdkAppIdMismatch,
            ErrorCode::UserSigRevoked,
            ErrorCode::InvalidIdentifier,
        ] {
            assert!(server(code).is_auth_error(), "{code:?}");
            assert!(!server(code).is_transient(), "{code:?}");
        }
        assert!(SdkError::user_sig_expired().is_auth_error());
    }

    #[test]
    fn transient_errors() {
        assert!(server(ErrorCode::Internal).is_transient());
        assert!(server(ErrorCode::RateLimited).is_transient());
        assert!(!server(ErrorCode::Internal).is_auth_error());
        assert!(!server(ErrorCode::InvalidParameters).is_transient());
        assert!(SdkError::Connect("refused".into()).is_transient());
        assert!(SdkError::Timeout.is_transient());
        assert!(!SdkError::Closed.is_transient());
    }
}
