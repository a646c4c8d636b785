//! Bytes decoded into a state (hostile: cycles, dangling references,
//! duplicates) and a valid spec, then planned: see `orgform_fuzz::checks::plan`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    orgform_fuzz::checks::plan(data);
});
