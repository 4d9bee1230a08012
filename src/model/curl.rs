//! A composed request as a `curl` command, to paste into a ticket or a terminal.
//!
//! The command never holds a secret: the bearer token is a shell variable
//! (`$SWITCHBOARD_API_TOKEN` by default) the reader sets from their own credentials. Every
//! other part is single-quoted for POSIX shells, so a body with quotes, `$`, backticks
//! or newlines reaches curl byte for byte.

use crate::model::catalog::Exchange;

/// The shell variable the command reads the token from: a platform token (from
/// `/auth/authenticate` or `/v2/auth/token`), not the console's admin token
/// (`SWITCHBOARD_TOKEN`), which the platform API does not accept.
pub const TOKEN_VAR: &str = "SWITCHBOARD_API_TOKEN";

/// How to get the token [`TOKEN_VAR`] names, for the notice beside a copied command.
pub const TOKEN_HINT: &str = "token: $SWITCHBOARD_API_TOKEN, a platform token from POST /auth/authenticate or /v2/auth/token";

/// The platform path a composed request goes to: queries to `/query`, the rest to
/// `/endpoint`.
pub fn path_for(exchange: Exchange) -> &'static str {
    match exchange {
        Exchange::Query | Exchange::Response => "/query",
        Exchange::Notification | Exchange::Writeback => "/endpoint",
    }
}

/// `curl` POSTing `body` to `base_url` + `path`, authorized by `$token_var` (a shell
/// variable name; anything else falls back to [`TOKEN_VAR`], so no caller can put a
/// token itself into the command).
pub fn to_curl(base_url: &str, token_var: &str, path: &str, body: &str) -> String {
    to_curl_with(base_url, token_var, path, "application/json", &[], body)
}

/// As [`to_curl`], with the body's `content_type` and `headers` besides (a FHIR search
/// is a form, a FHIR message `application/fhir+json`, both name their source).
pub fn to_curl_with(
    base_url: &str,
    token_var: &str,
    path: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: &str,
) -> String {
    let var = if is_shell_name(token_var) {
        token_var
    } else {
        TOKEN_VAR
    };
    let url = format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let mut extra = String::new();
    for (name, value) in headers {
        extra.push_str(&format!(
            "  -H {} \\\n",
            shell_quote(&format!("{name}: {value}"))
        ));
    }
    format!(
        "curl -sS -X POST {} \\\n  -H \"Authorization: Bearer ${{{var}}}\" \\\n  -H {} \\\n{extra}  --data-binary {}\n",
        shell_quote(&url),
        shell_quote(&format!("Content-Type: {content_type}")),
        shell_quote(body)
    )
}

/// `s` as one POSIX shell word: single-quoted, each `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_reads_well() {
        let cmd = to_curl(
            "http://127.0.0.1:8443/",
            TOKEN_VAR,
            "/endpoint",
            "{\"a\": 1}",
        );
        assert_eq!(
            cmd,
            "curl -sS -X POST 'http://127.0.0.1:8443/endpoint' \\\n  -H \"Authorization: Bearer ${SWITCHBOARD_API_TOKEN}\" \\\n  -H 'Content-Type: application/json' \\\n  --data-binary '{\"a\": 1}'\n"
        );
        assert_eq!(path_for(Exchange::Query), "/query");
        assert_eq!(path_for(Exchange::Writeback), "/endpoint");
    }

    #[test]
    fn no_secret_can_be_smuggled_in_as_the_variable() {
        let cmd = to_curl("http://h", "abc.def-secret", "query", "{}");
        assert!(
            cmd.contains("${SWITCHBOARD_API_TOKEN}") && !cmd.contains("secret"),
            "{cmd}"
        );
        assert!(cmd.contains("'http://h/query'"));
    }

    /// A FHIR search is a form and a message FHIR JSON, each naming its source; a shell
    /// reads the words back as they were built.
    #[test]
    fn fhir_requests_render_with_their_content_type_and_source() {
        use crate::model::Environment;
        use crate::model::fhir::{FhirKind, MESSAGES, request};
        let source = uuid::Uuid::from_u128(9);
        let search = request::build(
            FhirKind::Search("Patient"),
            "Sandbox EHR",
            Some("sandbox-ehr"),
            Environment::Development,
            source,
            "identifier=0000000001\nfamily=O'Brien\n",
        )
        .expect("builds");
        let cmd = to_curl_with(
            "http://h:1/",
            TOKEN_VAR,
            &search.path,
            search.content_type,
            &search.headers,
            &search.body,
        );
        let script = format!(
            "curl() {{ for a in \"$@\"; do printf '%s\\n---\\n' \"$a\"; done; }}\nSWITCHBOARD_API_TOKEN=t\n{cmd}"
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh runs");
        let args = String::from_utf8_lossy(&out.stdout).into_owned();
        let args: Vec<&str> = args.split("\n---\n").collect();
        let source_header = format!("Redox-Source-Id: {source}");
        assert_eq!(
            args,
            vec![
                "-sS",
                "-X",
                "POST",
                "http://h:1/fhir/R4/sandbox-ehr/Development/Patient/_search",
                "-H",
                "Authorization: Bearer t",
                "-H",
                "Content-Type: application/x-www-form-urlencoded",
                "-H",
                source_header.as_str(),
                "--data-binary",
                "identifier=0000000001&family=O%27Brien",
                ""
            ]
        );
        let message = request::build(
            FhirKind::Message(&MESSAGES[0]),
            "Sandbox EHR",
            Some("sandbox-ehr"),
            Environment::Development,
            source,
            "{}",
        )
        .expect("builds");
        let cmd = to_curl_with(
            "http://h",
            TOKEN_VAR,
            &message.path,
            message.content_type,
            &message.headers,
            &message.body,
        );
        assert!(
            cmd.contains(
                "'http://h/fhir/R4/sandbox-ehr/Development/Observation/$observation-create'"
            ) && cmd.contains("-H 'Content-Type: application/fhir+json'"),
            "{cmd}"
        );
    }

    /// The real test of quoting: a shell reads the words back exactly.
    #[test]
    fn a_shell_reads_the_quoted_words_back() {
        let nasty = "{\"n\": \"O'Brien \\\"$HOME\\\" `id` $(id) \\\\ \n tab\t ! * ~ # ;\"}";
        for word in [nasty, "", "'", "''", "plain"] {
            let script = format!("printf %s {}", shell_quote(word));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), word, "{script}");
        }
        // The whole command, with curl replaced by a printer of its arguments.
        let cmd = to_curl("http://h", "TOKEN", "/endpoint", nasty);
        let script = format!(
            "curl() {{ for a in \"$@\"; do printf '%s\\n---\\n' \"$a\"; done; }}\nTOKEN=t0k\n{cmd}"
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh runs");
        let args = String::from_utf8_lossy(&out.stdout).into_owned();
        let args: Vec<&str> = args.split("\n---\n").collect();
        assert_eq!(
            args,
            vec![
                "-sS",
                "-X",
                "POST",
                "http://h/endpoint",
                "-H",
                "Authorization: Bearer t0k",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                nasty,
                ""
            ]
        );
    }
}
