//! Pure types and rules, no I/O: environments, the request envelope (`Meta`), logs and
//! attempts, the catalog of data models and events, timestamp normalization, errors
//! in the platform's shape, and the request composer's core.
//!
//! # The request composer's core
//!
//! What the console's composer pane is built on; everything here is a plain function a
//! test can call. In the order of a session:
//! 1. Offer what routing allows: the engine's `Registry::sources_in(env)` and
//!    `Registry::candidates(env, source, event)` (each destination reachable, or
//!    [`Blocked`](reach::Blocked) with the reason, by the rule of [`reach::blocked`],
//!    which a console applies to its connections view), events from [`catalog::all`].
//! 2. Start from a template: [`template::template_text`] with
//!    [`TemplateStyle::Variables`](template::TemplateStyle) and the samples of the
//!    sandbox panel (`sandbox::panel::samples::default_samples()`; a console gets them
//!    in the Development [`view::EnvironmentView`]).
//! 3. On every keystroke: [`compose::check(text, &vars)`](compose::check) with the
//!    environment's profile (`engine::config::Config::variables(env)`): schema issues
//!    with JSON path and line ([`schema::validate`]), undefined `{{variables}}` with their
//!    line ([`variables::substitute`]); [`compose::Draft::ready_to_send`] gives the text
//!    to send or why not (invalid JSON, undefined variables; schema issues are warnings).
//!    Call [`schema::warm`] when the event is chosen, so the first keystroke does not
//!    compile the schema.
//! 4. Send to [`curl::path_for`] the event's exchange; record the outcome in
//!    `store::composer_history::ComposerHistory`; save it with
//!    `console::collection::save` (reopen with `list`/`load`; an engine resolves its
//!    names with `Registry::resolve_saved`); copy it as a command with [`curl::to_curl`].
//!
//! [`fhir`]: FHIR R4 for the console and the composer: how FHIR logs are named and
//! filtered, the search form, message templates, the requests and answers' summaries.

pub mod access;
pub mod canonical;
pub mod catalog;
pub mod compose;
pub mod curl;
pub mod depth;
pub mod environment;
pub mod error;
pub mod fhir;
pub mod filter;
pub mod log;
pub mod meta;
pub mod reach;
pub mod schema;
pub mod template;
pub mod time;
pub mod variables;
pub mod view;
pub mod wire;

pub use access::Role;
pub use catalog::{EventInfo, Exchange};
pub use environment::Environment;
pub use error::ApiError;
pub use log::{Attempt, AttemptOutcome, LegacyIds, LogRecord, LogStatus, LogType};
