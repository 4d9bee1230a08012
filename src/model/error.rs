//! Errors in the platform's shape: `{"Meta": {..., "Errors": [{ID, Text, Type, Module}]}}`.
//!
//! Every error a sender can cause is an [`ApiError`]: an HTTP status plus one or more
//! entries whose `Text` says what was wrong and what to do about it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// One entry of `Meta.Errors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEntry {
    #[serde(rename = "ID")]
    pub id: u32,
    #[serde(rename = "Text")]
    pub text: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Module")]
    pub module: String,
}

/// An error answer: status code and entries. Type and module follow the platform's
/// vocabulary loosely: `Type` is the class of problem, `Module` the part that refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status}: {}", .entries.first().map(|e| e.text.as_str()).unwrap_or(""))]
pub struct ApiError {
    pub status: u16,
    pub entries: Vec<ErrorEntry>,
    /// Extra headers, e.g. `X-RateLimit-Limit` on 429.
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: u16, kind: &str, module: &str, text: impl Into<String>) -> Self {
        ApiError {
            status,
            entries: vec![ErrorEntry {
                id: 0,
                text: text.into(),
                kind: kind.to_string(),
                module: module.to_string(),
            }],
            headers: Vec::new(),
        }
    }

    pub fn bad_request(text: impl Into<String>) -> Self {
        Self::new(400, "request", "Request", text)
    }
    pub fn unauthorized(text: impl Into<String>) -> Self {
        Self::new(401, "authentication", "Authentication", text)
    }
    pub fn forbidden(text: impl Into<String>) -> Self {
        Self::new(403, "routing", "Routing", text)
    }
    pub fn not_found(text: impl Into<String>) -> Self {
        Self::new(404, "routing", "Routing", text)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "request",
            "Request",
            format!(
                "Request body is larger than the limit of {limit} bytes. Send smaller payloads \
                 (split batches, or move large documents to Media/DocumentGet)."
            ),
        )
    }
    pub fn timeout(text: impl Into<String>) -> Self {
        Self::new(504, "timeout", "Query", text)
    }
    pub fn unavailable(text: impl Into<String>) -> Self {
        Self::new(503, "capacity", "Engine", text)
    }
    pub fn internal(text: impl Into<String>) -> Self {
        Self::new(500, "internal", "Engine", text)
    }

    /// Adds another entry (e.g. several invalid Meta fields reported at once).
    pub fn and(mut self, other: ApiError) -> Self {
        self.entries.extend(other.entries);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The error body. `meta` is the request's Meta when it could be read, so the
    /// answer echoes what the sender sent, as the platform does.
    pub fn body(&self, meta: Option<&Map<String, Value>>) -> Value {
        let mut meta = meta.cloned().unwrap_or_default();
        let entries: Vec<Value> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut e = e.clone();
                if e.id == 0 {
                    e.id = i as u32 + 1;
                }
                json!(e)
            })
            .collect();
        meta.insert("Errors".into(), Value::Array(entries));
        json!({ "Meta": meta })
    }
}

/// An error with its causes: reqwest's own message alone ("error sending request")
/// hides the useful part ("connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_platform_shape() {
        let err = ApiError::bad_request("Meta.DataModel is missing")
            .and(ApiError::bad_request("Meta.EventType is missing"));
        let body = err.body(None);
        let errors = body["Meta"]["Errors"].as_array().expect("array");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0]["ID"], 1);
        assert_eq!(errors[1]["ID"], 2);
        assert_eq!(errors[0]["Text"], "Meta.DataModel is missing");
        assert_eq!(errors[0]["Type"], "request");
        assert_eq!(errors[0]["Module"], "Request");
    }
}
