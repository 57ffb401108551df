//! Conversations: the list with unread counts, and conversation-level read positions.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use tidings_proto::Event;
use tidings_proto::events::{
    OnConversationChanged, OnNewConversation, OnRecvC2cReadReceipt,
    OnTotalUnreadMessageCountChanged,
};
use tidings_proto::methods::{CleanUnreadParams, ConversationListParams, ConversationListResult};
use tidings_proto::{
    C2cReadReceipt, CONVERSATION_TYPE_C2C, CONVERSATION_TYPE_GROUP, Conversation,
    GROUP_AT_ALL_AT_ME, GROUP_AT_ALL_TYPE, GROUP_AT_ME, GroupAtInfo, GroupType, MAX_LIST_PAGE,
    Message,
};
use tidings_store::{
    C2cConversationRecord, ConvKey, ConversationEntry, GroupReceiptRecord, GroupRecord, Mention,
    MessageRecord, PartsLimits, ReadMoved, ReadScope,
};

use crate::checks::{check_id, check_page};
use crate::error::InGroup;
use crate::messages::{MAX_TARGETED_RUN, PrevSeqs};
use crate::render::{Viewer, render};
use crate::{
    AfterEvent, ConversationNote, Delivery, ServiceError, ServiceResult, SharedPush, Tidings, now,
};

/// Most entries of a conversation's `groupAtInfoList` (the oldest unread mentions).
const MAX_GROUP_AT_INFOS: u32 = 100;

/// A conversation's `orderKey`: its activity number (see `C2cConversationRecord::activity`).
fn order_key(activity: u64) -> i64 {
    i64::try_from(activity).unwrap_or(i64::MAX)
}

/// The longest lists a conversation-list page reads per group: a targeted run as
/// `prev_seqs` does, the unread mentions as a `groupAtInfoList` holds.
const PARTS_LIMITS: PartsLimits = PartsLimits {
    targeted_run: MAX_TARGETED_RUN,
    mentions: MAX_GROUP_AT_INFOS,
};

/// Conversations per `onConversationChanged` push when many change at once.
const CHANGED_PER_PUSH: usize = 100;

/// What every member's view of a group conversation shares.
struct GroupLast {
    /// The newest message of the group's history.
    record: Option<MessageRecord>,
    /// Its receipt state, when it asks for receipts.
    receipts: Option<GroupReceiptRecord>,
    /// Each member's `prevSeq` for it.
    prev: Option<PrevSeqs>,
}

impl Tidings {
    /// A page of the user's conversations, newest activity first (`orderKey` descending).
    /// `nextSeq` is the `orderKey` of the page's last conversation: the next page holds those
    /// below it, so a conversation that moves meanwhile is neither repeated nor makes another
    /// be skipped. Reads the page with what its views need in one store read; only a group
    /// whose last message is a targeted one for others costs more (the last one the user sees).
    pub async fn conversation_list(
        &self,
        user: &str,
        params: ConversationListParams,
    ) -> ServiceResult<ConversationListResult> {
        check_page(params.count, MAX_LIST_PAGE, "count")?;
        let before = (params.next_seq != 0).then_some(params.next_seq);
        let mut page = self
            .store
            .conversation_page_parts(user, before, params.count + 1, PARTS_LIMITS)
            .await?;
        let is_finished = page.len() <= params.count as usize;
        page.truncate(params.count as usize);
        let next_seq = page.last().map_or(0, |parts| parts.entry.activity());
        let mut conversation_list = Vec::with_capacity(page.len());
        for parts in page {
            conversation_list.push(match parts.entry {
                ConversationEntry::C2c(mine) => c2c_view(
                    user,
                    &mine,
                    parts.peer_shown_read_seq,
                    parts.unread,
                    parts.last.as_ref(),
                )?,
                ConversationEntry::Group(group, member) => {
                    let prev = parts
                        .last
                        .as_ref()
                        .filter(|r| r.seq != 0)
                        .map(|r| PrevSeqs::new(r.seq, &parts.targeted_run));
                    let last = GroupLast {
                        record: parts.last,
                        receipts: parts.last_receipts,
                        prev,
                    };
                    let unread = Unread {
                        count: parts.unread,
                        mentions: Some(parts.mentions),
                    };
                    self.group_view_with(
                        user,
                        &group,
                        member.read_seq,
                        Some(member.ordinal),
                        &last,
                        unread,
                    )
                    .await?
                }
            });
        }
        Ok(ConversationListResult {
            conversation_list,
            next_seq,
            is_finished,
        })
    }

    /// One conversation of the user: `c2c_<userID>` (the peer must exist; without messages it
    /// is empty) or `group_<groupID>` (the user must be a member).
    pub async fn conversation(
        &self,
        user: &str,
        conversation_id: &str,
    ) -> ServiceResult<Conversation> {
        if let Some(peer) = conversation_id.strip_prefix("c2c_") {
            check_id(peer)?;
            if self.store.get_users(&[peer.to_owned()]).await?.is_empty() {
                return Err(ServiceError::UserNotFound(peer.to_owned()));
            }
            return self.c2c_conversation(user, peer).await;
        }
        if let Some(group_id) = conversation_id.strip_prefix("group_") {
            let group = self.group_or_not_found(group_id).await?;
            let member = self.require_member(group_id, user).await?;
            return self.group_conversation(user, &group, member.read_seq).await;
        }
        Err(ServiceError::InvalidParameters(format!(
            "conversationID must be c2c_<userID> or group_<groupID>, not {conversation_id:?}"
        )))
    }

    /// The sum of the unread counts of the user's conversations (AVChatRoom groups count 0),
    /// counted by the store in one read, without building any conversation.
    pub async fn total_unread(&self, user: &str) -> ServiceResult<u64> {
        Ok(self.store.total_unread(user).await?)
    }

    /// The owner's view of a C2C conversation.
    pub(crate) async fn c2c_conversation(
        &self,
        owner: &str,
        peer: &str,
    ) -> ServiceResult<Conversation> {
        let mine = self
            .store
            .c2c_conversation(owner, peer)
            .await?
            .unwrap_or_else(|| C2cConversationRecord {
                owner: owner.to_owned(),
                peer: peer.to_owned(),
                last_seq: 0,
                last_time: 0,
                read_seq: 0,
                read_time: 0,
                shown_read_seq: 0,
                shown_read_time: 0,
                activity: 0,
            });
        let theirs = self.store.c2c_conversation(peer, owner).await?;
        let conv = ConvKey::c2c(owner, peer);
        let unread_count = self.store.count_unread(&conv, mine.read_seq, owner).await?;
        let last = self.store.history(&conv, None, 1).await?.pop();
        // What the peer lets others see: a private reader's reads never show.
        let peer_read_seq = theirs.map_or(0, |c| c.shown_read_seq);
        c2c_view(owner, &mine, peer_read_seq, unread_count, last.as_ref())
    }

    /// The member's view of a group conversation.
    pub(crate) async fn group_conversation(
        &self,
        user: &str,
        group: &GroupRecord,
        read_seq: u64,
    ) -> ServiceResult<Conversation> {
        let last = self.group_last(group).await?;
        let ordinal = match &last.receipts {
            Some(_) => self
                .store
                .get_member(&group.group_id, user)
                .await?
                .map(|m| m.ordinal),
            None => None,
        };
        self.group_view(user, group, read_seq, ordinal, &last).await
    }

    /// What every member's view of a group conversation shares: its last message and, when that
    /// asks for receipts, their state.
    async fn group_last(&self, group: &GroupRecord) -> ServiceResult<GroupLast> {
        let conv = ConvKey::Group(group.group_id.clone());
        let record = self.store.history(&conv, None, 1).await?.pop();
        let receipts = match record.as_ref().filter(|r| r.message.need_receipt) {
            Some(record) => self
                .store
                .group_receipts(std::slice::from_ref(&record.message.msg_id))
                .await?
                .pop(),
            None => None,
        };
        let prev = match record.as_ref().filter(|r| r.seq != 0) {
            Some(record) => Some(self.prev_seqs(&group.group_id, record.seq).await?),
            None => None,
        };
        Ok(GroupLast {
            record,
            receipts,
            prev,
        })
    }

    /// The last message of a group that `user` sees, when the group's last one is a targeted
    /// message for others, with the one before it for its `prevSeq`.
    async fn member_last(&self, group: &GroupRecord, user: &str) -> ServiceResult<GroupLast> {
        let conv = ConvKey::Group(group.group_id.clone());
        let mut page = self.store.visible_history(&conv, user, None, 2).await?;
        let before = if page.len() > 1 {
            page.pop().map_or(0, |r| r.seq)
        } else {
            0
        };
        let record = page.pop();
        let receipts = match record.as_ref().filter(|r| r.message.need_receipt) {
            Some(record) => self
                .store
                .group_receipts(std::slice::from_ref(&record.message.msg_id))
                .await?
                .pop(),
            None => None,
        };
        let prev = record.as_ref().map(|r| PrevSeqs::fixed(r.seq, before));
        Ok(GroupLast {
            record,
            receipts,
            prev,
        })
    }

    /// The view of a group conversation of the member `user` (whose ordinal is `ordinal`, when
    /// known) with read position `read_seq`.
    async fn group_view(
        &self,
        user: &str,
        group: &GroupRecord,
        read_seq: u64,
        ordinal: Option<u32>,
        last: &GroupLast,
    ) -> ServiceResult<Conversation> {
        let unread_count = if group.group_type == GroupType::AvChatRoom {
            0
        } else {
            let conv = ConvKey::Group(group.group_id.clone());
            self.store.count_unread(&conv, read_seq, user).await?
        };
        let unread = Unread {
            count: unread_count,
            mentions: None,
        };
        self.group_view_with(user, group, read_seq, ordinal, last, unread)
            .await
    }

    /// [`group_view_counted`] with what only this member has: the unread mentions of them
    /// (read only when something is unread, unless `mentions` holds them already), and, when the group's last message is a targeted
    /// one for others, the last one they see.
    async fn group_view_with(
        &self,
        user: &str,
        group: &GroupRecord,
        read_seq: u64,
        ordinal: Option<u32>,
        last: &GroupLast,
        unread: Unread,
    ) -> ServiceResult<Conversation> {
        let unread_count = unread.count;
        let group_at_info_list = if unread_count == 0 {
            Vec::new()
        } else {
            let mentions = match unread.mentions {
                Some(mentions) => mentions,
                None => {
                    self.store
                        .mentions_after(&group.group_id, read_seq, user, MAX_GROUP_AT_INFOS)
                        .await?
                }
            };
            mentions
                .into_iter()
                .map(|mention| GroupAtInfo {
                    seq: mention.seq,
                    at_type: match (mention.me, mention.all) {
                        (true, true) => GROUP_AT_ALL_AT_ME,
                        (false, true) => GROUP_AT_ALL_TYPE,
                        _ => GROUP_AT_ME,
                    },
                })
                .collect()
        };
        let mine;
        let mut ordinal = ordinal;
        let last = match &last.record {
            Some(record) if !record.message.visible_to(user) => {
                mine = self.member_last(group, user).await?;
                if mine.receipts.is_some() && ordinal.is_none() {
                    ordinal = self
                        .store
                        .get_member(&group.group_id, user)
                        .await?
                        .map(|m| m.ordinal);
                }
                &mine
            }
            _ => last,
        };
        group_view_counted(
            user,
            group,
            read_seq,
            ordinal,
            last,
            unread_count,
            group_at_info_list,
        )
    }

    /// Tells the members of the groups noted (those with a session on this node) what changed,
    /// read now, after the changes committed: each member one `onConversationChanged` with
    /// every noted group of theirs (a hundred per push), and one
    /// `onTotalUnreadMessageCountChanged` when a message of someone else counts as unread.
    /// Called by the notifier once per window.
    pub(crate) async fn publish_group_changes(
        &self,
        notes: Vec<ConversationNote>,
    ) -> ServiceResult<()> {
        let mut by_group: BTreeMap<String, Vec<ConversationNote>> = BTreeMap::new();
        for note in notes {
            by_group
                .entry(note.group_id.clone())
                .or_default()
                .push(note);
        }
        let mut changed: BTreeMap<String, Vec<Conversation>> = BTreeMap::new();
        let mut totals = BTreeSet::new();
        for (group_id, notes) in by_group {
            // A group deleted meanwhile has no conversation left to show.
            let Some(group) = self.store.get_group(&group_id).await? else {
                continue;
            };
            let mut here = self.bus.here(self.store.member_user_ids(&group_id).await?);
            // A targeted message's change concerns its sender and targets only.
            if notes.iter().all(|note| !note.only.is_empty()) {
                here.retain(|user| notes.iter().any(|note| note.only.contains(user)));
            }
            if here.is_empty() {
                continue;
            }
            let last = self.group_last(&group).await?;
            // One read for every member here (those who left meanwhile are left out), and one
            // for the mentions of those with something unread.
            let mut views = self.store.members_unread(&group_id, &here).await?;
            if group.group_type == GroupType::AvChatRoom {
                views.iter_mut().for_each(|(_, unread)| *unread = 0);
            }
            let behind: Vec<(String, u64)> = views
                .iter()
                .filter(|(_, unread)| *unread > 0)
                .map(|(member, _)| (member.user_id.clone(), member.read_seq))
                .collect();
            let mut mentions = self
                .store
                .mentions_after_of(&group_id, &behind, MAX_GROUP_AT_INFOS)
                .await?
                .into_iter();
            for (member, unread) in views {
                let user = member.user_id;
                let theirs = if unread > 0 { mentions.next() } else { None };
                let conversation = self
                    .group_view_with(
                        &user,
                        &group,
                        member.read_seq,
                        Some(member.ordinal),
                        &last,
                        Unread {
                            count: unread,
                            mentions: theirs,
                        },
                    )
                    .await?;
                if notes.iter().any(|note| {
                    note.unread
                        && note.sender != user
                        && (note.only.is_empty() || note.only.contains(&user))
                }) {
                    totals.insert(user.clone());
                }
                changed.entry(user).or_default().push(conversation);
            }
        }
        for (user, conversations) in changed {
            let mut conversations = conversations.into_iter().peekable();
            while conversations.peek().is_some() {
                let page: Vec<Conversation> =
                    conversations.by_ref().take(CHANGED_PER_PUSH).collect();
                self.bus.publish_here(Delivery::Push {
                    users: vec![user.clone()],
                    push: SharedPush::new(OnConversationChanged::push(page)),
                    except: None,
                });
            }
        }
        let totals: Vec<String> = totals.into_iter().collect();
        let counts = self.store.total_unread_of(&totals).await?;
        for (user, total) in totals.into_iter().zip(counts) {
            self.bus.publish_here(Delivery::Push {
                users: vec![user],
                push: SharedPush::new(OnTotalUnreadMessageCountChanged::push(total)),
                except: None,
            });
        }
        Ok(())
    }

    /// Tells the user's devices the user's total unread count.
    pub(crate) async fn publish_total_unread(&self, user: &str) -> ServiceResult<()> {
        if !self.bus.reaches_any(&[user.to_owned()], None) {
            return Ok(());
        }
        let total = self.store.total_unread(user).await?;
        self.push::<OnTotalUnreadMessageCountChanged>(vec![user.to_owned()], total);
        Ok(())
    }

    /// Tells the users who just joined a group (on any node) that its conversation appeared in
    /// their list: `onNewConversation` with their view of it.
    pub(crate) async fn publish_new_group_conversation(
        &self,
        group_id: &str,
        users: &[String],
    ) -> ServiceResult<()> {
        let Some(group) = self.store.get_group(group_id).await? else {
            return Ok(());
        };
        let mut last = None;
        for user in users {
            if !self.bus.reaches_any(std::slice::from_ref(user), None) {
                continue;
            }
            let Some(member) = self.store.get_member(group_id, user).await? else {
                continue;
            };
            if last.is_none() {
                last = Some(self.group_last(&group).await?);
            }
            let Some(last) = &last else { continue };
            let conversation = self
                .group_view(user, &group, member.read_seq, Some(member.ordinal), last)
                .await?;
            self.push::<OnNewConversation>(vec![user.clone()], vec![conversation]);
        }
        Ok(())
    }

    /// Pushes the owner's current view of a C2C conversation to the owner's devices: as
    /// `onNewConversation` when it just appeared (its first message), else as
    /// `onConversationChanged`.
    pub(crate) async fn publish_c2c_conversation(
        &self,
        owner: &str,
        peer: &str,
        new: bool,
    ) -> ServiceResult<()> {
        if !self.bus.reaches_any(&[owner.to_owned()], None) {
            return Ok(());
        }
        let conversation = self.c2c_conversation(owner, peer).await?;
        if new {
            self.push::<OnNewConversation>(vec![owner.to_owned()], vec![conversation]);
        } else {
            self.push::<OnConversationChanged>(vec![owner.to_owned()], vec![conversation]);
        }
        Ok(())
    }

    /// Marks the C2C conversation with `peer` read up to now.
    pub async fn mark_c2c_read(&self, user: &str, peer: &str) -> ServiceResult<()> {
        self.clean_c2c_unread(user, peer, C2cReadMark::Now).await
    }

    /// Marks a group conversation read up to its newest message.
    pub async fn mark_group_read(&self, user: &str, group_id: &str) -> ServiceResult<()> {
        self.clean_group_unread(user, group_id, 0).await
    }

    /// Clears unread counts of one conversation (`c2c_<id>`, `group_<id>`), of all C2C
    /// conversations (`c2c`), all groups (`group`) or everything (empty).
    pub async fn clean_unread(&self, user: &str, params: CleanUnreadParams) -> ServiceResult<()> {
        let id = params.conversation_id.as_str();
        if let Some(peer) = id.strip_prefix("c2c_") {
            return self
                .clean_c2c_unread(user, peer, C2cReadMark::of(&params))
                .await;
        }
        if let Some(group_id) = id.strip_prefix("group_") {
            return self
                .clean_group_unread(user, group_id, params.clean_sequence)
                .await;
        }
        if !matches!(id, "" | "c2c" | "group") {
            return Err(ServiceError::InvalidParameters(format!(
                "conversationID must be c2c_<userID>, group_<groupID>, c2c, group or empty, not {id:?}"
            )));
        }
        let scope = ReadScope {
            c2c: id != "group",
            groups: id != "c2c",
        };
        self.mark_all_read(user, scope).await
    }

    /// Marks every conversation of the scope read in one store write, then tells: each C2C
    /// peer whose conversation moved (`onRecvC2CReadReceipt`, unless the user keeps receipts
    /// private), the app's backend (the after-event, always), and the user's devices, with the
    /// conversations that moved only, a hundred per push.
    async fn mark_all_read(&self, user: &str, scope: ReadScope) -> ServiceResult<()> {
        let moved = self.store.mark_all_read(user, scope, now()).await?;
        if moved.is_empty() {
            return Ok(());
        }
        // A member's view the notifier read before the move must not arrive after these.
        self.notifier.fence().await;
        let mut changed = Vec::new();
        let mut pushed = false;
        for position in moved {
            match position {
                ReadMoved::C2c {
                    peer,
                    read_time,
                    shown,
                    ..
                } => {
                    self.emit_callback(|| AfterEvent::C2cReadReported {
                        reader: user.to_owned(),
                        peer: peer.clone(),
                        read_time,
                    });
                    if shown {
                        self.push::<OnRecvC2cReadReceipt>(
                            vec![peer.clone()],
                            vec![C2cReadReceipt {
                                user_id: user.to_owned(),
                                timestamp: read_time,
                            }],
                        );
                    }
                    changed.push(self.c2c_conversation(user, &peer).await?);
                }
                ReadMoved::Group { group_id, read_seq } => {
                    // A group deleted meanwhile has no conversation left to show.
                    if let Some(group) = self.store.get_group(&group_id).await? {
                        changed.push(self.group_conversation(user, &group, read_seq).await?);
                    }
                }
            }
            if changed.len() == CHANGED_PER_PUSH {
                self.push::<OnConversationChanged>(
                    vec![user.to_owned()],
                    std::mem::take(&mut changed),
                );
                pushed = true;
            }
        }
        if !changed.is_empty() {
            self.push::<OnConversationChanged>(vec![user.to_owned()], changed);
            pushed = true;
        }
        if pushed {
            self.publish_total_unread(user).await?;
        }
        Ok(())
    }

    /// Moves the user's C2C read position forward to `up_to` (Unix seconds; 0 = now) and tells
    /// the user's devices, the app's backend, and the peer unless the user keeps receipts
    /// private (the store then leaves the position the peer is shown where it was).
    pub async fn clean_c2c_unread(
        &self,
        user: &str,
        peer: &str,
        up_to: C2cReadMark,
    ) -> ServiceResult<()> {
        check_id(peer)?;
        let conv = ConvKey::c2c(user, peer);
        let Some(current) = self.store.c2c_conversation(user, peer).await? else {
            // No message was ever exchanged: nothing to mark, and no empty conversation is made.
            if self.store.get_users(&[peer.to_owned()]).await?.is_empty() {
                return Err(ServiceError::UserNotFound(peer.to_owned()));
            }
            return Ok(());
        };
        let (seq, read_time) = match up_to {
            C2cReadMark::Time(time) if time > 0 => {
                (self.store.seq_at_time(&conv, time).await?, time)
            }
            C2cReadMark::Now | C2cReadMark::Time(_) => {
                let time = now();
                (self.store.seq_at_time(&conv, time).await?, time)
            }
            C2cReadMark::Seq(wanted) => {
                let seq = wanted.min(current.last_seq);
                let time = match self.store.messages_by_seq(&conv, &[seq]).await?.first() {
                    Some(record) => record.message.timestamp,
                    None => current.read_time,
                };
                (seq, time)
            }
        };
        let (old_seq, old_time) = (current.read_seq, current.read_time);
        let (new_seq, new_time) = (seq.max(old_seq), read_time.max(old_time));
        let shown = self
            .store
            .set_c2c_read(user, peer, new_seq, new_time)
            .await?;
        self.publish_c2c_conversation(user, peer, false).await?;
        if new_seq != old_seq {
            self.publish_total_unread(user).await?;
        }
        self.emit_callback(|| AfterEvent::C2cReadReported {
            reader: user.to_owned(),
            peer: peer.to_owned(),
            read_time: new_time,
        });
        if !shown {
            return Ok(());
        }
        self.push::<OnRecvC2cReadReceipt>(
            vec![peer.to_owned()],
            vec![C2cReadReceipt {
                user_id: user.to_owned(),
                timestamp: new_time,
            }],
        );
        Ok(())
    }

    /// Moves the user's group read position forward to `up_to` (0 = newest) and tells the
    /// user's devices.
    pub async fn clean_group_unread(
        &self,
        user: &str,
        group_id: &str,
        up_to: u64,
    ) -> ServiceResult<()> {
        let group = self.group_or_not_found(group_id).await?;
        let member = self.require_member(group_id, user).await?;
        let target = if up_to == 0 {
            group.last_seq
        } else {
            up_to.min(group.last_seq)
        };
        let seq = target.max(member.read_seq);
        self.store
            .set_group_read_seq(group_id, user, seq)
            .await
            .in_group(group_id)?;
        // A member's view the notifier read before the move must not arrive after this one.
        self.notifier.fence().await;
        let conversation = self.group_conversation(user, &group, seq).await?;
        self.push::<OnConversationChanged>(vec![user.to_owned()], vec![conversation]);
        if seq != member.read_seq {
            self.publish_total_unread(user).await?;
        }
        Ok(())
    }
}

/// The owner's view of the C2C conversation whose owner's side is `mine`, from what it reads:
/// the position the peer shows (`peer_read_seq`), the unread count and the last message.
fn c2c_view(
    owner: &str,
    mine: &C2cConversationRecord,
    peer_read_seq: u64,
    unread_count: u64,
    last: Option<&MessageRecord>,
) -> ServiceResult<Conversation> {
    let viewer = Viewer {
        user: owner,
        read_seq: mine.read_seq,
        peer_read_seq,
        receipted: HashSet::new(),
        ..Viewer::default()
    };
    let last_message = match last {
        Some(record) => Some(render(record, &viewer)?),
        None => None,
    };
    Ok(Conversation {
        conversation_id: format!("c2c_{}", mine.peer),
        conversation_type: CONVERSATION_TYPE_C2C,
        user_id: Some(mine.peer.clone()),
        group_id: None,
        group_type: None,
        show_name: mine.peer.clone(),
        unread_count,
        c2c_read_timestamp: mine.read_time,
        group_read_sequence: 0,
        order_key: order_key(mine.activity),
        group_at_info_list: Vec::new(),
        last_message,
    })
}

/// How far a C2C conversation is marked read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C2cReadMark {
    /// Everything up to now.
    Now,
    /// Messages with `timestamp ≤` this Unix time (Tencent's `cleanTimestamp`; 0 or less is
    /// now). Seconds are coarse: a message stored later in the same second is marked too.
    Time(i64),
    /// Messages with `seq ≤` this one: exactly what the reader saw, whenever the request
    /// arrives.
    Seq(u64),
}

impl C2cReadMark {
    /// The mark a `cleanConversationUnreadMessageCount` on a C2C conversation asks for: its
    /// `cleanSequence` when given (exact), else its `cleanTimestamp`.
    pub fn of(params: &CleanUnreadParams) -> Self {
        match params.clean_sequence {
            0 => Self::Time(params.clean_timestamp),
            seq => Self::Seq(seq),
        }
    }
}

/// A member's unread messages in a group: how many, and the mentions among them when they were
/// read already (with others').
struct Unread {
    count: u64,
    mentions: Option<Vec<Mention>>,
}

/// A member's view of a group conversation, its unread count known.
fn group_view_counted(
    user: &str,
    group: &GroupRecord,
    read_seq: u64,
    ordinal: Option<u32>,
    last: &GroupLast,
    unread_count: u64,
    group_at_info_list: Vec<GroupAtInfo>,
) -> ServiceResult<Conversation> {
    let group_type = group.group_type;
    let mut receipted = HashSet::new();
    if let Some(record) = last.record.as_ref().filter(|r| r.message.sender != user)
        && let (Some(state), Some(ordinal)) = (&last.receipts, ordinal)
        && state.readers.contains(ordinal)
    {
        receipted.insert(record.message.msg_id.clone());
    }
    let viewer = Viewer {
        user,
        read_seq,
        peer_read_seq: 0,
        receipted,
        ..Viewer::default()
    };
    let last_message = match &last.record {
        Some(record) => Some(Message {
            prev_seq: last.prev.as_ref().and_then(|prev| prev.of(user)),
            ..render(record, &viewer)?
        }),
        None => None,
    };
    Ok(Conversation {
        conversation_id: format!("group_{}", group.group_id),
        conversation_type: CONVERSATION_TYPE_GROUP,
        user_id: None,
        group_id: Some(group.group_id.clone()),
        group_type: Some(group_type.as_str().to_owned()),
        show_name: group.name.clone(),
        unread_count,
        c2c_read_timestamp: 0,
        group_read_sequence: read_seq,
        order_key: order_key(group.activity),
        group_at_info_list,
        last_message,
    })
}
