//! The sandbox's own health system: facilities, the clinical specialties staffed in them,
//! the providers (generated from the seed), and the organization directory answered by
//! Organization Query. Every name carries "Sandbox" so no one mistakes it for a real
//! institution.

use super::names::{FAMOUS, FEMALE_FIRST, LAST, MALE_FIRST};
use super::rng::Rng;
use chrono::NaiveDate;

pub const STATE: &str = "WI";
pub const COUNTRY: &str = "US";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility {
    pub code: &'static str,
    pub name: &'static str,
    /// Location type as the data models spell it (`Location.Type`).
    pub kind: &'static str,
    pub street: &'static str,
    pub city: &'static str,
    pub zip: &'static str,
    pub county: &'static str,
    pub phone: &'static str,
}

pub const HOSPITAL: usize = 0;

pub const FACILITIES: &[Facility] = &[
    Facility {
        code: "SGH",
        name: "Sandbox General Hospital",
        kind: "Hospital",
        street: "4100 Lakeshore Dr",
        city: "Madison",
        zip: "53703",
        county: "Dane",
        phone: "+16085550100",
    },
    Facility {
        code: "SFCE",
        name: "Sandbox Family Clinic East",
        kind: "Clinic",
        street: "2210 Prairie Rd",
        city: "Madison",
        zip: "53704",
        county: "Dane",
        phone: "+16085550110",
    },
    Facility {
        code: "SFCW",
        name: "Sandbox Family Clinic West",
        kind: "Clinic",
        street: "8300 Meadow Ln",
        city: "Middleton",
        zip: "53562",
        county: "Dane",
        phone: "+16085550120",
    },
    Facility {
        code: "SSC",
        name: "Sandbox Specialty Center",
        kind: "Clinic",
        street: "3150 Ridge Blvd",
        city: "Fitchburg",
        zip: "53713",
        county: "Dane",
        phone: "+16085550130",
    },
];

/// A specialty as staffed at one facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specialty {
    pub key: &'static str,
    /// NUCC taxonomy code and display.
    pub taxonomy: &'static str,
    pub name: &'static str,
    pub department: &'static str,
    pub facility: usize,
    pub providers: usize,
    pub credentials: &'static [&'static str],
    /// Sees patients by appointment (has schedulable slots).
    pub appointments: bool,
    pub primary_care: bool,
}

const fn spec(
    key: &'static str,
    taxonomy: &'static str,
    name: &'static str,
    department: &'static str,
    facility: usize,
    providers: usize,
    credentials: &'static [&'static str],
) -> Specialty {
    Specialty {
        key,
        taxonomy,
        name,
        department,
        facility,
        providers,
        credentials,
        appointments: facility != HOSPITAL,
        primary_care: false,
    }
}

const fn primary(mut s: Specialty) -> Specialty {
    s.primary_care = true;
    s
}

const PHYS: &[&str] = &["MD", "MD", "MD", "DO"];
const PRIMARY: &[&str] = &["MD", "MD", "DO", "NP", "PA"];

/// 50 providers in all.
#[rustfmt::skip]
pub const SPECIALTIES: &[Specialty] = &[
    primary(spec("family", "207Q00000X", "Family Medicine", "Family Medicine", 1, 5, PRIMARY)),
    primary(spec("family", "207Q00000X", "Family Medicine", "Family Medicine", 2, 5, PRIMARY)),
    primary(spec("internal", "207R00000X", "Internal Medicine", "Internal Medicine", 1, 5, PRIMARY)),
    primary(spec("pediatrics", "208000000X", "Pediatrics", "Pediatrics", 2, 5, PRIMARY)),
    spec("obgyn", "207V00000X", "Obstetrics & Gynecology", "Women's Health", 2, 3, PHYS),
    spec("cardiology", "207RC0000X", "Cardiovascular Disease", "Cardiology", 3, 3, PHYS),
    spec("endocrinology", "207RE0101X", "Endocrinology, Diabetes & Metabolism", "Endocrinology", 3, 2, PHYS),
    spec("orthopedics", "207X00000X", "Orthopaedic Surgery", "Orthopedics", 3, 3, PHYS),
    spec("dermatology", "207N00000X", "Dermatology", "Dermatology", 3, 2, PHYS),
    spec("gastroenterology", "207RG0100X", "Gastroenterology", "Gastroenterology", 3, 2, PHYS),
    spec("pulmonology", "207RP1001X", "Pulmonary Disease", "Pulmonology", 3, 2, PHYS),
    spec("neurology", "2084N0400X", "Neurology", "Neurology", 3, 2, PHYS),
    spec("psychiatry", "2084P0800X", "Psychiatry", "Behavioral Health", 3, 2, &["MD", "NP"]),
    spec("emergency", "207P00000X", "Emergency Medicine", "Emergency", HOSPITAL, 4, PHYS),
    spec("hospitalist", "208M00000X", "Hospitalist", "Medical/Surgical", HOSPITAL, 3, PHYS),
    spec("radiology", "2085R0202X", "Diagnostic Radiology", "Radiology", HOSPITAL, 2, PHYS),
];

/// An organization of the directory answered by Organization Query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Organization {
    pub id: &'static str,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// HL7 organization-type code (`prov`, `dept`, `ins`, `other`...).
    pub kind: &'static str,
    pub street: &'static str,
    pub city: &'static str,
    pub zip: &'static str,
    pub county: &'static str,
    pub phone: &'static str,
    /// Index of the parent organization.
    pub part_of: Option<usize>,
    pub updated: &'static str,
    pub active: bool,
}

const fn org(
    id: &'static str,
    name: &'static str,
    kind: &'static str,
    place: (&'static str, &'static str, &'static str, &'static str),
    phone: &'static str,
    updated: &'static str,
) -> Organization {
    Organization {
        id,
        name,
        aliases: &[],
        kind,
        street: place.0,
        city: place.1,
        zip: place.2,
        county: place.3,
        phone,
        part_of: Some(0),
        updated,
        active: true,
    }
}

impl Organization {
    /// Not part of the health system.
    const fn independent(mut self) -> Organization {
        self.part_of = None;
        self
    }

    const fn aka(mut self, aliases: &'static [&'static str]) -> Organization {
        self.aliases = aliases;
        self
    }

    const fn inactive(mut self) -> Organization {
        self.active = false;
        self
    }
}

/// The organization directory. The first entry is the health system; 1..=4 are the
/// facilities, in the order of [`FACILITIES`].
#[rustfmt::skip]
pub const ORGANIZATIONS: &[Organization] = &[
    org("1999000001", "Sandbox Health System", "prov", ("4100 Lakeshore Dr", "Madison", "53703", "Dane"), "+16085550101", "2026-01-15")
        .independent().aka(&["SHS", "Sandbox Health"]),
    org("1999000019", "Sandbox General Hospital", "prov", ("4100 Lakeshore Dr", "Madison", "53703", "Dane"), "+16085550100", "2026-03-02")
        .aka(&["SGH"]),
    org("1999000027", "Sandbox Family Clinic East", "prov", ("2210 Prairie Rd", "Madison", "53704", "Dane"), "+16085550110", "2025-11-20"),
    org("1999000035", "Sandbox Family Clinic West", "prov", ("8300 Meadow Ln", "Middleton", "53562", "Dane"), "+16085550120", "2026-05-08"),
    org("1999000043", "Sandbox Specialty Center", "prov", ("3150 Ridge Blvd", "Fitchburg", "53713", "Dane"), "+16085550130", "2026-02-11"),
    org("1999000050", "Sandbox Reference Laboratory", "prov", ("4120 Lakeshore Dr", "Madison", "53703", "Dane"), "+16085550140", "2025-09-30"),
    org("1999000068", "Sandbox Community Pharmacy", "prov", ("2230 Prairie Rd", "Madison", "53704", "Dane"), "+16085550150", "2026-06-17"),
    org("1999000076", "Sandbox Health Plan", "ins", ("700 Harbor Way", "Madison", "53711", "Dane"), "+16085550160", "2026-04-01")
        .independent(),
    org("1999000084", "Sandbox Mutual Insurance", "ins", ("55 Mill St", "Milwaukee", "53202", "Milwaukee"), "+14145550170", "2025-12-05")
        .independent(),
    org("1999000092", "Sandbox Clinic Janesville", "prov", ("18 Orchard Ave", "Janesville", "53545", "Rock"), "+16085550180", "2026-07-22")
        .independent(),
    org("1999000100", "Sandbox Clinic Beloit", "prov", ("410 River Rd", "Beloit", "53511", "Rock"), "+16085550181", "2026-01-29")
        .independent(),
    org("1999000118", "Sandbox Clinic Monroe", "prov", ("92 Hickory St", "Monroe", "53566", "Green"), "+16085550182", "2025-10-14")
        .independent(),
    org("1999000126", "Sandbox Clinic Baraboo", "prov", ("1200 Birch Ln", "Baraboo", "53913", "Sauk"), "+16085550183", "2026-08-03")
        .independent(),
    org("1999000134", "Sandbox Clinic Waukesha", "prov", ("77 Spring Ct", "Waukesha", "53186", "Waukesha"), "+12625550184", "2026-03-19")
        .independent(),
    org("1999000142", "Sandbox Clinic Green Bay", "prov", ("300 Fox Blvd", "Green Bay", "54301", "Brown"), "+19205550185", "2025-08-25")
        .independent(),
    org("1999000159", "Sandbox Clinic Oshkosh", "prov", ("64 Lake St", "Oshkosh", "54901", "Winnebago"), "+19205550186", "2026-09-09")
        .independent(),
    org("1999000167", "Sandbox Clinic La Crosse", "prov", ("9 Valley Dr", "La Crosse", "54601", "La Crosse"), "+16085550187", "2024-12-31")
        .independent().inactive(),
    org("1999000175", "Sandbox Home Health", "prov", ("2250 Prairie Rd", "Madison", "53704", "Dane"), "+16085550188", "2026-10-01"),
];

/// The organization record of a facility.
pub fn facility_organization(facility: usize) -> &'static Organization {
    let index = (facility + 1).min(ORGANIZATIONS.len() - 1);
    &ORGANIZATIONS[index]
}

/// An NPI-shaped number: "1" and eight drawn digits, then the check digit of the NPI
/// standard (Luhn over the 80840 prefix), so validators that check NPIs accept it.
pub fn npi(rng: &mut Rng) -> String {
    let mut digits = String::with_capacity(10);
    digits.push('1');
    digits.push_str(&rng.digits(8));
    let mut sum = 24; // the 80840 prefix's contribution, per the NPI check-digit rule
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    digits.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
    digits
}

/// A name from the tables, drawn again when it names someone famous.
pub fn person_name(rng: &mut Rng, female: bool) -> (&'static str, &'static str) {
    loop {
        let first = rng.pick(if female { FEMALE_FIRST } else { MALE_FIRST });
        let last = rng.pick(LAST);
        if !FAMOUS.contains(&(first, last)) {
            return (first, last);
        }
    }
}

const STREAM_PROVIDERS: u64 = 2;

/// A provider of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub npi: String,
    pub first_name: String,
    pub last_name: String,
    pub credentials: &'static str,
    pub sex: &'static str,
    /// Index into [`SPECIALTIES`].
    pub specialty: usize,
    pub phone: String,
    pub email: String,
    pub active: bool,
    pub languages: Vec<&'static str>,
    /// State license number.
    pub license: String,
    /// In practice since.
    pub since: NaiveDate,
}

impl Provider {
    pub fn specialty(&self) -> &'static Specialty {
        &SPECIALTIES[self.specialty]
    }

    pub fn facility(&self) -> &'static Facility {
        &FACILITIES[self.specialty().facility]
    }

    pub fn department(&self) -> &'static str {
        self.specialty().department
    }

    /// "Dr. Pat Granite, MD" style display.
    pub fn display_name(&self) -> String {
        format!(
            "{} {}, {}",
            self.first_name, self.last_name, self.credentials
        )
    }
}

/// The 50 providers, by specialty in table order.
pub fn providers(seed: u64) -> Vec<Provider> {
    let mut out = Vec::new();
    for (s, spec) in SPECIALTIES.iter().enumerate() {
        for _ in 0..spec.providers {
            let index = out.len();
            let mut rng = Rng::derive(seed, STREAM_PROVIDERS, index as u64);
            let female = rng.chance(55);
            let (first, last) = person_name(&mut rng, female);
            let facility = &FACILITIES[spec.facility];
            let area = &facility.phone[2..5];
            let languages = if rng.chance(15) {
                vec!["en", "es"]
            } else {
                vec!["en"]
            };
            let since =
                NaiveDate::from_ymd_opt(rng.range(1998, 2022) as i32, 7, 1).unwrap_or_default();
            out.push(Provider {
                npi: npi(&mut rng),
                first_name: first.to_string(),
                last_name: last.to_string(),
                credentials: rng.pick(spec.credentials),
                sex: if female { "Female" } else { "Male" },
                specialty: s,
                phone: format!("+1{area}5550{}", rng.range(100, 199)),
                email: format!(
                    "{}.{}@example.com",
                    first.to_ascii_lowercase(),
                    last.to_ascii_lowercase().replace('\'', "")
                ),
                // A few inactive providers, as any real directory has.
                active: index % 17 != 16,
                languages,
                license: format!("{}-{}", rng.range(10000, 69999), rng.range(20, 36)),
                since,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npi_check_digit() {
        // The worked example of the NPI standard: 123456789 has check digit 3.
        let mut sum = 24;
        for (i, c) in "123456789".bytes().rev().enumerate() {
            let mut d = u32::from(c - b'0');
            if i % 2 == 0 {
                d *= 2;
                if d > 9 {
                    d -= 9;
                }
            }
            sum += d;
        }
        assert_eq!((10 - sum % 10) % 10, 3);
        let mut rng = Rng::derive(1, 1, 1);
        let n = npi(&mut rng);
        assert_eq!(n.len(), 10);
        assert!(n.starts_with('1'));
    }

    #[test]
    fn fifty_providers() {
        assert_eq!(SPECIALTIES.iter().map(|s| s.providers).sum::<usize>(), 50);
        let list = providers(5);
        assert_eq!(list.len(), 50);
        assert_eq!(list, providers(5));
        assert_eq!(
            facility_organization(HOSPITAL).name,
            FACILITIES[HOSPITAL].name
        );
        for (f, facility) in FACILITIES.iter().enumerate() {
            assert_eq!(facility_organization(f).name, facility.name);
        }
    }
}
