//! One line on what an answer holds, for support staff who do not read JSON: "no patient
//! matches MRN 0000099999", "1 patient: Abigail Baker, born 1961-04-05, MRN 0000000001",
//! "3 potential matches", "2 orders", "accepted: queued for 1 destination". FHIR answers
//! use the FHIR summary ([`crate::model::fhir::summary`]).

use serde_json::{Map, Value};

/// Names listed after "N potential matches" before "…".
const NAMES_SHOWN: usize = 3;

/// Non-empty lists named in a summary before "…".
const LISTS_SHOWN: usize = 4;

/// The summary of the answer `body` (HTTP `status`) to the request `request` (the text
/// as sent); `None` when there is nothing useful to say in a line.
pub fn answer_summary(request: Option<&str>, status: u16, body: Option<&Value>) -> Option<String> {
    let body = body?;
    if let Some(fhir) = crate::model::fhir::summary::summary(body) {
        return Some(fhir);
    }
    if let Some(error) = first_error(body) {
        return Some(format!("error: {error}"));
    }
    if !(200..300).contains(&status) {
        return None;
    }
    let object = body.as_object()?;
    // A Results or Notes answer names its patient too, but what it holds are its lists.
    if !object.iter().any(|(key, value)| is_list(key, value))
        && let Some(patient) = object.get("Patient").and_then(Value::as_object)
    {
        let request: Option<Value> = request.and_then(|r| serde_json::from_str(r).ok());
        return Some(patient_line(object, patient, request.as_ref()));
    }
    lists(object).or_else(|| accepted(body))
}

/// The first `Meta.Errors[].Text`.
fn first_error(body: &Value) -> Option<String> {
    let error = body["Meta"]["Errors"].as_array()?.first()?;
    Some(
        error["Text"]
            .as_str()
            .or_else(|| error.as_str())
            .unwrap_or("the destination reported an error")
            .to_string(),
    )
}

/// PatientSearch-shaped answers (also Vaccination PatientQuery): one patient, several
/// potential matches, or none, named by what the request searched for.
fn patient_line(
    object: &Map<String, Value>,
    patient: &Map<String, Value>,
    request: Option<&Value>,
) -> String {
    let matches = object
        .get("PotentialMatches")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if patient.is_empty()
        || !(patient.contains_key("Identifiers") || patient.contains_key("Demographics"))
    {
        if !matches.is_empty() {
            let names: Vec<String> = matches
                .iter()
                .take(NAMES_SHOWN)
                .filter_map(full_name)
                .collect();
            let mut line = match matches.len() {
                1 => "1 potential match".to_string(),
                n => format!("{n} potential matches"),
            };
            if !names.is_empty() {
                line.push_str(": ");
                line.push_str(&names.join("; "));
                if matches.len() > NAMES_SHOWN {
                    line.push_str("; …");
                }
            }
            return line;
        }
        return match request.and_then(|r| criteria(&r["Patient"])) {
            Some(what) => format!("no patient matches {what}"),
            None => "no patient matches".into(),
        };
    }
    let patient = Value::Object(patient.clone());
    let mut line = String::from("1 patient");
    let mut parts = Vec::new();
    if let Some(name) = full_name(&patient) {
        parts.push(name);
    }
    if let Some(dob) = patient["Demographics"]["DOB"].as_str() {
        parts.push(format!("born {dob}"));
    }
    if let Some(mrn) = mrn(&patient) {
        parts.push(mrn);
    }
    if !parts.is_empty() {
        line.push_str(": ");
        line.push_str(&parts.join(", "));
    }
    if let Some(n) = patient["Vaccinations"].as_array().map(Vec::len) {
        line.push_str(&format!(" · {}", counted(n, "vaccination")));
    }
    line
}

/// "Abigail Baker" from `Demographics`.
fn full_name(patient: &Value) -> Option<String> {
    let d = &patient["Demographics"];
    let names: Vec<&str> = [d["FirstName"].as_str(), d["LastName"].as_str()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    (!names.is_empty()).then(|| names.join(" "))
}

/// "MRN 0000000001" from `Identifiers` (the medical record number first, else the first
/// identifier with its type).
pub fn mrn(patient: &Value) -> Option<String> {
    let ids = patient["Identifiers"].as_array()?;
    let medical = ids.iter().find(|i| {
        i["IDType"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("MR") || t.eq_ignore_ascii_case("MRN"))
    });
    match medical {
        Some(id) => Some(format!("MRN {}", id["ID"].as_str()?)),
        None => {
            let id = ids.first()?;
            let kind = id["IDType"].as_str().unwrap_or("ID");
            Some(format!("{kind} {}", id["ID"].as_str()?))
        }
    }
}

/// What a request searched for: its MRN, else the demographics it gave.
fn criteria(patient: &Value) -> Option<String> {
    if let Some(id) = mrn(patient) {
        return Some(id);
    }
    let d = &patient["Demographics"];
    let mut parts: Vec<String> = Vec::new();
    if let Some(name) = full_name(patient) {
        parts.push(name);
    }
    if let Some(dob) = d["DOB"].as_str().filter(|s| !s.is_empty()) {
        parts.push(format!("born {dob}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The key values of a request, for the history: its MRN when it names one.
pub fn request_keys(request: &str) -> Option<String> {
    let value: Value = serde_json::from_str(request).ok()?;
    mrn(&value["Patient"]).or_else(|| {
        value["Patients"]
            .as_array()
            .and_then(|p| p.first())
            .and_then(mrn)
    })
}

/// Lists counted in a summary: the answer's own arrays, not its envelope's.
fn is_list(key: &str, value: &Value) -> bool {
    value.is_array() && key != "Meta" && key != "PotentialMatches"
}

/// List answers: "2 orders", "no visits found", "3 documents · 1 note".
fn lists(object: &Map<String, Value>) -> Option<String> {
    let counts: Vec<(String, usize)> = object
        .iter()
        .filter(|(key, value)| is_list(key, value))
        .filter_map(|(key, value)| Some((noun(key), value.as_array()?.len())))
        .collect();
    if counts.is_empty() {
        return None;
    }
    if counts.iter().all(|(_, n)| *n == 0) {
        let (noun, _) = &counts[0];
        return Some(format!("no {noun} found"));
    }
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(noun, n)| match n {
            1 => format!("1 {}", singular(noun)),
            n => format!("{n} {noun}"),
        })
        .collect();
    // A clinical summary has a dozen sections: the first few say enough.
    let mut line = parts[..parts.len().min(LISTS_SHOWN)].join(" · ");
    if parts.len() > LISTS_SHOWN {
        line.push_str(" · …");
    }
    Some(line)
}

/// A notification's acknowledgement: the engine queued it for its destinations.
fn accepted(body: &Value) -> Option<String> {
    let logs = body["Meta"]["Logs"].as_array()?.len();
    (logs > 0).then(|| format!("accepted: queued for {}", counted(logs, "destination")))
}

fn counted(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// `AvailableSlots` → "available slots".
fn noun(key: &str) -> String {
    let mut words = String::new();
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

fn singular(noun: &str) -> String {
    match noun.strip_suffix("ies") {
        Some(stem) => format!("{stem}y"),
        None => noun.strip_suffix('s').unwrap_or(noun).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(request: Value, body: Value) -> Option<String> {
        answer_summary(Some(&request.to_string()), 200, Some(&body))
    }

    fn by_mrn(mrn: &str) -> Value {
        json!({"Meta": {"DataModel": "PatientSearch"}, "Patient": {"Identifiers": [{"ID": mrn, "IDType": "MR"}]}})
    }

    #[test]
    fn patient_search_answers_in_words() {
        assert_eq!(
            summary(
                by_mrn("0000099999"),
                json!({"Meta": {}, "Patient": {}, "PotentialMatches": []})
            )
            .as_deref(),
            Some("no patient matches MRN 0000099999")
        );
        let found = json!({"Meta": {}, "Patient": {
            "Identifiers": [{"ID": "e1", "IDType": "EHRID"}, {"ID": "0000000001", "IDType": "MR"}],
            "Demographics": {"FirstName": "Abigail", "LastName": "Baker", "DOB": "1961-04-05"}
        }, "PotentialMatches": []});
        assert_eq!(
            summary(by_mrn("0000000001"), found).as_deref(),
            Some("1 patient: Abigail Baker, born 1961-04-05, MRN 0000000001")
        );
        let person =
            |first: &str| json!({"Demographics": {"FirstName": first, "LastName": "Baker"}});
        let several = json!({"Meta": {}, "Patient": {}, "PotentialMatches": [person("Abigail"), person("Ann"), person("Al"), person("Bo")]});
        assert_eq!(
            summary(
                json!({"Patient": {"Demographics": {"LastName": "Baker"}}}),
                several
            )
            .as_deref(),
            Some("4 potential matches: Abigail Baker; Ann Baker; Al Baker; …")
        );
        let by_name = json!({"Patient": {"Demographics": {"FirstName": "No", "LastName": "One", "DOB": "2001-01-01"}}});
        assert_eq!(
            summary(by_name, json!({"Patient": {}})).as_deref(),
            Some("no patient matches No One, born 2001-01-01")
        );
    }

    #[test]
    fn other_answers_count_what_they_hold() {
        let any = json!({});
        assert_eq!(
            summary(any.clone(), json!({"Meta": {}, "Orders": [{}, {}]})).as_deref(),
            Some("2 orders")
        );
        assert_eq!(
            summary(any.clone(), json!({"Meta": {}, "Visits": [{}]})).as_deref(),
            Some("1 visit")
        );
        // The patient an answer is about does not hide what it holds.
        let results = json!({"Meta": {}, "Patient": {"Identifiers": [{"ID": "1", "IDType": "MR"}]}, "Orders": [{}, {}]});
        assert_eq!(summary(any.clone(), results).as_deref(), Some("2 orders"));
        let clinical = json!({"Allergies": [{}], "Encounters": [{}, {}], "Problems": [], "Medications": [{}],
            "Immunizations": [{}], "Results": [{}]});
        assert_eq!(
            summary(any.clone(), clinical).as_deref(),
            Some("1 allergy · 2 encounters · 1 medication · 1 immunization · …")
        );
        assert_eq!(
            summary(any.clone(), json!({"Meta": {}, "Patients": []})).as_deref(),
            Some("no patients found")
        );
        assert_eq!(
            summary(any.clone(), json!({"Meta": {"Logs": [{"ID": "a"}]}})).as_deref(),
            Some("accepted: queued for 1 destination")
        );
        assert_eq!(
            answer_summary(
                None,
                400,
                Some(&json!({"Meta": {"Errors": [{"Text": "no subscription"}]}}))
            )
            .as_deref(),
            Some("error: no subscription")
        );
        assert_eq!(
            summary(
                any,
                json!({"resourceType": "Bundle", "type": "searchset", "entry": []})
            )
            .as_deref(),
            Some("0 results")
        );
        assert_eq!(
            request_keys(&by_mrn("0000000001").to_string()).as_deref(),
            Some("MRN 0000000001")
        );
    }
}
