use super::*;
use crate::model::catalog::Exchange;
use chrono::{TimeZone, Utc};
use proptest::prelude::*;

const LOG_ID: Uuid = Uuid::from_u128(0x0190_0000_aaaa_7bbb_8ccc_0000_0000_1234);
const SOURCE_ID: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_0002);
const DEST_ID: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_0e4e);

/// A Production SEND of PatientAdmin Arrival from "Lab Feed" to "Acme EHR", FAILED.
fn log() -> LogRecord {
    let at = Utc.with_ymd_and_hms(2024, 3, 10, 7, 30, 0).unwrap();
    LogRecord {
        id: LOG_ID,
        request_id: Uuid::from_u128(2),
        attempt_id: Uuid::from_u128(3),
        log_type: LogType::Send,
        status: LogStatus::Failed,
        exchange: Exchange::Notification,
        environment: Environment::Production,
        source_id: SOURCE_ID,
        source_name: "Lab Feed".into(),
        destination_id: DEST_ID,
        destination_name: "Acme EHR".into(),
        data_model: "PatientAdmin".into(),
        event_type: "Arrival".into(),
        test: false,
        created_at: at,
        updated_at: at,
        attempts: 3,
        latency_ms: Some(12.5),
        patient_id: Some("MRN-0042".into()),
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    }
}

fn parse(input: &str) -> Filter {
    match Filter::parse(input) {
        Ok(filter) => filter,
        Err(e) => panic!("{input:?} did not parse: {e} at {}..{}", e.start, e.end),
    }
}

fn hits(input: &str, log: &LogRecord) -> bool {
    parse(input).matches(log)
}

fn err(input: &str) -> FilterError {
    match Filter::parse(input) {
        Ok(filter) => panic!("{input:?} parsed as {filter:?}"),
        Err(e) => e,
    }
}

/// The error's range as the text it covers, with its message.
fn err_at(input: &str) -> (&str, String) {
    let e = err(input);
    (&input[e.start..e.end], e.message)
}

#[test]
fn empty_input_matches_everything() {
    for input in ["", "   ", "\t\n "] {
        let filter = parse(input);
        assert!(filter.is_empty());
        assert_eq!(filter, Filter::default());
        assert_eq!(filter.to_string(), "");
        assert!(filter.matches(&log()));
        assert!(!filter.names_patient());
    }
    assert!(!parse("status:failed").is_empty());
}

#[test]
fn keys_and_aliases_are_case_insensitive() {
    let same = [
        ("status:failed", &["STATUS:FAILED", "Status:Failed"][..]),
        (
            "dm:PatientAdmin",
            &["datamodel:PatientAdmin", "DM:patientadmin"],
        ),
        ("event:Arrival", &["EVENT:Arrival", "Event:Arrival"]),
        ("src:Lab", &["source:Lab", "SRC:Lab"]),
        ("dst:Acme", &["dest:Acme", "destination:Acme", "Dst:Acme"]),
        ("type:send", &["TYPE:SEND", "type:Send"]),
        (
            "env:production",
            &["env:prod", "ENV:Production", "env:PROD"],
        ),
        ("env:development", &["env:dev", "env:Development"]),
        ("env:staging", &["ENV:STAGING"]),
        ("mrn:MRN-0042", &["patient:MRN-0042", "MRN:MRN-0042"]),
    ];
    for (canonical, spellings) in same {
        for spelling in spellings {
            assert_eq!(parse(spelling), parse(canonical), "{spelling}");
            assert_eq!(parse(spelling).to_string(), canonical, "{spelling}");
        }
    }
}

#[test]
fn status_matches_each_value_and_quarantine() {
    let mut log = log();
    for (status, word) in [
        (LogStatus::Pending, "pending"),
        (LogStatus::Succeeded, "Succeeded"),
        (LogStatus::Failed, "FAILED"),
        (LogStatus::Filtered, "filtered"),
    ] {
        log.status = status;
        assert!(hits(&format!("status:{word}"), &log), "{word}");
        let others = ["pending", "succeeded", "failed", "filtered"];
        for other in others.iter().filter(|o| !o.eq_ignore_ascii_case(word)) {
            assert!(!hits(&format!("status:{other}"), &log), "{word} vs {other}");
        }
    }
    log.status = LogStatus::Pending;
    assert!(!hits("status:quarantined", &log));
    log.quarantined = true;
    assert!(hits("status:quarantined", &log));
    assert!(hits("status:QUARANTINED status:pending", &log));
    assert!(!hits("-status:quarantined", &log));
    assert_eq!(
        parse("status:Quarantined").to_string(),
        "status:quarantined"
    );
}

#[test]
fn data_model_accepts_any_case_and_squashed_spelling() {
    let mut log = log();
    assert!(hits("dm:PatientAdmin", &log));
    assert!(hits("dm:patientadmin", &log));
    assert!(hits("dm:\"patient admin\"", &log));
    assert!(!hits("dm:Results", &log));
    log.data_model = "Clinical Summary".into();
    for spelling in [
        "dm:clinicalsummary",
        "dm:\"Clinical Summary\"",
        "datamodel:CLINICAL_SUMMARY",
    ] {
        assert!(hits(spelling, &log), "{spelling}");
        assert_eq!(parse(spelling).to_string(), "dm:\"Clinical Summary\"");
    }
}

#[test]
fn unknown_data_model_is_an_error_with_a_hint() {
    let (at, message) = err_at("status:failed dm:PatientAdmn");
    assert_eq!(at, "dm:PatientAdmn");
    assert_eq!(
        message,
        "data model \"PatientAdmn\" is not known: did you mean \"PatientAdmin\"?"
    );
    let (at, message) = err_at("dm:\"Radiology Things\" x");
    assert_eq!(at, "dm:\"Radiology Things\"");
    assert!(
        message.starts_with("data model \"Radiology Things\" is not known: use one of Claim,"),
        "{message}"
    );
    assert!(message.contains("PatientAdmin"), "{message}");
}

#[test]
fn event_is_exact_in_any_case() {
    let log = log();
    assert!(hits("event:Arrival", &log));
    assert!(hits("event:ARRIVAL", &log));
    assert!(!hits("event:Arr", &log));
    assert!(!hits("event:Discharge", &log));
    // Event types are not checked against the catalog.
    assert_eq!(parse("event:Whatever").to_string(), "event:Whatever");
}

#[test]
fn source_and_destination_by_name_or_id() {
    let log = log();
    assert!(hits("src:\"lab feed\"", &log));
    assert!(hits("source:\"LAB FEED\"", &log));
    assert!(
        !hits("src:Lab", &log),
        "a name is matched whole, not as a substring"
    );
    assert!(
        !hits("src:\"Acme EHR\"", &log),
        "src is not the destination"
    );
    assert!(hits(&format!("src:{SOURCE_ID}"), &log));
    assert!(hits(&format!("src:{}", SOURCE_ID.simple()), &log));
    assert!(!hits(&format!("src:{DEST_ID}"), &log));

    assert!(hits("dst:\"acme ehr\"", &log));
    assert!(hits("dest:\"Acme EHR\"", &log));
    assert!(hits("destination:\"Acme EHR\"", &log));
    assert!(!hits("dst:\"Lab Feed\"", &log));
    assert!(hits(
        &format!("dst:{}", DEST_ID.to_string().to_uppercase()),
        &log
    ));
    assert!(!hits(&format!("dst:{SOURCE_ID}"), &log));

    let mut unicode = log.clone();
    unicode.source_name = "Clínica Ñandú".into();
    assert!(hits("src:\"CLÍNICA ñANDÚ\"", &unicode));
}

#[test]
fn type_env_and_mrn() {
    let mut log = log();
    assert!(hits("type:send", &log));
    assert!(!hits("type:receive", &log));
    for (t, word) in [
        (LogType::Receive, "RECEIVE"),
        (LogType::Request, "request"),
        (LogType::Respond, "Respond"),
    ] {
        log.log_type = t;
        assert!(hits(&format!("type:{word}"), &log), "{word}");
        assert!(!hits("type:send", &log));
    }

    assert!(hits("env:production", &log));
    assert!(!hits("env:staging", &log));
    log.environment = Environment::Development;
    assert!(hits("env:dev", &log));
    assert!(!hits("env:prod", &log));

    assert!(hits("mrn:MRN-0042", &log));
    assert!(hits("patient:MRN-0042", &log));
    assert!(!hits("mrn:mrn-0042", &log), "patient identifiers are exact");
    assert!(!hits("mrn:MRN-004", &log));
    log.patient_id = None;
    assert!(!hits("mrn:MRN-0042", &log));
    assert!(hits("-mrn:MRN-0042", &log));
}

#[test]
fn req_matches_every_log_of_one_request() {
    let log = log();
    let id = log.request_id;
    assert!(hits(&format!("req:{id}"), &log));
    assert!(hits(&format!("request:{}", id.simple()), &log));
    assert!(!hits(&format!("req:{}", uuid::Uuid::nil()), &log));
    let (term, message) = err_at("req:nope");
    assert_eq!(term, "req:nope");
    assert!(message.contains("not a request ID"), "{message}");
    assert_eq!(parse(&format!("req:{id}")).to_string(), format!("req:{id}"));
}

#[test]
fn quoting_holds_spaces_quotes_and_backslashes() {
    let mut log = log();
    log.source_name = "Sandbox Dev Tools".into();
    assert!(hits("src:\"Sandbox Dev Tools\"", &log));

    log.source_name = "The \"Best\" Lab".into();
    let filter = parse(r#"src:"The \"Best\" Lab""#);
    assert!(filter.matches(&log));
    assert_eq!(filter.to_string(), r#"src:"The \"Best\" Lab""#);

    log.source_name = r"C:\lab\".into();
    assert!(hits(r#"src:"C:\\lab\\""#, &log));
    assert!(
        hits(r#"src:"C:\lab\\""#, &log),
        "a backslash before a letter is literal"
    );
    assert!(hits(r"src:C:\lab\", &log), "no escapes outside quotes");

    // Quoted text may hold what would otherwise be a key or a negation.
    log.event_type = "status:odd".into();
    assert!(hits("\"status:odd\"", &log));
    assert!(!hits("\"-status\"", &log));
}

#[test]
fn negation() {
    let log = log();
    assert!(hits("-status:succeeded", &log));
    assert!(!hits("-status:failed", &log));
    assert!(hits("-sandbox", &log));
    assert!(!hits("-acme", &log));
    assert!(!hits("-\"Acme EHR\"", &log));
    assert!(hits("-dst:Sandbox -type:request", &log));
    assert_eq!(parse("-Status:SUCCEEDED").to_string(), "-status:succeeded");
}

#[test]
fn free_text_searches_metadata_but_never_the_patient() {
    let log = log();
    for word in [
        "patientadm", // data model
        "ARRIV",      // event type
        "lab",        // source name
        "\"acme ehr\"",
        "fail",      // status
        "SEND",      // type
        "1234",      // log id
        "aaaa-7bbb", // log id across a hyphen
    ] {
        assert!(hits(word, &log), "{word}");
    }
    for word in ["MRN-0042", "0042", "production", "discharge", "12.5"] {
        assert!(!hits(word, &log), "{word}");
    }
    let mut unicode = log.clone();
    unicode.destination_name = "Hôpital Général".into();
    assert!(hits("GÉNÉR", &unicode));
    assert!(!parse("MRN-0042").names_patient());
}

#[test]
fn terms_are_combined_with_and() {
    let log = log();
    assert!(hits(
        "status:failed dm:PatientAdmin event:Arrival src:\"Lab Feed\" dst:\"Acme EHR\" \
         type:SEND env:production mrn:MRN-0042 lab",
        &log
    ));
    assert!(!hits("status:failed type:receive", &log));
    assert!(!hits("lab sandbox", &log));
    assert!(!hits("status:failed status:pending", &log));
}

#[test]
fn names_patient() {
    assert!(parse("mrn:1").names_patient());
    assert!(parse("status:failed patient:\"A 1\"").names_patient());
    assert!(
        parse("-mrn:1").names_patient(),
        "exclusion still probes the patient"
    );
    assert!(!parse("status:failed src:x dst:y 1234").names_patient());
    assert!(!Filter::default().names_patient());
}

#[test]
fn errors_carry_the_term_range_and_say_what_is_allowed() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "status:failed foo:bar lab",
            "foo:bar",
            "unknown key \"foo\": use status, dm, event, src, dst, type, env, mrn",
        ),
        ("-foo:\"a b\" x", "-foo:\"a b\"", "unknown key \"foo\""),
        ("x :bar", ":bar", "missing key before \":\""),
        (
            "status:done",
            "status:done",
            "status \"done\" is not one of PENDING, SUCCEEDED, FAILED, FILTERED, quarantined",
        ),
        (
            "type:POST",
            "type:POST",
            "type \"POST\" is not one of SEND, RECEIVE, REQUEST, RESPOND",
        ),
        (
            "env:qa",
            "env:qa",
            "env \"qa\" is not one of development, staging, production",
        ),
        ("a status: b", "status:", "empty value for status:"),
        ("Source:\"\"", "Source:\"\"", "empty value for source:"),
        ("mrn:", "mrn:", "empty value for mrn:"),
        (
            "x src:\"Sandbox Dev",
            "src:\"Sandbox Dev",
            "unterminated quote",
        ),
        ("x \"abc", "\"abc", "unterminated quote"),
        (r#"src:"a\""#, r#"src:"a\""#, "unterminated quote"),
        (
            "foo\"bar\" x",
            "foo\"bar\"",
            "a quote can only open a value",
        ),
        ("src:ab\"c x", "src:ab\"c", "a quote can only open a value"),
        (
            "\"a b\"c d",
            "\"a b\"c",
            "expected a space after the closing quote",
        ),
        (
            "dm:\"Results\"x",
            "dm:\"Results\"x",
            "expected a space after the closing quote",
        ),
        ("x - y", "-", "\"-\" must be followed by a term"),
        ("x -", "-", "\"-\" must be followed by a term"),
        ("a \"\" b", "\"\"", "empty quotes"),
    ];
    for (input, at, message) in cases {
        let e = err(input);
        assert_eq!(&&input[e.start..e.end], at, "range for {input:?}");
        assert!(e.message.starts_with(message), "{input:?}: {}", e.message);
        assert_eq!(e.to_string(), e.message);
    }
}

#[test]
fn the_first_error_is_reported() {
    let (at, message) = err_at("foo:1 status:done");
    assert_eq!(at, "foo:1");
    assert!(message.starts_with("unknown key"));
    // An unknown key wins over the state of its value.
    let (at, message) = err_at("x foo:\"abc");
    assert_eq!(at, "foo:\"abc");
    assert!(message.starts_with("unknown key"));
}

#[test]
fn error_ranges_are_byte_offsets() {
    let input = "café ünknown:x";
    let e = err(input);
    assert_eq!((e.start, e.end), (6, input.len()));
    assert_eq!(&input[e.start..e.end], "ünknown:x");
    let input = "\u{3000}status:nope";
    let e = err(input);
    assert_eq!((e.start, e.end), (3, input.len()));
}

#[test]
fn from_str_and_display() {
    let filter: Filter = "STATUS:Failed Source:\"Sandbox EHR\"  -x  dm:clinicalsummary"
        .parse()
        .unwrap();
    assert_eq!(
        filter.to_string(),
        "status:failed src:\"Sandbox EHR\" -x dm:\"Clinical Summary\""
    );
    assert!("foo:bar".parse::<Filter>().is_err());
}

const SAMPLES: &[&str] = &[
    "",
    "status:failed",
    "status:quarantined -status:pending",
    "dm:PatientAdmin event:Arrival",
    "dm:\"clinical summary\" event:\"Patient Query\"",
    "src:\"Sandbox Dev Tools\" dst:Acme",
    "source:5b7c0a11-c0de-4e57-8a00-000000000002",
    "dest:\"a \\\"quoted\\\" name\"",
    "destination:\"back\\\\slash\"",
    "src:C:\\lab",
    "type:REQUEST env:prod mrn:0000000001",
    "patient:\"A 1\" -mrn:\"\\\"\"",
    "-sandbox \"two words\" \"-dash\" \"key:value\"",
    "ünïcödé \"ÅB C\" src:Ñandú",
    "lab\\ \"tab\there\"",
    "event:a:b dm:results",
];

#[test]
fn display_round_trips_on_samples() {
    for input in SAMPLES {
        let filter = parse(input);
        let shown = filter.to_string();
        assert_eq!(parse(&shown), filter, "{input:?} shown as {shown:?}");
        assert_eq!(parse(&shown).to_string(), shown, "canonical form is stable");
    }
}

fn any_text() -> impl Strategy<Value = String> {
    let chars = vec![
        'a', 'Z', '0', ' ', '\t', '"', '\\', ':', '-', 'é', 'ß', '\u{3000}',
    ];
    proptest::collection::vec(proptest::sample::select(chars), 1..8)
        .prop_map(|cs| cs.into_iter().collect())
}

fn any_cond() -> impl Strategy<Value = Cond> {
    let models: Vec<&'static str> = catalog::data_models().collect();
    prop_oneof![
        proptest::sample::select(vec![
            LogStatus::Pending,
            LogStatus::Succeeded,
            LogStatus::Failed,
            LogStatus::Filtered
        ])
        .prop_map(Cond::Status),
        Just(Cond::Quarantined),
        proptest::sample::select(models).prop_map(Cond::DataModel),
        any_text().prop_map(Cond::Event),
        any_text().prop_map(|s| Cond::Source(Party::new(s))),
        any_text().prop_map(|s| Cond::Destination(Party::new(s))),
        proptest::sample::select(vec![
            LogType::Send,
            LogType::Receive,
            LogType::Request,
            LogType::Respond
        ])
        .prop_map(Cond::Type),
        proptest::sample::select(Environment::ALL.to_vec()).prop_map(Cond::Env),
        any_text().prop_map(Cond::Patient),
        any::<u128>().prop_map(|n| Cond::Request(uuid::Uuid::from_u128(n))),
        any_text().prop_map(|s| Cond::Text(Text::new(s))),
    ]
}

fn any_input() -> impl Strategy<Value = String> {
    let pieces = vec![
        "status:", "dm:", "src:", "dst:", "mrn:", "type:", "env:", "foo:", "failed", "send",
        "prod", "Results", "\"", "\\", " ", "-", ":", "a", "é", "x y",
    ];
    proptest::collection::vec(proptest::sample::select(pieces), 0..10).prop_map(|ps| ps.concat())
}

proptest! {
    #[test]
    fn display_round_trips_on_any_filter(
        terms in proptest::collection::vec((any::<bool>(), any_cond()), 0..6)
    ) {
        let filter = Filter {
            terms: terms.into_iter().map(|(negated, cond)| Term { negated, cond }).collect(),
        };
        let shown = filter.to_string();
        prop_assert_eq!(Filter::parse(&shown), Ok(filter), "shown as {:?}", shown);
    }

    #[test]
    fn any_input_parses_or_points_at_its_error(input in any_input()) {
        match Filter::parse(&input) {
            Ok(filter) => {
                let shown = filter.to_string();
                prop_assert_eq!(Filter::parse(&shown), Ok(filter), "shown as {:?}", shown);
            }
            Err(e) => {
                prop_assert!(e.start < e.end && e.end <= input.len(), "{:?}", e);
                prop_assert!(input.is_char_boundary(e.start) && input.is_char_boundary(e.end));
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}

#[test]
fn the_environment_asked_for_is_exposed() {
    assert_eq!(Filter::parse("").expect("ok").environment(), None);
    assert_eq!(
        Filter::parse("status:failed env:prod")
            .expect("ok")
            .environment(),
        Some(Environment::Production)
    );
    assert_eq!(
        Filter::parse("-env:staging").expect("ok").environment(),
        None
    );
}
