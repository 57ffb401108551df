//! Message-level read receipts: recording them, pulling counts, and paging member lists.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use foldhash::fast::RandomState;
use tidings_proto::events::{OnMessageReceiptsSent, OnRecvMessageReadReceipts, ReceiptsSent};
use tidings_proto::methods::{
    READ_MEMBERS_FILTER_READ, READ_MEMBERS_FILTER_UNREAD, ReadMemberListParams,
    ReadMemberListResult,
};
use tidings_proto::{
    GroupRole, MAX_READ_MEMBER_PAGE, MAX_RECEIPT_BATCH, MessageReceipt, ReadMemberInfo,
};
use tidings_store::{ConvKey, GroupReceiptUpdate, RoaringBitmap, StoreError};

use crate::checks::check_page;
use crate::error::InGroup;
use crate::message_facts::MessageFacts;
use crate::{AfterEvent, GroupReceiptCount, ServiceError, ServiceResult, SessionId, Tidings, now};

/// A message of a receipt call that was not recorded, with the refusal it would have had alone.
#[derive(Debug)]
pub struct SkippedReceipt {
    /// The message as named.
    pub msg_id: String,
    /// Why it was skipped.
    pub error: ServiceError,
}

impl Tidings {
    /// The named messages' facts (`None` for a message that does not exist), in the order given,
    /// without repeats.
    async fn distinct_facts(
        &self,
        msg_ids: Vec<String>,
    ) -> ServiceResult<Vec<(String, Option<Arc<MessageFacts>>)>> {
        if msg_ids.is_empty() || msg_ids.len() > MAX_RECEIPT_BATCH {
            return Err(ServiceError::InvalidParameters(format!(
                "messageIDList must name between 1 and {MAX_RECEIPT_BATCH} messages, not {}",
                msg_ids.len()
            )));
        }
        // Repeats are looked up too (from memory) and dropped after, instead of copying every ID
        // to drop them before. At most MAX_RECEIPT_BATCH IDs: a fast hasher is enough.
        let found = self.facts_of(&msg_ids).await?;
        let mut seen = HashSet::with_capacity_and_hasher(msg_ids.len(), RandomState::default());
        let first: Vec<bool> = msg_ids.iter().map(|id| seen.insert(id.as_str())).collect();
        drop(seen);
        Ok(msg_ids
            .into_iter()
            .zip(found)
            .zip(first)
            .filter_map(|(pair, first)| first.then_some(pair))
            .collect())
    }

    /// The conversation of `messages`, which must all belong to one.
    fn one_conversation(messages: &[Arc<MessageFacts>]) -> ServiceResult<ConvKey> {
        let conv = messages[0].conv.clone();
        if let Some(other) = messages.iter().find(|facts| facts.conv != conv) {
            return Err(ServiceError::InvalidParameters(format!(
                "message {} belongs to another conversation than {}: name messages of one conversation per call",
                other.msg_id, messages[0].msg_id
            )));
        }
        Ok(conv)
    }

    /// The named messages, which must exist and all belong to one conversation: their IDs and
    /// facts in the order given, without repeats.
    async fn messages_of_one_conversation(
        &self,
        msg_ids: Vec<String>,
    ) -> ServiceResult<(Vec<String>, Vec<Arc<MessageFacts>>, ConvKey)> {
        let mut ids = Vec::with_capacity(msg_ids.len());
        let mut messages = Vec::with_capacity(msg_ids.len());
        for (msg_id, facts) in self.distinct_facts(msg_ids).await? {
            let Some(facts) = facts else {
                return Err(ServiceError::ReceiptInfoNotFound(format!(
                    "message {msg_id} does not exist"
                )));
            };
            ids.push(msg_id);
            messages.push(facts);
        }
        let conv = Self::one_conversation(&messages)?;
        Ok((ids, messages, conv))
    }

    /// Receiver side: records that `reader` read these messages (one conversation) and returns
    /// the messages it skipped. A message that does not exist or did not ask for receipts, one
    /// of the reader's own, or a group message sent before the reader joined is skipped with the
    /// refusal it would have had alone; the others are recorded. A call in which no message is
    /// valid fails with the refusal of the first. Messages of several conversations, a reader
    /// who is not in the conversation, and an unknown group fail the whole call. Repeats change
    /// nothing. The reader's other sessions are told; `from_session`, the calling one (if any),
    /// is not.
    pub async fn send_read_receipts(
        &self,
        reader: &str,
        msg_ids: Vec<String>,
        from_session: Option<SessionId>,
    ) -> ServiceResult<Vec<SkippedReceipt>> {
        self.require_receipts_enabled()?;
        let named = self.distinct_facts(msg_ids).await?;
        let mut skipped = Vec::new();
        let mut ids = Vec::with_capacity(named.len());
        let mut messages = Vec::with_capacity(named.len());
        for (msg_id, facts) in &named {
            let Some(facts) = facts else {
                skipped.push(SkippedReceipt {
                    msg_id: msg_id.clone(),
                    error: ServiceError::ReceiptInfoNotFound(format!(
                        "message {msg_id} does not exist"
                    )),
                });
                continue;
            };
            let refusal = if !facts.need_receipt {
                Some(ServiceError::no_receipt_info(msg_id))
            } else if facts.sender == reader {
                Some(ServiceError::InvalidParameters(format!(
                    "message {msg_id} is your own: receipts are sent by its recipients"
                )))
            } else {
                None
            };
            match refusal {
                Some(error) => skipped.push(SkippedReceipt {
                    msg_id: msg_id.clone(),
                    error,
                }),
                None => {
                    ids.push(msg_id.clone());
                    messages.push(Arc::clone(facts));
                }
            }
        }
        let newly = if messages.is_empty() {
            Vec::new()
        } else {
            let (newly, late) = match Self::one_conversation(&messages)? {
                ConvKey::C2c(..) => self.record_c2c_receipts(reader, messages, ids).await?,
                ConvKey::Group(group_id) => {
                    self.record_group_receipts(reader, &group_id, messages, ids)
                        .await?
                }
            };
            skipped.extend(late);
            newly
        };
        // Skips in the order of the request.
        let position: HashMap<&str, usize, RandomState> = named
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.as_str(), i))
            .collect();
        skipped.sort_by_key(|s| position.get(s.msg_id.as_str()).copied());
        drop(position);
        if skipped.len() == named.len() {
            return Err(skipped.remove(0).error);
        }
        metrics::counter!("tidings_receipts_total").increment(newly.len() as u64);
        if !newly.is_empty() {
            self.push_except::<OnMessageReceiptsSent>(
                vec![reader.to_owned()],
                ReceiptsSent {
                    message_id_list: newly,
                },
                from_session,
            );
        }
        Ok(skipped)
    }

    /// Records C2C receipts and tells each message's sender at once; returns the newly
    /// receipted IDs and the recalled messages skipped. The cached facts alone decide that
    /// `reader` is each message's receiver: the store's write only sets the receipt time where
    /// none is set, and refuses the call when a message was recalled, which is then written
    /// again without it. A reader who keeps receipts private records nothing and tells no
    /// sender (the store reads that in its write); the newly receipted IDs are then those
    /// without a receipt time.
    async fn record_c2c_receipts(
        &self,
        reader: &str,
        mut messages: Vec<Arc<MessageFacts>>,
        mut ids: Vec<String>,
    ) -> ServiceResult<(Vec<String>, Vec<SkippedReceipt>)> {
        if let Some(facts) = messages
            .iter()
            .find(|f| f.receiver.as_deref() != Some(reader))
        {
            return Err(ServiceError::PermissionDenied(format!(
                "message {} was not sent to you",
                facts.msg_id
            )));
        }
        let time = now();
        let mut recalled = Vec::new();
        let changed = loop {
            match self.store.record_c2c_receipts(reader, &ids, time).await {
                Err(StoreError::Revoked { msg_id }) => {
                    drop_recalled(&mut ids, &mut messages, &mut recalled, msg_id)?;
                    if ids.is_empty() {
                        return Ok((Vec::new(), recalled));
                    }
                }
                other => break other?,
            }
        };
        let newly: Vec<String> = ids
            .into_iter()
            .zip(&changed.newly)
            .filter(|(_, c)| **c)
            .map(|(id, _)| id)
            .collect();
        if !newly.is_empty() && !changed.private {
            let receipts: Vec<MessageReceipt> = newly
                .iter()
                .map(|msg_id| MessageReceipt::c2c(msg_id.clone(), reader.to_owned(), Some(time)))
                .collect();
            metrics::counter!("tidings_receipt_pushes_total", "kind" => "c2c").increment(1);
            // One conversation: every message has the same sender.
            self.push::<OnRecvMessageReadReceipts>(vec![messages[0].sender.clone()], receipts);
        }
        Ok((newly, recalled))
    }

    /// Records group receipts (membership is checked in the same write) and notes the changed
    /// messages for their senders' coalesced pushes (none for a reader who keeps receipts
    /// private, whose receipts the write checks and does not record); returns the newly read
    /// IDs and the messages
    /// skipped because the reader was not among their recipients (sent before they joined).
    /// The write checks recipients itself, so the usual call reads nothing first; only when it
    /// refuses one are the messages' recipients read, to write the others once more.
    async fn record_group_receipts(
        &self,
        reader: &str,
        group_id: &str,
        mut messages: Vec<Arc<MessageFacts>>,
        mut ids: Vec<String>,
    ) -> ServiceResult<(Vec<String>, Vec<SkippedReceipt>)> {
        let group_type = messages[0].group_type.ok_or_else(|| {
            ServiceError::Store(StoreError::Corrupt(format!(
                "group message {} has no group type",
                messages[0].msg_id
            )))
        })?;
        self.require_receipts_in(group_type)?;
        let mut late = Vec::new();
        // Each refusal drops at least one message before the next write, or ends the call.
        let updates = loop {
            match self
                .store
                .record_group_receipts(group_id, reader, ids.clone())
                .await
            {
                Err(StoreError::Revoked { msg_id }) => {
                    drop_recalled(&mut ids, &mut messages, &mut late, msg_id)?;
                    if ids.is_empty() {
                        return Ok((Vec::new(), late));
                    }
                }
                Err(StoreError::NotRecipient { .. }) => {
                    let ordinal = self.require_member(group_id, reader).await?.ordinal;
                    let states = self.store.group_receipts(&ids).await?;
                    let is_recipient = |msg_id: &str| {
                        states
                            .iter()
                            .any(|s| s.msg_id == msg_id && s.recipients.contains(ordinal))
                    };
                    let mut kept = Vec::with_capacity(ids.len());
                    for (msg_id, facts) in ids.into_iter().zip(messages) {
                        if is_recipient(&msg_id) {
                            kept.push((msg_id, facts));
                        } else {
                            late.push(SkippedReceipt {
                                error: if facts.targeted {
                                    ServiceError::PermissionDenied(format!(
                                        "message {msg_id} is a targeted group message that was not sent to you"
                                    ))
                                } else {
                                    ServiceError::of_group_store_error(
                                        group_id,
                                        StoreError::NotRecipient {
                                            msg_id: msg_id.clone(),
                                        },
                                    )
                                },
                                msg_id,
                            });
                        }
                    }
                    (ids, messages) = kept.into_iter().unzip();
                    if ids.is_empty() {
                        return Ok((Vec::new(), late));
                    }
                    // Once more with the messages the reader received: a refusal now is final.
                    break self
                        .store
                        .record_group_receipts(group_id, reader, ids.clone())
                        .await
                        .in_group(group_id)?;
                }
                other => break other.in_group(group_id)?,
            }
        };
        // `updates` follows the order of `ids`, which is the order of `messages`.
        let changed: Vec<(GroupReceiptUpdate, &Arc<MessageFacts>)> = updates
            .into_iter()
            .zip(&messages)
            .filter(|(update, _)| update.changed)
            .collect();
        // A private reader's receipts changed no count: nobody else is told of them.
        let shown = changed.first().is_some_and(|(update, _)| !update.private);
        if shown {
            self.emit_callback(|| AfterEvent::GroupReceiptsSent {
                group_id: group_id.to_owned(),
                group_type,
                reader: reader.to_owned(),
                receipts: changed
                    .iter()
                    .map(|(update, facts)| GroupReceiptCount {
                        seq: facts.seq,
                        read: update.read_count,
                        unread: update.recipient_count.saturating_sub(update.read_count),
                    })
                    .collect(),
            });
            self.notifier
                .note(changed.iter().map(|(_, facts)| Arc::clone(facts)).collect());
        }
        let newly = changed
            .into_iter()
            .map(|(update, _)| update.msg_id)
            .collect();
        Ok((newly, late))
    }

    /// Sender side: receipt state of the caller's own messages (one conversation).
    pub async fn get_read_receipts(
        &self,
        user: &str,
        msg_ids: Vec<String>,
    ) -> ServiceResult<Vec<MessageReceipt>> {
        self.require_receipts_enabled()?;
        let (ids, messages, conv) = self.messages_of_one_conversation(msg_ids).await?;
        for facts in &messages {
            if facts.sender != user {
                return Err(ServiceError::PermissionDenied(format!(
                    "message {} is not yours: only its sender may pull its receipts",
                    facts.msg_id
                )));
            }
            if !facts.need_receipt {
                return Err(ServiceError::no_receipt_info(&facts.msg_id));
            }
        }
        if let ConvKey::Group(group_id) = &conv {
            let states = self.store.group_receipts(&ids).await?;
            return ids
                .iter()
                .map(|msg_id| {
                    let state = states
                        .iter()
                        .find(|s| &s.msg_id == msg_id)
                        .ok_or_else(|| ServiceError::no_receipt_info(msg_id))?;
                    let read_count = state.readers.len();
                    Ok(MessageReceipt::group(
                        msg_id.clone(),
                        group_id.clone(),
                        read_count,
                        state.recipients.len().saturating_sub(read_count),
                    ))
                })
                .collect();
        }
        // C2C receipt times change, so they are read from the store, not from the facts.
        let records = self.store.get_messages(&ids).await?;
        messages
            .iter()
            .map(|facts| {
                let receipt_at = records
                    .iter()
                    .find(|r| r.message.msg_id == facts.msg_id)
                    .ok_or_else(|| {
                        ServiceError::ReceiptInfoNotFound(format!(
                            "message {} does not exist",
                            facts.msg_id
                        ))
                    })?
                    .receipt_at;
                Ok(MessageReceipt::c2c(
                    facts.msg_id.clone(),
                    facts.receiver.clone().unwrap_or_default(),
                    receipt_at,
                ))
            })
            .collect()
    }

    /// A page of the members who read (filter 0) or did not read (filter 1) a group message,
    /// in joining order. `nextSeq` is a keyset cursor (the next member ordinal), so pages stay
    /// consistent while receipts keep arriving.
    pub async fn read_member_list(
        &self,
        user: &str,
        params: ReadMemberListParams,
    ) -> ServiceResult<ReadMemberListResult> {
        self.require_receipts_enabled()?;
        check_page(params.count, MAX_READ_MEMBER_PAGE, "count")?;
        if params.filter != READ_MEMBERS_FILTER_READ && params.filter != READ_MEMBERS_FILTER_UNREAD
        {
            return Err(ServiceError::InvalidParameters(format!(
                "filter must be 0 (read) or 1 (unread), not {}",
                params.filter
            )));
        }
        let start = u32::try_from(params.next_seq).map_err(|_| {
            ServiceError::InvalidParameters("nextSeq is not one this server returned".into())
        })?;
        let facts = self
            .facts_of(std::slice::from_ref(&params.message_id))
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| {
                ServiceError::ReceiptInfoNotFound(format!(
                    "message {} does not exist",
                    params.message_id
                ))
            })?;
        let Some(group_id) = facts.group_id() else {
            return Err(ServiceError::InvalidParameters(format!(
                "message {} is a C2C message; member lists exist for group messages",
                params.message_id
            )));
        };
        if !facts.need_receipt {
            return Err(ServiceError::no_receipt_info(&params.message_id));
        }
        if facts.sender != user {
            let member = self.require_member(group_id, user).await?;
            if member.role == GroupRole::Member {
                return Err(ServiceError::PermissionDenied(format!(
                    "only the sender of message {} and the group's owner and admins may list its readers",
                    params.message_id
                )));
            }
        }
        self.member_page(
            group_id,
            &params.message_id,
            params.filter,
            start,
            params.count,
        )
        .await
    }

    /// One page of the read (filter 0) or unread (filter 1) members of a group message, from
    /// member ordinal `start`: the members, the next cursor (0 when finished), and whether the
    /// list is finished.
    pub(crate) async fn member_page(
        &self,
        group_id: &str,
        msg_id: &str,
        filter: u32,
        start: u32,
        count: u32,
    ) -> ServiceResult<ReadMemberListResult> {
        let state = self
            .store
            .group_receipts(&[msg_id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::no_receipt_info(msg_id))?;
        let listed: RoaringBitmap = if filter == READ_MEMBERS_FILTER_READ {
            state.readers
        } else {
            &state.recipients - &state.readers
        };
        let mut cursor = listed.iter();
        cursor.advance_to(start);
        let mut ordinals: Vec<u32> = cursor.take(count as usize + 1).collect();
        let is_finished = ordinals.len() <= count as usize;
        ordinals.truncate(count as usize);
        let next_seq = if is_finished {
            0
        } else {
            ordinals.last().map_or(0, |o| u64::from(*o) + 1)
        };
        let members = self.store.members_by_ordinal(group_id, &ordinals).await?;
        Ok(ReadMemberListResult {
            member_info_list: members
                .into_iter()
                .map(|m| ReadMemberInfo {
                    user_id: m.user_id,
                    nick_name: m.profile.nick,
                    face_url: m.profile.face_url,
                    name_card: m.name_card,
                })
                .collect(),
            next_seq,
            is_finished,
        })
    }
}

/// Takes a recalled message (the store's refusal named it) out of a receipt call, noting it as
/// skipped; a store naming a message the call does not hold is an error, not a loop.
fn drop_recalled(
    ids: &mut Vec<String>,
    messages: &mut Vec<Arc<MessageFacts>>,
    skipped: &mut Vec<SkippedReceipt>,
    msg_id: String,
) -> ServiceResult<()> {
    let Some(at) = ids.iter().position(|id| *id == msg_id) else {
        return Err(ServiceError::Store(StoreError::Corrupt(format!(
            "the store refused receipts for message {msg_id}, which the call did not name"
        ))));
    };
    ids.remove(at);
    messages.remove(at);
    skipped.push(SkippedReceipt {
        error: ServiceError::MessageRevoked(msg_id.clone()),
        msg_id,
    });
    Ok(())
}
