//! Tidings across nodes: [`NatsBus`], the [`Bus`] that hands every delivery to the local hub
//! and publishes it on NATS, so that the hubs of the other nodes of the cluster deliver it to the
//! sessions they hold.
//!
//! Subject layout: one subject per cluster, `tidings.<sdkappid>.deliveries`, that every node
//! publishes to and subscribes to. A delivery is published once (a large one compressed, and
//! split only where even compressed it exceeds NATS's payload limit), whatever the number of
//! recipients or of their nodes; each node keeps what concerns its own sessions, so no node
//! needs to know where other users are. The store
//! is the source of truth: the bus carries pushes only, without persistence.
//!
//! Group receipt notifications of one sender are coalesced by one node (`notes.rs`), and each
//! node keeps its sessions' read counts from going down (`read_counts.rs`). The device limit
//! holds for the cluster (`nodes.rs`: a user's sessions on every node, and one logged out on
//! its node), and settings changed on one node are reloaded by the others at once
//! (`tidings.<sdkappid>.settings`). A delivery that could not be published makes the other
//! nodes close its users' sessions (`lost.rs`, `tidings.<sdkappid>.catch_up`), so that no push
//! is missed silently.

mod lost;
mod nodes;
mod notes;
mod orphans;
mod read_counts;
pub mod scratch;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::StreamExt;
use tidings_service::{
    Bus, ConversationNote, Delivery, Hub, PresenceFuture, ReceiptNote, RoutedNotes, SessionId,
};
use tokio::sync::mpsc;

/// Deliveries waiting to be published, at most, so that an outage cannot exhaust memory: while
/// NATS is away they pile up here, and past this many the newest are dropped (logged). In an
/// outage every node lost the bus and closes its sessions once it is back, so clients catch up;
/// when the bus is merely slower than the load, the other nodes are told to close the sessions
/// of the dropped deliveries' users once the backlog is out (`lost.rs`).
pub const MAX_WAITING_PUBLISHES: usize = 65_536;

/// Whether `node` can name a node: 1 to 64 ASCII letters, digits, `-` or `_` (it is a token of
/// NATS subjects).
pub fn is_valid_node_id(node: &str) -> bool {
    (1..=64).contains(&node.len())
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why the cluster bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// NATS could not be reached or refused the subscription.
    #[error("cannot use NATS at {url}: {reason}")]
    Nats {
        /// The server's URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The node ID cannot name a node ([`is_valid_node_id`]).
    #[error("node ID {0:?} is not 1 to 64 ASCII letters, digits, '-' or '_'")]
    NodeId(String),
}

/// The cluster bus of one node.
pub struct NatsBus {
    hub: Arc<Hub>,
    node: Arc<str>,
    /// Deliveries for the publishing task, which encodes them off the caller's path.
    outgoing: mpsc::Sender<Delivery>,
    /// Whether deliveries are being dropped (logged once per run of drops).
    dropping: AtomicBool,
    /// The users of deliveries that did not reach the bus, for the next catch-up notice.
    lost: Arc<Mutex<lost::Lost>>,
    nodes: nodes::Nodes,
    notes: notes::NoteRoutes,
    read_counts: Arc<read_counts::ReadCountFloor>,
    client: async_nats::Client,
    sdkappid: u64,
    /// What this node does when another changed the settings.
    on_settings_changed: Arc<OnceLock<SettingsChanged>>,
}

/// Reloads the settings another node changed.
type SettingsChanged = Box<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects to NATS at `url` as node `node` of the cluster of `sdkappid`, and starts
    /// delivering what other nodes publish to `hub`.
    pub async fn connect(
        url: &str,
        node: &str,
        sdkappid: u64,
        hub: Arc<Hub>,
    ) -> Result<Self, ClusterError> {
        Self::connect_with(url, node, sdkappid, hub, MAX_WAITING_PUBLISHES).await
    }

    /// [`NatsBus::connect`] with at most `waiting` deliveries waiting to be published.
    async fn connect_with(
        url: &str,
        node: &str,
        sdkappid: u64,
        hub: Arc<Hub>,
        waiting: usize,
    ) -> Result<Self, ClusterError> {
        if !is_valid_node_id(node) {
            return Err(ClusterError::NodeId(node.to_owned()));
        }
        let failed = |reason: String| ClusterError::Nats {
            url: url.to_owned(),
            reason,
        };
        let lost_bus = Arc::new(AtomicBool::new(false));
        let on_settings_changed: Arc<OnceLock<SettingsChanged>> = Arc::default();
        let (lost, sessions) = (Arc::clone(&lost_bus), Arc::clone(&hub));
        let settings = Arc::clone(&on_settings_changed);
        let client = async_nats::ConnectOptions::new()
            .name(format!("tidings {node}"))
            .retry_on_initial_connect()
            .event_callback(move |event| {
                let (lost, sessions) = (Arc::clone(&lost), Arc::clone(&sessions));
                let settings = Arc::clone(&settings);
                async move { on_bus_event(&event, &lost, &sessions, &settings) }
            })
            .connect(url)
            .await
            .map_err(|e| failed(e.to_string()))?;
        // Fail at start, not later: retry_on_initial_connect returns before connecting.
        tokio::time::timeout(std::time::Duration::from_secs(5), client.flush())
            .await
            .map_err(|_| failed("no answer within 5 s".into()))?
            .map_err(|e| failed(e.to_string()))?;
        let subject = format!("tidings.{sdkappid}.deliveries");
        let mut incoming = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let node: Arc<str> = node.into();
        let (outgoing, mut queue) = mpsc::channel::<Delivery>(waiting);
        let (publisher, origin) = (client.clone(), Arc::clone(&node));
        let lost: Arc<Mutex<lost::Lost>> = Arc::default();
        let catch_up = format!("tidings.{sdkappid}.catch_up");
        let (missed, notices) = (Arc::clone(&lost), catch_up.clone());
        tokio::spawn(async move {
            while let Some(delivery) = queue.recv().await {
                let published = match wire::encode(&origin, &delivery, publisher.max_payload()) {
                    Ok(payloads) => {
                        let mut all = true;
                        for payload in payloads {
                            if let Err(e) = publisher.publish(subject.clone(), payload.into()).await
                            {
                                tracing::warn!(error = %e, "a delivery was not published to the other nodes");
                                all = false;
                            }
                        }
                        all
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot encode a delivery for the bus");
                        false
                    }
                };
                if !published {
                    lock(&missed).record(&delivery);
                }
                // The backlog is out: the notice follows every delivery that did go out.
                if queue.is_empty() {
                    publish_catch_up(&publisher, &notices, &origin, &missed).await;
                }
            }
        });
        let read_counts = Arc::new(read_counts::ReadCountFloor::default());
        let (local, me, floor) = (
            Arc::clone(&hub),
            Arc::clone(&node),
            Arc::clone(&read_counts),
        );
        tokio::spawn(async move {
            while let Some(message) = incoming.next().await {
                match wire::decode(&message.payload) {
                    Ok((origin, delivery)) if *origin != *me => floor.deliver(&local, &delivery),
                    Ok(_) => {} // our own, already delivered locally
                    Err(e) => tracing::warn!(error = %e, "undecodable delivery from the bus"),
                }
            }
        });
        let mut catch_up_notices = client
            .subscribe(catch_up)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let (sessions, me) = (Arc::clone(&hub), Arc::clone(&node));
        tokio::spawn(async move {
            while let Some(message) = catch_up_notices.next().await {
                match serde_json::from_slice::<lost::CatchUp>(&message.payload) {
                    Ok(notice) => lost::apply(&notice, &me, &sessions),
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable catch-up notice from the bus")
                    }
                }
            }
        });
        let notes = notes::NoteRoutes::start(client.clone(), sdkappid, &node)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut settings_notices = client
            .subscribe(format!("tidings.{sdkappid}.settings"))
            .await
            .map_err(|e| failed(e.to_string()))?;
        let (reload, me) = (Arc::clone(&on_settings_changed), Arc::clone(&node));
        tokio::spawn(async move {
            while let Some(notice) = settings_notices.next().await {
                if *notice.payload != *me.as_bytes()
                    && let Some(reload) = reload.get()
                {
                    reload();
                }
            }
        });
        let nodes = nodes::Nodes::start(
            client.clone(),
            sdkappid,
            Arc::clone(&node),
            Arc::clone(&hub),
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        notes.watch_owners(nodes.clone(), Arc::clone(&node));
        tracing::info!(%node, "joined the cluster bus");
        Ok(Self {
            hub,
            node,
            outgoing,
            dropping: AtomicBool::new(false),
            lost,
            nodes,
            notes,
            read_counts,
            client,
            sdkappid,
            on_settings_changed,
        })
    }

    /// Holds the device limit for the whole cluster after `user` logged in here: asks the
    /// other nodes for the user's sessions and, beyond the limit, logs out the oldest
    /// wherever they are. Runs in the background, so the login is not slowed by the cluster.
    pub fn limit_devices(&self, user: &str) {
        let (nodes, hub) = (self.nodes.clone(), Arc::clone(&self.hub));
        let (user, me) = (user.to_owned(), Arc::clone(&self.node));
        tokio::spawn(async move {
            let limit = hub.max_sessions_per_user();
            let here = hub.sessions_of(&user);
            if here.is_empty() {
                return; // gone already
            }
            let mut all: Vec<(u64, String, SessionId)> = here
                .into_iter()
                .map(|(id, at)| (at, me.to_string(), id))
                .collect();
            for (node, id, at) in nodes.sessions_elsewhere(&user).await {
                all.push((at, node, id));
            }
            if all.len() <= limit {
                return;
            }
            all.sort();
            let reason = hub.device_limit_reason();
            let beyond = all.len() - limit;
            for (_, node, id) in all.into_iter().take(beyond) {
                if node == *me {
                    hub.kick_session(&user, id, &reason);
                } else {
                    nodes.kick(&node, &user, id, &reason).await;
                }
            }
        });
    }

    /// Has `reload` run whenever another node says the settings changed (it should read them
    /// from the store).
    pub fn on_settings_changed(&self, reload: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_settings_changed.set(Box::new(reload));
    }

    /// Tells the other nodes that this one changed the settings in the store.
    pub fn announce_settings_changed(&self) {
        let (client, me) = (self.client.clone(), self.node.as_bytes().to_vec());
        let subject = format!("tidings.{}.settings", self.sdkappid);
        tokio::spawn(async move {
            if let Err(e) = client.publish(subject, me.into()).await {
                tracing::warn!(error = %e, "other nodes were not told of changed settings");
            }
        });
    }

    /// Tells the other nodes that this one stops (on a graceful shutdown, before its sessions
    /// are closed), so that they count it gone at once instead of after missed announcements.
    pub async fn leave(&self) {
        self.nodes.leave().await;
        tracing::info!(node = %self.node, "left the cluster");
    }

    /// Hands the group receipt notes other nodes route here, and the conversation notes they
    /// publish, to this node's notifier.
    pub fn attach_notifier(&self, notifier: RoutedNotes) {
        self.notes.attach(notifier);
    }

    /// For each of `users`, whether it has a session on any node of the cluster: this node's
    /// own sessions, and the answers of the other nodes alive (each asked at once, waited for
    /// at most [`nodes::ANSWER_WAIT`]).
    pub async fn online(&self, users: &[String]) -> Vec<bool> {
        let mut online: Vec<bool> = users.iter().map(|u| self.hub.is_online(u)).collect();
        let elsewhere = self.nodes.online_elsewhere(users).await;
        for (found, user) in online.iter_mut().zip(users) {
            *found |= elsewhere.contains(user);
        }
        online
    }
}

/// The lost deliveries' users (a panic elsewhere while holding them leaves them usable).
fn lock(lost: &Mutex<lost::Lost>) -> std::sync::MutexGuard<'_, lost::Lost> {
    lost.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tells the other nodes whose pushes this node could not publish, if any; kept for the next
/// time when NATS refuses the notice too (NATS away: every node closes its sessions anyway once
/// it is back).
async fn publish_catch_up(
    client: &async_nats::Client,
    subject: &str,
    origin: &str,
    lost: &Mutex<lost::Lost>,
) {
    let Some(notice) = lock(lost).take_notice(origin) else {
        return;
    };
    let payload = match serde_json::to_vec(&notice) {
        Ok(payload) => payload,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a catch-up notice");
            return;
        }
    };
    if let Err(e) = client.publish(subject.to_owned(), payload.into()).await {
        tracing::warn!(error = %e, "a catch-up notice was not published; kept for later");
        lock(lost).restore(notice);
    }
}

/// Follows the connection to NATS. Pushes other nodes published while it was down are lost, so
/// once it is back every local session is dropped: its client reconnects and catches up from
/// the store, and nothing is missed silently. So may be a notice of changed settings: they are
/// reloaded. (NATS itself reconnects and resubscribes.)
fn on_bus_event(
    event: &async_nats::Event,
    lost: &AtomicBool,
    hub: &Hub,
    settings: &OnceLock<SettingsChanged>,
) {
    match event {
        async_nats::Event::Disconnected => {
            lost.store(true, Ordering::SeqCst);
            tracing::warn!("lost the cluster bus; sends are still stored, pushes wait");
        }
        async_nats::Event::Connected if lost.swap(false, Ordering::SeqCst) => {
            tracing::warn!(
                sessions = hub.session_count(),
                "cluster bus back; closing sessions so that clients catch up"
            );
            hub.drop_all();
            if let Some(reload) = settings.get() {
                reload();
            }
        }
        _ => {}
    }
}

impl Bus for NatsBus {
    fn publish(&self, delivery: Delivery) {
        self.read_counts.deliver(&self.hub, &delivery);
        match self.outgoing.try_send(delivery) {
            Ok(()) => {
                if self.dropping.swap(false, Ordering::Relaxed) {
                    tracing::info!("publishing deliveries to the other nodes again");
                }
            }
            Err(refused) => {
                if !self.dropping.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "too many deliveries wait for the bus; dropping new ones (their users' sessions on other nodes will be closed)"
                    );
                }
                lock(&self.lost).record(&refused.into_inner());
            }
        }
    }

    /// Other nodes' sessions are not known here, so every push may reach someone.
    fn reaches_any(&self, _users: &[String], _except: Option<SessionId>) -> bool {
        true
    }

    fn here(&self, users: Vec<String>) -> Vec<String> {
        self.hub.here(users)
    }

    /// Only this node's sessions: every node builds these pushes for its own.
    fn publish_here(&self, delivery: Delivery) {
        self.hub.deliver(&delivery);
    }

    /// Every node builds the members' views for its own sessions: all nodes get every note.
    fn route_conversation_notes(&self, notes: Vec<ConversationNote>) -> Vec<ConversationNote> {
        self.notes.broadcast(&notes);
        notes
    }

    fn route_receipt_notes(&self, notes: Vec<ReceiptNote>) -> Vec<ReceiptNote> {
        let mut kept = Vec::new();
        let mut forwarded = false;
        for note in notes {
            let owner = self.nodes.owner_of(&note.sender);
            if *owner == *self.node {
                kept.push(note);
            } else {
                self.notes.forward(owner, note);
                forwarded = true;
            }
        }
        if forwarded {
            self.notes.send();
        }
        kept
    }

    fn online<'a>(&'a self, users: &'a [String]) -> PresenceFuture<'a, Vec<bool>> {
        Box::pin(NatsBus::online(self, users))
    }

    fn sessions_elsewhere<'a>(&'a self, user: &'a str) -> PresenceFuture<'a, Vec<u64>> {
        Box::pin(async move {
            let sessions = self.nodes.sessions_elsewhere(user).await;
            sessions.into_iter().map(|(_, _, at)| at).collect()
        })
    }
}

#[cfg(test)]
mod tests;
