//! Phone numbers to E.164, as DESIGN section 8 says.
//!
//! Spaces, dashes, dots, slashes and brackets are dropped, and so is a
//! `(0)` trunk prefix written after the country code (`+46 (0)70 …`).
//! `00` opens an international number like `+`. An international number
//! is kept when it is `+` and 8 to 15 digits (the spec's rule; no
//! numbering plan is consulted, so `+461234567` passes as the API's own
//! example does). A national number (`070-123 45 67`) needs the mapping's
//! `defaultCountry`: its trunk prefix is dropped and the country's calling
//! code put in front (`+46701234567`).
//!
//! Why a table and not a phone-number crate: `phonenumber` (the only
//! maintained one) builds libphonenumber's 15 MB metadata at compile time
//! and brings regex, nom, quick-xml, postcard and strum, for a job that
//! here is "drop the trunk prefix, add the calling code". The limitation:
//! only the countries below are known as default countries (an unknown
//! one is a mapping error naming them), and a national number's length is
//! not checked against the country's plan, only against E.164's 8 to 15
//! digits.

/// Country, calling code, trunk prefix (empty where national numbers have none).
const COUNTRIES: &[(&str, &str, &str)] = &[
    ("AT", "43", "0"),
    ("AU", "61", "0"),
    ("BE", "32", "0"),
    ("CA", "1", "1"),
    ("CH", "41", "0"),
    ("DE", "49", "0"),
    ("DK", "45", ""),
    ("EE", "372", ""),
    ("ES", "34", ""),
    ("FI", "358", "0"),
    ("FR", "33", "0"),
    ("GB", "44", "0"),
    ("IE", "353", "0"),
    ("IN", "91", "0"),
    ("IS", "354", ""),
    ("IT", "39", ""),
    ("JP", "81", "0"),
    ("LT", "370", "8"),
    ("LV", "371", ""),
    ("NL", "31", "0"),
    ("NO", "47", ""),
    ("NZ", "64", "0"),
    ("PL", "48", ""),
    ("PT", "351", ""),
    ("SE", "46", "0"),
    ("US", "1", "1"),
];

/// The countries a mapping may name as `defaultCountry`.
pub(crate) fn known_countries() -> String {
    COUNTRIES.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
}

/// Whether `code` (ISO 3166 alpha-2, any case) is in the table.
pub(crate) fn is_known(code: &str) -> bool {
    COUNTRIES.iter().any(|c| c.0.eq_ignore_ascii_case(code))
}

/// Why a number could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Letters or other characters that are no part of a number.
    NotANumber,
    /// A national number and no default country.
    National,
    /// Too few or too many digits for E.164.
    Length(usize),
}

/// `raw` in E.164, or why not. `raw` is not empty.
pub(crate) fn normalize(raw: &str, default_country: Option<&str>) -> Result<String, Problem> {
    let s = raw.trim().replace("(0)", "");
    let mut digits = String::with_capacity(s.len());
    let mut plus = false;
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' | '\u{2009}' | '\u{202f}' => {}
            _ => return Err(Problem::NotANumber),
        }
    }
    if !plus && let Some(rest) = digits.strip_prefix("00") {
        digits = rest.to_owned();
        plus = true;
    }
    let full = if plus {
        digits
    } else {
        let Some((_, cc, trunk)) =
            default_country.and_then(|d| COUNTRIES.iter().find(|c| c.0.eq_ignore_ascii_case(d)))
        else {
            return Err(Problem::National);
        };
        let national = if trunk.is_empty() {
            digits.as_str()
        } else {
            digits.strip_prefix(trunk).unwrap_or(&digits)
        };
        format!("{cc}{national}")
    };
    if !(8..=15).contains(&full.len()) || full.starts_with('0') {
        return Err(Problem::Length(full.len()));
    }
    Ok(format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_one_number() {
        for raw in [
            "+46 70 123 45 67",
            "+46 (0)70-123 45 67",
            "0046 70 123 45 67",
            "+46.70.123.45.67",
        ] {
            assert_eq!(normalize(raw, None), Ok("+46701234567".into()), "{raw}");
        }
        assert_eq!(
            normalize("070-123 45 67", Some("se")),
            Ok("+46701234567".into())
        );
        assert_eq!(normalize("070-123 45 67", None), Err(Problem::National));
        assert_eq!(
            normalize("(212) 555-0100", Some("US")),
            Ok("+12125550100".into())
        );
        assert_eq!(
            normalize("22 33 44 55", Some("NO")),
            Ok("+4722334455".into())
        );
        assert_eq!(normalize("+46 70 ext 5", None), Err(Problem::NotANumber));
        assert_eq!(normalize("+46 12", None), Err(Problem::Length(4)));
        assert_eq!(normalize("+461234567", None), Ok("+461234567".into()));
    }
}
