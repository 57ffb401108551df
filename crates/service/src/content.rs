//! How a message's content is stored: the JSON of its one element with V2TIM's field names
//! (`Elem::to_json`; the message's `elem_type` says which), or, for a REST body of several
//! elements, the element array as the client sent it. The one place that writes and reads that
//! format, and that checks an element's shape.

use serde_json::Value;
use tidings_proto::{
    Elem, IMAGE_TYPE_LARGE, IMAGE_TYPE_ORIGIN, IMAGE_TYPE_THUMB, MergedMessage, TextElem,
};
use tidings_store::{NewMessage, StoreError};

use crate::{ChangedContent, ServiceResult};

/// What a stored message holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageContent {
    /// One element.
    Elem(Elem),
    /// Elements kept verbatim: the JSON array they were sent as.
    Verbatim(Value),
}

/// Most sizes of one image (original, large, thumbnail).
const MAX_IMAGE_SIZES: usize = 3;

/// Whether `url` can be downloaded from by a client: an `http://` or `https://` URL (no
/// `javascript:` or `data:` URL reaches a page that shows it).
fn is_download_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") && url.len() > 8)
        || (lower.starts_with("http://") && url.len() > 7)
}

fn require_url(url: &str, field: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err(format!(
            "{field} is missing: media are uploaded by the app and messages carry their URL"
        ));
    }
    if !is_download_url(url) {
        return Err(format!("{field} must be an http:// or https:// URL"));
    }
    Ok(())
}

/// Checks an element's shape: media carry a download URL, images one to three sizes of
/// distinct types, locations coordinates in range, merged messages at least one message, each
/// with one well-formed element. Refusals say what is wrong.
pub fn check_elem(elem: &Elem) -> Result<(), String> {
    match elem {
        Elem::Text(_) | Elem::Custom(_) | Elem::Face(_) => Ok(()),
        Elem::Image(image) => {
            let sizes = &image.image_list;
            if sizes.is_empty() || sizes.len() > MAX_IMAGE_SIZES {
                return Err(format!(
                    "imageElem.imageList must hold 1 to {MAX_IMAGE_SIZES} sizes, not {}",
                    sizes.len()
                ));
            }
            let mut seen = Vec::new();
            for size in sizes {
                if ![IMAGE_TYPE_ORIGIN, IMAGE_TYPE_THUMB, IMAGE_TYPE_LARGE]
                    .contains(&size.image_type)
                {
                    return Err(format!(
                        "imageElem.imageList type must be 0 (origin), 1 (thumb) or 2 (large), not {}",
                        size.image_type
                    ));
                }
                if seen.contains(&size.image_type) {
                    return Err(format!(
                        "imageElem.imageList has type {} twice",
                        size.image_type
                    ));
                }
                seen.push(size.image_type);
                require_url(&size.url, "imageElem.imageList url")?;
            }
            Ok(())
        }
        Elem::Sound(sound) => require_url(&sound.url, "soundElem.url"),
        Elem::Video(video) => {
            require_url(&video.video_url, "videoElem.videoUrl")?;
            require_url(&video.snapshot_url, "videoElem.snapshotUrl")
        }
        Elem::File(file) => require_url(&file.url, "fileElem.url"),
        Elem::Location(location) => {
            if !(-90.0..=90.0).contains(&location.latitude)
                || !(-180.0..=180.0).contains(&location.longitude)
            {
                return Err(
                    "locationElem needs a latitude from -90 to 90 and a longitude from -180 to 180"
                        .into(),
                );
            }
            Ok(())
        }
        Elem::Merger(merger) => {
            if merger.message_list.is_empty() {
                return Err("mergerElem.messageList must hold at least one message".into());
            }
            merger.message_list.iter().try_for_each(check_merged)
        }
    }
}

fn check_merged(message: &MergedMessage) -> Result<(), String> {
    let elem = message
        .elem()
        .map_err(|e| format!("mergerElem.messageList: {e}"))?
        .ok_or("mergerElem.messageList: each message needs one element")?;
    if message.elem_type != elem.elem_type() {
        return Err(format!(
            "mergerElem.messageList: elemType {} does not match {}",
            message.elem_type,
            elem.field_name()
        ));
    }
    check_elem(&elem)
}

/// The stored body of an element: its type and JSON.
pub(crate) fn encode(elem: &Elem) -> (u32, String) {
    (elem.elem_type(), elem.to_json())
}

/// An element's size as the message limit counts it: a text's or custom element's strings,
/// the JSON of any other element.
pub(crate) fn size(elem: &Elem, stored_json: &str) -> usize {
    match elem {
        Elem::Text(text) => text.text.len(),
        Elem::Custom(custom) => custom.data.len() + custom.desc.len() + custom.extension.len(),
        _ => stored_json.len(),
    }
}

/// The stored body of content the app's backend put in place of a message's, and its size as
/// the message limit counts it.
pub(crate) fn encode_changed(content: &ChangedContent) -> ((u32, String), usize) {
    match content {
        ChangedContent::Elem(elem) => {
            let (elem_type, json) = encode(elem);
            let size = size(elem, &json);
            ((elem_type, json), size)
        }
        ChangedContent::Elements { elem_type, json } => ((*elem_type, json.clone()), json.len()),
    }
}

/// The content of a stored message.
pub fn content_of(message: &NewMessage) -> ServiceResult<MessageContent> {
    let corrupt = |e: String| StoreError::Corrupt(format!("message {}: {e}", message.msg_id));
    let body = &message.body;
    // A verbatim array is told from an element's JSON object by its first character.
    if body.starts_with('[') {
        let elements = serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
        return Ok(MessageContent::Verbatim(elements));
    }
    match Elem::from_json(message.elem_type, body) {
        Ok(elem) => Ok(MessageContent::Elem(elem)),
        // Before element types were known, any type but custom was read as a text.
        Err(_) if !tidings_proto::ELEM_TYPES.contains(&message.elem_type) => {
            let text: TextElem = serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
            Ok(MessageContent::Elem(Elem::Text(text)))
        }
        Err(e) => Err(corrupt(e).into()),
    }
}
