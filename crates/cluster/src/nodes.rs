//! The other nodes of the cluster: who is alive (each node announces itself every second on
//! `tidings.<sdkappid>.nodes`), and what they hold, asked of all of them at once, every node
//! answering for its own hub: which users have a session (`tidings.<sdkappid>.presence`), and a
//! user's sessions with their login times (`tidings.<sdkappid>.sessions`). One session of
//! another node is logged out on `tidings.<sdkappid>.kick.<node>`, where only that node
//! listens.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tidings_service::{Hub, SessionId};
use tokio::time::Instant;

/// How often a node announces itself.
pub(crate) const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);

/// A node not heard from for this long counts as gone.
pub(crate) const GONE_AFTER: Duration = Duration::from_secs(3);

/// Longest a question waits for the nodes alive to answer.
pub(crate) const ANSWER_WAIT: Duration = Duration::from_millis(500);

/// How a node that stops says so on the announcements subject, before its name (a node ID has
/// no `:`).
const LEAVING: &str = "leaving:";

/// A node's answer to a question asked of every node.
#[derive(Serialize, Deserialize)]
struct Answer<T> {
    node: String,
    answer: T,
}

/// Log out one session of this node.
#[derive(Serialize, Deserialize)]
struct Kick {
    user: String,
    session: SessionId,
    reason: String,
}

/// This node's view of the others.
#[derive(Clone)]
pub(crate) struct Nodes {
    client: async_nats::Client,
    sdkappid: u64,
    me: Arc<str>,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    /// Set when this node stops: it announces itself no more.
    leaving: Arc<std::sync::atomic::AtomicBool>,
}

impl Nodes {
    /// Starts announcing this node, following the others' announcements, and answering their
    /// questions from `hub`.
    pub(crate) async fn start(
        client: async_nats::Client,
        sdkappid: u64,
        me: Arc<str>,
        hub: Arc<Hub>,
    ) -> Result<Self, async_nats::SubscribeError> {
        let announcements = format!("tidings.{sdkappid}.nodes");
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let mut heard = client.subscribe(announcements.clone()).await?;
        let leaving = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (followed, myself) = (Arc::clone(&seen), Arc::clone(&me));
        let (greeter, subject) = (client.clone(), announcements.clone());
        let stopping = Arc::clone(&leaving);
        tokio::spawn(async move {
            while let Some(message) = heard.next().await {
                let node = String::from_utf8_lossy(&message.payload).into_owned();
                if *node == *myself {
                    continue;
                }
                if let Some(gone) = node.strip_prefix(LEAVING) {
                    lock(&followed).remove(gone);
                    continue;
                }
                let new = lock(&followed).insert(node, Instant::now()).is_none();
                // A node just started knows nobody yet: answer its first announcement with ours
                // rather than let it wait for our next one.
                if new && !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    let payload = myself.as_bytes().to_vec();
                    let _ = greeter.publish(subject.clone(), payload.into()).await;
                }
            }
        });
        let (announcer, name) = (client.clone(), Arc::clone(&me));
        let stopping = Arc::clone(&leaving);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ANNOUNCE_EVERY);
            loop {
                every.tick().await;
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let payload = name.as_bytes().to_vec();
                if let Err(e) = announcer
                    .publish(announcements.clone(), payload.into())
                    .await
                {
                    tracing::debug!(error = %e, "node announcement not sent");
                }
            }
        });
        let this = Self {
            client,
            sdkappid,
            me,
            seen,
            leaving,
        };
        let online = Arc::clone(&hub);
        this.answer("presence", move |users: Vec<String>| -> Vec<String> {
            users.into_iter().filter(|u| online.is_online(u)).collect()
        })
        .await?;
        let sessions = Arc::clone(&hub);
        this.answer("sessions", move |user: String| sessions.sessions_of(&user))
            .await?;
        let mut kicks = this
            .client
            .subscribe(format!("tidings.{sdkappid}.kick.{}", this.me))
            .await?;
        tokio::spawn(async move {
            while let Some(message) = kicks.next().await {
                if let Ok(kick) = serde_json::from_slice::<Kick>(&message.payload) {
                    hub.kick_session(&kick.user, kick.session, &kick.reason);
                }
            }
        });
        Ok(this)
    }

    /// Tells the other nodes that this one stops, so that they count it gone at once (they
    /// route no more receipt notes to it and ask it nothing), and stops announcing it.
    pub(crate) async fn leave(&self) {
        self.leaving
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let subject = format!("tidings.{}.nodes", self.sdkappid);
        let payload = format!("{LEAVING}{}", self.me).into_bytes();
        let told = async {
            self.client
                .publish(subject, payload.into())
                .await
                .map_err(|e| e.to_string())?;
            self.client.flush().await.map_err(|e| e.to_string())
        };
        // Bounded: with the bus away, stopping must not wait for it.
        match tokio::time::timeout(ANSWER_WAIT, told).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the other nodes were not told that this one stops")
            }
            Err(_) => tracing::warn!("the other nodes were not told in time that this one stops"),
        }
    }

    /// Answers the questions other nodes ask on `tidings.<sdkappid>.<topic>` with `reply`.
    async fn answer<Q, A>(
        &self,
        topic: &str,
        reply: impl Fn(Q) -> A + Send + 'static,
    ) -> Result<(), async_nats::SubscribeError>
    where
        Q: DeserializeOwned + Send + 'static,
        A: Serialize + Send + 'static,
    {
        let mut questions = self
            .client
            .subscribe(format!("tidings.{}.{topic}", self.sdkappid))
            .await?;
        let (answerer, name) = (self.client.clone(), Arc::clone(&self.me));
        tokio::spawn(async move {
            while let Some(message) = questions.next().await {
                let (Some(inbox), Ok(question)) =
                    (message.reply, serde_json::from_slice::<Q>(&message.payload))
                else {
                    continue;
                };
                let answer = Answer {
                    node: name.to_string(),
                    answer: reply(question),
                };
                if let Ok(payload) = serde_json::to_vec(&answer) {
                    let _ = answerer.publish(inbox, payload.into()).await;
                }
            }
        });
        Ok(())
    }

    /// Asks every other node alive `question` on `tidings.<sdkappid>.<topic>`, and returns the
    /// answers that came within [`ANSWER_WAIT`], by node.
    async fn ask<Q: Serialize, A: DeserializeOwned>(
        &self,
        topic: &str,
        question: &Q,
    ) -> Vec<(String, A)> {
        let mut waiting = self.alive();
        let mut answers = Vec::new();
        if waiting.is_empty() {
            return answers;
        }
        let Ok(payload) = serde_json::to_vec(question) else {
            return answers;
        };
        let inbox = self.client.new_inbox();
        let Ok(mut replies) = self.client.subscribe(inbox.clone()).await else {
            return answers;
        };
        let asked = self
            .client
            .publish_with_reply(
                format!("tidings.{}.{topic}", self.sdkappid),
                inbox,
                payload.into(),
            )
            .await;
        if asked.is_err() {
            return answers;
        }
        let deadline = Instant::now() + ANSWER_WAIT;
        while !waiting.is_empty() {
            let Ok(Some(message)) = tokio::time::timeout_at(deadline, replies.next()).await else {
                tracing::debug!(topic, missing = ?waiting, "not every node answered");
                break;
            };
            if let Ok(answer) = serde_json::from_slice::<Answer<A>>(&message.payload)
                && answer.node != *self.me
            {
                waiting.remove(&answer.node);
                answers.push((answer.node, answer.answer));
            }
        }
        answers
    }

    /// The other nodes heard from lately.
    fn alive(&self) -> HashSet<String> {
        let mut seen = lock(&self.seen);
        seen.retain(|_, at| at.elapsed() < GONE_AFTER);
        seen.keys().cloned().collect()
    }

    /// Whether `node` (another node) was heard from lately.
    pub(crate) fn is_alive(&self, node: &str) -> bool {
        lock(&self.seen)
            .get(node)
            .is_some_and(|at| at.elapsed() < GONE_AFTER)
    }

    /// The users among `users` that other nodes alive hold a session of.
    pub(crate) async fn online_elsewhere(&self, users: &[String]) -> HashSet<String> {
        self.ask::<_, Vec<String>>("presence", &users)
            .await
            .into_iter()
            .flat_map(|(_, online)| online)
            .collect()
    }

    /// The sessions of `user` on the other nodes alive: node, session and login time.
    pub(crate) async fn sessions_elsewhere(&self, user: &str) -> Vec<(String, SessionId, u64)> {
        self.ask::<_, Vec<(SessionId, u64)>>("sessions", &user)
            .await
            .into_iter()
            .flat_map(|(node, sessions)| {
                sessions
                    .into_iter()
                    .map(move |(id, at)| (node.clone(), id, at))
            })
            .collect()
    }

    /// Logs out session `session` of `user` on node `node`.
    pub(crate) async fn kick(&self, node: &str, user: &str, session: SessionId, reason: &str) {
        let kick = Kick {
            user: user.to_owned(),
            session,
            reason: reason.to_owned(),
        };
        let Ok(payload) = serde_json::to_vec(&kick) else {
            return;
        };
        let subject = format!("tidings.{}.kick.{node}", self.sdkappid);
        if let Err(e) = self.client.publish(subject, payload.into()).await {
            tracing::warn!(%node, error = %e, "a session on another node was not logged out");
        }
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
