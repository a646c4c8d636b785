//! orgform's fuzz targets (issue 12): the checks live in [`checks`], which
//! the workspace's regression test (`crates/orgform-plan/tests/fuzz_regressions.rs`)
//! includes too, so every committed input under `fuzz/regressions/` is
//! re-checked by `cargo test --workspace`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub mod checks;

/// A scratch directory for the spec targets' files, one per process, in
/// `/dev/shm` when there is one (the targets write a file per input).
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("orgform-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir
    })
}
