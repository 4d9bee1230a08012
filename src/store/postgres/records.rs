//! Small records every node and every command line share, by kind and ID (API keys,
//! admin tokens, when a key was last used, revocations), in the `credentials` table;
//! read and written from synchronous code, as the files they replace were.
//!
//! An engine reaches them through its pool ([`Reach::Pool`]); a command line with
//! `--store` through a connection of its own per call ([`Reach::At`]).

use super::{PgLocation, PgStore, Result, blocking};

/// How shared records are reached.
#[derive(Clone, Debug)]
pub enum Reach {
    Pool(PgStore),
    At(PgLocation),
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.at.shown())
    }
}

impl Reach {
    pub fn shown(&self) -> &str {
        match self {
            Reach::Pool(store) => store.at.shown(),
            Reach::At(at) => at.shown(),
        }
    }

    /// Stores `record` as (kind, id), replacing what was there.
    pub fn put(&self, kind: &str, id: &str, record: &[u8]) -> Result<()> {
        let (kind, id, record) = (kind.to_string(), id.to_string(), record.to_vec());
        self.call(move |client, at| async move {
            client
                .execute(
                    "INSERT INTO credentials (kind, id, record) VALUES ($1, $2, $3)
                     ON CONFLICT (kind, id) DO UPDATE SET record = excluded.record",
                    &[&kind, &id, &record],
                )
                .await
                .map_err(|e| at.query_error(&e))?;
            Ok(())
        })
    }

    pub fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let (kind, id) = (kind.to_string(), id.to_string());
        self.call(move |client, at| async move {
            let row = client
                .query_opt(
                    "SELECT record FROM credentials WHERE kind = $1 AND id = $2",
                    &[&kind, &id],
                )
                .await
                .map_err(|e| at.query_error(&e))?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    /// Removes (kind, id); whether it was there.
    pub fn remove(&self, kind: &str, id: &str) -> Result<bool> {
        let (kind, id) = (kind.to_string(), id.to_string());
        self.call(move |client, at| async move {
            let n = client
                .execute(
                    "DELETE FROM credentials WHERE kind = $1 AND id = $2",
                    &[&kind, &id],
                )
                .await
                .map_err(|e| at.query_error(&e))?;
            Ok(n > 0)
        })
    }

    /// Every record of `kind`, in ID order.
    pub fn list(&self, kind: &str) -> Result<Vec<Vec<u8>>> {
        let kind = kind.to_string();
        self.call(move |client, at| async move {
            let rows = client
                .query(
                    "SELECT record FROM credentials WHERE kind = $1 ORDER BY id",
                    &[&kind],
                )
                .await
                .map_err(|e| at.query_error(&e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// How many records of `kind` there are: the change stamp of an append-only kind.
    pub fn count(&self, kind: &str) -> Result<u64> {
        let kind = kind.to_string();
        self.call(move |client, at| async move {
            let row = client
                .query_one("SELECT count(*) FROM credentials WHERE kind = $1", &[&kind])
                .await
                .map_err(|e| at.query_error(&e))?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }

    /// Runs `work` with a client, from synchronous code.
    fn call<T, F, Fut>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(ClientRef, PgLocation) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T>> + Send,
    {
        match self {
            Reach::Pool(store) => blocking::wait(async {
                let client = store.client().await?;
                work(ClientRef::Pooled(client), store.at.clone()).await
            }),
            Reach::At(at) => blocking::run(async {
                up_to_date(at).await?;
                let client = at.connect().await?;
                work(ClientRef::Own(client), at.clone()).await
            }),
        }
    }
}

/// Brings the schema at `at` up to date once per process: a CLI command may be the
/// first to touch a new database (`tokens create` before any node started), and a
/// node refuses a schema newer than it knows.
async fn up_to_date(at: &PgLocation) -> Result<()> {
    static DONE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let seen = |done: &Vec<String>| done.iter().any(|shown| shown == at.shown());
    if seen(&DONE.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(());
    }
    super::migrate::migrate(at, "a command").await?;
    DONE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(at.shown().to_string());
    Ok(())
}

/// A client, pooled or of its own.
pub enum ClientRef {
    Pooled(deadpool_postgres::Object),
    Own(tokio_postgres::Client),
}

impl std::ops::Deref for ClientRef {
    type Target = tokio_postgres::Client;

    fn deref(&self) -> &tokio_postgres::Client {
        match self {
            ClientRef::Pooled(object) => object,
            ClientRef::Own(client) => client,
        }
    }
}
