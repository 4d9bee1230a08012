//! Name and place tables for synthetic people. Common given names and surnames (so no one
//! stands out), real Wisconsin towns with their ZIP codes, counties and area codes (the
//! platform's own examples live in Madison, WI), made-up street addresses, and phone
//! numbers only in the 555-0100..0199 range reserved for fiction.

#[rustfmt::skip]
pub const MALE_FIRST: &[&str] = &[
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven",
    "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald",
    "Edward", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan",
    "Stephen", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander",
    "Patrick", "Frank", "Raymond", "Dennis", "Tyler", "Aaron", "Jose", "Adam", "Nathan",
    "Henry", "Carlos", "Luis", "Miguel", "Tuan", "Wei", "Kou", "Ahmed", "Noah", "Liam", "Ethan",
    "Owen", "Caleb",
];

#[rustfmt::skip]
pub const FEMALE_FIRST: &[&str] = &[
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly",
    "Emily", "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie",
    "Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen", "Amy", "Angela", "Anna", "Brenda",
    "Emma", "Olivia", "Sophia", "Grace", "Rachel", "Catherine", "Maria", "Ana", "Rosa", "Linh",
    "Mei", "Mai", "Fatima", "Hannah", "Julia", "Megan", "Abigail", "Chloe", "Ava", "Lucy",
    "Nora",
];

#[rustfmt::skip]
pub const LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Olson", "Larson", "Schmidt",
    "Schultz", "Meyer", "Hansen", "Peterson", "Krueger", "Vang", "Xiong", "Lor", "Yang",
    "Kowalski", "Nowak", "Fischer", "Weber", "Becker", "Hoffman", "Wagner", "Klein", "Patel",
    "Shah", "Kim", "Chen", "Wang", "Murphy", "Sullivan", "O'Brien", "Kelly", "Bauer", "Novak",
    "Jensen", "Christensen", "Lund", "Berg", "Erickson", "Gustafson", "Koch", "Zimmerman",
    "Brooks", "Reed", "Cook", "Morgan", "Bell", "Cooper", "Ward", "Cox", "Howard", "Price",
    "Bennett",
];

/// Pairings drawn again because they name someone famous.
#[rustfmt::skip]
pub const FAMOUS: &[(&str, &str)] = &[
    ("Michael", "Jackson"),
    ("James", "Taylor"),
    ("John", "Adams"),
    ("Samuel", "Adams"),
    ("Paul", "Walker"),
    ("Jennifer", "Lopez"),
    ("Stephen", "King"),
    ("Brian", "Wilson"),
    ("John", "Williams"),
    ("George", "Martin"),
    ("Emma", "Stone"),
    ("Kevin", "Bell"),
    ("Thomas", "Edison"),
    ("Mark", "Taylor"),
];

/// (city, county, ZIP, area code, weight)
#[rustfmt::skip]
pub const PLACES: &[(&str, &str, &str, &str, u32)] = &[
    ("Madison", "Dane", "53703", "608", 10),
    ("Madison", "Dane", "53711", "608", 8),
    ("Madison", "Dane", "53704", "608", 8),
    ("Middleton", "Dane", "53562", "608", 5),
    ("Verona", "Dane", "53593", "608", 4),
    ("Sun Prairie", "Dane", "53590", "608", 5),
    ("Fitchburg", "Dane", "53713", "608", 4),
    ("Monona", "Dane", "53716", "608", 2),
    ("Stoughton", "Dane", "53589", "608", 3),
    ("Waunakee", "Dane", "53597", "608", 3),
    ("Janesville", "Rock", "53545", "608", 4),
    ("Beloit", "Rock", "53511", "608", 3),
    ("Monroe", "Green", "53566", "608", 2),
    ("Baraboo", "Sauk", "53913", "608", 2),
    ("Portage", "Columbia", "53901", "608", 2),
    ("Dodgeville", "Iowa", "53533", "608", 1),
    ("Watertown", "Jefferson", "53094", "920", 2),
    ("Milwaukee", "Milwaukee", "53202", "414", 3),
    ("Waukesha", "Waukesha", "53186", "262", 2),
    ("Oshkosh", "Winnebago", "54901", "920", 1),
    ("Green Bay", "Brown", "54301", "920", 1),
    ("La Crosse", "La Crosse", "54601", "608", 1),
];

#[rustfmt::skip]
pub const STREET_NAMES: &[&str] = &[
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Willow", "Birch", "Walnut", "Hickory", "Lake",
    "Park", "Main", "Church", "Mill", "River", "Spring", "Hill", "Prairie", "Meadow", "Sunset",
    "Highland", "Lincoln", "Orchard", "Forest", "Ridge", "Valley", "Cherry", "Aspen", "Juniper",
    "Sycamore", "Chestnut", "Harbor", "Fox", "Badger", "Heather", "Clover",
];

#[rustfmt::skip]
pub const STREET_SUFFIXES: &[&str] = &[
    "St", "Ave", "Dr", "Ln", "Rd", "Ct", "Way", "Blvd", "Pl",
];

/// (language code, weight): English, Spanish, Hmong, Vietnamese, Chinese, German, Arabic.
#[rustfmt::skip]
pub const LANGUAGES: &[(&str, u32)] = &[
    ("en", 86),
    ("es", 7),
    ("hmn", 2),
    ("vi", 1),
    ("zh", 1),
    ("de", 1),
    ("ar", 1),
];

/// (race, weight), in the platform's spelling of the CDC categories.
#[rustfmt::skip]
pub const RACES: &[(&str, u32)] = &[
    ("White", 76),
    ("Black or African American", 8),
    ("Asian", 6),
    ("American Indian or Alaska Native", 2),
    ("Native Hawaiian or Other Pacific Islander", 1),
    ("Other Race", 4),
    ("Unknown", 3),
];

#[rustfmt::skip]
pub const RELIGIONS: &[&str] = &[
    "Christian (non-Catholic, non-specific)", "Roman Catholic", "Lutheran", "Jewish", "Muslim",
    "Buddhist", "None",
];
