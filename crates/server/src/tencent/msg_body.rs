//! Tencent's `MsgBody` arrays (REST requests and replies, webhooks): parsing them into V2TIM
//! elements, and writing a stored message's content as one. Each `TIM…Elem` maps to one V2TIM
//! element field by field; a body of one element becomes that element, a body of several is
//! stored as given once each element was read and checked.

use serde_json::{Map, Value, json};
use tidings_proto::{
    CustomElem, Elem, FaceElem, FileElem, IMAGE_TYPE_LARGE, IMAGE_TYPE_ORIGIN, IMAGE_TYPE_THUMB,
    Image, ImageElem, LocationElem, MergedMessage, MergerElem, SoundElem, TextElem, VideoElem,
};
use tidings_service::{ChangedContent, MessageContent, check_elem, content_of};
use tidings_store::NewMessage;

/// A message body parsed from a REST `MsgBody`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParsedBody {
    /// One element.
    One(Elem),
    /// Several elements, kept verbatim: the V2TIM type of the first and the array's JSON.
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
            ParsedBody::One(elem) => Self::Elem(elem),
            ParsedBody::Raw { elem_type, json } => Self::Elements { elem_type, json },
        }
    }
}

/// `Download_Flag` written on media elements: downloaded straight from their URL.
const DOWNLOAD_FROM_URL: u8 = 2;

/// REST `ImageInfoArray` `Type` numbers (1 original, 2 large, 3 thumbnail) from V2TIM's.
fn rest_image_type(image_type: u32) -> u32 {
    match image_type {
        IMAGE_TYPE_ORIGIN => 1,
        IMAGE_TYPE_LARGE => 2,
        IMAGE_TYPE_THUMB => 3,
        other => other,
    }
}

/// V2TIM's image type from REST's `Type`; an unknown one is refused.
fn v2tim_image_type(rest_type: u64) -> Result<u32, String> {
    match rest_type {
        1 => Ok(IMAGE_TYPE_ORIGIN),
        2 => Ok(IMAGE_TYPE_LARGE),
        3 => Ok(IMAGE_TYPE_THUMB),
        other => Err(format!(
            "MsgContent.ImageInfoArray Type must be 1 (original), 2 (large) or 3 (thumbnail), not {other}"
        )),
    }
}

/// The fields of one `MsgContent` object, read with type checks: an absent field is empty or 0.
struct Content<'a> {
    fields: &'a Map<String, Value>,
    /// Where the object is, for refusals (`MsgContent`, `MsgContent.ImageInfoArray`…).
    at: &'a str,
}

impl Content<'_> {
    fn string(&self, name: &str) -> Result<String, String> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(format!("{}.{name} must be a string", self.at)),
        }
    }

    fn u64(&self, name: &str) -> Result<u64, String> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(0),
            Some(value) => value
                .as_u64()
                .ok_or_else(|| format!("{}.{name} must be a non-negative integer", self.at)),
        }
    }

    fn u32(&self, name: &str) -> Result<u32, String> {
        u32::try_from(self.u64(name)?)
            .map_err(|_| format!("{}.{name} is larger than 4294967295", self.at))
    }

    fn i64(&self, name: &str) -> Result<i64, String> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(0),
            Some(value) => value
                .as_i64()
                .ok_or_else(|| format!("{}.{name} must be an integer", self.at)),
        }
    }

    fn f64(&self, name: &str) -> Result<f64, String> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(0.0),
            Some(value) => value
                .as_f64()
                .ok_or_else(|| format!("{}.{name} must be a number", self.at)),
        }
    }

    fn array(&self, name: &str) -> Result<&Vec<Value>, String> {
        static EMPTY: Vec<Value> = Vec::new();
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(&EMPTY),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(format!("{}.{name} must be an array", self.at)),
        }
    }
}

fn object<'a>(value: &'a Value, at: &'a str) -> Result<Content<'a>, String> {
    value
        .as_object()
        .map(|fields| Content { fields, at })
        .ok_or_else(|| format!("{at} items must be objects"))
}

/// One `MsgBody` element as a V2TIM element (its shape not checked yet).
fn parse_element(element: &Value) -> Result<Elem, String> {
    let msg_type = element
        .get("MsgType")
        .and_then(Value::as_str)
        .ok_or("MsgBody elements need a MsgType string")?;
    let fields = element
        .get("MsgContent")
        .and_then(Value::as_object)
        .ok_or("MsgBody elements need a MsgContent object")?;
    let c = Content {
        fields,
        at: "MsgContent",
    };
    Ok(match msg_type {
        "TIMTextElem" => Elem::Text(TextElem {
            text: c.string("Text")?,
        }),
        "TIMCustomElem" => Elem::Custom(CustomElem {
            data: c.string("Data")?,
            desc: c.string("Desc")?,
            extension: c.string("Ext")?,
        }),
        "TIMImageElem" => Elem::Image(ImageElem {
            uuid: c.string("UUID")?,
            image_format: c.u32("ImageFormat")?,
            image_list: c
                .array("ImageInfoArray")?
                .iter()
                .map(|item| {
                    let i = object(item, "MsgContent.ImageInfoArray")?;
                    Ok(Image {
                        uuid: String::new(),
                        image_type: v2tim_image_type(i.u64("Type")?)?,
                        size: i.u64("Size")?,
                        width: i.u32("Width")?,
                        height: i.u32("Height")?,
                        url: i.string("URL")?,
                    })
                })
                .collect::<Result<_, String>>()?,
        }),
        "TIMSoundElem" => Elem::Sound(SoundElem {
            uuid: c.string("UUID")?,
            data_size: c.u64("Size")?,
            duration: c.u32("Second")?,
            url: c.string("Url")?,
        }),
        "TIMVideoFileElem" => Elem::Video(VideoElem {
            uuid: c.string("VideoUUID")?,
            video_type: c.string("VideoFormat")?,
            video_size: c.u64("VideoSize")?,
            duration: c.u32("VideoSecond")?,
            video_url: c.string("VideoUrl")?,
            snapshot_uuid: c.string("ThumbUUID")?,
            snapshot_type: c.string("ThumbFormat")?,
            snapshot_size: c.u64("ThumbSize")?,
            snapshot_width: c.u32("ThumbWidth")?,
            snapshot_height: c.u32("ThumbHeight")?,
            snapshot_url: c.string("ThumbUrl")?,
        }),
        "TIMFileElem" => Elem::File(FileElem {
            uuid: c.string("UUID")?,
            file_name: c.string("FileName")?,
            file_size: c.u64("FileSize")?,
            url: c.string("Url")?,
        }),
        "TIMLocationElem" => Elem::Location(LocationElem {
            desc: c.string("Desc")?,
            longitude: c.f64("Longitude")?,
            latitude: c.f64("Latitude")?,
        }),
        "TIMFaceElem" => Elem::Face(FaceElem {
            index: i32::try_from(c.i64("Index")?)
                .map_err(|_| "MsgContent.Index is out of range".to_owned())?,
            data: c.string("Data")?,
        }),
        "TIMRelayElem" => Elem::Merger(MergerElem {
            title: c.string("Title")?,
            abstract_list: c
                .array("AbstractList")?
                .iter()
                .map(|line| {
                    line.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| "MsgContent.AbstractList items must be strings".to_owned())
                })
                .collect::<Result<_, String>>()?,
            compatible_text: c.string("CompatibleText")?,
            message_list: c
                .array("MsgList")?
                .iter()
                .map(parse_relayed)
                .collect::<Result<_, String>>()?,
        }),
        other => {
            return Err(format!(
                "MsgBody has unknown MsgType {other:?} (known: TIMTextElem, TIMCustomElem, TIMImageElem, TIMSoundElem, TIMVideoFileElem, TIMFileElem, TIMLocationElem, TIMFaceElem, TIMRelayElem)"
            ));
        }
    })
}

/// One `MsgList` item of a `TIMRelayElem`: a forwarded message of one element.
fn parse_relayed(item: &Value) -> Result<MergedMessage, String> {
    let m = object(item, "MsgContent.MsgList")?;
    let body = m.array("MsgBody")?;
    let [element] = body.as_slice() else {
        return Err("each MsgContent.MsgList message needs a MsgBody of one element".into());
    };
    let optional = |name: &str| -> Result<Option<String>, String> {
        Ok(Some(m.string(name)?).filter(|s| !s.is_empty()))
    };
    let mut message = MergedMessage {
        sender: m.string("From_Account")?,
        user_id: optional("To_Account")?,
        group_id: optional("GroupId")?,
        seq: m.u64("MsgSeq")?,
        random: m.u32("MsgRandom")?,
        timestamp: m.i64("MsgTimeStamp")?,
        cloud_custom_data: m.string("CloudCustomData")?,
        ..MergedMessage::default()
    };
    message.set_elem(parse_element(element)?);
    Ok(message)
}

/// Parses a REST `MsgBody` array and checks each element's shape; refusals say what is wrong.
pub(crate) fn parse_msg_body(body: &Value) -> Result<ParsedBody, String> {
    let elements = body
        .as_array()
        .ok_or("MsgBody must be an array of elements")?;
    let mut parsed = Vec::with_capacity(elements.len());
    for element in elements {
        let elem = parse_element(element)?;
        check_elem(&elem).map_err(|e| format!("MsgBody: {e}"))?;
        parsed.push(elem);
    }
    match parsed.len() {
        0 => Err("MsgBody must hold at least one element".into()),
        1 => Ok(ParsedBody::One(parsed.remove(0))),
        _ => Ok(ParsedBody::Raw {
            elem_type: parsed[0].elem_type(),
            json: body.to_string(),
        }),
    }
}

/// Tencent's `MsgType` of an element.
fn msg_type(elem: &Elem) -> &'static str {
    match elem {
        Elem::Text(_) => "TIMTextElem",
        Elem::Custom(_) => "TIMCustomElem",
        Elem::Image(_) => "TIMImageElem",
        Elem::Sound(_) => "TIMSoundElem",
        Elem::Video(_) => "TIMVideoFileElem",
        Elem::File(_) => "TIMFileElem",
        Elem::Location(_) => "TIMLocationElem",
        Elem::Face(_) => "TIMFaceElem",
        Elem::Merger(_) => "TIMRelayElem",
    }
}

/// One element as a `MsgBody` item.
fn rest_element(elem: &Elem) -> Value {
    let content = match elem {
        Elem::Text(text) => json!({ "Text": text.text }),
        Elem::Custom(custom) => {
            json!({ "Data": custom.data, "Desc": custom.desc, "Ext": custom.extension })
        }
        Elem::Image(image) => json!({
            "UUID": image.uuid,
            "ImageFormat": image.image_format,
            "ImageInfoArray": image.image_list.iter().map(|i| json!({
                "Type": rest_image_type(i.image_type),
                "Size": i.size,
                "Width": i.width,
                "Height": i.height,
                "URL": i.url,
            })).collect::<Vec<_>>(),
        }),
        Elem::Sound(sound) => json!({
            "Url": sound.url,
            "UUID": sound.uuid,
            "Size": sound.data_size,
            "Second": sound.duration,
            "Download_Flag": DOWNLOAD_FROM_URL,
        }),
        Elem::Video(video) => json!({
            "VideoUrl": video.video_url,
            "VideoUUID": video.uuid,
            "VideoSize": video.video_size,
            "VideoSecond": video.duration,
            "VideoFormat": video.video_type,
            "VideoDownloadFlag": DOWNLOAD_FROM_URL,
            "ThumbUrl": video.snapshot_url,
            "ThumbUUID": video.snapshot_uuid,
            "ThumbSize": video.snapshot_size,
            "ThumbWidth": video.snapshot_width,
            "ThumbHeight": video.snapshot_height,
            "ThumbFormat": video.snapshot_type,
            "ThumbDownloadFlag": DOWNLOAD_FROM_URL,
        }),
        Elem::File(file) => json!({
            "Url": file.url,
            "UUID": file.uuid,
            "FileSize": file.file_size,
            "FileName": file.file_name,
            "Download_Flag": DOWNLOAD_FROM_URL,
        }),
        Elem::Location(location) => json!({
            "Desc": location.desc,
            "Latitude": location.latitude,
            "Longitude": location.longitude,
        }),
        Elem::Face(face) => json!({ "Index": face.index, "Data": face.data }),
        Elem::Merger(merger) => json!({
            "Title": merger.title,
            "MsgNum": merger.message_list.len(),
            "CompatibleText": merger.compatible_text,
            "AbstractList": merger.abstract_list,
            "MsgList": merger.message_list.iter().map(relayed_item).collect::<Vec<_>>(),
        }),
    };
    json!({ "MsgType": msg_type(elem), "MsgContent": content })
}

/// A forwarded message as a `TIMRelayElem` `MsgList` item.
fn relayed_item(message: &MergedMessage) -> Value {
    let mut item = json!({
        "From_Account": message.sender,
        "MsgSeq": message.seq,
        "MsgRandom": message.random,
        "MsgTimeStamp": message.timestamp,
        "CloudCustomData": message.cloud_custom_data,
        "MsgBody": message.elem().ok().flatten().iter().map(rest_element).collect::<Vec<_>>(),
    });
    if let Some(to) = &message.user_id {
        item["To_Account"] = Value::from(to.clone());
    }
    if let Some(group) = &message.group_id {
        item["GroupId"] = Value::from(group.clone());
    }
    item
}

/// A message's content as a `MsgBody` array.
pub(crate) fn msg_body(content: &MessageContent) -> Value {
    match content {
        MessageContent::Elem(elem) => json!([rest_element(elem)]),
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
