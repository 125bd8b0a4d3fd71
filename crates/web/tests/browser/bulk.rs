//! 外部決済一括処理 in headless Chromium: the operator lists the uncaptured card payments,
//! checks some, chooses 売上確定, confirms the count and amount, follows the run to its
//! results (green / red per order), finds it in 操作ログ, and sees the successes leave the
//! list while the failure stays. Screenshots: target/screenshots/bulk-*.png.

use crate::browser;
use crate::support;

use std::time::Duration;

use browser::{assert_no_overflow, browser, full_shot, login, submit, text};
use fantoccini::Locator;
use support::TestApp;

/// The run page's state once it has ended — it reloads itself meanwhile, so an element may
/// be gone between two loads.
async fn run_state(c: &fantoccini::Client) -> String {
    let mut state = String::new();
    for _ in 0..100 {
        if let Ok(e) = c
            .wait()
            .at_most(Duration::from_secs(2))
            .for_element(Locator::Id("run"))
            .await
            && let Ok(Some(s)) = e.attr("data-state").await
        {
            state = s;
            if state == "done" || state == "stopped" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_captures_many_orders_at_once() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let mut ns = Vec::new();
    for _ in 0..5 {
        ns.push(t.authorized_order("gmo_card").await);
    }
    // Its total changed after the authorization: the run refuses it (取引更新 first).
    let differs = ns[4];
    t.set_shipping_fee(differs, 1200).await;

    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;
    c.goto(&format!("{}/admin/payments/bulk", t.base))
        .await
        .unwrap();
    assert_eq!(text(&c, "#total").await, "5");
    let row = text(&c, &format!("tr[data-number='{differs}']")).await;
    assert!(row.contains("差異あり"), "{row}");
    assert!(row.contains("仮売上"), "{row}");
    assert_no_overflow(&c, "外部決済一括処理").await;
    full_shot(&c, "bulk-list").await;

    for n in [ns[0], ns[1], ns[2], differs] {
        c.find(Locator::Css(&format!("input[name=number][value='{n}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    c.find(Locator::Id("action"))
        .await
        .unwrap()
        .select_by_value("capture")
        .await
        .unwrap();
    submit(&c, "#bulk-next").await;
    assert_eq!(text(&c, "#count").await, "4");
    let confirm = text(&c, "#confirm-text").await;
    assert!(
        confirm.contains("「売上確定」") && confirm.contains("30,640円"),
        "{confirm}"
    );
    full_shot(&c, "bulk-confirm").await;

    submit(&c, "#run").await;
    // The page follows the run until it ends.
    assert_eq!(run_state(&c).await, "done");
    assert_eq!(text(&c, "#ok-count").await, "3");
    assert_eq!(text(&c, "#ng-count").await, "1");
    let failed = c
        .find(Locator::Css(&format!("#items tr[data-number='{differs}']")))
        .await
        .unwrap();
    assert_eq!(failed.attr("class").await.unwrap().as_deref(), Some("ng"));
    let why = failed.text().await.unwrap();
    assert!(
        why.contains("エラーコード:amount_differs") && why.contains("取引更新"),
        "{why}"
    );
    let ok = text(&c, &format!("#items tr[data-number='{}']", ns[0])).await;
    assert!(ok.contains("正常終了"), "{ok}");
    assert_no_overflow(&c, "一括処理の結果").await;
    full_shot(&c, "bulk-run").await;

    c.goto(&format!("{}/admin/payments/bulk/runs", t.base))
        .await
        .unwrap();
    let log = text(&c, "#runs tbody tr").await;
    assert!(log.contains("売上確定") && log.contains("完了"), "{log}");
    full_shot(&c, "bulk-runs").await;

    // The captured orders leave 未処理一覧; the refused one and the unchosen one stay.
    c.goto(&format!("{}/admin/payments/bulk", t.base))
        .await
        .unwrap();
    assert_eq!(text(&c, "#total").await, "2");
    assert!(
        c.find(Locator::Css(&format!("tr[data-number='{differs}']")))
            .await
            .is_ok()
    );
    assert!(
        c.find(Locator::Css(&format!("tr[data-number='{}']", ns[0])))
            .await
            .is_err()
    );
    // 「検索結果すべて」: 状態確認 of every order the list finds (the two left).
    c.find(Locator::Id("scope-all"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("action"))
        .await
        .unwrap()
        .select_by_value("refresh")
        .await
        .unwrap();
    submit(&c, "#bulk-next").await;
    assert_eq!(text(&c, "#count").await, "2");
    submit(&c, "#run").await;
    assert_eq!(run_state(&c).await, "done");
    assert_eq!(text(&c, "#ok-count").await, "2");
    // 受注一覧 shows 決済状況.
    c.goto(&format!("{}/admin/orders", t.base)).await.unwrap();
    let row = text(&c, &format!("#results tr[data-number='{}']", ns[0])).await;
    assert!(row.contains("売上確定"), "{row}");
    full_shot(&c, "bulk-orders-payment-state").await;
    // 決済ログ: the run's captures among all operations, filtered to 売上確定.
    c.goto(&format!("{}/admin/payments/log?action=capture", t.base))
        .await
        .unwrap();
    assert_eq!(text(&c, "#total").await, "3");
    let first = text(&c, "#log tbody tr").await;
    assert!(
        first.contains("売上確定") && first.contains("一括処理 #1"),
        "{first}"
    );
    assert_no_overflow(&c, "決済ログ").await;
    full_shot(&c, "payment-log").await;
}

/// 中止 on a run's page: the operator confirms, the orders not begun are skipped and say
/// so, the payments stay as they were, and the page shows the run stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_stops_a_run() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let mut ns = Vec::new();
    for _ in 0..3 {
        ns.push(t.authorized_order("gmo_card").await);
    }
    // A run stored but not yet taken by a worker (as when every worker is busy elsewhere).
    let id = t
        .stored_bulk_run("capture", &ns, juchu_domain::payment_method::Gateway::Gmo)
        .await;

    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;
    c.goto(&format!("{}/admin/payments/bulk/runs/{id}", t.base))
        .await
        .unwrap();
    assert_eq!(
        c.find(Locator::Id("run"))
            .await
            .unwrap()
            .attr("data-state")
            .await
            .unwrap()
            .as_deref(),
        Some("running")
    );
    full_shot(&c, "bulk-run-running").await;
    c.find(Locator::Id("stop"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.accept_alert().await.unwrap();
    assert_eq!(run_state(&c).await, "stopped");
    for n in &ns {
        let row = text(&c, &format!("#items tr[data-number='{n}']")).await;
        assert!(row.contains("中止により未実行"), "{row}");
        let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
        assert_eq!(p["state"], "authorized", "untouched: {p}");
    }
    assert!(
        c.find(Locator::Id("stop")).await.is_err(),
        "no 中止 once stopped"
    );
    assert_no_overflow(&c, "中止した一括処理").await;
    full_shot(&c, "bulk-run-stopped").await;
}
