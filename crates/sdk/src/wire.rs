//! Encoding requests and reading incoming text frames.

use serde::de::DeserializeOwned;
use serde_json::Value;
use tidings_proto::{Push, Request, Response};

use crate::SdkError;

/// An incoming text frame: a push when it has an `event` key, otherwise a response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    Response(Response),
    Push(Push),
}

/// Reads one text frame.
pub(crate) fn classify(text: &str) -> Result<Incoming, SdkError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| SdkError::Protocol(format!("frame is not JSON: {e}")))?;
    let is_push = value.as_object().is_some_and(|o| o.contains_key("event"));
    if is_push {
        serde_json::from_value(value)
            .map(Incoming::Push)
            .map_err(|e| SdkError::Protocol(format!("malformed push: {e}")))
    } else {
        serde_json::from_value(value)
            .map(Incoming::Response)
            .map_err(|e| SdkError::Protocol(format!("malformed response: {e}")))
    }
}

/// The text frame of a request.
pub(crate) fn encode_request(id: u64, method: &str, params: Value) -> Result<String, SdkError> {
    let request = Request {
        id,
        method: method.to_owned(),
        params,
    };
    serde_json::to_string(&request)
        .map_err(|e| SdkError::Protocol(format!("cannot encode {method} request: {e}")))
}

/// The result of a response: its `data` on code 0, otherwise the server's error.
pub(crate) fn response_result(response: Response) -> Result<Value, SdkError> {
    if response.code == 0 {
        Ok(response.data)
    } else {
        Err(SdkError::Server {
            code: response.code,
            desc: response.desc,
        })
    }
}

/// Decodes a response's `data`. A `null` (or absent) `data` also stands for `{}`, so results
/// without content decode whichever way the server leaves them empty.
pub(crate) fn decode_output<T: DeserializeOwned>(method: &str, data: Value) -> Result<T, SdkError> {
    let is_null = data.is_null();
    match serde_json::from_value(data) {
        Ok(output) => Ok(output),
        Err(_) if is_null => serde_json::from_value(Value::Object(serde_json::Map::new()))
            .map_err(|e| SdkError::Protocol(format!("{method} answered with no data: {e}"))),
        Err(e) => Err(SdkError::Protocol(format!(
            "cannot decode {method} result: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tidings_proto::methods::{Empty, SendMessage};
    use tidings_proto::{Message, Method};

    use super::*;

    #[test]
    fn push_and_response_are_told_apart() {
        let push = classify(r#"{"event":"onUserSigExpired","data":{}}"#).unwrap();
        assert_eq!(
            push,
            Incoming::Push(Push {
                event: "onUserSigExpired".into(),
                data: json!({})
            })
        );
        let response = classify(r#"{"id":3,"code":0,"desc":"","data":{"groupID":"g"}}"#).unwrap();
        assert_eq!(
            response,
            Incoming::Response(Response {
                id: Some(3),
                code: 0,
                desc: String::new(),
                data: json!({"groupID": "g"})
            })
        );
    }

    #[test]
    fn response_with_null_id() {
        let Incoming::Response(r) =
            classify(r#"{"id":null,"code":6017,"desc":"bad JSON"}"#).unwrap()
        else {
            panic!("not a response");
        };
        assert_eq!(r.id, None);
        assert_eq!(r.data, Value::Null);
        assert_eq!(
            response_result(r),
            Err(SdkError::Server {
                code: 6017,
                desc: "bad JSON".into()
            })
        );
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        for text in ["not json", "[1,2]", r#"{"event":5}"#, r#"{"id":1}"#] {
            assert!(
                matches!(classify(text), Err(SdkError::Protocol(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn request_frame_shape() {
        let text = encode_request(9, "logout", json!({})).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value, json!({"id": 9, "method": "logout", "params": {}}));
    }

    #[test]
    fn empty_results_accept_null_and_objects() {
        let from_null: Empty = decode_output("logout", Value::Null).unwrap();
        let from_object: Empty = decode_output("logout", json!({})).unwrap();
        assert_eq!(from_null, from_object);
        let list: Option<Vec<String>> = decode_output("x", Value::Null).unwrap();
        assert_eq!(list, None);
    }

    #[test]
    fn wrong_result_shape_is_a_protocol_error() {
        let err = decode_output::<<SendMessage as Method>::Output>("sendMessage", json!([]));
        assert!(matches!(err, Err(SdkError::Protocol(_))));
        let err = decode_output::<Message>("sendMessage", Value::Null);
        assert!(matches!(err, Err(SdkError::Protocol(_))));
    }
}
