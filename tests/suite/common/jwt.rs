//! Keys and assertions for the JWT flow's tests: RSA keys made by the `openssl` command
//! line, JWKS files, and assertions signed with `jsonwebtoken`, as a client would.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use uuid::Uuid;

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command line tool");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A client's key pair: how the test signs, and the public JWK it registers.
pub struct KeyPair {
    pub signing: EncodingKey,
    pub jwk: Value,
    /// The public key as PEM text: what an alg-confusion attacker signs HS384 with.
    pub public_pem: Vec<u8>,
}

/// An RSA key made with openssl, as README's example does.
pub fn rsa_key(dir: &Path, kid: &str) -> KeyPair {
    let pem = dir.join(format!("{kid}.pem"));
    let pem = pem.to_str().expect("path");
    openssl(&["genrsa", "-out", pem, "2048"]);
    let der = openssl(&["rsa", "-in", pem, "-outform", "DER", "-traditional"]);
    let modulus =
        String::from_utf8(openssl(&["rsa", "-in", pem, "-noout", "-modulus"])).expect("text");
    let hex = modulus.trim().trim_start_matches("Modulus=");
    let n: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    KeyPair {
        signing: EncodingKey::from_rsa_der(&der),
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS384",
                    "n": b64(&n), "e": "AQAB"}),
        public_pem: openssl(&["rsa", "-in", pem, "-pubout"]),
    }
}

pub fn jwks_file(dir: &Path, keys: &[&KeyPair]) -> std::path::PathBuf {
    let path = dir.join("jwks.json");
    let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    std::fs::write(&path, doc.to_string()).expect("write jwks");
    path
}

/// The claims a careful client signs: iss = sub = client, aud, 4 minutes, a fresh jti.
pub fn claims(client_id: &str, aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 240,
           "jti": Uuid::new_v4().to_string()})
}

pub fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}
