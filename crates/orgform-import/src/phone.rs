//! Phone numbers to E.164, as DESIGN section 8 says.
//!
//! Spaces, dashes, dots, slashes and brackets are dropped, and so is a
//! `(0)` trunk prefix written after the country code (`+46 (0)70 …`).
//! `00` opens an international number like `+`.
//!
//! - An international number is kept when it is `+` and 8 to 15 digits
//!   (the spec's rule). No numbering plan is consulted, so `+461234567`
//!   passes as the API's own example does, and this path costs a scan of
//!   the cell.
//! - A national number (`070-123 45 67`) needs the mapping's
//!   `defaultCountry`, any region libphonenumber's metadata knows (the
//!   `phonenumber` crate): it is parsed as a number of that region (the
//!   crate knows its trunk prefix and calling code) and written in E.164
//!   (`+46701234567`). A number the crate parses but does not find valid
//!   for that region (`070-123 45`: too short for a Swedish mobile; `08`
//!   numbers of the wrong length; unassigned ranges) is not guessed at: it
//!   is "anything else" of DESIGN section 8, an error at its cell or, with
//!   `invalid: blank`, left out with a warning, and the message says it is
//!   not a valid number of that country. The result must still be `+` and
//!   8 to 15 digits.
//!
//! Cost: the crate loads its metadata once per process (about 0.2 s: it
//! compiles every pattern), which `import` does on a thread while it reads
//! the export, and only when the mapping has a `defaultCountry`; then a few
//! microseconds per national number (its parser), which `import` spreads
//! over two threads. [`National`] says why the crate's `is_valid` is not
//! called as such.

use phonenumber::metadata::DATABASE;

/// Why a number could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Letters or other characters that are no part of a number.
    NotANumber,
    /// A national number and no default country.
    National,
    /// A national number that is no valid number of the default country
    /// (its ISO code, upper-case).
    NotValidFor(String),
    /// Too few or too many digits for E.164.
    Length(usize),
}

/// Loads libphonenumber's metadata (the crate does it on first use).
pub(crate) fn load_metadata() {
    let _ = DATABASE.by_id("SE");
}

/// `code` (ISO 3166 alpha-2, any case) upper-cased, when it names a
/// country the `phonenumber` crate knows. This does not load the metadata
/// (about 0.25 s: it compiles every pattern), so a mapping is checked
/// without it; [`National::new`] finds out whether the metadata has a
/// numbering plan for it.
pub(crate) fn region(code: &str) -> Option<String> {
    let up = code.trim().to_ascii_uppercase();
    (up.len() == 2 && up.parse::<phonenumber::country::Id>().is_ok()).then_some(up)
}

/// How national numbers of one default country are read: the region's
/// code, and libphonenumber's validity rule for the regions of its calling
/// code, compiled once per import.
///
/// `phonenumber::is_valid` and its E.164 formatter look each pattern up in
/// the crate's shared regex cache (a lock and a hash of the pattern per
/// lookup, about ten lookups per number): 12 µs a number, 1.1 s for the
/// 94,000 national numbers of the 100k benchmark. The same rule with the
/// patterns compiled here costs well under a microsecond. The rule is the
/// crate's `validator::is_valid_with`: the region of the number is the
/// calling code's only one, or the first of them whose leading digits
/// match (or, without leading digits, whose patterns take the number); the
/// number is valid when that region's general pattern and one of its
/// number types take it. A test holds it to the crate's own answer.
#[derive(Debug)]
pub(crate) struct National {
    country: String,
    id: phonenumber::country::Id,
    /// The country's calling code.
    code: u16,
    /// The regions of that calling code in the crate's order, compiled on
    /// first use (read without a lock afterwards, from both threads).
    rules: std::sync::OnceLock<Option<Vec<RegionRule>>>,
}

#[derive(Debug)]
struct RegionRule {
    leading_digits: Option<regex::Regex>,
    general: Pattern,
    types: Vec<Pattern>,
}

#[derive(Debug)]
struct Pattern {
    lengths: Vec<u16>,
    re: regex::Regex,
}

impl Pattern {
    fn of(d: &phonenumber::metadata::Descriptor) -> Option<Pattern> {
        Some(Pattern {
            lengths: d.possible_length().to_vec(),
            re: compile(d.national_number().as_str())?,
        })
    }

    /// The crate's `Descriptor::is_match`: a possible length, and the
    /// pattern matching from the first digit.
    fn is_match(&self, national: &str) -> bool {
        let len = u16::try_from(national.len()).unwrap_or(u16::MAX);
        (self.lengths.is_empty() || self.lengths.contains(&len)) && self.re.is_match(national)
    }
}

/// A metadata pattern as the crate compiles it (its whitespace is layout).
/// Anchored at the start: "matches from the first digit", which the crate
/// asks as `find(..).start() == 0` (the leftmost match starts at 0 exactly
/// when some match does), without searching the rest of the number.
fn compile(pattern: &str) -> Option<regex::Regex> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

impl RegionRule {
    fn of(meta: &phonenumber::Metadata) -> Option<RegionRule> {
        let d = meta.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        let mut out = Vec::new();
        for t in types.into_iter().flatten() {
            out.push(Pattern::of(t)?);
        }
        Some(RegionRule {
            leading_digits: match meta.leading_digits() {
                Some(l) => Some(compile(l.as_str())?),
                None => None,
            },
            general: Pattern::of(d.general())?,
            types: out,
        })
    }

    /// The crate's `number_type(..) != Unknown`.
    fn takes(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }
}

impl National {
    /// The rules of `country`, a region [`region`] returned; `None` when
    /// libphonenumber's metadata has no numbering plan for it.
    pub(crate) fn new(country: &str) -> Option<National> {
        let meta = DATABASE.by_id(country)?;
        Some(National {
            country: country.to_owned(),
            id: country.parse().ok()?,
            code: meta.country_code(),
            rules: std::sync::OnceLock::new(),
        })
    }

    /// The crate's `is_valid` of a number with calling code `code` and
    /// national significant number `national`.
    fn is_valid(&self, code: u16, national: &str) -> bool {
        // A national number keeps its country's code; should the crate
        // ever read one as another's, that code's rules are compiled for
        // it alone.
        let other;
        let regions = if code == self.code {
            self.rules.get_or_init(|| rules_of(code)).as_deref()
        } else {
            other = rules_of(code);
            other.as_deref()
        };
        let Some(regions) = regions else {
            return false;
        };
        let region = if let [only] = regions {
            Some(only)
        } else {
            regions.iter().find(|r| match &r.leading_digits {
                Some(l) => l.is_match(national),
                None => r.takes(national),
            })
        };
        region.is_some_and(|r| r.takes(national))
    }

    /// The national number `digits` in E.164, when libphonenumber finds it
    /// a valid number of this country.
    fn to_e164(&self, digits: &str) -> Result<String, Problem> {
        let not_valid = || Problem::NotValidFor(self.country.clone());
        let number = phonenumber::parse(Some(self.id), digits).map_err(|_| not_valid())?;
        let code = number.code().value();
        let national = number.national().to_string();
        if number.extension().is_some() || !self.is_valid(code, &national) {
            return Err(not_valid());
        }
        Ok(format!("+{code}{national}"))
    }
}

/// The rules of the regions of calling code `code`, in the crate's order.
fn rules_of(code: u16) -> Option<Vec<RegionRule>> {
    DATABASE
        .region(&code)?
        .into_iter()
        .map(|id| RegionRule::of(DATABASE.by_id(id)?))
        .collect()
}

/// The most digits a national number may have before it is read by the
/// crate: libphonenumber's longest national significant number (17) and a
/// trunk prefix.
const MAX_NATIONAL_DIGITS: usize = 20;

/// `raw` in E.164, or why not. `raw` is not empty.
pub(crate) fn normalize(raw: &str, default_country: Option<&National>) -> Result<String, Problem> {
    let s = raw.trim();
    let s = if s.contains("(0)") {
        std::borrow::Cow::Owned(s.replace("(0)", ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    let mut digits = String::with_capacity(s.len() + 1);
    digits.push('+');
    let mut plus = false;
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' | '\u{2009}' | '\u{202f}' => {}
            _ => return Err(Problem::NotANumber),
        }
    }
    if !plus && digits.starts_with("+00") {
        digits.replace_range(1..3, "");
        plus = true;
    }
    let e164 = if plus {
        digits
    } else {
        let Some(country) = default_country else {
            return Err(Problem::National);
        };
        let national = &digits[1..];
        // No national number of any plan has this many digits, even with
        // its trunk prefix (E.164 allows 15 in all): refused before the
        // crate's parser runs its patterns over a cell of any length.
        if national.len() > MAX_NATIONAL_DIGITS {
            return Err(Problem::NotValidFor(country.country.clone()));
        }
        country.to_e164(national)?
    };
    let n = e164.len() - 1;
    if !(8..=15).contains(&n) || e164.starts_with("+0") {
        return Err(Problem::Length(n));
    }
    Ok(e164)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nat(country: &str) -> National {
        National::new(country).expect("a region")
    }

    #[test]
    fn a_national_number_of_any_length_is_no_number_of_the_country() {
        let se = nat("SE");
        let long = "7".repeat(1_000_000);
        let not_se = Err(Problem::NotValidFor("SE".into()));
        assert_eq!(normalize(&long, Some(&se)), not_se);
        assert_eq!(normalize(&"1".repeat(21), Some(&se)), not_se);
        // At the bound the crate decides (and says it is no SE number).
        assert!(matches!(
            normalize(&"1".repeat(20), Some(&se)),
            Err(Problem::NotValidFor(_))
        ));
    }

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
            normalize("070-123 45 67", Some(&nat("SE"))),
            Ok("+46701234567".into())
        );
        assert_eq!(normalize("070-123 45 67", None), Err(Problem::National));
        assert_eq!(normalize("+46 70 ext 5", None), Err(Problem::NotANumber));
        assert_eq!(normalize("+46 12", None), Err(Problem::Length(4)));
        // International numbers are not checked against a numbering plan.
        assert_eq!(normalize("+461234567", None), Ok("+461234567".into()));
        assert_eq!(
            normalize("+46 12345678", Some(&nat("SE"))),
            Ok("+4612345678".into())
        );
    }

    #[test]
    fn national_numbers_of_several_countries() {
        let mut wrong = Vec::new();
        for (raw, country, e164) in [
            ("(201) 555-0123", "US", "+12015550123"),
            ("030 123456", "DE", "+4930123456"),
            ("06 12 34 56 78", "FR", "+33612345678"),
            ("07400 123456", "GB", "+447400123456"),
            ("412 34 567", "NO", "+4741234567"),
            ("02 1234 5678", "IT", "+390212345678"),
            ("06 12345678", "NL", "+31612345678"),
            ("090-1234-5678", "JP", "+819012345678"),
            ("0412 345 678", "AU", "+61412345678"),
            ("0917 123 4567", "PH", "+639171234567"),
        ] {
            let got = normalize(raw, Some(&nat(country)));
            if got != Ok(e164.to_owned()) {
                wrong.push(format!("{raw} in {country}: {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_national_number_the_country_does_not_have_is_refused() {
        let mut wrong = Vec::new();
        for (raw, country) in [
            ("070-123 45", "SE"),
            ("070-123 45 67 89", "SE"),
            ("(101) 555-0123", "US"),
            ("020 7946 001", "GB"),
        ] {
            let got = normalize(raw, Some(&nat(country)));
            if got != Err(Problem::NotValidFor(country.to_owned())) {
                wrong.push(format!("{raw} in {country}: {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn regions_are_the_crates_country_ids() {
        assert_eq!(region("se").as_deref(), Some("SE"));
        assert_eq!(region(" PH ").as_deref(), Some("PH"));
        assert_eq!(region("BR").as_deref(), Some("BR"));
        for bad in ["XX", "S", "SWE", "", "001"] {
            assert_eq!(region(bad), None, "{bad}");
        }
    }

    /// The mapping is checked with the crate's country ids alone (no
    /// metadata loaded): each of them has a numbering plan.
    #[test]
    fn every_country_id_has_a_numbering_plan() {
        let mut ids = 0;
        let mut missing = Vec::new();
        for a in 'A'..='Z' {
            for b in 'A'..='Z' {
                let code = format!("{a}{b}");
                if region(&code).is_some() {
                    ids += 1;
                    if National::new(&code).is_none() {
                        missing.push(code);
                    }
                }
            }
        }
        assert!(ids > 200, "{ids} country ids");
        assert!(missing.is_empty(), "{missing:?}");
    }

    /// The rule [`National`] compiles is the crate's own: for numbers of many
    /// shapes and countries (calling codes shared by several regions among
    /// them), its verdict and E.164 form are `phonenumber::is_valid`'s and
    /// `format()`'s.
    #[test]
    fn the_compiled_rule_answers_as_the_crate_does() {
        let mut state: u64 = 7;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut checked = 0;
        let mut valid = 0;
        for country in [
            "SE", "US", "CA", "GB", "DE", "FR", "IT", "RU", "KZ", "NO", "SJ", "AU", "IN", "BR",
        ] {
            let rule = nat(country);
            let id: phonenumber::country::Id = country.parse().expect("id");
            for _ in 0..400 {
                let len = 6 + next() % 7;
                let mut digits = String::new();
                if next() % 2 == 0 {
                    digits.push('0');
                }
                for _ in 0..len {
                    digits.push(char::from(b'0' + u8::try_from(next() % 10).unwrap_or(0)));
                }
                let Ok(number) = phonenumber::parse(Some(id), &digits) else {
                    continue;
                };
                let crate_says = phonenumber::is_valid(&number);
                let national = number.national().to_string();
                let code = number.code().value();
                assert_eq!(
                    rule.is_valid(code, &national),
                    crate_says,
                    "{digits} in {country} (+{code} {national})"
                );
                if crate_says {
                    valid += 1;
                    assert_eq!(
                        rule.to_e164(&digits).ok(),
                        Some(number.format().mode(phonenumber::Mode::E164).to_string()),
                        "{digits} in {country}"
                    );
                }
                checked += 1;
            }
        }
        assert!(
            checked > 3000 && valid > 300,
            "{checked} checked, {valid} valid"
        );
    }
}
