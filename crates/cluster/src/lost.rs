//! Deliveries that never reached the other nodes, and the notice that makes up for them.
//!
//! A delivery the bus could not take (too many waiting, or NATS refused it) was handed to this
//! node's sessions but to no other node's. Its users are remembered here; once the waiting
//! deliveries are out, one notice on `tidings.<sdkappid>.catch_up` names them, and every other
//! node closes their sessions, so their clients reconnect and catch up from the store instead
//! of missing a push silently. Past [`MAX_LOST_USERS`] users the notice names everyone.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use tidings_service::{Delivery, Hub};

/// Users remembered by name; past this many, every session of the other nodes is closed.
pub(crate) const MAX_LOST_USERS: usize = 10_000;

/// The users whose deliveries did not reach the bus since the last notice.
#[derive(Debug, Default)]
pub(crate) struct Lost {
    users: HashSet<String>,
    everyone: bool,
}

/// What the other nodes are told: these users' sessions (all when `users` is None) may have
/// missed pushes.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CatchUp {
    /// The node whose deliveries were lost; its own sessions got them.
    pub origin: String,
    /// The users, or None for everyone.
    pub users: Option<Vec<String>>,
}

impl Lost {
    /// Remembers the users of a delivery that did not reach the bus.
    pub(crate) fn record(&mut self, delivery: &Delivery) {
        let users = match delivery {
            Delivery::Push { users, .. } => users.as_slice(),
            Delivery::Kick { user, .. } => std::slice::from_ref(user),
        };
        self.add(users);
    }

    fn add(&mut self, users: &[String]) {
        if self.everyone {
            return;
        }
        for user in users {
            if self.users.len() >= MAX_LOST_USERS {
                self.everyone = true;
                self.users = HashSet::new();
                return;
            }
            self.users.insert(user.clone());
        }
    }

    /// The notice for what was remembered (None when nothing was), which is forgotten.
    pub(crate) fn take_notice(&mut self, origin: &str) -> Option<CatchUp> {
        if !self.everyone && self.users.is_empty() {
            return None;
        }
        let users = (!std::mem::take(&mut self.everyone))
            .then(|| std::mem::take(&mut self.users).into_iter().collect());
        Some(CatchUp {
            origin: origin.to_owned(),
            users,
        })
    }

    /// Remembers again a notice that could not be published.
    pub(crate) fn restore(&mut self, notice: CatchUp) {
        match notice.users {
            Some(users) => self.add(&users),
            None => {
                self.everyone = true;
                self.users = HashSet::new();
            }
        }
    }
}

/// Applies another node's notice to this node's sessions.
pub(crate) fn apply(notice: &CatchUp, me: &str, hub: &Hub) {
    if notice.origin == me {
        return;
    }
    match &notice.users {
        Some(users) => {
            tracing::warn!(origin = %notice.origin, users = users.len(), "pushes of another node were lost; closing those users' sessions so that they catch up");
            hub.drop_users(users);
        }
        None => {
            tracing::warn!(origin = %notice.origin, "pushes of another node were lost; closing every session so that clients catch up");
            hub.drop_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kick(user: &str) -> Delivery {
        Delivery::Kick {
            user: user.into(),
            reason: String::new(),
        }
    }

    #[test]
    fn a_notice_names_each_lost_user_once_then_nothing_is_left() {
        let mut lost = Lost::default();
        assert_eq!(lost.take_notice("n1"), None);
        lost.record(&kick("bob"));
        lost.record(&kick("alice"));
        lost.record(&kick("bob"));
        let mut notice = lost.take_notice("n1").expect("a notice");
        notice.users.as_mut().expect("named users").sort();
        assert_eq!(
            notice,
            CatchUp {
                origin: "n1".into(),
                users: Some(vec!["alice".into(), "bob".into()])
            }
        );
        assert_eq!(lost.take_notice("n1"), None);
        lost.restore(notice);
        assert_eq!(
            lost.take_notice("n1")
                .and_then(|n| n.users)
                .map(|u| u.len()),
            Some(2)
        );
    }

    #[test]
    fn past_the_cap_the_notice_names_everyone() {
        let mut lost = Lost::default();
        for i in 0..=MAX_LOST_USERS {
            lost.record(&kick(&format!("user{i}")));
        }
        lost.record(&kick("one more"));
        assert_eq!(
            lost.take_notice("n1"),
            Some(CatchUp {
                origin: "n1".into(),
                users: None
            })
        );
        assert_eq!(lost.take_notice("n1"), None);
    }
}
