//! A write set as bytes, for journal records: per op `u32 key length, key, u8 1 + u32
//! value length + value` for an insert or `u8 0` for a remove (lengths big-endian).

use super::Writes;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn encode(writes: &Writes) -> Vec<u8> {
    let size: usize = writes
        .ops
        .iter()
        .map(|(k, v)| 9 + k.len() + v.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(size);
    for (key, value) in &writes.ops {
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        match value {
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                out.extend_from_slice(v);
            }
            None => out.push(0),
        }
    }
    out
}

pub(crate) fn decode(mut bytes: &[u8]) -> Option<Writes> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Some(head)
    }
    fn length(bytes: &mut &[u8]) -> Option<usize> {
        let b = take(bytes, 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    let mut writes = Writes::default();
    while !bytes.is_empty() {
        let key_len = length(&mut bytes)?;
        let key = take(&mut bytes, key_len)?.to_vec();
        match take(&mut bytes, 1)?[0] {
            1 => {
                let value_len = length(&mut bytes)?;
                writes.insert(key, take(&mut bytes, value_len)?.to_vec());
            }
            0 => writes.remove(key),
            _ => return None,
        }
    }
    Some(writes)
}
