//! The payment panel and 受注編集 on the order screen, in headless Chromium: for Paygent,
//! GMO-PG and Paidy the operator clicks through the states the manuals describe, sees only
//! the buttons the payment allows, and sees every outcome (success in green, refusals in red
//! with the gateway's code, 確認中 in amber). Screenshots of each state land in
//! target/screenshots/payment-<gateway>-<state>.png.

use crate::browser;
use crate::support;

use std::time::Duration;

use browser::{browser, fill, login, shot, submit, text};
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestApp;

const CARD: &str = "4111111111111111";

/// 与信 through the API, as checkout would.
async fn authorize(t: &TestApp, number: i64, body: Value) {
    let (st, v) = t
        .post(&format!("/api/v1/orders/{number}/payment"), body)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "succeeded", "{v}");
}

fn card(capture: bool) -> Value {
    json!({"test_card_number": CARD, "test_card_expire": "3012", "capture": capture})
}

/// Load the order page afresh (a URL differing only by its #fragment would not reload) and
/// scroll to the payment panel.
async fn open(c: &Client, t: &TestApp, number: i64) {
    c.goto(&format!("{}/admin/orders/{number}", t.base))
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("payment")).await.unwrap();
    c.execute(
        "document.getElementById('payment').scrollIntoView(); return null;",
        vec![],
    )
    .await
    .unwrap();
}

/// The payment panel's buttons, in order.
async fn buttons(c: &Client) -> Vec<String> {
    let mut out = vec![];
    for b in c.find_all(Locator::Css("#payment button")).await.unwrap() {
        out.push(b.text().await.unwrap());
    }
    out
}

async fn has(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css)).await.is_ok()
}

async fn class_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The outcome box after an operation: its colour class and text.
async fn result(c: &Client) -> (String, String) {
    let text = text(c, "#pay-result").await;
    (class_of(c, "#pay-result").await, text)
}

async fn assert_ok(c: &Client, what: &str) -> String {
    let (class, text) = result(c).await;
    assert!(class.contains("ok"), "{what}: {class} {text}");
    assert!(text.contains("成功"), "{what}: {text}");
    text
}

async fn state(c: &Client) -> String {
    text(c, "#pay-state").await
}

async fn rows(c: &Client, css: &str) -> Vec<String> {
    let mut out = vec![];
    for r in c.find_all(Locator::Css(css)).await.unwrap() {
        out.push(r.text().await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_runs_payments_from_the_order_screen() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;

    paygent(&t, &c).await;
    gmo(&t, &c).await;
    gmo_capture_mode(&t, &c).await;
    gmo_in_doubt(&t, &c).await;
    paygent_console_amendment(&t, &c).await;
    paidy(&t, &c).await;
    not_yet_paid(&t, &c).await;
    payment_settings(&t, &c).await;
    paid_later(&t, &c).await;
    notices_page(&t, &c).await;
    // Last: these move the clock on.
    paygent_expired(&t, &c).await;
    net_bank_past_due(&t, &c).await;
    c.close().await.unwrap();
}

/// Paygent: authorized → items edited (計算結果の確認, field errors, stale version) → 取引更新
/// → 売上確定 (a double submit runs once) → 売上変更 → キャンセル.
async fn paygent(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(t, n, card(false)).await;
    open(c, t, n).await;
    assert_eq!(state(c).await, "仮売上");
    let info = text(c, "#pay-info").await;
    assert!(
        info.contains("取引ID") && info.contains("7,660円"),
        "{info}"
    );
    assert!(info.contains("一括払い") && info.contains("1111"), "{info}");
    assert_eq!(
        buttons(c).await,
        ["キャンセル", "売上確定", "オーソリ変更", "決済状況を確認"]
    );
    assert!(!has(c, "#pay-warnings").await);
    shot(c, "payment-paygent-authorized").await;

    // 受注編集: a bad number is reported beside its field; nothing is saved.
    c.find(Locator::Id("edit-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("edit")).await.unwrap();
    fill(c, "#quantity_0", "abc").await;
    submit(c, "#preview-button").await;
    let err = text(c, "[data-field='items[0].quantity']").await;
    assert!(err.contains("半角数字"), "{err}");
    // 計算結果の確認 shows the new totals without saving them.
    fill(c, "#quantity_0", "1").await;
    fill(c, "#shipping_fee", "800").await;
    submit(c, "#preview-button").await;
    assert_eq!(text(c, "#preview-total").await, "4,870円");
    assert!(
        text(c, "#preview-note")
            .await
            .contains("決済金額（7,660円）")
    );
    assert_eq!(text(c, "#payment-total").await, "7,660円");
    shot(c, "payment-paygent-edit-preview").await;
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(o["totals"]["payment_total"], 7660, "preview saved nothing");
    // 保存 with the version the operator started from.
    // The preview and the save compute the same totals.
    fill(c, "#shipping_fee", "600").await;
    submit(c, "#preview-button").await;
    assert_eq!(text(c, "#preview-total").await, "4,670円");
    submit(c, "#save-button").await;
    assert!(text(c, "#done").await.contains("4,670円"));
    assert_eq!(text(c, "#payment-total").await, "4,670円");

    // A stale edit (someone else saved meanwhile) is refused with the app's words.
    c.find(Locator::Id("edit-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("edit")).await.unwrap();
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    let (st, v) = t
        .patch(
            &format!("/api/v1/orders/{n}"),
            json!({"version": o["version"], "memo": "電話で数量変更"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    fill(c, "#fee", "300").await;
    submit(c, "#save-button").await;
    let alert = text(c, "#edit-alert").await;
    assert!(
        alert.contains("ほかの操作で内容が変更されています"),
        "{alert}"
    );
    shot(c, "payment-paygent-edit-stale").await;
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(o["totals"]["fee"], 0);

    // The order now differs from the authorization: 取引更新 is offered, and 売上確定 waits
    // until the amounts agree (seed 004 §7-4).
    open(c, t, n).await;
    let w = text(c, "#pay-warnings").await;
    assert!(
        w.contains("受注金額（4,670円）と決済金額（7,660円）が異なります"),
        "{w}"
    );
    assert_eq!(
        buttons(c).await,
        ["キャンセル", "取引更新", "オーソリ変更", "決済状況を確認"]
    );
    shot(c, "payment-paygent-differs").await;
    let old_id = text(c, "#pay-id").await;
    submit(c, "#pay-update_transaction").await;
    let r = assert_ok(c, "取引更新").await;
    assert!(r.contains("取引更新") && r.contains("4,670円"), "{r}");
    assert!(!has(c, "#pay-warnings").await);
    assert!(!buttons(c).await.contains(&"取引更新".to_owned()));
    let prev = text(c, "#pay-previous").await;
    assert!(prev.contains(old_id.lines().next().unwrap()), "{prev}");
    shot(c, "payment-paygent-updated").await;

    // 売上確定, sent twice with the same form token (a double click): it runs once.
    let twice = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const f = document.querySelector("form[data-action=capture]");
               const send = () => fetch(f.action, {method: "POST", body: new URLSearchParams(new FormData(f)), redirect: "manual"});
               Promise.all([send(), send()]).then(() => done("sent"), e => done(String(e)));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(twice, "sent");
    open(c, t, n).await;
    assert_eq!(state(c).await, "売上確定");
    let ops = rows(c, "#pay-ops tbody td.op-action").await;
    assert_eq!(ops, ["売上確定", "取引更新", "オーソリ"]);
    assert_eq!(
        buttons(c).await,
        ["キャンセル", "売上変更", "決済状況を確認"]
    );
    shot(c, "payment-paygent-captured").await;

    // 売上変更 to a lower amount.
    fill(c, "#amount-change_capture", "4000").await;
    submit(c, "#pay-change_capture").await;
    let r = assert_ok(c, "売上変更").await;
    assert!(r.contains("4,000円"), "{r}");
    assert_eq!(state(c).await, "売上確定");
    assert!(text(c, "#pay-info").await.contains("4,000円"));
    shot(c, "payment-paygent-capture-changed").await;

    submit(c, "#pay-cancel").await;
    assert_ok(c, "キャンセル").await;
    assert_eq!(state(c).await, "取消");
    assert_eq!(buttons(c).await, ["決済状況を確認"]);
    shot(c, "payment-paygent-cancelled").await;
}

/// GMO: 仮売上 → 金額変更 (仮売上) → 実売上 → 取消 → 対応状況 away from キャンセル → 再オーソリ.
async fn gmo(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("gmo_card").await;
    authorize(t, n, card(false)).await;
    open(c, t, n).await;
    assert_eq!(state(c).await, "仮売上");
    assert!(
        text(c, "#pay-actions")
            .await
            .contains("カード決済状況変更（現在状況: 仮売上）")
    );
    assert_eq!(
        buttons(c).await,
        [
            "実売上",
            "取消・返品・月跨返品",
            "金額変更",
            "決済状況を確認"
        ]
    );
    assert_eq!(
        text(c, "#capture-change_authorization").await,
        "仮売上\n即時売上"
    );
    shot(c, "payment-gmo-authorized").await;

    // The amount field starts at the order's total, which the payment already has.
    submit(c, "#pay-change_authorization").await;
    let (class, r) = result(c).await;
    assert!(class.contains("ng") && r.contains("既に7,660円"), "{r}");

    fill(c, "#amount-change_authorization", "7000").await;
    submit(c, "#pay-change_authorization").await;
    assert_ok(c, "金額変更").await;
    assert_eq!(state(c).await, "仮売上");
    assert!(text(c, "#pay-info").await.contains("7,000円"));
    assert!(
        text(c, "#pay-warnings")
            .await
            .contains("決済金額（7,000円）")
    );
    shot(c, "payment-gmo-amount-changed").await;

    submit(c, "#pay-capture").await;
    assert_ok(c, "実売上").await;
    assert_eq!(state(c).await, "売上確定");
    assert!(text(c, "#pay-info").await.contains("SALES"));
    // After capture the new amount can only end as 即時売上.
    assert_eq!(text(c, "#capture-change_capture").await, "即時売上");
    shot(c, "payment-gmo-captured").await;

    submit(c, "#pay-cancel").await;
    let r = assert_ok(c, "取消").await;
    assert!(r.contains("VOID"), "same day: 取消 (VOID): {r}");
    assert_eq!(state(c).await, "取消");

    // 再オーソリ waits until the order's status leaves キャンセル.
    t.post(
        &format!("/api/v1/orders/{n}/status"),
        json!({"status": "cancelled"}),
    )
    .await;
    open(c, t, n).await;
    assert_eq!(buttons(c).await, ["決済状況を確認"]);
    assert!(
        text(c, "#pay-actions")
            .await
            .contains("再オーソリは対応状況")
    );
    shot(c, "payment-gmo-cancelled").await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/status"),
            json!({"status": "new"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    open(c, t, n).await;
    assert_eq!(buttons(c).await, ["再オーソリ", "決済状況を確認"]);
    submit(c, "#pay-reauthorize").await;
    assert_ok(c, "再オーソリ").await;
    assert_eq!(state(c).await, "仮売上");
    assert!(text(c, "#pay-info").await.contains("7,660円"));
    assert!(buttons(c).await.contains(&"実売上".to_owned()));
    shot(c, "payment-gmo-reauthorized").await;
}

/// GMO 即時売上: only キャンセル is offered; a button on a page that went stale is refused.
async fn gmo_capture_mode(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("gmo_card").await;
    authorize(t, n, card(true)).await;
    open(c, t, n).await;
    assert_eq!(state(c).await, "売上確定");
    assert!(text(c, "#pay-info").await.contains("即時売上"));
    assert_eq!(buttons(c).await, ["取消・返品・月跨返品", "決済状況を確認"]);
    shot(c, "payment-gmo-capture-mode").await;

    // Someone cancels it meanwhile (another screen, the API): this page's button is stale.
    let (st, v) = t
        .post(&format!("/api/v1/orders/{n}/payment/cancel"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    submit(c, "#pay-cancel").await;
    let (class, r) = result(c).await;
    assert!(class.contains("ng"), "{class}");
    assert!(
        r.contains("stale_version") && r.contains("ほかの操作で内容が変更されています"),
        "{r}"
    );
    assert_eq!(state(c).await, "取消");
    shot(c, "payment-gmo-stale").await;
}

/// A 補正 made on Paygent's own screen: 決済状況を確認 follows it to the new payment id and
/// says what happened and what to do; capture waits until the amounts agree.
async fn paygent_console_amendment(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(t, n, card(false)).await;
    let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    let old = p["payment_id"].as_str().unwrap().to_owned();
    t.sandbox_control(
        &format!("/paygent/{old}/admin"),
        json!({"action": "amount", "amount": 7000}),
    )
    .await;
    open(c, t, n).await;
    submit(c, "#pay-refresh").await;
    assert_ok(c, "決済状況を確認").await;
    let w = text(c, "#pay-warnings").await;
    assert!(
        w.contains("ペイジェントの管理画面で補正され") && w.contains("7,660円 → 7,000円"),
        "{w}"
    );
    assert!(!buttons(c).await.contains(&"売上確定".to_owned()));
    assert!(buttons(c).await.contains(&"取引更新".to_owned()));
    shot(c, "payment-paygent-console-amendment").await;
}

/// A lost answer: the panel shows 確認中 and only 決済状況を確認, which settles it.
async fn gmo_in_doubt(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("gmo_card").await;
    authorize(t, n, card(false)).await;
    t.sandbox_control(
        "/faults",
        json!({"gateway": "gmo", "operation": "AlterTran", "kind": "drop_after", "times": 1}),
    )
    .await;
    open(c, t, n).await;
    submit(c, "#pay-capture").await;
    // The lost answer is shown once, in amber, with the one thing left to do.
    let open = text(c, "#pay-open").await;
    assert!(
        open.starts_with("確認中") && open.contains("売上確定"),
        "{open}"
    );
    assert!(class_of(c, "#pay-open").await.contains("wait"));
    assert!(!has(c, "#pay-result").await);
    assert!(text(c, "#pay-ops tbody tr").await.contains("確認中"));
    assert_eq!(buttons(c).await, ["決済状況を確認"]);
    shot(c, "payment-gmo-in-doubt").await;

    submit(c, "#pay-refresh").await;
    assert_ok(c, "決済状況を確認").await;
    assert!(!has(c, "#pay-open").await);
    assert_eq!(state(c).await, "売上確定");
    // The button's own check is the newest line; the capture it settled is below it.
    assert_eq!(
        text(c, "#pay-ops tbody tr:nth-child(1) td.op-action").await,
        "決済状況を確認"
    );
    assert_eq!(
        text(c, "#pay-ops tbody tr:nth-child(2) td.op-action").await,
        "売上確定"
    );
    let op = text(c, "#pay-ops tbody tr:nth-child(2)").await;
    assert!(op.contains("成功") && op.contains("照会の結果"), "{op}");
    shot(c, "payment-gmo-settled").await;
}

/// Paidy: amount differs → 更新 → 売上確定 → partial 払い戻し → the difference after capture.
async fn paidy(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("paidy").await;
    authorize(t, n, json!({"token": "tok_x"})).await;
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    let (st, v) = t
        .patch(
            &format!("/api/v1/orders/{n}"),
            json!({"version": o["version"], "shipping_fee": 800}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    open(c, t, n).await;
    assert_eq!(state(c).await, "オープン");
    let info = text(c, "#pay-info").await;
    assert!(info.contains("pay_"), "{info}");
    assert!(info.contains("受注のお支払い合計と異なります"), "{info}");
    assert!(info.contains("売上確定有効期限"), "{info}");
    let w = text(c, "#pay-warnings").await;
    assert!(
        w.contains("注文代金の総額（7,860円）とPaidyの決済金額（7,660円）が異なります"),
        "{w}"
    );
    // 売上確定 waits until 更新 has made the amounts agree.
    assert_eq!(buttons(c).await, ["更新（アップデート）", "決済状況を確認"]);
    shot(c, "payment-paidy-differs").await;

    submit(c, "#pay-paidy_update").await;
    assert_ok(c, "更新").await;
    assert!(!has(c, "#pay-warnings").await);
    assert!(text(c, "#pay-last").await.contains("更新: 成功"));
    shot(c, "payment-paidy-updated").await;

    submit(c, "#pay-capture").await;
    assert_ok(c, "売上確定").await;
    assert_eq!(state(c).await, "クローズ");
    assert!(text(c, "#pay-billed").await.starts_with("7,860円"));
    assert_eq!(
        buttons(c).await,
        ["払い戻し（リファンド）", "決済状況を確認"]
    );
    shot(c, "payment-paidy-captured").await;

    // Typing an amount unchecks 全額: a partial refund.
    fill(c, "#amount-refund", "1000").await;
    assert_eq!(
        c.find(Locator::Id("refund-all"))
            .await
            .unwrap()
            .prop("checked")
            .await
            .unwrap()
            .as_deref(),
        Some("false")
    );
    submit(c, "#pay-refund").await;
    let r = assert_ok(c, "払い戻し").await;
    assert!(r.contains("1,000円"), "{r}");
    let billed = text(c, "#pay-billed").await;
    assert!(
        billed.starts_with("6,860円") && billed.contains("払い戻し: 1,000円"),
        "{billed}"
    );
    let w = text(c, "#pay-warnings").await;
    assert!(
        w.contains("売上確定後に注文代金の総額（7,860円）が請求済金額（6,860円）と異なっています"),
        "{w}"
    );
    assert!(text(c, "#pay-last").await.contains("払い戻し: 成功"));
    shot(c, "payment-paidy-refunded").await;
}

/// An order paid by card with no payment yet shows only a note.
async fn not_yet_paid(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("paygent_card").await;
    open(c, t, n).await;
    assert_eq!(text(c, "#pay-empty").await, "決済はまだありません");
    assert!(buttons(c).await.is_empty());
}

/// Paygent 60 days on: 期限切れ by juchu's clock, only 決済状況を確認 left and the buyer must
/// order again; where juchu counted longer, 売上確定 is refused by Paygent with its code and
/// the state becomes 期限切れ.
async fn paygent_expired(t: &TestApp, c: &Client) {
    let m = t.order_paid_by("paygent_card").await;
    authorize(t, m, card(false)).await;
    let n = t.order_paid_by("paygent_card").await;
    authorize(t, n, card(false)).await;
    t.stretch_capture_deadline(n).await;
    t.set_now("2024-10-19T01:00:00Z");
    // The session has expired meanwhile too.
    login(c, t, "admin").await;
    open(c, t, m).await;
    assert_eq!(state(c).await, "期限切れ");
    let w = text(c, "#pay-warnings").await;
    assert!(w.contains("有効期限") && w.contains("再度ご購入"), "{w}");
    assert_eq!(buttons(c).await, ["決済状況を確認"]);
    shot(c, "payment-paygent-lapsed").await;
    open(c, t, n).await;
    assert_eq!(state(c).await, "仮売上");
    submit(c, "#pay-capture").await;
    let (class, r) = result(c).await;
    assert!(class.contains("ng") && r.contains("失敗"), "{class} {r}");
    let code = text(c, "#pay-result-code").await;
    assert!(code.len() > "コード: ".len(), "Paygent's code: {code}");
    assert_eq!(state(c).await, "期限切れ");
    assert_eq!(text(c, "#pay-ops tbody td.op-action").await, "売上確定");
    let op = text(c, "#pay-ops tbody tr").await;
    assert!(
        op.contains("失敗") && op.contains(code.trim_start_matches("コード: ")),
        "{op}"
    );
    assert!(op.contains("管理 太郎"), "who: {op}");
    shot(c, "payment-paygent-expired").await;
}

/// 基本設定 > 決済: the month's Paygent fees, automatic status and the fee (full-width digits
/// accepted; a bad one is refused beside the field).
async fn payment_settings(t: &TestApp, c: &Client) {
    c.goto(&format!("{}/admin/settings", t.base)).await.unwrap();
    let total = text(c, "#fee-total").await;
    assert!(total.contains("件") && total.contains("円"), "{total}");
    fill(c, "#paygent_fee", "abc").await;
    submit(c, "#payment-settings button[type=submit]").await;
    assert!(text(c, "#payment-settings .err").await.contains("半角数字"));
    c.find(Locator::Id("auto_status"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(c, "#paygent_fee", "１２").await;
    submit(c, "#payment-settings button[type=submit]").await;
    assert!(text(c, ".flash").await.contains("保存しました"));
    assert!(text(c, "#pay-settings").await.contains("12円"));
    assert!(text(c, "#pay-settings").await.contains("自動で変更する"));
    shot(c, "payment-settings").await;
    fill(c, "#shop-mail #email", "shop@juchu-test.example").await;
    submit(c, "#shop-mail button[type=submit]").await;
    assert_eq!(text(c, "#shop-email").await, "shop@juchu-test.example");
}

/// GMO konbini: the payment number and due date while 入金待ち; paid at the store, the push
/// makes it 入金済み.
async fn paid_later(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("gmo_konbini").await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/payment/request"),
            json!({"store": "10001"}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{v}");
    open(c, t, n).await;
    assert_eq!(state(c).await, "入金待ち");
    let info = text(c, "#pay-info").await;
    assert!(
        info.contains("受付番号") && info.contains("支払期限"),
        "{info}"
    );
    assert!(buttons(c).await.contains(&"支払番号を取り消す".to_owned()));
    shot(c, "payment-gmo-konbini-awaiting").await;
    let oid = t.get(&format!("/api/v1/orders/{n}/payment")).await.1["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.sandbox_control(&format!("/gmo/{oid}/pay"), json!({}))
        .await;
    for _ in 0..100 {
        if t.get(&format!("/api/v1/orders/{n}")).await.1["status"] == "paid" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    open(c, t, n).await;
    assert_eq!(state(c).await, "入金済み");
    shot(c, "payment-gmo-konbini-paid").await;
}

/// Paygent net bank past its due date: the order stays 入金待ち and the panel says why the
/// operator must look.
async fn net_bank_past_due(t: &TestApp, c: &Client) {
    let n = t.order_paid_by("paygent_netbank").await;
    let (st, v) = t
        .post(&format!("/api/v1/orders/{n}/payment/request"), json!({}))
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{v}");
    t.set_now("2024-12-20T01:00:00Z");
    let (st, _) = t.post("/api/v1/payments/sync", json!({})).await;
    assert_eq!(st, reqwest::StatusCode::OK);
    login(c, t, "admin").await;
    open(c, t, n).await;
    assert!(text(c, "#pay-warnings").await.contains("銀行ネット決済"));
    shot(c, "payment-paygent-netbank-past-due").await;
}

/// 決済通知: a forged notification is shown in red as refused, with why.
async fn notices_page(t: &TestApp, c: &Client) {
    let r = t
        .client
        .post(format!("{}/notify/test/paygent", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("payment_notice_id=77&payment_id=1&trading_id=1&payment_type=03&payment_status=40&payment_amount=100&hc=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap().trim(), "result=0");
    c.goto(&format!("{}/admin/notices?refused=1", t.base))
        .await
        .unwrap();
    let row = text(c, "#notices tbody tr").await;
    assert!(
        row.contains("受付拒否") && row.contains("ハッシュ値"),
        "{row}"
    );
    shot(c, "payment-notices-refused").await;
    c.goto(&format!("{}/admin/notices", t.base)).await.unwrap();
    assert!(text(c, "#notices").await.contains("反映"));
    shot(c, "payment-notices").await;
}
