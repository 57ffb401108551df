//! What a [`crate::Client`] hands to the connection task, and the state they share.

use std::sync::Mutex;

use serde_json::Value;
use tidings_proto::methods::LoginParams;
use tokio::sync::oneshot;

use crate::SdkError;

/// A message from a client handle to the connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a request and route its response to `reply`.
    Request(Outgoing),
    /// Close the connection and stop; signal `done` once stopped.
    Close { done: oneshot::Sender<()> },
}

/// Where a response goes.
pub(crate) type Reply = oneshot::Sender<Result<Value, SdkError>>;

/// An encoded request waiting to be sent or answered.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) id: u64,
    pub(crate) method: &'static str,
    pub(crate) frame: String,
    pub(crate) kind: Kind,
    pub(crate) reply: Reply,
}

/// Requests whose success changes the session state the task keeps.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Normal,
    /// Logging in: these credentials are used for reconnects once it succeeds.
    Login(LoginParams),
    /// Logging out: a later connection loss is not repaired.
    Logout,
    /// Sending a message: the stored message takes its place in its conversation's order.
    Send,
}

/// State shared by the client handles and the connection task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Why the task stopped, once it has.
    stopped: Mutex<Option<SdkError>>,
}

impl Shared {
    /// Records why the task stopped (the first reason wins).
    pub(crate) fn stop(&self, reason: SdkError) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        stopped.get_or_insert(reason);
    }

    /// The error for calls after the task stopped.
    pub(crate) fn stop_reason(&self) -> SdkError {
        let stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        stopped.clone().unwrap_or(SdkError::Closed)
    }
}

impl Kind {
    /// The kind of a request for `method` with encoded `params`.
    pub(crate) fn of(method: &str, params: &Value) -> Self {
        use tidings_proto::Method as _;
        use tidings_proto::methods::{Login, Logout, SendMessage};
        if method == Login::NAME {
            // Parameters that do not parse are refused by the server: nothing to remember.
            serde_json::from_value(params.clone()).map_or(Self::Normal, Self::Login)
        } else if method == Logout::NAME {
            Self::Logout
        } else if method == SendMessage::NAME {
            Self::Send
        } else {
            Self::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn login_and_logout_are_recognised() {
        let Kind::Login(credentials) =
            Kind::of("login", &json!({"userID": "alice", "userSig": "sig"}))
        else {
            panic!("not a login");
        };
        assert_eq!(credentials.user_id, "alice");
        assert_eq!(credentials.user_sig, "sig");
        assert!(matches!(
            Kind::of("login", &json!({"userID": 5})),
            Kind::Normal
        ));
        assert!(matches!(Kind::of("logout", &json!({})), Kind::Logout));
        assert!(matches!(Kind::of("sendMessage", &json!({})), Kind::Send));
        assert!(matches!(
            Kind::of("getConversation", &json!({})),
            Kind::Normal
        ));
    }

    #[test]
    fn first_stop_reason_wins() {
        let shared = Shared::default();
        assert_eq!(shared.stop_reason(), SdkError::Closed);
        shared.stop(SdkError::KickedOffline { reason: "r".into() });
        shared.stop(SdkError::Closed);
        assert_eq!(
            shared.stop_reason(),
            SdkError::KickedOffline { reason: "r".into() }
        );
    }
}
