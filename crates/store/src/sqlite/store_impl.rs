//! The `Store` and `StorageStats` implementations for SQLite: each method hands its arguments
//! to the writer or to a reader, and one function of its area's module does the work.

use async_trait::async_trait;

use super::{
    SqliteStore, conversations, groups, health, layout, mentions, messages, parts, receipts,
    settings, status, users,
};
use crate::{
    C2cConversationRecord, C2cReceiptsRecorded, ConvKey, ConversationParts, GroupCounts,
    GroupReceiptRecord, GroupReceiptUpdate, GroupRecord, GroupRole, GroupType, MemberRecord,
    Mention, MessageRecord, NewGroup, NewMember, NewMessage, PartsLimits, ProfileUpdate,
    ProfileUpdated, ReadMoved, ReadScope, Revocation, StorageStats, Store, StoreResult,
    TargetedSeq, UserCard, UserRecord,
};

#[async_trait]
impl Store for SqliteStore {
    async fn ensure_user(
        &self,
        user_id: &str,
        card: Option<UserCard>,
        now: i64,
    ) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        self.write(move |conn| users::ensure(conn, &user_id, card, now))
            .await
    }

    async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
        max_custom: usize,
    ) -> StoreResult<ProfileUpdated> {
        let user_id = user_id.to_owned();
        self.write(move |conn| users::update_profile(conn, &user_id, update, max_custom))
            .await
    }

    async fn get_users(&self, user_ids: &[String]) -> StoreResult<Vec<UserRecord>> {
        let user_ids = user_ids.to_vec();
        self.read(move |conn| users::get(conn, &user_ids)).await
    }

    async fn delete_users(&self, user_ids: &[String]) -> StoreResult<Vec<bool>> {
        let user_ids = user_ids.to_vec();
        self.write(move |conn| users::delete(conn, &user_ids)).await
    }

    async fn list_groups(
        &self,
        after: &str,
        limit: u32,
        group_type: Option<GroupType>,
    ) -> StoreResult<(Vec<GroupRecord>, u64)> {
        let after = after.to_owned();
        self.read(move |conn| groups::list(conn, &after, limit, group_type))
            .await
    }

    async fn create_group(
        &self,
        group: NewGroup,
        members: Vec<NewMember>,
    ) -> StoreResult<GroupRecord> {
        self.write(move |conn| groups::create(conn, &group, &members))
            .await
    }

    async fn get_group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>> {
        let group_id = group_id.to_owned();
        self.read(move |conn| groups::get(conn, &group_id)).await
    }

    async fn delete_group(&self, group_id: &str) -> StoreResult<()> {
        let group_id = group_id.to_owned();
        self.write_with_receipts(move |conn, receipts| groups::delete(conn, receipts, &group_id))
            .await
    }

    async fn add_members(&self, group_id: &str, members: Vec<NewMember>) -> StoreResult<Vec<bool>> {
        let group_id = group_id.to_owned();
        self.write(move |conn| groups::add_members(conn, &group_id, &members))
            .await
    }

    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> StoreResult<Vec<bool>> {
        let (group_id, user_ids) = (group_id.to_owned(), user_ids.to_vec());
        self.write(move |conn| groups::remove_members(conn, &group_id, &user_ids))
            .await
    }

    async fn set_name_card(
        &self,
        group_id: &str,
        user_id: &str,
        name_card: &str,
    ) -> StoreResult<bool> {
        let (group_id, user_id, name_card) = (
            group_id.to_owned(),
            user_id.to_owned(),
            name_card.to_owned(),
        );
        self.write(move |conn| groups::set_name_card(conn, &group_id, &user_id, &name_card))
            .await
    }

    async fn get_member(&self, group_id: &str, user_id: &str) -> StoreResult<Option<MemberRecord>> {
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        self.read(move |conn| groups::current_member(conn, &group_id, &user_id))
            .await
    }

    async fn list_members(
        &self,
        group_id: &str,
        from_ordinal: u32,
        limit: u32,
        role: Option<GroupRole>,
    ) -> StoreResult<Vec<MemberRecord>> {
        let group_id = group_id.to_owned();
        self.read(move |conn| groups::list_members(conn, &group_id, from_ordinal, limit, role))
            .await
    }

    async fn members_by_ordinal(
        &self,
        group_id: &str,
        ordinals: &[u32],
    ) -> StoreResult<Vec<MemberRecord>> {
        let (group_id, ordinals) = (group_id.to_owned(), ordinals.to_vec());
        self.read(move |conn| groups::members_by_ordinal(conn, &group_id, &ordinals))
            .await
    }

    async fn member_user_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        let group_id = group_id.to_owned();
        self.read(move |conn| groups::member_user_ids(conn, &group_id))
            .await
    }

    async fn joined_groups(&self, user_id: &str) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| groups::joined(conn, &user_id)).await
    }

    async fn joined_groups_page(
        &self,
        user_id: &str,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
        let (user_id, after) = (user_id.to_owned(), after.to_owned());
        self.read(move |conn| groups::joined_page(conn, &user_id, &after, limit))
            .await
    }

    async fn group_counts(&self, user_id: &str) -> StoreResult<GroupCounts> {
        let user_id = user_id.to_owned();
        self.read(move |conn| groups::counts(conn, &user_id)).await
    }

    async fn conversation_page_parts(
        &self,
        owner: &str,
        before: Option<u64>,
        limit: u32,
        limits: PartsLimits,
    ) -> StoreResult<Vec<ConversationParts>> {
        let owner = owner.to_owned();
        self.read(move |conn| parts::page_parts(conn, &owner, before, limit, limits))
            .await
    }

    async fn total_unread(&self, owner: &str) -> StoreResult<u64> {
        let owner = owner.to_owned();
        self.read(move |conn| conversations::total_unread(conn, &owner))
            .await
    }

    async fn total_unread_of(&self, owners: &[String]) -> StoreResult<Vec<u64>> {
        let owners = owners.to_vec();
        self.read(move |conn| {
            owners
                .iter()
                .map(|owner| conversations::total_unread(conn, owner))
                .collect()
        })
        .await
    }

    async fn members_unread(
        &self,
        group_id: &str,
        users: &[String],
    ) -> StoreResult<Vec<(MemberRecord, u64)>> {
        let (group_id, users) = (group_id.to_owned(), users.to_vec());
        self.read(move |conn| {
            let conv = ConvKey::Group(group_id.clone());
            let mut found = Vec::with_capacity(users.len());
            for user in &users {
                if let Some(member) = groups::current_member(conn, &group_id, user)? {
                    let unread = messages::count_unread(conn, &conv, member.read_seq, user)?;
                    found.push((member, unread));
                }
            }
            found.sort_by_key(|(member, _)| member.ordinal);
            Ok(found)
        })
        .await
    }

    async fn mark_all_read(
        &self,
        owner: &str,
        scope: ReadScope,
        now: i64,
    ) -> StoreResult<Vec<ReadMoved>> {
        let owner = owner.to_owned();
        self.write(move |conn| conversations::mark_all_read(conn, &owner, scope, now))
            .await
    }

    async fn set_group_read_seq(&self, group_id: &str, user_id: &str, seq: u64) -> StoreResult<()> {
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        self.write(move |conn| conversations::set_group_read_seq(conn, &group_id, &user_id, seq))
            .await
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<MessageRecord> {
        self.write(move |conn| messages::append(conn, message, false))
            .await
    }

    async fn append_admin_message(&self, message: NewMessage) -> StoreResult<MessageRecord> {
        self.write(move |conn| messages::append(conn, message, true))
            .await
    }

    async fn append_online_message(
        &self,
        message: NewMessage,
        as_admin: bool,
    ) -> StoreResult<MessageRecord> {
        self.write(move |conn| messages::append_online(conn, message, as_admin))
            .await
    }

    async fn get_messages(&self, msg_ids: &[String]) -> StoreResult<Vec<MessageRecord>> {
        let msg_ids = msg_ids.to_vec();
        self.read(move |conn| messages::get(conn, &msg_ids)).await
    }

    async fn messages_by_seq(
        &self,
        conversation: &ConvKey,
        seqs: &[u64],
    ) -> StoreResult<Vec<MessageRecord>> {
        let (conversation, seqs) = (conversation.clone(), seqs.to_vec());
        self.read(move |conn| messages::by_seq(conn, &conversation, &seqs))
            .await
    }

    async fn history(
        &self,
        conversation: &ConvKey,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        let conversation = conversation.clone();
        self.read(move |conn| messages::history(conn, &conversation, before_seq, limit))
            .await
    }

    async fn visible_history(
        &self,
        conversation: &ConvKey,
        viewer: &str,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        let (conversation, viewer) = (conversation.clone(), viewer.to_owned());
        self.read(move |conn| {
            messages::visible_history(conn, &conversation, &viewer, before_seq, limit)
        })
        .await
    }

    async fn targeted_before(
        &self,
        group_id: &str,
        before_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<TargetedSeq>> {
        let group_id = group_id.to_owned();
        self.read(move |conn| messages::targeted_before(conn, &group_id, before_seq, limit))
            .await
    }

    async fn mentions_after_of(
        &self,
        group_id: &str,
        viewers: &[(String, u64)],
        limit: u32,
    ) -> StoreResult<Vec<Vec<Mention>>> {
        let (group_id, viewers) = (group_id.to_owned(), viewers.to_vec());
        self.read(move |conn| mentions::mentions_after_of(conn, &group_id, &viewers, limit))
            .await
    }

    async fn seq_at_time(&self, conversation: &ConvKey, time: i64) -> StoreResult<u64> {
        let conversation = conversation.clone();
        self.read(move |conn| messages::seq_at_time(conn, &conversation, time))
            .await
    }

    async fn count_unread(
        &self,
        conversation: &ConvKey,
        after_seq: u64,
        viewer: &str,
    ) -> StoreResult<u64> {
        let (conversation, viewer) = (conversation.clone(), viewer.to_owned());
        self.read(move |conn| messages::count_unread(conn, &conversation, after_seq, &viewer))
            .await
    }

    async fn c2c_conversations(&self, owner: &str) -> StoreResult<Vec<C2cConversationRecord>> {
        let owner = owner.to_owned();
        self.read(move |conn| conversations::c2c_list(conn, &owner))
            .await
    }

    async fn c2c_conversation(
        &self,
        owner: &str,
        peer: &str,
    ) -> StoreResult<Option<C2cConversationRecord>> {
        let (owner, peer) = (owner.to_owned(), peer.to_owned());
        self.read(move |conn| conversations::c2c_one(conn, &owner, &peer))
            .await
    }

    async fn set_c2c_read(
        &self,
        owner: &str,
        peer: &str,
        seq: u64,
        time: i64,
    ) -> StoreResult<bool> {
        let (owner, peer) = (owner.to_owned(), peer.to_owned());
        self.write(move |conn| conversations::set_c2c_read(conn, &owner, &peer, seq, time))
            .await
    }

    async fn record_c2c_receipts(
        &self,
        reader: &str,
        msg_ids: &[String],
        time: i64,
    ) -> StoreResult<C2cReceiptsRecorded> {
        let (reader, msg_ids) = (reader.to_owned(), msg_ids.to_vec());
        self.write(move |conn| receipts::record_c2c(conn, &reader, &msg_ids, time))
            .await
    }

    async fn record_group_receipts(
        &self,
        group_id: &str,
        reader: &str,
        msg_ids: Vec<String>,
    ) -> StoreResult<Vec<GroupReceiptUpdate>> {
        let (group_id, reader) = (group_id.to_owned(), reader.to_owned());
        self.write_with_receipts(move |conn, cache| {
            receipts::record_group(conn, cache, &group_id, &reader, msg_ids)
        })
        .await
    }

    async fn group_receipts(&self, msg_ids: &[String]) -> StoreResult<Vec<GroupReceiptRecord>> {
        let msg_ids = msg_ids.to_vec();
        self.read(move |conn| receipts::group_states(conn, msg_ids))
            .await
    }

    async fn revoke_message(
        &self,
        msg_id: &str,
        revocation: Revocation,
    ) -> StoreResult<Option<(MessageRecord, bool)>> {
        let msg_id = msg_id.to_owned();
        self.write_with_receipts(move |conn, cache| {
            messages::revoke(conn, cache, &msg_id, revocation)
        })
        .await
    }

    async fn revoke_user_sigs(&self, user_ids: &[String], not_before: i64) -> StoreResult<()> {
        let user_ids = user_ids.to_vec();
        self.write(move |conn| users::revoke_sigs(conn, &user_ids, not_before))
            .await
    }

    async fn user_sigs_not_before(&self, user_id: &str) -> StoreResult<i64> {
        let user_id = user_id.to_owned();
        self.read(move |conn| users::sigs_not_before(conn, &user_id))
            .await
    }

    async fn set_private_receipts(&self, user_id: &str, private: bool) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        self.write(move |conn| users::set_private_receipts(conn, &user_id, private))
            .await
    }

    async fn private_receipts(&self, user_id: &str) -> StoreResult<Option<bool>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| users::private_receipts(conn, &user_id))
            .await
    }

    async fn subscribe_user_status(
        &self,
        subscriber: &str,
        targets: &[String],
        rank: i64,
        cap: usize,
    ) -> StoreResult<()> {
        let (subscriber, targets) = (subscriber.to_owned(), targets.to_vec());
        self.write(move |conn| status::subscribe(conn, &subscriber, &targets, rank, cap))
            .await
    }

    async fn unsubscribe_user_status(
        &self,
        subscriber: &str,
        targets: &[String],
    ) -> StoreResult<()> {
        let (subscriber, targets) = (subscriber.to_owned(), targets.to_vec());
        self.write(move |conn| status::unsubscribe(conn, &subscriber, &targets))
            .await
    }

    async fn status_subscribers(&self, target: &str) -> StoreResult<Vec<String>> {
        let target = target.to_owned();
        self.read(move |conn| status::subscribers(conn, &target))
            .await
    }

    async fn status_subscriptions(&self, subscriber: &str) -> StoreResult<Vec<String>> {
        let subscriber = subscriber.to_owned();
        self.read(move |conn| status::subscriptions(conn, &subscriber))
            .await
    }

    async fn set_custom_status(&self, user_id: &str, custom_status: &str) -> StoreResult<bool> {
        let (user_id, custom_status) = (user_id.to_owned(), custom_status.to_owned());
        self.write(move |conn| status::set_custom(conn, &user_id, &custom_status))
            .await
    }

    async fn custom_statuses(&self, user_ids: &[String]) -> StoreResult<Vec<String>> {
        let user_ids = user_ids.to_vec();
        self.read(move |conn| status::custom(conn, &user_ids)).await
    }

    async fn settings(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(settings::all).await
    }

    async fn put_settings(&self, entries: &[(String, String)]) -> StoreResult<()> {
        let entries = entries.to_vec();
        self.write(move |conn| settings::put(conn, &entries)).await
    }

    async fn check_health(&self, now: i64) -> StoreResult<()> {
        self.write(move |conn| health::check(conn, now)).await
    }
}

#[async_trait]
impl StorageStats for SqliteStore {
    async fn read_state_bytes(&self) -> StoreResult<u64> {
        self.read(layout::stored_bytes).await
    }
}
