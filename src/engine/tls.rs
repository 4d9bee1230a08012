//! The engine's TLS certificate and key (`serve --tls-cert/--tls-key`, or `[engine]
//! tls_cert`/`tls_key`): read from PEM files at start, and read again on a reload
//! (SIGHUP, `POST /admin/v1/config/reload`). The server's rustls configuration asks
//! [`Certs`] for the pair on each handshake, so a reload takes effect for new
//! connections without touching those open; a pair that does not load leaves the
//! previous one in force.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// Where the certificate chain and its private key are, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate first, then any intermediates.
    pub cert: PathBuf,
    /// PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read the TLS {what} file {path}: {source}. Check the path and that this user may read it"
    )]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"); give --tls-cert the server certificate, then any intermediates"
    )]
    NoCertificate { path: String },
    #[error(
        "{path} is not a readable PEM certificate chain ({reason}); give --tls-cert the server certificate, then any intermediates"
    )]
    BadCertificate { path: String, reason: String },
    #[error(
        "{path} holds no usable PEM private key ({reason}); give --tls-key the certificate's private key (PKCS#8, RSA or EC), unencrypted"
    )]
    BadKey { path: String, reason: String },
    #[error(
        "the key in {key} does not go with the certificate in {cert} ({reason}); give the pair issued together"
    )]
    Mismatch {
        cert: String,
        key: String,
        reason: String,
    },
}

/// The pair in force, swapped whole by [`Certs::reload`].
pub struct Certs {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

#[derive(Clone)]
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: String,
}

impl std::fmt::Debug for Certs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certs")
            .field("files", &self.files)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl Certs {
    /// Reads the pair; an engine asked for TLS does not start without a good one.
    pub fn open(files: TlsFiles) -> Result<Arc<Certs>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = load(&files, &provider)?;
        Ok(Arc::new(Certs {
            files,
            provider,
            current: RwLock::new(current),
        }))
    }

    /// Reads the files again and puts the new pair in force for new connections; on
    /// any error the previous pair stays. `Ok` says what is in force now.
    pub fn reload(&self) -> Result<String, TlsError> {
        let loaded = load(&self.files, &self.provider)?;
        let fingerprint = loaded.fingerprint.clone();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(fingerprint)
    }

    /// SHA-256 of the server certificate in force (hex), as `openssl x509 -fingerprint
    /// -sha256` shows it without the colons.
    pub fn fingerprint(&self) -> String {
        self.loaded().fingerprint
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    fn loaded(&self) -> Loaded {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The rustls configuration the server hands each accepted connection: HTTP/1.1
    /// only (the engine serves nothing else), the pair chosen per handshake from here.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.loaded().key)
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}

fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<Loaded, TlsError> {
    let (cert_path, key_path) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
    );
    let pem = read("certificate", &files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            path: cert_path.clone(),
            reason: pem_reason(&e),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate { path: cert_path });
    };
    let fingerprint = hex(&Sha256::digest(leaf.as_ref()));
    let key_pem = read("key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::BadKey {
        path: key_path.clone(),
        reason: pem_reason(&e),
    })?;
    let key = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: cert_path.clone(),
            key: key_path.clone(),
            reason: e.to_string(),
        },
        // The certificate did not parse, or the key type is not supported.
        e => TlsError::BadKey {
            path: key_path.clone(),
            reason: e.to_string(),
        },
    })?;
    Ok(Loaded {
        key: Arc::new(key),
        fingerprint,
    })
}

/// A PEM error in words (the parser's own text shows the markers as byte lists).
fn pem_reason(e: &tokio_rustls::rustls::pki_types::pem::Error) -> String {
    use tokio_rustls::rustls::pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "a section has no \"{}\" line",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => format!(
            "a malformed BEGIN line: \"{}\"",
            String::from_utf8_lossy(line)
        ),
        Error::Base64Decode(_) => "the base64 between BEGIN and END is damaged".into(),
        Error::NoItemsFound => "no PEM section of the expected kind".into(),
        other => other.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        let e = Certs::open(files.clone()).expect_err("no files");
        assert!(e.to_string().contains("cert.pem"), "{e}");
        std::fs::write(&files.cert, "not pem").expect("write");
        std::fs::write(&files.key, "not pem").expect("write");
        let e = Certs::open(files).expect_err("no certificate");
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
    }
}
