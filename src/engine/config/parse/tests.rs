//! Reading configuration files: what is accepted, and the errors with their lines.

use super::*;

fn parse(text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    Config::parse(text, Path::new("config.toml"), dir.path()).map_err(|e| e.to_string())
}

#[test]
fn a_full_config_parses() {
    let config = parse(
        r#"
[engine]
query_timeout_seconds = 5

[[sources]]
name = "Lab"
environment = "STAGING"
timezone = "America/Chicago"

[[destinations]]
name = "Acme EHR"
environment = "staging"
url = "http://127.0.0.1:9/redox"
verification_token = "secret"

[[subscriptions]]
source = "Lab"
destination = "Acme EHR"
data_models = ["Results", "Clinical Summary"]
"#,
    )
    .expect("valid");
    let r = &config.registry;
    let lab = r.source_named("lab").expect("lab");
    let ehr = r.destination_named("Acme EHR").expect("ehr");
    assert_eq!(lab.environment, Environment::Staging);
    assert!(r.subscribed(lab.id, ehr.id, "Results"));
    assert!(!r.subscribed(lab.id, ehr.id, "PatientAdmin"));
    assert_eq!(config.settings.query_timeout, Duration::from_secs(5));
    assert!(r.source(CONSOLE_SOURCE_ID).is_some());
}

#[test]
fn errors_name_the_file_and_line() {
    let err = parse("[[sources]]\nname = \"Lab\"\nenvironment = \"qa\"\n").unwrap_err();
    assert!(
        err.contains("config.toml: line 3: unknown environment \"qa\""),
        "{err}"
    );
    let err =
        parse("[[sources]]\nname = \"Lab\"\nenvironment = \"dev\"\ncolour = 1\n").unwrap_err();
    assert!(err.contains("line 4") && err.contains("colour"), "{err}");
    let err = parse("[[sources]\n").unwrap_err();
    assert!(err.contains("config.toml: line 1"), "{err}");
}

#[test]
fn subscriptions_across_environments_are_refused() {
    let err = parse(
        r#"
[[sources]]
name = "Lab"
environment = "staging"
[[destinations]]
name = "Dev EHR"
environment = "development"
url = "http://127.0.0.1:9/"
verification_token = "t"
[[subscriptions]]
source = "Lab"
destination = "Dev EHR"
data_models = ["Resultz"]
"#,
    )
    .unwrap_err();
    assert!(
        err.contains("line 11") && err.contains("only flows within one environment"),
        "{err}"
    );
    assert!(err.contains("Did you mean \"Results\""), "{err}");
}

#[test]
fn variable_profiles_extend_the_builtin_development_one() {
    let builtin = Config::builtin();
    let dev = builtin.variables(Environment::Development);
    assert_eq!(dev.get("mrn").map(String::as_str), Some("0000000001"));
    assert!(dev.contains_key("facility") && dev.contains_key("provider_npi"));
    assert!(builtin.variables(Environment::Staging).is_empty());

    let config = parse(
        r#"
[environments.development.variables]
facility = "SFCE"

[environments.Staging.variables]
mrn = "E1234567"
"#,
    )
    .expect("valid");
    let dev = config.variables(Environment::Development);
    assert_eq!(dev["facility"], "SFCE");
    assert_eq!(dev["mrn"], "0000000001");
    let staging = config.variables(Environment::Staging);
    assert_eq!(staging.len(), 1);
    assert_eq!(staging["mrn"], "E1234567");
    // A config without the table keeps the built-in profile.
    let plain = parse("[engine]\nquery_timeout_seconds = 5\n").expect("valid");
    assert_eq!(plain.profiles, builtin.profiles);
}

#[test]
fn bad_variable_profiles_name_the_line() {
    let err = parse("[environments.qa.variables]\nmrn = \"1\"\n").unwrap_err();
    assert!(
        err.contains("line 1") && err.contains("unknown environment \"qa\""),
        "{err}"
    );
    let err = parse("\n[environments.staging.variables]\n\"9 lives\" = \"1\"\n").unwrap_err();
    assert!(err.contains("line 3") && err.contains("9 lives"), "{err}");
    let err = parse("[environments.staging.variables]\nmrn = 1\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    let err = parse("[environments.staging]\nvars = {}\n").unwrap_err();
    assert!(err.contains("vars"), "{err}");
}

const ONE_DESTINATION: &str = "[[destinations]]\nname = \"EHR\"\nenvironment = \"development\"\n\
url = \"http://127.0.0.1:9/redox\"\nverification_token = \"t\"\n";

#[test]
fn delivery_bounds_default_and_are_checked_with_their_lines() {
    let config = parse(ONE_DESTINATION).expect("valid");
    let ehr = config.registry.destination_named("EHR").expect("ehr");
    assert_eq!(ehr.delivery.quarantine_after, Some(3));
    assert_eq!(ehr.delivery.max_concurrent_deliveries, 8);
    assert_eq!(ehr.delivery.max_queue_items, 1_000_000);
    assert_eq!(config.settings.journal_backlog, 4096);

    let set = format!(
        "[engine]\njournal_backlog = 16\n\n{ONE_DESTINATION}quarantine_after = 0\n\
         max_concurrent_deliveries = 2\nmax_queue_items = 50\n"
    );
    let config = parse(&set).expect("valid");
    let ehr = config.registry.destination_named("EHR").expect("ehr");
    assert_eq!(ehr.delivery.quarantine_after, None, "0 means never");
    assert_eq!(ehr.delivery.max_concurrent_deliveries, 2);
    assert_eq!(ehr.delivery.max_queue_items, 50);
    assert_eq!(config.settings.journal_backlog, 16);

    let bad = format!("{ONE_DESTINATION}max_concurrent_deliveries = 0\nmax_queue_items = 0\n");
    let err = parse(&bad).unwrap_err();
    for wanted in [
        "line 6: max_concurrent_deliveries = 0 is out of range: use 1 to 1024",
        "line 7: max_queue_items = 0 is out of range: use 1 to 1000000000",
    ] {
        assert!(err.contains(wanted), "{wanted:?} not in {err}");
    }
    let err = parse("[engine]\njournal_backlog = 0\n").unwrap_err();
    assert!(
        err.contains("line 2: journal_backlog = 0 is out of range: use 1 to 1000000"),
        "{err}"
    );
}

#[test]
fn rate_limits_parse_and_wrong_ones_name_their_line() {
    let config = parse(
        "[engine]\nauth_failures_per_key = 5\nauth_failure_window_seconds = 10\n\n\
         [[sources]]\nname = \"Lab\"\nenvironment = \"dev\"\nrequests_per_second = 2\n\n\
         [[sources]]\nname = \"Slow\"\nenvironment = \"dev\"\nrequests_per_second = 0.5\n",
    )
    .expect("valid");
    let limits = config.settings.auth_limits;
    assert_eq!((limits.per_key, limits.per_address), (5, 100));
    assert_eq!(limits.window, Duration::from_secs(10));
    let rate = |name: &str| {
        config
            .registry
            .source_named(name)
            .and_then(|s| s.requests_per_second)
    };
    assert_eq!((rate("Lab"), rate("Slow")), (Some(2.0), Some(0.5)));
    let err =
        parse("[[sources]]\nname = \"Lab\"\nenvironment = \"dev\"\nrequests_per_second = \"10\"\n")
            .unwrap_err();
    assert!(err.contains("line 4: requests_per_second"), "{err}");
    let err = parse("[engine]\nauth_failures_per_address = 0\n").unwrap_err();
    assert!(
        err.contains("line 2: auth_failures_per_address = 0 is out of range"),
        "{err}"
    );
}
