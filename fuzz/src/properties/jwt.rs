//! The JWT flow's token request (`/v2/auth/token`) up to the signature check: the form,
//! its fixed parameters, the assertion's header (the algorithm and `kid`) and the
//! untrusted peek at its claims that names the client. Input: one byte choosing the
//! mode, then
//! - mode 0: the form body;
//! - mode 1: the assertion itself;
//! - mode 2: header, claims and signature bytes split by 0xFF, each base64url-encoded
//!   into an assertion (so the fuzzer reaches the JSON inside), then sent in a form.
//!
//! Refusals are RFC 6749's: 400 `invalid_request`/`unsupported_grant_type` for the form,
//! 401 `invalid_client` for the assertion, each with a description. An accepted header
//! is RS384, ES384 or HS384, and its `alg` is what the peek reads. A well-formed form
//! gives back its assertion; a part that is a JSON object is peeked as that object.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use switchboard::engine::oauth::{ASSERTION_TYPE, OAuthError, claimed_client};
use switchboard::fuzzing::{assertion_header, assertion_of, peek_part, token_request};

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => form(rest),
        1 => header(&String::from_utf8_lossy(rest)),
        _ => parts(rest),
    }
}

fn refusal(e: &OAuthError, statuses: &[(u16, &str)]) {
    assert!(
        statuses.contains(&(e.status, e.error)),
        "refused as {} {}, expected one of {statuses:?}",
        e.status,
        e.error
    );
    assert!(
        !e.description.trim().is_empty(),
        "a refusal that says nothing"
    );
    let body = e.body();
    assert!(body["error"].is_string() && body["error_description"].is_string());
}

fn form(body: &[u8]) {
    let request = match token_request(body) {
        Ok(request) => request,
        Err(e) => return refusal(&e, &[(400, "invalid_request")]),
    };
    let claimed = claimed_client(&request);
    if let Some(id) = request
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        assert_eq!(
            claimed.as_deref(),
            Some(id),
            "the login limit counts another client"
        );
    }
    match assertion_of(&request) {
        Ok(assertion) => {
            assert!(!assertion.is_empty() && assertion.trim() == assertion);
            header(assertion);
        }
        Err(e) => refusal(
            &e,
            &[(400, "invalid_request"), (400, "unsupported_grant_type")],
        ),
    }
}

fn header(assertion: &str) {
    let _ = peek_part(assertion, 1);
    match assertion_header(assertion) {
        Ok((alg, _kid)) => {
            assert!(
                ["RS384", "ES384", "HS384"].contains(&alg.as_str()),
                "accepted alg {alg}"
            );
            assert_eq!(assertion.split('.').count(), 3);
            let peeked = peek_part(assertion, 0).expect("an accepted header peeks");
            assert_eq!(
                peeked.get("alg").and_then(Value::as_str),
                Some(alg.as_str())
            );
        }
        Err(e) => refusal(&e, &[(401, "invalid_client")]),
    }
}

fn parts(rest: &[u8]) {
    let mut split = rest.splitn(3, |&b| b == 0xFF);
    let (head, claims, signature) = (
        split.next().unwrap_or_default(),
        split.next().unwrap_or_default(),
        split.next().unwrap_or_default(),
    );
    let assertion = [head, claims, signature]
        .map(|part| URL_SAFE_NO_PAD.encode(part))
        .join(".");
    for (i, part) in [head, claims].into_iter().enumerate() {
        if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(part) {
            assert_eq!(
                peek_part(&assertion, i),
                Some(object),
                "part {i} peeked otherwise"
            );
        }
    }
    let body = serde_urlencoded::to_string([
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ])
    .expect("string pairs encode");
    let request = token_request(body.as_bytes()).expect("a well-formed form reads");
    assert_eq!(assertion_of(&request).ok(), Some(assertion.as_str()));
    header(&assertion);
    form(body.as_bytes());
}
