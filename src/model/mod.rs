//! Pure types and rules, no I/O: environments, the request envelope (`Meta`), logs and
//! attempts, the catalog of data models and events, timestamp normalization, and errors
//! in the platform's shape.

pub mod access;
pub mod catalog;
pub mod curl;
pub mod environment;
pub mod error;
pub mod filter;
pub mod log;
pub mod meta;
pub mod schema;
pub mod template;
pub mod time;
pub mod variables;
pub mod wire;

pub use access::Role;
pub use catalog::{EventInfo, Exchange};
pub use environment::Environment;
pub use error::ApiError;
pub use log::{Attempt, AttemptOutcome, LogRecord, LogStatus, LogType};
