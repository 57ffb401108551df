//! A message's elements beyond text and custom data, named as V2TIM names them: image, sound,
//! video, file, location, face and merged (forwarded) messages. Media are uploaded by the app to
//! storage of its choice; the elements carry their URLs and sizes, which the server checks for
//! shape and keeps unchanged. [`Elem`] is any one element, whatever its type.

use serde::{Deserialize, Serialize};

use crate::{CustomElem, ELEM_TYPE_CUSTOM, ELEM_TYPE_TEXT, TextElem};

/// `elemType` of an image message (V2TIM_ELEM_TYPE_IMAGE).
pub const ELEM_TYPE_IMAGE: u32 = 3;
/// `elemType` of a voice message (V2TIM_ELEM_TYPE_SOUND).
pub const ELEM_TYPE_SOUND: u32 = 4;
/// `elemType` of a video message (V2TIM_ELEM_TYPE_VIDEO).
pub const ELEM_TYPE_VIDEO: u32 = 5;
/// `elemType` of a file message (V2TIM_ELEM_TYPE_FILE).
pub const ELEM_TYPE_FILE: u32 = 6;
/// `elemType` of a location message (V2TIM_ELEM_TYPE_LOCATION).
pub const ELEM_TYPE_LOCATION: u32 = 7;
/// `elemType` of a face (sticker) message (V2TIM_ELEM_TYPE_FACE).
pub const ELEM_TYPE_FACE: u32 = 8;
/// `elemType` of a merged (forwarded) message (V2TIM_ELEM_TYPE_MERGER).
pub const ELEM_TYPE_MERGER: u32 = 10;

/// Every `elemType` a message may have.
pub const ELEM_TYPES: [u32; 9] = [
    ELEM_TYPE_TEXT,
    ELEM_TYPE_CUSTOM,
    ELEM_TYPE_IMAGE,
    ELEM_TYPE_SOUND,
    ELEM_TYPE_VIDEO,
    ELEM_TYPE_FILE,
    ELEM_TYPE_LOCATION,
    ELEM_TYPE_FACE,
    ELEM_TYPE_MERGER,
];

/// `type` of an image's original size (V2TIM_IMAGE_TYPE_ORIGIN).
pub const IMAGE_TYPE_ORIGIN: u32 = 0;
/// `type` of an image's thumbnail (V2TIM_IMAGE_TYPE_THUMB).
pub const IMAGE_TYPE_THUMB: u32 = 1;
/// `type` of an image's large version (V2TIM_IMAGE_TYPE_LARGE).
pub const IMAGE_TYPE_LARGE: u32 = 2;

/// One size of an image (V2TIMImage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Image {
    /// The app's identifier of this file (may be empty).
    pub uuid: String,
    /// [`IMAGE_TYPE_ORIGIN`], [`IMAGE_TYPE_THUMB`] or [`IMAGE_TYPE_LARGE`].
    #[serde(rename = "type")]
    pub image_type: u32,
    /// Bytes.
    pub size: u64,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Where it is downloaded from: an `http://` or `https://` URL.
    pub url: String,
}

/// An image message (V2TIMImageElem): its sizes, each a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ImageElem {
    /// The app's identifier of the image (REST `UUID`; may be empty).
    pub uuid: String,
    /// REST `ImageFormat`: 1 JPG, 2 GIF, 3 PNG, 4 BMP, 255 other (0: not given).
    pub image_format: u32,
    /// One to three sizes, each type at most once.
    pub image_list: Vec<Image>,
}

/// A voice message (V2TIMSoundElem).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SoundElem {
    /// The app's identifier of the file (may be empty).
    #[serde(rename = "UUID")]
    pub uuid: String,
    /// Bytes.
    pub data_size: u64,
    /// Seconds.
    pub duration: u32,
    /// Where it is downloaded from.
    pub url: String,
}

/// A video message (V2TIMVideoElem): the video and its snapshot, each a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VideoElem {
    /// The app's identifier of the video file (may be empty).
    #[serde(rename = "UUID")]
    pub uuid: String,
    /// The video's format, such as `mp4` (REST `VideoFormat`).
    pub video_type: String,
    /// Bytes.
    pub video_size: u64,
    /// Seconds.
    pub duration: u32,
    /// Where the video is downloaded from.
    pub video_url: String,
    /// The app's identifier of the snapshot (may be empty).
    #[serde(rename = "snapshotUUID")]
    pub snapshot_uuid: String,
    /// The snapshot's format, such as `JPG` (REST `ThumbFormat`).
    pub snapshot_type: String,
    /// Bytes.
    pub snapshot_size: u64,
    /// Pixels.
    pub snapshot_width: u32,
    /// Pixels.
    pub snapshot_height: u32,
    /// Where the snapshot is downloaded from.
    pub snapshot_url: String,
}

/// A file message (V2TIMFileElem).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FileElem {
    /// The app's identifier of the file (may be empty).
    #[serde(rename = "UUID")]
    pub uuid: String,
    /// The name shown to people.
    pub file_name: String,
    /// Bytes.
    pub file_size: u64,
    /// Where it is downloaded from.
    pub url: String,
}

/// A location message (V2TIMLocationElem).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocationElem {
    /// A description of the place.
    pub desc: String,
    /// Degrees, −180 to 180.
    pub longitude: f64,
    /// Degrees, −90 to 90.
    pub latitude: f64,
}

// JSON has no NaN, and the server refuses coordinates outside their ranges, so equality is total
// for every location a message can carry.
impl Eq for LocationElem {}

/// A face (sticker) message (V2TIMFaceElem): the app's own sticker numbering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaceElem {
    /// The sticker's index in the app's set.
    pub index: i32,
    /// Extra data (such as the set's name).
    pub data: String,
}

/// The elements other than text and custom data a message may carry; at most one is present
/// (the one `elemType` names). Flattened into the objects that carry elements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RichElems {
    /// Present when `elemType` is image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_elem: Option<ImageElem>,
    /// Present when `elemType` is sound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sound_elem: Option<SoundElem>,
    /// Present when `elemType` is video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_elem: Option<VideoElem>,
    /// Present when `elemType` is file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_elem: Option<FileElem>,
    /// Present when `elemType` is location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_elem: Option<LocationElem>,
    /// Present when `elemType` is face.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_elem: Option<FaceElem>,
    /// Present when `elemType` is merger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merger_elem: Option<MergerElem>,
}

/// One forwarded message inside a merged message: who sent it where and when, and its element.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MergedMessage {
    /// Its sender.
    pub sender: String,
    /// C2C: its receiver (REST `To_Account`).
    #[serde(rename = "userID", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Group: its group.
    #[serde(rename = "groupID", skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Its sequence in its conversation.
    pub seq: u64,
    /// Its sender's random.
    pub random: u32,
    /// When it was sent, Unix seconds.
    pub timestamp: i64,
    /// Its `cloudCustomData`.
    pub cloud_custom_data: String,
    /// V2TIM's element type of its one element.
    pub elem_type: u32,
    /// Present when `elemType` is text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_elem: Option<TextElem>,
    /// Present when `elemType` is custom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_elem: Option<CustomElem>,
    /// The other element types.
    #[serde(flatten)]
    pub rich: RichElems,
}

/// A merged (forwarded) message (V2TIMMergerElem): a title, a few abstract lines, and the
/// forwarded messages themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MergerElem {
    /// The title, such as "Chat history of Alice and Bob".
    pub title: String,
    /// A few lines that sum the messages up.
    pub abstract_list: Vec<String>,
    /// Text shown by clients that cannot show merged messages.
    pub compatible_text: String,
    /// The forwarded messages, oldest first (what V2TIM's `downloadMergerMessage` returns).
    pub message_list: Vec<MergedMessage>,
}

/// Any one element of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elem {
    /// A text.
    Text(TextElem),
    /// Application data.
    Custom(CustomElem),
    /// An image.
    Image(ImageElem),
    /// A voice recording.
    Sound(SoundElem),
    /// A video.
    Video(VideoElem),
    /// A file.
    File(FileElem),
    /// A location.
    Location(LocationElem),
    /// A sticker.
    Face(FaceElem),
    /// Forwarded messages.
    Merger(MergerElem),
}

impl Elem {
    /// V2TIM's `elemType` of the element.
    pub fn elem_type(&self) -> u32 {
        match self {
            Self::Text(_) => ELEM_TYPE_TEXT,
            Self::Custom(_) => ELEM_TYPE_CUSTOM,
            Self::Image(_) => ELEM_TYPE_IMAGE,
            Self::Sound(_) => ELEM_TYPE_SOUND,
            Self::Video(_) => ELEM_TYPE_VIDEO,
            Self::File(_) => ELEM_TYPE_FILE,
            Self::Location(_) => ELEM_TYPE_LOCATION,
            Self::Face(_) => ELEM_TYPE_FACE,
            Self::Merger(_) => ELEM_TYPE_MERGER,
        }
    }

    /// The element's object as JSON (its V2TIM field names): how a message stores it.
    pub fn to_json(&self) -> String {
        let json = match self {
            Self::Text(e) => serde_json::to_string(e),
            Self::Custom(e) => serde_json::to_string(e),
            Self::Image(e) => serde_json::to_string(e),
            Self::Sound(e) => serde_json::to_string(e),
            Self::Video(e) => serde_json::to_string(e),
            Self::File(e) => serde_json::to_string(e),
            Self::Location(e) => serde_json::to_string(e),
            Self::Face(e) => serde_json::to_string(e),
            Self::Merger(e) => serde_json::to_string(e),
        };
        // Plain structs of strings and numbers: serialising them cannot fail.
        json.unwrap_or_default()
    }

    /// Reads an element of type `elem_type` from its object's JSON ([`Elem::to_json`]).
    pub fn from_json(elem_type: u32, json: &str) -> Result<Self, String> {
        fn read<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
            serde_json::from_str(json).map_err(|e| e.to_string())
        }
        Ok(match elem_type {
            ELEM_TYPE_TEXT => Self::Text(read(json)?),
            ELEM_TYPE_CUSTOM => Self::Custom(read(json)?),
            ELEM_TYPE_IMAGE => Self::Image(read(json)?),
            ELEM_TYPE_SOUND => Self::Sound(read(json)?),
            ELEM_TYPE_VIDEO => Self::Video(read(json)?),
            ELEM_TYPE_FILE => Self::File(read(json)?),
            ELEM_TYPE_LOCATION => Self::Location(read(json)?),
            ELEM_TYPE_FACE => Self::Face(read(json)?),
            ELEM_TYPE_MERGER => Self::Merger(read(json)?),
            other => return Err(format!("unknown elemType {other}")),
        })
    }

    /// The one element given in the V2TIM fields of a message object; `None` when none is,
    /// an error naming them when several are.
    pub fn from_fields(
        text: Option<&TextElem>,
        custom: Option<&CustomElem>,
        rich: &RichElems,
    ) -> Result<Option<Self>, String> {
        let mut found: Vec<Elem> = Vec::new();
        found.extend(text.cloned().map(Self::Text));
        found.extend(custom.cloned().map(Self::Custom));
        found.extend(rich.image_elem.clone().map(Self::Image));
        found.extend(rich.sound_elem.clone().map(Self::Sound));
        found.extend(rich.video_elem.clone().map(Self::Video));
        found.extend(rich.file_elem.clone().map(Self::File));
        found.extend(rich.location_elem.clone().map(Self::Location));
        found.extend(rich.face_elem.clone().map(Self::Face));
        found.extend(rich.merger_elem.clone().map(Self::Merger));
        if found.len() > 1 {
            let names: Vec<&str> = found.iter().map(Elem::field_name).collect();
            return Err(format!(
                "give exactly one element, not {}",
                names.join(" and ")
            ));
        }
        Ok(found.pop())
    }

    /// The V2TIM field that carries the element in a message object (`textElem`, `imageElem`…).
    pub fn field_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "textElem",
            Self::Custom(_) => "customElem",
            Self::Image(_) => "imageElem",
            Self::Sound(_) => "soundElem",
            Self::Video(_) => "videoElem",
            Self::File(_) => "fileElem",
            Self::Location(_) => "locationElem",
            Self::Face(_) => "faceElem",
            Self::Merger(_) => "mergerElem",
        }
    }

    /// Puts the element in the V2TIM fields of a message object (which held none).
    pub fn into_fields(
        self,
        text: &mut Option<TextElem>,
        custom: &mut Option<CustomElem>,
        rich: &mut RichElems,
    ) {
        match self {
            Self::Text(e) => *text = Some(e),
            Self::Custom(e) => *custom = Some(e),
            Self::Image(e) => rich.image_elem = Some(e),
            Self::Sound(e) => rich.sound_elem = Some(e),
            Self::Video(e) => rich.video_elem = Some(e),
            Self::File(e) => rich.file_elem = Some(e),
            Self::Location(e) => rich.location_elem = Some(e),
            Self::Face(e) => rich.face_elem = Some(e),
            Self::Merger(e) => rich.merger_elem = Some(e),
        }
    }
}

impl MergedMessage {
    /// Its one element, if it has exactly one.
    pub fn elem(&self) -> Result<Option<Elem>, String> {
        Elem::from_fields(
            self.text_elem.as_ref(),
            self.custom_elem.as_ref(),
            &self.rich,
        )
    }

    /// Sets its element and `elemType` (it held none).
    pub fn set_elem(&mut self, elem: Elem) {
        self.elem_type = elem.elem_type();
        elem.into_fields(&mut self.text_elem, &mut self.custom_elem, &mut self.rich);
    }
}
