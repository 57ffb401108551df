//! The one mapping from internal errors to wire error codes and messages.

use tidings_proto::ErrorCode;
use tidings_proto::methods::SkippedMessage;
use tidings_service::{ServiceError, SkippedReceipt};
use tidings_store::StoreError;
use tidings_usersig::UserSigError;

/// A wire code: one of the server's own, or one an app's backend chose for refusing a message
/// (in [`ErrorCode::APP_REFUSAL_CODES`]), which reaches the sender as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireCode {
    /// The server's own code.
    Server(ErrorCode),
    /// The app's backend's code.
    App(u32),
}

impl WireCode {
    /// The number sent on the wire.
    pub fn as_u32(self) -> u32 {
        match self {
            Self::Server(code) => code.as_u32(),
            Self::App(code) => code,
        }
    }
}

impl From<ErrorCode> for WireCode {
    fn from(code: ErrorCode) -> Self {
        Self::Server(code)
    }
}

/// An error as sent on the wire: a code and a message for developers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The code.
    pub code: WireCode,
    /// What was wrong.
    pub desc: String,
}

impl WireError {
    /// An error with a message.
    pub fn new(code: impl Into<WireCode>, desc: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            desc: desc.into(),
        }
    }
}

impl From<ServiceError> for WireError {
    fn from(error: ServiceError) -> Self {
        let code = match &error {
            ServiceError::InvalidParameters(_) => ErrorCode::InvalidParameters,
            ServiceError::InvalidIdentifier(_) => ErrorCode::InvalidIdentifier,
            ServiceError::UserNotFound(_) => ErrorCode::UserNotFound,
            ServiceError::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            ServiceError::GroupInvalid(_) => ErrorCode::GroupInvalidParameters,
            ServiceError::GroupNotFound(_) => ErrorCode::GroupNotFound,
            ServiceError::PermissionDenied(_) => ErrorCode::GroupPermissionDenied,
            ServiceError::OwnerCannotQuit(_) => ErrorCode::OwnerCannotQuit,
            ServiceError::AlreadyMember { .. } => ErrorCode::AlreadyMember,
            ServiceError::GroupFull { .. } => ErrorCode::GroupFull,
            ServiceError::GroupQuotaExceeded { .. } => ErrorCode::GroupQuotaExceeded,
            ServiceError::GroupIdInUse(_) => ErrorCode::GroupIdInUse,
            ServiceError::ReceiptsNotSupported(_) => ErrorCode::InterfaceNotSupported,
            ServiceError::ReceiptInfoNotFound(_) => ErrorCode::ReceiptInfoNotFound,
            ServiceError::UserSigRevoked { .. } => ErrorCode::UserSigRevoked,
            ServiceError::RevokeMessageNotFound { group: false, .. } => {
                ErrorCode::RevokeMessageNotFound
            }
            ServiceError::RevokeMessageNotFound { group: true, .. } => {
                ErrorCode::GroupRevokeMessageNotFound
            }
            ServiceError::RevokeTimeLimit { group: false, .. } => ErrorCode::RevokeTimeLimit,
            ServiceError::RevokeTimeLimit { group: true, .. } => ErrorCode::GroupRevokeTimeLimit,
            ServiceError::MessageRevoked(_) => ErrorCode::MessageRevoked,
            ServiceError::RefusedBeforeSend {
                app_code: Some(code),
                ..
            } if ErrorCode::APP_REFUSAL_CODES.contains(code) => {
                return Self::new(WireCode::App(*code), error.to_string());
            }
            ServiceError::RefusedBeforeSend { group: false, .. } => ErrorCode::RefusedBeforeSend,
            ServiceError::RefusedBeforeSend { group: true, .. } => {
                ErrorCode::GroupRefusedBeforeSend
            }
            ServiceError::ProfileTagNotFound(_) => ErrorCode::ProfileTagNotFound,
            ServiceError::ProfileValueTooLong { .. } => ErrorCode::ProfileSizeLimit,
            ServiceError::ProfileValueInvalid(_) => ErrorCode::ProfileValueError,
            ServiceError::Store(store) => return store_error(store),
        };
        Self::new(code, error.to_string())
    }
}

/// A message a receipt call skipped, as the client is told: the code and text it would have
/// failed with alone.
pub(crate) fn skipped_message(skipped: SkippedReceipt) -> SkippedMessage {
    let wire = WireError::from(skipped.error);
    SkippedMessage {
        msg_id: skipped.msg_id,
        code: wire.code.as_u32(),
        desc: wire.desc,
    }
}

/// Store failures are internal: logged in full, reported without details.
fn store_error(error: &StoreError) -> WireError {
    tracing::error!(%error, "store failure");
    metrics::counter!("tidings_internal_errors_total").increment(1);
    WireError::new(
        ErrorCode::Internal,
        "internal storage error; the request may be retried",
    )
}

impl From<UserSigError> for WireError {
    fn from(error: UserSigError) -> Self {
        let code = match &error {
            UserSigError::Empty => ErrorCode::UserSigEmpty,
            UserSigError::Malformed(_) => ErrorCode::UserSigInvalid,
            UserSigError::SdkAppIdMismatch => ErrorCode::UserSigSdkAppIdMismatch,
            UserSigError::IdentifierMismatch => ErrorCode::UserSigIdentifierMismatch,
            UserSigError::KeyMismatch => ErrorCode::UserSigKeyMismatch,
            UserSigError::Expired => ErrorCode::UserSigExpired,
        };
        Self::new(code, format!("UserSig refused: {error}"))
    }
}
