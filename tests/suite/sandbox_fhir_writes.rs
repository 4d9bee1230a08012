//! The Sandbox EHR's FHIR writes (issue 16): FHIR messages to `$process-message` are
//! applied to the panel like the data-model writebacks (visible in the next search, a new
//! Patient in both APIs, a refused bundle changing nothing), and what the data-model
//! writebacks wrote (results, notes, appointments) is in the next FHIR search. Every
//! answer is checked against the FHIR R4 JSON Schema (`support`).

use crate::sandbox_fhir::support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Fhir, ids, panel, resources};
use switchboard::sandbox::VERIFICATION_TOKEN;
use switchboard::sandbox::fhir::MRN_SYSTEM;

fn message(event: &str, resources: Vec<(&str, Value)>) -> Value {
    let mut entry = vec![json!({
        "fullUrl": "urn:uuid:5f0c3a43-1b7e-4d55-9a0e-5d2f0d6b0c01",
        "resource": {
            "resourceType": "MessageHeader",
            "id": "header-1",
            "eventCoding": {"system": "urn:redox:event-type", "code": event},
            "source": {"endpoint": "urn:switchboard:test"},
        },
    })];
    entry.extend(
        resources
            .into_iter()
            .map(|(url, r)| json!({"fullUrl": url, "resource": r})),
    );
    json!({"resourceType": "Bundle", "id": "bundle-1", "type": "message",
        "timestamp": "2026-11-20T10:00:00Z", "entry": entry})
}

fn glucose(subject: Value, when: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "subject": subject,
        "effectiveDateTime": when,
        "valueQuantity": {"value": 101, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
    })
}

#[tokio::test]
async fn messages_are_applied_and_visible_in_the_next_search() {
    let fhir = Fhir::start().await;
    let token = Some(VERIFICATION_TOKEN);
    let glucose_search = [
        ("patient", "0000000001"),
        ("code", "http://loinc.org|2345-7"),
        ("date", "2026-11-20"),
    ];
    assert_eq!(
        fhir.search("Observation", &glucose_search).await["total"],
        0
    );
    let bundle = message(
        "Observation-New",
        vec![(
            "urn:uuid:0b1",
            glucose(
                json!({"reference": "Patient/0000000001"}),
                "2026-11-20T10:00:00Z",
            ),
        )],
    );
    let (status, reply) = fhir.message(&bundle, token).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["type"], "message");
    let header = &reply["entry"][0]["resource"];
    assert_eq!(header["response"]["code"], "ok");
    assert_eq!(header["response"]["identifier"], "header-1");
    assert_eq!(header["eventCoding"]["code"], "Observation-New");
    let written = header["focus"][0]["reference"]
        .as_str()
        .expect("focus")
        .to_string();
    let found = fhir.search("Observation", &glucose_search).await;
    assert_eq!(found["total"], 1, "{found}");
    let id = ids(&found).remove(0);
    assert_eq!(written, format!("Observation/{id}"));
    let (status, read) = fhir.get(&written).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["subject"]["reference"], "Patient/0000000001");
    assert_eq!(read["valueQuantity"]["value"], 101);

    // The platform's operation URL takes the same message; a DocumentReference too.
    let note = json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Outside Records"},
        "subject": {"reference": "Patient/0000000001"},
        "date": "2026-11-21T08:00:00Z",
        "content": [{"attachment": {"contentType": "text/plain", "data": "SGVsbG8="}}],
    });
    let before = fhir
        .search("DocumentReference", &[("patient", "0000000001")])
        .await["total"]
        .clone();
    let response = fhir
        .client
        .post(format!("{}/DocumentReference/$write", fhir.base))
        .header("verification-token", VERIFICATION_TOKEN)
        .body(message("Media-New", vec![("urn:uuid:0d1", note)]).to_string())
        .send()
        .await
        .expect("POST");
    let (status, _) = fhir.answer(response).await;
    assert_eq!(status, StatusCode::OK);
    let after = fhir
        .search(
            "DocumentReference",
            &[("patient", "0000000001"), ("date", "2026-11-21")],
        )
        .await;
    assert_eq!(after["total"], 1, "{after}");
    let total = fhir
        .search("DocumentReference", &[("patient", "0000000001")])
        .await["total"]
        .clone();
    assert_eq!(total.as_u64(), before.as_u64().map(|b| b + 1));
}

#[tokio::test]
async fn a_new_patient_by_message_is_in_both_apis() {
    let fhir = Fhir::start().await;
    let patient = json!({
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": "7700000001"}],
        "name": [{"family": "Quartz", "given": ["Wren"]}],
        "gender": "female",
        "birthDate": "1990-04-05",
    });
    let problem = json!({
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]},
        "subject": {"reference": "urn:uuid:7f1d2c3b-0000-4000-8000-000000000001"},
    });
    let bundle = message(
        "Patient-Admin",
        vec![
            ("urn:uuid:7f1d2c3b-0000-4000-8000-000000000001", patient),
            ("urn:uuid:c1", problem),
        ],
    );
    let (status, reply) = fhir.message(&bundle, Some(VERIFICATION_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let found = fhir
        .search("Patient", &[("identifier", "7700000001")])
        .await;
    assert_eq!(ids(&found), ["7700000001"]);
    let conditions = fhir
        .search("Condition", &[("patient", "Patient/7700000001")])
        .await;
    assert_eq!(conditions["total"], 1);
    // The data-model API sees the same person.
    let query = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query"},
        "Patient": {"Identifiers": [{"ID": "7700000001", "IDType": "MR"}]},
    });
    let root = fhir.base.trim_end_matches("/fhir");
    let answer: Value = fhir
        .client
        .post(root)
        .header("verification-token", VERIFICATION_TOKEN)
        .json(&query)
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let d = &answer["Patient"]["Demographics"];
    assert_eq!(d["LastName"], "Quartz", "{answer}");
    assert_eq!(d["FirstName"], "Wren");
    assert_eq!(d["DOB"], "1990-04-05");
    assert_eq!(d["Sex"], "Female");
}

#[tokio::test]
async fn bad_messages_are_refused_and_change_nothing() {
    let fhir = Fhir::start().await;
    let good = message(
        "Observation-New",
        vec![(
            "urn:uuid:0b1",
            glucose(
                json!({"reference": "Patient/0000000001"}),
                "2026-11-20T10:00:00Z",
            ),
        )],
    );
    let (status, body) = fhir.message(&good, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = fhir.message(&good, Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let mut collection = good.clone();
    collection["type"] = json!("collection");
    let mut headless = good.clone();
    headless["entry"].as_array_mut().expect("entries").remove(0);
    let naive = message(
        "Observation-New",
        vec![(
            "urn:uuid:0b1",
            glucose(
                json!({"reference": "Patient/0000000001"}),
                "2026-11-20T10:00:00",
            ),
        )],
    );
    let nobody = message(
        "Observation-New",
        vec![
            (
                "urn:uuid:0b1",
                glucose(
                    json!({"reference": "Patient/0000000001"}),
                    "2026-11-20T10:00:00Z",
                ),
            ),
            (
                "urn:uuid:0b2",
                glucose(
                    json!({"reference": "Patient/9999999999"}),
                    "2026-11-20T10:00:00Z",
                ),
            ),
        ],
    );
    for (bundle, want) in [
        (json!({"resourceType": "Patient"}), StatusCode::BAD_REQUEST),
        (collection, StatusCode::BAD_REQUEST),
        (headless, StatusCode::BAD_REQUEST),
        (naive, StatusCode::BAD_REQUEST),
        (nobody, StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body) = fhir.message(&bundle, Some(VERIFICATION_TOKEN)).await;
        assert_eq!(status, want, "{body}");
        assert_eq!(body["resourceType"], "OperationOutcome");
    }
    let after = fhir
        .search(
            "Observation",
            &[
                ("patient", "0000000001"),
                ("code", "http://loinc.org|2345-7"),
                ("date", "2026-11-20"),
            ],
        )
        .await;
    assert_eq!(after["total"], 0, "a refused bundle wrote nothing: {after}");
}

#[tokio::test]
async fn a_data_model_result_is_in_the_next_fhir_observation_search() {
    let fhir = Fhir::start().await;
    let search = [("patient", "0000000002"), ("date", "2026-11-22")];
    assert_eq!(fhir.search("Observation", &search).await["total"], 0);
    let results_new = json!({
        "Meta": {"DataModel": "Results", "EventType": "New"},
        "Patient": {"Identifiers": [{"ID": "0000000002", "IDType": "MR"}]},
        "Orders": [{
            "ID": "ORD-77",
            "CollectionDateTime": "2026-11-22T09:00:00.000Z",
            "ResultsStatus": "Final",
            "Results": [
                {"Code": "2345-7", "Codeset": "LOINC", "Description": "Glucose", "Value": "140",
                 "ValueType": "Numeric", "Units": "mg/dL", "AbnormalFlag": "High", "Status": "Final",
                 "CompletionDateTime": "2026-11-22T12:00:00.000Z",
                 "ReferenceRange": {"Low": 70, "High": 99, "Text": null}},
                {"Code": "X1", "Codeset": "Local", "Description": "Specimen comment", "Value": "Fasting",
                 "ValueType": "String", "CompletionDateTime": "2026-11-22T10:00:00"},
            ],
        }],
    });
    let root = fhir.base.trim_end_matches("/fhir");
    let status = fhir
        .client
        .post(root)
        .header("verification-token", VERIFICATION_TOKEN)
        .json(&results_new)
        .send()
        .await
        .expect("POST")
        .status();
    assert_eq!(status, StatusCode::OK);
    let found = fhir.search("Observation", &search).await;
    assert_eq!(found["total"], 2, "{found}");
    let list = resources(&found);
    let glucose = list
        .iter()
        .find(|r| r["code"]["coding"][0]["code"] == "2345-7")
        .expect("the glucose result");
    assert_eq!(glucose["valueQuantity"]["value"], 140);
    assert_eq!(glucose["interpretation"][0]["coding"][0]["code"], "H");
    assert_eq!(glucose["category"][0]["coding"][0]["code"], "laboratory");
    let comment = list
        .iter()
        .find(|r| r["valueString"] == "Fasting")
        .expect("the comment");
    assert!(
        comment.get("issued").is_none(),
        "a naive time is left out: {comment}"
    );
    for r in &list {
        let id = r["id"].as_str().expect("id");
        let (status, read) = fhir.get(&format!("Observation/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&read, r);
    }
}

#[tokio::test]
async fn data_model_notes_and_appointments_are_fhir_too() {
    let fhir = Fhir::start().await;
    let root = fhir.base.trim_end_matches("/fhir").to_string();
    let post = |body: Value| {
        let (client, root) = (fhir.client.clone(), root.clone());
        async move {
            client
                .post(root)
                .header("verification-token", VERIFICATION_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("POST")
                .status()
        }
    };
    let who = json!({"Identifiers": [{"ID": "0000000003", "IDType": "MR"}]});
    let note = json!({
        "Meta": {"DataModel": "Notes", "EventType": "New"},
        "Patient": who,
        "Note": {"DocumentID": "note 42/b", "ContentType": "Plain Text", "FileContents": "Seen today.",
                 "DocumentType": "Telephone Encounter", "DocumentationDateTime": "2026-11-23T08:00:00.000Z"},
    });
    assert_eq!(post(note).await, StatusCode::OK);
    let docs = fhir
        .search(
            "DocumentReference",
            &[("patient", "0000000003"), ("date", "2026-11-23")],
        )
        .await;
    assert_eq!(docs["total"], 1, "{docs}");
    let doc = &resources(&docs)[0];
    assert_eq!(doc["type"]["text"], "Telephone Encounter");
    assert_eq!(doc["content"][0]["attachment"]["data"], "U2VlbiB0b2RheS4=");
    let npi = panel()
        .providers()
        .iter()
        .enumerate()
        .find(|(i, _)| panel().schedulable(*i))
        .map(|(_, p)| p.npi.clone())
        .expect("a schedulable provider");
    let booking = json!({
        "Meta": {"DataModel": "Scheduling", "EventType": "New"},
        "Patient": who,
        "Visit": {"VisitNumber": "APPT-9", "VisitDateTime": "2026-11-10T10:00:00.000Z", "Duration": 30,
                  "Reason": "Follow-up visit", "AttendingProvider": {"ID": npi}},
    });
    assert_eq!(post(booking).await, StatusCode::OK);
    let found = fhir
        .search(
            "Appointment",
            &[("patient", "0000000003"), ("date", "2026-11-10")],
        )
        .await;
    let ours: Vec<Value> = resources(&found)
        .into_iter()
        .filter(|a| a["identifier"][0]["value"] == "APPT-9")
        .collect();
    assert_eq!(ours.len(), 1, "{found}");
    assert_eq!(ours[0]["start"], "2026-11-10T10:00:00.000Z");
    let actors: Vec<&str> = ours[0]["participant"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["actor"]["reference"].as_str())
        .collect();
    assert!(actors.contains(&"Patient/0000000003"));
    assert!(
        actors.contains(&format!("Practitioner/{npi}").as_str()),
        "{actors:?}"
    );
    let id = ours[0]["id"].as_str().expect("id");
    assert_eq!(
        fhir.get(&format!("Appointment/{id}")).await.0,
        StatusCode::OK
    );
}
