//! `format_file` over every spec file of `specs/`: each one it accepts is
//! formatted idempotently, and the example specs load to the same
//! validated org (same digest) after formatting.

use std::path::{Path, PathBuf};

use orgform_spec::{LoadOptions, format_file, format_str, load};

fn specs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list specs")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_formattable_spec_file_is_formatted_idempotently() {
    let mut files = Vec::new();
    yaml_files(&specs(), &mut files);
    let mut formatted = 0;
    for path in &files {
        let Ok(once) = format_file(path, &LoadOptions::default()) else {
            continue; // a shape error or an alias: refused, tested elsewhere
        };
        let twice = format_str(once.text(), path)
            .unwrap_or_else(|d| panic!("{}: {}", path.display(), d.render(false)));
        assert_eq!(twice, once.text(), "{}: not idempotent", path.display());
        formatted += 1;
    }
    // The four example files and most of the broken ones (rule errors).
    assert!(
        formatted >= 20,
        "only {formatted} of {} files formatted",
        files.len()
    );
}

#[test]
fn formatting_the_examples_keeps_the_validated_org() {
    for (spec, files) in [
        ("quickstart", &["orgform.yaml"][..]),
        ("acme", &["org.yaml", "groups.yaml", "users.yaml"][..]),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        for f in files {
            let text = format_file(&specs().join(spec).join(f), &LoadOptions::default())
                .unwrap_or_else(|d| panic!("{spec}/{f}: {}", d.render(false)));
            std::fs::write(dir.path().join(f), text.text()).expect("write");
        }
        let before = load(&specs().join(spec), &LoadOptions::default()).expect("valid example");
        let after = load(dir.path(), &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{spec} after fmt: {}", d.render(false)));
        assert_eq!(after.digest(), before.digest(), "{spec}");
        assert_eq!(after.org(), before.org(), "{spec}");
    }
}
