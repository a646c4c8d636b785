//! Replays every committed fuzz input (`fuzz/regressions/TARGET/*`, issue
//! 12) through the same checks the fuzz targets run (`fuzz/src/checks.rs`,
//! included here), so a finding fixed once stays fixed without a fuzzer.
//! The fuzz targets themselves run outside CI (`scripts/fuzz.sh`).

#[path = "../../../fuzz/src/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_fuzz_input_passes_its_target_checks() {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let mut replayed = 0;
    for target in ["spec_file", "spec_dir", "plan"] {
        for path in inputs(target) {
            let data = std::fs::read(&path).expect("read a regression input");
            let run = || match target {
                "spec_file" => checks::spec_file(scratch.path(), &data),
                "spec_dir" => checks::spec_dir(scratch.path(), &data),
                _ => checks::plan(&data),
            };
            let start = std::time::Instant::now();
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                panic!(
                    "fuzz regression {} fails again (its panic is above)",
                    path.display()
                );
            }
            // The fuzz targets give an input 10 s (in a faster build).
            let took = start.elapsed();
            assert!(took.as_secs() < 30, "{}: {took:?}", path.display());
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no regression inputs found under fuzz/regressions/"
    );
}
