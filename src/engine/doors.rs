//! The two doors of the data-model API, `/endpoint` and `/query`: each parses the
//! envelope and sends it down the path its exchange takes, accepted for delivery
//! (`engine::ingest`) or forwarded and answered (`engine::query`). Kept apart from both
//! paths so neither has to know the other.

use super::answer::Answer;
use super::routing::{Rejection, not_a_query_error, response_event_error};
use super::{Engine, Source};
use crate::model::catalog::Exchange;
use crate::model::meta::parse_envelope;

impl Engine {
    /// `POST /endpoint`. Sync events sent here are answered as queries, as the
    /// platform's older clients expect.
    pub async fn endpoint(&self, source: &Source, body: &[u8]) -> Result<Answer, Rejection> {
        self.ensure_writable().map_err(Rejection::bare)?;
        let envelope = parse_envelope(body)?;
        match envelope.meta.event.exchange {
            Exchange::Query => self.forward_query(source, envelope).await,
            Exchange::Response => Err(Rejection::new(response_event_error(&envelope), &envelope)),
            Exchange::Notification | Exchange::Writeback => self.accept(source, envelope).await,
        }
    }

    /// `POST /query`.
    pub async fn query(&self, source: &Source, body: &[u8]) -> Result<Answer, Rejection> {
        self.ensure_writable().map_err(Rejection::bare)?;
        let envelope = parse_envelope(body)?;
        match envelope.meta.event.exchange {
            Exchange::Query => self.forward_query(source, envelope).await,
            Exchange::Response => Err(Rejection::new(response_event_error(&envelope), &envelope)),
            Exchange::Notification | Exchange::Writeback => {
                Err(Rejection::new(not_a_query_error(&envelope), &envelope))
            }
        }
    }
}
