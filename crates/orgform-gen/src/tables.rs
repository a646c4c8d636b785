//! Invented names and real places (IANA zones, ISO 639-1 codes, E.164
//! country codes) the generator draws from.

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Ada", "Astrid", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ines",
    "Jonas", "Kaito", "Leila", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sven",
    "Tariq", "Ulla", "Vera", "Wilhelm", "Ximena", "Yusuf", "Zofia", "Amara", "Bodil", "Cyrus",
    "Dagny", "Emil", "Freja", "Gustav", "Helmi", "Ivar", "Julia", "Kasper", "Linnea", "Magnus",
    "Nils", "Olivia", "Petra", "Rune", "Saga", "Tove", "Viggo", "Wanda", "Aiko", "Bjorn", "Carmen",
    "Diego", "Esther", "Felix", "Greta", "Hugo", "Ingrid", "Jakob", "Klara", "Lars", "Maja",
    "Noah", "Otto", "Paula", "Ronja", "Stella", "Theo", "Valter", "Wilma", "Yara",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Lindqvist",
    "Marchetti",
    "Okafor",
    "Tanaka",
    "Novak",
    "Haddad",
    "Berglund",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Olsen",
    "Petrov",
    "Quist",
    "Rossi",
    "Schmidt",
    "Torres",
    "Ueda",
    "Virtanen",
    "Weber",
    "Yilmaz",
    "Zielinski",
    "Andersson",
    "Bakker",
    "Castillo",
    "Dahl",
    "Engstrom",
    "Ferreira",
    "Gunnarsson",
    "Holm",
    "Iversen",
    "Jovanovic",
    "Karlsson",
    "Lund",
    "Mikkelsen",
    "Nieminen",
    "Ortega",
    "Pedersen",
    "Ruiz",
    "Sato",
    "Takahashi",
    "Vasquez",
    "Wallin",
    "Ahmadi",
    "Bianchi",
    "Christensen",
    "De Vries",
    "Ek",
    "Forsberg",
    "Gomez",
    "Hoffmann",
    "Isaksson",
];

/// An office: city, IANA zone, ISO 639-1 language, and the digits
/// that start a phone number there (country code and a mobile prefix). No
/// prefix of equal length repeats, so `prefix + 7-digit index` never
/// collides across offices.
pub(crate) struct Office {
    pub city: &'static str,
    pub timezone: &'static str,
    pub language: &'static str,
    pub phone_prefix: &'static str,
}

pub(crate) const OFFICES: &[Office] = &[
    Office {
        city: "Stockholm",
        timezone: "Europe/Stockholm",
        language: "sv",
        phone_prefix: "4670",
    },
    Office {
        city: "Gothenburg",
        timezone: "Europe/Stockholm",
        language: "sv",
        phone_prefix: "4673",
    },
    Office {
        city: "Berlin",
        timezone: "Europe/Berlin",
        language: "de",
        phone_prefix: "49151",
    },
    Office {
        city: "New York",
        timezone: "America/New_York",
        language: "en",
        phone_prefix: "1212",
    },
    Office {
        city: "San Francisco",
        timezone: "America/Los_Angeles",
        language: "en",
        phone_prefix: "1415",
    },
    Office {
        city: "London",
        timezone: "Europe/London",
        language: "en",
        phone_prefix: "447700",
    },
    Office {
        city: "Paris",
        timezone: "Europe/Paris",
        language: "fr",
        phone_prefix: "336",
    },
    Office {
        city: "Madrid",
        timezone: "Europe/Madrid",
        language: "es",
        phone_prefix: "346",
    },
    Office {
        city: "Helsinki",
        timezone: "Europe/Helsinki",
        language: "fi",
        phone_prefix: "35840",
    },
    Office {
        city: "Oslo",
        timezone: "Europe/Oslo",
        language: "nb",
        phone_prefix: "474",
    },
    Office {
        city: "Copenhagen",
        timezone: "Europe/Copenhagen",
        language: "da",
        phone_prefix: "452",
    },
    Office {
        city: "Amsterdam",
        timezone: "Europe/Amsterdam",
        language: "nl",
        phone_prefix: "316",
    },
    Office {
        city: "Warsaw",
        timezone: "Europe/Warsaw",
        language: "pl",
        phone_prefix: "485",
    },
    Office {
        city: "Tokyo",
        timezone: "Asia/Tokyo",
        language: "ja",
        phone_prefix: "8190",
    },
    Office {
        city: "Sao Paulo",
        timezone: "America/Sao_Paulo",
        language: "pt",
        phone_prefix: "5511",
    },
];

/// Words for group names below the root, by depth (1 = divisions).
pub(crate) const UNIT_WORDS: &[&[&str]] = &[
    &[
        "Sales",
        "Engineering",
        "Operations",
        "Finance",
        "People",
        "Marketing",
        "Support",
        "Legal",
    ],
    &[
        "North",
        "South",
        "East",
        "West",
        "Central",
        "Global",
        "Enterprise",
        "Consumer",
    ],
    &[
        "Platform",
        "Growth",
        "Accounts",
        "Partners",
        "Logistics",
        "Quality",
        "Research",
        "Design",
    ],
    &[
        "Alpha", "Bravo", "Delta", "Echo", "Falcon", "Harbor", "Juniper", "Kestrel",
    ],
    &[
        "Core", "Edge", "Field", "Desk", "Studio", "Lab", "Crew", "Squad",
    ],
];

/// Employment types: roots of their own, as in the HR guide's mapping.
pub(crate) const EMPLOYMENT: &[(&str, &str)] = &[
    ("EMP-PERM", "Permanent employees"),
    ("EMP-FIXED", "Fixed-term employees"),
    ("EMP-CONTR", "Contractors"),
];

pub(crate) const GENDERS: &[&str] = &["Male", "Female", "Non-binary", "Not-specified"];

pub(crate) const COST_CENTERS: &[&str] =
    &["CC-100", "CC-200", "CC-300", "CC-400", "CC-500", "CC-600"];
