//! Runs one [`Command`]: one arm per method, each calling one service method and encoding its
//! result. Handlers hold no logic of their own; `login` and `logout` return the change of login
//! that the connection applies.

use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;
use tidings_proto::methods::*;
use tidings_proto::{ErrorCode, GroupInfoResult, Method, MethodKind};
use tidings_service::ServiceResult;

use super::command::{Caller, Command, UserCommand};
use crate::error::{WireError, skipped_message};
use crate::state::AppState;

/// A change of login that the connection applies once the request is answered (hub
/// registration, push queue, UserSig expiry).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionChange {
    /// Logged in as `user` (or, when already logged in as `user`, the UserSig was refreshed),
    /// until `expires_at`, with a UserSig issued at `issued_at` (Unix seconds).
    LoggedIn {
        user: String,
        expires_at: Instant,
        issued_at: i64,
    },
    /// Logged out.
    LoggedOut,
}

/// A request that succeeded.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The response's `data`.
    pub data: Value,
    pub change: Option<SessionChange>,
}

/// Runs one request of a connection logged in as `caller` (if anyone).
pub(crate) async fn dispatch(
    state: &AppState,
    caller: Option<&Caller>,
    method: Result<MethodKind, &str>,
    params: &RawValue,
) -> Result<Answer, WireError> {
    let (data, change) = match Command::decode(method, params, caller)? {
        Command::Login(params) => {
            let change = login(state, caller, params).await?;
            (encode::<Login>(Empty {})?, Some(change))
        }
        Command::Logout => (encode::<Logout>(Empty {})?, Some(SessionChange::LoggedOut)),
        Command::AsUser(caller, command) => (run(state, caller, command).await?, None),
    };
    Ok(Answer { data, change })
}

/// Verifies the user ID and UserSig. Logging in again as the same user refreshes the UserSig;
/// another user needs a logout first.
async fn login(
    state: &AppState,
    caller: Option<&Caller>,
    params: LoginParams,
) -> Result<SessionChange, WireError> {
    if !tidings_proto::is_valid_id(&params.user_id) {
        return Err(WireError::new(
            ErrorCode::InvalidIdentifier,
            format!(
                "invalid userID {:?}: use 1 to 32 printable ASCII characters without spaces",
                params.user_id
            ),
        ));
    }
    if let Some(current) = caller
        && current.user != params.user_id
    {
        return Err(WireError::new(
            ErrorCode::InvalidParameters,
            format!(
                "this connection is logged in as {}; log out first",
                current.user
            ),
        ));
    }
    let verified = state.auth.verify(&params.user_id, &params.user_sig)?;
    state
        .tidings
        .check_user_sig_issued(&params.user_id, verified.issued_at)
        .await?;
    let remaining = u64::try_from(verified.expires_at - tidings_service::now()).unwrap_or(0);
    if caller.is_none() {
        state.tidings.login(&params.user_id).await?;
    }
    Ok(SessionChange::LoggedIn {
        user: params.user_id,
        expires_at: Instant::now() + Duration::from_secs(remaining),
        issued_at: verified.issued_at,
    })
}

/// Runs a method as `caller`.
async fn run(state: &AppState, caller: &Caller, command: UserCommand) -> Result<Value, WireError> {
    use UserCommand as U;
    let t = state.tidings.as_ref();
    let user = caller.user.as_str();
    match command {
        U::SendMessage(p) => encode::<SendMessage>(t.send_message(user, *p).await?),
        U::GetC2cHistoryMessageList(p) => {
            encode::<GetC2cHistoryMessageList>(t.c2c_history(user, p).await?)
        }
        U::GetGroupHistoryMessageList(p) => {
            encode::<GetGroupHistoryMessageList>(t.group_history(user, p).await?)
        }
        U::GetConversationList(p) => {
            encode::<GetConversationList>(t.conversation_list(user, p).await?)
        }
        U::GetConversation(p) => {
            encode::<GetConversation>(t.conversation(user, &p.conversation_id).await?)
        }
        U::GetTotalUnreadMessageCount => {
            encode::<GetTotalUnreadMessageCount>(t.total_unread(user).await?)
        }
        U::CreateGroup(p) => encode::<CreateGroup>(t.create_group(user, p).await?),
        U::JoinGroup(p) => {
            t.join_group(user, &p.group_id).await?;
            encode::<JoinGroup>(Empty {})
        }
        U::QuitGroup(p) => {
            t.quit_group(user, &p.group_id).await?;
            encode::<QuitGroup>(Empty {})
        }
        U::DismissGroup(p) => {
            t.dismiss_group(user, &p.group_id).await?;
            encode::<DismissGroup>(Empty {})
        }
        U::InviteUserToGroup(p) => encode::<InviteUserToGroup>(t.invite_to_group(user, p).await?),
        U::KickGroupMember(p) => encode::<KickGroupMember>(t.kick_members(user, p).await?),
        U::GetGroupMemberList(p) => {
            encode::<GetGroupMemberList>(t.group_member_list(user, p).await?)
        }
        U::GetJoinedGroupList(params) => {
            encode::<GetJoinedGroupList>(t.joined_group_page(user, params).await?)
        }
        U::GetGroupsInfo(p) => {
            let results = t.groups_info(user, &p.group_id_list).await?;
            encode::<GetGroupsInfo>(results.into_iter().map(group_info_result).collect())
        }
        U::MarkC2cMessageAsRead(p) => {
            t.mark_c2c_read(user, &p.user_id).await?;
            encode::<MarkC2cMessageAsRead>(Empty {})
        }
        U::MarkGroupMessageAsRead(p) => {
            t.mark_group_read(user, &p.group_id).await?;
            encode::<MarkGroupMessageAsRead>(Empty {})
        }
        U::CleanConversationUnreadMessageCount(p) => {
            t.clean_unread(user, p).await?;
            encode::<CleanConversationUnreadMessageCount>(Empty {})
        }
        U::SendMessageReadReceipts(p) => {
            let skipped = t
                .send_read_receipts(user, p.message_id_list, Some(caller.session_id))
                .await?;
            encode::<SendMessageReadReceipts>(SendReceiptsResult {
                skipped_list: skipped.into_iter().map(skipped_message).collect(),
            })
        }
        U::GetMessageReadReceipts(p) => {
            encode::<GetMessageReadReceipts>(t.get_read_receipts(user, p.message_id_list).await?)
        }
        U::GetGroupMessageReadMemberList(p) => {
            encode::<GetGroupMessageReadMemberList>(t.read_member_list(user, p).await?)
        }
        U::RevokeMessage(p) => {
            t.revoke_message(user, p).await?;
            encode::<RevokeMessage>(Empty {})
        }
        U::SetReceiptPrivacy(p) => {
            t.set_receipt_privacy(user, p.private_read_receipts).await?;
            encode::<SetReceiptPrivacy>(Empty {})
        }
        U::GetReceiptPrivacy => encode::<GetReceiptPrivacy>(ReceiptPrivacy {
            private_read_receipts: t.receipt_privacy(user).await?,
        }),
        U::SubscribeUserStatus(p) => {
            t.subscribe_user_status(user, p.user_id_list).await?;
            encode::<SubscribeUserStatus>(Empty {})
        }
        U::UnsubscribeUserStatus(p) => {
            t.unsubscribe_user_status(user, p.user_id_list).await?;
            encode::<UnsubscribeUserStatus>(Empty {})
        }
        U::GetUserStatus(p) => encode::<GetUserStatus>(t.get_user_status(p.user_id_list).await?),
        U::SetSelfStatus(p) => {
            t.set_self_status(user, Some(caller.session_id), p.custom_status)
                .await?;
            encode::<SetSelfStatus>(Empty {})
        }
        U::SetSelfInfo(p) => {
            t.set_self_info(user, p).await?;
            encode::<SetSelfInfo>(Empty {})
        }
        U::GetUsersInfo(p) => encode::<GetUsersInfo>(t.users_info(&p.user_id_list).await?),
        U::SetGroupMemberInfo(p) => {
            t.set_group_member_info(user, p).await?;
            encode::<SetGroupMemberInfo>(Empty {})
        }
    }
}

/// Encodes `M`'s result.
fn encode<M: Method>(output: M::Output) -> Result<Value, WireError> {
    serde_json::to_value(output)
        .map_err(|e| WireError::new(ErrorCode::Internal, format!("cannot encode result: {e}")))
}

fn group_info_result(result: ServiceResult<tidings_proto::GroupInfo>) -> GroupInfoResult {
    match result {
        Ok(info) => GroupInfoResult {
            result_code: 0,
            result_message: String::new(),
            group_info: Some(info),
        },
        Err(error) => {
            let error = WireError::from(error);
            GroupInfoResult {
                result_code: error.code.as_u32(),
                result_message: error.desc,
                group_info: None,
            }
        }
    }
}
