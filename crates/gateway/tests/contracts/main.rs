//! The connectors judged by the sandboxes over their wire protocols, and fuzzed: one test
//! binary for the gateway crate.

#[path = "../support/mod.rs"]
mod support;

mod fuzz;
mod gateway_trait;
mod gmo_contract;
mod paidy_contract;
mod paygent_3ds;
mod paygent_contract;
mod paygent_file;
