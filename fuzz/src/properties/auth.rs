//! The legacy login bodies (`/auth/authenticate`, `/auth/refreshToken`), JSON or
//! form-encoded. Input: one byte choosing the Content-Type header (none, a form's, with
//! parameters, JSON's, another), then the body.
//!
//! Refused: a 400 in the platform's shape, from the Authentication module. Read: the
//! two fields, and the same two fields sent back as JSON, as a declared form and as an
//! undeclared form read the same again.

use switchboard::fuzzing::{authenticate_body, refresh_body};
use switchboard::model::ApiError;

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/x-www-form-urlencoded"),
    Some("Application/X-WWW-Form-Urlencoded ; charset=UTF-8"),
    Some("application/json"),
    Some("text/plain"),
];

type Reader = fn(Option<&str>, &[u8]) -> Result<(String, String), ApiError>;

pub fn check(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let readers: [(Reader, &str); 2] = [
        (authenticate_body, "secret"),
        (refresh_body, "refreshToken"),
    ];
    for (read, second) in readers {
        match read(content, body) {
            Ok(fields) => read_back(read, second, &fields),
            Err(e) => {
                super::assert_platform_error(&e, body);
                assert_eq!(e.status, 400);
                assert_eq!(e.entries[0].module, "Authentication");
            }
        }
    }
}

fn read_back(read: Reader, second: &str, (key, value): &(String, String)) {
    let pairs = [("apiKey", key.as_str()), (second, value.as_str())];
    let json = serde_json::json!({"apiKey": key, second: value}).to_string();
    let form = serde_urlencoded::to_string(pairs).expect("two string pairs encode");
    for (content, body) in [
        (Some("application/json"), json.as_str()),
        (Some("application/x-www-form-urlencoded"), form.as_str()),
        (None, form.as_str()),
    ] {
        match read(content, body.as_bytes()) {
            Ok(again) => assert_eq!(&again, &(key.clone(), value.clone()), "{body:?}"),
            Err(e) => panic!("{body:?} ({content:?}) holds the fields just read, refused: {e}"),
        }
    }
}
