//! The console's state and its one `update` function. Pure: no terminal, no engine, no
//! tasks. Everything it wants done comes back as [`Effect`] values for the event loop.
//! By pane: `compose`, `connections` (grouped by organization), `detail`, `feed`; `keys`
//! (the main view's keys: leaving, help, focus, prompts; and the help overlay's);
//! `link` (the engine lost and retried, `ctrl-z`, answers matched to their requests by
//! tag), `pointer` (clicks and the wheel on what the view says is there).
//! `prompts`: the `/` and `:` lines' keys, history and completion. Across panes: `ops`
//! (actions that say what they did, Connections actions, curl copies), `search` (`/` in
//! the detail), `history` (`g` to the oldest log), `notice` (expiry). `messages`: the
//! [`Effect`]s asked of the event loop and the [`Msg`]s it answers with.

use super::composer::Composer;
use super::feed::FeedRing;
use super::keymap::{self, Command, Context};
use super::prompt::LineInput;
use crate::client::Status;
use crate::client::wire::LogQuery;
use crate::client::wire::{ConnectionsView, DestinationView, EnvironmentView};
use crate::model::filter::{Filter, FilterError};
use crate::model::{Environment, LogRecord, Role};
use crossterm::event::KeyEvent;
use uuid::Uuid;

/// Logs asked for per history page.
pub const PAGE_SIZE: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Environments,
    Connections,
    Feed,
    Composer,
}

impl Pane {
    pub const ALL: [Pane; 4] = [
        Pane::Environments,
        Pane::Connections,
        Pane::Feed,
        Pane::Composer,
    ];

    fn index(self) -> usize {
        Pane::ALL.iter().position(|&p| p == self).unwrap_or(0)
    }

    fn step(self, by: isize) -> Pane {
        let n = Pane::ALL.len() as isize;
        Pane::ALL[(self.index() as isize + by).rem_euclid(n) as usize]
    }
}

/// The line at the bottom, when open.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// `/`: the error of the text as typed so far, with its byte range, for display.
    Filter {
        line: LineInput,
        error: Option<FilterError>,
    },
    /// `:`.
    Command { line: LineInput },
}

#[derive(Debug, Clone)]
pub struct App {
    pub role: Role,
    pub address: String,
    pub focus: Pane,
    /// The environment that scopes the connections and the feed.
    pub environment: Environment,
    /// Whether the user chose `environment` (pane, `:env`, a filter, the picker) rather
    /// than it being the default: the composer's picker then does not ask again.
    pub env_chosen: bool,
    /// The highlighted row of the Environments pane (in `Environment::ALL` order).
    pub environment_cursor: usize,
    pub environments: Vec<EnvironmentView>,
    /// Of `environment`; `None` until loaded.
    pub connections: Option<ConnectionsView>,
    /// The highlighted destination of the Connections pane.
    pub connection_cursor: usize,
    pub feed: FeedRing,
    /// `v`: the feed rows' layout flipped from what the pane's width chooses.
    pub feed_rows_flipped: bool,
    /// The applied filter in its canonical text form, without the environment scope.
    pub filter_text: String,
    /// The applied filter plus `env:`, as subscribed.
    pub scoped_filter: Filter,
    pub prompt: Option<Prompt>,
    pub help: bool,
    /// The first line of the help overlay shown (drawing keeps it in range).
    pub help_scroll: usize,
    pub detail: Option<Detail>,
    /// The Developer view (keys, endpoints), when open.
    pub developer: Option<Developer>,
    pub confirm: Option<Confirm>,
    pub status: Option<Status>,
    pub notice: Option<Notice>,
    /// Since when the notice shows and what would clear it.
    notice_life: notice::NoticeLife,
    /// Why the engine connection is down and when the next attempt is, while it is.
    pub disconnected: Option<Disconnected>,
    /// Terminal size.
    pub size: (u16, u16),
    /// Cursor for the next (older) history page; `None` when history is exhausted.
    pub older: Option<Uuid>,
    loading_older: bool,
    /// `g`: pages are loaded until the oldest log in history (see `app::history`).
    seek: Option<history::Seek>,
    /// While a reconnection's catch-up is loading: live logs held back so rows stay in
    /// order (bounded by the feed's capacity).
    held: Option<Vec<LogRecord>>,
    pub composer: Composer,
    /// `--read-only`: nothing is sent from this console, whatever the role.
    pub read_only: bool,
    /// A fixed clock for tests (templates carry the time they were made).
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
    /// Clicks and the wheel are taken (`--no-mouse`, `:mouse off`).
    pub mouse: bool,
    /// The last click, for double-clicks.
    pub(crate) last_click: Option<(Hit, std::time::Instant)>,
    /// The latest request of each kind whose answer is awaited.
    requests: link::Requests,
    /// The `:` and `/` lines submitted before, and where they are kept (none in tests
    /// that do not ask).
    pub prompt_history: crate::console::recall::PromptHistory,
    pub history_file: Option<std::path::PathBuf>,
    /// The open prompt's place in that history and its Tab cycle.
    pub recall: crate::console::recall::Recall,
    dirty: bool,
}

impl App {
    /// A console scoped to Development with no filter, and what to load first.
    pub fn new(role: Role, address: String) -> (App, Vec<Effect>) {
        let mut app = App {
            role,
            address,
            focus: Pane::Feed,
            environment: Environment::Development,
            env_chosen: false,
            environment_cursor: 0,
            environments: Vec::new(),
            connections: None,
            connection_cursor: 0,
            feed: FeedRing::default(),
            feed_rows_flipped: false,
            filter_text: String::new(),
            scoped_filter: Filter::default(),
            prompt: None,
            help: false,
            help_scroll: 0,
            detail: None,
            developer: None,
            confirm: None,
            status: None,
            notice: None,
            notice_life: notice::NoticeLife::default(),
            disconnected: None,
            size: (0, 0),
            older: None,
            loading_older: false,
            seek: None,
            held: None,
            composer: Composer::default(),
            read_only: false,
            clock: None,
            mouse: true,
            last_click: None,
            requests: link::Requests::default(),
            prompt_history: Default::default(),
            history_file: None,
            recall: Default::default(),
            dirty: true,
        };
        let effects = app.choose_environment(Environment::Development);
        app.env_chosen = false;
        (app, effects)
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.unwrap_or_else(chrono::Utc::now)
    }

    /// Whether anything visible changed since the last call; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether Production bodies and patient fields may be shown: the role must allow
    /// it, and so must the engine's own answer about this session once it is known.
    pub fn phi_allowed(&self) -> bool {
        self.role.sees_phi()
            && self
                .status
                .as_ref()
                .is_none_or(|s| s.phi_visible && s.role.sees_phi())
    }

    /// The applied filter (without the environment scope).
    pub fn filter(&self) -> Option<Filter> {
        Filter::parse(&self.filter_text).ok()
    }

    /// A destination of the current environment by name (any case) or id.
    pub fn destination(&self, name: &str) -> Option<&DestinationView> {
        let id = Uuid::parse_str(name).ok();
        self.connections
            .as_ref()?
            .destinations
            .iter()
            .find(|d| Some(d.destination.id) == id || d.destination.name.eq_ignore_ascii_case(name))
    }

    // --- environment and filter -----------------------------------------------------

    /// Scopes everything to `env`: resubscribes, reloads connections and the first page.
    fn choose_environment(&mut self, env: Environment) -> Vec<Effect> {
        self.environment = env;
        self.env_chosen = true;
        self.environment_cursor = Environment::ALL.iter().position(|&e| e == env).unwrap_or(0);
        self.connections = None;
        self.connection_cursor = 0;
        let mut effects = self.reload(self.filter().unwrap_or_default());
        effects.insert(1, Effect::LoadConnections(Some(env)));
        effects
    }

    /// Applies `filter` (scoped to the environment): a fresh feed, a new subscription and
    /// the first page of history.
    fn reload(&mut self, filter: Filter) -> Vec<Effect> {
        self.filter_text = filter.to_string();
        self.scoped_filter = scope(&filter, self.environment);
        self.feed.clear();
        self.detail = None;
        self.older = None;
        self.loading_older = true;
        self.seek = None;
        self.held = None;
        // A catch-up asked under the old filter is of no use now.
        self.requests.catch_up = None;
        let tag = self.requests.page();
        vec![
            Effect::Subscribe(self.scoped_filter.clone()),
            Effect::LoadPage(tag, self.page_query(None)),
        ]
    }

    fn page_query(&self, before: Option<Uuid>) -> LogQuery {
        LogQuery {
            environment: Some(self.environment),
            before,
            limit: PAGE_SIZE,
            ..LogQuery::default()
        }
    }

    fn apply_filter_text(&mut self, text: &str) -> Result<Vec<Effect>, FilterError> {
        let filter = Filter::parse(text)?;
        // A filter that names another environment moves the console there, rather than
        // conflicting with the current scope and showing nothing.
        if let Some(env) = filter.environment()
            && env != self.environment
        {
            self.filter_text = filter.to_string();
            let effects = self.choose_environment(env);
            self.notice = None;
            return Ok(effects);
        }
        let effects = self.reload(filter);
        self.notice = None;
        Ok(effects)
    }

    // --- keys -----------------------------------------------------------------------

    /// `None` when the key did nothing (so nothing needs redrawing). Every binding is
    /// looked up in [`keymap`]; what has the keyboard decides the context.
    fn on_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        if key.kind == crossterm::event::KeyEventKind::Release {
            return None;
        }
        // ctrl-c quits from anywhere, even a prompt or the editor.
        if keymap::lookup(Context::Always, &key) == Some(Command::ForceQuit) {
            return Some(vec![Effect::Quit]);
        }
        if let Some(effects) = self.link_key(key) {
            return Some(effects);
        }
        if let Some(confirm) = self.confirm.take() {
            return Some(
                if keymap::lookup(Context::Confirm, &key) == Some(Command::Confirm) {
                    self.notice = None;
                    self.requested(&confirm.effect);
                    vec![confirm.effect]
                } else {
                    self.notice = Some(Notice::Info("cancelled".into()));
                    Vec::new()
                },
            );
        }
        if self.prompt.is_some() {
            return self.prompt_key(key);
        }
        if self.help {
            return self.help_key(key);
        }
        if self.detail.is_some() {
            return self.detail_key(key);
        }
        if self.developer.is_some()
            && let Some(effects) = self.developer_key(key)
        {
            return Some(effects);
        }
        if self.focus == Pane::Composer
            && let Some(effects) = self.composer_key(key)
        {
            return Some(effects);
        }
        self.main_key(key)
    }

    pub(super) fn pane_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let done = Some(Vec::new());
        match self.focus {
            Pane::Environments => {
                let last = Environment::ALL.len() - 1;
                let cur = self.environment_cursor;
                match keymap::lookup(Context::Environments, &key)? {
                    Command::Down => self.environment_cursor = (cur + 1).min(last),
                    Command::Up => self.environment_cursor = cur.saturating_sub(1),
                    Command::First => self.environment_cursor = 0,
                    Command::Last => self.environment_cursor = last,
                    Command::Choose => {
                        return Some(self.choose_environment(Environment::ALL[cur]));
                    }
                    _ => return None,
                }
                done
            }
            Pane::Connections => self.connections_key(key),
            Pane::Feed => self.feed_key(key),
            Pane::Composer => None,
        }
    }

    fn error(&mut self, message: impl Into<String>) -> Vec<Effect> {
        self.notice = Some(Notice::Error(message.into()));
        Vec::new()
    }
}

/// `filter` AND `env:ENV`. The filter's text form parses back to it, so adding a term
/// to the text and parsing again is the conjunction.
fn scope(filter: &Filter, env: Environment) -> Filter {
    let text = format!("{filter} env:{}", env.as_str().to_ascii_lowercase());
    Filter::parse(text.trim_start()).unwrap_or_else(|_| filter.clone())
}

/// Applies one message (`update` wraps it, and then settles the notice); returns what
/// the event loop should do. Sets the dirty flag when anything visible may have changed.
fn apply(app: &mut App, msg: Msg) -> Vec<Effect> {
    let effects = match msg {
        Msg::Key(key) => match app.on_key(key) {
            Some(effects) => effects,
            None => return Vec::new(),
        },
        Msg::Feed(event) => app.on_feed(event),
        answer @ (Msg::Page(..) | Msg::Detail(..) | Msg::CaughtUp(..)) => {
            match app.on_tagged(answer) {
                Some(effects) => effects,
                None => return Vec::new(),
            }
        }
        Msg::Status(status) => {
            if app.status.as_ref() == Some(&status) {
                return Vec::new();
            }
            app.status = Some(status);
            Vec::new()
        }
        Msg::Environments(views) => {
            if app.environments == views {
                return Vec::new();
            }
            app.environments = views;
            if let Some(env) = app.composer.draft.as_ref().map(|d| d.environment) {
                let vars = app.variables(env);
                app.composer.recheck(&vars);
            }
            Vec::new()
        }
        Msg::Connections(mut view) => {
            connections::group_by_organization(&mut view);
            // The refresh brings the same figures most seconds: nothing to redraw then.
            if app.connections.as_ref() == Some(&view) {
                return Vec::new();
            }
            app.connection_cursor = app
                .connection_cursor
                .min(view.destinations.len().saturating_sub(1));
            app.connections = Some(view);
            app.connections_arrived();
            Vec::new()
        }
        Msg::Failed(message) => {
            app.loading_older = false;
            app.notice = Some(Notice::Error(message));
            Vec::new()
        }
        Msg::Sent(answer) => app.on_sent(answer),
        Msg::Followed(detail) => app.on_followed(detail),
        Msg::History(page) => {
            app.on_history(page);
            Vec::new()
        }
        Msg::SavedList(found) => {
            app.on_saved_list(found);
            Vec::new()
        }
        Msg::Edited(text) => {
            app.on_edited(text);
            Vec::new()
        }
        Msg::Keys(keys) => {
            app.on_keys(keys);
            Vec::new()
        }
        Msg::KeyCreated(created) => app.on_key_created(created),
        Msg::Info(message) => {
            app.notice = Some(Notice::Info(message));
            Vec::new()
        }
        Msg::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Msg::LoadFailed(message) => app.on_load_failed(message),
        Msg::Acted(action, result) => app.on_acted(action, result),
        Msg::LogForCurl(found) => app.on_log_for_curl(found),
        Msg::Tick => return app.on_tick(),
        Msg::Pointer { hit, action, at } => match app.on_pointer(hit, action, at) {
            Some(effects) => effects,
            None => return Vec::new(),
        },
    };
    app.dirty = true;
    effects
}

mod commands;
mod compose;
mod connections;
mod detail;
mod developer;
mod feed;
mod history;
mod keys;
mod link;
mod messages;
mod notice;
mod ops;
mod pointer;
mod prompts;
mod search;

pub use compose::lists::HISTORY_PAGE;
pub use detail::{BodySide, Confirm, Detail};
pub use developer::{CreateKind, DevTab, Developer, KeyRow};
pub use link::{Disconnected, Tag};
pub use messages::{Effect, Msg};
pub use notice::{Notice, update};
pub use pointer::{DOUBLE_CLICK, Hit, Pointer};

#[cfg(test)]
mod tests;
