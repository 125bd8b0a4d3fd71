//! The admin UI in headless Chromium (driven through chromedriver): login, 受注管理 search
//! with Enter, errors beside fields, the order detail, キャンセル受注在庫管理, and roles.
//! Screenshots of every screen land in target/screenshots/ for people to look at.

use crate::browser;
use crate::support;

use std::time::Duration;

use browser::{browser, login, shot, text};
use fantoccini::{Client, Locator, key::Key};
use serde_json::json;
use support::{TestApp, order_json};

async fn rows(c: &Client) -> Vec<String> {
    let mut out = vec![];
    for r in c
        .find_all(Locator::Css("#results tbody tr[data-number]"))
        .await
        .unwrap()
    {
        out.push(r.attr("data-number").await.unwrap().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_works_through_the_admin_screens() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let mut o = order_json();
    t.import(o.clone()).await;
    o["customer"]["family_name"] = json!("佐藤");
    o["customer"]["family_kana"] = json!("サトウ");
    o["remarks"] = json!("のし紙をお願いします");
    t.import(o).await;
    t.post("/api/v1/orders/2/status", json!({"status": "cancelled"}))
        .await;

    let (_d, c) = browser().await;
    // Wrong password: stays on the login page with the reason.
    c.goto(&format!("{}/admin/login", t.base)).await.unwrap();
    shot(&c, "01_login").await;
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wrong-pass")
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(text(&c, ".alert").await.contains("正しくありません"));

    login(&c, &t, "admin").await;
    assert_eq!(rows(&c).await, vec!["2", "1"]);
    shot(&c, "02_orders").await;

    // Enter submits the search; the search is kept in the URL and in the form.
    let name = c.find(Locator::Id("name")).await.unwrap();
    name.send_keys("佐藤").await.unwrap();
    name.send_keys(&Key::Enter.to_string()).await.unwrap();
    for _ in 0..100 {
        if c.current_url()
            .await
            .unwrap()
            .query()
            .unwrap_or("")
            .contains("name=")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.wait().for_element(Locator::Id("search")).await.unwrap();
    assert_eq!(rows(&c).await, vec!["2"]);
    assert_eq!(
        c.find(Locator::Id("name"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("佐藤")
    );
    assert_eq!(text(&c, "#total").await, "1");

    // A bad date is reported beside its field, in Japanese; full-width digits are fine.
    c.goto(&format!(
        "{}/admin/orders?ordered_from=2024/02/30&shipped_from=8/19&number_from=%EF%BC%91",
        t.base
    ))
    .await
    .unwrap();
    let err = text(&c, "[data-field=ordered_from]").await;
    assert!(err.contains("存在しない日付"), "{err}");
    let err = text(&c, "[data-field=shipped_from]").await;
    assert!(err.contains("2024/08/19 の形式"), "{err}");
    assert!(
        c.find(Locator::Css("[data-field=number_from]"))
            .await
            .is_err()
    );
    shot(&c, "03_orders_error").await;

    // Order detail with totals and history.
    c.goto(&format!("{}/admin/orders/1", t.base)).await.unwrap();
    let totals = text(&c, "#totals").await;
    assert!(
        totals.contains("7,660円") && totals.contains("10%対象") && totals.contains("8%対象"),
        "{totals}"
    );
    assert!(text(&c, "#history").await.contains("受注を取り込みました"));
    shot(&c, "04_order_detail").await;

    // キャンセル受注在庫管理: return a line once.
    c.goto(&format!("{}/admin/cancelled-stock", t.base))
        .await
        .unwrap();
    shot(&c, "05_cancelled_stock").await;
    c.find(Locator::Css("#stock tbody form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Css(".flash")).await.unwrap();
    assert!(text(&c, ".flash").await.contains("在庫へ戻しました"));
    assert_eq!(
        c.find_all(Locator::Css("#stock tbody form"))
            .await
            .unwrap()
            .len(),
        1
    );

    for (path, name) in [
        ("products", "06_products"),
        ("customers", "07_customers"),
        ("settings", "08_settings"),
    ] {
        c.goto(&format!("{}/admin/{path}", t.base)).await.unwrap();
        shot(&c, name).await;
    }
    // Admins add users; a bad form shows each error beside its field.
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .send_keys("x y")
        .await
        .unwrap();
    c.find(Locator::Css("#add-user button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#add-user .err"))
        .await
        .unwrap();
    let errs = c.find_all(Locator::Css("#add-user .err")).await.unwrap();
    assert_eq!(errs.len(), 3);

    // Logging out ends the session.
    c.find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.goto(&format!("{}/admin/orders", t.base)).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );

    // Operators do not manage admin users.
    login(&c, &t, "operator").await;
    c.goto(&format!("{}/admin/settings", t.base)).await.unwrap();
    assert!(c.find(Locator::Id("users")).await.is_err());
    c.close().await.unwrap();
}
