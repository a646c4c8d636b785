//! Helpers shared by the integration tests.

pub mod orgs;
pub mod reference;
