//! CSV出力項目設定 and the CSV downloads through the API: column settings stored and read
//! back, bad settings refused with nothing stored, the 受注CSV following the chosen columns,
//! Shift_JIS decoded back, and the 送り状データ (B2クラウド) rows within B2's limits. Runs
//! on SQLite and PostgreSQL.

use crate::both_backends;
use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestApp;

fn codes(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn put_columns(t: &TestApp, token: &str, kind: &str, body: Value) -> (StatusCode, Value) {
    support::send(
        t.client
            .put(format!("{}/api/v1/shop/csv-columns/{kind}", t.base))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

/// The body of a GET as bytes, checking status and type.
async fn download(t: &TestApp, path: &str, charset: &str) -> Vec<u8> {
    let r = t.req(Method::GET, path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        format!("text/csv; charset={charset}")
    );
    r.bytes().await.unwrap().to_vec()
}

/// Decode Shift_JIS (no malformed bytes allowed) and split into records, header first.
fn sjis_records(bytes: &[u8]) -> Vec<Vec<String>> {
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
    assert!(!bad, "valid Shift_JIS");
    records(&text)
}

fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn column_settings_round_trip(t: TestApp) {
    let (st, v) = t.get("/api/v1/shop/csv-columns/orders").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["is_default"], true);
    assert_eq!(v["editable"], true);
    let default = codes(&v, "columns");
    assert_eq!(default.len(), 32);
    assert_eq!(default[0], "number");
    assert_eq!(v["columns"][0]["header"], "注文番号");
    assert_eq!(v["columns"][14]["per"], "line", "商品コード is per line");
    let available = codes(&v, "available");
    for c in [
        "memo",
        "payment_checked",
        "delivery_date",
        "tax10",
        "birth_date",
    ] {
        assert!(available.contains(&c.to_owned()), "{c} can be chosen");
    }
    assert!(!available.iter().any(|a| default.contains(a)));

    let chosen = [
        "payment_total",
        "number",
        "customer_name",
        "product_name",
        "memo",
    ];
    let (st, v) = put_columns(&t, &t.token, "orders", json!({"columns": chosen})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(codes(&v, "columns"), chosen);
    assert_eq!(v["is_default"], false);
    assert!(!v["updated_by"].as_str().unwrap().is_empty());
    let (_, v) = t.get("/api/v1/shop/csv-columns/orders").await;
    assert_eq!(codes(&v, "columns"), chosen, "read back in the same order");
    assert_eq!(v["columns"][4]["header"], "ショップ用メモ");

    // An operator (not admin) may change them too.
    let (st, v) = put_columns(
        &t,
        &t.operator_token,
        "orders",
        json!({"columns": ["number", "email"]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(codes(&v, "columns"), ["number", "email"]);

    // 初期設定に戻す.
    let (st, v) = support::send(t.req(Method::DELETE, "/api/v1/shop/csv-columns/orders")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["is_default"], true);
    assert_eq!(codes(&v, "columns"), default);

    // The API documents the routes.
    let (_, doc) = support::send(t.client.get(format!("{}/api/openapi.json", t.base))).await;
    for p in [
        "/api/v1/orders/shipping-csv",
        "/api/v1/shop/csv-columns/{kind}",
    ] {
        assert!(doc["paths"][p].is_object(), "missing {p}");
    }
    assert!(doc["paths"]["/api/v1/shop/csv-columns/{kind}"]["put"].is_object());
    assert!(doc["components"]["schemas"]["ColumnSettings"].is_object());

    // The 送り状 layout is B2's: shown, not editable.
    let (st, v) = t.get("/api/v1/shop/csv-columns/shipping").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["editable"], false);
    assert_eq!(v["columns"].as_array().unwrap().len(), 95);
    assert_eq!(v["columns"][0]["header"], "お客様管理番号");
}

async fn bad_settings_refused_and_nothing_stored(t: TestApp) {
    let good = ["number", "email"];
    let (st, _) = put_columns(&t, &t.token, "orders", json!({"columns": good})).await;
    assert_eq!(st, StatusCode::OK);
    let before = t.get("/api/v1/shop/csv-columns/orders").await.1;

    let (st, v) = put_columns(&t, &t.token, "orders", json!({"columns": []})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "columns");
    assert_eq!(
        v["error"]["fields"][0]["message"],
        "出力する項目を1つ以上選んでください"
    );

    let (st, v) = put_columns(
        &t,
        &t.token,
        "orders",
        json!({"columns": ["number", "no_such_column", "email", "number"]}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<(String, String, String)> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(
        (fields[0].0.as_str(), fields[0].1.as_str()),
        ("columns[1]", "unknown_column")
    );
    assert!(fields[0].2.contains("no_such_column"));
    assert_eq!(
        (fields[1].0.as_str(), fields[1].1.as_str()),
        ("columns[3]", "duplicate_column")
    );
    assert!(fields[1].2.contains("注文番号"), "{}", fields[1].2);

    // Malformed bodies and the fixed layout.
    let (st, _) = put_columns(&t, &t.token, "orders", json!({"cols": ["number"]})).await;
    assert!(st.is_client_error(), "{st}");
    let (st, v) = put_columns(&t, &t.token, "shipping", json!({"columns": ["number"]})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "fixed_layout");
    let (st, _) = put_columns(&t, &t.token, "invoices", json!({"columns": ["number"]})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let after = t.get("/api/v1/shop/csv-columns/orders").await.1;
    assert_eq!(after, before, "nothing stored by the refused requests");
}

/// #1: two lines (Tシャツ ×2, 緑茶), gmo_card; #2: one line, memo, bank transfer.
async fn two_orders(t: &TestApp) {
    let mut a = support::order_json();
    a["memo"] = json!("");
    t.import(a).await;
    let mut b = support::order_json();
    b["items"] = json!([{"product_code": "TEA-1", "quantity": 3}]);
    b["payment_method"] = json!("bank_transfer");
    b["memo"] = json!("電話で確認済み");
    t.import(b).await;
    // #2's 入金チェック, at 2024/08/19 10:00 Japan time, by テスト.
    juchu_app::orders::set_payment_checked(&t.app, &t.actor(), 2, true, None)
        .await
        .unwrap();
}

async fn export_follows_the_chosen_columns(t: TestApp) {
    two_orders(&t).await;
    let chosen = [
        "payment_total",
        "number",
        "product_name",
        "line_no",
        "memo",
        "payment_checked",
        "payment_checked_at",
        "payment_checked_by",
    ];
    let (st, _) = put_columns(&t, &t.token, "orders", json!({"columns": chosen})).await;
    assert_eq!(st, StatusCode::OK);
    let rows = sjis_records(
        &download(
            &t,
            "/api/v1/orders/csv?sort=number_asc&encoding=sjis",
            "Shift_JIS",
        )
        .await,
    );
    assert_eq!(
        rows[0],
        [
            "お支払い合計",
            "注文番号",
            "商品名",
            "明細番号",
            "ショップ用メモ",
            "入金チェック",
            "入金チェック日時",
            "入金チェック者"
        ]
    );
    assert_eq!(rows.len(), 4, "one row per order line: {rows:?}");
    // Per-order values repeat on each line; per-line values differ.
    assert_eq!(rows[1], ["7660", "1", "Tシャツ", "1", "", "", "", ""]);
    assert_eq!(rows[2], ["7660", "1", "緑茶", "2", "", "", "", ""]);
    assert_eq!(
        rows[3][1..],
        [
            "2",
            "緑茶",
            "1",
            "電話で確認済み",
            "済",
            "2024/08/19 10:00",
            "テスト"
        ]
    );

    // UTF-8 says the same, after its BOM.
    let utf8 = download(
        &t,
        "/api/v1/orders/csv?sort=number_asc&encoding=utf8",
        "UTF-8",
    )
    .await;
    let text = String::from_utf8(utf8).unwrap();
    assert_eq!(records(text.strip_prefix('\u{FEFF}').unwrap()), rows);

    // Back to the built-in columns: the original header.
    support::send(t.req(Method::DELETE, "/api/v1/shop/csv-columns/orders")).await;
    let rows = sjis_records(&download(&t, "/api/v1/orders/csv", "Shift_JIS").await);
    assert_eq!(rows[0].len(), 32);
    assert_eq!(rows[0][0], "注文番号");
    assert_eq!(rows[0][31], "お問い合わせ番号");
}

async fn shift_jis_keeps_japanese_and_marks_what_cp932_lacks(t: TestApp) {
    let mut o = support::order_json();
    o["customer"]["family_name"] = json!("髙橋");
    o["customer"]["given_name"] = json!("①子");
    o["remarks"] = json!("〜午前中　𠮷野家の隣〜");
    t.import(o).await;
    put_columns(
        &t,
        &t.token,
        "orders",
        json!({"columns": ["customer_name", "remarks"]}),
    )
    .await;
    let sjis = download(&t, "/api/v1/orders/csv", "Shift_JIS").await;
    let rows = sjis_records(&sjis);
    // IBM-extension kanji and NEC circled digits are CP932; the WAVE DASH becomes the
    // full-width tilde Excel shows; a character CP932 lacks (𠮷) is a visible '?'.
    assert_eq!(rows[1], ["髙橋 ①子", "～午前中　?野家の隣～"]);
    assert!(sjis.ends_with(b"\r\n"));
    let utf8 = download(&t, "/api/v1/orders/csv?encoding=utf8", "UTF-8").await;
    assert!(String::from_utf8(utf8).unwrap().contains("𠮷野家"));
}

async fn set_shop_sender(t: &TestApp) {
    sqlx::query("UPDATE shops SET tel = $1, postal_code = $2, address = $3 WHERE id = $4")
        .bind("03-1234-5678")
        .bind("1500001")
        .bind("東京都渋谷区神宮前1-2-3 受注ビル5F")
        .bind(t.shop_id)
        .execute(t.app.store.pool())
        .await
        .unwrap();
}

const LONG_ADDRESS2: &str =
    "ジュチュウ・グランドレジデンス神宮前パークサイドタワーズ東棟１２３４号室";
const LONG_NAME: &str = "特選　静岡県産　深蒸し煎茶　ティーバッグ　２０袋入り　贈答用化粧箱入り";

async fn shipping_csv_rows_for_cod_and_card(t: TestApp) {
    set_shop_sender(&t).await;
    // #1 代金引換 to a delivery address with a date and 午前中.
    let mut cod = support::order_json();
    cod["payment_method"] = json!("cash_on_delivery");
    cod["fee"] = json!(330);
    cod["delivery"] = json!({"family_name": "佐藤", "given_name": "一郎", "family_kana": "サトウ",
        "given_kana": "イチロウ", "company": "株式会社サンプル", "postal_code": "5300001", "prefecture": "大阪府",
        "address1": "大阪市北区梅田1-1", "address2": "梅田ビル3F", "tel": "06-1111-2222"});
    cod["delivery_date"] = json!("2024/08/21");
    cod["delivery_time"] = json!("午前中");
    let cod = t.import(cod).await;
    // #2 card, no separate delivery address, a long building name and item name.
    let mut card = support::order_json();
    card["customer"]["address2"] = json!(LONG_ADDRESS2);
    card["items"] = json!([{"product_code": "TEA-1", "product_name": LONG_NAME, "quantity": 1}]);
    card["delivery_time"] = json!("12時～14時");
    t.import(card).await;
    let history_before = t.counts().await;

    let rows = sjis_records(
        &download(
            &t,
            "/api/v1/orders/shipping-csv?sort=number_asc",
            "Shift_JIS",
        )
        .await,
    );
    assert_eq!(rows.len(), 3, "a header and one row per order");
    assert!(rows.iter().all(|r| r.len() == 95), "B2's 95 columns");
    assert_eq!(rows[0][0], "お客様管理番号");
    assert_eq!(rows[0][33], "ｺﾚｸﾄ代金引換額（税込)");

    let r = &rows[1];
    let pay_total = cod["totals"]["payment_total"].as_i64().unwrap();
    assert_eq!(pay_total, 7660 + 330);
    assert_eq!(r[0], "1");
    assert_eq!(r[1], "2", "代金引換 = コレクト");
    assert_eq!(r[4], "2024/08/19", "出荷予定日 = today in Japan");
    assert_eq!(r[5], "2024/08/21");
    assert_eq!(r[6], "0812");
    assert_eq!(r[8], "0611112222");
    assert_eq!(r[10], "530-0001");
    assert_eq!(r[11], "大阪府大阪市北区梅田1-1");
    assert_eq!(r[12], "梅田ビル3F");
    assert_eq!(r[13], "株式会社サンプル");
    assert_eq!(r[15], "佐藤 一郎");
    assert_eq!(r[16], "ｻﾄｳ ｲﾁﾛｳ");
    assert_eq!(r[17], "様");
    assert_eq!(r[19], "03-1234-5678");
    assert_eq!(r[21], "150-0001");
    assert_eq!(r[22], "東京都渋谷区神宮前1-2-3 受注ビル5F");
    assert_eq!(r[24], "テストショップ");
    assert_eq!(r[27], "Tシャツ");
    assert_eq!(r[32], "1", "記事 = 注文番号");
    assert_eq!(r[33], pay_total.to_string());
    let tax: i64 = r[34].parse().unwrap();
    assert!(tax > 0 && tax < pay_total);

    let r = &rows[2];
    assert_eq!(r[0], "2");
    assert_eq!(r[1], "0", "card = 発払い");
    assert_eq!(r[5], "", "no date asked");
    assert_eq!(r[6], "", "12–14時 is no longer a Yamato slot");
    assert_eq!(r[11], "東京都千代田区千代田1-1", "the customer's address");
    assert_eq!(r[15], "山田 花子");
    assert_eq!(r[33], "");
    assert_eq!(r[34], "");
    // Long text is cut to B2's limits (CP932 bytes), and the building name continues on the
    // spare line rather than being lost.
    let width = |s: &str| juchu_app::export::to_sjis(s).len();
    for (i, max) in [
        (11, 64),
        (12, 32),
        (13, 50),
        (14, 50),
        (15, 32),
        (16, 50),
        (27, 50),
        (32, 44),
    ] {
        for r in &rows[1..] {
            assert!(width(&r[i]) <= max, "{} {:?} over {max}", rows[0][i], r[i]);
        }
    }
    assert_eq!(
        format!("{}{}", rows[2][12], rows[2][14]),
        LONG_ADDRESS2,
        "nothing of the building name lost"
    );
    assert!(LONG_NAME.starts_with(&rows[2][27]) && rows[2][27].len() > 30);

    // A bulk download writes nothing.
    assert_eq!(t.counts().await, history_before);
    // A bad search is an error, not a broken file.
    let r = t
        .req(
            Method::GET,
            "/api/v1/orders/shipping-csv?ordered_from=2024/99/99",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// CSV injection (OWASP): a name, company or remark a spreadsheet would run as a formula is
/// written with a leading `'`, in the order CSV (Shift_JIS and UTF-8) and the B2 CSV; numbers
/// keep their sign.
async fn formulas_are_written_as_text(t: TestApp) {
    set_shop_sender(&t).await;
    let mut o = support::order_json();
    o["customer"]["family_name"] = json!("=cmd|' /C calc'!A0");
    o["customer"]["company"] = json!("@SUM(1+1)");
    o["remarks"] = json!("=HYPERLINK(\"http://example.invalid\",\"詳細\")");
    o["discount"] = json!(100);
    t.import(o).await;
    put_columns(
        &t,
        &t.token,
        "orders",
        json!({"columns": ["customer_family_name", "company", "remarks", "discount", "payment_total"]}),
    )
    .await;
    let sjis = sjis_records(&download(&t, "/api/v1/orders/csv", "Shift_JIS").await);
    let utf8 = download(&t, "/api/v1/orders/csv?encoding=utf8", "UTF-8").await;
    let utf8 = records(
        String::from_utf8(utf8)
            .unwrap()
            .strip_prefix('\u{FEFF}')
            .unwrap(),
    );
    for rows in [&sjis, &utf8] {
        assert_eq!(rows[1][0], "'=cmd|' /C calc'!A0");
        assert_eq!(rows[1][1], "'@SUM(1+1)");
        assert!(rows[1][2].starts_with("'=HYPERLINK("), "{rows:?}");
        assert_eq!(rows[1][3], "100");
    }
    let b2 = sjis_records(&download(&t, "/api/v1/orders/shipping-csv", "Shift_JIS").await);
    let row = &b2[1];
    assert!(
        row.iter()
            .all(|c| !c.starts_with('=') && !c.starts_with('@')),
        "{row:?}"
    );
    assert!(row.iter().any(|c| c.starts_with("'=cmd")), "{row:?}");
}

both_backends!(
    formulas_are_written_as_text,
    column_settings_round_trip,
    bad_settings_refused_and_nothing_stored,
    export_follows_the_chosen_columns,
    shift_jis_keeps_japanese_and_marks_what_cp932_lacks,
    shipping_csv_rows_for_cod_and_card,
);
