//! `switchboard check`: offline verification of a data directory (or a backup, which
//! has the same layout).
//!
//! Reads and decodes every record: requests, logs, attempts, responses, queue entries,
//! quarantine, index entries (each must point at an existing log), journal records,
//! sessions, audit, destination states, the composer's history; checks that every
//! stored piece of a request has its other pieces (a log has its request, a pending
//! notification log is queued or quarantined); and compares the acknowledged mark.
//! Journal records not yet applied count as applied, as a start would replay them.
//! Nothing is written: the journal is read, not replayed.

use super::db;
use super::{AuditEntry, LogRecord, Session, StoredRequest, journal, mark};
use super::{Result, Sealer, StoreError, key};
use crate::model::{Attempt, Exchange, LogStatus, LogType};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Problems listed in full; beyond this they are only counted.
pub const MAX_LISTED: usize = 200;
/// sled's page cache for a check or a backup: reading once needs little.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub requests: u64,
    pub logs: u64,
    pub attempts: u64,
    pub responses: u64,
    pub queue_items: u64,
    pub quarantined: u64,
    pub index_entries: u64,
    pub journal_records: u64,
    pub sessions: u64,
    pub audit_entries: u64,
    pub destination_states: u64,
    pub composer_history: u64,
}

/// The acknowledged mark as found.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkCheck {
    /// What `<data dir>/acknowledged` records (`None`: no file, or unreadable).
    pub acknowledged: Option<u64>,
    /// What the store records it holds.
    pub held: Option<u64>,
    /// Acknowledged requests the store does not hold.
    pub missing: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The record concerned (tree and key), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub data_dir: PathBuf,
    /// Everything readable and nothing missing.
    pub healthy: bool,
    pub counts: Counts,
    pub mark: MarkCheck,
    /// The format version the store records (`None`: from before versions, read as
    /// the first), and the newest this binary knows (see [`super::format`]).
    pub format_version: Option<u32>,
    pub format_known: u32,
    pub problems: Vec<Problem>,
    /// Problems beyond [`MAX_LISTED`], counted only.
    pub problems_not_listed: u64,
}

impl CheckReport {
    fn new(data_dir: &Path) -> Self {
        CheckReport {
            data_dir: data_dir.to_path_buf(),
            healthy: false,
            counts: Counts::default(),
            mark: MarkCheck::default(),
            format_version: None,
            format_known: super::format::CURRENT,
            problems: Vec::new(),
            problems_not_listed: 0,
        }
    }

    fn problem(&mut self, key: Option<String>, text: impl Into<String>) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem {
                key,
                text: text.into(),
            });
        } else {
            self.problems_not_listed += 1;
        }
    }

    /// A summary for people: counts, the mark, then the problems with their keys.
    pub fn text(&self) -> String {
        let c = &self.counts;
        let mut out = format!(
            "{} {}\n",
            if self.healthy {
                "healthy:"
            } else {
                "PROBLEMS:"
            },
            self.data_dir.display()
        );
        out += &format!(
            "  requests {} · logs {} · attempts {} · responses {} · queued {} · quarantined {}\n",
            c.requests, c.logs, c.attempts, c.responses, c.queue_items, c.quarantined
        );
        out += &format!(
            "  index entries {} · journal records {} · sessions {} · audit {} · destination \
             states {} · composer history {}\n",
            c.index_entries,
            c.journal_records,
            c.sessions,
            c.audit_entries,
            c.destination_states,
            c.composer_history
        );
        let show = |v: Option<u64>| v.map_or("none".to_string(), |v| v.to_string());
        out += &format!(
            "  acknowledged {} · held {} · missing {}\n",
            show(self.mark.acknowledged),
            show(self.mark.held),
            self.mark.missing
        );
        out += &match self.format_version {
            Some(v) => format!(
                "  format {v} (this switchboard knows up to {})\n",
                self.format_known
            ),
            None => format!(
                "  format not recorded (from before format versions: {}; stamped at the next \
                 start)\n",
                super::format::FIRST
            ),
        };
        for p in &self.problems {
            match &p.key {
                Some(k) => out += &format!("  - {k}: {}\n", p.text),
                None => out += &format!("  - {}\n", p.text),
            }
        }
        if self.problems_not_listed > 0 {
            out += &format!("  … and {} more problems\n", self.problems_not_listed);
        }
        out
    }
}

/// Verifies `data_dir` offline, opening sealed bodies with `sealer`'s keys (the
/// configuration's). Fails only when it cannot look ([`StoreError::Locked`] while an
/// engine holds the store); everything wrong with the data is in the report.
pub fn check(data_dir: &Path, sealer: &Sealer) -> Result<CheckReport> {
    let db_path = data_dir.join("db");
    let mut report = CheckReport::new(data_dir);
    if !db::data_file(&db_path).exists() {
        report.problem(
            None,
            format!(
                "there is no store here ({} is missing)",
                db::data_file(&db_path).display()
            ),
        );
        check_mark(&mut report, data_dir, None);
        return Ok(report);
    }
    let db = match db::open_db(&db_path, CACHE_BYTES) {
        Ok(db) => db,
        Err(e @ StoreError::Locked { .. }) => return Err(e),
        Err(e) => {
            report.problem(None, e.to_string());
            check_mark(&mut report, data_dir, None);
            return Ok(report);
        }
    };
    let held = scan(&db, &db_path, sealer, &mut report);
    if let Some(found) = report.format_version.filter(|v| *v > report.format_known) {
        let newer = StoreError::NewerFormat {
            path: db_path.clone(),
            found,
            known: report.format_known,
        };
        report.problem(Some("meta format-version".into()), newer.to_string());
    }
    check_mark(&mut report, data_dir, held);
    report.healthy = report.problems.is_empty() && report.problems_not_listed == 0;
    Ok(report)
}

fn check_mark(report: &mut CheckReport, data_dir: &Path, held: Option<u64>) {
    report.mark.held = held;
    match mark::read(data_dir) {
        Ok(acknowledged) => report.mark.acknowledged = acknowledged,
        Err(e) => report.problem(Some(mark::FILE.into()), e.to_string()),
    }
    report.mark.missing = report
        .mark
        .acknowledged
        .unwrap_or(0)
        .saturating_sub(held.unwrap_or(0));
    if report.mark.missing > 0 {
        report.problem(
            Some(mark::FILE.into()),
            format!(
                "the store holds {} fewer acknowledged messages than were acknowledged — \
                 restore from backup (`switchboard restore DIR`), or start with --accept-loss",
                report.mark.missing
            ),
        );
    }
}

fn uuid_at(bytes: &[u8], at: usize) -> Option<Uuid> {
    bytes
        .get(at..at + 16)
        .and_then(|b| Uuid::from_slice(b).ok())
}

fn show_key(tree: &str, k: &[u8]) -> String {
    let text = match k.first() {
        Some(p) if p.is_ascii_alphabetic() && k.len() >= 17 => {
            let id = uuid_at(k, 1).map_or_else(|| journal::hex(&k[1..]), |u| u.to_string());
            format!("{} {id}", *p as char)
        }
        _ => journal::hex(k),
    };
    format!("{tree} {text}")
}

/// The `exchange` tree as a start would see it: the tree, then the journal's records
/// applied over it.
struct View<'a> {
    tree: Option<&'a sled::Tree>,
    sealer: &'a Sealer,
    overlay: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl View<'_> {
    fn has(&self, k: &[u8]) -> Result<bool> {
        match (self.overlay.get(k), self.tree) {
            (Some(v), _) => Ok(v.is_some()),
            (None, Some(tree)) => Ok(tree.contains_key(k)?),
            (None, None) => Ok(false),
        }
    }
}

#[derive(Default)]
struct Seen {
    /// Pending notification logs: each must be queued or quarantined.
    pending: Vec<Uuid>,
    queued: HashSet<Uuid>,
    /// The whole tree was read.
    complete: bool,
}

/// Reads every tree; returns the store's acknowledged count. A tree that cannot be
/// read to its end is a problem, and the scan goes on with the next one.
fn scan(db: &sled::Db, db_path: &Path, sealer: &Sealer, report: &mut CheckReport) -> Option<u64> {
    let names: HashSet<Vec<u8>> = db.tree_names().iter().map(|n| n.to_vec()).collect();
    let tree = |name: &str| -> Result<Option<sled::Tree>> {
        if names.contains(name.as_bytes()) {
            Ok(Some(db.open_tree(name)?))
        } else {
            Ok(None)
        }
    };
    // Each part runs guarded: an error or a panic in sled ends that part only.
    let part = |name: &str,
                report: &mut CheckReport,
                f: &mut dyn FnMut(&mut CheckReport) -> Result<()>| {
        if let Err(e) = db::guarded(db_path, || f(report)) {
            report.problem(
                Some(name.to_string()),
                format!("cannot be read to its end: {e}"),
            );
        }
    };
    let mut overlay = HashMap::new();
    part("journal", report, &mut |report| {
        let Some(j) = tree("journal")? else {
            return Ok(());
        };
        for item in j.iter() {
            let (k, v) = item?;
            report.counts.journal_records += 1;
            match journal::decode(&v) {
                Some(writes) => overlay.extend(writes.ops),
                None => report.problem(
                    Some(format!("journal {}", journal::hex(&k))),
                    "truncated write set: this acknowledged request cannot be replayed",
                ),
            }
        }
        Ok(())
    });
    let exchange_tree = tree("exchange").ok().flatten();
    let exchange = View {
        tree: exchange_tree.as_ref(),
        sealer,
        overlay,
    };
    let mut seen = Seen::default();
    part("exchange", report, &mut |report| {
        if let Some(t) = exchange.tree {
            for item in t.iter() {
                let (k, v) = item?;
                if !exchange.overlay.contains_key(k.as_ref()) {
                    record(&exchange, &k, &v, report, &mut seen);
                }
            }
        }
        for (k, v) in &exchange.overlay {
            if let Some(v) = v {
                record(&exchange, k, v, report, &mut seen);
            }
        }
        seen.complete = true;
        Ok(())
    });
    report_unqueued(&seen, report);
    part("sessions", report, &mut |r| {
        decode_all::<Session>(sealer, tree("sessions")?, "sessions", r, |c| {
            &mut c.sessions
        })
    });
    part("audit", report, &mut |r| {
        decode_all::<AuditEntry>(sealer, tree("audit")?, "audit", r, |c| &mut c.audit_entries)
    });
    part("destinations", report, &mut |r| {
        decode_all::<super::queue::DestinationState>(
            sealer,
            tree("destinations")?,
            "destinations",
            r,
            |c| &mut c.destination_states,
        )
    });
    part(super::composer_history::TREE, report, &mut |r| {
        decode_all::<super::composer_history::HistoryEntry>(
            sealer,
            tree(super::composer_history::TREE)?,
            super::composer_history::TREE,
            r,
            |c| &mut c.composer_history,
        )
    });
    let mut held = None;
    part("meta", report, &mut |report| {
        if let Some(meta) = tree("meta")? {
            held = mark::stored(&meta)?;
            report.format_version = super::format::stored(&meta)?;
        }
        Ok(())
    });
    held
}

/// PENDING notification logs that no queue or quarantine holds: they would never be
/// delivered. Only a complete scan of the exchange tree knows every queue entry.
fn report_unqueued(seen: &Seen, report: &mut CheckReport) {
    if !seen.complete {
        return;
    }
    for id in seen.pending.iter().filter(|id| !seen.queued.contains(id)) {
        report.problem(
            Some(show_key("exchange", &key(b'l', &[id.as_bytes()]))),
            "a PENDING notification log that is in no queue and not quarantined: it would \
             never be delivered",
        );
    }
}

/// A delivery still owed that cannot be made: its queue or quarantine entry (when that
/// much was readable) and what is wrong.
pub(crate) struct OwedProblem {
    pub entry: Option<sled::IVec>,
    pub text: String,
}

impl std::fmt::Display for OwedProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// At start (see [`super::open`]): every delivery still owed (queued or quarantined)
/// must be readable, with its log and its request. Costs two reads per item owed, not a
/// scan of history (`check` reads everything), spread over the machine's cores since a
/// deep queue (an outage) is when a restart is most likely. Returns the problems found.
pub(crate) fn verify_pending(exchange: &sled::Tree) -> Result<Vec<OwedProblem>> {
    let mut problems = Vec::new();
    let mut owed = Vec::new();
    for item in exchange
        .range(b"q".as_slice()..b"r".as_slice())
        .chain(exchange.scan_prefix(b"z"))
    {
        let (k, v) = match item {
            Ok(kv) => kv,
            Err(e) => {
                // sled may not get past it: one problem, and the rest unread.
                problems.push(OwedProblem {
                    entry: None,
                    text: format!(
                        "the queue cannot be read to its end ({})",
                        db::sled_detail(&e)
                    ),
                });
                break;
            }
        };
        let log_id = if k.first() == Some(&b'q') {
            super::queue::QueueItem::parse(&k, &v)
                .map(|i| i.log_id)
                .ok()
        } else {
            uuid_at(&k, 17)
        };
        match log_id {
            Some(id) => owed.push((k, id)),
            None => problems.push(OwedProblem {
                text: format!("{} is unreadable", show_key("exchange", &k)),
                entry: Some(k),
            }),
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = owed.len().div_ceil(threads).max(1);
    let found: Vec<Vec<OwedProblem>> = std::thread::scope(|scope| {
        let workers: Vec<_> = owed
            .chunks(chunk)
            .map(|entries| {
                scope.spawn(move || {
                    entries
                        .iter()
                        .filter_map(|(entry, id)| {
                            owed_problem(exchange, *id).map(|text| OwedProblem {
                                entry: Some(entry.clone()),
                                text,
                            })
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    problems.extend(found.into_iter().flatten());
    Ok(problems)
}

/// What is wrong with an owed delivery's log and request, if anything.
fn owed_problem(exchange: &sled::Tree, log_id: Uuid) -> Option<String> {
    /// Only what is needed of the log: which request it delivers.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Owner {
        request_id: Uuid,
    }
    let unreadable = |what: String, e: &sled::Error| {
        Some(format!(
            "{what}, still to be delivered, is unreadable ({})",
            db::sled_detail(e)
        ))
    };
    let log = match exchange.get(key(b'l', &[log_id.as_bytes()])) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Some(format!("log {log_id}, still to be delivered, is missing")),
        Err(e) => return unreadable(format!("log {log_id}"), &e),
    };
    let Ok(owner) = super::codec::parse::<Owner>(b"l", &log) else {
        return Some(format!(
            "log {log_id}, still to be delivered, does not decode"
        ));
    };
    let request = owner.request_id;
    match exchange.contains_key(key(b'r', &[request.as_bytes()])) {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "request {request} of log {log_id}, still to be delivered, is missing"
        )),
        Err(e) => unreadable(format!("request {request} of log {log_id}"), &e),
    }
}

fn decode_all<T: serde::de::DeserializeOwned>(
    sealer: &Sealer,
    tree: Option<sled::Tree>,
    name: &str,
    report: &mut CheckReport,
    count: impl Fn(&mut Counts) -> &mut u64,
) -> Result<()> {
    let Some(tree) = tree else { return Ok(()) };
    for item in tree.iter() {
        let (k, v) = item?;
        *count(&mut report.counts) += 1;
        if let Err(e) = sealer.decode::<T>(&k, &v) {
            report.problem(Some(show_key(name, &k)), e.to_string());
        }
    }
    Ok(())
}

/// Checks one record of the exchange tree (or of a journal record).
fn record(exchange: &View, k: &[u8], v: &[u8], report: &mut CheckReport, seen: &mut Seen) {
    let name = || show_key("exchange", k);
    let needs =
        |report: &mut CheckReport, wanted: Vec<u8>, what: String| match exchange.has(&wanted) {
            Ok(true) => {}
            Ok(false) => report.problem(Some(name()), format!("{what}, which is missing")),
            Err(e) => report.problem(Some(name()), format!("{what}, which cannot be read ({e})")),
        };
    let missing_log = |report: &mut CheckReport, id: Option<Uuid>, what: &str| match id {
        Some(id) => needs(
            report,
            key(b'l', &[id.as_bytes()]),
            format!("{what} of log {id}"),
        ),
        None => report.problem(Some(name()), format!("{what} with an unreadable log ID")),
    };
    match k.first() {
        Some(b'r') => {
            report.counts.requests += 1;
            if let Err(e) = exchange.sealer.decode::<StoredRequest>(k, v) {
                report.problem(Some(name()), e.to_string());
            }
        }
        Some(b'l') => {
            report.counts.logs += 1;
            match exchange.sealer.decode::<LogRecord>(k, v) {
                Ok(log) => {
                    needs(
                        report,
                        key(b'r', &[log.request_id.as_bytes()]),
                        format!("a log of request {}", log.request_id),
                    );
                    let notification =
                        matches!(log.exchange, Exchange::Notification | Exchange::Writeback);
                    if log.log_type == LogType::Send
                        && notification
                        && log.status == LogStatus::Pending
                    {
                        seen.pending.push(log.id);
                    }
                }
                Err(e) => report.problem(Some(name()), e.to_string()),
            }
        }
        Some(b'a') => {
            report.counts.attempts += 1;
            match exchange.sealer.decode::<Attempt>(k, v) {
                Ok(a) => missing_log(report, Some(a.log_id), "an attempt"),
                Err(e) => report.problem(Some(name()), e.to_string()),
            }
        }
        Some(b'p') => {
            report.counts.responses += 1;
            missing_log(report, uuid_at(k, 1), "the response body");
        }
        Some(b'q') => {
            report.counts.queue_items += 1;
            match super::queue::QueueItem::parse(k, v) {
                Ok(item) => {
                    seen.queued.insert(item.log_id);
                    missing_log(report, Some(item.log_id), "a queue entry");
                }
                Err(e) => report.problem(Some(name()), e.to_string()),
            }
        }
        Some(b'z') => {
            report.counts.quarantined += 1;
            let log = uuid_at(k, 17);
            if let Some(id) = log {
                seen.queued.insert(id);
            }
            if super::queue::QueueId::from_key(v).is_none() {
                report.problem(
                    Some(name()),
                    "quarantine entry with an unreadable queue key",
                );
            }
            missing_log(report, log, "a quarantine entry");
        }
        Some(b'x') => {
            report.counts.index_entries += 1;
            let id = Uuid::from_bytes(super::history::tail_id(k));
            missing_log(report, Some(id), "an index entry");
        }
        Some(b'u') => match super::uploads::log_of(k, v) {
            Ok(id) => missing_log(report, Some(id), "an upload's index entry"),
            Err(e) => report.problem(Some(name()), e.to_string()),
        },
        _ => report.problem(Some(name()), "a key of no known kind"),
    }
}
