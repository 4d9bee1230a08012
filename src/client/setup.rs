//! What a user gives to reach an engine, checked before the first request so that a
//! mistake is named as what it is: the engine's URL (a bare `host:port` is taken as
//! `http://`), the admin token (trimmed; a file must hold the token alone), and the
//! first answer (a server that is not an engine, TLS spoken to plain HTTP, a certificate
//! not trusted); and a CA to trust for an engine serving HTTPS (`--ca FILE`).

use super::ClientError;
use std::path::Path;

/// A mistake in what was given to reach an engine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupError {
    #[error(
        "\"{given}\" is not an engine URL ({reason}): give the address `switchboard serve` prints, e.g. http://127.0.0.1:8443"
    )]
    Url { given: String, reason: String },
    #[error("cannot read the token file {path}: {reason}")]
    TokenFileUnreadable { path: String, reason: String },
    #[error(
        "the token file {path} is empty: it must hold an admin token alone (`switchboard tokens create --role ROLE --name NAME --out {path}` writes one)"
    )]
    TokenFileEmpty { path: String },
    #[error(
        "the token file {path} holds {lines} lines: it must hold the admin token alone, on one line (`switchboard tokens create --role ROLE --name NAME --out FILE` writes it so)"
    )]
    TokenFileLines { path: String, lines: usize },
    #[error(
        "the token {origin} contains characters a header cannot carry ({what}): it must be the admin token alone, as `switchboard tokens create` printed it"
    )]
    TokenCharacters { origin: String, what: String },
    #[error(
        "the admin token {origin} is empty: give one from `switchboard tokens create --role ROLE --name NAME`"
    )]
    TokenEmpty { origin: String },
    #[error(
        "cannot use {path} as the CA for --ca: {reason}; give the PEM file of the certificate authority that issued the engine's certificate"
    )]
    CaFile { path: String, reason: String },
}

/// Certificate authorities to trust beside the system's (`--ca FILE`): for an engine
/// whose certificate a private CA issued.
#[derive(Debug, Clone)]
pub struct Ca(Vec<reqwest::Certificate>);

impl Ca {
    /// Adds these authorities to a client's trusted roots.
    pub fn trust(&self, mut builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        for cert in &self.0 {
            builder = builder.add_root_certificate(cert.clone());
        }
        builder
    }

    /// The authorities themselves, for a client built elsewhere (the simulator's).
    pub fn certificates(&self) -> &[reqwest::Certificate] {
        &self.0
    }
}

/// The PEM certificates in `path` (one or more), checked now so a wrong file is named
/// rather than failing later as an engine that cannot be reached.
pub fn ca_file(path: &Path) -> Result<Ca, SetupError> {
    let bad = |reason: String| SetupError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(
            "it holds no \"-----BEGIN CERTIFICATE-----\" block".to_string()
        ));
    }
    Ok(Ca(certs))
}

/// The engine's base URL from what a user typed: `127.0.0.1:8443` and
/// `localhost:8443` mean `http://…` (the engine serves plain HTTP); a trailing `/` is
/// dropped. Only http and https are engines' schemes.
pub fn engine_url(given: &str) -> Result<String, SetupError> {
    let trimmed = given.trim();
    let bad = |reason: &str| SetupError::Url {
        given: given.to_string(),
        reason: reason.to_string(),
    };
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    // Without "://", `localhost:8443` would parse as the scheme "localhost".
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("http://{trimmed}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(&format!(
            "the scheme is {}, not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an engine's URL has no ?query or #fragment"));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

/// The token as it will be sent, checked: surrounding whitespace dropped, and nothing
/// a header cannot carry (or a token never holds) left inside. `origin` says where it
/// came from, for the message ("given with --token", "in FILE").
pub fn admin_token(token: &str, origin: &str) -> Result<String, SetupError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(SetupError::TokenEmpty {
            origin: origin.to_string(),
        });
    }
    let what = if token.contains(['\r', '\n']) {
        Some("a line break")
    } else if token.chars().any(char::is_whitespace) {
        Some("a space")
    } else if token.chars().any(|c| c.is_control() || !c.is_ascii()) {
        Some("a control or non-ASCII character")
    } else {
        None
    };
    match what {
        Some(what) => Err(SetupError::TokenCharacters {
            origin: origin.to_string(),
            what: what.to_string(),
        }),
        None => Ok(token.to_string()),
    }
}

/// The admin token in `path`: the file's text trimmed (editors and `echo` add line
/// breaks); a file with more than the token says so rather than fail as a header.
pub fn token_file(path: &Path) -> Result<String, SetupError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SetupError::TokenFileUnreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let lines = text.trim().lines().count();
    if lines == 0 {
        return Err(SetupError::TokenFileEmpty { path: shown });
    }
    if lines > 1 {
        return Err(SetupError::TokenFileLines { path: shown, lines });
    }
    admin_token(&text, &format!("in {shown}"))
}

/// What the first failed request to `url` means when it is not the engine's own
/// refusal: a server that answers but has no admin API is not an engine (or the URL
/// has a path), and a TLS handshake that fails is likely https spoken to plain HTTP.
pub fn explain_first_contact(url: &str, error: ClientError) -> ClientError {
    const STATUS: &str = "/admin/v1/status";
    match error {
        ClientError::Refused { status: 404, .. }
            if reqwest::Url::parse(url).is_ok_and(|u| u.path() != "/") =>
        {
            ClientError::Setup(format!(
                "{url} has a path, and the engine has no admin API under it ({STATUS} answered 404): --engine takes the engine's base URL as `switchboard serve` prints it, e.g. http://127.0.0.1:8443"
            ))
        }
        ClientError::Refused { status: 404, .. } | ClientError::Decode(_) => {
            ClientError::Setup(format!(
                "{url} is not a switchboard engine: it has no admin API ({STATUS} {}). --engine takes the engine's base URL as `switchboard serve` prints it, e.g. http://127.0.0.1:8443, with no path",
                match &error {
                    ClientError::Refused { .. } => "answered 404".to_string(),
                    _ => format!("answered with {error}"),
                }
            ))
        }
        ClientError::Unreachable { url: at, reason }
            if at.starts_with("https://")
                && [
                    "corrupt message",
                    "InvalidContentType",
                    "wrong version number",
                ]
                .iter()
                .any(|sign| reason.contains(sign)) =>
        {
            let plain = at.replacen("https://", "http://", 1);
            ClientError::Unreachable {
                url: at,
                reason: format!(
                    "the TLS handshake failed ({reason}); the engine serves plain HTTP unless started with --tls-cert or behind a TLS proxy: try {plain}"
                ),
            }
        }
        ClientError::Unreachable { url: at, reason }
            if at.starts_with("https://")
                && [
                    "UnknownIssuer",
                    "invalid peer certificate",
                    "NotValidForName",
                ]
                .iter()
                .any(|sign| reason.contains(sign)) =>
        {
            ClientError::Unreachable {
                url: at,
                reason: format!(
                    "the engine's certificate is not trusted ({reason}); if a private CA issued it, give that CA's PEM file with --ca FILE, and reach the engine by a name its certificate holds"
                ),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_scheme_is_http() {
        assert_eq!(
            engine_url("127.0.0.1:8443").as_deref(),
            Ok("http://127.0.0.1:8443")
        );
        assert_eq!(
            engine_url(" localhost:8443/ ").as_deref(),
            Ok("http://localhost:8443")
        );
        assert_eq!(
            engine_url("https://engine.example:443").as_deref(),
            Ok("https://engine.example:443")
        );
        assert_eq!(
            engine_url("http://[::1]:8443").as_deref(),
            Ok("http://[::1]:8443")
        );
        for bad in ["", "ftp://host:21", "http://[::1", "http://host:8443/?x=1"] {
            let e = engine_url(bad).expect_err(bad).to_string();
            assert!(e.contains("is not an engine URL"), "{bad}: {e}");
            assert!(e.contains("http://127.0.0.1:8443"), "{bad}: {e}");
        }
    }

    #[test]
    fn tokens_are_trimmed_and_checked() {
        assert_eq!(
            admin_token("\n  sbt_abc_def \n\n", "given").as_deref(),
            Ok("sbt_abc_def")
        );
        let e = admin_token("sbt_abc def", "given with --token").expect_err("space");
        assert!(
            e.to_string().contains(
                "the token given with --token contains characters a header cannot carry (a space)"
            ),
            "{e}"
        );
        let e = admin_token("sbt_\u{7}abc", "given").expect_err("bell");
        assert!(e.to_string().contains("control"), "{e}");
        assert!(matches!(
            admin_token("  ", "given"),
            Err(SetupError::TokenEmpty { .. })
        ));
    }

    #[test]
    fn token_files_hold_the_token_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "\n\n  sbt_1_2  \n\n").expect("write");
        assert_eq!(token_file(&file).as_deref(), Ok("sbt_1_2"));
        std::fs::write(&file, "Admin token \"me\"\n  sbt_1_2\nIt expires…\n").expect("write");
        let e = token_file(&file).expect_err("three lines").to_string();
        assert!(e.contains("holds 3 lines"), "{e}");
        assert!(e.contains("--out FILE"), "{e}");
        std::fs::write(&file, " \n").expect("write");
        assert!(matches!(
            token_file(&file),
            Err(SetupError::TokenFileEmpty { .. })
        ));
        let e = token_file(&dir.path().join("absent")).expect_err("absent");
        assert!(
            e.to_string().starts_with("cannot read the token file"),
            "{e}"
        );
    }

    #[test]
    fn a_server_without_the_admin_api_is_not_an_engine() {
        let e = explain_first_contact(
            "http://127.0.0.1:9",
            ClientError::Refused {
                status: 404,
                text: "<html>".into(),
            },
        );
        assert!(
            e.to_string()
                .starts_with("http://127.0.0.1:9 is not a switchboard engine"),
            "{e}"
        );
        let e = explain_first_contact(
            "https://127.0.0.1:9",
            ClientError::Unreachable {
                url: "https://127.0.0.1:9".into(),
                reason: "received corrupt message of type InvalidContentType".into(),
            },
        );
        assert!(e.to_string().contains("try http://127.0.0.1:9"), "{e}");
        let e = explain_first_contact(
            "http://127.0.0.1:9/admin",
            ClientError::Refused {
                status: 404,
                text: "There is no route".into(),
            },
        );
        assert!(e.to_string().contains("has a path"), "{e}");
        let refused = ClientError::Refused {
            status: 401,
            text: "not an admin token".into(),
        };
        assert_eq!(explain_first_contact("x", refused.clone()), refused);
    }
}
