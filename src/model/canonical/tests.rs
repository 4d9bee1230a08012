use super::*;
use proptest::prelude::*;
use serde_json::Value;

fn accepts(text: &str) -> bool {
    object_members(text.as_bytes(), &|_| true).is_some()
}

/// What the splice relies on: whatever is accepted, the parser and writer give back
/// unchanged.
fn round_trips(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| serde_json::to_vec(&v).ok())
        .is_some_and(|written| written == bytes)
}

#[test]
fn the_writers_own_form_is_accepted_with_its_members() {
    let text = r#"{"Meta":{"DataModel":"PatientSearch","Logs":[]},"Patient":{"B":1,"A":[true,false,null,-12,"x\"y\\z\n"]},"E":{}}"#;
    let members = object_members(text.as_bytes(), &|_| true).expect("accepted");
    let keys: Vec<&str> = members.iter().map(|m| &text[m.key.clone()]).collect();
    assert_eq!(keys, ["Meta", "Patient", "E"]);
    assert_eq!(
        &text[members[0].value.clone()],
        r#"{"DataModel":"PatientSearch","Logs":[]}"#
    );
    let inner = members_within(text.as_bytes(), members[0].value.clone()).expect("meta");
    assert_eq!(&text[inner[1].key.clone()], "Logs");
    assert_eq!(&text[inner[1].value.clone()], "[]");
    assert!(round_trips(text.as_bytes()));
}

#[test]
fn what_the_writer_would_change_is_refused() {
    for text in [
        r#"{ "Meta":{}}"#,                 // whitespace
        r#"{"Meta":{}} "#,                 // trailing whitespace
        r#"{"Meta":{}}{}"#,                // two values
        r#"{"A":1.0}"#,                    // fraction
        r#"{"A":1e3}"#,                    // exponent
        r#"{"A":-0}"#,                     // read as a float
        r#"{"A":1234567890123456789012}"#, // past u64
        r#"{"A":"\u00e9"}"#,               // \u escape
        r#"{"A":"a\/b"}"#,                 // \/ escape
        r#"{"A":1,"A":2}"#,                // duplicate key
        r#"{"A\n":1}"#,                    // escaped key
        r#"["Meta"]"#,                     // not an object
        r#"{"A":tru}"#,                    // not JSON
        r#"{"A":"x"#,                      // cut off
        "{\"A\":\"tab\there\"}",           // raw control character
        "",
    ] {
        assert!(!accepts(text), "{text}");
    }
    assert!(
        object_members(b"{\"A\":\"\xff\"}", &|_| true).is_none(),
        "invalid UTF-8"
    );
    let deep = format!("{{\"A\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    assert!(!accepts(&deep), "past the depth limit");
    let many: Vec<String> = (0..40).map(|i| format!("\"k{}\":{i}", i % 39)).collect();
    assert!(
        !accepts(&format!("{{{}}}", many.join(","))),
        "duplicate among many keys"
    );
}

#[test]
fn timestamps_are_the_callers_to_judge() {
    let text = r#"{"Visit":{"VisitDateTime":"2024-05-01T10:00:00","Other":"2024-05-01T10:00:00"},"A":{"StartDateTime":["x",{"Note":"y"}]}}"#;
    let asked = std::cell::RefCell::new(Vec::new());
    let keep = |t: &str| {
        asked.borrow_mut().push(t.to_string());
        true
    };
    assert!(object_members(text.as_bytes(), &keep).is_some());
    assert_eq!(*asked.borrow(), ["2024-05-01T10:00:00", "x"]);
    assert!(object_members(text.as_bytes(), &|t| t != "x").is_none());
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z\"\\\\\n\t\u{1}\u{7f}é/]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[A-Za-z]{1,3}", inner), 0..5)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Accepted means the writer gives back the same bytes, for the writer's own output,
    /// pretty output, and both with the text changed by a byte.
    #[test]
    fn accepted_texts_round_trip(
        fields in prop::collection::vec(("[A-Za-z]{1,3}", json_value()), 0..6),
        pretty in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        mutate in any::<bool>(),
    ) {
        let value = Value::Object(fields.into_iter().collect());
        let mut bytes = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        if mutate && !bytes.is_empty() {
            let at = cut.index(bytes.len());
            bytes[at] = byte;
        }
        if object_members(&bytes, &|_| true).is_some() {
            prop_assert!(round_trips(&bytes), "{}", String::from_utf8_lossy(&bytes));
        }
    }

    /// The writer's own output without floats or rare escapes is accepted: the fast
    /// path is taken for the common answer.
    #[test]
    fn plain_written_objects_are_accepted(
        fields in prop::collection::vec(("[A-Za-z]{1,3}", "[a-zA-Z0-9 é]{0,12}"), 0..8),
        numbers in prop::collection::vec(-999_999_999i64..999_999_999, 0..4),
    ) {
        let mut map = serde_json::Map::new();
        for (k, v) in fields {
            map.insert(k, Value::String(v));
        }
        map.insert("N".into(), Value::from(numbers));
        let bytes = serde_json::to_vec(&Value::Object(map)).unwrap();
        prop_assert!(object_members(&bytes, &|_| true).is_some());
    }
}
