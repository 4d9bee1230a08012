//! Clinical vocabularies for the synthetic record: the codes are the real public ones
//! (SNOMED CT, ICD-10-CM, RxNorm, LOINC, CVX, CPT, NUCC), so a receiver that maps codes
//! sees familiar values. Tables are small and hand-picked; links between them (which
//! medication treats which problem, which lab follows which condition) go by short keys.

/// A code system, with the three spellings the data models use for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Snomed,
    RxNorm,
    Loinc,
    Icd10,
    Cvx,
    Cpt,
    Nci,
    Nucc,
    ActCode,
}

impl System {
    /// The HL7 OID (`CodeSystem` in Clinical Summary).
    pub fn oid(self) -> &'static str {
        match self {
            System::Snomed => "2.16.840.1.113883.6.96",
            System::RxNorm => "2.16.840.1.113883.6.88",
            System::Loinc => "2.16.840.1.113883.6.1",
            System::Icd10 => "2.16.840.1.113883.6.90",
            System::Cvx => "2.16.840.1.113883.12.292",
            System::Cpt => "2.16.840.1.113883.6.12",
            System::Nci => "2.16.840.1.113883.3.26.1.1",
            System::Nucc => "2.16.840.1.113883.6.101",
            System::ActCode => "2.16.840.1.113883.5.4",
        }
    }

    /// The display name (`CodeSystemName` in Clinical Summary, `Codeset` elsewhere).
    pub fn name(self) -> &'static str {
        match self {
            System::Snomed => "SNOMED CT",
            System::RxNorm => "RxNorm",
            System::Loinc => "LOINC",
            System::Icd10 => "ICD-10",
            System::Cvx => "CVX",
            System::Cpt => "CPT",
            System::Nci => "NCI Thesaurus",
            System::Nucc => "NUCC",
            System::ActCode => "ActCode",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub system: System,
    pub name: &'static str,
}

const fn sct(code: &'static str, name: &'static str) -> Code {
    Code {
        code,
        system: System::Snomed,
        name,
    }
}

const fn rx(code: &'static str, name: &'static str) -> Code {
    Code {
        code,
        system: System::RxNorm,
        name,
    }
}

pub const SEVERITY_MILD: Code = sct("255604002", "Mild");
pub const SEVERITY_MODERATE: Code = sct("6736007", "Moderate");
pub const SEVERITY_SEVERE: Code = sct("24484000", "Severe");
pub const STATUS_ACTIVE: Code = sct("55561003", "Active");
pub const STATUS_RESOLVED: Code = sct("413322009", "Resolved");
pub const CATEGORY_PROBLEM: Code = sct("55607006", "Problem");

const HIVES: Code = sct("247472004", "Hives");
const RASH: Code = sct("271807003", "Rash");
const ANAPHYLAXIS: Code = sct("39579001", "Anaphylaxis");
const NAUSEA: Code = sct("422587007", "Nausea");
const VOMITING: Code = sct("422400008", "Vomiting");
const ITCHING: Code = sct("418290006", "Itching");
const ANGIOEDEMA: Code = sct("41291007", "Angioedema");
const WHEEZING: Code = sct("56018004", "Wheezing");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllergyKind {
    Drug,
    Food,
    Environment,
}

impl AllergyKind {
    pub fn code(self) -> Code {
        match self {
            AllergyKind::Drug => sct("416098002", "Drug allergy"),
            AllergyKind::Food => sct("414285001", "Food allergy"),
            AllergyKind::Environment => sct("426232007", "Environmental allergy"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AllergyDef {
    pub substance: Code,
    pub kind: AllergyKind,
    /// Drug class: an order of any medication of this class is a conflict.
    pub class: &'static str,
    pub reactions: &'static [Code],
    pub weight: u32,
}

const fn allergy(
    substance: Code,
    kind: AllergyKind,
    class: &'static str,
    reactions: &'static [Code],
    weight: u32,
) -> AllergyDef {
    AllergyDef {
        substance,
        kind,
        class,
        reactions,
        weight,
    }
}

use AllergyKind::{Drug, Environment, Food};

#[rustfmt::skip]
pub const ALLERGIES: &[AllergyDef] = &[
    allergy(rx("7980", "Penicillin G"), Drug, "penicillin", &[HIVES, RASH, ANAPHYLAXIS], 10),
    allergy(rx("723", "Amoxicillin"), Drug, "penicillin", &[RASH, HIVES], 4),
    allergy(rx("10180", "Sulfamethoxazole"), Drug, "sulfonamide", &[RASH, ITCHING], 6),
    allergy(rx("2670", "Codeine"), Drug, "opioid", &[NAUSEA, VOMITING, ITCHING], 5),
    allergy(rx("1191", "Aspirin"), Drug, "nsaid", &[HIVES, WHEEZING], 3),
    allergy(rx("5640", "Ibuprofen"), Drug, "nsaid", &[HIVES, ANGIOEDEMA], 3),
    allergy(rx("29046", "Lisinopril"), Drug, "ace-inhibitor", &[ANGIOEDEMA], 2),
    allergy(sct("762952008", "Peanut"), Food, "peanut", &[ANAPHYLAXIS, HIVES], 4),
    allergy(sct("44027008", "Seafood"), Food, "seafood", &[HIVES, ANGIOEDEMA], 3),
    allergy(sct("102263004", "Eggs"), Food, "egg", &[HIVES, VOMITING], 2),
    allergy(sct("111088007", "Latex"), Environment, "latex", &[RASH, ITCHING], 2),
    allergy(sct("288328004", "Bee venom"), Environment, "venom", &[ANAPHYLAXIS, HIVES], 2),
    allergy(sct("260147004", "Cat dander"), Environment, "dander", &[WHEEZING, ITCHING], 2),
];

#[derive(Debug, Clone, Copy)]
pub struct ProblemDef {
    pub key: &'static str,
    pub snomed: &'static str,
    pub icd10: &'static str,
    pub name: &'static str,
    /// Chronic conditions stay active; the others resolve within weeks.
    pub chronic: bool,
    /// Relative weights for children (< 18), adults (18-49) and older adults (50+).
    pub weights: [u32; 3],
}

const fn problem(
    key: &'static str,
    snomed: &'static str,
    icd10: &'static str,
    name: &'static str,
    chronic: bool,
    weights: [u32; 3],
) -> ProblemDef {
    ProblemDef {
        key,
        snomed,
        icd10,
        name,
        chronic,
        weights,
    }
}

#[rustfmt::skip]
pub const PROBLEMS: &[ProblemDef] = &[
    problem("htn", "59621000", "I10", "Essential hypertension", true, [0, 10, 35]),
    problem("dm2", "44054006", "E11.9", "Type 2 diabetes mellitus", true, [0, 4, 15]),
    problem("hld", "55822004", "E78.5", "Hyperlipidemia", true, [0, 8, 30]),
    problem("asthma", "195967001", "J45.909", "Asthma", true, [10, 6, 5]),
    problem("depression", "35489007", "F32.A", "Depressive disorder", true, [2, 10, 8]),
    problem("anxiety", "21897009", "F41.1", "Generalized anxiety disorder", true, [3, 10, 6]),
    problem("hypothyroid", "40930008", "E03.9", "Hypothyroidism", true, [0, 4, 8]),
    problem("oa_knee", "239873007", "M17.9", "Osteoarthritis of knee", true, [0, 2, 12]),
    problem("ckd3", "433144002", "N18.30", "Chronic kidney disease stage 3", true, [0, 1, 5]),
    problem("gerd", "235595009", "K21.9", "Gastroesophageal reflux disease", true, [1, 7, 9]),
    problem("obesity", "414916001", "E66.9", "Obesity", true, [3, 10, 10]),
    problem("afib", "49436004", "I48.91", "Atrial fibrillation", true, [0, 1, 6]),
    problem("copd", "13645005", "J44.9", "Chronic obstructive lung disease", true, [0, 1, 6]),
    problem("migraine", "37796009", "G43.909", "Migraine", true, [2, 6, 2]),
    problem("lbp", "279039007", "M54.50", "Low back pain", true, [0, 6, 6]),
    problem("adhd", "406506008", "F90.9", "Attention deficit hyperactivity disorder", true, [8, 2, 0]),
    problem("pneumonia", "233604007", "J18.9", "Pneumonia", false, [3, 3, 5]),
    problem("bronchitis", "10509002", "J20.9", "Acute bronchitis", false, [4, 5, 5]),
    problem("uti", "68566005", "N39.0", "Urinary tract infection", false, [2, 6, 6]),
    problem("ankle_sprain", "44465007", "S93.409A", "Sprain of ankle", false, [5, 5, 2]),
    problem("otitis", "65363002", "H66.90", "Otitis media", false, [10, 1, 0]),
    problem("strep", "43878008", "J02.0", "Streptococcal sore throat", false, [8, 3, 1]),
];

/// The route of a medication or vaccine: NCI Thesaurus code and name, HL7 0162 short code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub nci: &'static str,
    pub name: &'static str,
    pub hl7: &'static str,
}

pub const ORAL: Route = Route {
    nci: "C38288",
    name: "Oral",
    hl7: "PO",
};
pub const INHALATION: Route = Route {
    nci: "C38216",
    name: "Respiratory (inhalation)",
    hl7: "IH",
};
pub const INTRAMUSCULAR: Route = Route {
    nci: "C28161",
    name: "Intramuscular",
    hl7: "IM",
};
pub const SUBCUTANEOUS: Route = Route {
    nci: "C38299",
    name: "Subcutaneous",
    hl7: "SC",
};

#[derive(Debug, Clone, Copy)]
pub struct MedicationDef {
    pub key: &'static str,
    pub rxnorm: &'static str,
    pub name: &'static str,
    pub dose: (&'static str, &'static str),
    pub route: Route,
    /// Every (period, unit): "8", "h".
    pub frequency: (&'static str, &'static str),
    pub prn: bool,
    pub class: &'static str,
    pub treats: &'static [&'static str],
}

#[allow(clippy::too_many_arguments)] // a table row; named fields would triple the table
const fn med(
    key: &'static str,
    rxnorm: &'static str,
    name: &'static str,
    dose: (&'static str, &'static str),
    route: Route,
    frequency: (&'static str, &'static str),
    prn: bool,
    class: &'static str,
    treats: &'static [&'static str],
) -> MedicationDef {
    MedicationDef {
        key,
        rxnorm,
        name,
        dose,
        route,
        frequency,
        prn,
        class,
        treats,
    }
}

#[rustfmt::skip]
pub const MEDICATIONS: &[MedicationDef] = &[
    med("lisinopril", "314076", "Lisinopril 10 MG Oral Tablet", ("10", "mg"), ORAL, ("24", "h"), false, "ace-inhibitor", &["htn"]),
    med("amlodipine", "197361", "Amlodipine 5 MG Oral Tablet", ("5", "mg"), ORAL, ("24", "h"), false, "calcium-channel-blocker", &["htn"]),
    med("metformin", "861007", "Metformin hydrochloride 500 MG Oral Tablet", ("500", "mg"), ORAL, ("12", "h"), false, "biguanide", &["dm2"]),
    med("atorvastatin", "617310", "Atorvastatin 20 MG Oral Tablet", ("20", "mg"), ORAL, ("24", "h"), false, "statin", &["hld"]),
    med("albuterol", "745679", "Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", ("2", "puff"), INHALATION, ("6", "h"), true, "beta-agonist", &["asthma", "copd"]),
    med("sertraline", "312940", "Sertraline 50 MG Oral Tablet", ("50", "mg"), ORAL, ("24", "h"), false, "ssri", &["depression", "anxiety"]),
    med("levothyroxine", "966222", "Levothyroxine Sodium 0.05 MG Oral Tablet", ("50", "ug"), ORAL, ("24", "h"), false, "thyroid", &["hypothyroid"]),
    med("omeprazole", "198053", "Omeprazole 20 MG Delayed Release Oral Capsule", ("20", "mg"), ORAL, ("24", "h"), false, "ppi", &["gerd"]),
    med("acetaminophen", "198440", "Acetaminophen 500 MG Oral Tablet", ("1000", "mg"), ORAL, ("6", "h"), true, "analgesic", &["oa_knee", "lbp", "migraine"]),
    med("apixaban", "1364445", "Apixaban 5 MG Oral Tablet", ("5", "mg"), ORAL, ("12", "h"), false, "anticoagulant", &["afib"]),
    med("metoprolol", "866924", "Metoprolol succinate 25 MG Extended Release Oral Tablet", ("25", "mg"), ORAL, ("24", "h"), false, "beta-blocker", &["afib", "htn"]),
    med("sumatriptan", "313960", "Sumatriptan 50 MG Oral Tablet", ("50", "mg"), ORAL, ("2", "h"), true, "triptan", &["migraine"]),
    med("methylphenidate", "1091170", "Methylphenidate Hydrochloride 10 MG Oral Tablet", ("10", "mg"), ORAL, ("12", "h"), false, "stimulant", &["adhd"]),
    med("amoxicillin", "308191", "Amoxicillin 500 MG Oral Capsule", ("500", "mg"), ORAL, ("8", "h"), false, "penicillin", &["pneumonia", "otitis", "strep"]),
    med("azithromycin", "308460", "Azithromycin 250 MG Oral Tablet", ("250", "mg"), ORAL, ("24", "h"), false, "macrolide", &["pneumonia", "bronchitis", "strep"]),
    med("smx_tmp", "198335", "Sulfamethoxazole 800 MG / Trimethoprim 160 MG Oral Tablet", ("1", "tablet"), ORAL, ("12", "h"), false, "sulfonamide", &["uti"]),
    med("ibuprofen", "310965", "Ibuprofen 200 MG Oral Tablet", ("400", "mg"), ORAL, ("6", "h"), true, "nsaid", &["ankle_sprain", "lbp"]),
    med("ondansetron", "104894", "Ondansetron 4 MG Disintegrating Oral Tablet", ("4", "mg"), ORAL, ("8", "h"), true, "antiemetic", &[]),
];

/// How a lab test reports: a number against a reference range, or a word.
#[derive(Debug, Clone, Copy)]
pub enum TestKind {
    Numeric {
        low: Option<f64>,
        high: Option<f64>,
        /// Where most results fall.
        typical: (f64, f64),
        decimals: u8,
    },
    Text {
        normal: &'static str,
        abnormal: &'static [&'static str],
    },
}

#[derive(Debug, Clone, Copy)]
pub struct LabTest {
    pub loinc: &'static str,
    pub name: &'static str,
    pub units: &'static str,
    pub kind: TestKind,
}

const fn num(
    loinc: &'static str,
    name: &'static str,
    units: &'static str,
    range: (Option<f64>, Option<f64>),
    typical: (f64, f64),
    decimals: u8,
) -> LabTest {
    LabTest {
        loinc,
        name,
        units,
        kind: TestKind::Numeric {
            low: range.0,
            high: range.1,
            typical,
            decimals,
        },
    }
}

const fn text(
    loinc: &'static str,
    name: &'static str,
    normal: &'static str,
    abnormal: &'static [&'static str],
) -> LabTest {
    LabTest {
        loinc,
        name,
        units: "",
        kind: TestKind::Text { normal, abnormal },
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LabPanel {
    pub key: &'static str,
    pub loinc: &'static str,
    pub name: &'static str,
    pub tests: &'static [LabTest],
    /// Problems this panel monitors (it is ordered more often for them).
    pub follows: &'static [&'static str],
}

#[rustfmt::skip]
const CBC: &[LabTest] = &[
    num("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", (Some(4.5), Some(11.0)), (4.8, 10.5), 1),
    num("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", (Some(4.2), Some(5.9)), (4.3, 5.7), 2),
    num("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", (Some(12.0), Some(17.5)), (12.4, 16.8), 1),
    num("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", (Some(36.0), Some(52.0)), (37.0, 50.0), 1),
    num("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", (Some(150.0), Some(400.0)), (160.0, 380.0), 0),
];

#[rustfmt::skip]
const BMP: &[LabTest] = &[
    num("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", (Some(136.0), Some(145.0)), (137.0, 144.0), 0),
    num("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", (Some(3.5), Some(5.1)), (3.6, 5.0), 1),
    num("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", (Some(98.0), Some(107.0)), (99.0, 106.0), 0),
    num("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", (Some(22.0), Some(29.0)), (23.0, 28.0), 0),
    num("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", (Some(7.0), Some(20.0)), (8.0, 19.0), 0),
    num("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", (Some(0.6), Some(1.3)), (0.65, 1.2), 2),
    num("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", (Some(70.0), Some(99.0)), (74.0, 98.0), 0),
    num("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", (Some(8.5), Some(10.2)), (8.7, 10.0), 1),
];

#[rustfmt::skip]
const LIPID: &[LabTest] = &[
    num("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", (None, Some(199.0)), (140.0, 210.0), 0),
    num("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", (None, Some(149.0)), (60.0, 170.0), 0),
    num("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", (Some(40.0), None), (38.0, 80.0), 0),
    num("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL", (None, Some(99.0)), (65.0, 140.0), 0),
];

const A1C: &[LabTest] = &[num(
    "4548-4",
    "Hemoglobin A1c/Hemoglobin.total in Blood",
    "%",
    (Some(4.0), Some(5.6)),
    (4.6, 5.9),
    1,
)];

const TSH: &[LabTest] = &[num(
    "3016-3",
    "Thyrotropin [Units/volume] in Serum or Plasma",
    "m[IU]/L",
    (Some(0.4), Some(4.0)),
    (0.6, 3.8),
    2,
)];

#[rustfmt::skip]
const UA: &[LabTest] = &[
    num("5803-2", "pH of Urine by Test strip", "[pH]", (Some(5.0), Some(8.0)), (5.5, 7.5), 1),
    num("5811-5", "Specific gravity of Urine by Test strip", "", (Some(1.005), Some(1.030)), (1.008, 1.028), 3),
    text("5792-7", "Glucose [Mass/volume] in Urine by Test strip", "Negative", &["Trace", "1+"]),
    text("5804-0", "Protein [Mass/volume] in Urine by Test strip", "Negative", &["Trace", "1+"]),
    text("5799-2", "Leukocyte esterase [Presence] in Urine by Test strip", "Negative", &["Small", "Moderate"]),
    text("5802-4", "Nitrite [Presence] in Urine by Test strip", "Negative", &["Positive"]),
];

const COVID: &[LabTest] = &[text(
    "94500-6",
    "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with probe detection",
    "Not detected",
    &["Detected"],
)];

#[rustfmt::skip]
pub const LAB_PANELS: &[LabPanel] = &[
    LabPanel { key: "cbc", loinc: "58410-2", name: "CBC panel - Blood by Automated count", tests: CBC, follows: &["pneumonia", "afib"] },
    LabPanel { key: "bmp", loinc: "51990-0", name: "Basic metabolic panel - Blood", tests: BMP, follows: &["htn", "ckd3", "dm2"] },
    LabPanel { key: "lipid", loinc: "57698-3", name: "Lipid panel with direct LDL - Serum or Plasma", tests: LIPID, follows: &["hld", "dm2"] },
    LabPanel { key: "a1c", loinc: "4548-4", name: "Hemoglobin A1c/Hemoglobin.total in Blood", tests: A1C, follows: &["dm2"] },
    LabPanel { key: "tsh", loinc: "3016-3", name: "Thyrotropin [Units/volume] in Serum or Plasma", tests: TSH, follows: &["hypothyroid"] },
    LabPanel { key: "ua", loinc: "24356-8", name: "Urinalysis complete panel - Urine", tests: UA, follows: &["uti", "ckd3"] },
    LabPanel { key: "covid", loinc: "94500-6", name: "SARS-CoV-2 RNA panel", tests: COVID, follows: &["bronchitis"] },
];

/// A condition that moves a test's typical range: (problem, LOINC, typical range).
#[rustfmt::skip]
pub const LAB_BIAS: &[(&str, &str, (f64, f64))] = &[
    ("dm2", "4548-4", (6.4, 9.6)),
    ("dm2", "2345-7", (105.0, 230.0)),
    ("dm2", "5792-7", (0.0, 1.0)),
    ("hld", "2093-3", (195.0, 275.0)),
    ("hld", "18262-6", (110.0, 185.0)),
    ("ckd3", "2160-0", (1.4, 2.3)),
    ("ckd3", "3094-0", (19.0, 38.0)),
    ("ckd3", "5804-0", (0.0, 1.0)),
    ("hypothyroid", "3016-3", (3.2, 9.5)),
    ("uti", "5799-2", (0.0, 1.0)),
    ("uti", "5802-4", (0.0, 1.0)),
];

#[derive(Debug, Clone, Copy)]
pub struct VaccineDef {
    pub cvx: &'static str,
    pub name: &'static str,
    /// Manufacturer (MVX code, name).
    pub maker: (&'static str, &'static str),
    pub route: Route,
    pub dose_ml: &'static str,
    /// Ages in years (inclusive) at which it is given.
    pub ages: (i64, i64),
    /// Given every season rather than once.
    pub seasonal: bool,
}

const fn vax(
    cvx: &'static str,
    name: &'static str,
    maker: (&'static str, &'static str),
    route: Route,
    dose_ml: &'static str,
    ages: (i64, i64),
    seasonal: bool,
) -> VaccineDef {
    VaccineDef {
        cvx,
        name,
        maker,
        route,
        dose_ml,
        ages,
        seasonal,
    }
}

const MERCK: (&str, &str) = ("MSD", "Merck and Co., Inc.");
const GSK: (&str, &str) = ("SKB", "GlaxoSmithKline");
const PFIZER: (&str, &str) = ("PFR", "Pfizer, Inc");
const SANOFI: (&str, &str) = ("PMC", "Sanofi Pasteur");

#[rustfmt::skip]
pub const VACCINES: &[VaccineDef] = &[
    vax("20", "DTaP", SANOFI, INTRAMUSCULAR, "0.5", (0, 6), false),
    vax("08", "Hep B, adolescent or pediatric", MERCK, INTRAMUSCULAR, "0.5", (0, 17), false),
    vax("03", "MMR", MERCK, SUBCUTANEOUS, "0.5", (1, 17), false),
    vax("21", "Varicella", MERCK, SUBCUTANEOUS, "0.5", (1, 17), false),
    vax("165", "HPV9", MERCK, INTRAMUSCULAR, "0.5", (11, 26), false),
    vax("115", "Tdap", GSK, INTRAMUSCULAR, "0.5", (11, 110), false),
    vax("150", "Influenza, injectable, quadrivalent, preservative free", GSK, INTRAMUSCULAR, "0.5", (1, 110), true),
    vax("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", PFIZER, INTRAMUSCULAR, "0.3", (12, 110), false),
    vax("187", "Zoster vaccine recombinant", GSK, INTRAMUSCULAR, "0.5", (50, 110), false),
    vax("133", "Pneumococcal conjugate PCV 13", PFIZER, INTRAMUSCULAR, "0.5", (65, 110), false),
];

/// Orders that are not lab panels: imaging, cardiology, therapy (CPT).
#[derive(Debug, Clone, Copy)]
pub struct ProcedureDef {
    pub cpt: &'static str,
    pub name: &'static str,
    pub follows: &'static [&'static str],
}

#[rustfmt::skip]
pub const PROCEDURES: &[ProcedureDef] = &[
    ProcedureDef { cpt: "71046", name: "XR Chest 2 Views", follows: &["pneumonia", "copd", "bronchitis", "asthma"] },
    ProcedureDef { cpt: "70450", name: "CT Head without Contrast", follows: &["migraine"] },
    ProcedureDef { cpt: "73721", name: "MRI Knee without Contrast", follows: &["oa_knee"] },
    ProcedureDef { cpt: "93306", name: "Echocardiogram, Complete", follows: &["afib"] },
    ProcedureDef { cpt: "93000", name: "Electrocardiogram, 12-Lead", follows: &["afib", "htn"] },
    ProcedureDef { cpt: "45378", name: "Colonoscopy, Diagnostic", follows: &["gerd"] },
    ProcedureDef { cpt: "77067", name: "Screening Mammography, Bilateral", follows: &[] },
    ProcedureDef { cpt: "97161", name: "Physical Therapy Evaluation, Low Complexity", follows: &["lbp", "oa_knee", "ankle_sprain"] },
    ProcedureDef { cpt: "72100", name: "XR Lumbar Spine 2-3 Views", follows: &["lbp"] },
    ProcedureDef { cpt: "76700", name: "US Abdomen Complete", follows: &["gerd"] },
];

/// Where a problem gets referred: (problem, specialty key).
#[rustfmt::skip]
pub const REFERRALS: &[(&str, &str)] = &[
    ("afib", "cardiology"),
    ("htn", "cardiology"),
    ("dm2", "endocrinology"),
    ("hypothyroid", "endocrinology"),
    ("oa_knee", "orthopedics"),
    ("ankle_sprain", "orthopedics"),
    ("lbp", "orthopedics"),
    ("gerd", "gastroenterology"),
    ("copd", "pulmonology"),
    ("asthma", "pulmonology"),
    ("depression", "psychiatry"),
    ("anxiety", "psychiatry"),
    ("adhd", "psychiatry"),
    ("migraine", "neurology"),
    ("obesity", "endocrinology"),
];

/// Clinical Summary document types (LOINC).
pub const DOC_SUMMARY: (&str, &str) = ("34133-9", "Summarization of Episode Note");
pub const DOC_DISCHARGE: (&str, &str) = ("18842-5", "Discharge summary");

/// Media document types and the file name stem used for them.
#[rustfmt::skip]
pub const MEDIA_KINDS: &[(&str, &str)] = &[
    ("Consent Form", "consent-form"),
    ("Advance Directive", "advance-directive"),
    ("Outside Records", "outside-records"),
    ("ECG Tracing", "ecg-tracing"),
    ("Insurance Card", "insurance-card"),
];

#[rustfmt::skip]
pub const REASONS_OUTPATIENT: &[&str] = &[
    "Annual physical", "Follow-up visit", "Medication review", "Cough", "Sore throat",
    "Back pain", "Knee pain", "Headache", "Rash", "Fatigue", "Blood pressure check",
];
#[rustfmt::skip]
pub const REASONS_CHILD: &[&str] = &[
    "Well child visit", "Ear pain", "Fever", "Cough", "Sore throat", "Rash",
];
/// Hospital visit reasons, with the problem (key) they are about, if any: a patient with
/// that problem is more likely to come in for it, and the visit is diagnosed with it.
#[rustfmt::skip]
pub const REASONS_EMERGENCY: &[(&str, &str)] = &[
    ("Chest pain", ""),
    ("Abdominal pain", ""),
    ("Shortness of breath", "asthma"),
    ("Shortness of breath", "copd"),
    ("Fall", ""),
    ("Laceration", ""),
    ("Fever", ""),
    ("Ankle injury", "ankle_sprain"),
    ("Syncope", ""),
    ("Severe headache", "migraine"),
    ("Dysuria and fever", "uti"),
];
#[rustfmt::skip]
pub const REASONS_INPATIENT: &[(&str, &str)] = &[
    ("Pneumonia", "pneumonia"),
    ("Chest pain, rule out myocardial infarction", ""),
    ("Cellulitis", ""),
    ("COPD exacerbation", "copd"),
    ("Atrial fibrillation with rapid ventricular response", "afib"),
    ("Dehydration", ""),
    ("Elective knee replacement", "oa_knee"),
    ("Hyperglycemia", "dm2"),
];
#[rustfmt::skip]
pub const REASONS_OBSERVATION: &[(&str, &str)] = &[
    ("Chest pain observation", ""),
    ("Syncope", ""),
    ("Abdominal pain observation", ""),
    ("Asthma exacerbation", "asthma"),
];
/// Reasons a booked appointment carries.
#[rustfmt::skip]
pub const APPOINTMENT_REASONS: &[&str] = &[
    "Follow-up visit", "Annual physical", "New patient visit", "Sick visit",
    "Medication review",
];

/// A payer and plan: (company ID, company name, plan ID, plan name, plan type, ages it
/// covers).
pub type Payer = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i64, i64),
);

/// The payers of the panel's patients.
#[rustfmt::skip]
pub const PAYERS: &[Payer] = &[
    ("SHP", "Sandbox Health Plan", "SHP-PPO", "Sandbox PPO Gold", "PPO", (0, 64)),
    ("SHP", "Sandbox Health Plan", "SHP-HMO", "Sandbox HMO Silver", "HMO", (0, 64)),
    ("SMI", "Sandbox Mutual Insurance", "SMI-EPO", "Sandbox Mutual EPO", "EPO", (0, 64)),
    ("SCC", "Sandbox Community Care", "SCC-MCD", "Sandbox Community Care (Medicaid)", "Medicaid", (0, 110)),
    ("SSA", "Sandbox Senior Advantage", "SSA-MA", "Sandbox Senior Advantage", "Medicare Advantage", (65, 110)),
];
