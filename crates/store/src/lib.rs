//! Persistence for Tidings: the [`Store`] trait, its records, and its two engines: embedded
//! SQLite (the default) and PostgreSQL (shared by the nodes of a cluster), chosen by
//! [`open_store`].
//!
//! The trait is domain-level (users, groups, members, messages, read positions, receipts) and
//! object-safe, held as `Arc<dyn Store>`. Every write method returns only after its data is
//! durable, so a caller may acknowledge it to a client. Read state of group messages is kept as
//! two roaring bitmaps of member ordinals per message (see `ARCHITECTURE.md`), never as one row
//! per reader.

mod codec;
mod error;
mod migrations;
mod open;
mod postgres;
mod profile;
mod records;
pub mod scratch;
mod sqlite;

use async_trait::async_trait;

pub use error::StoreError;
pub use migrations::SCHEMA_VERSION;
pub use open::{OpenedStore, StoreConfig, StoreUrl, open_store};
pub use postgres::{PgOptions, PgStore};
pub use records::*;
pub use roaring::RoaringBitmap;
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The persistence boundary. Engines: [`SqliteStore`] (embedded, default) and [`PgStore`].
///
/// What every engine guarantees, whatever number of stores share its data (the conformance
/// suite in `tests/store` holds each engine to it):
/// - **Atomic calls.** Each call takes effect entirely or not at all; a refused call records
///   nothing.
/// - **Durable before return.** A write returns only once its data survives a crash, so its
///   result may be acknowledged.
/// - **Gapless, unique sequences.** The messages of one conversation get 1, 2, 3, … with no
///   number given twice or skipped, also when several stores append at once.
/// - **Idempotent receipts.** Recording a receipt again changes nothing and reports no change;
///   of concurrent identical receipts exactly one reports the change.
/// - **Monotone read state.** A reader never sees a message's readers shrink.
/// - **Result order.** Per-item results follow the order asked; listings follow the order
///   their method names.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates the user if absent. With `card`, also sets nickname and face URL (the other
    /// profile fields stay). Returns whether the user was created.
    async fn ensure_user(
        &self,
        user_id: &str,
        card: Option<UserCard>,
        now: i64,
    ) -> StoreResult<bool>;

    /// Changes an existing user's profile as `update` says, in one transaction, and returns it
    /// as stored now. Changes nothing when the user does not exist, or when the user would
    /// then have more than `max_custom` custom fields.
    async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
        max_custom: usize,
    ) -> StoreResult<ProfileUpdated>;

    /// The named users that exist, in no particular order.
    async fn get_users(&self, user_ids: &[String]) -> StoreResult<Vec<UserRecord>>;

    /// Deletes users; returns for each whether it existed. Their messages and memberships stay.
    async fn delete_users(&self, user_ids: &[String]) -> StoreResult<Vec<bool>>;

    /// Groups with ID > `after`, in ID order, at most `limit`, optionally of one type; and the
    /// total number of groups (of that type).
    async fn list_groups(
        &self,
        after: &str,
        limit: u32,
        group_type: Option<GroupType>,
    ) -> StoreResult<(Vec<GroupRecord>, u64)>;

    /// Creates a group with its initial members (the owner among them, unless ownerless). Fails with
    /// [`StoreError::Conflict`] when the ID is taken.
    async fn create_group(
        &self,
        group: NewGroup,
        members: Vec<NewMember>,
    ) -> StoreResult<GroupRecord>;

    /// The group, if it exists.
    async fn get_group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>>;

    /// Deletes a group, its members, messages and receipts.
    async fn delete_group(&self, group_id: &str) -> StoreResult<()>;

    /// Adds members; returns for each whether it was added (false: already a member).
    /// Fails with [`StoreError::NotFound`] when the group does not exist.
    async fn add_members(&self, group_id: &str, members: Vec<NewMember>) -> StoreResult<Vec<bool>>;

    /// Removes members; returns for each whether it was removed (false: not a member).
    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> StoreResult<Vec<bool>>;

    /// The current membership of a user in a group (None when not a member now).
    async fn get_member(&self, group_id: &str, user_id: &str) -> StoreResult<Option<MemberRecord>>;

    /// Current members with ordinal ≥ `from_ordinal`, in ordinal order, at most `limit`,
    /// optionally only those with one role.
    async fn list_members(
        &self,
        group_id: &str,
        from_ordinal: u32,
        limit: u32,
        role: Option<GroupRole>,
    ) -> StoreResult<Vec<MemberRecord>>;

    /// Sets a current member's name card in the group; whether the user is a current member
    /// (false: nothing changed).
    async fn set_name_card(
        &self,
        group_id: &str,
        user_id: &str,
        name_card: &str,
    ) -> StoreResult<bool>;

    /// Members (current or former) by ordinal, in the order asked.
    async fn members_by_ordinal(
        &self,
        group_id: &str,
        ordinals: &[u32],
    ) -> StoreResult<Vec<MemberRecord>>;

    /// User IDs of all current members (for fan-out).
    async fn member_user_ids(&self, group_id: &str) -> StoreResult<Vec<String>>;

    /// Groups the user currently belongs to, with the membership.
    async fn joined_groups(&self, user_id: &str) -> StoreResult<Vec<(GroupRecord, MemberRecord)>>;

    /// Groups the user currently belongs to with group ID > `after`, in group ID order, at most
    /// `limit`, with the membership.
    async fn joined_groups_page(
        &self,
        user_id: &str,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<(GroupRecord, MemberRecord)>>;

    /// How many existing groups the user owns and how many the user belongs to.
    async fn group_counts(&self, user_id: &str) -> StoreResult<GroupCounts>;

    /// A page of the owner's conversation list, most recent activity first: the C2C
    /// conversations and the groups the owner belongs to with activity < `before` (all when
    /// None), at most `limit`, found in the index of each kind ordered by activity; each with
    /// the parts of its view ([`ConversationParts`]), all in one read: a page costs a bounded
    /// number of reads whatever its size, not a few per conversation.
    async fn conversation_page_parts(
        &self,
        owner: &str,
        before: Option<u64>,
        limit: u32,
        limits: PartsLimits,
    ) -> StoreResult<Vec<ConversationParts>>;

    /// The owner's unread messages over all C2C conversations and all groups the owner belongs
    /// to (AVChatRoom groups count none), with the rule of [`Store::count_unread`].
    async fn total_unread(&self, owner: &str) -> StoreResult<u64>;

    /// [`Store::total_unread`] of each of `owners`, in the order given, in one read: what a
    /// coalesced push to many members needs, without a round trip per member.
    async fn total_unread_of(&self, owners: &[String]) -> StoreResult<Vec<u64>>;

    /// Each of `users` who is a current member of the group (in join order; others are left
    /// out), with the member's unread count ([`Store::count_unread`] of the group from the
    /// member's read position), in one read.
    async fn members_unread(
        &self,
        group_id: &str,
        users: &[String],
    ) -> StoreResult<Vec<(MemberRecord, u64)>>;

    /// Marks read, in one transaction, every conversation of the scope whose read position is
    /// behind its last message: a C2C conversation up to its last message at `max(read time,
    /// now)`, a group up to its last sequence; the C2C positions peers are shown move with them
    /// unless the owner keeps receipts private. Returns the positions it moved.
    async fn mark_all_read(
        &self,
        owner: &str,
        scope: ReadScope,
        now: i64,
    ) -> StoreResult<Vec<ReadMoved>>;

    /// Sets a member's group read position (the sequence up to which messages count as read).
    async fn set_group_read_seq(&self, group_id: &str, user_id: &str, seq: u64) -> StoreResult<()>;

    /// Stores a message, assigning its sequence (next in its conversation) and timestamp.
    /// For group messages the sender must be a current member ([`StoreError::NotMember`]
    /// otherwise); when the message asks for receipts, its recipients (current members minus the
    /// sender; of a targeted message, its targets who are current members, minus the sender)
    /// are recorded with it.
    async fn append_message(&self, message: NewMessage) -> StoreResult<MessageRecord>;

    /// Like [`Store::append_message`], for a group message sent by the App administrator, who
    /// need not be a member: all current members are its recipients.
    async fn append_admin_message(&self, message: NewMessage) -> StoreResult<MessageRecord>;

    /// Stores an `onlineUserOnly` message that asks for read receipts, for its receipt state
    /// only: outside its conversation's sequence (its `seq` is 0), so history, unread counts, read
    /// positions and the conversation list never see it. [`Store::get_messages`] finds it and
    /// receipts are recorded for it as for any message; for a group message the sender must be a
    /// current member unless `as_admin`, and its recipients are recorded as by
    /// [`Store::append_message`] (by [`Store::append_admin_message`] with `as_admin`). Deleting
    /// its group deletes it.
    async fn append_online_message(
        &self,
        message: NewMessage,
        as_admin: bool,
    ) -> StoreResult<MessageRecord>;

    /// The named messages that exist (`onlineUserOnly` ones with receipts too), in no particular
    /// order.
    async fn get_messages(&self, msg_ids: &[String]) -> StoreResult<Vec<MessageRecord>>;

    /// The messages of a conversation with these sequences (missing ones are left out).
    async fn messages_by_seq(
        &self,
        conversation: &ConvKey,
        seqs: &[u64],
    ) -> StoreResult<Vec<MessageRecord>>;

    /// Up to `limit` messages of a conversation with `seq < before_seq` (all when None),
    /// newest first.
    async fn history(
        &self,
        conversation: &ConvKey,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>>;

    /// Like [`Store::history`], leaving out the targeted messages `viewer` does not see (those
    /// it neither sent nor is among the targets of): up to `limit` messages with
    /// `seq < before_seq` (all when None) that `viewer` sees, newest first.
    async fn visible_history(
        &self,
        conversation: &ConvKey,
        viewer: &str,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>>;

    /// The run of targeted messages of a group just below `before_seq`: those after the group's
    /// last untargeted message below `before_seq` (after none when there is none), oldest
    /// first; the newest `limit` of them when there are more. Tells who saw which of the
    /// sequences a message at `before_seq` follows.
    async fn targeted_before(
        &self,
        group_id: &str,
        before_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<TargetedSeq>>;

    /// The messages of a group with `seq > after_seq`, not sent by `viewer`, that mention
    /// `viewer` or everyone (the V2TIM marker `__kImSDK_MesssageAtALL__`), oldest first, at most
    /// `limit`.
    async fn mentions_after(
        &self,
        group_id: &str,
        after_seq: u64,
        viewer: &str,
        limit: u32,
    ) -> StoreResult<Vec<Mention>> {
        let viewers = [(viewer.to_owned(), after_seq)];
        let mut found = self.mentions_after_of(group_id, &viewers, limit).await?;
        Ok(found.pop().unwrap_or_default())
    }

    /// [`Store::mentions_after`] for each `(viewer, after_seq)`, in the order given, in one read:
    /// what a coalesced push to many members needs.
    async fn mentions_after_of(
        &self,
        group_id: &str,
        viewers: &[(String, u64)],
        limit: u32,
    ) -> StoreResult<Vec<Vec<Mention>>>;

    /// The newest message with `timestamp ≤ time` in a conversation, as its sequence (0 if none).
    async fn seq_at_time(&self, conversation: &ConvKey, time: i64) -> StoreResult<u64>;

    /// Messages of the conversation with sequence > `after_seq`, not sent by `viewer` and not
    /// excluded from unread counts: the viewer's unread count.
    async fn count_unread(
        &self,
        conversation: &ConvKey,
        after_seq: u64,
        viewer: &str,
    ) -> StoreResult<u64>;

    /// All C2C conversations of a user.
    async fn c2c_conversations(&self, owner: &str) -> StoreResult<Vec<C2cConversationRecord>>;

    /// One C2C conversation of a user.
    async fn c2c_conversation(
        &self,
        owner: &str,
        peer: &str,
    ) -> StoreResult<Option<C2cConversationRecord>>;

    /// Sets `owner`'s read position in the C2C conversation with `peer`, and the position the
    /// peer is shown too unless the owner keeps receipts private (read in the same
    /// transaction); returns whether the shown position was set.
    async fn set_c2c_read(&self, owner: &str, peer: &str, seq: u64, time: i64)
    -> StoreResult<bool>;

    /// Records `reader`'s C2C message-level receipts at `time` (of stored and `onlineUserOnly`
    /// messages; the caller has checked that `reader` is their receiver); returns for each
    /// message whether it was newly receipted. A reader who keeps receipts private (read in the
    /// same transaction) records nothing. Fails, recording nothing, with
    /// [`StoreError::Revoked`] when one of them was recalled.
    async fn record_c2c_receipts(
        &self,
        reader: &str,
        msg_ids: &[String],
        time: i64,
    ) -> StoreResult<C2cReceiptsRecorded>;

    /// Adds `reader`, who must be a current member of the group, to the readers of each of the
    /// group's messages; returns the new state of each and whether it changed. A reader who
    /// keeps receipts private (read in the same transaction) is checked alike and added to
    /// nothing. Fails, recording nothing, with [`StoreError::NotFound`] (no such group),
    /// [`StoreError::NotMember`], or [`StoreError::NotRecipient`] when the reader is not a
    /// recipient of one of them (or it is not a message of this group, or has no receipt
    /// state), or [`StoreError::Revoked`] when one of them was recalled.
    async fn record_group_receipts(
        &self,
        group_id: &str,
        reader: &str,
        msg_ids: Vec<String>,
    ) -> StoreResult<Vec<GroupReceiptUpdate>>;

    /// Read state of group messages that asked for receipts (missing ones are left out).
    async fn group_receipts(&self, msg_ids: &[String]) -> StoreResult<Vec<GroupReceiptRecord>>;

    /// Recalls a message: records `revocation` and erases its body and application data, in
    /// the same transaction that orders it after every receipt already recorded, so that no
    /// receipt is recorded for it afterwards. Returns the message as stored now and whether this
    /// call recalled it (false: it already was, and keeps its first revocation); None when it
    /// does not exist.
    async fn revoke_message(
        &self,
        msg_id: &str,
        revocation: Revocation,
    ) -> StoreResult<Option<(MessageRecord, bool)>>;

    /// Refuses, from now on, the users' UserSigs issued before `not_before` (Unix seconds). A
    /// user's not-before time only ever moves later, and outlives the user's deletion.
    async fn revoke_user_sigs(&self, user_ids: &[String], not_before: i64) -> StoreResult<()>;

    /// The time (Unix seconds) before which the user's UserSigs are refused; 0 when never
    /// revoked.
    async fn user_sigs_not_before(&self, user_id: &str) -> StoreResult<i64>;

    /// Sets whether the user keeps read receipts private (see
    /// [`Store::record_group_receipts`], [`Store::set_c2c_read`]); false when the user does
    /// not exist.
    async fn set_private_receipts(&self, user_id: &str, private: bool) -> StoreResult<bool>;

    /// Whether the user keeps read receipts private (None when the user does not exist).
    async fn private_receipts(&self, user_id: &str) -> StoreResult<Option<bool>>;
    /// Subscribes `subscriber` to the status of each of `targets`, in that order, from
    /// `rank` on (a target subscribed to already moves to its new place), then keeps only the
    /// `cap` latest subscriptions of the subscriber, dropping the earliest. All in one
    /// transaction.
    async fn subscribe_user_status(
        &self,
        subscriber: &str,
        targets: &[String],
        rank: i64,
        cap: usize,
    ) -> StoreResult<()>;

    /// Ends the subscriptions of `subscriber` to each of `targets` (unknown ones are
    /// ignored); every subscription of the subscriber when `targets` is empty.
    async fn unsubscribe_user_status(
        &self,
        subscriber: &str,
        targets: &[String],
    ) -> StoreResult<()>;

    /// The users subscribed to the status of `target`, in ID order.
    async fn status_subscribers(&self, target: &str) -> StoreResult<Vec<String>>;

    /// The users `subscriber` is subscribed to, the earliest subscribed first.
    async fn status_subscriptions(&self, subscriber: &str) -> StoreResult<Vec<String>>;

    /// Sets the user's custom status; an empty one clears it. Whether it changed.
    async fn set_custom_status(&self, user_id: &str, custom_status: &str) -> StoreResult<bool>;

    /// The custom status of each of `user_ids`, in that order; empty when none.
    async fn custom_statuses(&self, user_ids: &[String]) -> StoreResult<Vec<String>>;

    /// The settings stored by [`Store::put_settings`], as (name, value) pairs in name order.
    async fn settings(&self) -> StoreResult<Vec<(String, String)>>;

    /// Stores named settings (opaque text, replacing any earlier value of each name), all in
    /// one transaction.
    async fn put_settings(&self, settings: &[(String, String)]) -> StoreResult<()>;

    /// Proves the store takes a durable write now (rewriting one row at `now`): fails when the
    /// disk is full or the database unreachable, as every other write would.
    async fn check_health(&self, now: i64) -> StoreResult<()>;
}

/// Measurements of an engine's storage, for benchmarks and operators; not part of the domain.
#[async_trait]
pub trait StorageStats: std::fmt::Debug + Send + Sync + 'static {
    /// Bytes of group read state (receipt sets, including not yet folded additions) as stored.
    async fn read_state_bytes(&self) -> StoreResult<u64>;
}
