//! How records are written in sled: JSON values under keys of a one-byte kind and
//! their IDs. Records that hold payloads may be sealed on top (`seal`).

use super::{Result, StoreError};
use serde::Serialize;

/// The JSON of a record, already opened if it was sealed.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).or_else(|e| {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: e.to_string(),
        };
        // Versions before the door's nesting limit (model::depth) acknowledged payloads
        // up to serde_json's own limit, which their stored wrapper then exceeds. Those
        // records are at most a few levels past it, so reading them without the limit
        // is safe for the stack, and what was acknowledged stays readable.
        if e.to_string().starts_with("recursion limit exceeded")
            && crate::model::depth::depth_within(bytes, LEGACY_MAX_DEPTH).is_some()
        {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            de.disable_recursion_limit();
            return T::deserialize(&mut de).map_err(corrupt);
        }
        Err(corrupt(e))
    })
}

/// The deepest record an earlier version could have stored: serde_json's limit (128)
/// plus the record's own wrapping, with room to spare.
const LEGACY_MAX_DEPTH: usize = 160;

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Our record types are plain data; serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}
