//! Error codes on the wire, numbered as in Tencent IM's error tables where one fits.

/// Every non-zero `code` the server sends. The numbers are Tencent IM's where Tencent has a
/// matching code; `docs/protocol.md` lists each with its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// A method other than `login` and `logout` was called before a successful login (Tencent
    /// 6014).
    NotLoggedIn = 6014,
    /// Malformed JSON, unknown method, missing or wrongly typed field, value out of range (6017).
    InvalidParameters = 6017,
    /// The user ID is not a valid identifier (7003).
    InvalidIdentifier = 7003,
    /// Too many requests on this connection; slow down (7008).
    RateLimited = 7008,
    /// The feature is switched off on this server (read receipts disabled) (7013).
    InterfaceNotSupported = 7013,
    /// The frame exceeds the documented size limit and was not parsed (9522).
    FrameTooLarge = 9522,
    /// Something failed inside the server; the request may be retried (6999, Tidings' own).
    Internal = 6999,
    /// The C2C receiver does not exist (never logged in, never imported) (20003).
    UserNotFound = 20003,
    /// A C2C message's sender may recall it only within the server's time limit (20016).
    RevokeTimeLimit = 20016,
    /// The C2C message to recall does not exist (20022).
    RevokeMessageNotFound = 20022,
    /// The message was recalled: it cannot be recalled again and takes no more read receipts
    /// (20023).
    MessageRevoked = 20023,
    /// The app's backend refused the C2C message before it was sent (its
    /// `C2C.CallbackBeforeSendMsg` hook answered 1, or could not be asked and the server's
    /// default is to refuse) (20006). A backend may instead pick its own code in 120001–130000,
    /// which the sender gets as is.
    RefusedBeforeSend = 20006,
    /// The app's backend refused the group message before it was sent (its
    /// `Group.CallbackBeforeSendMsg` hook) (10016). Its own codes pass as for C2C.
    GroupRefusedBeforeSend = 10016,
    /// The group message to recall does not exist (10030).
    GroupRevokeMessageNotFound = 10030,
    /// A group message's sender may recall it only within the server's time limit; the group's
    /// owner and admins may at any time (10031).
    GroupRevokeTimeLimit = 10031,
    /// The message payload is too large (80002).
    MessageTooLarge = 80002,
    /// Invalid group parameters (10004).
    GroupInvalidParameters = 10004,
    /// The caller may not do this in this group (not a member, wrong role, wrong type) (10007).
    GroupPermissionDenied = 10007,
    /// The group owner cannot quit; they dismiss the group instead (10009).
    OwnerCannotQuit = 10009,
    /// The group does not exist or was dismissed (10010).
    GroupNotFound = 10010,
    /// The user is already a member (10013).
    AlreadyMember = 10013,
    /// The group is full (10014).
    GroupFull = 10014,
    /// The user would own, or belong to, more groups than the server allows (`[limits]
    /// max_groups_created_per_user`, `max_groups_joined_per_user`) (10037).
    GroupQuotaExceeded = 10037,
    /// The requested group ID is taken (10021).
    GroupIdInUse = 10021,
    /// The message does not exist, or carries no read-receipt information (10062).
    ReceiptInfoNotFound = 10062,
    /// A profile field name is not one Tidings keeps (REST: an unknown `Tag`; WebSocket: a
    /// `customInfo` name that is not 1 to 8 letters, digits or underscores) (40009).
    ProfileTagNotFound = 40009,
    /// A profile value is longer than 500 bytes (40601).
    ProfileSizeLimit = 40601,
    /// A standard profile field has a value it cannot take (a gender other than unknown, male
    /// or female) (40605).
    ProfileValueError = 40605,
    /// The UserSig has expired (70001).
    UserSigExpired = 70001,
    /// The UserSig is empty (70002).
    UserSigEmpty = 70002,
    /// The UserSig cannot be decoded (bad base64, zlib or JSON) (70003).
    UserSigInvalid = 70003,
    /// The UserSig's signature does not match the server's key (70009).
    UserSigKeyMismatch = 70009,
    /// The UserSig was issued for another user (70013).
    UserSigIdentifierMismatch = 70013,
    /// The UserSig was issued for another SDKAppID (70014).
    UserSigSdkAppIdMismatch = 70014,
    /// The UserSig was issued before the administrator revoked the user's UserSigs (account
    /// deleted, or kicked) (70052).
    UserSigRevoked = 70052,
}

impl ErrorCode {
    /// Every code, for documentation tests.
    pub const ALL: [ErrorCode; 35] = [
        Self::NotLoggedIn,
        Self::InvalidParameters,
        Self::InvalidIdentifier,
        Self::RateLimited,
        Self::InterfaceNotSupported,
        Self::FrameTooLarge,
        Self::Internal,
        Self::UserNotFound,
        Self::RevokeTimeLimit,
        Self::RevokeMessageNotFound,
        Self::MessageRevoked,
        Self::RefusedBeforeSend,
        Self::GroupRefusedBeforeSend,
        Self::GroupRevokeMessageNotFound,
        Self::GroupRevokeTimeLimit,
        Self::MessageTooLarge,
        Self::GroupInvalidParameters,
        Self::GroupPermissionDenied,
        Self::OwnerCannotQuit,
        Self::GroupNotFound,
        Self::AlreadyMember,
        Self::GroupFull,
        Self::GroupIdInUse,
        Self::GroupQuotaExceeded,
        Self::ReceiptInfoNotFound,
        Self::ProfileTagNotFound,
        Self::ProfileSizeLimit,
        Self::ProfileValueError,
        Self::UserSigExpired,
        Self::UserSigEmpty,
        Self::UserSigInvalid,
        Self::UserSigKeyMismatch,
        Self::UserSigIdentifierMismatch,
        Self::UserSigSdkAppIdMismatch,
        Self::UserSigRevoked,
    ];

    /// The number sent on the wire.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The codes an app's backend may choose for refusing a message before it is sent
    /// (Tencent's range); they reach the sender unchanged.
    pub const APP_REFUSAL_CODES: std::ops::RangeInclusive<u32> = 120_001..=130_000;

    /// The code for a wire number, if it is one of ours.
    pub fn from_u32(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_u32() == code)
    }
}
