//! The stored form of read-state sets (roaring bitmaps of member ordinals as bytes) and of
//! user-ID lists (a message's targets and mentions), for every engine.

use roaring::RoaringBitmap;

use crate::{StoreError, StoreResult};

/// The portable serialized form of `bitmap` (Roaring's own format).
pub(crate) fn encode_bitmap(bitmap: &RoaringBitmap) -> StoreResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut bytes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(bytes)
}

/// Reads a bitmap written by [`encode_bitmap`].
pub(crate) fn decode_bitmap(bytes: &[u8]) -> StoreResult<RoaringBitmap> {
    RoaringBitmap::deserialize_from(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The stored form of a list of user IDs: each ID between newlines (`"\na\nb\n"`), so that
/// `"\n" + id + "\n"` occurs in it exactly when `id` is listed; None for an empty list. User IDs
/// are printable ASCII, without newlines.
pub(crate) fn encode_ids(ids: &[String]) -> Option<String> {
    if ids.is_empty() {
        return None;
    }
    let mut text = String::from("\n");
    for id in ids {
        text.push_str(id);
        text.push('\n');
    }
    Some(text)
}

/// Reads a list written by [`encode_ids`] (NULL: empty).
pub(crate) fn decode_ids(text: Option<&str>) -> Vec<String> {
    text.map_or_else(Vec::new, |text| {
        text.split('\n')
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect()
    })
}
