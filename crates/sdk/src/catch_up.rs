//! The conversation snapshot gathered after a reconnect.
//!
//! The client pages through `getConversationList` while pushes keep arriving. Each conversation
//! keeps the state seen last in stream order, whether it came from a page or from an
//! `onConversationChanged` push; so a conversation that moved to an already fetched page (new
//! activity during paging) is still included, and no state goes backwards.

use tidings_proto::Conversation;
use tidings_proto::methods::ConversationListResult;

/// Conversations collected so far.
#[derive(Debug, Default)]
pub(crate) struct CatchUp {
    conversations: Vec<Conversation>,
    next_seq: u64,
}

impl CatchUp {
    /// The `nextSeq` of the next page to request.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Adds newer states of conversations, replacing older ones.
    pub(crate) fn upsert(&mut self, conversations: impl IntoIterator<Item = Conversation>) {
        for conversation in conversations {
            match self
                .conversations
                .iter_mut()
                .find(|c| c.conversation_id == conversation.conversation_id)
            {
                Some(slot) => *slot = conversation,
                None => self.conversations.push(conversation),
            }
        }
    }

    /// Takes in a page. Returns whether another page should be requested (from
    /// [`CatchUp::next_seq`]); stops on the last page, and on a page that makes no progress.
    pub(crate) fn apply_page(&mut self, page: ConversationListResult) -> bool {
        let progress = !page.conversation_list.is_empty() && page.next_seq != self.next_seq;
        self.upsert(page.conversation_list);
        self.next_seq = page.next_seq;
        !page.is_finished && progress
    }

    /// Every conversation, newest activity first.
    pub(crate) fn finish(mut self) -> Vec<Conversation> {
        self.conversations
            .sort_by_key(|c| std::cmp::Reverse(c.order_key));
        self.conversations
    }
}

#[cfg(test)]
mod tests {
    use tidings_proto::CONVERSATION_TYPE_C2C;

    use super::*;

    fn conv(peer: &str, unread: u64, order_key: i64) -> Conversation {
        Conversation {
            conversation_id: format!("c2c_{peer}"),
            conversation_type: CONVERSATION_TYPE_C2C,
            user_id: Some(peer.into()),
            group_id: None,
            group_type: None,
            show_name: peer.into(),
            unread_count: unread,
            c2c_read_timestamp: 0,
            group_read_sequence: 0,
            last_message: None,
            order_key,
            group_at_info_list: Vec::new(),
        }
    }

    fn page(list: Vec<Conversation>, next_seq: u64, is_finished: bool) -> ConversationListResult {
        ConversationListResult {
            conversation_list: list,
            next_seq,
            is_finished,
        }
    }

    fn summary(list: &[Conversation]) -> Vec<(&str, u64)> {
        list.iter()
            .map(|c| (c.conversation_id.as_str(), c.unread_count))
            .collect()
    }

    #[test]
    fn pages_until_finished() {
        let mut catch_up = CatchUp::default();
        assert_eq!(catch_up.next_seq(), 0);
        assert!(catch_up.apply_page(page(vec![conv("a", 1, 30), conv("b", 0, 20)], 2, false)));
        assert_eq!(catch_up.next_seq(), 2);
        assert!(!catch_up.apply_page(page(vec![conv("c", 2, 10)], 3, true)));
        assert_eq!(
            summary(&catch_up.finish()),
            [("c2c_a", 1), ("c2c_b", 0), ("c2c_c", 2)]
        );
    }

    #[test]
    fn stops_on_a_page_without_progress() {
        let mut catch_up = CatchUp::default();
        assert!(!catch_up.apply_page(page(vec![], 5, false)));
        let mut catch_up = CatchUp::default();
        assert!(catch_up.apply_page(page(vec![conv("a", 0, 1)], 1, false)));
        assert!(!catch_up.apply_page(page(vec![conv("b", 0, 1)], 1, false)));
    }

    #[test]
    fn later_states_win_and_moved_conversations_are_kept() {
        let mut catch_up = CatchUp::default();
        catch_up.apply_page(page(vec![conv("a", 0, 30), conv("b", 0, 20)], 2, false));
        // "c" gets a message while paging: it moves to the front, out of the pages still to come.
        catch_up.upsert([conv("c", 1, 40)]);
        // "a" changes too; then a later page carries a newer state of "b".
        catch_up.upsert([conv("a", 3, 35)]);
        catch_up.apply_page(page(vec![conv("b", 2, 20), conv("d", 0, 5)], 4, true));
        assert_eq!(
            summary(&catch_up.finish()),
            [("c2c_c", 1), ("c2c_a", 3), ("c2c_b", 2), ("c2c_d", 0)]
        );
    }
}
