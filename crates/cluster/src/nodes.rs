//! The other nodes of the cluster: who is alive (each node announces itself every second on
//! `tidings.<sdkappid>.nodes`), and which users they hold a session of (asked on
//! `tidings.<sdkappid>.presence`, every node answering for its own hub).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tidings_service::Hub;
use tokio::time::Instant;

/// How often a node announces itself.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);

/// A node not heard from for this long counts as gone.
const GONE_AFTER: Duration = Duration::from_secs(3);

/// Longest a presence question waits for the nodes alive to answer.
pub(crate) const ANSWER_WAIT: Duration = Duration::from_millis(500);

#[derive(Serialize, Deserialize)]
struct Question {
    users: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    node: String,
    online: Vec<String>,
}

/// This node's view of the others.
pub(crate) struct Nodes {
    client: async_nats::Client,
    presence: String,
    me: Arc<str>,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Nodes {
    /// Starts announcing this node, following the others' announcements, and answering their
    /// presence questions from `hub`.
    pub(crate) async fn start(
        client: async_nats::Client,
        sdkappid: u64,
        me: Arc<str>,
        hub: Arc<Hub>,
    ) -> Result<Self, async_nats::SubscribeError> {
        let announcements = format!("tidings.{sdkappid}.nodes");
        let presence = format!("tidings.{sdkappid}.presence");
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let mut heard = client.subscribe(announcements.clone()).await?;
        let mut questions = client.subscribe(presence.clone()).await?;
        let (followed, myself) = (Arc::clone(&seen), Arc::clone(&me));
        let (greeter, subject) = (client.clone(), announcements.clone());
        tokio::spawn(async move {
            while let Some(message) = heard.next().await {
                let node = String::from_utf8_lossy(&message.payload).into_owned();
                if *node == *myself {
                    continue;
                }
                let new = lock(&followed).insert(node, Instant::now()).is_none();
                // A node just started knows nobody yet: answer its first announcement with ours
                // rather than let it wait for our next one.
                if new {
                    let payload = myself.as_bytes().to_vec();
                    let _ = greeter.publish(subject.clone(), payload.into()).await;
                }
            }
        });
        let (announcer, name) = (client.clone(), Arc::clone(&me));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ANNOUNCE_EVERY);
            loop {
                every.tick().await;
                let payload = name.as_bytes().to_vec();
                if let Err(e) = announcer
                    .publish(announcements.clone(), payload.into())
                    .await
                {
                    tracing::debug!(error = %e, "node announcement not sent");
                }
            }
        });
        let (answerer, name) = (client.clone(), Arc::clone(&me));
        tokio::spawn(async move {
            while let Some(message) = questions.next().await {
                let (Some(reply), Ok(question)) = (
                    message.reply,
                    serde_json::from_slice::<Question>(&message.payload),
                ) else {
                    continue;
                };
                let online = question
                    .users
                    .into_iter()
                    .filter(|user| hub.is_online(user))
                    .collect();
                let answer = Answer {
                    node: name.to_string(),
                    online,
                };
                if let Ok(payload) = serde_json::to_vec(&answer) {
                    let _ = answerer.publish(reply, payload.into()).await;
                }
            }
        });
        Ok(Self {
            client,
            presence,
            me,
            seen,
        })
    }

    /// The other nodes heard from lately.
    fn alive(&self) -> HashSet<String> {
        let mut seen = lock(&self.seen);
        seen.retain(|_, at| at.elapsed() < GONE_AFTER);
        seen.keys().cloned().collect()
    }

    /// The node that coalesces the group receipt notifications of `sender`: the winner of
    /// rendezvous hashing over this node and the others alive, so every node with the same
    /// view picks the same one, and a node joining or leaving moves only the senders it wins
    /// or won.
    pub(crate) fn owner_of(&self, sender: &str) -> Arc<str> {
        let seen = lock(&self.seen);
        let alive = seen
            .iter()
            .filter(|(_, at)| at.elapsed() < GONE_AFTER)
            .map(|(node, _)| node.as_str());
        let winner = rendezvous(std::iter::once(&*self.me).chain(alive), sender);
        if winner == &*self.me {
            Arc::clone(&self.me)
        } else {
            winner.into()
        }
    }

    /// The users among `users` that other nodes alive hold a session of.
    pub(crate) async fn online_elsewhere(&self, users: &[String]) -> HashSet<String> {
        let mut waiting = self.alive();
        let mut online = HashSet::new();
        if waiting.is_empty() {
            return online;
        }
        let Ok(payload) = serde_json::to_vec(&Question {
            users: users.to_vec(),
        }) else {
            return online;
        };
        let inbox = self.client.new_inbox();
        let Ok(mut answers) = self.client.subscribe(inbox.clone()).await else {
            return online;
        };
        let asked = self
            .client
            .publish_with_reply(self.presence.clone(), inbox, payload.into())
            .await;
        if asked.is_err() {
            return online;
        }
        let deadline = Instant::now() + ANSWER_WAIT;
        while !waiting.is_empty() {
            let Ok(Some(message)) = tokio::time::timeout_at(deadline, answers.next()).await else {
                tracing::debug!(missing = ?waiting, "presence: not every node answered");
                break;
            };
            if let Ok(answer) = serde_json::from_slice::<Answer>(&message.payload)
                && answer.node != *self.me
            {
                waiting.remove(&answer.node);
                online.extend(answer.online);
            }
        }
        online
    }
}

/// The node among `nodes` with the highest score for `key` (ties, which need a hash collision,
/// go to the greater name). SipHash with fixed keys: the same on every node, platform and
/// release.
fn rendezvous<'a>(nodes: impl Iterator<Item = &'a str>, key: &str) -> &'a str {
    use std::hash::Hasher;
    let score = |node: &str| {
        let mut hasher = siphasher::sip::SipHasher13::new_with_keys(0, 0);
        hasher.write(node.as_bytes());
        hasher.write_u8(0xff); // no node name is a prefix of another's input
        hasher.write(key.as_bytes());
        hasher.finish()
    };
    nodes
        .map(|node| (score(node), node))
        .max()
        .map_or("", |(_, node)| node)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::rendezvous;

    #[test]
    fn every_view_of_the_same_nodes_picks_the_same_owner() {
        let senders: Vec<String> = (0..1000).map(|i| format!("user{i}")).collect();
        for sender in &senders {
            let one = rendezvous(["n1", "n2", "n3"].into_iter(), sender);
            let other = rendezvous(["n3", "n1", "n2"].into_iter(), sender);
            assert_eq!(one, other);
        }
        let owned_by = |node: &str| {
            senders
                .iter()
                .filter(|s| rendezvous(["n1", "n2", "n3"].into_iter(), s) == node)
                .count()
        };
        // Spread: each of three nodes owns a fair share of 1,000 senders.
        for node in ["n1", "n2", "n3"] {
            assert!(
                (200..=466).contains(&owned_by(node)),
                "{node}: {}",
                owned_by(node)
            );
        }
    }

    #[test]
    fn a_node_leaving_moves_only_the_senders_it_owned() {
        for i in 0..1000 {
            let sender = format!("user{i}");
            let before = rendezvous(["n1", "n2", "n3"].into_iter(), &sender);
            let after = rendezvous(["n1", "n2"].into_iter(), &sender);
            if before != "n3" {
                assert_eq!(before, after, "{sender}");
            }
        }
    }
}
