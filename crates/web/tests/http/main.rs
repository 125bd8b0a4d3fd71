//! The behaviour suites over HTTP, on SQLite and PostgreSQL (`both_backends!`): one test
//! binary, so the application is linked once for all of them.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod bulk;
mod checkout;
mod csv;
mod later;
mod mails;
mod methods;
mod order_work;
mod payments;
mod search;
mod users;
