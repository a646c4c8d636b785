//! Decoding a spec's files on every core (issue 24: at 100k users the
//! YAML decode is most of `plan`'s time, and the machines CI and people
//! run on have two cores or more).
//!
//! - The files of a directory spec are decoded side by side, one worker
//!   per core, and their positions appended in file order
//!   ([`Positions::append`]), which gives what one decode after another
//!   gives.
//! - One large file (a single `users.yaml` of 100k people) whose top-level
//!   `users` list runs to the end of the file is cut in two at an item of
//!   that list near the middle: the first piece is decoded as a file (it is
//!   one: the list simply ends early), the second as a piece of the list
//!   on a second thread, its lines counted from where it starts.
//!
//! Cutting is only an optimisation, so it never changes what a user sees:
//! the pieces are kept only when both read cleanly (no diagnostic of any
//! kind, no anchor or alias anywhere, the first piece ending in that
//! `users` list). Otherwise the whole file is decoded again in one go,
//! and every diagnostic, position and budget is exactly the one-go
//! decode's. The cut is at a line that starts with the list's own
//! indentation and `- ` (or `-` alone) after a `users:` line at column 0,
//! with no other line at column 0 after it: such a line always starts an
//! item of that list in block YAML. Inside a quoted or flow scalar it
//! would leave the first piece unterminated, which is a diagnostic, so
//! the file is then decoded in one go.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::diag::Diagnostic;
use crate::events::Reader;
use crate::source::{Files, Positions};
use crate::yaml::{self, Doc};

/// Files smaller than this are decoded in one go: cutting pays only where
/// the decode takes long enough to hide a thread's start and the merge
/// (4 MiB is about 12,000 users, ~0.1 s of decoding).
const CUT_FROM: usize = 4 << 20;

/// One file decoded on its own.
pub(crate) struct Decoded {
    pub doc: Doc,
    pub positions: Positions,
    pub diags: Vec<Diagnostic>,
}

/// Decodes every file of `files`, side by side where there are several
/// cores; the results are in file order.
pub(crate) fn decode_all(files: &Files) -> Vec<Decoded> {
    let count = files.files.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(count);
    if workers <= 1 {
        return (0..count).map(|i| decode_file(files, i)).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Decoded)>> = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let decoded = decode_file(files, i);
                    done.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, decoded));
                }
            });
        }
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, d)| d).collect()
}

/// Decodes file `index` of `files`, in two pieces where it can.
fn decode_file(files: &Files, index: usize) -> Decoded {
    decode_file_from(files, index, CUT_FROM)
}

/// [`decode_file`], cutting files of `cut_from` bytes or more.
fn decode_file_from(files: &Files, index: usize, cut_from: usize) -> Decoded {
    let Some(f) = files.files.get(index) else {
        return Decoded {
            doc: Doc::default(),
            positions: Positions::default(),
            diags: Vec::new(),
        };
    };
    let file = u32::try_from(index).unwrap_or(u32::MAX);
    if f.text.len() >= cut_from
        && let Some(cut) = cut_point(&f.text)
        && let Some(decoded) = decode_cut(&f.text, file, files, cut)
    {
        return decoded;
    }
    whole(&f.text, file, files)
}

fn whole(text: &str, file: u32, files: &Files) -> Decoded {
    let mut positions = Positions::default();
    let mut diags = Vec::new();
    let doc = yaml::decode(text, file, files, &mut positions, &mut diags);
    Decoded {
        doc,
        positions,
        diags,
    }
}

/// Where a file is cut: the byte offset of the line that starts the second
/// piece, and how many lines come before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub byte: usize,
    pub lines_before: u32,
}

/// The two pieces decoded side by side, or `None` when either did not read
/// cleanly (the caller decodes the file in one go).
fn decode_cut(text: &str, file: u32, files: &Files, cut: Cut) -> Option<Decoded> {
    let (head, tail) = text.split_at_checked(cut.byte)?;
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| {
            let mut positions = Positions::default();
            let mut diags = Vec::new();
            // Inside the top-level mapping: one level deep, as in the file.
            let reader = Reader::piece(tail, file, cut.lines_before, 1);
            let doc = yaml::decode_users_piece(reader, files, &mut positions, &mut diags);
            Decoded {
                doc,
                positions,
                diags,
            }
        });
        let first = whole(head, file, files);
        let second = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    });
    let clean = |d: &Decoded| !d.doc.incomplete && !d.doc.anchors && d.diags.is_empty();
    let ends_in_users = first.doc.keys.last().is_some_and(|(k, _)| *k == "users");
    if !clean(&first) || !clean(&second) || !ends_in_users || first.doc.empty {
        return None;
    }
    let Decoded {
        mut doc,
        mut positions,
        diags,
    } = first;
    let rest = second.doc.users?;
    doc.users.as_mut()?.extend(rest);
    positions.append(second.positions);
    Some(Decoded {
        doc,
        positions,
        diags,
    })
}

/// Where to cut `text` (see the module docs), or `None` when it has no
/// `users:` list at column 0 running to its end with two items or more.
pub(crate) fn cut_point(text: &str) -> Option<Cut> {
    // The items of the last `users:` list seen, while it may still run to
    // the end: (byte offset, lines before) of each item's line.
    let mut items: Vec<Cut> = Vec::new();
    let mut list: Option<(usize, Option<usize>)> = None; // (list start, item indent)
    let mut at = 0usize;
    let mut line = 0u32;
    while at < text.len() {
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let l = text[at..end].strip_suffix('\r').unwrap_or(&text[at..end]);
        let content = l.trim_start_matches(' ');
        let indent = l.len() - content.len();
        if is_users_key(l) {
            list = Some((at, None));
            items.clear();
        } else if let Some((_, item_indent)) = list.as_mut()
            && !content.is_empty()
            && !content.starts_with('#')
        {
            let item = content == "-" || content.starts_with("- ");
            match *item_indent {
                None if item => *item_indent = Some(indent),
                // The first thing under `users:` is not a block list item.
                None => list = None,
                Some(n) if indent == n && item => {}
                Some(n) if indent > n => {}
                // Back at column 0 (or a shallower item): the list ends
                // before the file does.
                Some(_) => list = None,
            }
            if let Some((_, Some(n))) = list
                && indent == n
                && item
            {
                items.push(Cut {
                    byte: at,
                    lines_before: line,
                });
            }
            if list.is_none() {
                items.clear();
            }
        }
        at = end + 1;
        line = line.saturating_add(1);
    }
    let (start, _) = list?;
    // The item nearest the middle of the list, never its first.
    let middle = start + (text.len() - start) / 2;
    let k = items.partition_point(|c| c.byte < middle).max(1);
    items
        .get(k)
        .or_else(|| items.last().filter(|_| items.len() >= 2))
        .copied()
}

/// A line holding only the top-level key `users:` (and maybe a comment).
fn is_users_key(line: &str) -> bool {
    line.strip_prefix("users:").is_some_and(|rest| {
        let rest = rest.trim_start_matches([' ', '\t']);
        rest.is_empty() || rest.starts_with('#')
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::source::SourceFile;

    fn files(text: &str) -> Files {
        Files {
            files: vec![SourceFile::new(
                PathBuf::from("users.yaml"),
                text.to_owned(),
            )],
        }
    }

    /// Everything a decode hands on, in a comparable form (the property id
    /// map as a sorted list).
    fn seen(d: &Decoded) -> String {
        let mut ids: Vec<_> = d.positions.prop_ids.iter().collect();
        ids.sort();
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{ids:?}\n{:?}",
            d.doc.users,
            d.doc.keys,
            (d.doc.incomplete, d.doc.empty, d.doc.version),
            d.positions.users,
            d.positions.fields,
            d.positions.prop_names,
            d.positions.top,
            d.diags,
        )
    }

    /// The decode in pieces (forced) and in one go give the same, and
    /// whether the pieces were kept.
    fn both(text: &str) -> (bool, String, String) {
        let f = files(text);
        let cut = cut_point(text).expect("the text has a cut point");
        let kept = decode_cut(text, 0, &f, cut).is_some();
        let pieces = seen(&decode_file_from(&f, 0, 0));
        let one_go = seen(&whole(text, 0, &f));
        (kept, pieces, one_go)
    }

    fn rich(n: usize) -> String {
        let mut s = String::from("version: 1\ngroups:\n  - externalId: g1\n    name: G\nusers:\n");
        for i in 0..n {
            s.push_str(&format!(
                "  # user {i}\n  - externalId: u{i}\n    firstName: \"A {i}\"\n    lastName: 'B'\n\
                 \x20   email: u{i}@example.com\n    accessInfo:\n      memberOf:\n        - g1\n\
                 \x20   externalProperties:\n      p{}: v\n      q{}: w\n\n",
                (n - i) % 7,
                i % 5
            ));
        }
        s
    }

    #[test]
    fn pieces_decode_to_exactly_what_one_go_does() {
        let (kept, pieces, one_go) = both(&rich(40));
        assert!(kept, "a clean file is decoded in pieces");
        assert_eq!(pieces, one_go);
        assert!(pieces.contains("u39"), "{pieces}");
    }

    #[test]
    fn any_problem_in_either_piece_gives_the_one_go_diagnostics() {
        let text = rich(40);
        for (what, broken) in [
            (
                "unknown field late",
                text.replace("u30@example.com", "u30@example.com\n    nickName: x"),
            ),
            (
                "wrong type late",
                text.replace("firstName: \"A 35\"", "firstName: [A]"),
            ),
            (
                "unknown field early",
                text.replace("u2@example.com", "u2@example.com\n    nickName: x"),
            ),
            (
                "syntax error late",
                text.replace(
                    "lastName: 'B'\n    email: u33",
                    "lastName: 'B\n    email: u33",
                ),
            ),
            (
                "an alias across the cut",
                text.replace("externalId: g1\n", "externalId: &g g1\n")
                    .replace("- g1\n", "- *g\n"),
            ),
            (
                "a key after the list",
                format!("{text}\nsafety:\n  minAdministrators: 0\n"),
            ),
        ] {
            let f = files(&broken);
            if let Some(cut) = cut_point(&broken) {
                assert!(
                    decode_cut(&broken, 0, &f, cut).is_none(),
                    "{what}: the pieces are dropped"
                );
            }
            let pieces = seen(&decode_file_from(&f, 0, 0));
            assert_eq!(pieces, seen(&whole(&broken, 0, &f)), "{what}");
        }
    }

    #[test]
    fn a_cut_inside_a_quoted_scalar_falls_back_to_one_go() {
        // Every line of the middle is inside one double-quoted description.
        let mut text = String::from("version: 1\nusers:\n- externalId: a\n  firstName: \"x\n");
        for _ in 0..50 {
            text.push_str("- not an item\n");
        }
        text.push_str("  y\"\n  lastName: B\n  email: a@example.com\n- externalId: b\n  firstName: A\n  lastName: B\n  email: b@example.com\n");
        let f = files(&text);
        let cut = cut_point(&text).expect("looks cuttable");
        assert!(decode_cut(&text, 0, &f, cut).is_none());
        assert_eq!(
            seen(&decode_file_from(&f, 0, 0)),
            seen(&whole(&text, 0, &f))
        );
    }

    #[test]
    fn files_decoded_side_by_side_append_as_one_after_another() {
        let f = Files {
            files: (0..5)
                .map(|i| SourceFile::new(PathBuf::from(format!("{i}.yaml")), rich(3 + i)))
                .collect(),
        };
        let mut side_by_side = Positions::default();
        for d in decode_all(&f) {
            side_by_side.append(d.positions);
        }
        let mut serial = Positions::default();
        let mut diags = Vec::new();
        for (i, file) in f.files.iter().enumerate() {
            let i = u32::try_from(i).expect("five files");
            yaml::decode(&file.text, i, &f, &mut serial, &mut diags);
        }
        let a = Decoded {
            doc: Doc::default(),
            positions: side_by_side,
            diags: Vec::new(),
        };
        let b = Decoded {
            doc: Doc::default(),
            positions: serial,
            diags,
        };
        assert_eq!(seen(&a), seen(&b));
        assert!(
            b.positions
                .fields
                .iter()
                .any(|f| f.key > crate::source::PROP_BASE)
        );
    }

    fn users(n: usize, indent: &str) -> String {
        let mut s = String::from("version: 1\nusers:\n");
        for i in 0..n {
            s.push_str(&format!(
                "{indent}- externalId: u{i}\n{indent}  firstName: A\n{indent}  lastName: B\n\
                 {indent}  email: u{i}@example.com\n"
            ));
        }
        s
    }

    #[test]
    fn a_users_list_to_the_end_is_cut_at_an_item_near_its_middle() {
        for indent in ["", "  "] {
            let text = users(10, indent);
            let cut = cut_point(&text).expect("a cut");
            assert_eq!(&text[cut.byte..][..indent.len() + 2], format!("{indent}- "));
            // 2 lines of header, 4 lines per user: the 6th user of 10.
            assert_eq!(cut.lines_before, 2 + 4 * 5, "indent {indent:?}");
            assert_eq!(text[..cut.byte].lines().count(), cut.lines_before as usize);
        }
    }

    #[test]
    fn no_cut_when_the_list_does_not_run_to_the_end_or_is_too_short() {
        let mut after = users(10, "");
        after.push_str("groups: []\n");
        assert_eq!(cut_point(&after), None, "a key after the list");
        assert_eq!(cut_point(&users(1, "")), None, "one item");
        assert_eq!(cut_point("users: []\n"), None, "a flow list");
        assert_eq!(cut_point("version: 1\n"), None, "no users");
        let indented_key = users(10, "").replace("\nusers:", "\n users:");
        assert_eq!(cut_point(&indented_key), None, "not a top-level key");
        let tab = users(10, "").replace("- externalId: u5", "\t- externalId: u5");
        assert_eq!(cut_point(&tab), None, "a tab at column 0 ends the list");
    }

    #[test]
    fn comments_blank_lines_and_nested_lists_do_not_end_the_list() {
        let text = users(4, "").replace(
            "- externalId: u2\n",
            "# a comment\n\n- externalId: u2\n  accessInfo:\n    memberOf:\n    - g1\n",
        );
        let cut = cut_point(&text).expect("a cut");
        assert!(text[cut.byte..].starts_with("- externalId: u"));
    }
}
