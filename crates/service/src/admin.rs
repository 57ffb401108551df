//! Operations only the App administrator performs (the REST API): accounts, listings by
//! sequence and offset, and read state set on a user's behalf.

use tidings_proto::methods::ReadMemberListResult;
use tidings_proto::{GroupType, is_valid_id};
use tidings_store::{ConvKey, GroupRecord, MemberRecord, MessageRecord, UserCard};

use crate::checks::{MAX_SEQ, check_id, storable};
use crate::error::InGroup;
use crate::{ServiceError, ServiceResult, Tidings, now};

/// Receipt counts of one group message, for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptCounts {
    /// Recipients who read it.
    pub read: u64,
    /// Recipients who did not.
    pub unread: u64,
}

/// The `onKickedOffline` reason of a session the administrator logged out (REST `kick`, or
/// a login whose UserSig was revoked while it was being accepted).
pub const LOGGED_OUT_BY_ADMIN: &str = "logged out by the administrator";

impl Tidings {
    /// Creates or updates an account (REST import).
    /// Its nickname and picture are set as given (the other profile fields stay).
    pub async fn import_account(&self, user_id: &str, card: UserCard) -> ServiceResult<()> {
        check_id(user_id)?;
        crate::profiles::check_card(&card)?;
        self.store.ensure_user(user_id, Some(card), now()).await?;
        Ok(())
    }

    /// For each user, whether the account exists.
    pub async fn accounts_exist(&self, user_ids: &[String]) -> ServiceResult<Vec<bool>> {
        let found = self.store.get_users(user_ids).await?;
        Ok(user_ids
            .iter()
            .map(|id| found.iter().any(|u| &u.user_id == id))
            .collect())
    }

    /// Deletes accounts, revokes their UserSigs and logs out their sessions; returns for each
    /// whether it existed.
    pub async fn delete_accounts(&self, user_ids: &[String]) -> ServiceResult<Vec<bool>> {
        // Revoked first: a deleted account whose old UserSigs still work must never be left.
        self.revoke_user_sigs(user_ids).await?;
        let deleted = self.store.delete_users(user_ids).await?;
        for user_id in user_ids {
            self.kick(user_id, "account deleted by the administrator");
        }
        Ok(deleted)
    }

    /// Tencent's `kick`: revokes the user's UserSigs and logs out every session. Only a UserSig
    /// issued later logs the user in again.
    pub async fn invalidate_login(&self, user_id: &str) -> ServiceResult<()> {
        self.revoke_user_sigs(&[user_id.to_owned()]).await?;
        self.kick(user_id, LOGGED_OUT_BY_ADMIN);
        Ok(())
    }

    /// Refuses from now on every UserSig of these users issued until now. UserSigs carry whole
    /// seconds, so this second's are refused too: one made in the same second may be older
    /// than the revocation. Invalid IDs, which never log in, are left out.
    async fn revoke_user_sigs(&self, user_ids: &[String]) -> ServiceResult<()> {
        let valid: Vec<String> = user_ids
            .iter()
            .filter(|id| is_valid_id(id))
            .cloned()
            .collect();
        if !valid.is_empty() {
            self.store.revoke_user_sigs(&valid, now() + 1).await?;
        }
        Ok(())
    }

    /// Checks that each named message that exists was sent by `sender` (REST receipts name
    /// both sides of the conversation; missing messages are reported by the receipt itself).
    pub async fn require_sent_by(&self, sender: &str, msg_ids: &[String]) -> ServiceResult<()> {
        match self
            .store
            .get_messages(msg_ids)
            .await?
            .iter()
            .find(|r| r.message.sender != sender)
        {
            Some(other) => Err(ServiceError::InvalidParameters(format!(
                "message {} was sent by {}, not by {sender}",
                other.message.msg_id, other.message.sender
            ))),
            None => Ok(()),
        }
    }

    /// A group by ID.
    pub async fn group(&self, group_id: &str) -> ServiceResult<GroupRecord> {
        self.group_or_not_found(group_id).await
    }

    /// Current members from position `offset`, at most `limit`.
    pub async fn members_at_offset(
        &self,
        group_id: &str,
        offset: u32,
        limit: u32,
    ) -> ServiceResult<Vec<MemberRecord>> {
        self.group_or_not_found(group_id).await?;
        let members = self
            .store
            .list_members(group_id, 0, offset.saturating_add(limit), None)
            .await?;
        Ok(members.into_iter().skip(offset as usize).collect())
    }

    /// Groups after `after` in ID order (at most `limit`), optionally of one type, and the total.
    pub async fn list_groups(
        &self,
        after: &str,
        limit: u32,
        group_type: Option<GroupType>,
    ) -> ServiceResult<(Vec<GroupRecord>, u64)> {
        Ok(self.store.list_groups(after, limit, group_type).await?)
    }

    /// C2C messages between two users, newest first, older than `before_msg_id` when given,
    /// within `[min_time, max_time]`, at most `limit`; each with whether the receiver read it
    /// (message-level receipt). Also whether older messages in the window remain.
    pub async fn roam_messages(
        &self,
        user: &str,
        peer: &str,
        min_time: i64,
        max_time: i64,
        limit: u32,
        before_msg_id: Option<&str>,
    ) -> ServiceResult<(Vec<MessageRecord>, bool)> {
        check_id(user)?;
        check_id(peer)?;
        let conv = ConvKey::c2c(user, peer);
        let mut before = match before_msg_id.filter(|id| !id.is_empty()) {
            Some(id) => match self.store.get_messages(&[id.to_owned()]).await?.pop() {
                // An onlineUserOnly message (seq 0) is found for its receipts but is no history.
                Some(record) if record.message.conv_key() == conv && record.seq != 0 => {
                    Some(record.seq)
                }
                _ => {
                    return Err(ServiceError::InvalidParameters(format!(
                        "LastMsgKey {id} is not a message of this conversation"
                    )));
                }
            },
            None => None,
        };
        let mut found = Vec::new();
        loop {
            let page = self.store.history(&conv, before, 100).await?;
            let Some(oldest) = page.last() else {
                return Ok((found, true));
            };
            before = Some(oldest.seq);
            for record in page {
                if record.message.timestamp > max_time {
                    continue;
                }
                if record.message.timestamp < min_time {
                    return Ok((found, true));
                }
                if found.len() == limit as usize {
                    return Ok((found, false));
                }
                found.push(record);
            }
        }
    }

    /// Group messages with sequence ≤ `up_to` (newest when None), newest first, at most `limit`.
    pub async fn group_messages(
        &self,
        group_id: &str,
        up_to: Option<u64>,
        limit: u32,
    ) -> ServiceResult<Vec<MessageRecord>> {
        self.group_or_not_found(group_id).await?;
        let before = up_to.map(|seq| seq.saturating_add(1).min(MAX_SEQ));
        Ok(self
            .store
            .history(&ConvKey::Group(group_id.to_owned()), before, limit)
            .await?)
    }

    /// The message IDs of group messages by sequence; unknown sequences are refused.
    pub async fn group_msg_ids(&self, group_id: &str, seqs: &[u64]) -> ServiceResult<Vec<String>> {
        let found = self
            .store
            .messages_by_seq(&ConvKey::Group(group_id.to_owned()), &storable(seqs))
            .await?;
        seqs.iter()
            .map(|seq| {
                found
                    .iter()
                    .find(|r| r.seq == *seq)
                    .map(|r| r.message.msg_id.clone())
                    .ok_or_else(|| {
                        ServiceError::ReceiptInfoNotFound(format!(
                            "group {group_id} has no message {seq}"
                        ))
                    })
            })
            .collect()
    }

    /// Receipt counts of group messages by sequence, each found or refused on its own.
    pub async fn receipt_counts_by_seq(
        &self,
        group_id: &str,
        seqs: &[u64],
    ) -> ServiceResult<Vec<ServiceResult<ReceiptCounts>>> {
        self.group_or_not_found(group_id).await?;
        let records = self
            .store
            .messages_by_seq(&ConvKey::Group(group_id.to_owned()), &storable(seqs))
            .await?;
        let ids: Vec<String> = records.iter().map(|r| r.message.msg_id.clone()).collect();
        let states = self.store.group_receipts(&ids).await?;
        Ok(seqs
            .iter()
            .map(|seq| {
                let record = records
                    .iter()
                    .find(|r| r.seq == *seq)
                    .ok_or_else(|| ServiceError::no_receipt_info(&format!("{group_id}/{seq}")))?;
                let state = states
                    .iter()
                    .find(|s| s.msg_id == record.message.msg_id)
                    .ok_or_else(|| ServiceError::no_receipt_info(&record.message.msg_id))?;
                let read = state.readers.len();
                Ok(ReceiptCounts {
                    read,
                    unread: state.recipients.len().saturating_sub(read),
                })
            })
            .collect())
    }

    /// A page of read or unread members of a group message by sequence, for the administrator.
    pub async fn receipt_members_by_seq(
        &self,
        group_id: &str,
        seq: u64,
        filter: u32,
        start: u32,
        count: u32,
    ) -> ServiceResult<ReadMemberListResult> {
        if filter > 1 {
            return Err(ServiceError::InvalidParameters(format!(
                "Filter must be 0 (read) or 1 (unread), not {filter}"
            )));
        }
        self.group_or_not_found(group_id).await?;
        let ids = self.group_msg_ids(group_id, &[seq]).await?;
        self.member_page(group_id, &ids[0], filter, start, count)
            .await
    }

    /// Total C2C unread messages of a user.
    pub async fn c2c_unread_total(&self, user: &str) -> ServiceResult<u64> {
        let mut total = 0;
        for conversation in self.store.c2c_conversations(user).await? {
            total += self.c2c_unread(user, &conversation.peer).await?;
        }
        Ok(total)
    }

    /// Unread C2C messages from `peer` to `user`.
    pub async fn c2c_unread(&self, user: &str, peer: &str) -> ServiceResult<u64> {
        let read_seq = self
            .store
            .c2c_conversation(user, peer)
            .await?
            .map_or(0, |c| c.read_seq);
        Ok(self
            .store
            .count_unread(&ConvKey::c2c(user, peer), read_seq, user)
            .await?)
    }

    /// Sets a member's group unread count to `unread` by moving their read position.
    pub async fn set_group_unread(
        &self,
        group_id: &str,
        user: &str,
        unread: u64,
    ) -> ServiceResult<()> {
        let group = self.group_or_not_found(group_id).await?;
        self.require_member(group_id, user).await?;
        let conv = ConvKey::Group(group_id.to_owned());
        let mut counted = 0;
        let mut read_seq = group.last_seq;
        let mut before = None;
        while counted < unread {
            let page = self.store.history(&conv, before, 100).await?;
            let Some(oldest) = page.last() else {
                read_seq = 0;
                break;
            };
            before = Some(oldest.seq);
            for record in &page {
                if counted == unread {
                    break;
                }
                read_seq = record.seq - 1;
                if record.message.sender != user && !record.message.excluded_unread {
                    counted += 1;
                }
            }
        }
        self.store
            .set_group_read_seq(group_id, user, read_seq)
            .await
            .in_group(group_id)?;
        self.notifier.fence().await;
        let conversation = self.group_conversation(user, &group, read_seq).await?;
        self.push::<tidings_proto::events::OnConversationChanged>(
            vec![user.to_owned()],
            vec![conversation],
        );
        self.publish_total_unread(user).await?;
        Ok(())
    }
}
