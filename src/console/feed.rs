//! The live feed's rows: a bounded ring of logs with follow/freeze and a selection.
//!
//! Rows are kept oldest first. Every row has an absolute key (`offset + position`) that
//! does not change when older rows are evicted at the front or history is prepended, so
//! the selection and the frozen view stay on the same rows while the ring moves under them.

use crate::model::{LogRecord, LogStatus};
use std::collections::{HashMap, VecDeque};
use uuid::Uuid;

/// Rows the feed keeps before it evicts the oldest.
pub const DEFAULT_FEED_CAPACITY: usize = 10_000;

/// Rows PgUp/PgDn move before the view has told the ring its height.
const DEFAULT_PAGE: usize = 10;

#[derive(Debug, Clone)]
pub struct FeedRing {
    rows: VecDeque<LogRecord>,
    /// Absolute key of `rows[0]`.
    offset: i64,
    /// Log id to absolute key.
    index: HashMap<Uuid, i64>,
    capacity: usize,
    evicted: u64,
    dropped: u64,
    /// `None` while following: the view shows, and selects, the newest rows.
    frozen: Option<Frozen>,
    /// The height the view last asked for; PgUp/PgDn move by it.
    page: usize,
}

/// What stays still while frozen, as absolute keys.
#[derive(Debug, Clone, Copy)]
struct Frozen {
    selected: i64,
    top: i64,
    new_rows: u64,
}

impl Default for FeedRing {
    fn default() -> Self {
        FeedRing::new(DEFAULT_FEED_CAPACITY)
    }
}

impl FeedRing {
    /// A ring holding at most `capacity` rows (at least one).
    pub fn new(capacity: usize) -> Self {
        FeedRing {
            rows: VecDeque::new(),
            offset: 0,
            index: HashMap::new(),
            capacity: capacity.max(1),
            evicted: 0,
            dropped: 0,
            frozen: None,
            page: DEFAULT_PAGE,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.rows.len() >= self.capacity
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Row `i`, counted from the oldest.
    pub fn get(&self, i: usize) -> Option<&LogRecord> {
        self.rows.get(i)
    }

    /// Rows `start..end` (clamped), oldest first.
    pub fn rows(&self, start: usize, end: usize) -> impl Iterator<Item = &LogRecord> {
        let end = end.min(self.rows.len());
        self.rows.range(start.min(end)..end)
    }

    /// The row of log `id`, if it is in the ring.
    pub fn position(&self, id: Uuid) -> Option<usize> {
        self.index.get(&id).map(|&key| self.pos(key))
    }

    /// Rows evicted at capacity since the ring was made.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Events the console could not take (reported by the subscription).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn note_dropped(&mut self, n: u64) {
        self.dropped = self.dropped.saturating_add(n);
    }

    pub fn is_following(&self) -> bool {
        self.frozen.is_none()
    }

    /// The newest row.
    pub fn newest(&self) -> Option<&LogRecord> {
        self.rows.back()
    }

    /// The oldest row whose delivery was still in progress when last seen.
    pub fn oldest_pending(&self) -> Option<&LogRecord> {
        self.rows.iter().find(|l| l.status == LogStatus::Pending)
    }

    /// Rows added since the view was frozen (0 while following).
    pub fn new_since_freeze(&self) -> u64 {
        self.frozen.map_or(0, |f| f.new_rows)
    }

    /// Adds a log as the newest row, or updates its row in place if it is already here.
    pub fn push(&mut self, log: LogRecord) {
        if let Some(&key) = self.index.get(&log.id) {
            let pos = self.pos(key);
            self.rows[pos] = log;
            return;
        }
        if self.is_full() {
            self.evict_oldest();
        }
        let key = self.offset + self.rows.len() as i64;
        self.index.insert(log.id, key);
        self.rows.push_back(log);
        if let Some(f) = &mut self.frozen {
            f.new_rows += 1;
        }
    }

    /// Adds logs from history (newest first, as pages come) before the oldest row. Logs
    /// already here are left alone (the live row is newer); past capacity the rest are
    /// not added, so history never pushes out live rows. Returns how many were added.
    pub fn extend_older(&mut self, logs: impl IntoIterator<Item = LogRecord>) -> usize {
        let mut added = 0;
        for log in logs {
            if self.is_full() {
                break;
            }
            if self.index.contains_key(&log.id) {
                continue;
            }
            self.offset -= 1;
            self.index.insert(log.id, self.offset);
            self.rows.push_front(log);
            added += 1;
        }
        added
    }

    /// Empties the ring and follows again; the dropped and evicted counters stay.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.index.clear();
        self.offset = 0;
        self.frozen = None;
    }

    /// Keeps the view still while rows keep arriving. Does nothing if already frozen.
    pub fn freeze(&mut self) {
        if self.frozen.is_some() {
            return;
        }
        let newest = self.newest_key();
        self.frozen = Some(Frozen {
            selected: newest,
            top: newest - (self.page as i64 - 1),
            new_rows: 0,
        });
    }

    /// Back to live: the view shows the newest rows and the count resets.
    pub fn follow(&mut self) {
        self.frozen = None;
    }

    /// `f`: freeze when following, follow when frozen.
    pub fn toggle_follow(&mut self) {
        if self.frozen.is_some() {
            self.follow();
        } else {
            self.freeze();
        }
    }

    /// The selected row: the newest while following.
    pub fn selected(&self) -> Option<usize> {
        if self.rows.is_empty() {
            return None;
        }
        Some(match self.frozen {
            Some(f) => self.clamp(f.selected),
            None => self.rows.len() - 1,
        })
    }

    pub fn selected_log(&self) -> Option<&LogRecord> {
        self.selected().and_then(|i| self.rows.get(i))
    }

    /// `k`/PgUp: moves the selection `n` rows older; leaving the newest row freezes.
    pub fn select_older(&mut self, n: usize) {
        if let Some(cur) = self.selected() {
            self.select(cur.saturating_sub(n));
        }
    }

    /// `j`/PgDn: moves the selection `n` rows newer (stays frozen; `G` follows).
    pub fn select_newer(&mut self, n: usize) {
        if let Some(cur) = self.selected() {
            self.select((cur + n).min(self.rows.len() - 1));
        }
    }

    /// `g`: the oldest row.
    pub fn select_oldest(&mut self) {
        if !self.rows.is_empty() {
            self.select(0);
        }
    }

    /// PgUp.
    pub fn page_older(&mut self) {
        self.select_older(self.page);
    }

    /// PgDn.
    pub fn page_newer(&mut self) {
        self.select_newer(self.page);
    }

    fn select(&mut self, pos: usize) {
        if self.frozen.is_none() {
            if pos + 1 == self.rows.len() {
                return;
            }
            self.freeze();
        }
        let key = self.offset + pos as i64;
        if let Some(f) = &mut self.frozen {
            f.selected = key;
        }
    }

    /// The rows `start..end` a view of `height` rows shows. Following: the newest rows.
    /// Frozen: the same rows as before, scrolled just enough to keep the selection in
    /// view. Remembers `height` as the PgUp/PgDn step (as ratatui's `ListState` does).
    pub fn visible(&mut self, height: usize) -> (usize, usize) {
        if height > 0 {
            self.page = height;
        }
        let (top, end) = self.shown(height);
        if let Some(f) = &mut self.frozen {
            f.top = self.offset + top as i64;
        }
        (top, end)
    }

    /// What [`visible`](Self::visible) shows for `height`, moving nothing: what is
    /// under a click is what the last frame drew.
    pub fn shown(&self, height: usize) -> (usize, usize) {
        let len = self.rows.len();
        let Some(selected) = self.selected() else {
            return (0, 0);
        };
        let Some(f) = self.frozen else {
            return (len.saturating_sub(height), len);
        };
        let mut top = self.clamp(f.top);
        if selected < top {
            top = selected;
        } else if height > 0 && selected >= top + height {
            top = selected + 1 - height;
        }
        // Never leave empty space below when rows could fill it.
        top = top.min(len.saturating_sub(height));
        (top, (top + height).min(len))
    }

    /// A clicked row: selected (freezing the view, unless it is the newest row).
    pub fn select_row(&mut self, pos: usize) {
        if pos < self.rows.len() {
            self.select(pos);
        }
    }

    fn evict_oldest(&mut self) {
        if let Some(old) = self.rows.pop_front() {
            self.index.remove(&old.id);
            self.offset += 1;
            self.evicted += 1;
        }
    }

    fn newest_key(&self) -> i64 {
        self.offset + self.rows.len() as i64 - 1
    }

    fn pos(&self, key: i64) -> usize {
        (key - self.offset).max(0) as usize
    }

    /// A key as a position, clamped into the ring (its row may have been evicted).
    fn clamp(&self, key: i64) -> usize {
        self.pos(key).min(self.rows.len().saturating_sub(1))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Environment, Exchange, LogStatus, LogType};
    use chrono::{TimeZone, Utc};

    /// A complete record with a deterministic id `n`.
    pub(crate) fn log(n: u128, env: Environment) -> LogRecord {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or_default();
        LogRecord {
            id: Uuid::from_u128(n),
            request_id: Uuid::from_u128(1_000_000 + n),
            attempt_id: Uuid::from_u128(2_000_000 + n),
            log_type: LogType::Send,
            status: LogStatus::Pending,
            exchange: Exchange::Notification,
            environment: env,
            source_id: Uuid::from_u128(77),
            source_name: "Console".into(),
            destination_id: Uuid::from_u128(88),
            destination_name: "Sandbox EHR".into(),
            data_model: "PatientAdmin".into(),
            event_type: "Arrival".into(),
            test: false,
            created_at: at,
            updated_at: at,
            attempts: 0,
            latency_ms: None,
            patient_id: Some("0000000001".into()),
            quarantined: false,
            released_at_attempt: 0,
            resend_of: None,
            legacy_ids: None,
        }
    }

    fn ring_of(capacity: usize, n: u128) -> FeedRing {
        let mut ring = FeedRing::new(capacity);
        for i in 0..n {
            ring.push(log(i, Environment::Development));
        }
        ring
    }

    fn ids(ring: &FeedRing) -> Vec<u128> {
        ring.rows(0, ring.len()).map(|l| l.id.as_u128()).collect()
    }

    #[test]
    fn default_capacity_is_ten_thousand() {
        assert_eq!(FeedRing::default().capacity(), DEFAULT_FEED_CAPACITY);
        assert_eq!(DEFAULT_FEED_CAPACITY, 10_000);
    }

    #[test]
    fn capacity_bounds_the_ring_and_counts_evictions() {
        let ring = ring_of(3, 5);
        assert_eq!(ring.len(), 3);
        assert_eq!(ids(&ring), vec![2, 3, 4]);
        assert_eq!(ring.evicted(), 2);
        assert_eq!(ring.position(Uuid::from_u128(0)), None);
        assert_eq!(ring.position(Uuid::from_u128(4)), Some(2));
    }

    #[test]
    fn a_known_id_updates_its_row_in_place() {
        let mut ring = ring_of(10, 3);
        let mut changed = log(1, Environment::Development);
        changed.status = LogStatus::Succeeded;
        changed.attempts = 2;
        ring.push(changed);
        assert_eq!(ring.len(), 3);
        assert_eq!(ids(&ring), vec![0, 1, 2]);
        let row = ring.get(1).expect("row 1");
        assert_eq!((row.status, row.attempts), (LogStatus::Succeeded, 2));
    }

    #[test]
    fn following_shows_the_newest_rows() {
        let mut ring = ring_of(100, 30);
        assert!(ring.is_following());
        assert_eq!(ring.visible(10), (20, 30));
        assert_eq!(ring.selected(), Some(29));
        ring.push(log(30, Environment::Development));
        assert_eq!(ring.visible(10), (21, 31));
        assert_eq!(ring.new_since_freeze(), 0);
    }

    #[test]
    fn frozen_view_stays_still_and_counts_new_rows() {
        let mut ring = ring_of(100, 30);
        ring.visible(10);
        ring.toggle_follow();
        assert!(!ring.is_following());
        for i in 30..35 {
            ring.push(log(i, Environment::Development));
        }
        // An update in place is not a new row.
        ring.push(log(31, Environment::Development));
        assert_eq!(ring.new_since_freeze(), 5);
        assert_eq!(ring.visible(10), (20, 30));
        assert_eq!(ring.selected(), Some(29));
        ring.toggle_follow();
        assert!(ring.is_following());
        assert_eq!(ring.new_since_freeze(), 0);
        assert_eq!(ring.visible(10), (25, 35));
    }

    #[test]
    fn frozen_rows_survive_eviction_of_older_ones() {
        let mut ring = ring_of(10, 10);
        ring.select_older(2); // row 7, freezes
        assert_eq!(ring.selected_log().map(|l| l.id.as_u128()), Some(7));
        for i in 10..13 {
            ring.push(log(i, Environment::Development));
        }
        assert_eq!(ring.selected_log().map(|l| l.id.as_u128()), Some(7));
        assert_eq!(ring.new_since_freeze(), 3);
        assert_eq!(ring.evicted(), 3);
    }

    #[test]
    fn moving_away_from_the_newest_row_freezes() {
        let mut ring = ring_of(100, 20);
        ring.select_newer(1); // already newest: still following
        assert!(ring.is_following());
        ring.select_older(1);
        assert!(!ring.is_following());
        assert_eq!(ring.selected(), Some(18));
        ring.select_newer(5);
        assert_eq!(ring.selected(), Some(19));
        assert!(!ring.is_following(), "only G or f follows again");
        ring.select_oldest();
        assert_eq!(ring.selected(), Some(0));
        assert_eq!(ring.visible(5), (0, 5));
    }

    #[test]
    fn paging_moves_by_the_view_height() {
        let mut ring = ring_of(100, 50);
        ring.visible(8);
        ring.page_older();
        assert_eq!(ring.selected(), Some(41));
        ring.page_older();
        assert_eq!(ring.selected(), Some(33));
        assert_eq!(ring.visible(8), (33, 41));
        ring.page_newer();
        assert_eq!(ring.selected(), Some(41));
        // Scrolls just enough to show the selection at the bottom.
        assert_eq!(ring.visible(8), (34, 42));
    }

    #[test]
    fn history_goes_before_live_rows_without_duplicates() {
        let mut ring = ring_of(5, 0);
        ring.push(log(10, Environment::Development));
        ring.push(log(11, Environment::Development));
        let page = [9, 11, 8, 7, 6, 5].map(|n| log(n, Environment::Development));
        assert_eq!(ring.extend_older(page), 3);
        assert_eq!(ids(&ring), vec![7, 8, 9, 10, 11]);
        assert_eq!(ring.evicted(), 0);
        assert_eq!(ring.position(Uuid::from_u128(7)), Some(0));
    }

    #[test]
    fn dropped_counts_add_up_and_survive_clear() {
        let mut ring = ring_of(10, 3);
        ring.note_dropped(4);
        ring.note_dropped(2);
        ring.clear();
        assert_eq!(ring.dropped(), 6);
        assert!(ring.is_empty());
        assert_eq!(ring.visible(10), (0, 0));
    }
}
