//! The panel's behaviour through the public API: determinism, identifiers, searches,
//! refusals with a reason, and writebacks that later queries return.

use super::support::{UNKNOWN_MRN, demographics_of, mr, mrn, panel, query, rich, with_meta};
use serde_json::{Value, json};
use std::time::Instant;
use switchboard::sandbox::answers::{AnswerError, apply, respond};
use switchboard::sandbox::panel::{
    DEFAULT_PATIENTS, DEFAULT_SEED, DUPLICATE_DEMOGRAPHICS_MRNS, Panel,
};

#[test]
fn panel_is_deterministic_large_and_numbered() {
    let started = Instant::now();
    let a = Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS);
    let elapsed = started.elapsed();
    eprintln!("generated {} patients in {elapsed:?}", a.patients().len());
    let b = Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS);
    assert!(a == b, "two generations with the same seed differ");
    assert!(Panel::generate(DEFAULT_SEED + 1, 20) != Panel::generate(DEFAULT_SEED, 20));
    assert!(a.patients().len() >= 1000);
    for (i, p) in a.patients().iter().enumerate() {
        let mr = mrn(p);
        assert_eq!(mr, format!("{:010}", i + 1));
        assert!(mr.len() == 10 && mr.bytes().all(|b| b.is_ascii_digit()));
        assert!(p.identifiers.iter().any(|x| x.id_type == "EHRID"));
    }
    assert_eq!(a.first_patients(5).len(), 5);
    for (mrn, first, last, dob) in a.first_patients(5) {
        eprintln!("{mrn} {first} {last} {dob}");
    }
    for group in DUPLICATE_DEMOGRAPHICS_MRNS {
        let d = &a.patients()[a.find(group[0], None).expect("leader")].demographics;
        eprintln!(
            "{group:?} share {} {} {}",
            d.first_name.as_deref().unwrap_or(""),
            d.last_name.as_deref().unwrap_or(""),
            d.dob.as_deref().unwrap_or("")
        );
    }
    // A loose bound: it runs at engine start (the figure is printed above).
    assert!(elapsed.as_secs_f64() < 2.0, "generation took {elapsed:?}");
}

#[test]
fn search_finds_one_none_or_several() {
    let panel = panel();
    let p = rich(panel);
    let one = query(
        panel,
        "PatientSearch",
        "Query",
        json!({"Patient": mr(mrn(p))}),
    );
    assert_eq!(one["Patient"]["Identifiers"][0]["ID"], json!(mrn(p)));
    let by_name = query(
        panel,
        "PatientSearch",
        "Query",
        json!({"Patient": {"Demographics": demographics_of(p)}}),
    );
    assert_eq!(by_name["Patient"]["Identifiers"][0]["ID"], json!(mrn(p)));
    let mut lower = demographics_of(p);
    lower["LastName"] = json!(
        p.demographics
            .last_name
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
    );
    let insensitive = query(
        panel,
        "PatientSearch",
        "Query",
        json!({"Patient": {"Demographics": lower}}),
    );
    assert_eq!(
        insensitive["Patient"]["Identifiers"][0]["ID"],
        json!(mrn(p))
    );
    let none = query(
        panel,
        "PatientSearch",
        "Query",
        json!({"Patient": mr(UNKNOWN_MRN)}),
    );
    assert_eq!(none["Patient"], json!({}));
    for group in DUPLICATE_DEMOGRAPHICS_MRNS {
        let leader = &panel.patients()[panel.find(group[0], None).expect("leader")];
        let several = query(
            panel,
            "PatientSearch",
            "Query",
            json!({"Patient": {"Demographics": demographics_of(leader)}}),
        );
        assert_eq!(several["Patient"], json!({}));
        let found: Vec<&str> = several["PotentialMatches"]
            .as_array()
            .expect("PotentialMatches")
            .iter()
            .filter_map(|m| m["Identifiers"][0]["ID"].as_str())
            .collect();
        assert_eq!(&found, group);
    }
    let bad = respond(
        panel,
        &with_meta("PatientSearch", "Query", json!({"Patient": {}})),
    );
    assert!(matches!(bad, Err(AnswerError::BadRequest(_))), "{bad:?}");
}

#[test]
fn wrong_requests_are_refused_with_a_reason() {
    let panel = panel();
    let no_patient = respond(
        panel,
        &with_meta("Clinical Summary", "PatientQuery", json!({})),
    );
    match no_patient {
        Err(AnswerError::BadRequest(text)) => {
            assert!(text.contains("Patient.Identifiers"), "{text}")
        }
        other => panic!("{other:?}"),
    }
    let no_start = respond(panel, &with_meta("Scheduling", "AvailableSlots", json!({})));
    assert!(matches!(no_start, Err(AnswerError::BadRequest(t)) if t.contains("StartDateTime")));
    let notification = respond(
        panel,
        &with_meta(
            "PatientAdmin",
            "Arrival",
            json!({"Patient": mr("0000000001")}),
        ),
    );
    assert!(
        matches!(notification, Err(AnswerError::Unsupported(_))),
        "{notification:?}"
    );
    let no_meta = respond(panel, &json!({"Patient": {}}));
    assert!(matches!(no_meta, Err(AnswerError::BadRequest(_))));
    let mut copy = panel.clone();
    let no_one = apply(
        &mut copy,
        &with_meta("Notes", "New", json!({"Note": {"DocumentID": "x"}})),
    );
    assert!(
        matches!(no_one, Err(AnswerError::BadRequest(_))),
        "{no_one:?}"
    );
    // Everything else is acknowledged without change.
    let before = copy.clone();
    apply(&mut copy, &with_meta("Device", "New", json!({}))).expect("acknowledged");
    assert!(copy == before);
}

#[test]
fn notes_written_back_are_returned() {
    let mut panel = panel().clone();
    let new = with_meta(
        "Notes",
        "New",
        json!({
            "Patient": mr("0000000003"),
            "Visit": {"VisitNumber": "V-TEST-1"},
            "Note": {
                "ContentType": "Plain Text",
                "FileName": "round-trip.txt",
                "FileContents": "Written back by the conformance test.",
                "DocumentType": "Consult Note",
                "DocumentID": "round-trip-note-1",
                "ServiceDateTime": "2026-11-20T10:00:00.000Z",
                "DocumentationDateTime": "2026-11-20T11:00:00.000Z",
                "Provider": {"ID": "1234567893", "IDType": "NPI"},
            },
        }),
    );
    apply(&mut panel, &new).expect("Notes New applies");
    let notes = query(
        &panel,
        "Notes",
        "Query",
        json!({"Patients": [mr("0000000003")], "DocumentTypes": ["consult note"]}),
    );
    let list = notes["Notes"].as_array().expect("Notes");
    assert_eq!(list.len(), 1, "{notes}");
    assert_eq!(list[0]["DocumentID"], json!("round-trip-note-1"));
    assert_eq!(
        list[0]["FileContents"],
        json!("Written back by the conformance test.")
    );
    assert_eq!(list[0]["Visit"]["VisitNumber"], json!("V-TEST-1"));

    let mut replace = new.clone();
    replace["Meta"]["EventType"] = json!("Replace");
    replace["Note"]["OriginalDocumentID"] = json!("round-trip-note-1");
    replace["Note"]["DocumentID"] = json!("round-trip-note-2");
    replace["Note"]["FileContents"] = json!("Amended.");
    apply(&mut panel, &replace).expect("Notes Replace applies");
    let notes = query(
        &panel,
        "Notes",
        "Query",
        json!({"Patients": [mr("0000000003")], "DocumentTypes": ["Consult Note"]}),
    );
    assert_eq!(notes["Notes"].as_array().map(Vec::len), Some(1));
    assert_eq!(notes["Notes"][0]["FileContents"], json!("Amended."));

    let mut delete = replace.clone();
    delete["Meta"]["EventType"] = json!("Delete");
    apply(&mut panel, &delete).expect("Notes Delete applies");
    let notes = query(
        &panel,
        "Notes",
        "Query",
        json!({"DocumentIDs": ["round-trip-note-2"]}),
    );
    assert_eq!(notes["Notes"], json!([]));

    // A note for a patient the panel does not know registers that patient.
    let mut stranger = new.clone();
    stranger["Patient"] = json!({"Identifiers": [{"ID": "NEW-1", "IDType": "MR"}], "Demographics": {"FirstName": "Robin", "LastName": "Sandbox"}});
    apply(&mut panel, &stranger).expect("applies");
    let found = query(
        &panel,
        "PatientSearch",
        "Query",
        json!({"Patient": {"Demographics": {"FirstName": "robin", "LastName": "sandbox"}}}),
    );
    assert_eq!(found["Patient"]["Identifiers"][0]["ID"], json!("NEW-1"));
}

#[test]
fn a_booked_slot_leaves_available_slots_and_joins_booked() {
    let mut panel = panel().clone();
    let window = json!({"StartDateTime": "2026-11-16T00:00:00.000Z", "EndDateTime": "2026-11-17T00:00:00.000Z"});
    let slots = query(&panel, "Scheduling", "AvailableSlots", window.clone());
    let first = slots["AvailableSlots"][0].clone();
    let npi = first["Provider"]["ID"]
        .as_str()
        .expect("provider ID")
        .to_string();
    let when = first["DateTime"].as_str().expect("DateTime").to_string();
    let listed = |answer: &Value, key: &str| {
        answer[key].as_array().expect("list").iter().any(|s| {
            let provider = if key == "AvailableSlots" {
                &s["Provider"]
            } else {
                &s["AttendingProvider"]
            };
            provider["ID"] == json!(npi)
                && s[if key == "AvailableSlots" {
                    "DateTime"
                } else {
                    "VisitDateTime"
                }] == json!(when)
        })
    };
    assert!(listed(&slots, "AvailableSlots"));
    let booking = with_meta(
        "Scheduling",
        "New",
        json!({
            "Patient": mr("0000000005"),
            "Visit": {
                "VisitNumber": "RT-100",
                "VisitDateTime": when,
                "Duration": 30,
                "Reason": "Round trip",
                "AttendingProvider": {"ID": npi, "IDType": "NPI"},
                "Location": {"Department": first["Location"]["Department"], "Facility": first["Location"]["Facility"]},
            },
        }),
    );
    apply(&mut panel, &booking).expect("Scheduling New applies");
    let after = query(&panel, "Scheduling", "AvailableSlots", window.clone());
    assert!(
        !listed(&after, "AvailableSlots"),
        "the booked slot is still offered"
    );
    let booked = query(&panel, "Scheduling", "Booked", window.clone());
    assert!(
        listed(&booked, "Visits"),
        "the booked slot is not in Booked"
    );
    let mine = booked["Visits"]
        .as_array()
        .expect("Visits")
        .iter()
        .find(|v| v["VisitNumber"] == json!("RT-100"))
        .cloned()
        .expect("RT-100 listed");
    assert_eq!(mine["Patient"]["Identifiers"][0]["ID"], json!("0000000005"));

    let mut cancel = booking.clone();
    cancel["Meta"]["EventType"] = json!("Cancel");
    apply(&mut panel, &cancel).expect("Cancel applies");
    let again = query(&panel, "Scheduling", "AvailableSlots", window.clone());
    assert!(
        listed(&again, "AvailableSlots"),
        "a cancelled slot is offered again"
    );

    // Cancelling an appointment the generator booked frees its slot too.
    let booked = query(&panel, "Scheduling", "Booked", window.clone());
    let theirs = booked["Visits"][0].clone();
    apply(&mut panel, &with_meta("Scheduling", "Cancel", json!({"Visit": {
        "VisitNumber": theirs["VisitNumber"], "VisitDateTime": theirs["VisitDateTime"], "Location": {"Department": theirs["Location"]["Department"]},
    }}))).expect("Cancel applies");
    let freed = query(&panel, "Scheduling", "AvailableSlots", window);
    assert!(
        freed["AvailableSlots"]
            .as_array()
            .expect("slots")
            .iter()
            .any(|s| {
                s["DateTime"] == theirs["VisitDateTime"]
                    && s["Provider"]["ID"] == theirs["AttendingProvider"]["ID"]
            })
    );
}

#[test]
fn other_writebacks_join_the_record() {
    let mut panel = panel().clone();
    let order = json!({
        "ID": "RT-ORDER-1",
        "Status": "Resulted",
        "ResultsStatus": "Final",
        "CompletionDateTime": "2026-11-20T10:00:00.000Z",
        "Procedure": {"Code": "2345-7", "Codeset": "LOINC", "Description": "Glucose"},
        "Results": [{"Code": "2345-7", "Value": "101", "ValueType": "Numeric", "Status": "Final", "Units": "mg/dL"}],
    });
    apply(
        &mut panel,
        &with_meta(
            "Results",
            "New",
            json!({"Patient": mr("0000000002"), "Orders": [order]}),
        ),
    )
    .expect("Results New");
    let results = query(
        &panel,
        "Results",
        "Query",
        json!({"Patients": [mr("0000000002")], "OrderIDs": ["RT-ORDER-1"]}),
    );
    assert_eq!(
        results["Orders"].as_array().map(Vec::len),
        Some(1),
        "{results}"
    );
    assert_eq!(
        results["Orders"][0]["Patient"]["Identifiers"][0]["ID"],
        json!("0000000002")
    );

    apply(&mut panel, &with_meta("Media", "New", json!({"Patient": mr("0000000002"), "Media": {
        "FileType": "PDF", "FileName": "scan.pdf", "FileContents": "JVBERi0=", "DocumentType": "Outside Records",
        "DocumentID": "RT-MEDIA-1", "Provider": {"ID": "1234567893"}, "Availability": "Available",
    }}))).expect("Media New");
    let media = query(
        &panel,
        "Media",
        "Query",
        json!({"DocumentIDs": ["RT-MEDIA-1"]}),
    );
    assert_eq!(media["Media"][0]["FileName"], json!("scan.pdf"));

    apply(
        &mut panel,
        &with_meta(
            "PatientAdmin",
            "PatientUpdate",
            json!({"Patient": {
                "Identifiers": [{"ID": "0000000002", "IDType": "MR"}],
                "Demographics": {"LastName": "Renamed-Sandbox"},
            }}),
        ),
    )
    .expect("PatientUpdate");
    let found = query(
        &panel,
        "PatientSearch",
        "Query",
        json!({"Patient": {"Demographics": {"LastName": "Renamed-Sandbox"}}}),
    );
    assert_eq!(
        found["Patient"]["Identifiers"][0]["ID"],
        json!("0000000002")
    );

    let allergy = json!({"Substance": {"Code": "1191", "Name": "Aspirin"}, "Reaction": [], "Comment": "pushed"});
    apply(
        &mut panel,
        &with_meta(
            "Clinical Summary",
            "PatientPush",
            json!({
                "Header": {"Patient": {"Identifiers": [{"ID": "0000000002", "IDType": "MR"}]}},
                "Allergies": [allergy],
            }),
        ),
    )
    .expect("PatientPush");
    let summary = query(
        &panel,
        "Clinical Summary",
        "PatientQuery",
        json!({"Patient": mr("0000000002")}),
    );
    assert!(
        summary["Allergies"]
            .as_array()
            .expect("Allergies")
            .iter()
            .any(|a| a["Comment"] == json!("pushed"))
    );
}
