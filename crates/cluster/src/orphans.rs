//! Receipt notes forwarded lately, kept until their owner has surely lived past them.
//!
//! A node killed without a goodbye is counted gone only once its announcements have stopped
//! for a while (`nodes.rs`); the notes it was sent meanwhile died with it, and their senders'
//! last counts would never be pushed. So each forwarding node keeps what it sent to each owner
//! for [`KEEP`], and when an owner is counted gone hands its notes to the new owner, which pushes
//! the counts committed by then (a count pushed twice is harmless: counts never go down).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tidings_service::ReceiptNote;
use tokio::time::Instant;

use crate::nodes::{ANNOUNCE_EVERY, GONE_AFTER};

/// How long a forwarded note is kept: the longest a dead owner may still count as alive, with
/// room for one more check.
pub(crate) const KEEP: Duration = GONE_AFTER
    .saturating_add(ANNOUNCE_EVERY)
    .saturating_add(ANNOUNCE_EVERY);

/// The notes forwarded to each owner within [`KEEP`], each message once (its latest sending).
#[derive(Debug, Default)]
pub(crate) struct Forwarded {
    by_owner: HashMap<Arc<str>, HashMap<String, (Instant, ReceiptNote)>>,
}

impl Forwarded {
    /// Remembers that `notes` went to `owner` at `at`.
    pub(crate) fn record(&mut self, owner: &Arc<str>, notes: &[ReceiptNote], at: Instant) {
        let kept = self.by_owner.entry(Arc::clone(owner)).or_default();
        for note in notes {
            kept.insert(note.msg_id.clone(), (at, note.clone()));
        }
    }

    /// Forgets notes older than [`KEEP`] at `now`, and takes every note of the owners that
    /// `alive` says are gone.
    pub(crate) fn take_orphans(
        &mut self,
        now: Instant,
        alive: impl Fn(&str) -> bool,
    ) -> Vec<ReceiptNote> {
        let mut orphans = Vec::new();
        self.by_owner.retain(|owner, notes| {
            if !alive(owner) {
                orphans.extend(notes.drain().map(|(_, (_, note))| note));
                return false;
            }
            notes.retain(|_, (at, _)| now.duration_since(*at) < KEEP);
            !notes.is_empty()
        });
        orphans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(msg_id: &str) -> ReceiptNote {
        ReceiptNote {
            msg_id: msg_id.into(),
            group_id: "g".into(),
            sender: "alice".into(),
        }
    }

    fn ids(mut notes: Vec<ReceiptNote>) -> Vec<String> {
        notes.sort_by(|a, b| a.msg_id.cmp(&b.msg_id));
        notes.into_iter().map(|n| n.msg_id).collect()
    }

    #[test]
    fn notes_of_an_owner_counted_gone_are_taken_once_and_old_ones_forgotten() {
        let start = Instant::now();
        let (n1, n2): (Arc<str>, Arc<str>) = ("n1".into(), "n2".into());
        let mut forwarded = Forwarded::default();
        forwarded.record(&n1, &[note("m1"), note("m2")], start);
        forwarded.record(&n1, &[note("m1")], start + Duration::from_secs(2));
        forwarded.record(&n2, &[note("m3")], start);

        // Everyone alive: nothing taken; past KEEP, m2 and m3 are forgotten, m1 (sent again
        // later) is kept.
        let later = start + KEEP + Duration::from_millis(500);
        assert!(forwarded.take_orphans(later, |_| true).is_empty());
        // n1 is gone now: its note still kept goes to a new owner, once.
        assert_eq!(
            ids(forwarded.take_orphans(later, |node| node != "n1")),
            ["m1"]
        );
        assert!(forwarded.take_orphans(later, |_| false).is_empty());
    }
}
