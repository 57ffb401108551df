//! The typed V2TIM methods of [`Client`], one per protocol method, plus text shortcuts.

use tidings_proto::methods::{
    C2cHistoryParams, CleanConversationUnreadMessageCount, CleanUnreadParams, ConversationIdParams,
    ConversationListParams, ConversationListResult, CreateGroup, CreateGroupParams, DismissGroup,
    Empty, GetC2cHistoryMessageList, GetConversation, GetConversationList,
    GetGroupHistoryMessageList, GetGroupMemberList, GetGroupMessageReadMemberList, GetGroupsInfo,
    GetJoinedGroupList, GetMessageReadReceipts, GetTotalUnreadMessageCount, GroupHistoryParams,
    GroupIdParams, GroupMemberListParams, GroupMemberListResult, GroupsInfoParams, InviteParams,
    InviteUserToGroup, JoinGroup, JoinGroupParams, JoinedGroupListParams, KickGroupMember,
    KickParams, Login, LoginParams, Logout, MarkC2cMessageAsRead, MarkGroupMessageAsRead,
    MessageIdListParams, QuitGroup, ReadMemberListParams, ReadMemberListResult, SendMessage,
    SendMessageParams, SendMessageReadReceipts, SendReceiptsResult, UserIdParams,
};
use tidings_proto::methods::{
    GetReceiptPrivacy, GetUserStatus, GetUsersInfo, ReceiptPrivacy, RevokeMessage,
    RevokeMessageParams, SetGroupMemberInfo, SetGroupMemberInfoParams, SetReceiptPrivacy,
    SetSelfInfo, SetSelfInfoParams, SetSelfStatus, SetSelfStatusParams, SubscribeUserStatus,
    UnsubscribeUserStatus, UserIdListParams, UsersInfoParams,
};
use tidings_proto::{
    Conversation, Elem, GroupInfo, GroupInfoResult, MAX_LIST_PAGE, MemberOperationResult, Message,
    MessageReceipt, TextElem, UserFullInfo, UserStatus,
};

use crate::{Client, SdkError};

impl Client {
    /// `login`: logs this connection in again, e.g. after [`Client::logout`]. On success the new
    /// credentials are also the ones used to log in after a reconnect.
    pub async fn login(
        &self,
        user_id: impl Into<String>,
        user_sig: impl Into<String>,
    ) -> Result<(), SdkError> {
        let params = LoginParams {
            user_id: user_id.into(),
            user_sig: user_sig.into(),
        };
        self.call::<Login>(params).await.map(drop)
    }

    /// `logout`: ends the session; the connection stays open and [`Client::login`] may follow.
    /// A logged-out client does not reconnect: if the connection drops, the client stops.
    pub async fn logout(&self) -> Result<(), SdkError> {
        self.call::<Logout>(Empty {}).await.map(drop)
    }

    /// `sendMessage`: sends a C2C or group message; returns it as stored by the server.
    pub async fn send_message(&self, params: SendMessageParams) -> Result<Message, SdkError> {
        self.call::<SendMessage>(params).await
    }

    /// Sends a text message to user `receiver`.
    pub async fn send_text(
        &self,
        receiver: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Message, SdkError> {
        self.send_message(SendMessageParams {
            receiver: Some(receiver.into()),
            text_elem: Some(TextElem { text: text.into() }),
            ..SendMessageParams::default()
        })
        .await
    }

    /// Sends a message of one element (an image, a file…: [`crate::Elem`]) to user `receiver`.
    pub async fn send_elem(
        &self,
        receiver: impl Into<String>,
        elem: Elem,
    ) -> Result<Message, SdkError> {
        self.send_message(SendMessageParams {
            receiver: Some(receiver.into()),
            ..SendMessageParams::with_elem(elem)
        })
        .await
    }

    /// Sends a message of one element to group `group_id`.
    pub async fn send_group_elem(
        &self,
        group_id: impl Into<String>,
        elem: Elem,
    ) -> Result<Message, SdkError> {
        self.send_message(SendMessageParams {
            group_id: Some(group_id.into()),
            ..SendMessageParams::with_elem(elem)
        })
        .await
    }

    /// Sends a text message to group `group_id`.
    pub async fn send_group_text(
        &self,
        group_id: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Message, SdkError> {
        self.send_message(SendMessageParams {
            group_id: Some(group_id.into()),
            text_elem: Some(TextElem { text: text.into() }),
            ..SendMessageParams::default()
        })
        .await
    }

    /// Sends a targeted group message (V2TIM's `createTargetedGroupMessage` then `sendMessage`):
    /// a text message in group `group_id` that only `receivers` (members, at most 50) get.
    pub async fn send_targeted_group_text(
        &self,
        group_id: impl Into<String>,
        receivers: Vec<String>,
        text: impl Into<String>,
    ) -> Result<Message, SdkError> {
        self.send_message(SendMessageParams {
            group_id: Some(group_id.into()),
            receiver_list: receivers,
            text_elem: Some(TextElem { text: text.into() }),
            ..SendMessageParams::default()
        })
        .await
    }

    /// `getC2CHistoryMessageList`: up to `count` (1–100) messages with `user_id`, newest first,
    /// older than `last_msg_id` when given.
    pub async fn get_c2c_history_message_list(
        &self,
        user_id: impl Into<String>,
        count: u32,
        last_msg_id: Option<&str>,
    ) -> Result<Vec<Message>, SdkError> {
        let params = C2cHistoryParams {
            user_id: user_id.into(),
            count,
            last_msg_id: last_msg_id.map(str::to_owned),
        };
        self.call::<GetC2cHistoryMessageList>(params).await
    }

    /// `getGroupHistoryMessageList`: up to `count` (1–100) messages of `group_id`, newest first,
    /// older than `last_msg_id` when given.
    pub async fn get_group_history_message_list(
        &self,
        group_id: impl Into<String>,
        count: u32,
        last_msg_id: Option<&str>,
    ) -> Result<Vec<Message>, SdkError> {
        let params = GroupHistoryParams {
            group_id: group_id.into(),
            count,
            last_msg_id: last_msg_id.map(str::to_owned),
        };
        self.call::<GetGroupHistoryMessageList>(params).await
    }

    /// `getConversationList`: a page of up to `count` (1–100) conversations, newest activity
    /// first; `next_seq` is 0 for the first page, then the previous page's `next_seq`.
    pub async fn get_conversation_list(
        &self,
        next_seq: u64,
        count: u32,
    ) -> Result<ConversationListResult, SdkError> {
        self.call::<GetConversationList>(ConversationListParams { next_seq, count })
            .await
    }

    /// `getConversation`: one conversation, `c2c_<userID>` or `group_<groupID>`.
    pub async fn get_conversation(
        &self,
        conversation_id: impl Into<String>,
    ) -> Result<Conversation, SdkError> {
        let params = ConversationIdParams {
            conversation_id: conversation_id.into(),
        };
        self.call::<GetConversation>(params).await
    }

    /// `getTotalUnreadMessageCount`: the sum of the unread counts of every conversation.
    pub async fn get_total_unread_message_count(&self) -> Result<u64, SdkError> {
        self.call::<GetTotalUnreadMessageCount>(Empty {}).await
    }

    /// `createGroup`: creates a group owned by the caller; returns its group ID.
    pub async fn create_group(&self, params: CreateGroupParams) -> Result<String, SdkError> {
        self.call::<CreateGroup>(params)
            .await
            .map(|result| result.group_id)
    }

    /// `joinGroup`: joins a group that admits members freely. `message` is the application text
    /// (kept for V2TIM compatibility).
    pub async fn join_group(
        &self,
        group_id: impl Into<String>,
        message: impl Into<String>,
    ) -> Result<(), SdkError> {
        let params = JoinGroupParams {
            group_id: group_id.into(),
            message: message.into(),
        };
        self.call::<JoinGroup>(params).await.map(drop)
    }

    /// `quitGroup`: leaves a group.
    pub async fn quit_group(&self, group_id: impl Into<String>) -> Result<(), SdkError> {
        self.call::<QuitGroup>(GroupIdParams {
            group_id: group_id.into(),
        })
        .await
        .map(drop)
    }

    /// `dismissGroup`: dismisses a group (owner only).
    pub async fn dismiss_group(&self, group_id: impl Into<String>) -> Result<(), SdkError> {
        self.call::<DismissGroup>(GroupIdParams {
            group_id: group_id.into(),
        })
        .await
        .map(drop)
    }

    /// `inviteUserToGroup`: adds users to a group; returns one result per user, in V2TIM's
    /// `V2TIMGroupMemberResult` numbers: [`crate::MEMBER_OP_SUCCESS`] added,
    /// [`crate::MEMBER_OP_INVALID`] already a member, [`crate::MEMBER_OP_FAIL`] no such user.
    pub async fn invite_user_to_group(
        &self,
        group_id: impl Into<String>,
        user_list: Vec<String>,
    ) -> Result<Vec<MemberOperationResult>, SdkError> {
        let params = InviteParams {
            group_id: group_id.into(),
            user_list,
        };
        self.call::<InviteUserToGroup>(params).await
    }

    /// `kickGroupMember`: removes members (owner or admin). `reason` is accepted for V2TIM
    /// compatibility; the server neither keeps it nor puts it in `onMemberKicked`. Returns one
    /// result per member: [`crate::MEMBER_OP_SUCCESS`] removed, [`crate::MEMBER_OP_INVALID`] not
    /// a member.
    pub async fn kick_group_member(
        &self,
        group_id: impl Into<String>,
        member_list: Vec<String>,
        reason: impl Into<String>,
    ) -> Result<Vec<MemberOperationResult>, SdkError> {
        let params = KickParams {
            group_id: group_id.into(),
            member_list,
            reason: reason.into(),
        };
        self.call::<KickGroupMember>(params).await
    }

    /// `getGroupMemberList`: a page of up to 100 members in joining order. `filter` is
    /// V2TIMGroupMemberFilter (0 all, 1 owner, 2 admins, 4 ordinary members); `next_seq` is 0 for
    /// the first page, then the previous page's (0 in the result means no more pages). Use
    /// [`Client::call`] with `GetGroupMemberList` for another page size.
    pub async fn get_group_member_list(
        &self,
        group_id: impl Into<String>,
        filter: u32,
        next_seq: u64,
    ) -> Result<GroupMemberListResult, SdkError> {
        let params = GroupMemberListParams {
            group_id: group_id.into(),
            filter,
            next_seq,
            count: MAX_LIST_PAGE,
        };
        self.call::<GetGroupMemberList>(params).await
    }

    /// `getJoinedGroupList`: the groups the caller belongs to.
    pub async fn get_joined_group_list(&self) -> Result<Vec<GroupInfo>, SdkError> {
        self.call::<GetJoinedGroupList>(JoinedGroupListParams::default())
            .await
    }

    /// A page of the caller's groups in group ID order: `count` groups after `after_group_id`
    /// (empty for the first page); a page shorter than `count` is the last.
    pub async fn get_joined_group_page(
        &self,
        after_group_id: &str,
        count: u32,
    ) -> Result<Vec<GroupInfo>, SdkError> {
        self.call::<GetJoinedGroupList>(JoinedGroupListParams {
            after_group_id: after_group_id.to_owned(),
            count: Some(count),
        })
        .await
    }

    /// `getGroupsInfo`: information on up to 100 groups, one result per group.
    pub async fn get_groups_info(
        &self,
        group_id_list: Vec<String>,
    ) -> Result<Vec<GroupInfoResult>, SdkError> {
        self.call::<GetGroupsInfo>(GroupsInfoParams { group_id_list })
            .await
    }

    /// `markC2CMessageAsRead`: marks the conversation with `user_id` read up to now.
    pub async fn mark_c2c_message_as_read(
        &self,
        user_id: impl Into<String>,
    ) -> Result<(), SdkError> {
        self.call::<MarkC2cMessageAsRead>(UserIdParams {
            user_id: user_id.into(),
        })
        .await
        .map(drop)
    }

    /// `markGroupMessageAsRead`: marks a group conversation read up to its newest message.
    pub async fn mark_group_message_as_read(
        &self,
        group_id: impl Into<String>,
    ) -> Result<(), SdkError> {
        let params = GroupIdParams {
            group_id: group_id.into(),
        };
        self.call::<MarkGroupMessageAsRead>(params).await.map(drop)
    }

    /// `cleanConversationUnreadMessageCount`: clears the unread count of `conversation_id`
    /// (`c2c_<userID>` or `group_<groupID>`) up to `clean_sequence` (group; C2C too, exactly,
    /// when not 0) or `clean_timestamp` (C2C, Unix seconds); both 0 clear everything.
    pub async fn clean_conversation_unread_message_count(
        &self,
        conversation_id: impl Into<String>,
        clean_timestamp: i64,
        clean_sequence: u64,
    ) -> Result<(), SdkError> {
        let params = CleanUnreadParams {
            conversation_id: conversation_id.into(),
            clean_timestamp,
            clean_sequence,
        };
        self.call::<CleanConversationUnreadMessageCount>(params)
            .await
            .map(drop)
    }

    /// `sendMessageReadReceipts`: reports that these messages (all of one conversation, at most
    /// 100) were read. Messages that cannot take a receipt (own, without `needReadReceipt`,
    /// sent before joining the group, unknown) are skipped and listed in the result; the call
    /// fails only when none could be recorded.
    pub async fn send_message_read_receipts(
        &self,
        message_id_list: Vec<String>,
    ) -> Result<SendReceiptsResult, SdkError> {
        let params = MessageIdListParams { message_id_list };
        self.call::<SendMessageReadReceipts>(params).await
    }

    /// `getMessageReadReceipts`: the receipt state of own messages (all of one conversation, at
    /// most 100).
    pub async fn get_message_read_receipts(
        &self,
        message_id_list: Vec<String>,
    ) -> Result<Vec<MessageReceipt>, SdkError> {
        let params = MessageIdListParams { message_id_list };
        self.call::<GetMessageReadReceipts>(params).await
    }

    /// `getGroupMessageReadMemberList`: a page of up to `count` (1–100) members who read
    /// (`filter` [`crate::READ_MEMBERS_FILTER_READ`]) or did not read
    /// ([`crate::READ_MEMBERS_FILTER_UNREAD`]) an own group message.
    pub async fn get_group_message_read_member_list(
        &self,
        message_id: impl Into<String>,
        filter: u32,
        next_seq: u64,
        count: u32,
    ) -> Result<ReadMemberListResult, SdkError> {
        let params = ReadMemberListParams {
            message_id: message_id.into(),
            filter,
            next_seq,
            count,
        };
        self.call::<GetGroupMessageReadMemberList>(params).await
    }

    /// `revokeMessage`: recalls a message, with an optional `reason` (at most 256 bytes). The
    /// sender may within the server's time limit (2 minutes by default); a group's owner and
    /// admins at any time. Every party, this client included, gets
    /// [`crate::SdkEvent::RecvMessageRevoked`].
    pub async fn revoke_message(
        &self,
        msg_id: impl Into<String>,
        reason: impl Into<String>,
    ) -> Result<(), SdkError> {
        let params = RevokeMessageParams {
            msg_id: msg_id.into(),
            reason: reason.into(),
        };
        self.call::<RevokeMessage>(params).await.map(|_| ())
    }

    /// `setReceiptPrivacy` (a Tidings extension): with `private`, this user's read receipts and
    /// C2C reads clear the user's own unread counts and reach the user's other devices, while
    /// senders see the user as one who has not read; receipts given meanwhile stay private
    /// when it is switched off again.
    pub async fn set_receipt_privacy(&self, private: bool) -> Result<(), SdkError> {
        let params = ReceiptPrivacy {
            private_read_receipts: private,
        };
        self.call::<SetReceiptPrivacy>(params).await.map(|_| ())
    }

    /// `getReceiptPrivacy` (a Tidings extension): whether this user's read receipts are
    /// private.
    pub async fn get_receipt_privacy(&self) -> Result<bool, SdkError> {
        Ok(self
            .call::<GetReceiptPrivacy>(Empty {})
            .await?
            .private_read_receipts)
    }

    /// `subscribeUserStatus`: from now on, [`crate::SdkEvent::UserStatusChanged`] tells when
    /// these users (at most 100 per call, not this user) go online or offline or change their
    /// custom status. The subscriptions belong to the user, kept across logins until
    /// unsubscribed; a user keeps at most 200, the earliest subscribed dropped beyond that.
    pub async fn subscribe_user_status(
        &self,
        user_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<(), SdkError> {
        let params = UserIdListParams {
            user_id_list: user_ids.into_iter().map(Into::into).collect(),
        };
        self.call::<SubscribeUserStatus>(params).await.map(|_| ())
    }

    /// `unsubscribeUserStatus`: ends the subscriptions to these users (at most 100 per call),
    /// or all of them when none are named.
    pub async fn unsubscribe_user_status(
        &self,
        user_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<(), SdkError> {
        let params = UserIdListParams {
            user_id_list: user_ids.into_iter().map(Into::into).collect(),
        };
        self.call::<UnsubscribeUserStatus>(params).await.map(|_| ())
    }

    /// `getUserStatus`: the current status of these users (at most 500), this one's included.
    pub async fn get_user_status(
        &self,
        user_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Vec<UserStatus>, SdkError> {
        let params = UserIdListParams {
            user_id_list: user_ids.into_iter().map(Into::into).collect(),
        };
        self.call::<GetUserStatus>(params).await
    }

    /// `setSelfStatus`: sets this user's custom status (at most 256 bytes; empty clears it).
    /// Subscribers and the user's other devices get [`crate::SdkEvent::UserStatusChanged`];
    /// it is cleared when the user goes offline.
    pub async fn set_self_status(&self, custom_status: impl Into<String>) -> Result<(), SdkError> {
        let params = SetSelfStatusParams {
            custom_status: custom_status.into(),
        };
        self.call::<SetSelfStatus>(params).await.map(|_| ())
    }

    /// `setSelfInfo`: changes this user's own profile; the fields left `None` (and the custom
    /// fields not named) stay. Later messages carry the new nickname and picture.
    pub async fn set_self_info(&self, params: SetSelfInfoParams) -> Result<(), SdkError> {
        self.call::<SetSelfInfo>(params).await.map(|_| ())
    }

    /// `getUsersInfo`: the profiles of the named users that exist, in the order asked.
    pub async fn get_users_info(
        &self,
        user_ids: Vec<String>,
    ) -> Result<Vec<UserFullInfo>, SdkError> {
        let params = UsersInfoParams {
            user_id_list: user_ids,
        };
        self.call::<GetUsersInfo>(params).await
    }

    /// `setGroupMemberInfo`: sets a member's name card in a group (this user's own; the owner
    /// any member's, an admin an ordinary member's).
    pub async fn set_group_member_info(
        &self,
        group_id: impl Into<String>,
        user_id: impl Into<String>,
        name_card: impl Into<String>,
    ) -> Result<(), SdkError> {
        let params = SetGroupMemberInfoParams {
            group_id: group_id.into(),
            user_id: user_id.into(),
            name_card: name_card.into(),
        };
        self.call::<SetGroupMemberInfo>(params).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use tidings_proto::methods::ALL_METHODS;

    /// `getC2CHistoryMessageList` → `get_c2c_history_message_list`.
    fn snake_case(name: &str) -> String {
        let chars: Vec<char> = name.chars().collect();
        let mut out = String::new();
        for (i, &c) in chars.iter().enumerate() {
            if c.is_ascii_uppercase() {
                let prev = i.checked_sub(1).map(|p| chars[p]);
                let next = chars.get(i + 1);
                let after_lower = prev.is_some_and(|p| p.is_ascii_lowercase());
                let starts_word = prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase());
                if after_lower || starts_word {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn snake_case_of_v2tim_names() {
        assert_eq!(
            snake_case("getC2CHistoryMessageList"),
            "get_c2c_history_message_list"
        );
        assert_eq!(
            snake_case("markC2CMessageAsRead"),
            "mark_c2c_message_as_read"
        );
        assert_eq!(snake_case("getGroupsInfo"), "get_groups_info");
        assert_eq!(snake_case("login"), "login");
    }

    #[test]
    fn every_proto_method_has_a_typed_method() {
        let source = include_str!("api.rs");
        for name in ALL_METHODS {
            let signature = format!("pub async fn {}(", snake_case(name));
            assert!(source.contains(&signature), "no `{signature}` for {name}");
        }
    }
}
