//! The answer the data-model doors give: an accepted notification's `{"Meta": …}`, or a
//! query's answer. A destination's answer is handed on with the engine's `Meta` fields
//! (`Logs`, the parties, the legacy numbers) spliced into its own bytes when it is
//! already in the form the JSON writer produces (`model::canonical`); otherwise it is
//! parsed, amended and written. Both give the same bytes; the splice skips building a
//! `Value` of the whole answer and writing it out again, which was most of a query's
//! own cost past its HTTP and storage.

use crate::model::LogRecord;
use crate::model::canonical::{self, Member};
use crate::model::time::normalize_timestamp;
use chrono_tz::Tz;
use serde_json::{Value, json};
use uuid::Uuid;

/// What `/endpoint` and `/query` answer with.
#[derive(Debug)]
pub enum Answer {
    /// A value to write (an acceptance, or an answer that could not be spliced).
    Value(Value),
    /// JSON text ready to send: a destination's answer with the engine's fields spliced
    /// in, or an acceptance written straight from the stored payload's `Meta`.
    Ready(Ready),
}

#[derive(Debug)]
pub struct Ready {
    pub bytes: Vec<u8>,
    /// How many top-level fields the answer has.
    pub fields: usize,
    /// The log named in its `Meta.Logs` (none when it has no `Meta` object).
    pub log_id: Option<Uuid>,
}

impl Answer {
    /// How many top-level fields it has: more than the echoed `Meta` means an answer.
    pub fn fields(&self) -> usize {
        match self {
            Answer::Value(value) => value.as_object().map_or(0, |fields| fields.len()),
            Answer::Ready(spliced) => spliced.fields,
        }
    }

    /// The first log its `Meta.Logs` names.
    pub fn log_id(&self) -> Option<Uuid> {
        match self {
            Answer::Value(value) => value["Meta"]["Logs"][0]["ID"]
                .as_str()
                .and_then(|id| Uuid::parse_str(id).ok()),
            Answer::Ready(spliced) => spliced.log_id,
        }
    }

    /// The JSON text to send.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            // A `Value` always serializes.
            Answer::Value(value) => serde_json::to_vec(&value).unwrap_or_default(),
            Answer::Ready(spliced) => spliced.bytes,
        }
    }

    /// The value, parsing a spliced answer (for callers that read it, not send it).
    pub fn into_value(self) -> Value {
        match self {
            Answer::Value(value) => value,
            Answer::Ready(spliced) => serde_json::from_slice(&spliced.bytes).unwrap_or_default(),
        }
    }
}

/// The 200 of an accepted notification: `{"Meta": …}` with the `Meta` the engine
/// filled in, written from the payload without copying it into a new value.
pub(crate) fn acceptance(payload: &Value) -> Answer {
    #[derive(serde::Serialize)]
    struct Acceptance<'a> {
        #[serde(rename = "Meta")]
        meta: &'a Value,
    }
    let meta = payload.get("Meta").unwrap_or(&Value::Null);
    Answer::Ready(Ready {
        // Writing a `Value` to memory cannot fail.
        bytes: serde_json::to_vec(&Acceptance { meta }).unwrap_or_default(),
        fields: 1,
        log_id: meta["Logs"][0]["ID"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok()),
    })
}

/// `Meta.Logs` of a query's answer: its log and attempt.
pub(crate) fn logs_field(pending: &LogRecord) -> Value {
    json!([{"ID": pending.id, "AttemptID": pending.attempt_id}])
}

/// `Meta.Source` of an answer that left it out: the source that asked.
pub(crate) fn source_field(pending: &LogRecord) -> Value {
    json!({"ID": pending.source_id, "Name": pending.source_name})
}

/// `Meta.Destinations` of an answer that left it out: the destination that answered.
pub(crate) fn destinations_field(pending: &LogRecord) -> Value {
    json!([{"ID": pending.destination_id, "Name": pending.destination_name}])
}

/// Whether a `Meta` party field counts as left out (`fill_parties` fills it).
pub(crate) fn party_absent(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

/// A member of the rebuilt `Meta`: as it was written, or a new value.
enum Piece {
    Raw(std::ops::Range<usize>),
    New(Value),
}

/// The destination's 2xx answer `bytes` with the engine's fields spliced in, exactly as
/// parsing it, normalizing its timestamps to `zone`, amending `Meta` and writing it
/// would give; `None` when its form does not allow that (the caller parses it).
pub(crate) fn splice(bytes: &[u8], zone: Tz, pending: &LogRecord) -> Option<Ready> {
    let keeps = |text: &str| normalize_timestamp(text, zone).is_none_or(|n| n == text);
    let top = canonical::object_members(bytes, &keeps)?;
    let key = |m: &Member| &bytes[m.key.clone()];
    let meta = top
        .iter()
        .find(|m| key(m) == b"Meta")
        .filter(|m| bytes.get(m.value.start) == Some(&b'{'));
    let Some(meta) = meta else {
        // Nothing to amend: the answer as it came.
        return Some(Ready {
            bytes: bytes.to_vec(),
            fields: top.len(),
            log_id: None,
        });
    };
    let mut members = Vec::new();
    for m in canonical::members_within(bytes, meta.value.clone())? {
        members.push((std::str::from_utf8(key(&m)).ok()?, Piece::Raw(m.value)));
    }
    let raw_absent =
        |members: &[(&str, Piece)], name: &str| match members.iter().find(|(k, _)| *k == name) {
            None => true,
            Some((_, Piece::Raw(span))) => matches!(&bytes[span.clone()], b"null" | b"[]"),
            Some((_, Piece::New(value))) => party_absent(Some(value)),
        };
    set(&mut members, "Logs", logs_field(pending));
    if raw_absent(&members, "Source") {
        set(&mut members, "Source", source_field(pending));
    }
    if raw_absent(&members, "Destinations") {
        set(&mut members, "Destinations", destinations_field(pending));
    }
    match pending.legacy_ids {
        Some(ids) => {
            set(&mut members, "Message", json!({ "ID": ids.message }));
            set(
                &mut members,
                "Transmission",
                json!({ "ID": ids.transmission }),
            );
        }
        // Taking them out moves the last field into their place (the map's
        // `swap_remove`): rare enough to leave to the parse.
        None if members
            .iter()
            .any(|(k, _)| *k == "Message" || *k == "Transmission") =>
        {
            return None;
        }
        None => {}
    }
    let mut out = Vec::with_capacity(bytes.len() + 256);
    out.push(b'{');
    for (i, m) in top.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key(m));
        out.extend_from_slice(b"\":");
        if std::ptr::eq(m, meta) {
            write_object(&mut out, bytes, &members);
        } else {
            out.extend_from_slice(&bytes[m.value.clone()]);
        }
    }
    out.push(b'}');
    Some(Ready {
        bytes: out,
        fields: top.len(),
        log_id: Some(pending.id),
    })
}

/// The map's `insert`: an existing key keeps its place, a new one goes last.
fn set<'a>(members: &mut Vec<(&'a str, Piece)>, name: &'a str, value: Value) {
    match members.iter_mut().find(|(k, _)| *k == name) {
        Some((_, piece)) => *piece = Piece::New(value),
        None => members.push((name, Piece::New(value))),
    }
}

fn write_object(out: &mut Vec<u8>, bytes: &[u8], members: &[(&str, Piece)]) {
    out.push(b'{');
    for (i, (name, piece)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Keys read from the answer carry no escapes; the engine's own need none.
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        match piece {
            Piece::Raw(span) => out.extend_from_slice(&bytes[span.clone()]),
            // Writing a `Value` to memory cannot fail.
            Piece::New(value) => {
                let _ = serde_json::to_writer(&mut *out, value);
            }
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests;
