//! Arbitrary bytes as a spec directory of two files (the first two bytes are the first file's length): see `orgform_fuzz::checks::spec_dir`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orgform_fuzz::checks::spec_dir(orgform_fuzz::scratch_dir(), data);
});
