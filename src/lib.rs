//! Switchboard: a self-hosted exchange engine that speaks the Redox platform's wire
//! protocol, with a terminal console.
//!
//! Modules, and the one way their dependencies point (`console -> {client, model}`,
//! `client -> engine` for `Local` only, `engine -> store -> model`, `api -> engine`,
//! `sandbox -> model`; checked on the source text by `tests/suite/architecture.rs`;
//! ARCHITECTURE.md draws them and follows one notification from socket to screen):
//! - [`model`]: pure types and rules, no I/O: environments, the request envelope,
//!   logs and attempts, the catalog of data models and events, timestamp
//!   normalization (and impossible timestamps), the nesting limit taken at the door,
//!   errors in the platform's shape, roles and what each may see or send; and the request composer's
//!   core: the embedded platform schemas, validation with lines, generated templates,
//!   `{{variables}}`, `curl` rendering; the composer's reachability rule
//!   (`model::reach`); and the wire types the console and the admin API exchange
//!   (`model::view`, also named `client::wire`).
//! - [`store`]: persistence in sled (history, queues, sessions, audit, the composer's
//!   history of sent requests), plus the small files for credentials and generated
//!   IDs, and the group-commit flusher; the acknowledged mark, damage
//!   turned into clear errors, `check`, `backup` and `restore`; revocation records and
//!   the free-disk reserve.
//! - [`engine`]: configuration, source authentication, routing (one rule for every way
//!   in), ingest, query forwarding, bounded HTTP reads toward destinations and the
//!   transient/permanent classification of answers (`engine::http`, shared with the
//!   client), push delivery (dispatchers, retries, quarantine of poison messages, a cap
//!   on attempts in flight and a bound on each queue), poll delivery,
//!   endpoint verification, outgoing authentication to destinations (a static bearer
//!   or OAuth client-credentials tokens, `engine::outbound_auth`), operator actions, revocation, source keys listed and created (`engine::keys`), whether the store can take new
//!   work (`capacity`), the run file through which commands reach a running engine, the
//!   event bus; every task it spawns is tracked and stops on one token. No HTTP server
//!   types.
//! - [`sandbox`]: the built-in Development connection: a mock EHR answering every
//!   query from a synthetic patient panel, reached over loopback like any destination.
//! - [`client`]: the `Engine` trait the console speaks to, served by an engine in the
//!   same process (`Local`) or over the admin API (`Remote`); and the composer's sender,
//!   which posts to the platform API as a source, as any client of the platform would.
//! - [`console`]: the terminal console: its state and pure `update`, the panes, the
//!   detail view, the composer and its saved requests (`console::collection`), drawing
//!   with ratatui, themes, and the event loop that owns the terminal. It names nothing
//!   of `engine`, `store` or `sandbox`: only `client` and `model`.
//! - [`api`]: axum routers for the platform API (`/auth`, the JWT flow's
//!   `/v2/auth/token`, `/endpoint`, `/query`, `/upload`, `/poll`), the FHIR R4 API
//!   (`/fhir/R4/`, `api::fhir`, over `engine::fhir`), the Platform API (`/platform/v0|v1`, `api::platform_api`) and the admin API (`/admin/v1`), and the server that accepts connections
//!   for them (`api::server`: header, body and idle timeouts, a connection cap), and
//!   `/openapi.json`, the OpenAPI 3.1 document of them all, built from the code
//!   (`api::openapi`).
//! - [`bench`]: `switchboard bench`, the performance harness: the engine in a child
//!   process against stubs and baselines measured in the same run (see BENCHMARKS.md).
//! - `fuzzing` (hidden): thin entry points to the doors' private parsers (auth bodies,
//!   the JWT flow's form and header, the FHIR search form) for the cargo-fuzz targets in
//!   `fuzz/` and their regression tests.

pub mod api;
pub mod bench;
pub mod client;
pub mod console;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
pub mod sandbox;
pub mod store;
