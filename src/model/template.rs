//! Request templates for the composer, generated from each event's schema (never written
//! by hand per event).
//!
//! ```
//! use switchboard::model::{catalog, template::{self, Party, Samples, TemplateStyle}};
//! let event = catalog::lookup("PatientAdmin", "Arrival").unwrap();
//! let text = template::template_text(&template::Options {
//!     event,
//!     now: chrono::Utc::now(),
//!     source: None,
//!     destinations: vec![Party::new("5b7c0a11-c0de-4e57-8a00-000000000e4e", "Sandbox EHR")],
//!     samples: &Samples::default(),
//!     style: TemplateStyle::Variables,
//! })
//! .unwrap();
//! assert!(text.contains("\"{{mrn}}\""));
//! ```
//!
//! What a template holds:
//! - `Meta` in full: `DataModel`, `EventType`, `EventDateTime` (the `now` given, UTC),
//!   `Test: true`, `Source` (when given; the engine fills it from the credentials
//!   otherwise), `Destinations` (as given), and `FacilityCode`.
//! - Every **required** property of the schema, recursively; optional ones are left out.
//!   A required array gets one item (an empty one would validate, but says nothing).
//! - One addition: the patient. Where the event's top level has a `Patient` (or
//!   `Patients`, or `Header.Patient`) with `Identifiers`, one identifier is filled in
//!   even when the schema does not require it, because nearly every test query is about one patient (a
//!   Notes Query without a patient asks for nothing the sandbox can answer).
//! - Values by field name and place: identifiers of a patient are its MRN with `IDType`
//!   `MR`, of a provider its NPI with `NPI`; `…DateTime` is `now`; codes, order, visit
//!   and document IDs come from the [`Samples`] (in Development, from the sandbox
//!   panel's first patient, so queries find something); anything else gets a value of
//!   the right type that names the field.
//!
//! [`TemplateStyle::Variables`] (what the composer should offer) writes the
//! environment-specific values as variables, `{{mrn}}`, `{{facility}}`,
//! `{{department}}`, `{{provider_npi}}` (see [`crate::model::variables`]), so one saved
//! request works in Development, Staging and Production, each with its own test patient
//! from its profile; everything else is a literal value. [`TemplateStyle::Values`]
//! writes the sample values in place of the variables.

use crate::model::catalog::EventInfo;
use crate::model::schema::{SchemaError, schema_value};
use crate::model::time::format_utc;
use crate::model::variables::{self, Variables};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// A source or destination as `Meta` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub id: String,
    pub name: String,
}

impl Party {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Party {
        Party {
            id: id.into(),
            name: name.into(),
        }
    }
}

/// Whether environment-specific values are written as `{{variables}}` or as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TemplateStyle {
    #[default]
    Variables,
    Values,
}

/// Sample values for one test patient and its surroundings. The sandbox fills them
/// from its panel (`sandbox::panel::samples`); [`Samples::default`] holds obvious
/// placeholders. They travel to a console in the environment view
/// (`model::view::EnvironmentView::samples`); a field an older engine did not send
/// keeps its placeholder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Samples {
    /// The patient's medical record number (`IDType` `MR`).
    pub mrn: String,
    /// Another patient's MRN (the one merged away in a PatientMerge).
    pub other_mrn: String,
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub dob: String,
    pub sex: String,
    /// Facility code, for `Meta.FacilityCode`.
    pub facility: String,
    pub facility_name: String,
    pub department: String,
    pub provider_npi: String,
    pub visit_number: String,
    pub order_id: String,
    /// A Clinical Summary document ID (DocumentGet).
    pub document_id: String,
    /// An existing note's ID (Notes Delete/Replace).
    pub note_id: String,
    /// An existing media item's ID (Media Delete/Replace).
    pub media_id: String,
    /// RxNorm code of a medication.
    pub medication_code: String,
    /// CVX code of a vaccine.
    pub vaccine_code: String,
    /// LOINC code of a lab result.
    pub result_code: String,
    /// The organization directory (Organization events).
    pub directory: String,
    /// The patient's FHIR `Patient.id` (the composer's FHIR searches by `patient=`).
    /// The placeholder is the placeholder MRN; the sandbox names its own.
    pub fhir_patient_id: String,
}

impl Default for Samples {
    fn default() -> Self {
        Samples {
            mrn: "0000000001".into(),
            other_mrn: "0000000002".into(),
            first_name: "Test".into(),
            last_name: "Patient".into(),
            dob: "1980-01-01".into(),
            sex: "Unknown".into(),
            facility: "FACILITY".into(),
            facility_name: "Test Facility".into(),
            department: "Department".into(),
            provider_npi: "0000000000".into(),
            visit_number: "0000000001".into(),
            order_id: "0000000001".into(),
            document_id: "document-id".into(),
            note_id: "note-id".into(),
            media_id: "media-id".into(),
            medication_code: "0".into(),
            vaccine_code: "0".into(),
            result_code: "0".into(),
            directory: "Directory".into(),
            fhir_patient_id: "0000000001".into(),
        }
    }
}

impl Samples {
    /// The profile these samples make: every variable templates use, plus the
    /// patient's demographics for hand-written requests.
    pub fn variables(&self) -> Variables {
        [
            (variables::MRN, &self.mrn),
            (variables::FACILITY, &self.facility),
            (variables::DEPARTMENT, &self.department),
            (variables::PROVIDER_NPI, &self.provider_npi),
            (variables::FIRST_NAME, &self.first_name),
            (variables::LAST_NAME, &self.last_name),
            (variables::DOB, &self.dob),
            (variables::SEX, &self.sex),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }
}

/// What to build a template for.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub event: &'static EventInfo,
    /// `Meta.EventDateTime`, and every `…DateTime` value.
    pub now: DateTime<Utc>,
    /// `Meta.Source`; `None` leaves it out (the engine fills it from the credentials).
    pub source: Option<Party>,
    /// `Meta.Destinations`, as chosen. Empty gives `[]`, which the engine refuses to
    /// route: the composer fills this from the destination picked.
    pub destinations: Vec<Party>,
    pub samples: &'a Samples,
    pub style: TemplateStyle,
}

/// The template as a JSON value (`Meta` first).
pub fn template(options: &Options<'_>) -> Result<Value, SchemaError> {
    let schema = schema_value(options.event)?;
    let walker = Walker { options };
    let mut body = match walker.object(&schema, &mut Vec::new()) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut out = Map::new();
    out.insert("Meta".into(), walker.meta());
    body.remove("Meta");
    out.extend(body);
    Ok(Value::Object(out))
}

/// The template as pretty JSON text (two-space indent, trailing newline), as the
/// editor shows it.
pub fn template_text(options: &Options<'_>) -> Result<String, SchemaError> {
    let value = template(options)?;
    // Serializing a Value built here cannot fail.
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    Ok(text)
}

struct Walker<'a, 'b> {
    options: &'a Options<'b>,
}

/// A chosen value: a plain one, or an environment-specific one with its variable.
enum Leaf {
    Plain(Value),
    Variable(&'static str, String),
}

impl Walker<'_, '_> {
    fn meta(&self) -> Value {
        let o = self.options;
        let mut meta = Map::new();
        meta.insert("DataModel".into(), json!(o.event.data_model));
        meta.insert("EventType".into(), json!(o.event.event_type));
        meta.insert("EventDateTime".into(), json!(format_utc(o.now)));
        meta.insert("Test".into(), json!(true));
        if let Some(source) = &o.source {
            meta.insert(
                "Source".into(),
                json!({"ID": source.id, "Name": source.name}),
            );
        }
        meta.insert(
            "Destinations".into(),
            o.destinations
                .iter()
                .map(|d| json!({"ID": d.id, "Name": d.name}))
                .collect(),
        );
        meta.insert(
            "FacilityCode".into(),
            self.leaf(Leaf::Variable(
                variables::FACILITY,
                o.samples.facility.clone(),
            )),
        );
        Value::Object(meta)
    }

    fn leaf(&self, leaf: Leaf) -> Value {
        match (leaf, self.options.style) {
            (Leaf::Plain(value), _) => value,
            (Leaf::Variable(name, _), TemplateStyle::Variables) => json!(format!("{{{{{name}}}}}")),
            (Leaf::Variable(_, value), TemplateStyle::Values) => json!(value),
        }
    }

    /// The value for a schema node at `path` (property names; `[]` for array items).
    fn node(&self, schema: &Value, path: &mut Vec<String>) -> Value {
        match main_type(schema) {
            "object" => self.object(schema, path),
            "array" => {
                path.push("[]".into());
                let item = self.node(schema.get("items").unwrap_or(&Value::Null), path);
                path.pop();
                json!([item])
            }
            "null" => Value::Null,
            ty => self.leaf(self.scalar(ty, path)),
        }
    }

    fn object(&self, schema: &Value, path: &mut Vec<String>) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return Value::Object(out);
        };
        // Properties in schema order, so templates read like the platform's docs.
        for (name, child) in properties {
            path.push(name.clone());
            if required.contains(&name.as_str()) || patient_focus(path, child) {
                let value = self.node(child, path);
                out.insert(name.clone(), value);
            }
            path.pop();
        }
        Value::Object(out)
    }

    fn scalar(&self, ty: &str, path: &[String]) -> Leaf {
        let s = self.options.samples;
        let name = path.last().map(String::as_str).unwrap_or_default();
        // The object a field describes: `Patient` for Patient.Identifiers[].ID.
        let owner = path
            .iter()
            .rev()
            .skip(1)
            .map(String::as_str)
            .find(|p| !matches!(*p, "[]" | "Identifiers"))
            .unwrap_or_default();
        let is_patient = matches!(owner, "Patient" | "Patients");
        let is_provider = owner.ends_with("Provider") || owner.ends_with("Providers");
        let event = self.options.event.event_type;
        let plain = |v: &str| Leaf::Plain(json!(v));
        match ty {
            "number" => {
                return Leaf::Plain(json!(if name == "Duration" { 30 } else { 1 }));
            }
            "boolean" => return Leaf::Plain(json!(true)),
            _ => {}
        }
        if name.ends_with("DateTime") || matches!(name, "Expiration" | "IssuedAt") {
            return plain(&format_utc(self.options.now));
        }
        match (name, owner) {
            ("ID", "PreviousIdentifiers") => plain(&s.other_mrn),
            ("IDType", "PreviousIdentifiers") => plain("MR"),
            ("ID", _) if is_patient => Leaf::Variable(variables::MRN, s.mrn.clone()),
            ("IDType", _) if is_patient => plain("MR"),
            ("ID", _) if is_provider => {
                Leaf::Variable(variables::PROVIDER_NPI, s.provider_npi.clone())
            }
            ("IDType", _) if is_provider => plain("NPI"),
            ("ID", "Document" | "Documents") => plain(&s.document_id),
            ("ID" | "ApplicationOrderID", "Order" | "Orders") => plain(&s.order_id),
            ("ID", _) => plain(&format!("{owner}-0001")),
            ("IDType", _) => plain("ID"),
            ("VisitNumber", _) => plain(&s.visit_number),
            ("Department", _) => Leaf::Variable(variables::DEPARTMENT, s.department.clone()),
            ("DocumentID", "Note") if event != "New" => plain(&s.note_id),
            ("DocumentID", "Media") if event != "New" => plain(&s.media_id),
            ("OriginalDocumentID", "Note") => plain(&s.note_id),
            ("OriginalDocumentID", "Media") => plain(&s.media_id),
            // A new document needs an ID no other document has.
            ("DocumentID", _) => plain(&format!(
                "composer-{}",
                self.options.now.format("%Y%m%d%H%M%S%3f")
            )),
            ("Code", "Product") if path.iter().any(|p| p == "Vaccinations") => {
                plain(&s.vaccine_code)
            }
            ("Code", "Product") => plain(&s.medication_code),
            ("Code", "Results") => plain(&s.result_code),
            // LOINC heart rate: a plain numeric observation.
            ("Code", "Observations") => plain("8867-4"),
            ("Code", _) => plain("0000"),
            ("Value", _) => plain("72"),
            ("ValueType", _) => plain("Numeric"),
            ("Status", "Administrations") => plain("Given"),
            ("Status", _) => plain("Final"),
            ("Action", "Vaccinations") => plain("Administered"),
            ("Action", _) => plain("Update"),
            ("Directory", _) => plain(&s.directory),
            ("Name", "Organizations") => plain(&s.facility_name),
            ("ContentType", _) => plain("Plain Text"),
            ("DocumentType", _) => plain("Progress Note"),
            ("FileType", _) => plain("PDF"),
            ("FileName", _) => plain("composer-sample.pdf"),
            // "%PDF-1.4\n", base64: a recognisable, harmless file body.
            ("FileContents" | "Data", _) => plain("JVBERi0xLjQK"),
            ("Availability", _) => plain("Available"),
            ("Type", "Transactions") => plain("Charge"),
            ("Subject", _) => plain("composer@example.com"),
            ("DOB", _) => plain(&s.dob),
            _ if name.ends_with("Date") => plain(&self.options.now.format("%Y-%m-%d").to_string()),
            // Visibly a placeholder: the field's own name.
            _ => plain(name),
        }
    }
}

/// The patient addition of the module docs: `Patient.Identifiers[].{ID,IDType}`,
/// `Patients[].Identifiers[].{ID,IDType}` and (Clinical Summary pushes and replies)
/// `Header.Patient.Identifiers[].{ID,IDType}` at the top level. A container is only
/// added when the schema gives it identifiers, so no empty object appears.
fn patient_focus(path: &[String], schema: &Value) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let p = match p.as_slice() {
        ["Header"] => {
            return schema
                .pointer("/properties/Patient/properties/Identifiers")
                .is_some();
        }
        ["Header", rest @ ..] => rest,
        all => all,
    };
    match p {
        ["Patient"] => schema.pointer("/properties/Identifiers").is_some(),
        ["Patients"] => schema.pointer("/items/properties/Identifiers").is_some(),
        ["Patient", "Identifiers"]
        | ["Patient", "Identifiers", "[]", "ID" | "IDType"]
        | ["Patients", "[]", "Identifiers"]
        | ["Patients", "[]", "Identifiers", "[]", "ID" | "IDType"] => true,
        _ => false,
    }
}

/// The first non-null type a node allows (`["string", "null"]` is a string).
fn main_type(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        // No type: the schemas always give one, but an object is the safe guess.
        _ => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog;
    use crate::model::schema::validate;
    use crate::model::variables::substitute;

    fn options<'a>(
        model: &str,
        event: &str,
        samples: &'a Samples,
        style: TemplateStyle,
    ) -> Options<'a> {
        Options {
            event: catalog::lookup(model, event).expect("known event"),
            now: "2026-11-02T12:00:00Z".parse().expect("instant"),
            source: Some(Party::new("source-id", "Console")),
            destinations: vec![Party::new("dest-id", "EHR")],
            samples,
            style,
        }
    }

    #[test]
    fn arrival_has_meta_and_the_patient_only() {
        let samples = Samples::default();
        let o = options(
            "PatientAdmin",
            "Arrival",
            &samples,
            TemplateStyle::Variables,
        );
        let value = template(&o).expect("template");
        assert_eq!(
            value,
            json!({
                "Meta": {
                    "DataModel": "PatientAdmin",
                    "EventType": "Arrival",
                    "EventDateTime": "2026-11-02T12:00:00.000Z",
                    "Test": true,
                    "Source": {"ID": "source-id", "Name": "Console"},
                    "Destinations": [{"ID": "dest-id", "Name": "EHR"}],
                    "FacilityCode": "{{facility}}"
                },
                "Patient": {"Identifiers": [{"ID": "{{mrn}}", "IDType": "MR"}]}
            })
        );
        let text = template_text(&o).expect("text");
        let filled = substitute(&text, &Samples::default().variables()).expect("defined");
        assert!(validate(&filled).is_clean(), "{:?}", validate(&filled));
    }

    #[test]
    fn values_style_writes_the_samples() {
        let samples = Samples {
            mrn: "0000000042".into(),
            ..Samples::default()
        };
        let value = template(&options("Notes", "Query", &samples, TemplateStyle::Values))
            .expect("template");
        assert_eq!(value["Patients"][0]["Identifiers"][0]["ID"], "0000000042");
        assert_eq!(value["Meta"]["FacilityCode"], "FACILITY");
    }

    #[test]
    fn providers_get_npis_and_new_documents_fresh_ids() {
        let s = Samples::default();
        let note = template(&options("Notes", "New", &s, TemplateStyle::Variables)).expect("t");
        assert_eq!(note["Note"]["Provider"]["ID"], "{{provider_npi}}");
        assert_eq!(note["Note"]["DocumentID"], "composer-20261102120000000");
        let replace = template(&options("Notes", "Replace", &s, TemplateStyle::Values)).expect("t");
        assert_eq!(replace["Note"]["OriginalDocumentID"], s.note_id.as_str());
        let merge = template(&options(
            "PatientAdmin",
            "PatientMerge",
            &s,
            TemplateStyle::Values,
        ))
        .expect("t");
        assert_eq!(
            merge["Patient"]["PreviousIdentifiers"][0]["ID"],
            s.other_mrn.as_str()
        );
        let slots = template(&options("Scheduling", "New", &s, TemplateStyle::Values)).expect("t");
        assert_eq!(slots["Visit"]["Duration"], 30);
        assert_eq!(slots["Visit"]["VisitDateTime"], "2026-11-02T12:00:00.000Z");
    }
}
