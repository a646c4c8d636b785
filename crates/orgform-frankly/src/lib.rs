//! The &frankly organization API: the only crate that knows its wire format.
//!
//! - [`wire`]: the request and answer types of `POST /v1/organization`,
//!   and [`wire::OrganizationRequest::from_desired`], which turns a desired
//!   org into the body the apply flow sends.
//! - the async client (token handling, timeouts, retries, answer rules of
//!   DESIGN section 5) lands beside it.

pub mod wire;
