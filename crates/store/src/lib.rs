//! Persistence for juchu: one schema for SQLite (the embedded default) and PostgreSQL,
//! reached through sqlx's `Any` driver so every query is written once.
//!
//! SQL conventions that keep one query valid on both:
//! - placeholders are `$1, $2, ...` (PostgreSQL's form; sqlx's SQLite driver maps them by
//!   number);
//! - integers are BIGINT/INTEGER (decoded as i64), flags 0/1, instants fixed-width UTC text,
//!   dates `YYYY-MM-DD` text, so comparisons and ordering are the same on both;
//! - aggregates that PostgreSQL would widen to NUMERIC are cast back to BIGINT.

pub mod bulk;
pub mod cancelled_stock;
pub mod catalog;
pub mod checkouts;
pub mod csv_settings;
pub mod customers;
mod db;
pub mod mail_templates;
pub mod mails;
pub mod methods;
pub mod orders;
pub mod payments;
pub mod shops;
pub mod sql;
pub mod users;

pub use db::{Backend, Store, StoreError, Tx, Unique};
pub use sqlx::AnyConnection;
