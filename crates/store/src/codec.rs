//! The stored form of read-state sets: roaring bitmaps of member ordinals as bytes, for every
//! engine.

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
