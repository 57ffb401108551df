//! Method dispatch: decodes each method's parameters, calls the one service method, encodes
//! the result. Handlers hold no logic of their own.

use std::future::Future;

use serde_json::Value;
use serde_json::value::RawValue;
use tidings_proto::methods::*;
use tidings_proto::{ErrorCode, GroupInfoResult, Method};
use tidings_service::ServiceResult;

use super::session::Session;
use crate::error::WireError;
use crate::state::AppState;

fn decode<M: Method>(params: &RawValue) -> Result<M::Params, WireError> {
    let mut json = serde_json::Deserializer::from_str(params.get());
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        WireError::new(
            ErrorCode::InvalidParameters,
            format!("invalid params for {}: {e}", M::NAME),
        )
    })
}

fn encode<T: serde::Serialize>(output: T) -> Result<Value, WireError> {
    serde_json::to_value(output)
        .map_err(|e| WireError::new(ErrorCode::Internal, format!("cannot encode result: {e}")))
}

/// Decodes `M`'s params, runs `handler`, encodes its output.
async fn call<M, F, Fut>(params: &RawValue, handler: F) -> Result<Value, WireError>
where
    M: Method,
    F: FnOnce(M::Params) -> Fut,
    Fut: Future<Output = ServiceResult<M::Output>>,
{
    let params = decode::<M>(params)?;
    encode(handler(params).await?)
}

/// Runs one request of a session.
pub(crate) async fn dispatch(
    state: &AppState,
    session: &mut Session,
    method: &str,
    params: &RawValue,
) -> Result<Value, WireError> {
    match method {
        Login::NAME => {
            let params = decode::<Login>(params)?;
            session.login(state, params).await?;
            return encode(Empty {});
        }
        Logout::NAME => {
            decode::<Logout>(params)?;
            session.logout(state);
            return encode(Empty {});
        }
        _ => {}
    }
    if !ALL_METHODS.contains(&method) {
        return Err(WireError::new(
            ErrorCode::InvalidParameters,
            format!("unknown method {method:?}; see docs/protocol.md for the list"),
        ));
    }
    let Some(user) = session.user() else {
        return Err(WireError::new(
            ErrorCode::NotLoggedIn,
            format!("log in first: {method} needs a session, and the first request must be login"),
        ));
    };
    let user = user.to_owned();
    let user = user.as_str();
    let session_id = session.id();
    let t = state.tidings.as_ref();
    let done = |()| Empty {};
    match method {
        SendMessage::NAME => call::<SendMessage, _, _>(params, |p| t.send_message(user, p)).await,
        GetC2cHistoryMessageList::NAME => {
            call::<GetC2cHistoryMessageList, _, _>(params, |p| t.c2c_history(user, p)).await
        }
        GetGroupHistoryMessageList::NAME => {
            call::<GetGroupHistoryMessageList, _, _>(params, |p| t.group_history(user, p)).await
        }
        GetConversationList::NAME => {
            call::<GetConversationList, _, _>(params, |p| t.conversation_list(user, p)).await
        }
        CreateGroup::NAME => call::<CreateGroup, _, _>(params, |p| t.create_group(user, p)).await,
        JoinGroup::NAME => {
            call::<JoinGroup, _, _>(params, |p: JoinGroupParams| async move {
                t.join_group(user, &p.group_id).await.map(done)
            })
            .await
        }
        QuitGroup::NAME => {
            call::<QuitGroup, _, _>(params, |p: GroupIdParams| async move {
                t.quit_group(user, &p.group_id).await.map(done)
            })
            .await
        }
        DismissGroup::NAME => {
            call::<DismissGroup, _, _>(params, |p: GroupIdParams| async move {
                t.dismiss_group(user, &p.group_id).await.map(done)
            })
            .await
        }
        InviteUserToGroup::NAME => {
            call::<InviteUserToGroup, _, _>(params, |p| t.invite_to_group(user, p)).await
        }
        KickGroupMember::NAME => {
            call::<KickGroupMember, _, _>(params, |p| t.kick_members(user, p)).await
        }
        GetGroupMemberList::NAME => {
            call::<GetGroupMemberList, _, _>(params, |p| t.group_member_list(user, p)).await
        }
        GetJoinedGroupList::NAME => {
            call::<GetJoinedGroupList, _, _>(params, |_| t.joined_group_list(user)).await
        }
        GetGroupsInfo::NAME => {
            call::<GetGroupsInfo, _, _>(params, |p: GroupsInfoParams| async move {
                let results = t.groups_info(user, &p.group_id_list).await?;
                Ok(results.into_iter().map(group_info_result).collect())
            })
            .await
        }
        MarkC2cMessageAsRead::NAME => {
            call::<MarkC2cMessageAsRead, _, _>(params, |p: UserIdParams| async move {
                t.mark_c2c_read(user, &p.user_id).await.map(done)
            })
            .await
        }
        MarkGroupMessageAsRead::NAME => {
            call::<MarkGroupMessageAsRead, _, _>(params, |p: GroupIdParams| async move {
                t.mark_group_read(user, &p.group_id).await.map(done)
            })
            .await
        }
        CleanConversationUnreadMessageCount::NAME => {
            call::<CleanConversationUnreadMessageCount, _, _>(params, |p| async move {
                t.clean_unread(user, p).await.map(done)
            })
            .await
        }
        SendMessageReadReceipts::NAME => {
            call::<SendMessageReadReceipts, _, _>(params, |p: MessageIdListParams| async move {
                t.send_read_receipts(user, p.message_id_list, session_id)
                    .await
                    .map(done)
            })
            .await
        }
        GetMessageReadReceipts::NAME => {
            call::<GetMessageReadReceipts, _, _>(params, |p: MessageIdListParams| async move {
                t.get_read_receipts(user, p.message_id_list).await
            })
            .await
        }
        GetGroupMessageReadMemberList::NAME => {
            call::<GetGroupMessageReadMemberList, _, _>(params, |p| t.read_member_list(user, p))
                .await
        }
        other => Err(WireError::new(
            ErrorCode::Internal,
            format!("method {other} has no handler"),
        )),
    }
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
