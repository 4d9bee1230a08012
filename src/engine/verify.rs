//! Endpoint verification: before a destination is pushed to in Staging or Production,
//! it must prove it controls its URL by echoing a challenge. The result is kept as a
//! small file per destination (`data_dir/verifications/<id>.json`) so the CLI can
//! verify while an engine runs, and the engine sees it at the next attempt.
//!
//! The dispatcher asks before every delivery, so a destination found verified is
//! remembered ([`Verified`]) instead of its file being read and parsed each time. Only
//! "verified" is remembered: "not verified" is read again at each look, so a record
//! the CLI writes from another process counts at once; a record removed by hand stops
//! counting within [`VERIFIED_RECHECK`].

use super::Engine;
use super::config::{Destination, VerificationMethod};
use crate::model::{ApiError, Environment};
use crate::store::credentials::write_atomic;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a challenge answer read: an echo of a UUID needs far less.
pub const VERIFY_BODY_LIMIT: usize = 64 * 1024;

/// Why a destination could not be verified; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("destination \"{0}\" has no URL to verify")]
    NoUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "{url} answered HTTP {status} to the challenge; it must answer 200 with the challenge in its body"
    )]
    Status { url: String, status: u16 },
    #[error("{url} answered 200 but its body does not contain the challenge {challenge}")]
    NoChallenge { url: String, challenge: String },
    #[error("cannot record the verification: {0}")]
    Record(#[source] std::io::Error),
}

/// Push delivery is held for an unverified destination outside Development.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "delivery to \"{name}\" ({environment}) is held: the destination is not verified. Run \
     `switchboard destinations verify \"{name}\"`, or set verified = true in its config."
)]
pub struct Unverified {
    pub name: String,
    pub environment: Environment,
}

/// How long a destination found verified on disk counts as verified before its record
/// is read again.
pub const VERIFIED_RECHECK: Duration = Duration::from_secs(10);

/// Destinations found verified on disk, and when (see the module documentation).
#[derive(Default)]
pub(crate) struct Verified(Mutex<HashMap<Uuid, Instant>>);

impl Verified {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Instant>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, destination: Uuid) -> bool {
        self.lock()
            .get(&destination)
            .is_some_and(|at| at.elapsed() < VERIFIED_RECHECK)
    }

    fn note(&self, destination: Uuid, verified: bool) {
        let mut seen = self.lock();
        if verified {
            seen.insert(destination, Instant::now());
        } else {
            seen.remove(&destination);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub destination_id: Uuid,
    /// Verification holds for this URL only; changing the URL needs a new one.
    pub url: String,
    #[serde(with = "crate::model::log::utc_millis")]
    pub verified_at: DateTime<Utc>,
}

/// Where verification records are kept: a small file per destination under the data
/// directory, or, on nodes sharing a PostgreSQL store, among its shared records (so a
/// destination verified through one node is verified on all).
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
    shared: Option<crate::store::postgres::records::Reach>,
}

/// The kind of verification records among the shared records.
const SHARED_KIND: &str = "verification";

impl Records {
    pub fn new(data_dir: &Path, shared: Option<crate::store::postgres::records::Reach>) -> Self {
        Records {
            dir: data_dir.join("verifications"),
            shared,
        }
    }

    fn path(&self, destination: Uuid) -> PathBuf {
        self.dir.join(format!("{destination}.json"))
    }

    fn read(&self, destination: Uuid) -> Option<Vec<u8>> {
        match &self.shared {
            Some(reach) => match reach.get(SHARED_KIND, &destination.to_string()) {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a verification record");
                    None
                }
            },
            None => std::fs::read(self.path(destination)).ok(),
        }
    }

    /// The record kept for `destination`, whichever URL it was for.
    pub fn stored(&self, destination: Uuid) -> Option<Verification> {
        serde_json::from_slice(&self.read(destination)?).ok()
    }

    fn write(&self, destination: Uuid, bytes: &[u8]) -> std::io::Result<()> {
        match &self.shared {
            Some(reach) => reach
                .put(SHARED_KIND, &destination.to_string(), bytes)
                .map_err(std::io::Error::other),
            None => write_atomic(&self.path(destination), bytes),
        }
    }
}

/// The stored verification of a destination, if it is for its current URL.
pub fn recorded(records: &Records, destination: &Destination) -> Option<Verification> {
    let v = records.stored(destination.id)?;
    (Some(v.url.as_str()) == destination.url.as_deref()).then_some(v)
}

/// Sends the challenge and, when the destination echoes it, records it as verified.
pub async fn verify_endpoint(
    records: &Records,
    destination: &Destination,
) -> Result<Verification, VerifyError> {
    let url = destination
        .url
        .as_deref()
        .ok_or_else(|| VerifyError::NoUrl(destination.name.clone()))?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(VERIFY_TIMEOUT)
        .build()
        .map_err(VerifyError::Client)?;
    let challenge = Uuid::new_v4().to_string();
    let request = match destination.verification_method {
        VerificationMethod::Post => client.post(url).json(&serde_json::json!({
            "verification-token": destination.verification_token,
            "challenge": challenge,
        })),
        VerificationMethod::Get => client.get(url).query(&[
            ("challenge", challenge.as_str()),
            (
                "verification-token",
                destination.verification_token.as_str(),
            ),
        ]),
    };
    let response = request.send().await.map_err(|e| VerifyError::Unreachable {
        url: url.to_string(),
        reason: super::http::error_chain(&e),
    })?;
    let status = response.status();
    let read = super::http::read_prefix(response, VERIFY_BODY_LIMIT).await;
    let body = String::from_utf8_lossy(&read.bytes);
    if status != reqwest::StatusCode::OK {
        return Err(VerifyError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    if !body.contains(&challenge) {
        return Err(VerifyError::NoChallenge {
            url: url.to_string(),
            challenge,
        });
    }
    let verification = Verification {
        destination_id: destination.id,
        url: url.to_string(),
        verified_at: Utc::now(),
    };
    let bytes = serde_json::to_vec_pretty(&verification).unwrap_or_default();
    records
        .write(destination.id, &bytes)
        .map_err(VerifyError::Record)?;
    Ok(verification)
}

impl Engine {
    /// Where this engine keeps verification records (shared with the other nodes when
    /// there are any).
    pub fn verification_records(&self) -> Records {
        Records::new(self.data_dir(), self.credentials.reach().cloned())
    }

    /// Whether a destination is verified: by its config, or by a record on disk for
    /// its current URL (remembered, see [`Verified`]).
    pub fn is_verified(&self, destination: &Destination) -> bool {
        if destination.verified || self.verified.fresh(destination.id) {
            return true;
        }
        let found = recorded(&self.verification_records(), destination).is_some();
        self.verified.note(destination.id, found);
        found
    }

    /// Push delivery to an unverified destination is allowed in Development only.
    pub fn delivery_allowed(&self, destination: &Destination) -> Result<(), Unverified> {
        if destination.environment == Environment::Development || self.is_verified(destination) {
            return Ok(());
        }
        Err(Unverified {
            name: destination.name.clone(),
            environment: destination.environment,
        })
    }

    /// Verifies a destination through the admin API and wakes its queues.
    pub async fn verify_destination(
        &self,
        id: Uuid,
        actor: &str,
    ) -> Result<Verification, ApiError> {
        let destination = self
            .registry()
            .destination(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("There is no destination {id}.")))?;
        let result = verify_endpoint(&self.verification_records(), &destination).await;
        self.audit(
            actor,
            "verify",
            None,
            Some(format!(
                "{}: {}",
                destination.name,
                match &result {
                    Ok(_) => "verified".to_string(),
                    Err(e) => e.to_string(),
                }
            )),
        );
        let verification = result
            .map_err(|e| ApiError::new(422, "verification", "Verification", e.to_string()))?;
        self.verified.note(id, true);
        self.delivery.kick(id);
        Ok(verification)
    }
}
