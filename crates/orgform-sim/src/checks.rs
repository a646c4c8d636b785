//! Checks the engine and the fixture share: the phone format and cycles
//! in a group hierarchy. A leaf module (it uses no other module of the
//! crate), so that `engine` and `fixture` both depend on it and not on
//! each other.

use std::collections::{BTreeMap, BTreeSet};

/// Whether `phone` is E.164: `+`, then 8 to 15 digits, the country code not
/// starting with 0. (`""` means "no phone" and is handled by the callers.)
pub(crate) fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Every cycle in a parent map, each once, starting from its smallest
/// externalId; sorted.
pub(crate) fn cycles<'a>(parents: &BTreeMap<&'a str, &'a str>) -> Vec<Vec<&'a str>> {
    let mut found = BTreeSet::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for &start in parents.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut at = start;
        loop {
            if done.contains(at) {
                break;
            }
            if let Some(pos) = path.iter().position(|&p| p == at) {
                let mut cycle: Vec<&str> = path[pos..].to_vec();
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, id)| **id)
                    .map_or(0, |(i, _)| i);
                cycle.rotate_left(min);
                found.insert(cycle);
                break;
            }
            path.push(at);
            match parents.get(at) {
                Some(&p) => at = p,
                None => break,
            }
        }
        done.extend(path);
    }
    found.into_iter().collect()
}

/// A cycle written `` `a` -> `b` -> `a` ``.
pub(crate) fn format_cycle(cycle: &[&str]) -> String {
    let mut text: Vec<String> = cycle.iter().map(|id| format!("`{id}`")).collect();
    if let Some(first) = text.first().cloned() {
        text.push(first);
    }
    text.join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_8_to_15_digits_after_a_plus() {
        for ok in ["+461234567", "+12345678", "+123456789012345"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "461234567",
            "+1234567",
            "+1234567890123456",
            "+0461234567",
            "+46 1234567",
            "+46-1234567",
            "+",
            "",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn cycles_are_found_once_from_their_smallest_member() {
        let parents: BTreeMap<&str, &str> = [
            ("b", "c"),
            ("c", "a"),
            ("a", "b"),
            ("d", "a"),
            ("e", "e"),
            ("f", "g"),
        ]
        .into_iter()
        .collect();
        let text: Vec<String> = cycles(&parents).iter().map(|c| format_cycle(c)).collect();
        assert_eq!(text, vec!["`a` -> `b` -> `c` -> `a`", "`e` -> `e`"]);
    }
}
