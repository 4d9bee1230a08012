//! DocumentGet's document: a small but well-formed CDA (HL7 Clinical Document
//! Architecture) for one visit, with the patient, the author, the encounter and narrative
//! sections (reason, problems, medications, allergies, results).

use crate::sandbox::panel::Panel;
use crate::sandbox::panel::files::xml_escape;
use crate::sandbox::panel::types::{Document, Patient, Visit};
use chrono::{DateTime, Utc};

pub(super) fn title(v: &Visit, d: &Document) -> String {
    if d.kind.0 == "18842-5" {
        format!("{}: Discharge Summary", v.facility().name)
    } else {
        format!("{}: Visit Summary", v.facility().name)
    }
}

/// A bulleted list of `items`, or a line saying there are none.
fn item_list(items: Vec<String>) -> String {
    if items.is_empty() {
        "<paragraph>None recorded.</paragraph>".to_string()
    } else {
        format!(
            "<list>{}</list>",
            items
                .iter()
                .map(|i| format!("<item>{}</item>", xml_escape(i)))
                .collect::<String>()
        )
    }
}

fn section(title: &str, body: &str) -> String {
    format!("<component><section><title>{title}</title><text>{body}</text></section></component>")
}

/// The narrative sections of the visit: reason, problems, medications (those started
/// by the visit), allergies, and the results taken during it.
fn sections(p: &Patient, v: &Visit, d: &Document) -> String {
    let problems = item_list(
        p.problems
            .iter()
            .map(|x| format!("{} ({})", x.def().name, x.def().icd10))
            .collect(),
    );
    let meds = item_list(
        p.medications
            .iter()
            .filter(|m| m.start <= v.start.date_naive())
            .map(|m| m.def().name.to_string())
            .collect(),
    );
    let allergies = item_list(
        p.allergies
            .iter()
            .map(|a| format!("{}: {}", a.def().substance.name, a.reaction.name))
            .collect(),
    );
    let results = item_list(
        p.labs
            .iter()
            .filter(|l| l.visit == d.visit)
            .flat_map(|l| {
                l.observations.iter().map(move |o| {
                    let t = l.test(o);
                    format!("{}: {} {} ({})", t.name, o.value, t.units, o.flag.as_str())
                })
            })
            .collect(),
    );
    [
        section(
            "Reason for Visit",
            &format!("<paragraph>{}</paragraph>", xml_escape(&v.reason)),
        ),
        section("Problems", &problems),
        section("Medications", &meds),
        section("Allergies", &allergies),
        section("Results", &results),
    ]
    .concat()
}

/// A small but well-formed CDA document for one visit.
pub(super) fn cda(panel: &Panel, p: &Patient, d: &Document) -> String {
    let v = &p.visits[d.visit];
    let dm = &p.demographics;
    let x = |s: Option<&str>| xml_escape(s.unwrap_or(""));
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%d%H%M%S+0000").to_string();
    let author = panel.provider(d.author);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\
<realmCode code=\"US\"/>\
<typeId root=\"2.16.840.1.113883.1.3\" extension=\"POCD_HD000040\"/>\
<templateId root=\"2.16.840.1.113883.10.20.22.1.1\"/>\
<id root=\"{id}\"/>\
<code code=\"{code}\" codeSystem=\"2.16.840.1.113883.6.1\" codeSystemName=\"LOINC\" displayName=\"{code_name}\"/>\
<title>{title}</title>\
<effectiveTime value=\"{created}\"/>\
<confidentialityCode code=\"N\" codeSystem=\"2.16.840.1.113883.5.25\"/>\
<languageCode code=\"en-US\"/>\
<recordTarget><patientRole><id extension=\"{mrn}\" root=\"2.16.840.1.113883.3.9999.1\"/>\
<addr><streetAddressLine>{street}</streetAddressLine><city>{city}</city><state>{state}</state><postalCode>{zip}</postalCode></addr>\
<patient><name><given>{given}</given><family>{family}</family></name>\
<administrativeGenderCode code=\"{sex}\" codeSystem=\"2.16.840.1.113883.5.1\"/>\
<birthTime value=\"{dob}\"/></patient></patientRole></recordTarget>\
<author><time value=\"{created}\"/><assignedAuthor><id extension=\"{npi}\" root=\"2.16.840.1.113883.4.6\"/>\
<assignedPerson><name><given>{author_given}</given><family>{author_family}</family></name></assignedPerson></assignedAuthor></author>\
<custodian><assignedCustodian><representedCustodianOrganization><name>Sandbox Health System</name></representedCustodianOrganization></assignedCustodian></custodian>\
<componentOf><encompassingEncounter><id extension=\"{visit}\" root=\"2.16.840.1.113883.3.9999.2\"/>\
<effectiveTime><low value=\"{start}\"/><high value=\"{end}\"/></effectiveTime></encompassingEncounter></componentOf>\
<component><structuredBody>{sections}</structuredBody></component>\
</ClinicalDocument>\n",
        id = d.id,
        code = d.kind.0,
        code_name = xml_escape(d.kind.1),
        title = xml_escape(&title(v, d)),
        created = stamp(d.created),
        mrn = x(p.mrn()),
        street = x(dm.address.street.as_deref()),
        city = x(dm.address.city.as_deref()),
        state = x(dm.address.state.as_deref()),
        zip = x(dm.address.zip.as_deref()),
        given = x(dm.first_name.as_deref()),
        family = x(dm.last_name.as_deref()),
        sex = match dm.sex.as_deref() {
            Some("Female") => "F",
            Some("Male") => "M",
            _ => "UN",
        },
        dob = dm.dob.as_deref().unwrap_or("").replace('-', ""),
        npi = author.map_or(String::new(), |a| a.npi.clone()),
        author_given = x(author.map(|a| a.first_name.as_str())),
        author_family = x(author.map(|a| a.last_name.as_str())),
        visit = v.number,
        start = stamp(v.start),
        end = v.end.map(stamp).unwrap_or_default(),
        sections = sections(p, v, d),
    )
}
