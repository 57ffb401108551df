//! Tencent's `MsgBody` arrays (REST requests and replies, webhooks): parsing them into V2TIM
//! elements, and writing a stored message's content as one. A body that is not a single text or
//! custom element is stored as given.

use serde_json::{Value, json};
use tidings_proto::{CustomElem, ELEM_TYPE_CUSTOM, ELEM_TYPE_TEXT, TextElem};
use tidings_service::{ChangedContent, MessageContent, content_of};
use tidings_store::NewMessage;

/// A message body parsed from a REST `MsgBody`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParsedBody {
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

impl From<ParsedBody> for ChangedContent {
    fn from(body: ParsedBody) -> Self {
        match body {
            ParsedBody::Text(text) => Self::Text(text),
            ParsedBody::Custom(custom) => Self::Custom(custom),
            ParsedBody::Raw { elem_type, json } => Self::Elements { elem_type, json },
        }
    }
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

fn string_field(content: &Value, name: &str) -> Result<String, String> {
    match content.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(format!("MsgContent.{name} must be a string")),
    }
}

/// Parses a REST `MsgBody` array; refusals say what is wrong with it.
pub(crate) fn parse_msg_body(body: &Value) -> Result<ParsedBody, String> {
    let invalid = |why: &str| format!("MsgBody {why}");
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

/// A message's content as a `MsgBody` array.
pub(crate) fn msg_body(content: &MessageContent) -> Value {
    match content {
        MessageContent::Text(text) => {
            json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": text.text } }])
        }
        MessageContent::Custom(custom) => json!([{
            "MsgType": "TIMCustomElem",
            "MsgContent": { "Data": custom.data, "Desc": custom.desc, "Ext": custom.extension },
        }]),
        MessageContent::Verbatim(elements) => elements.clone(),
    }
}

/// The `MsgBody` of a stored message; an empty array for a recalled one (its body was erased),
/// and when its stored body cannot be read (the failure is logged), so one damaged message does not fail a whole listing or callback.
pub(crate) fn msg_body_of(message: &NewMessage) -> Value {
    // A recalled message's body was erased.
    if message.body.is_empty() {
        return Value::Array(Vec::new());
    }
    match content_of(message) {
        Ok(content) => msg_body(&content),
        Err(error) => {
            tracing::error!(%error, "cannot read a stored message body");
            Value::Array(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests;
