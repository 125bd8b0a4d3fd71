//! Wire formats only. The connectors (crates/gateway) and the sandboxes (crates/sandbox) both
//! use these codecs, and nothing else of each other: the sandbox judges the connectors by the
//! gateways' rules, not by shared logic.

pub mod form;
pub mod gmo;
pub mod paygent;
