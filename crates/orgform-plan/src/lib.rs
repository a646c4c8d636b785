//! The pure planner: a validated spec and the last applied state in, a
//! [`Plan`] out. No IO, no async, no clock, no randomness.
