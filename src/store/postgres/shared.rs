//! What every node shares besides history and queues: the generated IDs of configured
//! sources, destinations and organizations ([`PgStore::resolve_identities`]), and the
//! change notes that let a console attached to any node see every node's traffic
//! ([`PgStore::listen`]: `LISTEN/NOTIFY`, carrying IDs, never bodies).

use super::{PgError, PgStore, Result};
use crate::store::identities::Kind;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The notification channel of change notes.
pub const CHANNEL: &str = "switchboard_changes";

/// Change notes a listener keeps waiting at most; beyond it they are counted as
/// dropped (the console says so) rather than held.
pub const LISTEN_BUFFER: usize = 4096;

/// "This log changed", from `node`: a listener reads the log itself.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChangeNote {
    pub log: Uuid,
    pub node: Uuid,
}

/// The notes heard by [`PgStore::listen`], and how many were dropped for want of room.
pub struct Listener {
    pub notes: mpsc::Receiver<ChangeNote>,
    pub dropped: Arc<AtomicU64>,
    /// The listening session: dropping the listener ends it.
    _session: tokio_postgres::Client,
}

pub(super) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Source => "source",
        Kind::Destination => "destination",
        Kind::Organization => "organization",
    }
}

impl PgStore {
    /// A stable ID for every (kind, name), the same on every node and for every CLI
    /// call: an ID is generated once, by whichever asks first.
    pub async fn resolve_identities(&self, wanted: &[(Kind, &str)]) -> Result<Vec<Uuid>> {
        let client = self.client().await?;
        let mut ids = Vec::with_capacity(wanted.len());
        for (kind, name) in wanted {
            let id = identity(&client, *kind, name, Uuid::new_v4())
                .await
                .map_err(|e| self.at.query_error(&e))?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Tells every listening node that these logs changed (after the caller's commit:
    /// notes sent inside a transaction are delivered when it commits).
    pub async fn announce(&self, logs: &[Uuid]) -> Result<()> {
        let client = self.client().await?;
        announce_on(&client, self.node, logs)
            .await
            .map_err(|e| self.at.query_error(&e))
    }

    /// Listens for change notes from every node (this one's too), on a connection of
    /// its own.
    pub async fn listen(&self) -> Result<Listener> {
        let (client, mut connection) =
            self.at
                .config()
                .connect(self.at.tls())
                .await
                .map_err(|e| PgError::Connect {
                    at: self.at.shown().to_string(),
                    detail: super::describe(&e),
                })?;
        let (sender, notes) = mpsc::channel(LISTEN_BUFFER);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = dropped.clone();
        let at = self.at.shown().to_string();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            use futures_util::StreamExt;
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                        let Ok(note) = serde_json::from_str::<ChangeNote>(n.payload()) else {
                            continue;
                        };
                        if sender.try_send(note).is_err() {
                            if sender.is_closed() {
                                return;
                            }
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(store = at, error = %e, "the change listener lost its connection");
                        return;
                    }
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(Listener {
            notes,
            dropped,
            _session: client,
        })
    }
}

/// `NOTIFY` of one change note per log, in one statement.
pub(crate) async fn announce_on(
    client: &impl deadpool_postgres::GenericClient,
    node: Uuid,
    logs: &[Uuid],
) -> std::result::Result<(), tokio_postgres::Error> {
    if logs.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = logs
        .iter()
        .map(|log| serde_json::to_string(&ChangeNote { log: *log, node }).unwrap_or_default())
        .collect();
    let notify = client
        .prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
        .await?;
    client.execute(&notify, &[&CHANNEL, &payloads]).await?;
    Ok(())
}

/// The ID of (kind, name): `proposed` if this call is the first to ask, else the one
/// kept. Insert-or-read is one statement; when another node's insert of the same name
/// commits while it runs, the statement sees neither row (its snapshot predates that
/// commit, and the insert yields to it), so it is asked again.
pub(crate) async fn identity(
    client: &tokio_postgres::Client,
    kind: Kind,
    name: &str,
    proposed: Uuid,
) -> std::result::Result<Uuid, tokio_postgres::Error> {
    loop {
        let row = client
            .query_opt(
                "WITH made AS (
                     INSERT INTO identities (kind, name, id) VALUES ($1, $2, $3)
                     ON CONFLICT (kind, name) DO NOTHING RETURNING id)
                 SELECT id FROM made
                 UNION ALL SELECT id FROM identities WHERE kind = $1 AND name = $2
                 LIMIT 1",
                &[&kind_name(kind), &name, &proposed],
            )
            .await?;
        if let Some(row) = row {
            return Ok(row.get(0));
        }
    }
}
