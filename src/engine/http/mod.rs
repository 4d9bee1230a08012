//! What every path that talks to a destination over HTTP shares: reading an answer's
//! body within a bound, and rendering a transport error with its causes. Used by query
//! forwarding, push delivery, endpoint verification and the clients (the composer's
//! sender and the remote console), so each does not grow its own copy; and the classification
//! of an attempt's outcome as transient or permanent (the poison-message rule).

pub mod body;
pub mod classify;
pub mod error;

pub use body::{ATTEMPT_BODY_LIMIT, BodyError, Prefix, excerpt, read_bounded, read_prefix};
pub use error::error_chain;
