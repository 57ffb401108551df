//! What receipt calls need to know about recent messages, kept in memory, so that a receipt call
//! reads nothing from the store before its one write.
//!
//! A stored message's conversation, sender, receiver, sequence, receipt request, targeting and
//! group type
//! never change, so an entry cannot go stale while its message exists. Facts are remembered when
//! a message is sent through this node and loaded from the store on a miss; a deleted group's
//! entries are dropped with it. What the cache decides alone differs by conversation:
//! - C2C: the cache alone decides that the caller is the message's receiver (a fact that never
//!   changes); the store's write only sets the receipt time where none is set.
//! - Group: the store's write checks in its transaction that the caller is a current member and
//!   a recipient of each message, so a cache entry never grants a group receipt by itself.

use std::collections::HashMap;
use std::sync::Arc;

use quick_cache::sync::Cache;
use tidings_proto::GroupType;
use tidings_store::{ConvKey, MessageRecord};

/// Most messages whose facts are kept (least recently used ones are dropped first).
const CAPACITY: usize = 65_536;

/// The immutable facts of one stored message.
#[derive(Debug)]
pub(crate) struct MessageFacts {
    pub(crate) msg_id: String,
    pub(crate) conv: ConvKey,
    pub(crate) sender: String,
    pub(crate) receiver: Option<String>,
    pub(crate) seq: u64,
    pub(crate) need_receipt: bool,
    /// A targeted group message (for some members only).
    pub(crate) targeted: bool,
    /// The group's type, for group messages.
    pub(crate) group_type: Option<GroupType>,
}

impl MessageFacts {
    pub(crate) fn of(record: &MessageRecord, group_type: Option<GroupType>) -> Self {
        Self {
            msg_id: record.message.msg_id.clone(),
            conv: record.message.conv_key(),
            sender: record.message.sender.clone(),
            receiver: record.message.receiver.clone(),
            seq: record.seq,
            need_receipt: record.message.need_receipt,
            targeted: !record.message.targets.is_empty(),
            group_type,
        }
    }

    /// The group of a group message.
    pub(crate) fn group_id(&self) -> Option<&str> {
        match &self.conv {
            ConvKey::Group(group_id) => Some(group_id),
            ConvKey::C2c(..) => None,
        }
    }
}

/// Facts of recently sent or looked-up messages, by message ID.
pub(crate) struct FactsCache {
    entries: Cache<String, Arc<MessageFacts>>,
}

impl std::fmt::Debug for FactsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactsCache")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl Default for FactsCache {
    fn default() -> Self {
        Self {
            entries: Cache::new(CAPACITY),
        }
    }
}

impl FactsCache {
    pub(crate) fn get(&self, msg_id: &str) -> Option<Arc<MessageFacts>> {
        self.entries.get(msg_id)
    }

    pub(crate) fn remember(&self, facts: MessageFacts) -> Arc<MessageFacts> {
        let facts = Arc::new(facts);
        self.entries
            .insert(facts.msg_id.clone(), Arc::clone(&facts));
        facts
    }

    /// Drops the entries of a deleted group's messages.
    pub(crate) fn forget_group(&self, group_id: &str) {
        self.entries
            .retain(|_, facts| facts.group_id() != Some(group_id));
    }
}

impl crate::Tidings {
    /// Facts of the named messages, in the order given: from memory, or for misses from the
    /// store (one read). `None` for a message that does not exist.
    pub(crate) async fn facts_of(
        &self,
        msg_ids: &[String],
    ) -> crate::ServiceResult<Vec<Option<Arc<MessageFacts>>>> {
        let mut found: Vec<Option<Arc<MessageFacts>>> =
            msg_ids.iter().map(|id| self.facts.get(id)).collect();
        let missing: Vec<String> = msg_ids
            .iter()
            .zip(&found)
            .filter(|(_, facts)| facts.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        let mut group_types: HashMap<String, Option<GroupType>> = HashMap::new();
        for record in self.store.get_messages(&missing).await? {
            let group_type = match &record.message.group_id {
                None => None,
                Some(group_id) => {
                    if !group_types.contains_key(group_id) {
                        let group_type = match self.store.get_group(group_id).await? {
                            Some(group) => Some(group.group_type),
                            None => None,
                        };
                        group_types.insert(group_id.clone(), group_type);
                    }
                    // A message whose group is gone is being deleted with it.
                    let Some(group_type) = group_types.get(group_id).copied().flatten() else {
                        continue;
                    };
                    Some(group_type)
                }
            };
            let facts = self.facts.remember(MessageFacts::of(&record, group_type));
            for (id, slot) in msg_ids.iter().zip(found.iter_mut()) {
                if *id == facts.msg_id {
                    *slot = Some(Arc::clone(&facts));
                }
            }
        }
        Ok(found)
    }
}
