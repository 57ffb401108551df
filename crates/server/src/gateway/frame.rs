//! Reading request frames and writing responses, with precise errors for bad input.

use serde_json::Value;
use tidings_proto::{ErrorCode, MAX_FRAME_BYTES, Response};

use crate::error::WireError;

/// A request frame that passed the envelope checks.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub id: u64,
    pub method: String,
    pub params: Value,
}

/// Parses a text frame into a request; on failure, the response to send (with the request's
/// `id` when one could be read).
pub(crate) fn parse(text: &str) -> Result<Incoming, (Option<u64>, WireError)> {
    if text.len() > MAX_FRAME_BYTES {
        return Err((
            None,
            WireError::new(
                ErrorCode::FrameTooLarge,
                format!(
                    "frame is {} bytes; the limit is {MAX_FRAME_BYTES}",
                    text.len()
                ),
            ),
        ));
    }
    let invalid = |id, desc: String| (id, WireError::new(ErrorCode::InvalidParameters, desc));
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid(None, format!("malformed JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(invalid(None, "a request must be a JSON object".into()));
    };
    let id = match object.get("id") {
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(_) => return Err(invalid(None, "\"id\" must be an unsigned integer".into())),
        None => return Err(invalid(None, "missing \"id\"".into())),
    };
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return Err(invalid(id, "\"method\" must be a string".into())),
        None => return Err(invalid(id, "missing \"method\"".into())),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Value::Object(serde_json::Map::new()),
        Some(params @ Value::Object(_)) => params,
        Some(_) => return Err(invalid(id, "\"params\" must be an object".into())),
    };
    Ok(Incoming {
        id: id.unwrap_or_default(),
        method,
        params,
    })
}

/// Encodes a response frame.
pub(crate) fn response(id: Option<u64>, result: Result<Value, WireError>) -> String {
    let response = match result {
        Ok(data) => Response {
            id,
            code: 0,
            desc: String::new(),
            data,
        },
        Err(error) => Response {
            id,
            code: error.code.as_u32(),
            desc: error.desc,
            data: Value::Null,
        },
    };
    serde_json::to_string(&response).unwrap_or_else(|_| {
        format!(
            "{{\"id\":null,\"code\":{},\"desc\":\"cannot encode response\",\"data\":null}}",
            ErrorCode::Internal.as_u32()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(text: &str) -> (Option<u64>, u32) {
        let (id, error) = parse(text).unwrap_err();
        (id, error.code.as_u32())
    }

    #[test]
    fn envelope_errors_keep_the_id_when_readable() {
        assert_eq!(code_of("{"), (None, 6017));
        assert_eq!(code_of("[]"), (None, 6017));
        assert_eq!(code_of(r#"{"method":"login"}"#), (None, 6017));
        assert_eq!(code_of(r#"{"id":-1,"method":"login"}"#), (None, 6017));
        assert_eq!(code_of(r#"{"id":4}"#), (Some(4), 6017));
        assert_eq!(code_of(r#"{"id":4,"method":7}"#), (Some(4), 6017));
        assert_eq!(
            code_of(r#"{"id":4,"method":"x","params":[1]}"#),
            (Some(4), 6017)
        );
        assert_eq!(code_of(&" ".repeat(MAX_FRAME_BYTES + 1)), (None, 9522));
    }

    #[test]
    fn absent_params_mean_an_empty_object() {
        let incoming = parse(r#"{"id":1,"method":"logout"}"#).unwrap();
        assert_eq!(incoming.params, serde_json::json!({}));
    }
}
