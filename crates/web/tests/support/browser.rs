//! Headless Chromium through chromedriver (fantoccini) for the browser suites, and
//! screenshots to target/screenshots/. Include with
//! `#[path = "support/browser.rs"] mod browser;` beside `mod support;`.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{self, TestApp};

/// chromedriver, stopped when dropped together with the Chromium it started: chromedriver
/// runs in a process group of its own, and the whole group is killed — killing chromedriver
/// alone leaves its Chromium (a few hundred MB each) running after the test.
pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Chromium session at 1280×800 in Japanese.
pub async fn browser() -> (Driver, Client) {
    let port = free_port();
    let driver =
        Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver; .ci/run does)");
    let driver = Driver(driver);
    let caps = json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                     "--window-size=1280,800", "--lang=ja-JP"]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(c) = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return (driver, c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not start a Chromium session through chromedriver");
}

/// Save what the browser shows to target/screenshots/{name}.png.
pub async fn shot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The text of the first element matching `css`, waiting for it: after a click the next page
/// may not have loaded yet.
pub async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css}"))
        .text()
        .await
        .unwrap()
}

/// Log in as `user` through the login page (reached by a redirect from the order search).
pub async fn login(c: &Client, t: &TestApp, user: &str) {
    c.goto(&format!("{}/admin/orders", t.base)).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(support::PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("search")).await.unwrap();
}

/// Click what `css` finds and wait for the next page (a POST's redirect) to load.
pub async fn submit(c: &Client, css: &str) {
    mark_page(c).await;
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap();
    next_page(c, css).await;
}

/// Type `value` into `css` and press Enter there (a form's implicit submission); wait for
/// the next page.
pub async fn press_enter(c: &Client, css: &str, value: &str) {
    fill(c, css, value).await;
    mark_page(c).await;
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(&fantoccini::key::Key::Enter.to_string())
        .await
        .unwrap();
    next_page(c, css).await;
}

async fn mark_page(c: &Client) {
    c.execute("window.__old_page = true; return null;", vec![])
        .await
        .unwrap();
}

/// Wait until the page marked by `mark_page` has been replaced and the new one has loaded.
async fn next_page(c: &Client, what: &str) {
    for _ in 0..600 {
        let loaded = c
            .execute(
                "return window.__old_page === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new page after {what}");
}

/// The whole page, however long, in one screenshot: the window grows for it (its chrome
/// counted), then goes back to 1280×800.
pub async fn full_shot(c: &Client, name: &str) {
    let need = c
        .execute(
            "return document.documentElement.scrollHeight + (window.outerHeight - window.innerHeight);",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(800)
        .clamp(800, 6000);
    c.set_window_size(1280, need as u32).await.unwrap();
    c.execute("window.scrollTo(0, 0); return null;", vec![])
        .await
        .unwrap();
    shot(c, name).await;
    c.set_window_size(1280, 800).await.unwrap();
}

pub async fn fill(c: &Client, css: &str, value: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"));
    e.clear().await.unwrap();
    if !value.is_empty() {
        e.send_keys(value).await.unwrap();
    }
}

/// Nothing is wider than the window: no horizontal scroll bar at 1280 px.
pub async fn assert_no_overflow(c: &Client, what: &str) {
    let w = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap()
        .as_i64()
        .unwrap_or(0);
    assert!(w <= 0, "{what}: the page is {w}px wider than the window");
}
