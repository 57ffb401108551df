//! Sending messages and reading history.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use tidings_proto::events::OnRecvNewMessage;
use tidings_proto::methods::GROUP_AT_ALL;
use tidings_proto::methods::{C2cHistoryParams, GroupHistoryParams, SendMessageParams};
use tidings_proto::{
    GroupType, MAX_GROUP_AT_USERS, MAX_HISTORY_PAGE, MAX_MESSAGE_BYTES, MAX_TARGETED_RECEIVERS,
    Message,
};
use tidings_store::{ConvKey, MessageRecord, NewMessage, UserCard, UserProfile};

use crate::checks::{check_id, check_page};
use crate::content;
use crate::error::InGroup;
use crate::message_facts::MessageFacts;
use crate::render::{Viewer, render, render_for};
use crate::{
    AfterEvent, BeforeSend, BeforeSendEvent, ConversationNote, ServiceError, ServiceResult,
    Tidings, Verdict, now, now_millis,
};

/// A new, unique message ID: creation time in milliseconds and 64 random bits. The millisecond
/// part strictly increases within the process (a burst borrows the next milliseconds), so a
/// later message has a greater ID: the conversation list orders activity within one second by it.
fn new_msg_id() -> String {
    static LAST_MILLIS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = now_millis();
    let previous = LAST_MILLIS
        .fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |last| Some(now.max(last + 1)),
        )
        .unwrap_or(now);
    format!(
        "{}-{:016x}",
        now.max(previous + 1),
        rand::rng().random::<u64>()
    )
}

fn check_size(size: usize) -> ServiceResult<()> {
    if size > MAX_MESSAGE_BYTES {
        return Err(ServiceError::MessageTooLarge {
            size,
            limit: MAX_MESSAGE_BYTES,
        });
    }
    Ok(())
}

/// How a message is sent beyond its V2TIM parameters (options of the REST API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// Push the message to the sender's own devices too (REST `SyncOtherMachine` 1).
    pub sync_to_sender: bool,
    /// Elements to store verbatim instead of the params' element: the V2TIM type of the first
    /// and the elements' JSON array (a REST `MsgBody` of several elements, each checked by the
    /// caller with [`crate::check_elem`]).
    /// Read back as [`crate::MessageContent::Verbatim`].
    pub raw_body: Option<(u32, String)>,
    /// Sent by the App administrator: a group message needs no membership.
    pub as_admin: bool,
    /// Ask the app's backend before sending, when its before-send hook is on (REST
    /// `ForbidCallbackControl` `ForbidBeforeSendMsgCallback` turns it off for one message).
    pub before_send_hook: bool,
    /// Emit the after-event (REST `ForbidAfterSendMsgCallback` turns it off for one message).
    pub after_send_callback: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            sync_to_sender: true,
            raw_body: None,
            as_admin: false,
            before_send_hook: true,
            after_send_callback: true,
        }
    }
}

/// What became of a message the app's backend was asked about.
enum Moderated {
    /// Send this (the message, changed or not).
    Send(NewMessage),
    /// Dropped silently: the sender is told it was sent, nothing else happens.
    Discarded(NewMessage),
}

impl Tidings {
    /// Sends a C2C or group message for `sender` and returns it as the sender sees it.
    pub async fn send_message(
        &self,
        sender: &str,
        params: SendMessageParams,
    ) -> ServiceResult<Message> {
        self.send_message_with(sender, params, SendOptions::default())
            .await
    }

    /// [`Tidings::send_message`] with REST options.
    pub async fn send_message_with(
        &self,
        sender: &str,
        params: SendMessageParams,
        options: SendOptions,
    ) -> ServiceResult<Message> {
        // The element and its stored body: REST's elements kept verbatim, or the one element.
        let ((elem_type, body), content_size) = match options.raw_body.clone() {
            Some((elem_type, json)) => {
                let size = json.len();
                ((elem_type, json), size)
            }
            None => {
                let elem = params.elem().map_err(ServiceError::InvalidParameters)?;
                content::check_elem(&elem).map_err(ServiceError::InvalidParameters)?;
                let stored = content::encode(&elem);
                let size = content::size(&elem, &stored.1);
                (stored, size)
            }
        };
        check_size(content_size + params.cloud_custom_data.len())?;
        let at_users = mentions(&params)?;
        let targets = targets(&params)?;
        let message = NewMessage {
            msg_id: new_msg_id(),
            sender: sender.to_owned(),
            receiver: params.receiver.clone(),
            group_id: params.group_id.clone(),
            timestamp: now(),
            random: params.random,
            need_receipt: params.need_read_receipt,
            // A targeted message counts in nobody's unread count (Tencent's default for them).
            excluded_unread: params.is_excluded_from_unread_count || !targets.is_empty(),
            elem_type,
            body,
            cloud_custom_data: params.cloud_custom_data.clone(),
            targets,
            at_users,
            // Filled in below, from the profile read with the send's other checks.
            sender_card: UserCard::default(),
        };
        match (&params.receiver, &params.group_id) {
            (Some(receiver), None) => {
                if !message.at_users.is_empty() || !params.receiver_list.is_empty() {
                    return Err(ServiceError::InvalidParameters(
                        "groupAtUserList and receiverList are for group messages: give groupID"
                            .into(),
                    ));
                }
                self.send_c2c(
                    message,
                    content_size,
                    receiver,
                    params.online_user_only,
                    &options,
                )
                .await
            }
            (_, Some(group_id)) => {
                self.send_group(
                    message,
                    content_size,
                    group_id,
                    params.online_user_only,
                    &options,
                )
                .await
            }
            (None, None) => Err(ServiceError::InvalidParameters(
                "give receiver or groupID".into(),
            )),
        }
    }

    /// Asks the app's backend about a message that passed every check, when its before-send
    /// hook for the message's kind is on, and applies its verdict.
    async fn moderate(
        &self,
        message: NewMessage,
        content_size: usize,
        group_type: Option<GroupType>,
        online_only: bool,
        options: &SendOptions,
    ) -> ServiceResult<Moderated> {
        let group = group_type.is_some();
        if !options.before_send_hook || !self.callbacks.wants_before_send(group) {
            return Ok(Moderated::Send(message));
        }
        let question = match group_type {
            Some(group_type) => BeforeSend::Group {
                group_type,
                message: message.clone(),
                online_only,
            },
            None => BeforeSend::C2c {
                message: message.clone(),
                online_only,
            },
        };
        let verdict = self
            .callbacks
            .before_send(BeforeSendEvent::now(question))
            .await;
        let mut message = message;
        match verdict {
            Verdict::Allow => {}
            Verdict::Change {
                content,
                cloud_custom_data,
            } => {
                let mut size = content_size;
                if let Some(content) = content {
                    let ((elem_type, body), changed_size) = content::encode_changed(&content);
                    message.elem_type = elem_type;
                    message.body = body;
                    size = changed_size;
                }
                if let Some(data) = cloud_custom_data {
                    message.cloud_custom_data = data;
                }
                check_size(size + message.cloud_custom_data.len())?;
            }
            Verdict::Deny { app_code, info } => {
                metrics::counter!("tidings_messages_refused_before_send_total").increment(1);
                let command = if group {
                    "Group.CallbackBeforeSendMsg"
                } else {
                    "C2C.CallbackBeforeSendMsg"
                };
                let info = if info.is_empty() {
                    format!("the app's backend refused this message ({command})")
                } else {
                    info
                };
                return Err(ServiceError::RefusedBeforeSend {
                    group,
                    app_code,
                    info,
                });
            }
            Verdict::Discard => {
                metrics::counter!("tidings_messages_discarded_before_send_total").increment(1);
                return Ok(Moderated::Discarded(message));
            }
        }
        Ok(Moderated::Send(message))
    }

    /// What the sender of a message the app's backend dropped silently is told: the message,
    /// with no sequence, as if it had been sent.
    fn discarded(message: NewMessage) -> ServiceResult<Message> {
        let sender = message.sender.clone();
        let record = MessageRecord {
            message,
            seq: 0,
            receipt_at: None,
            revoked: None,
        };
        render_for(&record, &sender)
    }

    async fn send_c2c(
        &self,
        message: NewMessage,
        content_size: usize,
        receiver: &str,
        online_only: bool,
        options: &SendOptions,
    ) -> ServiceResult<Message> {
        check_id(receiver)?;
        if message.need_receipt {
            self.require_receipts_enabled()?;
        }
        // One read for the receiver's existence and the sender's card (kept with the message).
        let mut message = message;
        let users = self
            .store
            .get_users(&[receiver.to_owned(), message.sender.clone()])
            .await?;
        if !users.iter().any(|u| u.user_id == receiver) {
            return Err(ServiceError::UserNotFound(receiver.to_owned()));
        }
        if let Some(sender) = users.iter().find(|u| u.user_id == message.sender) {
            message.sender_card = sender.profile.card();
        }
        let message = match self
            .moderate(message, content_size, None, online_only, options)
            .await?
        {
            Moderated::Send(message) => message,
            Moderated::Discarded(message) => return Self::discarded(message),
        };
        let record = if online_only && !message.need_receipt {
            MessageRecord {
                message,
                seq: 0,
                receipt_at: None,
                revoked: None,
            }
        } else {
            // An onlineUserOnly message that asks for receipts is kept for its receipt state
            // only, outside the conversation's sequence (no history, unread count or list).
            let record = if online_only {
                self.store.append_online_message(message, false).await?
            } else {
                self.store.append_message(message).await?
            };
            self.facts.remember(MessageFacts::of(&record, None));
            record
        };
        let sender = record.message.sender.clone();
        let as_sender = render_for(&record, &sender)?;
        let as_receiver = render_for(&record, receiver)?;
        if receiver != sender {
            self.push::<OnRecvNewMessage>(vec![receiver.to_owned()], as_receiver);
        }
        if options.sync_to_sender {
            self.push::<OnRecvNewMessage>(vec![sender.clone()], as_sender.clone());
        }
        if !online_only {
            // The first message of a pair makes the conversation appear on both sides.
            let new = record.seq == 1;
            self.publish_c2c_conversation(receiver, &sender, new)
                .await?;
            if receiver != sender {
                self.publish_c2c_conversation(&sender, receiver, new)
                    .await?;
                if !record.message.excluded_unread {
                    self.publish_total_unread(receiver).await?;
                }
            }
        }
        if options.after_send_callback {
            self.emit_callback(|| AfterEvent::C2cMessageSent {
                message: record,
                online_only,
            });
        }
        metrics::counter!("tidings_messages_total", "kind" => "c2c").increment(1);
        Ok(as_sender)
    }

    async fn send_group(
        &self,
        message: NewMessage,
        content_size: usize,
        group_id: &str,
        online_only: bool,
        options: &SendOptions,
    ) -> ServiceResult<Message> {
        let group = self.group_or_not_found(group_id).await?;
        let group_type = group.group_type;
        if message.need_receipt {
            self.require_receipts_enabled()?;
            self.require_receipts_in(group_type)?;
        }
        if !message.targets.is_empty() {
            self.check_targets(&message, group_type).await?;
        }
        let sender = message.sender.clone();
        let mut message = message;
        if let Some(user) = self
            .store
            .get_users(std::slice::from_ref(&sender))
            .await?
            .pop()
        {
            message.sender_card = user.profile.card();
        }
        let not_stored = online_only && !message.need_receipt;
        // The store checks membership as it writes; a message not stored, or one the app's
        // backend is to be asked about (a non-member's message is no question for it), is
        // checked here first.
        let hooked = options.before_send_hook && self.callbacks.wants_before_send(true);
        if !options.as_admin && (not_stored || hooked) {
            self.require_member(group_id, &sender).await?;
        }
        let message = match self
            .moderate(
                message,
                content_size,
                Some(group_type),
                online_only,
                options,
            )
            .await?
        {
            Moderated::Send(message) => message,
            Moderated::Discarded(message) => return Self::discarded(message),
        };
        let record = if not_stored {
            MessageRecord {
                message,
                seq: 0,
                receipt_at: None,
                revoked: None,
            }
        } else {
            // An onlineUserOnly message that asks for receipts is kept for its receipt state
            // only (recipients: the members now minus the sender), outside the group's
            // sequence: no history, unread count or place in the conversation list.
            let stored = if online_only {
                self.store
                    .append_online_message(message, options.as_admin)
                    .await
            } else if options.as_admin {
                self.store.append_admin_message(message).await
            } else {
                self.store.append_message(message).await
            };
            let record = stored.in_group(group_id)?;
            self.facts
                .remember(MessageFacts::of(&record, Some(group_type)));
            record
        };
        let mut members = self.store.member_user_ids(group_id).await?;
        let sender_is_member = members.contains(&sender);
        // A targeted message reaches its targets only: the others get nothing, not even a
        // notice (they learn from the next message they see that its sequence was not theirs).
        members.retain(|member| member != &sender && record.message.visible_to(member));
        let prev = self.prev_seqs(group_id, record.seq).await?;
        let mut as_sender = render_for(&record, &sender)?;
        as_sender.prev_seq = prev.of(&sender);
        let as_member = render_for(&record, "")?;
        for (prev_seq, users) in prev.classes(members) {
            self.push::<OnRecvNewMessage>(
                users,
                Message {
                    prev_seq,
                    ..as_member.clone()
                },
            );
        }
        if options.sync_to_sender {
            self.push::<OnRecvNewMessage>(vec![sender.clone()], as_sender.clone());
        }
        if !online_only {
            // Every member's conversation changed (the sender's too: sending reads nothing);
            // the notifier tells them once per window, whatever the number of messages.
            self.notifier.note_conversation(ConversationNote {
                group_id: group_id.to_owned(),
                sender: if sender_is_member {
                    sender.clone()
                } else {
                    String::new()
                },
                unread: !record.message.excluded_unread && group_type != GroupType::AvChatRoom,
                only: if record.message.targets.is_empty() {
                    Vec::new()
                } else {
                    record
                        .message
                        .targets
                        .iter()
                        .chain([&sender])
                        .cloned()
                        .collect()
                },
            });
        }
        if options.after_send_callback {
            self.emit_callback(|| AfterEvent::GroupMessageSent {
                group_type,
                message: record,
                online_only,
            });
        }
        metrics::counter!("tidings_messages_total", "kind" => "group").increment(1);
        Ok(as_sender)
    }

    /// Refuses a targeted message where Tencent has none (AVChatRoom and Community groups), or
    /// that names someone who is not a member of the group now.
    async fn check_targets(
        &self,
        message: &NewMessage,
        group_type: GroupType,
    ) -> ServiceResult<()> {
        if matches!(group_type, GroupType::AvChatRoom | GroupType::Community) {
            return Err(ServiceError::InvalidParameters(format!(
                "a targeted group message (receiverList, REST To_Account) cannot be sent in a {} group",
                group_type.as_str()
            )));
        }
        let Some(group_id) = message.group_id.as_deref() else {
            return Ok(());
        };
        let mut strangers = Vec::new();
        for target in &message.targets {
            if !self
                .store
                .get_member(group_id, target)
                .await?
                .is_some_and(|m| m.active)
            {
                strangers.push(target.as_str());
            }
        }
        if strangers.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidParameters(format!(
                "receiverList (REST To_Account) names users who are not members of group {group_id}: {}; the message was not sent",
                strangers.join(", ")
            )))
        }
    }

    /// Who saw which of the sequences just below `seq` in a group: the run of targeted
    /// messages right before it (see [`PrevSeqs`]).
    pub(crate) async fn prev_seqs(&self, group_id: &str, seq: u64) -> ServiceResult<PrevSeqs> {
        let run = if seq > 1 {
            self.store
                .targeted_before(group_id, seq, MAX_TARGETED_RUN)
                .await?
        } else {
            Vec::new()
        };
        Ok(PrevSeqs::new(seq, &run))
    }

    /// A page of C2C history with `params.user_id`, newest first.
    pub async fn c2c_history(
        &self,
        user: &str,
        params: C2cHistoryParams,
    ) -> ServiceResult<Vec<Message>> {
        check_id(&params.user_id)?;
        check_page(params.count, MAX_HISTORY_PAGE, "count")?;
        let conv = ConvKey::c2c(user, &params.user_id);
        let before = self
            .cursor_seq(&conv, user, params.last_msg_id.as_deref())
            .await?;
        let records = self.store.history(&conv, before, params.count).await?;
        let mine = self.store.c2c_conversation(user, &params.user_id).await?;
        let theirs = self.store.c2c_conversation(&params.user_id, user).await?;
        let viewer = Viewer {
            user,
            read_seq: mine.map_or(0, |c| c.read_seq),
            // What the peer lets others see: a private reader's reads never show.
            peer_read_seq: theirs.map_or(0, |c| c.shown_read_seq),
            receipted: HashSet::new(),
            revokers: self.revoker_profiles(&records).await?,
        };
        records
            .iter()
            .map(|record| render(record, &viewer))
            .collect()
    }

    /// A page of group history, newest first; members only.
    pub async fn group_history(
        &self,
        user: &str,
        params: GroupHistoryParams,
    ) -> ServiceResult<Vec<Message>> {
        check_page(params.count, MAX_HISTORY_PAGE, "count")?;
        self.group_or_not_found(&params.group_id).await?;
        let member = self.require_member(&params.group_id, user).await?;
        let conv = ConvKey::Group(params.group_id.clone());
        let before = self
            .cursor_seq(&conv, user, params.last_msg_id.as_deref())
            .await?;
        // One more than asked: the oldest message's predecessor this member sees.
        let mut records = self
            .store
            .visible_history(&conv, user, before, params.count.saturating_add(1))
            .await?;
        let below = if records.len() > params.count as usize {
            records.pop().map_or(0, |r| r.seq)
        } else {
            0
        };
        let asked: Vec<String> = records
            .iter()
            .filter(|r| r.message.need_receipt && r.message.sender != user)
            .map(|r| r.message.msg_id.clone())
            .collect();
        let receipted = if asked.is_empty() {
            HashSet::new()
        } else {
            self.store
                .group_receipts(&asked)
                .await?
                .into_iter()
                .filter(|state| state.readers.contains(member.ordinal))
                .map(|state| state.msg_id)
                .collect()
        };
        let viewer = Viewer {
            user,
            read_seq: member.read_seq,
            peer_read_seq: 0,
            receipted,
            revokers: self.revoker_profiles(&records).await?,
        };
        let mut page = records
            .iter()
            .map(|record| render(record, &viewer))
            .collect::<ServiceResult<Vec<Message>>>()?;
        // Each message's predecessor for this member: the next one on the page, or `below`.
        let mut older = below;
        for message in page.iter_mut().rev() {
            message.prev_seq = prev_seq_field(message.seq, older);
            older = message.seq;
        }
        Ok(page)
    }

    /// The profiles of those who recalled any of `records` (one read, and none when nothing
    /// was recalled).
    pub(crate) async fn revoker_profiles(
        &self,
        records: &[MessageRecord],
    ) -> ServiceResult<HashMap<String, UserProfile>> {
        let mut revokers: Vec<String> = records
            .iter()
            .filter_map(|r| r.revoked.as_ref().map(|r| r.by.clone()))
            .collect();
        if revokers.is_empty() {
            return Ok(HashMap::new());
        }
        revokers.sort_unstable();
        revokers.dedup();
        Ok(self
            .store
            .get_users(&revokers)
            .await?
            .into_iter()
            .map(|user| (user.user_id, user.profile))
            .collect())
    }

    /// The sequence to continue history before: that of `last_msg_id`, which must belong to
    /// the conversation and be one `viewer` sees.
    async fn cursor_seq(
        &self,
        conv: &ConvKey,
        viewer: &str,
        last_msg_id: Option<&str>,
    ) -> ServiceResult<Option<u64>> {
        let Some(last_msg_id) = last_msg_id.filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        let found = self.store.get_messages(&[last_msg_id.to_owned()]).await?;
        match found.first() {
            // An onlineUserOnly message (seq 0) is found for its receipts but is no history.
            Some(record)
                if &record.message.conv_key() == conv
                    && record.seq != 0
                    && record.message.visible_to(viewer) =>
            {
                Ok(Some(record.seq))
            }
            _ => Err(ServiceError::InvalidParameters(format!(
                "lastMsgID {last_msg_id} is not a message of this conversation's history"
            ))),
        }
    }
}

/// Most targeted messages of a run [`Tidings::prev_seqs`] reads. A longer run (someone sent more
/// targeted messages in a row) is read only in part: members who saw one of the older ones are
/// told a predecessor they did not see, and their SDK fills the difference from history, which
/// is exact, after a short wait.
pub(crate) const MAX_TARGETED_RUN: u32 = 1000;

/// The `prevSeq` of a message at `seq` whose predecessor for a viewer is `prev`: absent when it is
/// `seq − 1`.
fn prev_seq_field(seq: u64, prev: u64) -> Option<u64> {
    (seq != 0 && prev + 1 != seq).then_some(prev)
}

/// For a group message at `seq`: the sequence of the previous message each user sees, from the
/// run of targeted messages right before it. Users the run names nowhere (neither sender nor
/// target) saw none of it: their predecessor is the message before the run.
#[derive(Debug)]
pub(crate) struct PrevSeqs {
    seq: u64,
    before_run: u64,
    /// Users the run names, with the newest of its sequences they see.
    named: HashMap<String, u64>,
}

impl PrevSeqs {
    pub(crate) fn new(seq: u64, run: &[tidings_store::TargetedSeq]) -> Self {
        let mut named = HashMap::new();
        for targeted in run {
            for user in targeted.targets.iter().chain([&targeted.sender]) {
                // The run is oldest first: the last insert is the newest.
                named.insert(user.clone(), targeted.seq);
            }
        }
        Self {
            seq,
            before_run: run.first().map_or(seq.saturating_sub(1), |t| t.seq - 1),
            named,
        }
    }

    /// For a message at `seq` whose predecessor is `prev` for everyone asking.
    pub(crate) fn fixed(seq: u64, prev: u64) -> Self {
        Self {
            seq,
            before_run: prev,
            named: HashMap::new(),
        }
    }

    /// `user`'s `prevSeq` field for the message.
    pub(crate) fn of(&self, user: &str) -> Option<u64> {
        let prev = self.named.get(user).copied().unwrap_or(self.before_run);
        prev_seq_field(self.seq, prev)
    }

    /// `users` grouped by their `prevSeq` field: one push per group, whose payload all its
    /// users share. Without a run before the message that is one group, with no field.
    pub(crate) fn classes(&self, users: Vec<String>) -> Vec<(Option<u64>, Vec<String>)> {
        if self.named.is_empty() {
            return vec![(prev_seq_field(self.seq, self.before_run), users)];
        }
        let mut classes: std::collections::BTreeMap<Option<u64>, Vec<String>> =
            std::collections::BTreeMap::new();
        for user in users {
            classes.entry(self.of(&user)).or_default().push(user);
        }
        classes.into_iter().collect()
    }
}

/// The user IDs a send mentions, checked: group sends only, at most
/// [`MAX_GROUP_AT_USERS`], valid IDs or the "everyone" marker, each once (in the order given).
fn mentions(params: &SendMessageParams) -> ServiceResult<Vec<String>> {
    let list = &params.group_at_user_list;
    if list.len() > MAX_GROUP_AT_USERS {
        return Err(ServiceError::InvalidParameters(format!(
            "groupAtUserList (REST GroupAtInfo) has {} entries; the limit is {MAX_GROUP_AT_USERS}",
            list.len()
        )));
    }
    let mut seen = HashSet::new();
    let mut users = Vec::with_capacity(list.len());
    for user in list {
        if user != GROUP_AT_ALL {
            check_id(user)?;
        }
        if seen.insert(user.as_str()) {
            users.push(user.clone());
        }
    }
    Ok(users)
}

/// The members a targeted group send is for (`receiverList`, and `receiver` when given with
/// `groupID`), checked: at most [`MAX_TARGETED_RECEIVERS`], valid IDs, each once, and no
/// mentions with them (Tencent's rule). Empty: the whole group.
fn targets(params: &SendMessageParams) -> ServiceResult<Vec<String>> {
    if params.group_id.is_none() {
        return Ok(Vec::new());
    }
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    for user in params.receiver_list.iter().chain(params.receiver.iter()) {
        check_id(user)?;
        if seen.insert(user.as_str()) {
            targets.push(user.clone());
        }
    }
    if targets.len() > MAX_TARGETED_RECEIVERS {
        return Err(ServiceError::InvalidParameters(format!(
            "receiverList (REST To_Account) names {} members; the limit is {MAX_TARGETED_RECEIVERS}",
            targets.len()
        )));
    }
    if !targets.is_empty() && !params.group_at_user_list.is_empty() {
        return Err(ServiceError::InvalidParameters(
            "a targeted group message (receiverList, REST To_Account) cannot mention members (groupAtUserList, REST GroupAtInfo)".into(),
        ));
    }
    Ok(targets)
}
