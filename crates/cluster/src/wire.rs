//! The form of a delivery on the bus: JSON naming the node it came from, the recipients and the
//! typed push (or the user to log out). A large one is compressed (DEFLATE, marked by a first
//! byte that JSON never starts with), so that a push to a 100,000-member group is one publish
//! within NATS's payload limit; only what still does not fit is split, into as few publishes as
//! fit.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};
use tidings_proto::PushEvent;
use tidings_service::{Delivery, SharedPush};

/// Payloads larger than this are compressed: below it, compressing costs more than it saves.
const COMPRESS_OVER: usize = 4096;

/// First byte of a compressed payload (a JSON payload starts with `{`).
const COMPRESSED: u8 = 0;

/// Largest a payload may grow to when decompressed, far above the largest delivery (100,000
/// recipients of the longest IDs and the largest push are a few megabytes), so that a payload
/// that inflates without end is refused instead of filling memory.
const MAX_DECOMPRESSED: u64 = 32 * 1024 * 1024;

/// Why a message from the bus could not be read, or a delivery not written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("compression: {0}")]
    Compression(#[from] std::io::Error),
    #[error("decompresses to more than {MAX_DECOMPRESSED} bytes")]
    TooLarge,
    #[error("one recipient's push does not fit in {0} bytes")]
    DoesNotFit(usize),
}

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

/// The messages that carry `delivery` from node `origin`, each at most `max_payload` bytes:
/// one, unless even compressed it does not fit, then as few as fit (the recipients split in
/// halves until each part fits). The session left out is of the origin's, which delivers
/// locally, so it is not sent.
pub(crate) fn encode(
    origin: &str,
    delivery: &Delivery,
    max_payload: usize,
) -> Result<Vec<Vec<u8>>, WireError> {
    match delivery {
        Delivery::Push { users, push, .. } => {
            let mut payloads = Vec::new();
            encode_push(origin, users, push.event(), max_payload, &mut payloads)?;
            Ok(payloads)
        }
        Delivery::Kick { user, reason } => {
            let payload = framed(serde_json::to_vec(&Outgoing::Kick {
                origin,
                user,
                reason,
            })?)?;
            if payload.len() > max_payload {
                return Err(WireError::DoesNotFit(max_payload));
            }
            Ok(vec![payload])
        }
    }
}

fn encode_push(
    origin: &str,
    users: &[String],
    push: &PushEvent,
    max_payload: usize,
    payloads: &mut Vec<Vec<u8>>,
) -> Result<(), WireError> {
    let payload = framed(serde_json::to_vec(&Outgoing::Push {
        origin,
        users,
        push,
    })?)?;
    if payload.len() <= max_payload {
        payloads.push(payload);
        return Ok(());
    }
    if users.len() < 2 {
        return Err(WireError::DoesNotFit(max_payload));
    }
    let (first, second) = users.split_at(users.len() / 2);
    encode_push(origin, first, push, max_payload, payloads)?;
    encode_push(origin, second, push, max_payload, payloads)
}

/// `json` as it goes on the bus: compressed when large.
fn framed(json: Vec<u8>) -> Result<Vec<u8>, WireError> {
    if json.len() <= COMPRESS_OVER {
        return Ok(json);
    }
    let mut encoder = DeflateEncoder::new(vec![COMPRESSED], Compression::fast());
    encoder.write_all(&json)?;
    Ok(encoder.finish()?)
}

/// The origin node and the delivery of a message from the bus.
pub(crate) fn decode(payload: &[u8]) -> Result<(String, Delivery), WireError> {
    let incoming = match payload.split_first() {
        Some((&COMPRESSED, compressed)) => {
            let mut json = Vec::new();
            DeflateDecoder::new(compressed)
                .take(MAX_DECOMPRESSED + 1)
                .read_to_end(&mut json)?;
            if json.len() as u64 > MAX_DECOMPRESSED {
                return Err(WireError::TooLarge);
            }
            serde_json::from_slice(&json)?
        }
        _ => serde_json::from_slice(payload)?,
    };
    Ok(match incoming {
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

    /// NATS's default payload limit.
    const ONE_MIB: usize = 1024 * 1024;

    fn push_to(users: &[String]) -> (Delivery, std::sync::Arc<SharedPush>) {
        let push = SharedPush::new(PushEvent::OnKickedOffline(Default::default()));
        let delivery = Delivery::Push {
            users: users.to_vec(),
            push: push.clone(),
            except: Some(7),
        };
        (delivery, push)
    }

    /// The recipients of `payloads`, each decoded, in order; checks origin, push and size.
    fn recipients(payloads: &[Vec<u8>], push: &std::sync::Arc<SharedPush>) -> Vec<String> {
        let mut decoded = Vec::new();
        for payload in payloads {
            assert!(payload.len() <= ONE_MIB, "{} bytes", payload.len());
            let (origin, delivery) = decode(payload).unwrap();
            assert_eq!(origin, "node-a");
            let Delivery::Push {
                users,
                push: got,
                except,
            } = delivery
            else {
                panic!("a push");
            };
            assert_eq!((&got, except), (push, None));
            decoded.extend(users);
        }
        decoded
    }

    #[test]
    fn a_push_to_100_000_members_is_one_publish_under_the_payload_limit() {
        let users: Vec<String> = (0..100_000).map(|i| format!("member{i:06}")).collect();
        let (delivery, push) = push_to(&users);
        let payloads = encode("node-a", &delivery, ONE_MIB).unwrap();
        assert_eq!(payloads.len(), 1);
        assert_eq!(payloads[0][0], COMPRESSED);
        assert_eq!(recipients(&payloads, &push), users);
    }

    #[test]
    fn recipients_that_do_not_compress_enough_go_in_as_few_publishes_as_fit() {
        // 100,000 IDs of 32 pseudo-random hex digits: 3.4 MB of JSON, 1.7 MB compressed.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let users: Vec<String> = (0..100_000)
            .map(|_| {
                let mut id = String::new();
                for _ in 0..2 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    id.push_str(&format!("{state:016x}"));
                }
                id
            })
            .collect();
        let (delivery, push) = push_to(&users);
        let payloads = encode("node-a", &delivery, ONE_MIB).unwrap();
        assert_eq!(payloads.len(), 2);
        assert_eq!(recipients(&payloads, &push), users);
    }

    #[test]
    fn a_small_push_is_plain_json() {
        let users = vec!["alice".to_owned(), "bob".to_owned()];
        let (delivery, push) = push_to(&users);
        let payloads = encode("node-a", &delivery, ONE_MIB).unwrap();
        assert_eq!(payloads.len(), 1);
        assert_eq!(payloads[0][0], b'{');
        assert_eq!(recipients(&payloads, &push), users);
    }

    #[test]
    fn a_bomb_is_refused_not_inflated() {
        let mut encoder = DeflateEncoder::new(vec![COMPRESSED], Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..40 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < ONE_MIB, "{} bytes", bomb.len());
        assert!(matches!(decode(&bomb), Err(WireError::TooLarge)));
    }

    #[test]
    fn a_kick_crosses_the_bus() {
        let kick = Delivery::Kick {
            user: "alice".into(),
            reason: "kicked by the administrator".into(),
        };
        let payloads = encode("n1", &kick, ONE_MIB).unwrap();
        assert_eq!(payloads.len(), 1);
        let decoded = decode(&payloads[0]).unwrap();
        assert_eq!(decoded, ("n1".to_owned(), kick));
    }
}
