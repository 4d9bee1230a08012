//! How engine values travel as JSON, both ways: durations as (fractional) seconds and
//! optional instants as `YYYY-MM-DDThh:mm:ss.sssZ` (required ones use
//! [`crate::model::log::utc_millis`]).

/// A `Duration` as seconds.
pub mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// A list of `Duration`s as seconds.
pub mod seconds_list {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for d in list {
            seq.serialize_element(&d.as_secs_f64())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<f64>::deserialize(d)?
            .into_iter()
            .map(|s| Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// An optional instant in the engine's format.
pub mod optional_utc_millis {
    use crate::model::time::{format_utc, parse_instant};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format_utc(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| {
                parse_instant(&text)
                    .ok_or_else(|| serde::de::Error::custom(format!("not a UTC instant: {text}")))
            })
            .transpose()
    }
}

/// A URL path segment, percent-encoded: a token name may hold any character.
pub fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use std::time::Duration;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "super::seconds")]
        one: Duration,
        #[serde(with = "super::seconds_list")]
        many: Vec<Duration>,
        #[serde(default, with = "super::optional_utc_millis")]
        at: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[test]
    fn round_trips() {
        let sample = Sample {
            one: Duration::from_millis(1500),
            many: vec![Duration::ZERO, Duration::from_secs(10)],
            at: crate::model::time::parse_instant("2024-03-10T07:30:00.000Z"),
        };
        let text = serde_json::to_string(&sample).expect("json");
        assert_eq!(
            text,
            r#"{"one":1.5,"many":[0.0,10.0],"at":"2024-03-10T07:30:00.000Z"}"#
        );
        assert_eq!(serde_json::from_str::<Sample>(&text).expect("back"), sample);
        assert!(serde_json::from_str::<Sample>(r#"{"one":-1,"many":[]}"#).is_err());
    }
}

/// Standard Base64 with padding (RFC 4648 section 4): what the platform's
/// `FileContents` carries.
pub fn base64(bytes: &[u8]) -> String {
    use ::base64::Engine;
    ::base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod base64_tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }
}
