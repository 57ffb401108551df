//! How a message's content is stored: the JSON of its one text or custom element, or, for a
//! REST body that is not one such element, the element array as the client sent it. The one
//! place that writes and reads that format.

use serde_json::{Value, json};
use tidings_proto::{CustomElem, ELEM_TYPE_CUSTOM, ELEM_TYPE_TEXT, TextElem};
use tidings_store::{NewMessage, StoreError};

use crate::{ChangedContent, ServiceResult};

/// What a stored message holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageContent {
    /// One text element.
    Text(TextElem),
    /// One custom element.
    Custom(CustomElem),
    /// Elements kept verbatim: the JSON array they were sent as.
    Verbatim(Value),
}

/// The stored body of a text element, or else of a custom element (an empty text without
/// either; the caller has checked that exactly one is given).
pub(crate) fn encode(text: Option<&TextElem>, custom: Option<&CustomElem>) -> (u32, String) {
    match (text, custom) {
        (Some(text), _) => (ELEM_TYPE_TEXT, json!({ "text": text.text }).to_string()),
        (None, Some(custom)) => (
            ELEM_TYPE_CUSTOM,
            json!({ "data": custom.data, "desc": custom.desc, "extension": custom.extension })
                .to_string(),
        ),
        (None, None) => (ELEM_TYPE_TEXT, json!({ "text": "" }).to_string()),
    }
}

/// The stored body of content the app's backend put in place of a message's, and its size as
/// the message limit counts it.
pub(crate) fn encode_changed(content: &ChangedContent) -> ((u32, String), usize) {
    match content {
        ChangedContent::Text(text) => (encode(Some(text), None), text.text.len()),
        ChangedContent::Custom(custom) => (
            encode(None, Some(custom)),
            custom.data.len() + custom.desc.len() + custom.extension.len(),
        ),
        ChangedContent::Elements { elem_type, json } => ((*elem_type, json.clone()), json.len()),
    }
}

/// The content of a stored message.
pub fn content_of(message: &NewMessage) -> ServiceResult<MessageContent> {
    let corrupt =
        |e: serde_json::Error| StoreError::Corrupt(format!("message {}: {e}", message.msg_id));
    let body = &message.body;
    // A verbatim array is told from an element's JSON object by its first character.
    Ok(if body.starts_with('[') {
        MessageContent::Verbatim(serde_json::from_str(body).map_err(corrupt)?)
    } else if message.elem_type == ELEM_TYPE_CUSTOM {
        MessageContent::Custom(serde_json::from_str(body).map_err(corrupt)?)
    } else {
        MessageContent::Text(serde_json::from_str(body).map_err(corrupt)?)
    })
}
