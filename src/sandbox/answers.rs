//! Placeholder: answers to synchronous events are being written.

use super::panel::Panel;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    /// The request is malformed for this event (missing search criteria…).
    #[error("{0}")]
    BadRequest(String),
    /// An event the sandbox does not answer.
    #[error("{0}")]
    Unsupported(String),
}

pub fn respond(_panel: &Panel, _request: &Value) -> Result<Value, AnswerError> {
    Err(AnswerError::Unsupported("not yet".into()))
}

pub fn apply(_panel: &mut Panel, _request: &Value) -> Result<(), AnswerError> {
    Ok(())
}

pub fn sample_notification(_panel: &Panel, _n: u64) -> Value {
    Value::Null
}
