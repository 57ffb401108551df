//! What a request asks for: its method resolved and its params decoded into one [`Command`],
//! in the order of `docs/protocol.md` §3.5.

use serde_json::value::RawValue;
use tidings_proto::methods::*;
use tidings_proto::{ErrorCode, Method, MethodKind};
use tidings_service::SessionId;

use crate::error::WireError;

/// The logged-in user of a connection, as its requests see it.
#[derive(Debug)]
pub(crate) struct Caller {
    pub user: String,
    /// The connection's ID in the hub.
    pub session_id: SessionId,
}

/// A resolved request.
#[derive(Debug)]
pub(crate) enum Command<'a> {
    /// `login`, handled in any state.
    Login(LoginParams),
    /// `logout`, handled in any state.
    Logout,
    /// Any other method, which acts as the logged-in user.
    AsUser(&'a Caller, UserCommand),
}

/// A method that acts as the logged-in user, with its params: one variant per method of
/// [`MethodKind`] but `login` and `logout`.
#[derive(Debug)]
pub(crate) enum UserCommand {
    /// Boxed: message parameters (any element type) are far larger than the other commands'.
    SendMessage(Box<SendMessageParams>),
    GetC2cHistoryMessageList(C2cHistoryParams),
    GetGroupHistoryMessageList(GroupHistoryParams),
    GetConversationList(ConversationListParams),
    GetConversation(ConversationIdParams),
    GetTotalUnreadMessageCount,
    CreateGroup(CreateGroupParams),
    JoinGroup(JoinGroupParams),
    QuitGroup(GroupIdParams),
    DismissGroup(GroupIdParams),
    InviteUserToGroup(InviteParams),
    KickGroupMember(KickParams),
    GetGroupMemberList(GroupMemberListParams),
    GetJoinedGroupList(JoinedGroupListParams),
    GetGroupsInfo(GroupsInfoParams),
    MarkC2cMessageAsRead(UserIdParams),
    MarkGroupMessageAsRead(GroupIdParams),
    CleanConversationUnreadMessageCount(CleanUnreadParams),
    SendMessageReadReceipts(MessageIdListParams),
    GetMessageReadReceipts(MessageIdListParams),
    GetGroupMessageReadMemberList(ReadMemberListParams),
    RevokeMessage(RevokeMessageParams),
    SetReceiptPrivacy(ReceiptPrivacy),
    GetReceiptPrivacy,
    SubscribeUserStatus(UserIdListParams),
    UnsubscribeUserStatus(UserIdListParams),
    GetUserStatus(UserIdListParams),
    SetSelfStatus(SetSelfStatusParams),
    SetSelfInfo(SetSelfInfoParams),
    GetUsersInfo(UsersInfoParams),
    SetGroupMemberInfo(SetGroupMemberInfoParams),
}

impl<'a> Command<'a> {
    /// Resolves a request: an unknown `method` (the name as sent) is refused first, then a
    /// method that needs a login on a connection without one, and only then are its params
    /// decoded.
    pub(crate) fn decode(
        method: Result<MethodKind, &str>,
        params: &RawValue,
        caller: Option<&'a Caller>,
    ) -> Result<Self, WireError> {
        use MethodKind as M;
        use UserCommand as U;
        let method = method.map_err(|name| {
            WireError::new(
                ErrorCode::InvalidParameters,
                format!("unknown method {name:?}; see docs/protocol.md for the list"),
            )
        })?;
        let user = AsUser { caller, params };
        match method {
            M::Login => Ok(Self::Login(decode::<Login>(params)?)),
            M::Logout => decode::<Logout>(params).map(|Empty {}| Self::Logout),
            M::SendMessage => user.decode::<SendMessage>(|p| U::SendMessage(Box::new(p))),
            M::GetC2cHistoryMessageList => {
                user.decode::<GetC2cHistoryMessageList>(U::GetC2cHistoryMessageList)
            }
            M::GetGroupHistoryMessageList => {
                user.decode::<GetGroupHistoryMessageList>(U::GetGroupHistoryMessageList)
            }
            M::GetConversationList => user.decode::<GetConversationList>(U::GetConversationList),
            M::GetConversation => user.decode::<GetConversation>(U::GetConversation),
            M::GetTotalUnreadMessageCount => {
                user.decode::<GetTotalUnreadMessageCount>(|Empty {}| U::GetTotalUnreadMessageCount)
            }
            M::CreateGroup => user.decode::<CreateGroup>(U::CreateGroup),
            M::JoinGroup => user.decode::<JoinGroup>(U::JoinGroup),
            M::QuitGroup => user.decode::<QuitGroup>(U::QuitGroup),
            M::DismissGroup => user.decode::<DismissGroup>(U::DismissGroup),
            M::InviteUserToGroup => user.decode::<InviteUserToGroup>(U::InviteUserToGroup),
            M::KickGroupMember => user.decode::<KickGroupMember>(U::KickGroupMember),
            M::GetGroupMemberList => user.decode::<GetGroupMemberList>(U::GetGroupMemberList),
            M::GetJoinedGroupList => user.decode::<GetJoinedGroupList>(U::GetJoinedGroupList),
            M::GetGroupsInfo => user.decode::<GetGroupsInfo>(U::GetGroupsInfo),
            M::MarkC2cMessageAsRead => user.decode::<MarkC2cMessageAsRead>(U::MarkC2cMessageAsRead),
            M::MarkGroupMessageAsRead => {
                user.decode::<MarkGroupMessageAsRead>(U::MarkGroupMessageAsRead)
            }
            M::CleanConversationUnreadMessageCount => user
                .decode::<CleanConversationUnreadMessageCount>(
                    U::CleanConversationUnreadMessageCount,
                ),
            M::SendMessageReadReceipts => {
                user.decode::<SendMessageReadReceipts>(U::SendMessageReadReceipts)
            }
            M::GetMessageReadReceipts => {
                user.decode::<GetMessageReadReceipts>(U::GetMessageReadReceipts)
            }
            M::GetGroupMessageReadMemberList => {
                user.decode::<GetGroupMessageReadMemberList>(U::GetGroupMessageReadMemberList)
            }
            M::RevokeMessage => user.decode::<RevokeMessage>(U::RevokeMessage),
            M::SetReceiptPrivacy => user.decode::<SetReceiptPrivacy>(U::SetReceiptPrivacy),
            M::GetReceiptPrivacy => {
                user.decode::<GetReceiptPrivacy>(|Empty {}| U::GetReceiptPrivacy)
            }
            M::SubscribeUserStatus => user.decode::<SubscribeUserStatus>(U::SubscribeUserStatus),
            M::UnsubscribeUserStatus => {
                user.decode::<UnsubscribeUserStatus>(U::UnsubscribeUserStatus)
            }
            M::GetUserStatus => user.decode::<GetUserStatus>(U::GetUserStatus),
            M::SetSelfStatus => user.decode::<SetSelfStatus>(U::SetSelfStatus),
            M::SetSelfInfo => user.decode::<SetSelfInfo>(U::SetSelfInfo),
            M::GetUsersInfo => user.decode::<GetUsersInfo>(U::GetUsersInfo),
            M::SetGroupMemberInfo => user.decode::<SetGroupMemberInfo>(U::SetGroupMemberInfo),
        }
    }
}

/// Decoding of a method that acts as the logged-in user.
struct AsUser<'a, 'p> {
    caller: Option<&'a Caller>,
    params: &'p RawValue,
}

impl<'a> AsUser<'a, '_> {
    /// Refuses `M` when nobody is logged in; otherwise decodes its params into `wrap`'s variant.
    fn decode<M: Method>(
        self,
        wrap: impl FnOnce(M::Params) -> UserCommand,
    ) -> Result<Command<'a>, WireError> {
        let Some(caller) = self.caller else {
            return Err(WireError::new(
                ErrorCode::NotLoggedIn,
                format!(
                    "log in first: {} needs a session, and the first request must be login",
                    M::NAME
                ),
            ));
        };
        Ok(Command::AsUser(caller, wrap(decode::<M>(self.params)?)))
    }
}

fn decode<M: Method>(params: &RawValue) -> Result<M::Params, WireError> {
    let mut json = serde_json::Deserializer::from_str(params.get());
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        WireError::new(
            ErrorCode::InvalidParameters,
            format!("invalid params for {}: {e}", M::NAME),
        )
    })
}
