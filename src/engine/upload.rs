//! File upload, as the platform has it: a source posts a file (`POST /upload`) and gets
//! back a URI to put in a Media or Notes `FileContents`; sources of the same
//! environment fetch it with that URI.
//!
//! Rules: the file is durable (content-addressed under the data directory, see
//! `store::uploads`) and its log is journaled and flushed before the answer; an upload
//! is recorded as one log (data model and event `Upload`, no destination: it is
//! delivered to nobody) whose request holds the file's name, size, hash, content type
//! and ID, never its bytes. That request is what the PHI rules hide from roles without
//! the permission in Production, like any body; the log's metadata names no file.
//! An upload ID is random (122 bits) and looked up only within the asking source's
//! environment, so another environment's token finds nothing: the same 404 as an ID
//! that never existed.

use super::{Engine, Source, store_failure};
use crate::model::log::new_log_id;
use crate::model::time::format_utc;
use crate::model::{ApiError, Exchange, LogRecord, LogStatus, LogType};
use crate::store::uploads::{self, Spool, UploadError, UploadRecord};
use crate::store::{Store, StoredRequest};
use serde_json::{Value, json};
use std::path::PathBuf;
use uuid::Uuid;

/// The data model and event type of an upload's log.
pub const UPLOAD_DATA_MODEL: &str = "Upload";
pub const UPLOAD_EVENT_TYPE: &str = "Upload";
/// What an upload's log names as its destination: the engine's own file store.
pub const UPLOAD_DESTINATION_ID: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_f11e);
pub const UPLOAD_DESTINATION_NAME: &str = "Switchboard uploads";
/// The content type of a file sent without one.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// File names longer than this are cut (they are only shown, never used as paths).
const MAX_NAME_CHARS: usize = 255;

/// What the sender said about the file.
#[derive(Debug, Clone, Default)]
pub struct FileInfo {
    pub name: Option<String>,
    pub content_type: Option<String>,
}

/// A stored upload, ready to serve.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub path: PathBuf,
    pub content_type: String,
    /// The plain file's size (a sealed one is larger on disk).
    pub size: u64,
    /// The keys to read it with, if it is sealed.
    pub sealer: crate::store::Sealer,
}

/// The file store failed: nothing was acknowledged.
fn upload_failure(e: UploadError) -> ApiError {
    tracing::error!(error = %e, "upload failure");
    ApiError::new(
        500,
        "storage",
        "Upload",
        "The engine could not store the file; nothing was accepted. Retry shortly; if it \
         persists, check the engine's disk and logs.",
    )
}

fn upload_error(status: u16, text: impl Into<String>) -> ApiError {
    ApiError::new(status, "request", "Upload", text)
}

/// The 413 of a file over `limit` bytes.
pub fn too_large(limit: usize) -> ApiError {
    upload_error(
        413,
        format!(
            "The file is larger than this engine's limit of {limit} bytes (max_upload_bytes); \
             nothing was stored. Send a smaller file, or ask the operator to raise the limit."
        ),
    )
}

/// The 404 of an upload that is not there for this source.
fn not_found() -> ApiError {
    ApiError::new(
        404,
        "routing",
        "Upload",
        "There is no such upload in this source's environment. Use the URI that POST /upload \
         returned, with a token of a source in the same environment.",
    )
}

impl Engine {
    /// The largest file `POST /upload` takes.
    pub fn max_upload_bytes(&self) -> usize {
        self.settings.max_upload_bytes
    }

    /// Starts receiving a file: refused at once when the store cannot take new work.
    pub async fn upload_spool(&self) -> Result<Spool, ApiError> {
        self.ensure_writable()?;
        Spool::create(self.data_dir(), self.store.sealer())
            .await
            .map_err(upload_failure)
    }

    /// Stores a received file for `source`, records its log, and answers with its URI
    /// under `base` (the engine's public URL). Only once the file and the log are on
    /// disk.
    pub async fn finish_upload(
        &self,
        source: &Source,
        spool: Spool,
        info: FileInfo,
        base: &str,
    ) -> Result<Value, ApiError> {
        if spool.size() == 0 {
            return Err(upload_error(
                400,
                "The file is empty. Send the file's bytes in the multipart field `file`.",
            ));
        }
        let stored = spool
            .finish(source.environment)
            .await
            .map_err(upload_failure)?;
        let id = Uuid::new_v4();
        let uri = format!("{}/upload/{}", base.trim_end_matches('/'), id.simple());
        let content_type = info
            .content_type
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
        let record = UploadRecord {
            log_id: Uuid::nil(),
            sha256: stored.sha256,
            size: stored.size,
            content_type,
        };
        let name = info.name.map(|n| n.chars().take(MAX_NAME_CHARS).collect());
        let (request, log) = upload_log(source, id, &uri, name, record.clone());
        let record = UploadRecord {
            log_id: log.id,
            ..record
        };
        match &self.shared {
            Some(shared) => {
                self.persist_upload_shared(shared, source, id, &record, &request, log)
                    .await?
            }
            None => {
                let mut writes = self
                    .store
                    .accepted_writes(&request, std::slice::from_ref(&log), None)
                    .map_err(store_failure)?;
                Store::upload_writes(&mut writes, source.environment, id, &record);
                self.persist(writes, log).await?;
            }
        }
        tracing::info!(
            environment = %source.environment,
            source = %source.name,
            size = record.size,
            sha256 = %record.sha256,
            "file uploaded"
        );
        Ok(json!({ "URI": uri }))
    }

    /// The one write path of history: journaled, flushed, then applied, and the log
    /// announced once applied.
    async fn persist(&self, writes: crate::store::Writes, log: LogRecord) -> Result<(), ApiError> {
        let journal = self.store.journal();
        let record = journal
            .record_within(writes, crate::store::journal::BACKLOG_PATIENCE)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Backlog { .. } => self.overloaded(e),
                e => store_failure(e),
            })?;
        if let Err(e) = self.commit.durable().await {
            journal.discard(record);
            tracing::error!(error = %e, "an upload's flush failed");
            return Err(ApiError::unavailable(format!(
                "The disk did not confirm the upload ({e}); it was not acknowledged. Retry \
                 shortly; if it persists, check the engine's disk and logs."
            ))
            .with_header("Retry-After", "5".into()));
        }
        journal.apply(
            record,
            Some(self.delivery.after_accept(Vec::new(), vec![log])),
        );
        Ok(())
    }

    /// On a shared store: the file's bytes, the index entry, then the request and its
    /// log, each committed before the next, so what the answer names is all there. (A
    /// failure part way leaves bytes or an index entry no answer pointed to.)
    async fn persist_upload_shared(
        &self,
        shared: &crate::store::postgres::PgStore,
        source: &Source,
        id: Uuid,
        record: &UploadRecord,
        request: &StoredRequest,
        log: LogRecord,
    ) -> Result<(), ApiError> {
        let environment = source.environment;
        let path = uploads::file_path(self.data_dir(), environment, &record.sha256);
        let bytes = tokio::fs::read(&path).await.map_err(store_failure)?;
        let failed = |e: crate::store::postgres::PgError| store_failure(e);
        shared
            .put_upload_file(environment, &record.sha256, &bytes)
            .await
            .map_err(failed)?;
        shared
            .put_upload(environment, id, record)
            .await
            .map_err(failed)?;
        shared
            .accept(request, std::slice::from_ref(&log), None)
            .await
            .map_err(failed)?;
        (self.delivery.after_accept(Vec::new(), vec![log]))();
        Ok(())
    }

    /// The upload `id` (as in its URI) for `source`: only within its environment. On
    /// a shared store, a file uploaded through another node is copied here first.
    pub async fn uploaded(&self, source: &Source, id: &str) -> Result<Uploaded, ApiError> {
        let id = Uuid::try_parse(id).map_err(|_| not_found())?;
        let record = match &self.shared {
            Some(shared) => shared
                .upload(source.environment, id)
                .await
                .map_err(super::read_failure)?,
            None => self
                .store
                .upload(source.environment, id)
                .map_err(super::read_failure)?,
        }
        .ok_or_else(not_found)?;
        let path = uploads::file_path(self.data_dir(), source.environment, &record.sha256);
        if let Some(shared) = &self.shared
            && !path.is_file()
        {
            let bytes = shared
                .upload_file(source.environment, &record.sha256)
                .await
                .map_err(super::read_failure)?;
            if let Some(bytes) = bytes {
                uploads::keep_copy(self.data_dir(), source.environment, &record.sha256, &bytes)
                    .map_err(super::read_failure)?;
            }
        }
        if !path.is_file() {
            tracing::error!(path = %path.display(), log = %record.log_id, "an upload's file is missing");
            return Err(ApiError::internal(
                "The upload is recorded but its file is missing from the engine's data \
                 directory. Ask the operator to run `switchboard check` and restore it.",
            ));
        }
        Ok(Uploaded {
            path,
            content_type: record.content_type,
            size: record.size,
            sealer: self.store.sealer().clone(),
        })
    }
}

/// The request and log that record one upload. The request's payload is the upload's
/// summary in an envelope like a message's, so history shows it like any body.
fn upload_log(
    source: &Source,
    id: Uuid,
    uri: &str,
    name: Option<String>,
    file: UploadRecord,
) -> (StoredRequest, LogRecord) {
    let (log_id, created_at) = new_log_id();
    let request_id = Uuid::now_v7();
    let log = LogRecord {
        id: log_id,
        request_id,
        attempt_id: Uuid::now_v7(),
        log_type: LogType::Send,
        status: LogStatus::Succeeded,
        exchange: Exchange::Writeback,
        environment: source.environment,
        source_id: source.id,
        source_name: source.name.clone(),
        destination_id: UPLOAD_DESTINATION_ID,
        destination_name: UPLOAD_DESTINATION_NAME.to_string(),
        data_model: UPLOAD_DATA_MODEL.to_string(),
        event_type: UPLOAD_EVENT_TYPE.to_string(),
        test: false,
        created_at,
        updated_at: created_at,
        attempts: 0,
        latency_ms: None,
        patient_id: None,
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        // An upload is no message of the platform's: nothing for older clients to read.
        legacy_ids: None,
    };
    let payload = json!({
        "Meta": {
            "DataModel": UPLOAD_DATA_MODEL,
            "EventType": UPLOAD_EVENT_TYPE,
            "EventDateTime": format_utc(created_at),
            "Source": {"ID": source.id, "Name": source.name},
            "Logs": [{"ID": log.id, "AttemptID": log.attempt_id}],
        },
        "File": {
            "ID": id.simple().to_string(),
            "URI": uri,
            "Name": name,
            "ContentType": file.content_type,
            "Size": file.size,
            "SHA256": file.sha256,
        },
    });
    let request = StoredRequest {
        id: request_id,
        received_at: created_at,
        environment: source.environment,
        source_id: source.id,
        exchange: Exchange::Writeback,
        payload,
    };
    (request, log)
}
