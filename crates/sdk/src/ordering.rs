//! Per-conversation order of new messages: the app receives each conversation's messages in
//! `seq` order, each once, with every gap either filled from history or reported.
//!
//! Pushes can overtake one another (two senders on different nodes of a cluster, or two sends
//! racing to publish on one node) and can be lost (a node that lost the cluster's bus for a
//! moment). The server numbers each conversation's stored messages 1, 2, 3… without gaps, and a
//! message is committed only after every lower `seq` of its conversation was, so a `seq` beyond
//! the next expected one proves that the messages in between exist or existed. This module keeps,
//! per conversation, the highest `seq` handed to the app and the messages held above it; a held
//! message waits for the missing ones for [`MessageOrder`]'s gap wait, then the connection asks
//! history for them ([`Fill`]). What history does not return is not coming (deleted, or not
//! visible to this user): it is reported as a [`Released::Gap`] and the messages above it go on.
//!
//! A group's targeted messages take sequences too, and reach only their targets. A message
//! that follows sequences this user will never get carries `prevSeq`, the sequence of the
//! previous message this user gets (in pushes, history pages and a conversation's last
//! message alike): what lies between is neither waited for nor reported.
//!
//! The module does no IO and reads no clock: the connection task passes the time in.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use tidings_proto::{Conversation, MAX_LIST_PAGE, Message};
use tokio::time::Instant;

/// Conversations tracked at most. Past this, the one unused longest (and holding nothing) is
/// forgotten; if it gets a message later, it starts again from that message.
pub(crate) const MAX_CONVERSATIONS: usize = 10_000;

/// Messages one conversation holds at most while waiting for a gap; past this the gap is filled
/// at once instead of after the gap wait.
pub(crate) const MAX_HELD: usize = 1_000;

/// Most messages one gap is filled with (one history page). The older part of a larger gap (a
/// long disconnection) is reported as a gap: the app loads it from history if it shows it.
pub(crate) const MAX_FILL: u32 = MAX_LIST_PAGE;

/// What the ordering hands to the app, in this order.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "each item is moved once, into an SdkEvent that holds the message unboxed too"
)]
pub(crate) enum Released {
    /// The next message of its conversation.
    Message(Message),
    /// Messages `first_seq..=last_seq` of a conversation will not be handed over: history did
    /// not have them, or they were beyond [`MAX_FILL`].
    Gap {
        conversation_id: String,
        first_seq: u64,
        last_seq: u64,
    },
}

/// Times a gap's history request is sent when the server answers that it could not serve it
/// for now (overloaded, rate limit), before the gap is given up as if history lacked it.
pub(crate) const MAX_FILL_ATTEMPTS: u32 = 3;

/// The answer to a [`Fill`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FillAnswer {
    /// The history page.
    History(Vec<Message>),
    /// The server could not answer for now (6999, 7008): ask again after the gap wait.
    Retry,
    /// The server refused (the user left the group meanwhile): the gap will not be filled.
    Refused,
}

/// A history request that fills a gap: the `count` messages of `conversation_id` older than
/// message `before_msg_id`, whose `seq` is `below_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fill {
    pub(crate) conversation_id: String,
    pub(crate) below_seq: u64,
    pub(crate) before_msg_id: String,
    pub(crate) count: u32,
}

/// One tracked conversation.
#[derive(Debug)]
struct Track {
    /// The highest `seq` handed over (or known from the catch-up).
    last: u64,
    /// Messages above `last + 1`, waiting for the ones below them.
    held: BTreeMap<u64, Message>,
    /// When the gap below the held messages is to be filled from history.
    due: Option<Instant>,
    /// `below_seq` of the fill in flight.
    filling: Option<u64>,
    /// History requests sent for the current gap.
    attempts: u32,
    /// Recency, for choosing what to forget.
    used: u64,
    /// Nothing was handed over yet: `last` is the conversation's end seen by a catch-up, and a
    /// message at or below it whose push comes later (committed before the catch-up read,
    /// published after) is new to the app, not a repeat.
    fresh: bool,
}

/// The ordering state of one client.
#[derive(Debug)]
pub(crate) struct MessageOrder {
    gap_wait: Duration,
    tracks: HashMap<String, Track>,
    /// Every conversation the user has is tracked (a catch-up completed and nothing was
    /// forgotten since), so an untracked C2C conversation is new and starts at `seq` 1.
    complete: bool,
    /// Groups the user joined while connected that are not tracked yet (no message came).
    joined: HashSet<String>,
    uses: u64,
    /// The tracked conversations by their `used`, least recent first.
    recency: BTreeMap<u64, String>,
    /// How many conversations were forgotten to make room, ever.
    forgotten: u64,
}

/// The `seq` of the message before `message` that this user receives: `prevSeq` when the server
/// says the sequences in between are not this user's (targeted group messages for others),
/// otherwise `seq − 1`.
pub(crate) fn prev_seq(message: &Message) -> u64 {
    message
        .prev_seq
        .filter(|&prev| prev < message.seq)
        .unwrap_or(message.seq.saturating_sub(1))
}

/// The conversation ID of a message: `group_<groupID>` or `c2c_<peer>`.
pub(crate) fn conversation_id(message: &Message) -> Option<String> {
    match (&message.group_id, &message.user_id) {
        (Some(group), _) => Some(format!("group_{group}")),
        (None, Some(peer)) => Some(format!("c2c_{peer}")),
        (None, None) => None,
    }
}

impl MessageOrder {
    /// An empty state; gaps wait `gap_wait` for late pushes before history is asked.
    pub(crate) fn new(gap_wait: Duration) -> Self {
        Self {
            gap_wait,
            tracks: HashMap::new(),
            complete: false,
            joined: HashSet::new(),
            uses: 0,
            recency: BTreeMap::new(),
            forgotten: 0,
        }
    }

    /// Takes in a pushed (or own, acknowledged) message; returns what can be handed over now.
    pub(crate) fn offer(&mut self, message: Message, now: Instant) -> Vec<Released> {
        // `onlineUserOnly` messages have no place in the sequence: nothing to order them by.
        let Some(id) = conversation_id(&message).filter(|_| message.seq != 0) else {
            return vec![Released::Message(message)];
        };
        let start = if self.complete && message.group_id.is_none() {
            0
        } else {
            prev_seq(&message)
        };
        let gap_wait = self.gap_wait;
        let track = self.track(&id, start);
        let seq = message.seq;
        if std::mem::take(&mut track.fresh) && seq <= track.last {
            track.last = prev_seq(&message);
        }
        if seq <= track.last || track.held.contains_key(&seq) {
            tracing::trace!(conversation = %id, seq, "dropping a repeated message");
            return Vec::new();
        }
        track.held.insert(seq, message);
        let mut out = Vec::new();
        track.release(&mut out);
        track.schedule(now, gap_wait);
        out
    }

    /// Takes in a conversation's state from a catch-up: messages up to its last message are the
    /// conversation's past for a conversation not tracked yet; a tracked one whose last message
    /// is newer than what was handed over has missed messages, filled from history at once.
    pub(crate) fn baseline(&mut self, conversation: &Conversation, now: Instant) -> Vec<Released> {
        let id = &conversation.conversation_id;
        let last_seq = conversation.last_message.as_ref().map_or(0, |m| m.seq);
        if !self.tracks.contains_key(id) {
            // A group joined while connected starts where the user joined: the read position
            // starts there (unless another device has read further since).
            let start = if self.joined.remove(id) {
                last_seq.min(conversation.group_read_sequence)
            } else {
                last_seq
            };
            self.track(id, start).fresh = true;
        }
        let Some(track) = self.tracks.get(id) else {
            return Vec::new();
        };
        let behind = track.last < last_seq && !track.held.contains_key(&last_seq);
        let Some(message) = conversation.last_message.clone().filter(|_| behind) else {
            return Vec::new();
        };
        let out = self.offer(message, now);
        if let Some(track) = self.tracks.get_mut(&conversation.conversation_id) {
            // Not a push that may yet be overtaken: the messages are known to be missing.
            if track.due.is_some() {
                track.due = Some(now);
            }
        }
        out
    }

    /// The user joined group conversation `conversation_id` (or created it): if no message of it
    /// comes before the next catch-up, that catch-up starts it where the user joined.
    pub(crate) fn joined(&mut self, conversation_id: &str) {
        if self.tracks.contains_key(conversation_id) {
            return;
        }
        if self.joined.len() >= MAX_CONVERSATIONS {
            self.joined.clear();
        }
        self.joined.insert(conversation_id.to_owned());
    }

    /// Takes in a whole catch-up (every conversation, when `whole`) with
    /// [`MessageOrder::baseline`]. Afterwards every conversation of the user is known to be
    /// tracked if the list was whole and none had to be forgotten to make room.
    pub(crate) fn catch_up(
        &mut self,
        conversations: &[Conversation],
        whole: bool,
        now: Instant,
    ) -> Vec<Released> {
        let forgotten = self.forgotten;
        let mut out = Vec::new();
        for conversation in conversations {
            out.extend(self.baseline(conversation, now));
        }
        if whole && self.forgotten == forgotten {
            self.complete = true;
        }
        out
    }

    /// Whether every conversation of the user is tracked.
    #[cfg(test)]
    fn set_complete(&mut self, complete: bool) {
        self.complete = complete;
    }

    /// Stops tracking a conversation (a group left or dismissed): if it comes back, it starts
    /// again from the messages received then. Held messages are handed over first.
    pub(crate) fn forget(&mut self, conversation_id: &str) -> Vec<Released> {
        let Some(track) = self.tracks.remove(conversation_id) else {
            return Vec::new();
        };
        self.recency.remove(&track.used);
        // The user is gone from the conversation: no history will fill the gaps.
        let mut last = track.last;
        let mut out = Vec::new();
        for (seq, message) in track.held {
            let prev = prev_seq(&message);
            if prev > last {
                out.push(Released::Gap {
                    conversation_id: conversation_id.to_owned(),
                    first_seq: last + 1,
                    last_seq: prev,
                });
            }
            last = seq;
            out.push(Released::Message(message));
        }
        out
    }

    /// When the next gap is due to be filled.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.tracks
            .values()
            .filter(|t| t.filling.is_none())
            .filter_map(|t| t.due)
            .min()
    }

    /// The history requests due at `now`; each counts as in flight until [`MessageOrder::filled`]
    /// or [`MessageOrder::fills_lost`].
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Fill> {
        let mut fills = Vec::new();
        for (id, track) in &mut self.tracks {
            if track.filling.is_some() || track.due.is_none_or(|due| due > now) {
                continue;
            }
            let Some((&below_seq, message)) = track.held.first_key_value() else {
                track.due = None;
                continue;
            };
            // The sequences between its predecessor and it are not this user's.
            let missing = prev_seq(message).saturating_sub(track.last).max(1);
            fills.push(Fill {
                conversation_id: id.clone(),
                below_seq,
                before_msg_id: message.msg_id.clone(),
                count: u32::try_from(missing).unwrap_or(u32::MAX).min(MAX_FILL),
            });
            track.filling = Some(below_seq);
            track.attempts += 1;
            track.due = None;
        }
        fills
    }

    /// Takes in the answer to a [`Fill`]. Whatever is still missing below `below_seq` afterwards
    /// is reported as a gap, unless the server asked to retry and attempts are left.
    pub(crate) fn filled(
        &mut self,
        conversation_id: &str,
        below_seq: u64,
        answer: FillAnswer,
        now: Instant,
    ) -> Vec<Released> {
        let gap_wait = self.gap_wait;
        let Some(track) = self.tracks.get_mut(conversation_id) else {
            return Vec::new();
        };
        if track.filling == Some(below_seq) {
            track.filling = None;
        }
        let history = match answer {
            FillAnswer::Retry if track.attempts < MAX_FILL_ATTEMPTS => {
                track.due = Some(now + gap_wait);
                return Vec::new();
            }
            FillAnswer::Retry | FillAnswer::Refused => Vec::new(),
            FillAnswer::History(page) => page,
        };
        track.attempts = 0;
        for message in history {
            let fits = message.seq > track.last && message.seq < below_seq;
            if fits && conversation_id_matches(&message, conversation_id) {
                track.held.entry(message.seq).or_insert(message);
            }
        }
        let mut out = Vec::new();
        track.release(&mut out);
        // History is a snapshot taken after `below_seq` was committed, so it holds every message
        // below it that still exists and that the user may see: what it lacks will not come.
        while let Some((&first, message)) = track.held.first_key_value() {
            let prev = prev_seq(message);
            if first > below_seq || prev <= track.last {
                break;
            }
            out.push(Released::Gap {
                conversation_id: conversation_id.to_owned(),
                first_seq: track.last + 1,
                last_seq: prev,
            });
            track.last = prev;
            track.release(&mut out);
        }
        track.due = None;
        track.schedule(now, gap_wait);
        out
    }

    /// The connection was lost: fills in flight will not be answered; they are asked again, at
    /// once, on the next session.
    pub(crate) fn fills_lost(&mut self, now: Instant) {
        for track in self.tracks.values_mut() {
            if track.filling.take().is_some() {
                track.attempts = 0;
                track.due = Some(now);
            }
        }
    }

    /// The track of `id`, created with `last = start` when new.
    fn track(&mut self, id: &str, start: u64) -> &mut Track {
        self.uses += 1;
        let used = self.uses;
        if !self.tracks.contains_key(id) && self.tracks.len() >= MAX_CONVERSATIONS {
            self.forget_least_used();
        }
        self.joined.remove(id);
        let track = self.tracks.entry(id.to_owned()).or_insert_with(|| Track {
            last: start,
            held: BTreeMap::new(),
            due: None,
            filling: None,
            attempts: 0,
            used,
            fresh: false,
        });
        self.recency.remove(&track.used);
        track.used = used;
        self.recency.insert(used, id.to_owned());
        track
    }

    /// Forgets the idle conversation unused longest.
    fn forget_least_used(&mut self) {
        let tracks = &self.tracks;
        let idle = self
            .recency
            .iter()
            .find(|(_, id)| {
                tracks
                    .get(id.as_str())
                    .is_some_and(|t| t.held.is_empty() && t.filling.is_none())
            })
            .map(|(&used, id)| (used, id.clone()));
        if let Some((used, id)) = idle {
            self.recency.remove(&used);
            self.tracks.remove(&id);
            self.complete = false;
            self.forgotten += 1;
        }
    }

    /// How many conversations are tracked.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        assert_eq!(self.recency.len(), self.tracks.len());
        self.tracks.len()
    }
}

fn conversation_id_matches(message: &Message, id: &str) -> bool {
    conversation_id(message).is_some_and(|own| own == id)
}

impl Track {
    /// Hands over the held messages that follow `last` without a gap: each whose predecessor
    /// for this user (see [`prev_seq`]) was handed over.
    fn release(&mut self, out: &mut Vec<Released>) {
        while let Some(entry) = self.held.first_entry() {
            if prev_seq(entry.get()) > self.last {
                break;
            }
            self.last = *entry.key();
            out.push(Released::Message(entry.remove()));
        }
    }

    /// Sets when the gap below the held messages is to be filled: after the gap wait from when
    /// it was first seen, at once when too much is held, never when nothing is.
    fn schedule(&mut self, now: Instant, gap_wait: Duration) {
        if self.held.is_empty() {
            self.due = None;
            self.attempts = 0;
        } else if self.held.len() >= MAX_HELD {
            self.due = Some(now);
        } else if self.due.is_none() {
            self.due = Some(now + gap_wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tidings_proto::{CONVERSATION_TYPE_GROUP, ELEM_TYPE_TEXT, MSG_STATUS_SENT};

    use super::*;

    const WAIT: Duration = Duration::from_millis(500);

    fn group_message(group: &str, seq: u64) -> Message {
        Message {
            msg_id: format!("{group}-{seq}"),
            timestamp: 1_700_000_000,
            seq,
            random: 0,
            sender: "alice".into(),
            user_id: None,
            group_id: Some(group.into()),
            is_self: false,
            is_read: false,
            is_peer_read: false,
            receipt_peer_read: false,
            need_read_receipt: false,
            has_sent_receipt: false,
            is_excluded_from_unread_count: false,
            elem_type: ELEM_TYPE_TEXT,
            text_elem: None,
            custom_elem: None,
            rich: Default::default(),
            msg_body: None,
            cloud_custom_data: String::new(),
            status: MSG_STATUS_SENT,
            is_revoked: false,
            revoker_info: None,
            revoke_reason: String::new(),
            group_at_user_list: Vec::new(),
            prev_seq: None,
            nick_name: String::new(),
            face_url: String::new(),
        }
    }

    fn msg(seq: u64) -> Message {
        group_message("g", seq)
    }

    fn c2c_message(peer: &str, seq: u64) -> Message {
        Message {
            user_id: Some(peer.into()),
            group_id: None,
            msg_id: format!("c2c-{peer}-{seq}"),
            ..msg(seq)
        }
    }

    fn group_conversation(group: &str, last: Option<u64>) -> Conversation {
        Conversation {
            conversation_id: format!("group_{group}"),
            conversation_type: CONVERSATION_TYPE_GROUP,
            user_id: None,
            group_id: Some(group.into()),
            group_type: Some("Work".into()),
            show_name: group.into(),
            unread_count: 0,
            c2c_read_timestamp: 0,
            group_read_sequence: 0,
            last_message: last.map(|seq| group_message(group, seq)),
            order_key: 0,
            group_at_info_list: Vec::new(),
        }
    }

    /// What was released, as `seq`s of messages and `(first, last)` of gaps.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        M(u64),
        Gap(u64, u64),
    }

    fn seen(out: Vec<Released>) -> Vec<Seen> {
        out.into_iter()
            .map(|r| match r {
                Released::Message(m) => Seen::M(m.seq),
                Released::Gap {
                    first_seq,
                    last_seq,
                    ..
                } => Seen::Gap(first_seq, last_seq),
            })
            .collect()
    }

    /// A conversation known from a catch-up to end at `last`.
    fn order_at(last: u64) -> MessageOrder {
        let mut order = MessageOrder::new(WAIT);
        let out = order.catch_up(
            &[group_conversation("g", Some(last))],
            false,
            Instant::now(),
        );
        assert_eq!(out, []);
        order
    }

    #[test]
    fn in_order_messages_pass_at_once() {
        let now = Instant::now();
        let mut order = order_at(0);
        assert_eq!(seen(order.offer(msg(1), now)), [Seen::M(1)]);
        assert_eq!(seen(order.offer(msg(2), now)), [Seen::M(2)]);
        assert_eq!(order.next_due(), None);
    }

    #[test]
    fn repeats_and_past_messages_are_dropped() {
        let now = Instant::now();
        let mut order = order_at(5);
        assert_eq!(seen(order.offer(msg(6), now)), [Seen::M(6)]);
        assert_eq!(seen(order.offer(msg(5), now)), []);
        assert_eq!(seen(order.offer(msg(6), now)), []);
        assert_eq!(seen(order.offer(msg(8), now)), []);
        assert_eq!(seen(order.offer(msg(8), now)), []);
        assert_eq!(seen(order.offer(msg(7), now)), [Seen::M(7), Seen::M(8)]);
    }

    #[test]
    fn an_overtaken_message_is_waited_for_then_filled_from_history() {
        let now = Instant::now();
        let mut order = order_at(3);
        assert_eq!(seen(order.offer(msg(6), now)), []);
        assert_eq!(order.next_due(), Some(now + WAIT));
        assert_eq!(order.take_due(now), []);
        let fills = order.take_due(now + WAIT);
        assert_eq!(
            fills,
            [Fill {
                conversation_id: "group_g".into(),
                below_seq: 6,
                before_msg_id: "g-6".into(),
                count: 2,
            }]
        );
        // In flight: not asked twice.
        assert_eq!(order.next_due(), None);
        assert_eq!(order.take_due(now + WAIT * 2), []);
        // History is newest first, and may reach further back than asked.
        let history = vec![msg(5), msg(4), msg(3)];
        assert_eq!(
            seen(order.filled("group_g", 6, FillAnswer::History(history), now + WAIT)),
            [Seen::M(4), Seen::M(5), Seen::M(6)]
        );
        assert_eq!(order.next_due(), None);
    }

    #[test]
    fn what_history_lacks_is_reported_and_the_rest_goes_on() {
        let now = Instant::now();
        let mut order = order_at(3);
        order.offer(msg(7), now);
        order.offer(msg(9), now);
        let fill = order.take_due(now + WAIT);
        assert_eq!(fill.len(), 1);
        assert_eq!((fill[0].below_seq, fill[0].count), (7, 3));
        // 4 and 6 exist; 5 was deleted. 8 is above the fill: it may still come.
        assert_eq!(
            seen(order.filled(
                "group_g",
                7,
                FillAnswer::History(vec![msg(6), msg(4)]),
                now + WAIT
            )),
            [Seen::M(4), Seen::Gap(5, 5), Seen::M(6), Seen::M(7)]
        );
        // The gap below 9 waits anew.
        assert_eq!(order.next_due(), Some(now + WAIT * 2));
        assert_eq!(seen(order.offer(msg(8), now)), [Seen::M(8), Seen::M(9)]);
    }

    #[test]
    fn a_refused_fill_skips_the_gap() {
        let now = Instant::now();
        let mut order = order_at(1);
        order.offer(msg(4), now);
        order.take_due(now + WAIT);
        assert_eq!(
            seen(order.filled("group_g", 4, FillAnswer::Refused, now)),
            [Seen::Gap(2, 3), Seen::M(4)]
        );
    }

    #[test]
    fn a_busy_server_is_asked_again_a_few_times() {
        let now = Instant::now();
        let mut order = order_at(1);
        order.offer(msg(3), now);
        let mut clock = now;
        for _ in 1..MAX_FILL_ATTEMPTS {
            clock += WAIT;
            assert_eq!(order.take_due(clock).len(), 1);
            assert_eq!(
                seen(order.filled("group_g", 3, FillAnswer::Retry, clock)),
                []
            );
            assert_eq!(order.next_due(), Some(clock + WAIT));
        }
        clock += WAIT;
        assert_eq!(order.take_due(clock).len(), 1);
        assert_eq!(
            seen(order.filled("group_g", 3, FillAnswer::Retry, clock)),
            [Seen::Gap(2, 2), Seen::M(3)]
        );
        // The next gap gets its own attempts, and an answer ends them.
        order.offer(msg(5), clock);
        clock += WAIT;
        assert_eq!(order.take_due(clock).len(), 1);
        order.filled("group_g", 5, FillAnswer::Retry, clock);
        clock += WAIT;
        assert_eq!(order.take_due(clock).len(), 1);
        assert_eq!(
            seen(order.filled("group_g", 5, FillAnswer::History(vec![msg(4)]), clock)),
            [Seen::M(4), Seen::M(5)]
        );
    }

    #[test]
    fn a_large_gap_is_filled_with_one_page_and_the_rest_reported() {
        let now = Instant::now();
        let mut order = order_at(0);
        order.offer(msg(500), now);
        let fill = order.take_due(now + WAIT);
        assert_eq!((fill[0].below_seq, fill[0].count), (500, MAX_FILL));
        let page: Vec<Message> = (400..500).rev().map(msg).collect();
        let out = seen(order.filled("group_g", 500, FillAnswer::History(page), now));
        assert_eq!(out[0], Seen::Gap(1, 399));
        assert_eq!(out.len(), 102);
        assert_eq!(out[101], Seen::M(500));
    }

    #[test]
    fn a_catch_up_that_shows_missed_messages_fills_them_at_once() {
        let now = Instant::now();
        let mut order = order_at(2);
        assert_eq!(seen(order.offer(msg(3), now)), [Seen::M(3)]);
        // Disconnected meanwhile; the conversation now ends at 6.
        let later = now + Duration::from_secs(60);
        assert_eq!(
            seen(order.baseline(&group_conversation("g", Some(6)), later)),
            []
        );
        let fill = order.take_due(later);
        assert_eq!((fill[0].below_seq, fill[0].count), (6, 2));
        assert_eq!(
            seen(order.filled(
                "group_g",
                6,
                FillAnswer::History(vec![msg(5), msg(4)]),
                later
            )),
            [Seen::M(4), Seen::M(5), Seen::M(6)]
        );
        // A catch-up showing nothing new changes nothing.
        assert_eq!(
            seen(order.baseline(&group_conversation("g", Some(6)), later)),
            []
        );
        assert_eq!(order.next_due(), None);
    }

    #[test]
    fn an_untracked_conversation_starts_at_its_first_message() {
        let now = Instant::now();
        let mut order = MessageOrder::new(WAIT);
        assert_eq!(seen(order.offer(msg(40), now)), [Seen::M(40)]);
        // A C2C conversation too, until every conversation is known.
        assert_eq!(seen(order.offer(c2c_message("bob", 3), now)), [Seen::M(3)]);
        // Then a new C2C conversation starts at 1: an overtaken first message is waited for.
        assert_eq!(order.catch_up(&[], true, now), []);
        assert_eq!(seen(order.offer(c2c_message("carol", 2), now)), []);
        assert_eq!(
            seen(order.offer(c2c_message("carol", 1), now)),
            [Seen::M(1), Seen::M(2)]
        );
        // Groups joined later still start at their first message.
        assert_eq!(seen(order.offer(group_message("h", 9), now)), [Seen::M(9)]);
    }

    #[test]
    fn a_push_later_than_the_catch_up_read_is_still_new() {
        let now = Instant::now();
        // The catch-up saw the conversation end at 7; 7's push comes after it.
        let mut order = order_at(7);
        assert_eq!(seen(order.offer(msg(7), now)), [Seen::M(7)]);
        assert_eq!(seen(order.offer(msg(7), now)), []);
        assert_eq!(seen(order.offer(msg(8), now)), [Seen::M(8)]);
        // Once a message was handed over, the catch-up's end no longer lowers anything.
        let mut order = order_at(7);
        assert_eq!(seen(order.offer(msg(9), now)), []);
        assert_eq!(seen(order.offer(msg(8), now)), [Seen::M(8), Seen::M(9)]);
        assert_eq!(seen(order.offer(msg(6), now)), []);
    }

    #[test]
    fn a_group_joined_while_connected_starts_where_the_user_joined() {
        let now = Instant::now();
        let mut order = MessageOrder::new(WAIT);
        order.set_complete(true);
        order.joined("group_g");
        // Disconnected before any message came; the catch-up shows 3 messages since joining at 2.
        let conversation = Conversation {
            group_read_sequence: 2,
            ..group_conversation("g", Some(5))
        };
        assert_eq!(seen(order.baseline(&conversation, now)), []);
        let fill = order.take_due(now);
        assert_eq!((fill[0].below_seq, fill[0].count), (5, 2));
        assert_eq!(
            seen(order.filled(
                "group_g",
                5,
                FillAnswer::History(vec![msg(4), msg(3), msg(2)]),
                now
            )),
            [Seen::M(3), Seen::M(4), Seen::M(5)]
        );
        // Without the join, a conversation first seen in a catch-up starts after its last message.
        let mut order = MessageOrder::new(WAIT);
        assert_eq!(seen(order.baseline(&conversation, now)), []);
        assert_eq!(order.take_due(now), []);
    }

    #[test]
    fn online_only_messages_pass_unordered() {
        let now = Instant::now();
        let mut order = order_at(1);
        order.offer(msg(3), now);
        assert_eq!(seen(order.offer(msg(0), now)), [Seen::M(0)]);
    }

    #[test]
    fn lost_fills_are_asked_again() {
        let now = Instant::now();
        let mut order = order_at(1);
        order.offer(msg(3), now);
        assert_eq!(order.take_due(now + WAIT).len(), 1);
        let later = now + WAIT * 3;
        order.fills_lost(later);
        assert_eq!(order.next_due(), Some(later));
        assert_eq!(order.take_due(later).len(), 1);
        // A late answer to the lost request is still welcome.
        assert_eq!(
            seen(order.filled("group_g", 3, FillAnswer::History(vec![msg(2)]), later)),
            [Seen::M(2), Seen::M(3)]
        );
    }

    #[test]
    fn forgetting_a_conversation_hands_over_what_it_held() {
        let now = Instant::now();
        let mut order = order_at(1);
        order.offer(msg(3), now);
        order.offer(msg(4), now);
        assert_eq!(
            seen(order.forget("group_g")),
            [Seen::Gap(2, 2), Seen::M(3), Seen::M(4)]
        );
        assert_eq!(order.next_due(), None);
        assert_eq!(seen(order.offer(msg(9), now)), [Seen::M(9)]);
    }

    #[test]
    fn too_many_held_messages_make_the_fill_due_at_once() {
        let now = Instant::now();
        let mut order = order_at(0);
        for seq in 2..=(MAX_HELD as u64 + 1) {
            order.offer(msg(seq), now);
        }
        assert_eq!(order.next_due(), Some(now));
    }

    #[test]
    fn tracked_conversations_are_bounded() {
        let now = Instant::now();
        let mut order = MessageOrder::new(WAIT);
        order.set_complete(true);
        for i in 0..MAX_CONVERSATIONS {
            order.offer(group_message(&format!("g{i}"), 1), now);
        }
        assert_eq!(order.tracked(), MAX_CONVERSATIONS);
        order.offer(group_message("g0", 2), now); // g1 is now unused longest
        order.offer(group_message("new", 1), now);
        assert_eq!(order.tracked(), MAX_CONVERSATIONS);
        // g1 was forgotten: it starts again from its next message.
        assert_eq!(seen(order.offer(group_message("g1", 5), now)), [Seen::M(5)]);
        // Having forgotten one, a new C2C conversation no longer counts as starting at 1.
        assert_eq!(seen(order.offer(c2c_message("dave", 4), now)), [Seen::M(4)]);
        // Nor after a whole catch-up that had to forget some to make room.
        let many: Vec<Conversation> = (0..=MAX_CONVERSATIONS)
            .map(|i| group_conversation(&format!("h{i}"), Some(1)))
            .collect();
        assert_eq!(order.catch_up(&many, true, now), []);
        assert_eq!(seen(order.offer(c2c_message("erin", 4), now)), [Seen::M(4)]);
    }

    #[test]
    fn a_message_after_sequences_for_others_passes_at_once() {
        let now = Instant::now();
        let mut order = order_at(1);
        let skipping = |seq, prev| Message {
            prev_seq: Some(prev),
            ..msg(seq)
        };
        // 2 and 3 were targeted messages for others.
        assert_eq!(seen(order.offer(skipping(4, 1), now)), [Seen::M(4)]);
        assert_eq!(order.next_due(), None, "nothing is waited for");
        // A message whose predecessor is missing still waits, and its fill asks for what is
        // missing only: seq 6 (7 was for others).
        assert_eq!(seen(order.offer(skipping(8, 6), now)), []);
        let fills = order.take_due(now + WAIT);
        assert_eq!(fills.len(), 1);
        assert_eq!((fills[0].below_seq, fills[0].count), (8, 2));
        let history = vec![skipping(6, 4), msg(5)];
        assert_eq!(
            seen(order.filled("group_g", 8, FillAnswer::History(history), now + WAIT)),
            [Seen::M(5), Seen::M(6), Seen::M(8)]
        );
        // History without the missing one: the gap is what this user missed, 9 to 10 (11 was
        // for others).
        assert_eq!(seen(order.offer(skipping(12, 10), now)), []);
        let fill = order.take_due(now + WAIT * 2).remove(0);
        assert_eq!(
            seen(order.filled(
                "group_g",
                fill.below_seq,
                FillAnswer::History(Vec::new()),
                now
            )),
            [Seen::Gap(9, 10), Seen::M(12)]
        );
        // A catch-up whose last message skips sequences: nothing to fill.
        let mut order = order_at(12);
        let conversation = Conversation {
            last_message: Some(skipping(15, 12)),
            ..group_conversation("g", None)
        };
        assert_eq!(
            seen(order.catch_up(&[conversation], false, now)),
            [Seen::M(15)]
        );
        assert_eq!(order.next_due(), None);
    }

    /// Per message of `1..=n`: a random key (pushes arrive sorted by it), whether its push
    /// arrives twice, and whether it is lost; and per message whether history lacks it (such a
    /// message is deleted before its push is published, so no push brings it either).
    fn arrivals() -> impl Strategy<Value = (Vec<(u32, bool, bool)>, Vec<bool>)> {
        (1usize..60).prop_flat_map(|n| {
            (
                proptest::collection::vec(
                    (any::<u32>(), any::<bool>(), prop::bool::weighted(0.2)),
                    n,
                ),
                proptest::collection::vec(prop::bool::weighted(0.1), n),
            )
        })
    }

    proptest! {
        /// Whatever the order, repeats and losses of pushes, with fills answered from a history
        /// missing some messages: the app sees every message once, in order, and a gap exactly
        /// where a message is in neither.
        #[test]
        fn output_is_the_sequence_in_order((arrivals, deleted) in arrivals(), wait_ms in 0u64..3) {
            let n = arrivals.len() as u64;
            let mut order = order_at(0);
            let mut clock = Instant::now();
            let mut stream: Vec<(u32, u64)> = Vec::new();
            for (i, &(key, repeat, lost)) in arrivals.iter().enumerate() {
                let seq = i as u64 + 1;
                if !lost && !deleted[i] {
                    stream.push((key, seq));
                    if repeat {
                        stream.push((key.rotate_left(7), seq));
                    }
                }
            }
            stream.sort_unstable();
            let history = |below: u64, count: u32| -> Vec<Message> {
                (1..below)
                    .rev()
                    .filter(|&s| !deleted[(s - 1) as usize])
                    .take(count as usize)
                    .map(msg)
                    .collect()
            };
            let pushed: std::collections::HashSet<u64> = stream.iter().map(|&(_, s)| s).collect();
            let mut out = Vec::new();
            let step = |order: &mut MessageOrder, clock: Instant, out: &mut Vec<Seen>| {
                for fill in order.take_due(clock) {
                    let page = history(fill.below_seq, fill.count);
                    out.extend(seen(order.filled(&fill.conversation_id, fill.below_seq, FillAnswer::History(page), clock)));
                }
            };
            for (_, seq) in stream {
                out.extend(seen(order.offer(msg(seq), clock)));
                clock += Duration::from_millis(wait_ms * 200);
                step(&mut order, clock, &mut out);
            }
            // Then time passes: every gap is filled, one after another.
            for _ in 0..=n {
                let Some(due) = order.next_due() else { break };
                clock = clock.max(due);
                step(&mut order, clock, &mut out);
            }
            prop_assert_eq!(order.next_due(), None);
            let top = pushed.iter().copied().max().unwrap_or(0);
            let mut expected = Vec::new();
            let mut gap: Option<(u64, u64)> = None;
            for seq in 1..=top {
                if !deleted[(seq - 1) as usize] {
                    if let Some((first, last)) = gap.take() {
                        expected.push(Seen::Gap(first, last));
                    }
                    expected.push(Seen::M(seq));
                } else {
                    gap = Some(gap.map_or((seq, seq), |(first, _)| (first, seq)));
                }
            }
            prop_assert_eq!(out, expected);
            prop_assert!(top <= n);
        }

        /// Sequences of targeted messages for others (never pushed, not in this user's history)
        /// are skipped by the `prevSeq` of the next message: whatever the order, repeats and
        /// losses of the other pushes, the app sees every message of its own once, in order, and
        /// no gap.
        #[test]
        fn hidden_sequences_are_skipped_without_a_gap((arrivals, hidden) in arrivals(), wait_ms in 0u64..3) {
            let n = arrivals.len() as u64;
            let visible = |seq: u64| !hidden[(seq - 1) as usize];
            let message = |seq: u64| {
                let prev = (1..seq).rev().find(|&s| visible(s)).unwrap_or(0);
                Message {
                    prev_seq: (prev + 1 != seq).then_some(prev),
                    ..msg(seq)
                }
            };
            let mut order = order_at(0);
            let mut clock = Instant::now();
            let mut stream: Vec<(u32, u64)> = Vec::new();
            for (i, &(key, repeat, lost)) in arrivals.iter().enumerate() {
                let seq = i as u64 + 1;
                if !lost && visible(seq) {
                    stream.push((key, seq));
                    if repeat {
                        stream.push((key.rotate_left(7), seq));
                    }
                }
            }
            stream.sort_unstable();
            let history = |below: u64, count: u32| -> Vec<Message> {
                (1..below)
                    .rev()
                    .filter(|&s| visible(s))
                    .take(count as usize)
                    .map(message)
                    .collect()
            };
            let top = stream.iter().map(|&(_, s)| s).max().unwrap_or(0);
            let mut out = Vec::new();
            let step = |order: &mut MessageOrder, clock: Instant, out: &mut Vec<Seen>| {
                for fill in order.take_due(clock) {
                    let page = history(fill.below_seq, fill.count);
                    out.extend(seen(order.filled(&fill.conversation_id, fill.below_seq, FillAnswer::History(page), clock)));
                }
            };
            for (_, seq) in stream {
                out.extend(seen(order.offer(message(seq), clock)));
                clock += Duration::from_millis(wait_ms * 200);
                step(&mut order, clock, &mut out);
            }
            for _ in 0..=n {
                let Some(due) = order.next_due() else { break };
                clock = clock.max(due);
                step(&mut order, clock, &mut out);
            }
            prop_assert_eq!(order.next_due(), None);
            let expected: Vec<Seen> = (1..=top).filter(|&s| visible(s)).map(Seen::M).collect();
            prop_assert_eq!(out, expected);
        }
    }
}
