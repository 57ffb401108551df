//! The form of a delivery on the bus: JSON naming the node it came from, the recipients and the
//! typed push (or the user to log out).

use serde::{Deserialize, Serialize};
use tidings_proto::PushEvent;
use tidings_service::{Delivery, SharedPush};

use crate::USERS_PER_PUBLISH;

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Outgoing<'a> {
    Push {
        origin: &'a str,
        users: &'a [String],
        push: &'a PushEvent,
    },
    Kick {
        origin: &'a str,
        user: &'a str,
        reason: &'a str,
    },
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Incoming {
    Push {
        origin: String,
        users: Vec<String>,
        push: Box<PushEvent>,
    },
    Kick {
        origin: String,
        user: String,
        reason: String,
    },
}

/// The messages that carry `delivery` from node `origin`: one, or one per chunk of recipients.
/// The session left out is of the origin's, which delivers locally, so it is not sent.
pub(crate) fn encode(origin: &str, delivery: &Delivery) -> Vec<serde_json::Result<Vec<u8>>> {
    match delivery {
        Delivery::Push { users, push, .. } => users
            .chunks(USERS_PER_PUBLISH)
            .map(|users| {
                serde_json::to_vec(&Outgoing::Push {
                    origin,
                    users,
                    push: push.event(),
                })
            })
            .collect(),
        Delivery::Kick { user, reason } => vec![serde_json::to_vec(&Outgoing::Kick {
            origin,
            user,
            reason,
        })],
    }
}

/// The origin node and the delivery of a message from the bus.
pub(crate) fn decode(payload: &[u8]) -> serde_json::Result<(String, Delivery)> {
    Ok(match serde_json::from_slice(payload)? {
        Incoming::Push {
            origin,
            users,
            push,
        } => (
            origin,
            Delivery::Push {
                users,
                push: SharedPush::new(*push),
                except: None,
            },
        ),
        Incoming::Kick {
            origin,
            user,
            reason,
        } => (origin, Delivery::Kick { user, reason }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_recipient_list_is_published_in_chunks_that_decode_to_it() {
        let users: Vec<String> = (0..USERS_PER_PUBLISH * 2 + 1)
            .map(|i| format!("u{i}"))
            .collect();
        let push = SharedPush::new(PushEvent::OnKickedOffline(Default::default()));
        let delivery = Delivery::Push {
            users: users.clone(),
            push: push.clone(),
            except: Some(7),
        };
        let mut decoded = Vec::new();
        for payload in encode("node-a", &delivery) {
            let (origin, delivery) = decode(&payload.unwrap()).unwrap();
            assert_eq!(origin, "node-a");
            let Delivery::Push {
                users,
                push: got,
                except,
            } = delivery
            else {
                panic!("a push");
            };
            assert_eq!((got, except), (push.clone(), None));
            decoded.extend(users);
        }
        assert_eq!(decoded, users);
    }

    #[test]
    fn a_kick_crosses_the_bus() {
        let kick = Delivery::Kick {
            user: "alice".into(),
            reason: "kicked by the administrator".into(),
        };
        let payloads = encode("n1", &kick);
        assert_eq!(payloads.len(), 1);
        let decoded = decode(payloads[0].as_ref().unwrap()).unwrap();
        assert_eq!(decoded, ("n1".to_owned(), kick));
    }
}
