//! How records are written in sled: JSON values under keys of a one-byte kind and
//! their IDs, packed (compressed, [`pack`]) when that makes them smaller. Records that
//! hold payloads may be sealed on top (`seal`): packed first, then sealed, since sealed
//! bytes do not compress.
//!
//! A packed value is `PACKED | length (LEB128) | LZ4 block`, compressed against a
//! preset dictionary of the records' own field names and common values
//! (`codec/dictionary.txt`): a log's JSON is mostly field names and UUIDs, too short
//! for LZ4 to find repeats in by itself (561 → 437 bytes alone, 163 with the
//! dictionary). Values without the prefix are as earlier versions wrote them (plain
//! JSON, or a raw response body) and read as they are, so no record is rewritten.

use super::{Result, StoreError};
use serde::Serialize;
use std::borrow::Cow;

/// Starts every packed value: NUL (no JSON record starts with it, and a destination's
/// answer does not either; one that does is packed whatever it saves, see [`pack`]),
/// `z`, and the version of the dictionary.
const PACKED: &[u8; 3] = b"\0z\x01";
/// The dictionary of version 1. Frozen: a record packed with it can only be unpacked
/// with the same bytes, so a better one is a new version byte, never an edit (a test
/// pins its digest).
const DICTIONARY: &[u8] = include_bytes!("codec/dictionary.txt");
/// LZ4 expands at most 255 times: a stored length beyond that is damage, and is refused
/// before anything is allocated for it.
const MAX_RATIO: usize = 255;

/// `plain` as it is stored: packed when that is smaller.
pub(crate) fn pack(plain: &[u8]) -> Vec<u8> {
    let compressed = lz4_flex::block::compress_with_dict(plain, DICTIONARY);
    let mut out = Vec::with_capacity(PACKED.len() + 5 + compressed.len());
    out.extend_from_slice(PACKED);
    let mut n = plain.len();
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(&compressed);
    // A raw body that happens to start like a packed value must be packed, or it
    // would be misread.
    if out.len() < plain.len() || plain.starts_with(&PACKED[..1]) {
        out
    } else {
        plain.to_vec()
    }
}

/// A stored value (already opened if sealed) as its plain bytes: unpacked if packed.
pub(crate) fn unpack(stored: &[u8]) -> std::result::Result<Cow<'_, [u8]>, String> {
    let Some(rest) = stored.strip_prefix(PACKED) else {
        if stored.starts_with(&PACKED[..2]) {
            return Err(format!(
                "it is compressed in a format version {} that this switchboard does not know",
                stored.get(2).copied().unwrap_or(0)
            ));
        }
        return Ok(Cow::Borrowed(stored));
    };
    let mut len = 0usize;
    let mut used = 0;
    for (i, byte) in rest.iter().enumerate().take(5) {
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            used = i + 1;
            break;
        }
    }
    let block = &rest[used.min(rest.len())..];
    if used == 0 || len > block.len().saturating_mul(MAX_RATIO) {
        return Err("its compressed length header is damaged".into());
    }
    let mut plain = vec![0u8; len];
    match lz4_flex::block::decompress_into_with_dict(block, &mut plain, DICTIONARY) {
        Ok(n) if n == len => Ok(Cow::Owned(plain)),
        Ok(n) => Err(format!(
            "it decompresses to {n} bytes where {len} were recorded (damaged)"
        )),
        Err(e) => Err(format!("it does not decompress ({e}); damaged")),
    }
}

/// A record's stored bytes (already opened if sealed) as the record.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(key: &[u8], stored: &[u8]) -> Result<T> {
    let bytes = unpack(stored).map_err(|reason| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    })?;
    parse_json(key, &bytes)
}

fn parse_json<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
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

/// A record as it is stored: its JSON, packed when that is smaller.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Our record types are plain data; serializing them cannot fail.
    pack(&serde_json::to_vec(value).unwrap_or_default())
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

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_dictionary_of_version_1_never_changes() {
        let digest: String = Sha256::digest(DICTIONARY)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            digest, "a88e4c96cfd13d40d34efd90e26ae8a4422de314ba3fa34b0f7b91f3d7e6520d",
            "records packed with version 1 need these exact bytes: add a new version instead"
        );
    }

    #[test]
    fn values_pack_when_smaller_and_always_unpack_to_themselves() {
        let log = br#"{"id":"019ade6c-1c2b-7f33-9a1e-5b0c3d2e1f40","type":"SEND","status":"SUCCEEDED","exchange":"notification","environment":"Development","dataModel":"Results","eventType":"New","test":false,"attempts":1}"#;
        let packed = pack(log);
        assert!(packed.starts_with(PACKED) && packed.len() < log.len() / 2);
        assert_eq!(unpack(&packed).expect("unpack").as_ref(), &log[..]);
        // Too short to gain: kept as it is, and read as it is.
        assert_eq!(pack(b"{}"), b"{}");
        assert_eq!(unpack(b"{}").expect("plain").as_ref(), b"{}");
        // A raw body that starts like a packed value is packed, so it is not misread.
        let odd = b"\0z\x01x";
        assert_eq!(unpack(&pack(odd)).expect("odd").as_ref(), odd);
        let empty = pack(b"");
        assert_eq!(unpack(&empty).expect("empty").as_ref(), b"");
    }
}
