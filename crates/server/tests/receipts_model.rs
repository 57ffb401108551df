//! A model test of group read receipts: random interleavings of sends, invitations, quits,
//! receipts (repeated, late, from non-recipients) and reconnects, checked after every step
//! against a plain in-test model of recipients and readers per message.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use common::TestServer;
use proptest::prelude::*;
use tidings_sdk::proto::{MEMBER_OP_INVALID, MEMBER_OP_SUCCESS};
use tidings_sdk::{
    Client, CreateGroupParams, ErrorCode, Events, GroupMemberSpec, GroupRole,
    READ_MEMBERS_FILTER_READ, READ_MEMBERS_FILTER_UNREAD, SdkError, SendMessageParams, TextElem,
};

const GROUP: &str = "g-model";
const UNKNOWN_ID: &str = "no-such-message";

/// One step of a scenario. Indices are taken modulo the users or messages there are.
#[derive(Debug, Clone)]
enum Op {
    /// A user sends a group message, asking for receipts or not.
    Send { user: usize, receipt: bool },
    /// A user invites another one.
    Invite { inviter: usize, invitee: usize },
    /// A user quits the group.
    Quit { user: usize },
    /// A user sends receipts for sent messages (repeats allowed), maybe with an unknown ID.
    /// Picks choose among the messages that asked for receipts, or among all with `any`.
    Receipt {
        user: usize,
        picks: Vec<usize>,
        any: bool,
        unknown: bool,
    },
    /// A user's client is closed and a new one connects.
    Reconnect { user: usize },
}

#[derive(Debug, Clone)]
struct Scenario {
    /// Initial members, the owner (user 0) included.
    members: usize,
    /// Users who start outside the group.
    outsiders: usize,
    /// Page size used to list readers and non-readers.
    page: u32,
    ops: Vec<Op>,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..16usize, prop::bool::weighted(0.9)).prop_map(|(user, receipt)| Op::Send { user, receipt }),
        1 => (0..16usize, 0..16usize).prop_map(|(inviter, invitee)| Op::Invite { inviter, invitee }),
        1 => (0..16usize).prop_map(|user| Op::Quit { user }),
        6 => (
            0..16usize,
            prop::collection::vec(0..64usize, 1..4),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.05),
        )
            .prop_map(|(user, picks, any, unknown)| Op::Receipt { user, picks, any, unknown }),
        1 => (0..16usize).prop_map(|user| Op::Reconnect { user }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        3..=6usize,
        0..=2usize,
        1..=3u32,
        prop::collection::vec(op(), 1..40),
    )
        .prop_map(|(members, outsiders, page, ops)| Scenario {
            members,
            outsiders,
            page,
            ops,
        })
}

/// A message as the model knows it.
#[derive(Debug)]
struct Sent {
    id: String,
    sender: String,
    receipt: bool,
    recipients: BTreeSet<String>,
    readers: BTreeSet<String>,
    /// The counts seen at the last check, to prove they never go backwards.
    last_counts: (u64, u64),
}

/// The expected state: who is a member, and every stored message.
#[derive(Debug, Default)]
struct Model {
    owner: String,
    members: BTreeSet<String>,
    sent: Vec<Sent>,
}

const INVALID: u32 = ErrorCode::InvalidParameters as u32;
const DENIED: u32 = ErrorCode::GroupPermissionDenied as u32;
const NO_INFO: u32 = ErrorCode::ReceiptInfoNotFound as u32;
const OWNER_CANNOT_QUIT: u32 = ErrorCode::OwnerCannotQuit as u32;

impl Model {
    fn send(&self, sender: &str) -> Result<(), u32> {
        if self.members.contains(sender) {
            Ok(())
        } else {
            Err(DENIED)
        }
    }

    fn invite(&self, inviter: &str, invitee: &str) -> Result<u32, u32> {
        if !self.members.contains(inviter) {
            return Err(DENIED);
        }
        Ok(if self.members.contains(invitee) {
            MEMBER_OP_INVALID
        } else {
            MEMBER_OP_SUCCESS
        })
    }

    fn quit(&self, user: &str) -> Result<(), u32> {
        if !self.members.contains(user) {
            Err(DENIED)
        } else if user == self.owner {
            Err(OWNER_CANNOT_QUIT)
        } else {
            Ok(())
        }
    }

    /// What `sendMessageReadReceipts` must answer for `ids` (indices into `sent`, None for an
    /// unknown ID), in the server's order of checks. On success, the messages to record and the
    /// codes of the skipped ones, in request order.
    fn receipt(&self, reader: &str, ids: &[Option<usize>]) -> Result<(Vec<usize>, Vec<u32>), u32> {
        let mut unique: Vec<Option<usize>> = Vec::new();
        for id in ids {
            if !unique.contains(id) {
                unique.push(*id);
            }
        }
        // Per message: recorded (None) or skipped with a code.
        let mut verdicts: Vec<(Option<usize>, Option<u32>)> = unique
            .iter()
            .map(|id| {
                let code = match id {
                    None => Some(NO_INFO),
                    Some(index) if !self.sent[*index].receipt => Some(NO_INFO),
                    Some(index) if self.sent[*index].sender == reader => Some(INVALID),
                    Some(_) => None,
                };
                (*id, code)
            })
            .collect();
        if verdicts.iter().all(|(_, code)| code.is_some()) {
            return Err(verdicts[0].1.unwrap_or(NO_INFO));
        }
        if !self.members.contains(reader) {
            return Err(DENIED);
        }
        for (id, code) in &mut verdicts {
            if let (Some(index), None) = (id, &code)
                && !self.sent[*index].recipients.contains(reader)
            {
                *code = Some(DENIED);
            }
        }
        if let Some(first) = verdicts
            .iter()
            .map(|(_, code)| *code)
            .collect::<Option<Vec<u32>>>()
        {
            return Err(first[0]);
        }
        let recorded = verdicts
            .iter()
            .filter(|(_, code)| code.is_none())
            .filter_map(|(id, _)| *id)
            .collect();
        let skipped = verdicts.iter().filter_map(|(_, code)| *code).collect();
        Ok((recorded, skipped))
    }
}

fn result_code<T: Debug>(result: Result<T, SdkError>) -> Result<T, u32> {
    result.map_err(|error| {
        error
            .code()
            .unwrap_or_else(|| panic!("not a server refusal: {error:?}"))
    })
}

/// The live side: one client per user.
struct Live {
    server: TestServer,
    clients: BTreeMap<String, (Client, Events)>,
}

impl Live {
    fn client(&self, user: &str) -> &Client {
        &self.clients[user].0
    }

    async fn reconnect(&mut self, user: &str) {
        if let Some((client, _)) = self.clients.remove(user) {
            client.close().await;
        }
        let fresh = self.server.client(user).await;
        self.clients.insert(user.to_owned(), fresh);
    }

    /// Every page of one list of `msg_id`, as its sender sees it; no member twice.
    async fn list(&self, sender: &str, msg_id: &str, filter: u32, page: u32) -> BTreeSet<String> {
        let client = self.client(sender);
        let mut listed = Vec::new();
        let mut next_seq = 0;
        for _ in 0..100 {
            let result = client
                .get_group_message_read_member_list(msg_id, filter, next_seq, page)
                .await
                .unwrap_or_else(|e| panic!("{sender} lists {msg_id} (filter {filter}): {e}"));
            assert!(result.member_info_list.len() <= page as usize, "{result:?}");
            listed.extend(result.member_info_list.into_iter().map(|m| m.user_id));
            if result.is_finished {
                let unique: BTreeSet<String> = listed.iter().cloned().collect();
                assert_eq!(unique.len(), listed.len(), "listed twice: {listed:?}");
                return unique;
            }
            assert!(result.next_seq > next_seq, "cursor stuck at {next_seq}");
            next_seq = result.next_seq;
        }
        panic!("list of {msg_id} never finished");
    }
}

/// Compares every message's server state with the model.
async fn check(live: &Live, model: &mut Model, page: u32, step: usize) {
    let mut by_sender: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, sent) in model.sent.iter().enumerate() {
        if sent.receipt {
            by_sender
                .entry(sent.sender.clone())
                .or_default()
                .push(index);
        } else {
            let refused = result_code(
                live.client(&sent.sender)
                    .get_message_read_receipts(vec![sent.id.clone()])
                    .await,
            );
            assert_eq!(
                refused.err(),
                Some(NO_INFO),
                "step {step}: {} asked for no receipts",
                sent.id
            );
        }
    }
    for (sender, indices) in by_sender {
        let ids: Vec<String> = indices.iter().map(|&i| model.sent[i].id.clone()).collect();
        let receipts = live
            .client(&sender)
            .get_message_read_receipts(ids.clone())
            .await
            .unwrap_or_else(|e| panic!("step {step}: {sender} pulls {ids:?}: {e}"));
        assert_eq!(receipts.len(), ids.len(), "step {step}: {receipts:?}");
        for (&index, receipt) in indices.iter().zip(&receipts) {
            let sent = &mut model.sent[index];
            assert_eq!(
                receipt.msg_id, sent.id,
                "step {step}: answers in the order asked"
            );
            let (read, unread) = (receipt.read_count, receipt.unread_count);
            let expected_read = sent.readers.len() as u64;
            let expected_unread = (sent.recipients.len() - sent.readers.len()) as u64;
            assert_eq!(
                (read, unread),
                (expected_read, expected_unread),
                "step {step}: counts of {} (recipients {:?}, readers {:?})",
                sent.id,
                sent.recipients,
                sent.readers
            );
            assert_eq!(read + unread, sent.recipients.len() as u64);
            assert!(
                read >= sent.last_counts.0 && unread <= sent.last_counts.1,
                "step {step}: counts went back"
            );
            sent.last_counts = (read, unread);

            let readers = live
                .list(&sender, &sent.id, READ_MEMBERS_FILTER_READ, page)
                .await;
            assert_eq!(
                readers, sent.readers,
                "step {step}: read list of {}",
                sent.id
            );
            let unread_list = live
                .list(&sender, &sent.id, READ_MEMBERS_FILTER_UNREAD, page)
                .await;
            let expected: BTreeSet<String> =
                sent.recipients.difference(&sent.readers).cloned().collect();
            assert_eq!(
                unread_list, expected,
                "step {step}: unread list of {}",
                sent.id
            );
        }
    }
}

async fn run(scenario: Scenario) {
    let server = TestServer::start_with(|config| {
        config.limits.requests_per_second = 1_000_000;
        config.limits.request_burst = 1_000_000;
    })
    .await;
    let users: Vec<String> = (0..scenario.members + scenario.outsiders)
        .map(|i| format!("user{i}"))
        .collect();
    let mut clients = BTreeMap::new();
    for user in &users {
        clients.insert(user.clone(), server.client(user).await);
    }
    let mut live = Live { server, clients };
    let mut model = Model {
        owner: users[0].clone(),
        ..Model::default()
    };
    let initial: Vec<GroupMemberSpec> = users[1..scenario.members]
        .iter()
        .map(|u| GroupMemberSpec {
            user_id: u.clone(),
            role: GroupRole::Member,
        })
        .collect();
    live.client(&users[0])
        .create_group(CreateGroupParams {
            group_type: "Work".into(),
            group_id: Some(GROUP.into()),
            group_name: "model".into(),
            member_list: initial,
        })
        .await
        .expect("group created");
    model.members = users[..scenario.members].iter().cloned().collect();

    let user = |i: usize| users[i % users.len()].clone();
    for (step, op) in scenario.ops.iter().enumerate() {
        match op {
            Op::Send { user: u, receipt } => {
                let sender = user(*u);
                let params = SendMessageParams {
                    group_id: Some(GROUP.into()),
                    text_elem: Some(TextElem {
                        text: format!("step {step}"),
                    }),
                    need_read_receipt: *receipt,
                    ..SendMessageParams::default()
                };
                let got = result_code(live.client(&sender).send_message(params).await);
                let expected = model.send(&sender);
                assert_eq!(
                    got.as_ref().err(),
                    expected.err().as_ref(),
                    "step {step}: {sender} sends: {got:?}"
                );
                if let Ok(message) = got {
                    let recipients: BTreeSet<String> = if *receipt {
                        model
                            .members
                            .iter()
                            .filter(|m| **m != sender)
                            .cloned()
                            .collect()
                    } else {
                        BTreeSet::new()
                    };
                    model.sent.push(Sent {
                        id: message.msg_id,
                        sender,
                        receipt: *receipt,
                        last_counts: (0, recipients.len() as u64),
                        recipients,
                        readers: BTreeSet::new(),
                    });
                }
            }
            Op::Invite { inviter, invitee } => {
                let (inviter, invitee) = (user(*inviter), user(*invitee));
                let got = result_code(
                    live.client(&inviter)
                        .invite_user_to_group(GROUP, vec![invitee.clone()])
                        .await,
                )
                .map(|results| results[0].result);
                assert_eq!(
                    got,
                    model.invite(&inviter, &invitee),
                    "step {step}: {inviter} invites {invitee}"
                );
                if got.is_ok() {
                    model.members.insert(invitee);
                }
            }
            Op::Quit { user: u } => {
                let quitter = user(*u);
                let got = result_code(live.client(&quitter).quit_group(GROUP).await);
                assert_eq!(got, model.quit(&quitter), "step {step}: {quitter} quits");
                if got.is_ok() {
                    model.members.remove(&quitter);
                }
            }
            Op::Receipt {
                user: u,
                picks,
                any,
                unknown,
            } => {
                let reader = user(*u);
                let candidates: Vec<usize> = (0..model.sent.len())
                    .filter(|&i| *any || model.sent[i].receipt)
                    .collect();
                let mut refs: Vec<Option<usize>> = if candidates.is_empty() {
                    Vec::new()
                } else {
                    picks
                        .iter()
                        .map(|p| Some(candidates[p % candidates.len()]))
                        .collect()
                };
                if *unknown {
                    let at = picks[0] % (refs.len() + 1);
                    refs.insert(at, None);
                }
                if refs.is_empty() {
                    continue;
                }
                let ids: Vec<String> = refs
                    .iter()
                    .map(|r| r.map_or_else(|| UNKNOWN_ID.to_owned(), |i| model.sent[i].id.clone()))
                    .collect();
                let got = result_code(
                    live.client(&reader)
                        .send_message_read_receipts(ids.clone())
                        .await,
                );
                let expected = model.receipt(&reader, &refs);
                assert_eq!(
                    got.as_ref()
                        .map(|r| r.skipped_list.iter().map(|s| s.code).collect::<Vec<_>>())
                        .map_err(|code| *code),
                    expected
                        .as_ref()
                        .map(|(_, skipped)| skipped.clone())
                        .map_err(|code| *code),
                    "step {step}: {reader} sends receipts for {ids:?}; members {:?}",
                    model.members
                );
                if let Ok((indices, _)) = expected {
                    for index in indices {
                        model.sent[index].readers.insert(reader.clone());
                    }
                }
            }
            Op::Reconnect { user: u } => {
                let who = user(*u);
                live.reconnect(&who).await;
            }
        }
        check(&live, &mut model, scenario.page, step).await;
    }
    let Live {
        server, clients, ..
    } = live;
    for (client, _) in clients.values() {
        client.close().await;
    }
    server.stop().await;
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn group_receipts_match_the_model(scenario in scenario()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run(scenario));
    }
}
