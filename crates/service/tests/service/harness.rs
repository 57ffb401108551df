//! The harness: a `Tidings` on a temporary store, a bus that records every delivery, answers
//! `reaches_any` as told and keeps group receipt notes or routes them away as told, and a
//! callbacks sink that records every after-event.
//!
//! The store is SQLite in a temporary directory, or, when `TIDINGS_TEST_STORE` names a
//! PostgreSQL server (a user that may create databases), a scratch database on it.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;
use tidings_proto::events::{OnMessageReceiptsSent, OnRecvMessageReadReceipts, ReceiptsSent};
use tidings_proto::methods::{CreateGroupParams, SendMessageParams};
use tidings_proto::{
    Event, GroupMemberSpec, GroupRole, Message, MessageReceipt, PushEvent, TextElem,
};
use tidings_service::{
    AfterEvent, BeforeSend, BeforeSendEvent, Bus, CallbackEvent, Callbacks, Delivery, Limits,
    PresenceFuture, ReadReceiptSettings, ReceiptNote, ServiceResult, SessionId, SharedPush,
    Tidings, Verdict, VerdictFuture,
};
use tidings_store::scratch::ScratchDatabase;
use tidings_store::{StoreConfig, StoreUrl, open_store};
use tokio::sync::Notify;

/// Where a harness keeps its data, for as long as it lives.
struct TestData {
    _dir: TempDir,
    _database: Option<ScratchDatabase>,
}

impl TestData {
    /// An empty store of the engine `TIDINGS_TEST_STORE` asks for (SQLite when unset).
    async fn open() -> (Arc<dyn tidings_store::Store>, Self) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = ScratchDatabase::for_test_store().await;
        let url = match &database {
            Some(database) => StoreUrl::Postgres(database.url().to_owned()),
            None => StoreUrl::Sqlite(dir.path().join("tidings.db")),
        };
        let mut config = StoreConfig::new(url);
        config.pool_size = 4;
        let opened = open_store(&config).await.expect("store opens");
        (
            opened.store,
            Self {
                _dir: dir,
                _database: database,
            },
        )
    }
}

/// How long a test waits for something the service does in the background (the receipt
/// notifier) before it fails; a guard against hanging, not a measurement.
const PATIENCE: Duration = Duration::from_secs(10);

/// Records every delivery. `reaches_any` answers true for the users set online, or for
/// everyone until [`RecordingBus::set_online`] is called (and `here` keeps the same users); it has no sessions, so it ignores the
/// session left out (the hub's own tests cover that).
#[derive(Default)]
pub(crate) struct RecordingBus {
    deliveries: Mutex<Vec<Delivery>>,
    online: Mutex<Option<HashSet<String>>>,
    published: Notify,
    /// Group receipt notes routed to another node (as a cluster bus would), when `Some`.
    routed_away: Mutex<Option<Vec<ReceiptNote>>>,
}

impl Bus for RecordingBus {
    fn publish(&self, delivery: Delivery) {
        self.deliveries.lock().expect("bus").push(delivery);
        self.published.notify_waiters();
    }

    fn reaches_any(&self, users: &[String], _except: Option<SessionId>) -> bool {
        match &*self.online.lock().expect("bus") {
            None => true,
            Some(online) => users.iter().any(|user| online.contains(user)),
        }
    }

    fn here(&self, mut users: Vec<String>) -> Vec<String> {
        if let Some(online) = &*self.online.lock().expect("bus") {
            users.retain(|user| online.contains(user));
        }
        users
    }

    /// Online: the users set online, or everyone until that is called (as `reaches_any`).
    fn online<'a>(&'a self, users: &'a [String]) -> PresenceFuture<'a, Vec<bool>> {
        let online = match &*self.online.lock().expect("bus") {
            None => vec![true; users.len()],
            Some(online) => users.iter().map(|user| online.contains(user)).collect(),
        };
        Box::pin(std::future::ready(online))
    }

    fn route_receipt_notes(&self, notes: Vec<ReceiptNote>) -> Vec<ReceiptNote> {
        match &mut *self.routed_away.lock().expect("bus") {
            Some(away) => {
                away.extend(notes);
                Vec::new()
            }
            None => notes,
        }
    }
}

impl RecordingBus {
    /// From now on, only these users are reachable.
    pub(crate) fn set_online(&self, users: &[&str]) {
        *self.online.lock().expect("bus") = Some(users.iter().map(|u| (*u).to_owned()).collect());
    }

    /// From now on, every group receipt note is routed to another node (kept for
    /// [`RecordingBus::take_routed_away`]).
    pub(crate) fn route_notes_away(&self) {
        *self.routed_away.lock().expect("bus") = Some(Vec::new());
    }

    /// From now on, group receipt notes stay on this node again.
    pub(crate) fn keep_notes(&self) {
        *self.routed_away.lock().expect("bus") = None;
    }

    /// The notes routed away since the last call.
    pub(crate) fn take_routed_away(&self) -> Vec<ReceiptNote> {
        self.routed_away
            .lock()
            .expect("bus")
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Every delivery published since the last call, in order.
    pub(crate) fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.deliveries.lock().expect("bus"))
    }

    /// Waits until a delivery that `pick` accepts is published, and returns every delivery up to
    /// and including it (the rest stay recorded).
    pub(crate) async fn take_until(&self, pick: impl Fn(&Delivery) -> bool) -> Vec<Delivery> {
        let wait = async {
            loop {
                let published = self.published.notified();
                {
                    let mut deliveries = self.deliveries.lock().expect("bus");
                    if let Some(at) = deliveries.iter().position(&pick) {
                        return deliveries.drain(..=at).collect::<Vec<_>>();
                    }
                }
                published.await;
            }
        };
        match tokio::time::timeout(PATIENCE, wait).await {
            Ok(taken) => taken,
            Err(_) => panic!(
                "the awaited delivery was not published; got {:?}",
                self.deliveries.lock().expect("bus")
            ),
        }
    }
}

/// Records every after-event; wants them unless told otherwise. Before-send hooks are off
/// until [`RecordingCallbacks::answer_before_send`] gives the verdict to answer; then every
/// question is recorded.
pub(crate) struct RecordingCallbacks {
    wanted: Mutex<bool>,
    events: Mutex<Vec<CallbackEvent>>,
    /// The hooks switched on (C2C, group) and the verdict they answer.
    before_send: Mutex<Option<(bool, bool, Verdict)>>,
    asked: Mutex<Vec<BeforeSendEvent>>,
}

impl Default for RecordingCallbacks {
    fn default() -> Self {
        Self {
            wanted: Mutex::new(true),
            events: Mutex::new(Vec::new()),
            before_send: Mutex::new(None),
            asked: Mutex::new(Vec::new()),
        }
    }
}

impl Callbacks for RecordingCallbacks {
    fn wants(&self) -> bool {
        *self.wanted.lock().expect("callbacks")
    }

    fn emit(&self, event: CallbackEvent) {
        self.events.lock().expect("callbacks").push(event);
    }

    fn wants_before_send(&self, group: bool) -> bool {
        match &*self.before_send.lock().expect("callbacks") {
            Some((c2c, groups, _)) => (!group && *c2c) || (group && *groups),
            None => false,
        }
    }

    fn before_send(&self, event: BeforeSendEvent) -> VerdictFuture<'_> {
        self.asked.lock().expect("callbacks").push(event);
        let verdict = match &*self.before_send.lock().expect("callbacks") {
            Some((_, _, verdict)) => verdict.clone(),
            None => panic!("asked before sending while the hooks are off"),
        };
        Box::pin(std::future::ready(verdict))
    }
}

impl RecordingCallbacks {
    /// Switches the before-send hooks on (for C2C and groups as told), answering `verdict`.
    pub(crate) fn answer_before_send(&self, c2c: bool, group: bool, verdict: Verdict) {
        *self.before_send.lock().expect("callbacks") = Some((c2c, group, verdict));
    }

    /// The before-send questions asked since the last call, in order.
    pub(crate) fn take_asked(&self) -> Vec<BeforeSend> {
        std::mem::take(&mut *self.asked.lock().expect("callbacks"))
            .into_iter()
            .map(|asked| asked.event)
            .collect()
    }

    /// Whether events are wanted from now on.
    pub(crate) fn set_wanted(&self, wanted: bool) {
        *self.wanted.lock().expect("callbacks") = wanted;
    }

    /// The after-events emitted since the last call, in order.
    pub(crate) fn take(&self) -> Vec<AfterEvent> {
        std::mem::take(&mut *self.events.lock().expect("callbacks"))
            .into_iter()
            .map(|emitted| emitted.event)
            .collect()
    }
}

/// What a test may change about the services.
#[derive(Default)]
pub(crate) struct Setup {
    pub(crate) limits: Limits,
    pub(crate) receipts: ReadReceiptSettings,
}

/// The services under test and what they published.
pub(crate) struct Harness {
    pub(crate) tidings: Arc<Tidings>,
    pub(crate) bus: Arc<RecordingBus>,
    pub(crate) callbacks: Arc<RecordingCallbacks>,
    _data: TestData,
}

impl Harness {
    /// Services with the default setup, and these users logged in once.
    pub(crate) async fn start(users: &[&str]) -> Self {
        Self::start_with(Setup::default(), users).await
    }

    /// Services with `setup`, and these users logged in once.
    pub(crate) async fn start_with(setup: Setup, users: &[&str]) -> Self {
        let (store, data) = TestData::open().await;
        let bus = Arc::new(RecordingBus::default());
        let callbacks = Arc::new(RecordingCallbacks::default());
        let tidings = Tidings::new(
            store,
            Arc::clone(&bus) as Arc<dyn Bus>,
            setup.receipts,
            setup.limits,
            Arc::clone(&callbacks) as Arc<dyn Callbacks>,
        );
        for user in users {
            tidings.login(user).await.expect("login");
        }
        Self {
            tidings,
            bus,
            callbacks,
            _data: data,
        }
    }

    /// Waits until the notifications of what was done so far are pushed (the notifier's
    /// window), then forgets what was published (set-up), so a test sees only what its step did.
    pub(crate) async fn forget_published(&self) {
        self.settled().await;
        self.bus.take();
        self.callbacks.take();
    }

    /// Waits until the notifications of what was done so far are pushed.
    pub(crate) async fn settled(&self) {
        self.tidings.receipt_notifier().settled().await;
    }

    /// Sends a C2C text message.
    pub(crate) async fn send_c2c(&self, from: &str, to: &str, text: &str) -> Message {
        self.tidings
            .send_message(from, c2c_text(to, text))
            .await
            .expect("C2C send")
    }

    /// Sends a C2C text message that asks for receipts.
    pub(crate) async fn send_c2c_receipted(&self, from: &str, to: &str) -> Message {
        let params = SendMessageParams {
            need_read_receipt: true,
            ..c2c_text(to, "read me")
        };
        self.tidings
            .send_message(from, params)
            .await
            .expect("C2C send")
    }

    /// Sends a group text message.
    pub(crate) async fn send_group(&self, from: &str, group_id: &str, text: &str) -> Message {
        self.tidings
            .send_message(from, group_text(group_id, text))
            .await
            .expect("group send")
    }

    /// Sends a group text message that asks for receipts.
    pub(crate) async fn send_group_receipted(&self, from: &str, group_id: &str) -> Message {
        let params = SendMessageParams {
            need_read_receipt: true,
            ..group_text(group_id, "read me")
        };
        self.tidings
            .send_message(from, params)
            .await
            .expect("group send")
    }

    /// Creates group `group_id` of `group_type` owned by `owner` with ordinary `members`, and
    /// forgets what that published.
    pub(crate) async fn create_group(
        &self,
        owner: &str,
        group_type: &str,
        group_id: &str,
        members: &[&str],
    ) {
        self.tidings
            .create_group(owner, group_params(group_type, group_id, members))
            .await
            .expect("group created");
        self.forget_published().await;
    }
}

/// C2C text-message parameters.
pub(crate) fn c2c_text(to: &str, text: &str) -> SendMessageParams {
    SendMessageParams {
        receiver: Some(to.to_owned()),
        text_elem: Some(TextElem { text: text.into() }),
        ..SendMessageParams::default()
    }
}

/// Group text-message parameters.
pub(crate) fn group_text(group_id: &str, text: &str) -> SendMessageParams {
    SendMessageParams {
        group_id: Some(group_id.to_owned()),
        text_elem: Some(TextElem { text: text.into() }),
        ..SendMessageParams::default()
    }
}

/// Creation parameters of a group with ordinary members.
pub(crate) fn group_params(
    group_type: &str,
    group_id: &str,
    members: &[&str],
) -> CreateGroupParams {
    CreateGroupParams {
        group_type: group_type.into(),
        group_id: Some(group_id.into()),
        group_name: format!("{group_id} name"),
        member_list: members
            .iter()
            .map(|user| GroupMemberSpec {
                user_id: (*user).to_owned(),
                role: GroupRole::Member,
            })
            .collect(),
    }
}

/// The push of event `E` to `users`, as the service publishes it.
pub(crate) fn push<E: Event>(users: &[&str], data: E::Data) -> Delivery {
    push_except::<E>(users, data, None)
}

/// Like [`push`], leaving out session `except`.
pub(crate) fn push_except<E: Event>(
    users: &[&str],
    data: E::Data,
    except: Option<SessionId>,
) -> Delivery {
    Delivery::Push {
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        push: SharedPush::new(E::push(data)),
        except,
    }
}

/// The push that tells `reader`'s sessions, but session `except`, that it sent receipts of
/// `msg_ids`.
pub(crate) fn receipts_sent(reader: &str, msg_ids: &[&str], except: Option<SessionId>) -> Delivery {
    let message_id_list = ids(msg_ids);
    push_except::<OnMessageReceiptsSent>(&[reader], ReceiptsSent { message_id_list }, except)
}

/// The pushes of a new C2C receipt: `sender` gets the `receipts` (as pulled), and `reader`'s
/// sessions but `except` [`receipts_sent`] of `msg_ids`.
pub(crate) fn c2c_receipt_pushes(
    sender: &str,
    receipts: Vec<MessageReceipt>,
    reader: &str,
    msg_ids: &[&str],
    except: Option<SessionId>,
) -> [Delivery; 2] {
    [
        push::<OnRecvMessageReadReceipts>(&[sender], receipts),
        receipts_sent(reader, msg_ids, except),
    ]
}

/// Owned IDs.
pub(crate) fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// The recipients and event of a push delivery (panics on a kick).
pub(crate) fn pushed(delivery: &Delivery) -> (Vec<&str>, &PushEvent) {
    match delivery {
        Delivery::Push { users, push, .. } => {
            (users.iter().map(String::as_str).collect(), push.event())
        }
        Delivery::Kick { .. } => panic!("expected a push, got {delivery:?}"),
    }
}

/// The refusal of a call that must fail, as its variant and text (`Debug`), so that a test
/// names both the kind of refusal and what it says.
#[track_caller]
pub(crate) fn refusal<T: Debug>(result: ServiceResult<T>) -> String {
    match result {
        Ok(value) => panic!("expected a refusal, got {value:?}"),
        Err(error) => format!("{error:?}"),
    }
}
