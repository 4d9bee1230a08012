//! The wire types: what the console and the admin API exchange, as plain serde types
//! with the admin API's JSON shape (a public contract). The engine and the store build
//! them from their internals (`engine::views` maps what differs, such as a destination
//! without its verification token); `client::Engine` is written only in them and in
//! the rest of `model`, so a console names nothing of `engine`, `store` or `sandbox`.
//!
//! They live in `model`, not in `client`, so that every layer may build them without a
//! dependency pointing back up (`engine -> store -> model`); `client::wire` is this
//! module under the name the console uses.
//!
//! By subject: [`status`] (the engine's figures), [`connections`] (environments,
//! sources, destinations and their health), [`logs`] (history queries, pages and one
//! log's detail), [`composer`] (the composer's history and tokens), [`revocation`], [`keys`] (source
//! API keys and OAuth clients, listed and created), [`reload`] (what a configuration
//! reload changed).

pub mod composer;
pub mod connections;
pub mod keys;
pub mod logs;
pub mod reload;
pub mod revocation;
pub mod status;

pub use composer::{ComposerToken, HistoryEntry, HistoryPage, Sent};
pub use connections::{
    ConnectionsView, DeliveryView, DestinationHealth, DestinationInfo, DestinationView,
    EnvironmentView, LastAttempt, OrganizationView, QueueKeyView, SourceHealth, SourceInfo,
    SourceView, VerificationMethodView,
};
pub use keys::{CreatedKey, KeyView, NewKey, NewKeyKind};
pub use logs::{LogDetail, LogPage, LogQuery, VisibleDetail};
pub use reload::ReloadReport;
pub use revocation::{RevokeReport, RevokedItem, RevokedKind};
pub use status::Status;
