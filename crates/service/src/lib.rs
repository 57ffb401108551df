//! Tidings domain logic: accounts, groups, messages, conversations and read state.
//!
//! [`Tidings`] is the one entry point used by every edge (WebSocket gateway, REST API). Each
//! public method takes the acting user and typed parameters from `tidings-proto`, checks
//! authorisation and limits, calls the [`Store`] and publishes typed pushes on the [`Bus`]. This
//! crate knows nothing about HTTP, WebSocket or JSON framing: pushes are encoded by the sessions
//! that write them, after-events by the edge that delivers them.

mod admin;
mod bus;
mod callbacks;
mod checks;
mod content;
mod conversations;
mod error;
mod groups;
mod message_facts;
mod messages;
mod notifier;
mod privacy;
mod profiles;
mod receipts;
mod render;
mod revoke;
mod settings;
mod status;

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tidings_proto::Event;
use tidings_store::Store;

pub use admin::{LOGGED_OUT_BY_ADMIN, ReceiptCounts};
pub use bus::{
    Bus, ConversationNote, Delivery, Hub, LocalBus, Outbound, OutboundQueue, OutboundSender,
    PresenceChange, PresenceFuture, ReceiptNote, SessionId, SharedPush, outbound_queue,
};
pub use callbacks::{
    AfterEvent, BeforeSend, BeforeSendEvent, CallbackEvent, Callbacks, ChangedContent,
    GroupReceiptCount, NoCallbacks, Origin, Verdict, VerdictFuture, with_origin,
};
pub use content::{MessageContent, check_elem, content_of};
pub use conversations::C2cReadMark;
pub use error::{ServiceError, ServiceResult};
pub use messages::SendOptions;
pub use notifier::{ReceiptNotifier, RoutedNotes};
pub use profiles::user_full_info;
pub use receipts::SkippedReceipt;
pub use settings::{Limits, ReadReceiptSettings};

/// The services container, shared by all connections (`Arc<Tidings>`).
pub struct Tidings {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    receipts: RwLock<ReadReceiptSettings>,
    limits: Limits,
    notifier: ReceiptNotifier,
    callbacks: Arc<dyn Callbacks>,
    facts: message_facts::FactsCache,
}

impl std::fmt::Debug for Tidings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tidings")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Tidings {
    /// Builds the services and starts the notification worker (needs a Tokio runtime).
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        receipts: ReadReceiptSettings,
        limits: Limits,
        callbacks: Arc<dyn Callbacks>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|services| {
            let notifier = ReceiptNotifier::start(
                Arc::clone(&store),
                Arc::clone(&bus),
                limits.receipt_window,
                services.clone(),
            );
            Self {
                store,
                bus,
                receipts: RwLock::new(receipts),
                limits,
                notifier,
                callbacks,
                facts: message_facts::FactsCache::default(),
            }
        })
    }

    /// The store (for the edge's health check and benchmarks).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The group receipt notifier, to which a cluster bus hands the notes other nodes routed
    /// here.
    pub fn receipt_notifier(&self) -> &ReceiptNotifier {
        &self.notifier
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Current read-receipt settings.
    pub fn read_receipt_settings(&self) -> ReadReceiptSettings {
        self.receipts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the read-receipt settings; takes effect for the next request.
    pub fn set_read_receipt_settings(&self, settings: ReadReceiptSettings) {
        *self.receipts.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// Records a successful login: the user exists from now on.
    pub async fn login(&self, user_id: &str) -> ServiceResult<()> {
        checks::check_id(user_id)?;
        self.store.ensure_user(user_id, None, now()).await?;
        Ok(())
    }

    /// Refuses a UserSig of `user_id` issued at `issued_at` (Unix seconds) before the
    /// administrator revoked the user's UserSigs (account deleted, or kicked).
    pub async fn check_user_sig_issued(&self, user_id: &str, issued_at: i64) -> ServiceResult<()> {
        let not_before = self.store.user_sigs_not_before(user_id).await?;
        if issued_at < not_before {
            return Err(ServiceError::UserSigRevoked {
                user: user_id.to_owned(),
                not_before,
            });
        }
        Ok(())
    }

    /// Logs out every connection of a user, on every node.
    pub(crate) fn kick(&self, user_id: &str, reason: &str) {
        self.bus.publish(Delivery::Kick {
            user: user_id.to_owned(),
            reason: reason.to_owned(),
        });
    }

    /// Emits an after-event when callbacks are wanted; the event is only built then.
    fn emit_callback(&self, event: impl FnOnce() -> AfterEvent) {
        if self.callbacks.wants() {
            self.callbacks.emit(CallbackEvent::now(event()));
        }
    }

    /// Publishes an event to users, when any of them has a session.
    fn push<E: Event>(&self, users: Vec<String>, data: E::Data) {
        self.push_except::<E>(users, data, None);
    }

    /// Like [`Tidings::push`], leaving out one session (the caller's own).
    fn push_except<E: Event>(&self, users: Vec<String>, data: E::Data, except: Option<SessionId>) {
        if !self.bus.reaches_any(&users, except) {
            return;
        }
        self.bus.publish(Delivery::Push {
            users,
            push: SharedPush::new(E::push(data)),
            except,
        });
    }
}

/// Unix milliseconds now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
