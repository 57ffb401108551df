//! Reading request frames and writing responses, with precise errors for bad input.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tidings_proto::{ErrorCode, MAX_FRAME_BYTES, MethodKind, Response};

use crate::error::WireError;

/// A request frame that passed the envelope checks. The params stay unparsed JSON text until
/// the method decodes them into its own type, so no generic JSON tree is built per request.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub id: u64,
    /// The method, or the name as sent when no method has it (refused in its turn, so that
    /// responses keep the order of requests).
    pub method: Result<MethodKind, String>,
    /// A JSON object (`{}` when the frame had none).
    pub params: Box<RawValue>,
}

/// The three members of the envelope, each still raw, so that every check below can name the
/// member at fault and keep the `id` once it is readable. Other members are ignored.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    id: Member<'a>,
    #[serde(borrow, default)]
    method: Member<'a>,
    #[serde(borrow, default)]
    params: Member<'a>,
}

/// One envelope member as raw JSON, `None` when absent. Unlike `Option`, a JSON `null` is kept
/// as the text `null`, so that `"id": null` is refused as not an integer rather than as missing.
#[derive(Default)]
struct Member<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Member<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| Self(Some(raw)))
    }
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
    // A struct would also accept a JSON array (its fields in order): only objects are requests.
    let is_object = |json: &str| json.trim_start().starts_with('{');
    let not_an_object = || invalid(None, "a request must be a JSON object".into());
    let envelope: Envelope<'_> = match serde_json::from_str(text) {
        Ok(envelope) if is_object(text) => envelope,
        Ok(_) => return Err(not_an_object()),
        Err(e) if is_object(text) || e.is_syntax() || e.is_eof() => {
            return Err(invalid(None, format!("malformed JSON: {e}")));
        }
        Err(_) => return Err(not_an_object()),
    };
    let id = match envelope.id.0 {
        Some(raw) => match serde_json::from_str::<u64>(raw.get()) {
            Ok(id) => Some(id),
            Err(_) => return Err(invalid(None, "\"id\" must be an unsigned integer".into())),
        },
        None => return Err(invalid(None, "missing \"id\"".into())),
    };
    let method = match envelope.method.0 {
        Some(raw) => match serde_json::from_str::<String>(raw.get()) {
            Ok(name) => MethodKind::from_name(&name).ok_or(name),
            Err(_) => return Err(invalid(id, "\"method\" must be a string".into())),
        },
        None => return Err(invalid(id, "missing \"method\"".into())),
    };
    let params = match envelope.params.0 {
        None => empty_object(),
        Some(raw) if raw.get() == "null" => empty_object(),
        Some(raw) if is_object(raw.get()) => raw.to_owned(),
        Some(_) => return Err(invalid(id, "\"params\" must be an object".into())),
    };
    Ok(Incoming {
        id: id.unwrap_or_default(),
        method,
        params,
    })
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("{{}} is JSON"))
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
        assert_eq!(code_of(r#"[4, "login", {}]"#), (None, 6017));
        assert_eq!(code_of(r#"{"id":4.5,"method":"login"}"#), (None, 6017));
        let (_, null_id) = parse(r#"{"id":null,"method":"login"}"#).unwrap_err();
        assert!(
            null_id.desc.contains("unsigned integer"),
            "{}",
            null_id.desc
        );
        let (id, null_method) = parse(r#"{"id":4,"method":null}"#).unwrap_err();
        assert_eq!(id, Some(4));
        assert!(
            null_method.desc.contains("must be a string"),
            "{}",
            null_method.desc
        );
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
        assert_eq!(incoming.params.get(), "{}");
        let incoming = parse(r#"{"id":1,"method":"logout","params":null}"#).unwrap();
        assert_eq!(incoming.params.get(), "{}");
    }

    #[test]
    fn the_method_is_known_or_kept_as_sent() {
        let known = parse(r#"{"id":1,"method":"getConversationList"}"#).unwrap();
        assert_eq!(known.method, Ok(MethodKind::GetConversationList));
        let unknown = parse(r#"{"id":2,"method":"GetConversationList"}"#).unwrap();
        assert_eq!(unknown.method, Err("GetConversationList".to_owned()));
    }
}
