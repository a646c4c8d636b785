//! HTTP-level tests of the emulator: every rule of the API reference and
//! DESIGN section 6, spoken over real HTTP on 127.0.0.1.
// Tests may unwrap (clippy's allow-unwrap-in-tests misses helpers).
#![allow(clippy::unwrap_used)]

mod common;
mod faults;
mod fields;
mod persistence;
mod settings;
mod sync;
mod validation;
