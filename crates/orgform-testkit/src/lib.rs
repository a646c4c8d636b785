//! Test-only helpers shared by orgform's test suites (a dev-dependency
//! only: nothing ships with it).
//!
//! One snapshot setup instead of a copy per test file: [`settings`] gives
//! insta settings that write to the top-level `snapshots/<folder>/`, name
//! each snapshot exactly as the test says (no module prefix, no expression
//! in the header), and apply the [`COMMON_FILTERS`] (temp paths, loopback
//! ports, the tool version), plus any filters a suite adds
//! ([`settings_with`], e.g. [`DIGEST_FILTER`]). [`assert_snapshot!`] wraps
//! `insta::assert_snapshot!` in them; it expands in the calling test, so
//! the snapshot's `source` is the test's file.
//!
//! ```text
//! orgform_testkit::assert_snapshot!("orgform-plan", "markdown_mixed", &text);
//! orgform_testkit::assert_snapshot!(
//!     "orgform-plan", "saved_plan_errors", &text, &[orgform_testkit::DIGEST_FILTER]
//! );
//! ```

pub use insta;

/// A regex and its replacement.
pub type Filter = (&'static str, &'static str);

/// The filters every suite gets: values that change from run to run or
/// from release to release and say nothing about the behaviour tested.
pub const COMMON_FILTERS: [Filter; 4] = [
    // A temp dir made by tempfile (`/tmp/.tmpAbC123/`) or by a test.
    (r"/tmp/[^ `:\x22']*/", "<tmp>/"),
    // A port the OS picked.
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    // The tool version, in a saved plan and in state errors.
    (r#""toolVersion": "[^"]*""#, r#""toolVersion": "[version]""#),
    (r"this orgform \([^)]*\)", "this orgform ([VERSION])"),
];

/// A plan or spec digest, for suites whose digests change with any edit
/// of the fixture.
pub const DIGEST_FILTER: Filter = (r"sha256:[0-9a-f]{64}", "sha256:[digest]");

/// The snapshots folder of the workspace: `<root>/snapshots`.
pub const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots");

/// Insta settings for `snapshots/<folder>/` with the [`COMMON_FILTERS`].
pub fn settings(folder: &str) -> insta::Settings {
    settings_with(folder, &[])
}

/// [`settings`] plus the suite's own `filters`, applied after the common ones.
pub fn settings_with(folder: &str, filters: &[Filter]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(format!("{SNAPSHOTS}/{folder}"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for (regex, replacement) in COMMON_FILTERS.iter().chain(filters) {
        s.add_filter(regex, *replacement);
    }
    s
}

/// `assert_snapshot!(folder, name, text)` or `assert_snapshot!(folder,
/// name, text, &[filters])`: `insta::assert_snapshot!` with [`settings`].
#[macro_export]
macro_rules! assert_snapshot {
    ($folder:expr, $name:expr, $text:expr $(,)?) => {
        $crate::settings($folder).bind(|| $crate::insta::assert_snapshot!($name, $text))
    };
    ($folder:expr, $name:expr, $text:expr, $filters:expr $(,)?) => {
        $crate::settings_with($folder, $filters)
            .bind(|| $crate::insta::assert_snapshot!($name, $text))
    };
}

/// `assert_json_snapshot!(folder, name, value)`: `insta::assert_json_snapshot!`
/// with [`settings`].
#[macro_export]
macro_rules! assert_json_snapshot {
    ($folder:expr, $name:expr, $value:expr $(,)?) => {
        $crate::settings($folder).bind(|| $crate::insta::assert_json_snapshot!($name, $value))
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_common_filters_hide_temp_paths_ports_and_versions() {
        crate::settings("orgform-testkit").bind(|| {
            insta::assert_snapshot!(
                "read /tmp/.tmpAbC123/spec.yaml from 127.0.0.1:40123; \"toolVersion\": \"0.1.0\"",
                @r#"read <tmp>/spec.yaml from 127.0.0.1:[port]; "toolVersion": "[version]""#
            );
        });
    }
}
