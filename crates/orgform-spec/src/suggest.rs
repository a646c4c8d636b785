//! "Did you mean ...?": the closest candidate by edit distance.

/// The candidate closest to `word`: an exact match ignoring case, `_`, `-`
/// and spaces first, else the smallest edit distance within a third of the
/// word's length (at least 1, at most 3). Ties go to the earlier candidate.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let w = norm(word);
    if let Some(c) = candidates.iter().find(|c| norm(c) == w) {
        return Some(c);
    }
    let len = w.chars().count();
    let budget = (len / 3).clamp(1, 3);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let c_norm = norm(c);
        // The distance is at least the difference in length: skip the
        // quadratic distance when it cannot be within the budget (a 10 MB
        // unknown key would otherwise cost seconds per candidate).
        if c_norm.chars().count().abs_diff(len) > budget {
            continue;
        }
        let d = distance(&w, &c_norm);
        if d <= budget && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over characters (two rows, O(len) memory).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let fields = ["externalId", "firstName", "lastName", "email"];
        assert_eq!(did_you_mean("fistName", &fields), Some("firstName"));
        assert_eq!(did_you_mean("first_name", &fields), Some("firstName"));
        assert_eq!(did_you_mean("FIRSTNAME", &fields), Some("firstName"));
        assert_eq!(did_you_mean("mail", &fields), Some("email"));
        assert_eq!(did_you_mean("department", &fields), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        // A huge word is compared by length first: no suggestion (an edit
        // distance over ten million characters would not finish).
        let huge = "f".repeat(10_000_000);
        assert_eq!(did_you_mean(&huge, &fields), None);
    }
}
