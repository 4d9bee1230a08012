//! A destination's `auth` table: how the engine authenticates what it sends there
//! (deliveries and forwarded queries). Secrets are read once, at load, from a file, an
//! environment variable or (discouraged) the config itself; a problem names its line.
//!
//! ```toml
//! [destinations.auth]               # a static header: Authorization: Bearer <value>
//! bearer_file = "acme.token"        # or bearer_env = "ACME_TOKEN", or bearer = "…"
//!
//! [destinations.auth]               # OAuth 2.0 client credentials (RFC 6749 §4.4)
//! token_url = "https://ehr.example/oauth/token"
//! client_id = "switchboard"
//! client_secret_file = "acme.secret"   # or client_secret_env, or client_secret
//! scope = "redox.write"                # optional
//! client_auth = "basic"                # default; "body" sends id and secret in the form
//! ```

use serde::Deserialize;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// A value that must not be shown: its `Debug` says only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How the engine authenticates to one destination.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundAuth {
    /// `Authorization: Bearer <value>` on every request.
    Bearer(Secret),
    /// A token from the destination's token endpoint, cached until shortly before it
    /// expires (see `engine::outbound_auth`).
    ClientCredentials(ClientCredentials),
}

impl OutboundAuth {
    /// The kind, as `connections` shows it (never the secret).
    pub fn kind(&self) -> &'static str {
        match self {
            OutboundAuth::Bearer(_) => "bearer",
            OutboundAuth::ClientCredentials(_) => "oauth-client-credentials",
        }
    }
}

/// `connections --json` shows a destination's auth as its kind (see [`OutboundAuth::kind`]).
pub(super) fn serialize_kind<S: serde::Serializer>(
    auth: &Option<OutboundAuth>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&auth.as_ref().map(OutboundAuth::kind), serializer)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scope: Option<String>,
    pub client_auth: ClientAuth,
}

/// Where the client ID and secret go in the token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// HTTP Basic, form-encoded first (RFC 6749 §2.3.1): what servers must support.
    Basic,
    /// `client_id` and `client_secret` form fields, for servers that want them there.
    Body,
}

/// The `auth` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    bearer: Option<Spanned<String>>,
    bearer_file: Option<Spanned<String>>,
    bearer_env: Option<Spanned<String>>,
    token_url: Option<Spanned<String>>,
    client_id: Option<Spanned<String>>,
    client_secret: Option<Spanned<String>>,
    client_secret_file: Option<Spanned<String>>,
    client_secret_env: Option<Spanned<String>>,
    scope: Option<String>,
    client_auth: Option<ClientAuth>,
}

/// Checks `raw` (relative files are under `base`, the config file's directory); each
/// problem goes to `problem` with the span it is about. `None` when it has problems.
pub(super) fn check(
    raw: &Spanned<RawAuth>,
    base: &Path,
    mut problem: impl FnMut(Range<usize>, String),
) -> Option<OutboundAuth> {
    let table = raw.get_ref();
    let bearer = [&table.bearer, &table.bearer_file, &table.bearer_env];
    let oauth = table.token_url.is_some() || table.client_id.is_some();
    match (bearer.iter().any(|b| b.is_some()), oauth) {
        (true, true) => {
            problem(
                raw.span(),
                "auth has both a bearer value and OAuth client credentials: keep one".into(),
            );
            None
        }
        (false, false) => {
            problem(
                raw.span(),
                "auth is empty: set bearer_file (or bearer_env, bearer) for a static token, \
                 or token_url, client_id and client_secret_file for OAuth client credentials"
                    .into(),
            );
            None
        }
        (true, false) => {
            let value = secret(
                "bearer",
                [&table.bearer, &table.bearer_file, &table.bearer_env],
                raw.span(),
                base,
                &mut problem,
            )?;
            if reqwest::header::HeaderValue::from_str(value.expose().trim()).is_err() {
                problem(
                    raw.span(),
                    "the bearer value has characters an HTTP header cannot carry (a line \
                     break inside it?): check the value"
                        .into(),
                );
                return None;
            }
            Some(OutboundAuth::Bearer(value))
        }
        (false, true) => client_credentials(raw, base, &mut problem),
    }
}

fn client_credentials(
    raw: &Spanned<RawAuth>,
    base: &Path,
    problem: &mut impl FnMut(Range<usize>, String),
) -> Option<OutboundAuth> {
    let table = raw.get_ref();
    let token_url = match &table.token_url {
        None => {
            problem(raw.span(), "auth has client_id but no token_url".into());
            None
        }
        Some(url) => {
            let ok = reqwest::Url::parse(url.get_ref().trim())
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                problem(
                    url.span(),
                    format!("token_url \"{}\" is not an http(s) URL", url.get_ref()),
                );
            }
            ok.then(|| url.get_ref().trim().to_string())
        }
    };
    let client_id = match &table.client_id {
        Some(id) if !id.get_ref().trim().is_empty() => Some(id.get_ref().trim().to_string()),
        Some(id) => {
            problem(id.span(), "client_id is empty".into());
            None
        }
        None => {
            problem(raw.span(), "auth has token_url but no client_id".into());
            None
        }
    };
    let client_secret = secret(
        "client_secret",
        [
            &table.client_secret,
            &table.client_secret_file,
            &table.client_secret_env,
        ],
        raw.span(),
        base,
        problem,
    );
    Some(OutboundAuth::ClientCredentials(ClientCredentials {
        token_url: token_url?,
        client_id: client_id?,
        client_secret: client_secret?,
        scope: table.scope.clone().filter(|s| !s.trim().is_empty()),
        client_auth: table.client_auth.unwrap_or(ClientAuth::Basic),
    }))
}

/// Exactly one of `<name>`, `<name>_file`, `<name>_env`, read. Whitespace around a
/// file's secret is not part of it (editors and `echo` add line breaks); a file with
/// more than one line holds more than the secret, which no header could carry.
fn secret(
    name: &str,
    [inline, file, env]: [&Option<Spanned<String>>; 3],
    table: Range<usize>,
    base: &Path,
    problem: &mut impl FnMut(Range<usize>, String),
) -> Option<Secret> {
    let given = [inline, file, env].iter().filter(|v| v.is_some()).count();
    if given != 1 {
        let what = if given == 0 { "no" } else { "more than one" };
        problem(
            table,
            format!("auth has {what} {name}: set exactly one of {name}_file, {name}_env or {name}"),
        );
        return None;
    }
    let value = if let Some(v) = inline {
        Ok(v.get_ref().clone())
    } else if let Some(path) = file {
        let full = base.join(path.get_ref());
        match std::fs::read_to_string(&full) {
            Ok(text) if text.trim().lines().count() > 1 => Err((
                path.span(),
                format!(
                    "{name}_file {} holds {} lines: it must hold the {name} alone, on one line",
                    full.display(),
                    text.trim().lines().count()
                ),
            )),
            Ok(text) => Ok(text.trim().to_string()),
            Err(e) => Err((
                path.span(),
                format!("cannot read {name}_file {}: {e}", full.display()),
            )),
        }
    } else if let Some(var) = env {
        std::env::var(var.get_ref()).map_err(|_| {
            (
                var.span(),
                format!(
                    "{name}_env names {}, which is not set (or not UTF-8) in the engine's environment",
                    var.get_ref()
                ),
            )
        })
    } else {
        return None;
    };
    match value {
        Ok(v) if v.trim().is_empty() => {
            problem(table, format!("auth's {name} is empty"));
            None
        }
        Ok(v) => Some(Secret(v)),
        Err((span, message)) => {
            problem(span, message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn parse(auth: &str, dir: &Path) -> Result<Config, String> {
        let text = format!(
            "[[destinations]]\nname = \"Acme\"\nenvironment = \"staging\"\n\
             url = \"http://127.0.0.1:9/\"\nverification_token = \"t\"\n\n\
             [destinations.auth]\n{auth}"
        );
        Config::parse(&text, &dir.join("config.toml"), &dir.join("data")).map_err(|e| e.to_string())
    }

    fn auth_of(config: &Config) -> Option<OutboundAuth> {
        config
            .registry
            .destination_named("Acme")
            .and_then(|d| d.outbound_auth.clone())
    }

    #[test]
    fn bearer_from_a_file_relative_to_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("acme.token"), "s3cret\n").expect("write");
        let config = parse("bearer_file = \"acme.token\"\n", dir.path()).expect("valid");
        assert_eq!(
            auth_of(&config),
            Some(OutboundAuth::Bearer(Secret("s3cret".into())))
        );
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "Debug shows the secret"
        );
    }

    /// Issue 18, point 11: a secret file wrapped in blank lines and spaces is the
    /// secret; one with more than the secret is refused with what is wrong.
    #[test]
    fn secret_files_are_trimmed_and_hold_the_secret_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("acme.token"), "\n  s3cret \r\n\n").expect("write");
        let config = parse("bearer_file = \"acme.token\"\n", dir.path()).expect("valid");
        assert_eq!(
            auth_of(&config),
            Some(OutboundAuth::Bearer(Secret("s3cret".into())))
        );
        std::fs::write(dir.path().join("acme.token"), "token:\ns3cret\n").expect("write");
        let e = parse("bearer_file = \"acme.token\"\n", dir.path()).expect_err("two lines");
        assert!(
            e.contains("holds 2 lines: it must hold the bearer alone"),
            "{e}"
        );
    }

    #[test]
    fn an_inline_table_works_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "[[destinations]]\nname = \"Acme\"\nenvironment = \"staging\"\n\
                    url = \"http://127.0.0.1:9/\"\nverification_token = \"t\"\n\
                    auth = { bearer = \"inline\" }\n";
        let config =
            Config::parse(text, &dir.path().join("config.toml"), dir.path()).expect("valid");
        assert_eq!(
            auth_of(&config).map(|a| a.kind()),
            Some("bearer"),
            "{config:?}"
        );
    }

    #[test]
    fn client_credentials_with_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = parse(
            "token_url = \"http://127.0.0.1:9/token\"\nclient_id = \"me\"\nclient_secret = \"x\"\n",
            dir.path(),
        )
        .expect("valid");
        let Some(OutboundAuth::ClientCredentials(c)) = auth_of(&config) else {
            panic!("not client credentials");
        };
        assert_eq!(c.client_auth, ClientAuth::Basic);
        assert_eq!(c.scope, None);
    }

    #[test]
    fn problems_name_the_line_and_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = parse("bearer_file = \"missing.token\"\n", dir.path()).expect_err("refused");
        assert!(err.contains("line 8: cannot read bearer_file"), "{err}");
        let err = parse("\n", dir.path()).expect_err("refused");
        assert!(
            err.contains("line 7: auth is empty: set bearer_file"),
            "{err}"
        );
        let err = parse("bearer = \"a\"\nbearer_env = \"B\"\n", dir.path()).expect_err("refused");
        assert!(err.contains("more than one bearer"), "{err}");
        let err = parse("token_url = \"ftp://x/\"\nclient_id = \"me\"\n", dir.path())
            .expect_err("refused");
        assert!(
            err.contains("line 8: token_url \"ftp://x/\" is not an http(s) URL"),
            "{err}"
        );
        assert!(err.contains("no client_secret"), "{err}");
        let err = parse("bearer = \"a\"\nclient_id = \"me\"\n", dir.path()).expect_err("refused");
        assert!(err.contains("keep one"), "{err}");
        let err = parse(
            "bearer_env = \"SWITCHBOARD_TEST_UNSET_VARIABLE\"\n",
            dir.path(),
        )
        .expect_err("refused");
        assert!(
            err.contains("line 8: bearer_env names SWITCHBOARD_TEST_UNSET_VARIABLE"),
            "{err}"
        );
    }
}
