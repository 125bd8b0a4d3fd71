//! The admin screens and the storefront in headless Chromium (chromedriver), one test
//! binary; screenshots land in target/screenshots/.

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/browser.rs"]
mod browser;

mod bulk;
mod checkout;
mod csv;
mod documents;
mod mail;
mod methods;
mod orders;
mod payments;
mod screens;
