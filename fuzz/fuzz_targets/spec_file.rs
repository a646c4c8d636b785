//! Arbitrary bytes as one spec file: see `orgform_fuzz::checks::spec_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orgform_fuzz::checks::spec_file(orgform_fuzz::scratch_dir(), data);
});
