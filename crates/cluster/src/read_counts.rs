//! The highest group read count this node has handed its sessions for each recent message, so
//! that counts never go down on a device, even while the node that coalesces a sender's
//! notifications changes (nodes joining or leaving) and two nodes' pushes cross on the bus.
//!
//! A message's read count only grows (its readers are a set that never loses a member), and
//! its receipt pushes go to its sender alone, so a push carrying a lower count than one already
//! delivered here is stale: that receipt is left out (the whole push when nothing is left).

use std::sync::Mutex;

use quick_cache::unsync::Cache;
use tidings_proto::PushEvent;
use tidings_service::{Delivery, Hub, SharedPush};

/// Messages whose highest count is kept, at most (the least recently used go first; a stale push
/// arrives within moments of the newer one, not after this many other messages).
const REMEMBERED: usize = 65_536;

/// The highest read count delivered on this node, by message.
pub(crate) struct ReadCountFloor {
    /// Held from checking a push to handing it to the hub, so that two pushes of one message
    /// reach the sessions' queues in the order they were checked.
    highest: Mutex<Cache<String, u64>>,
}

impl Default for ReadCountFloor {
    fn default() -> Self {
        Self {
            highest: Mutex::new(Cache::new(REMEMBERED)),
        }
    }
}

impl ReadCountFloor {
    /// Hands `delivery` to `hub`, without the group receipts whose count is below one this node
    /// delivered before. Other deliveries go as they are.
    pub(crate) fn deliver(&self, hub: &Hub, delivery: &Delivery) {
        let Delivery::Push {
            users,
            push,
            except,
        } = delivery
        else {
            return hub.deliver(delivery);
        };
        let PushEvent::OnRecvMessageReadReceipts(receipts) = push.event() else {
            return hub.deliver(delivery);
        };
        if receipts.iter().all(|r| r.group_id.is_empty()) {
            return hub.deliver(delivery); // C2C receipts carry no count
        }
        let mut highest = self.highest.lock().unwrap_or_else(|e| e.into_inner());
        let mut current = Vec::with_capacity(receipts.len());
        for receipt in receipts {
            if receipt.group_id.is_empty() {
                current.push(receipt.clone());
                continue;
            }
            let seen = highest.get(&receipt.msg_id).copied();
            if seen.is_some_and(|seen| seen > receipt.read_count) {
                continue; // stale
            }
            if seen != Some(receipt.read_count) {
                highest.insert(receipt.msg_id.clone(), receipt.read_count);
            }
            current.push(receipt.clone());
        }
        if current.len() == receipts.len() {
            hub.deliver(delivery);
        } else if !current.is_empty() {
            hub.deliver(&Delivery::Push {
                users: users.clone(),
                push: SharedPush::new(PushEvent::OnRecvMessageReadReceipts(current)),
                except: *except,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_proto::MessageReceipt;
    use tidings_service::{Outbound, OutboundQueue, outbound_queue};

    fn counts(pairs: &[(&str, u64)]) -> Delivery {
        Delivery::Push {
            users: vec!["alice".into()],
            push: SharedPush::new(PushEvent::OnRecvMessageReadReceipts(
                pairs
                    .iter()
                    .map(|(msg, read)| {
                        MessageReceipt::group((*msg).into(), "g".into(), *read, 9 - read)
                    })
                    .collect(),
            )),
            except: None,
        }
    }

    fn received(queue: &mut OutboundQueue) -> Vec<Vec<(String, u64)>> {
        let mut pushes = Vec::new();
        while let Some(Outbound::Push(push)) = queue.try_recv() {
            let PushEvent::OnRecvMessageReadReceipts(receipts) = push.event() else {
                panic!("a receipt push: {push:?}");
            };
            pushes.push(
                receipts
                    .iter()
                    .map(|r| (r.msg_id.clone(), r.read_count))
                    .collect(),
            );
        }
        pushes
    }

    #[test]
    fn a_lower_count_than_one_delivered_is_left_out() {
        let hub = Hub::new(10);
        let (sender, mut queue) = outbound_queue(16, usize::MAX);
        hub.register("alice", sender);
        let floor = ReadCountFloor::default();
        for delivery in [
            counts(&[("m1", 5)]),
            counts(&[("m1", 3), ("m2", 1)]), // m1 stale, m2 new
            counts(&[("m1", 4)]),            // stale: not delivered at all
            counts(&[("m1", 5), ("m2", 2)]), // equal is not lower
            counts(&[("m1", 7)]),
        ] {
            floor.deliver(&hub, &delivery);
        }
        let owned = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
            pairs.iter().map(|(m, c)| ((*m).to_owned(), *c)).collect()
        };
        assert_eq!(
            received(&mut queue),
            [
                owned(&[("m1", 5)]),
                owned(&[("m2", 1)]),
                owned(&[("m1", 5), ("m2", 2)]),
                owned(&[("m1", 7)]),
            ]
        );
    }

    #[test]
    fn c2c_receipts_and_other_pushes_pass_unchanged() {
        let hub = Hub::new(10);
        let (sender, mut queue) = outbound_queue(16, usize::MAX);
        hub.register("alice", sender);
        let floor = ReadCountFloor::default();
        let c2c = Delivery::Push {
            users: vec!["alice".into()],
            push: SharedPush::new(PushEvent::OnRecvMessageReadReceipts(vec![
                MessageReceipt::c2c("m".into(), "bob".into(), Some(1)),
            ])),
            except: None,
        };
        floor.deliver(&hub, &c2c);
        floor.deliver(&hub, &c2c);
        let mut got = 0;
        while let Some(Outbound::Push(_)) = queue.try_recv() {
            got += 1;
        }
        assert_eq!(got, 2);
    }
}
