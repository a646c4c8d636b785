//! The account the generator-driven suites (`agreement.rs`, `waves.rs`)
//! run against.

use orgform_sim::Fixture;
use serde_json::{Value, json};

/// An account whose only records are manual groups with these externalIds
/// (the generator's external groups).
pub fn with_manual_groups(ids: &[&str]) -> Fixture {
    let groups: Vec<Value> = ids
        .iter()
        .map(|id| json!({"externalId": id, "name": format!("Manual {id}")}))
        .collect();
    serde_json::from_value(json!({ "groups": groups })).expect("a fixture")
}
