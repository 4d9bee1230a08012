//! One line that says what a FHIR answer holds, above its tree: "2 patients: Baker,
//! Abigail; Baker, Ann" for a Patient searchset, "3 observations" for others, "0
//! results", an `OperationOutcome`'s first issue, a message's response code.

use serde_json::Value;

/// Patients named in a searchset's summary before "…".
const NAMES_SHOWN: usize = 3;

/// The summary of a FHIR answer; `None` when `value` is not a FHIR resource.
pub fn summary(value: &Value) -> Option<String> {
    let kind = value["resourceType"].as_str()?;
    Some(match kind {
        "OperationOutcome" => outcome(value),
        "Bundle" => bundle(value),
        "Patient" => format!("Patient {}", name(value).unwrap_or_else(|| id(value))),
        other => format!("{other} {}", id(value)),
    })
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or("(no id)").to_string()
}

fn outcome(value: &Value) -> String {
    let issue = &value["issue"][0];
    let severity = issue["severity"].as_str().unwrap_or("error");
    let text = issue["details"]["text"]
        .as_str()
        .or_else(|| issue["diagnostics"].as_str())
        .or_else(|| issue["code"].as_str())
        .unwrap_or("no issue given");
    format!("{severity}: {text}")
}

fn bundle(value: &Value) -> String {
    let kind = value["type"].as_str().unwrap_or("unknown");
    let entries = value["entry"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    match kind {
        "searchset" => searchset(value, entries),
        "message" => {
            let code = entries
                .iter()
                .map(|e| &e["resource"])
                .find(|r| r["resourceType"] == "MessageHeader")
                .and_then(|h| h["response"]["code"].as_str());
            match code {
                Some(code) => format!("message response: {code}"),
                None => format!("message of {} entries", entries.len()),
            }
        }
        other => format!("{other} bundle of {} entries", entries.len()),
    }
}

fn searchset(value: &Value, entries: &[Value]) -> String {
    // Included resources (mode "include") are not results.
    let matches: Vec<&Value> = entries
        .iter()
        .filter(|e| e["search"]["mode"].as_str().unwrap_or("match") == "match")
        .map(|e| &e["resource"])
        .collect();
    let n = matches.len();
    let total = value["total"].as_u64().filter(|&t| t as usize > n);
    if n == 0 {
        return match total {
            Some(t) => format!("0 of {t} results on this page"),
            None => "0 results".into(),
        };
    }
    let first = matches[0]["resourceType"].as_str().unwrap_or("");
    let noun = if matches.iter().all(|r| r["resourceType"] == first) && !first.is_empty() {
        noun(first, total.unwrap_or(n as u64) == 1)
    } else {
        if n == 1 { "result" } else { "results" }.to_string()
    };
    let mut line = match total {
        Some(t) => format!("{n} of {t} {noun}"),
        None => format!("{n} {noun}"),
    };
    if first == "Patient" {
        let names: Vec<String> = matches
            .iter()
            .take(NAMES_SHOWN)
            .map(|p| name(p).unwrap_or_else(|| id(p)))
            .collect();
        line.push_str(": ");
        line.push_str(&names.join("; "));
        if n > NAMES_SHOWN {
            line.push_str("; …");
        }
    }
    line
}

/// `AllergyIntolerance` → "allergy intolerance(s)".
fn noun(resource: &str, one: bool) -> String {
    let mut words = String::new();
    for (i, c) in resource.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    if one {
        return words;
    }
    match words.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ if words.ends_with('s') => format!("{words}es"),
        _ => format!("{words}s"),
    }
}

/// "Family, Given Given" of a Patient's official (else first) name, or its text.
fn name(patient: &Value) -> Option<String> {
    let names = patient["name"].as_array()?;
    let chosen = names
        .iter()
        .find(|n| n["use"] == "official")
        .or(names.first())?;
    let given: Vec<&str> = chosen["given"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match (chosen["family"].as_str(), given.is_empty()) {
        (Some(family), false) => Some(format!("{family}, {}", given.join(" "))),
        (Some(family), true) => Some(family.to_string()),
        (None, false) => Some(given.join(" ")),
        (None, true) => chosen["text"].as_str().map(String::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn searchset(total: Option<u64>, resources: Vec<Value>) -> Value {
        let entry: Vec<Value> = resources
            .into_iter()
            .map(|r| json!({"fullUrl": "x", "resource": r, "search": {"mode": "match"}}))
            .collect();
        let mut b = json!({"resourceType": "Bundle", "type": "searchset", "entry": entry});
        if let Some(t) = total {
            b["total"] = json!(t);
        }
        b
    }

    fn patient(family: &str, given: &str) -> Value {
        json!({"resourceType": "Patient", "id": family, "name": [{"family": family, "given": [given]}]})
    }

    #[test]
    fn patient_searchsets_name_the_patients() {
        let b = searchset(
            Some(2),
            vec![patient("Baker", "Abigail"), patient("Baker", "Ann")],
        );
        assert_eq!(
            summary(&b).as_deref(),
            Some("2 patients: Baker, Abigail; Baker, Ann")
        );
        let one = searchset(Some(1), vec![patient("Baker", "Abigail")]);
        assert_eq!(summary(&one).as_deref(), Some("1 patient: Baker, Abigail"));
        let many = searchset(
            Some(14),
            (0..4).map(|i| patient(&format!("P{i}"), "A")).collect(),
        );
        assert_eq!(
            summary(&many).as_deref(),
            Some("4 of 14 patients: P0, A; P1, A; P2, A; …")
        );
    }

    #[test]
    fn other_searchsets_count_their_resources() {
        let obs = json!({"resourceType": "Observation", "id": "o"});
        let b = searchset(Some(3), vec![obs.clone(), obs.clone(), obs]);
        assert_eq!(summary(&b).as_deref(), Some("3 observations"));
        let allergy = json!({"resourceType": "AllergyIntolerance"});
        assert_eq!(
            summary(&searchset(None, vec![allergy.clone(), allergy])).as_deref(),
            Some("2 allergy intolerances")
        );
        let mut with_include = searchset(Some(1), vec![json!({"resourceType": "Encounter"})]);
        with_include["entry"]
            .as_array_mut()
            .expect("entries")
            .push(json!({"resource": patient("Baker", "A"), "search": {"mode": "include"}}));
        assert_eq!(summary(&with_include).as_deref(), Some("1 encounter"));
        assert_eq!(
            summary(&searchset(Some(0), vec![])).as_deref(),
            Some("0 results")
        );
        assert_eq!(
            summary(&json!({"resourceType": "Bundle", "type": "searchset"})).as_deref(),
            Some("0 results")
        );
    }

    #[test]
    fn an_operation_outcome_says_its_first_issue() {
        let oo = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid", "details": {"text": "unknown search parameter \"foo\" for Patient"}},
            {"severity": "warning", "code": "x"}
        ]});
        assert_eq!(
            summary(&oo).as_deref(),
            Some("error: unknown search parameter \"foo\" for Patient")
        );
        let bare = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "fatal", "code": "timeout", "diagnostics": "no answer in 120 s"}]});
        assert_eq!(summary(&bare).as_deref(), Some("fatal: no answer in 120 s"));
    }

    #[test]
    fn messages_reads_and_non_fhir_bodies() {
        let response = json!({"resourceType": "Bundle", "type": "message", "entry": [
            {"resource": {"resourceType": "MessageHeader", "response": {"code": "ok"}}}
        ]});
        assert_eq!(summary(&response).as_deref(), Some("message response: ok"));
        assert_eq!(
            summary(&patient("Baker", "Abigail")).as_deref(),
            Some("Patient Baker, Abigail")
        );
        assert_eq!(
            summary(&json!({"resourceType": "Encounter", "id": "e1"})).as_deref(),
            Some("Encounter e1")
        );
        assert_eq!(summary(&json!({"Meta": {}})), None);
    }
}
