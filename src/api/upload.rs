//! `POST /upload` and `GET /upload/{id}`: the platform's file upload. The multipart
//! body is parsed as it arrives (`multer`) and the file streamed to disk; the rules
//! (size, storage, logs, environments) are the engine's (`engine::upload`).

use super::{AppState, bearer, caused_by, error_response};
use crate::engine::Engine;
use crate::engine::upload::{FileInfo, too_large};
use crate::model::ApiError;
use crate::store::seal::files::FileReader;
use crate::store::uploads::Spool;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// Room in the body for the multipart framing and small fields besides the file.
const FRAMING_SLACK: u64 = 1024 * 1024;
/// Bytes read from disk per piece of a download.
const READ_CHUNK: usize = 256 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/upload", post(upload))
        .route("/upload/{id}", get(download))
}

fn upload_error(status: u16, text: impl Into<String>) -> ApiError {
    ApiError::new(status, "request", "Upload", text)
}

const HOW: &str = "Send multipart/form-data with the file in the field `file`, e.g. \
                   `curl -H 'Authorization: Bearer <token>' -F file=@report.pdf <base>/upload`.";

async fn upload(State(engine): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let token = bearer(&headers)?;
        let source = engine.source_for_token(token).await?;
        // Before the body is read: a full disk refuses at once.
        engine.ensure_writable()?;
        let (spool, info) = receive(&engine, &headers, body).await?;
        let base = public_base(&engine, &headers);
        engine.finish_upload(&source, spool, info, &base).await
    }
    .await;
    match result {
        Ok(body) => (StatusCode::CREATED, axum::Json(body)).into_response(),
        Err(e) => error_response(&e, None),
    }
}

/// The engine's public URL; without one configured (an engine started without a
/// listener), the host the client reached.
fn public_base(engine: &Engine, headers: &HeaderMap) -> String {
    if let Some(url) = &engine.settings().public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Reads the multipart body, spooling the first `file` field to disk and draining
/// the rest. Any refusal drops the spool, which removes what was written.
///
/// A file over the limit is refused only once the body has been read (up to
/// [`refusal_allowance`]): a client still sending when the server answers and closes
/// would see a broken connection instead of the 413.
async fn receive(
    engine: &Engine,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Spool, FileInfo), ApiError> {
    let limit = engine.max_upload_bytes();
    let allowance = refusal_allowance(limit);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > allowance) {
        return Err(too_large(limit));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        upload_error(
            400,
            format!("POST /upload takes multipart/form-data, not `{content_type}`. {HOW}"),
        )
    })?;
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(allowance));
    let mut parts =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let (mut file, mut over) = (None, false);
    while let Some(mut field) = parts.next_field().await.map_err(|e| refused(e, limit))? {
        if over || file.is_some() || field.name() != Some("file") {
            while field
                .chunk()
                .await
                .map_err(|e| refused(e, limit))?
                .is_some()
            {}
            continue;
        }
        let info = FileInfo {
            name: field.file_name().map(str::to_string),
            content_type: field.content_type().map(ToString::to_string),
        };
        let mut spool = engine.upload_spool().await?;
        while let Some(chunk) = field.chunk().await.map_err(|e| refused(e, limit))? {
            over = over || spool.size() + chunk.len() as u64 > limit as u64;
            if !over {
                spool.write(&chunk).await.map_err(|e| {
                    ApiError::internal(format!("The file could not be stored ({e})."))
                })?;
            }
        }
        if !over {
            file = Some((spool, info));
        }
    }
    if over {
        return Err(too_large(limit));
    }
    file.ok_or_else(|| upload_error(400, format!("The body has no field `file`. {HOW}")))
}

/// The most of a body read before a refusal: the file's limit, room for the framing
/// and small fields, and as much again to read a file that is too large to its end.
/// A larger body is refused at once (its sender may see the connection close).
fn refusal_allowance(limit: usize) -> u64 {
    (limit as u64)
        .saturating_mul(2)
        .saturating_add(FRAMING_SLACK)
}

/// A multipart body that could not be read: what went wrong and what to do.
fn refused(error: multer::Error, limit: usize) -> ApiError {
    match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(limit)
        }
        multer::Error::StreamReadFailed(e) => {
            let e: &(dyn std::error::Error + 'static) = &*e;
            if let Some(t) = caused_by::<super::server::BodyTimedOut>(e) {
                return ApiError::new(
                    408,
                    "timeout",
                    "Request",
                    format!(
                        "The request body did not arrive within {} s of its headers (the \
                         engine's body_timeout_seconds). Send the whole body without pausing.",
                        t.0.as_secs()
                    ),
                );
            }
            upload_error(400, format!("Could not read the request body: {e}"))
        }
        e => upload_error(
            400,
            format!("The body is not valid multipart/form-data ({e}). {HOW}"),
        ),
    }
}

async fn download(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let token = bearer(&headers)?;
        let source = engine.source_for_token(token).await?;
        let upload = engine.uploaded(&source, &id).await?;
        let path = upload.path.clone();
        let sealer = upload.sealer.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            FileReader::new(file, sealer.keyring())
        })
        .await
        .map_err(|e| ApiError::internal(format!("The file could not be read ({e}).")))?
        .map_err(|e| {
            tracing::error!(error = %e, path = %upload.path.display(), "cannot open an upload");
            ApiError::internal("The upload's file could not be read. Retry shortly.")
        })?;
        Ok::<_, ApiError>((upload.content_type, (opened, upload.size)))
    }
    .await;
    let (content_type, (file, len)) = match result {
        Ok(found) => found,
        Err(e) => return error_response(&e, None),
    };
    let mut response = Body::from_stream(file_stream(file)).into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    // The bytes are the sender's: a browser must not guess they are something else.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The file's plain bytes (opened when sealed), read in pieces on blocking threads.
fn file_stream(
    file: FileReader,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let read = tokio::task::spawn_blocking(move || {
            let buffer = file.next_piece(READ_CHUNK)?;
            Ok::<_, std::io::Error>((file, buffer))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match read {
            Ok((_, buffer)) if buffer.is_empty() => None,
            Ok((file, buffer)) => Some((Ok(buffer), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    })
}
