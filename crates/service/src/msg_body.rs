//! Tencent REST `MsgBody` arrays: building them from stored messages and parsing them into
//! V2TIM elements. Bodies that are not a single text or custom element are stored as given.

use serde_json::{Value, json};
use tidings_proto::{CustomElem, ELEM_TYPE_CUSTOM, ELEM_TYPE_TEXT, TextElem};
use tidings_store::NewMessage;

use crate::{ServiceError, ServiceResult};

/// A message body parsed from a REST `MsgBody`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedBody {
    /// One `TIMTextElem`.
    Text(TextElem),
    /// One `TIMCustomElem`.
    Custom(CustomElem),
    /// Anything else, kept verbatim: the V2TIM type of its first element and the array's JSON.
    Raw {
        /// V2TIM element type of the first element.
        elem_type: u32,
        /// The `MsgBody` array as JSON text.
        json: String,
    },
}

/// V2TIM's element type number for a Tencent `MsgType`.
fn elem_type_of(msg_type: &str) -> Option<u32> {
    Some(match msg_type {
        "TIMTextElem" => ELEM_TYPE_TEXT,
        "TIMCustomElem" => ELEM_TYPE_CUSTOM,
        "TIMImageElem" => 3,
        "TIMSoundElem" => 4,
        "TIMVideoFileElem" => 5,
        "TIMFileElem" => 6,
        "TIMLocationElem" => 7,
        "TIMFaceElem" => 8,
        _ => return None,
    })
}

fn string_field(content: &Value, name: &str) -> ServiceResult<String> {
    match content.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(ServiceError::InvalidParameters(format!(
            "MsgContent.{name} must be a string"
        ))),
    }
}

/// Parses a REST `MsgBody` array.
pub fn parse_msg_body(body: &Value) -> ServiceResult<ParsedBody> {
    let invalid = |why: &str| ServiceError::InvalidParameters(format!("MsgBody {why}"));
    let elements = body
        .as_array()
        .ok_or_else(|| invalid("must be an array of elements"))?;
    if elements.is_empty() {
        return Err(invalid("must hold at least one element"));
    }
    let mut first_type = None;
    for element in elements {
        let msg_type = element
            .get("MsgType")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("elements need a MsgType string"))?;
        let elem_type = elem_type_of(msg_type)
            .ok_or_else(|| invalid(&format!("has unknown MsgType {msg_type:?}")))?;
        if !element.get("MsgContent").is_some_and(Value::is_object) {
            return Err(invalid("elements need a MsgContent object"));
        }
        first_type.get_or_insert(elem_type);
    }
    let content = &elements[0]["MsgContent"];
    match (elements.len(), first_type) {
        (1, Some(ELEM_TYPE_TEXT)) => Ok(ParsedBody::Text(TextElem {
            text: string_field(content, "Text")?,
        })),
        (1, Some(ELEM_TYPE_CUSTOM)) => Ok(ParsedBody::Custom(CustomElem {
            data: string_field(content, "Data")?,
            desc: string_field(content, "Desc")?,
            extension: string_field(content, "Ext")?,
        })),
        (_, elem_type) => Ok(ParsedBody::Raw {
            elem_type: elem_type.unwrap_or(ELEM_TYPE_CUSTOM),
            json: body.to_string(),
        }),
    }
}

/// The stored body is a verbatim `MsgBody` array (not a single V2TIM element).
pub(crate) fn is_raw(body: &str) -> bool {
    body.starts_with('[')
}

/// The Tencent `MsgBody` of a stored message.
pub fn msg_body_of(message: &NewMessage) -> Value {
    if is_raw(&message.body) {
        return serde_json::from_str(&message.body).unwrap_or(Value::Array(Vec::new()));
    }
    let stored: Value = serde_json::from_str(&message.body).unwrap_or(Value::Null);
    let text = |name: &str| {
        stored
            .get(name)
            .cloned()
            .unwrap_or(Value::String(String::new()))
    };
    if message.elem_type == ELEM_TYPE_CUSTOM {
        json!([{ "MsgType": "TIMCustomElem", "MsgContent": { "Data": text("data"), "Desc": text("desc"), "Ext": text("extension") } }])
    } else {
        json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": text("text") } }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_text_and_custom_elements_become_v2tim_elements() {
        let text = json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]);
        assert_eq!(
            parse_msg_body(&text).unwrap(),
            ParsedBody::Text(TextElem { text: "hi".into() })
        );
        let custom = json!([{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "d", "Ext": "e"}}]);
        let ParsedBody::Custom(elem) = parse_msg_body(&custom).unwrap() else {
            panic!("custom")
        };
        assert_eq!(
            (
                elem.data.as_str(),
                elem.desc.as_str(),
                elem.extension.as_str()
            ),
            ("d", "", "e")
        );
    }

    #[test]
    fn other_bodies_are_kept_verbatim() {
        let body = json!([
            {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "x"}},
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "and"}}
        ]);
        let ParsedBody::Raw { elem_type, json } = parse_msg_body(&body).unwrap() else {
            panic!("raw")
        };
        assert_eq!(elem_type, 8);
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), body);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for bad in [
            json!({}),
            json!([]),
            json!([{"MsgType": "TIMNope", "MsgContent": {}}]),
            json!([{"MsgType": "TIMTextElem"}]),
            json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}]),
        ] {
            assert!(parse_msg_body(&bad).is_err(), "{bad}");
        }
    }
}
