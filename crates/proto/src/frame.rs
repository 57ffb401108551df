//! The three frame shapes: request, response and push.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A client request: `{"id": 7, "method": "sendMessage", "params": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the client; echoed in the response.
    pub id: u64,
    /// A V2TIM method name such as `login` or `sendMessage`.
    pub method: String,
    /// Method parameters; absent means `{}`.
    #[serde(default = "empty_object")]
    pub params: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// The answer to one request: `code` 0 means success and `data` holds the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The request's `id`, or `null` when the frame could not be read far enough to find one.
    pub id: Option<u64>,
    /// 0 on success, otherwise an [`crate::ErrorCode`] value.
    pub code: u32,
    /// Empty on success, otherwise what was wrong, in words.
    pub desc: String,
    /// The result (`null` on error).
    #[serde(default)]
    pub data: Value,
}

/// A server push: `{"event": "onRecvNewMessage", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// A V2TIM listener callback name.
    pub event: String,
    /// The callback's payload.
    pub data: Value,
}
