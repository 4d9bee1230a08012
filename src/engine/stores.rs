//! The reads and numbers that come from whichever store holds history: the embedded
//! one, or the PostgreSQL store shared by several nodes ([`super::cluster`]). The
//! embedded store's reads are synchronous (they wait for the journal): they run on a
//! blocking thread, so no caller's worker is held.

use super::Engine;
use crate::model::{Attempt, LogRecord};
use crate::store::{LogPage, LogQuery, StoreError, StoredRequest};
use uuid::Uuid;

/// Waits for an engine read from synchronous code running on a blocking task (the
/// API's handlers that read several things in a row); never from an async worker.
pub fn wait<F: std::future::Future>(read: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(read)
}

impl Engine {
    /// Runs a read of the embedded store where blocking is allowed.
    async fn embedded<T: Send + 'static>(
        &self,
        read: impl FnOnce(&crate::store::Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| read(&store))
            }
            _ => read(&store),
        }
    }

    /// `count` numbers for the platform's legacy IDs, never handed out twice.
    pub(crate) async fn legacy_numbers(&self, count: usize) -> Result<Vec<u64>, StoreError> {
        match &self.shared {
            Some(shared) => Ok(shared.legacy_numbers(count).await?),
            None => (0..count).map(|_| self.store.durable_number()).collect(),
        }
    }

    /// A log as history has it now.
    pub async fn log_record(&self, id: Uuid) -> Result<Option<LogRecord>, StoreError> {
        match &self.shared {
            Some(shared) => Ok(shared.log(id).await?),
            None => self.embedded(move |s| s.log(id)).await,
        }
    }

    /// An accepted request.
    pub async fn stored_request(&self, id: Uuid) -> Result<Option<StoredRequest>, StoreError> {
        match &self.shared {
            Some(shared) => Ok(shared.request(id).await?),
            None => self.embedded(move |s| s.request(id)).await,
        }
    }

    /// A log's attempts, in order.
    pub async fn log_attempts(&self, id: Uuid) -> Result<Vec<Attempt>, StoreError> {
        match &self.shared {
            Some(shared) => Ok(shared.attempts(id).await?),
            None => self.embedded(move |s| s.attempts(id)).await,
        }
    }

    /// The body of a log's answer (a query's).
    pub async fn log_response(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.shared {
            Some(shared) => Ok(shared.response_body(id).await?),
            None => self.embedded(move |s| s.response_body(id)).await,
        }
    }

    /// A page of history.
    pub async fn search_logs(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        match &self.shared {
            Some(shared) => Ok(shared.search(query).await?),
            None => {
                let query = query.clone();
                self.embedded(move |s| s.search(&query)).await
            }
        }
    }

    /// The logs queued for a destination (every queue of it), each queue in order.
    pub async fn queued_logs(&self, destination: Uuid) -> Result<Vec<Uuid>, StoreError> {
        match &self.shared {
            Some(shared) => Ok(shared.queued_for(destination).await?),
            None => self.embedded(move |s| s.queued(destination)).await,
        }
    }

    /// A destination's logs in quarantine.
    pub async fn quarantined_logs(&self, destination: Uuid) -> Result<Vec<LogRecord>, StoreError> {
        if let Some(shared) = &self.shared {
            return Ok(shared.quarantined_logs(destination).await?);
        }
        self.embedded(move |s| {
            let mut logs = Vec::new();
            for (log_id, _) in s.quarantined(destination)? {
                logs.extend(s.log(log_id)?);
            }
            Ok(logs)
        })
        .await
    }
}
