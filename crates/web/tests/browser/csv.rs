//! CSV出力項目設定 and the CSV downloads in headless Chromium: the columns changed on the
//! settings screen (an empty list refused beside the list first), a search, its CSV fetched
//! through the page's own link and decoded from Shift_JIS, the 送り状データ of the search and
//! of one order (recorded in its history). Screenshots: target/screenshots/csv-*.png.

use crate::browser;
use crate::support;

use browser::{browser, full_shot, login, submit, text};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use support::TestApp;

/// Select exactly `values` in the multiple select `css` (Ctrl+click in a person's hands).
async fn select(c: &Client, css: &str, values: &[&str]) {
    let n = c
        .execute(
            "const [css, vs] = arguments; let n = 0;
             document.querySelectorAll(css + ' option').forEach(o => { o.selected = vs.includes(o.value); if (o.selected) n++; });
             return n;",
            vec![json!(css), json!(values)],
        )
        .await
        .unwrap();
    assert_eq!(n, json!(values.len()), "{css}: {values:?}");
}

/// The option values of a select, in order.
async fn options(c: &Client, css: &str) -> Vec<String> {
    let v = c
        .execute(
            "return Array.from(document.querySelectorAll(arguments[0] + ' option')).map(o => o.value);",
            vec![json!(css)],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Follow the link `css` with the page's own fetch (the session cookie goes along, as on a
/// click) and return the response's type and bytes: a download never shows as a page.
async fn fetch_link(c: &Client, css: &str) -> (String, Vec<u8>) {
    let v: Value = c
        .execute_async(
            r#"const [css, done] = arguments;
               const a = document.querySelector(css);
               if (!a) { done({error: "no " + css}); return; }
               fetch(a.href).then(async r => done({status: r.status, type: r.headers.get("content-type"),
                   bytes: Array.from(new Uint8Array(await r.arrayBuffer()))}), e => done({error: String(e)}));"#,
            vec![json!(css)],
        )
        .await
        .unwrap();
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(v["status"], 200, "{css}");
    (
        v["type"].as_str().unwrap().to_owned(),
        serde_json::from_value(v["bytes"].clone()).unwrap(),
    )
}

fn sjis_records(bytes: &[u8]) -> Vec<Vec<String>> {
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
    assert!(!bad, "valid Shift_JIS");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Three orders: #1 card (two lines), #2 代金引換 with a memo, #3 bank transfer.
async fn dataset(t: &TestApp) {
    sqlx::query("UPDATE shops SET tel = $1, postal_code = $2, address = $3 WHERE id = $4")
        .bind("03-1234-5678")
        .bind("1500001")
        .bind("東京都渋谷区神宮前1-2-3 受注ビル5F")
        .bind(t.shop_id)
        .execute(t.app.store.pool())
        .await
        .unwrap();
    t.import(support::order_json()).await;
    let mut cod = support::order_json();
    cod["customer"]["family_name"] = json!("髙橋");
    cod["customer"]["family_kana"] = json!("タカハシ");
    cod["payment_method"] = json!("cash_on_delivery");
    cod["fee"] = json!(330);
    cod["memo"] = json!("①番の棚から出荷");
    cod["delivery_time"] = json!("14時～16時");
    t.import(cod).await;
    let mut bank = support::order_json();
    bank["items"] = json!([{"product_code": "TEA-1", "quantity": 2}]);
    bank["payment_method"] = json!("bank_transfer");
    t.import(bank).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_chosen_on_screen_shape_the_downloads() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    dataset(&t).await;
    let (_d, c) = browser().await;
    login(&c, &t, "operator").await;

    // The menu leads to the screen; it starts with the built-in 32 columns.
    c.find(Locator::LinkText("CSV出力項目設定"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(text(&c, "h1").await.contains("CSV出力項目設定"));
    let initial = options(&c, "#chosen").await;
    assert_eq!(initial.len(), 32);
    assert!(text(&c, "#columns-form").await.contains("初期設定"));
    full_shot(&c, "csv-settings").await;

    // Everything removed and saved: refused beside the list, nothing stored.
    let all: Vec<&str> = initial.iter().map(String::as_str).collect();
    select(&c, "#chosen", &all).await;
    submit(&c, "#remove").await;
    assert!(options(&c, "#chosen").await.is_empty());
    assert!(text(&c, "#unsaved").await.contains("保存されていません"));
    submit(&c, "#save").await;
    assert_eq!(
        text(&c, "#chosen-errors .err").await,
        "出力する項目を1つ以上選んでください"
    );
    full_shot(&c, "csv-settings-error").await;
    let (_, v) = t.get("/api/v1/shop/csv-columns/orders").await;
    assert_eq!(v["is_default"], true, "nothing stored");

    // Six columns added (they go in catalogue order), ショップ用メモ moved up twice, saved.
    select(
        &c,
        "#available",
        &[
            "quantity",
            "memo",
            "number",
            "product_name",
            "customer_name",
            "payment_total",
        ],
    )
    .await;
    submit(&c, "#add").await;
    assert_eq!(
        options(&c, "#chosen").await,
        [
            "number",
            "customer_name",
            "payment_total",
            "product_name",
            "quantity",
            "memo"
        ]
    );
    select(&c, "#chosen", &["memo"]).await;
    submit(&c, "#up").await;
    // The moved item stays selected, so 上へ can be pressed again.
    submit(&c, "#up").await;
    let want = [
        "number",
        "customer_name",
        "payment_total",
        "memo",
        "product_name",
        "quantity",
    ];
    assert_eq!(options(&c, "#chosen").await, want);
    assert_eq!(
        text(&c, "#preview").await,
        "注文番号,顧客名,お支払い合計,ショップ用メモ,商品名,数量"
    );
    submit(&c, "#save").await;
    assert_eq!(text(&c, "#done").await, "受注CSVの出力項目を保存しました");
    assert_eq!(options(&c, "#chosen").await, want);
    assert!(text(&c, "#b2-sender").await.contains("〒150-0001"));
    full_shot(&c, "csv-settings-saved").await;

    // A search (代金引換 and card orders), then its CSV through the link on the screen.
    c.goto(&format!("{}/admin/orders", t.base)).await.unwrap();
    for m in ["gmo_card", "cash_on_delivery"] {
        c.find(Locator::Css(&format!(
            "input[name=payment_method][value={m}]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    }
    c.find(Locator::Css("#sort"))
        .await
        .unwrap()
        .select_by_value("number_asc")
        .await
        .unwrap();
    submit(&c, "#search button[type=submit]").await;
    assert_eq!(text(&c, "#total").await, "2");
    full_shot(&c, "csv-orders-search").await;
    let (ct, bytes) = fetch_link(&c, "#csv-sjis").await;
    assert_eq!(ct, "text/csv; charset=Shift_JIS");
    let rows = sjis_records(&bytes);
    assert_eq!(
        rows[0],
        [
            "注文番号",
            "顧客名",
            "お支払い合計",
            "ショップ用メモ",
            "商品名",
            "数量"
        ]
    );
    assert_eq!(
        rows[1..],
        [
            ["1", "山田 花子", "7660", "", "Tシャツ", "2"],
            ["1", "山田 花子", "7660", "", "緑茶", "1"],
            ["2", "髙橋 花子", "7990", "①番の棚から出荷", "Tシャツ", "2"],
            ["2", "髙橋 花子", "7990", "①番の棚から出荷", "緑茶", "1"],
        ],
        "only the search's orders, one row per line"
    );

    // 送り状データ of the same search: one B2 row per order.
    let (ct, bytes) = fetch_link(&c, "#shipping-csv").await;
    assert_eq!(ct, "text/csv; charset=Shift_JIS");
    let rows = sjis_records(&bytes);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], "お客様管理番号");
    assert_eq!((rows[1][0].as_str(), rows[1][1].as_str()), ("1", "0"));
    assert_eq!((rows[2][0].as_str(), rows[2][1].as_str()), ("2", "2"));
    assert_eq!(rows[2][6], "1416");
    assert_eq!(rows[2][16], "ﾀｶﾊｼ ﾊﾅｺ");
    assert_eq!(rows[2][33], "7990");
    assert_eq!(rows[2][22], "東京都渋谷区神宮前1-2-3 受注ビル5F");

    // One order's 送り状データ from the order screen, recorded in its history.
    c.goto(&format!("{}/admin/orders/2", t.base)).await.unwrap();
    let (_, bytes) = fetch_link(&c, "#shipping-csv").await;
    let rows = sjis_records(&bytes);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], "2");
    c.refresh().await.unwrap();
    assert!(
        text(&c, "#history")
            .await
            .contains("送り状データを出力しました")
    );
    full_shot(&c, "csv-order").await;

    // Once in 受注完了一覧 the order screen no longer offers it, and the address refuses it.
    let (st, v) = t
        .post("/api/v1/orders/3/move", json!({"list": "completed"}))
        .await;
    assert!(st.is_success(), "{v}");
    c.goto(&format!("{}/admin/orders/3", t.base)).await.unwrap();
    assert!(c.find(Locator::Css("a#shipping-csv")).await.is_err());
    c.goto(&format!("{}/admin/orders/3/shipping-csv", t.base))
        .await
        .unwrap();
    let refusal = text(&c, ".box").await;
    assert!(
        refusal.contains("受注完了一覧") && refusal.contains("送り状データの出力"),
        "{refusal}"
    );
}
