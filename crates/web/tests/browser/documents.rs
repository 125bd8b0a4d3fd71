//! 帳票出力 in headless Chromium: the issuer profile on ショップ情報 (a bad field shown beside
//! it, then fixed), an order's 帳票出力 screen, the printable page of each kind (screenshots
//! target/screenshots/documents-*.png), the 納品書 printed to PDF by the browser, the server's
//! PDFs (one order, a long order over several pages, two orders at once), the printing in
//! the order's 変更履歴 with the operator's name, and a 決済処理中 order refused. Then the API
//! (SQLite and PostgreSQL): the profile round trip with its bad fields, and slips as JSON and
//! PDF.

use crate::both_backends;
use crate::browser;
use crate::support;

use browser::{assert_no_overflow, browser, fill, full_shot, login, shot, submit, text};
use fantoccini::wd::{PrintConfigurationBuilder, PrintSize};
use fantoccini::{Client, Locator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestApp;

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap();
}

/// The field errors shown, as (field, message).
async fn field_errors(c: &Client) -> Vec<(String, String)> {
    let mut out = vec![];
    for e in c.find_all(Locator::Css(".err")).await.unwrap() {
        let f = e.attr("data-field").await.unwrap().unwrap_or_default();
        out.push((f, e.text().await.unwrap()));
    }
    out
}

/// Pages of a PDF krilla wrote (page objects are written out uncompressed).
fn pdf_pages(pdf: &[u8]) -> usize {
    let needle = b"/Type/Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| w.starts_with(needle) && w[needle.len()] != b's')
        .count()
}

fn save(name: &str, bytes: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// An order of `n` lines with long names (the PDF must wrap them and run over pages).
fn long_order(n: usize) -> Value {
    let mut o = support::order_json();
    o["items"] = (0..n)
        .map(|i| {
            json!({
                "product_code": format!("LONG-{i:03}"),
                "product_name": format!("国産ひのきの木製まな板 特大サイズ 厚さ3cm 抗菌加工・食洗機対応モデル その{i}"),
                "class1": "ナチュラル", "unit_price": 4980, "quantity": 1 + i as i64 % 3,
                "tax_rate": if i % 4 == 0 { 8 } else { 10 }
            })
        })
        .collect();
    o
}

/// What a GET with the browser's session cookie answers: status, headers, body.
async fn as_browser(
    t: &TestApp,
    c: &Client,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let cookie = c.get_named_cookie("juchu_session").await.unwrap();
    let r = t
        .client
        .get(format!("{}{path}", t.base))
        .header("Cookie", format!("juchu_session={}", cookie.value()))
        .send()
        .await
        .unwrap();
    let st = r.status();
    let h = r.headers().clone();
    (st, h, r.bytes().await.unwrap().to_vec())
}

async fn history(t: &TestApp, number: i64) -> Vec<Value> {
    let (st, v) = t.get(&format!("/api/v1/orders/{number}/history")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

fn printed(h: &[Value]) -> Vec<(String, String)> {
    h.iter()
        .filter(|e| e["action"] == "order.printed")
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn make_pending(t: &TestApp, number: i64) {
    sqlx::query("UPDATE orders SET status = 'pending_payment' WHERE shop_id = $1 AND number = $2")
        .bind(t.shop_id)
        .bind(number)
        .execute(t.app.store.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slips_are_printed_from_the_order_and_recorded() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let n = t.order_paid_by("gmo_card").await;
    let second = t.order_paid_by("bank_transfer").await;
    let long = t.import(long_order(40)).await["number"].as_i64().unwrap();
    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;

    // ショップ情報: one bad field is shown beside it and nothing is saved; then fixed.
    c.goto(&format!("{}/admin/orders", t.base)).await.unwrap();
    submit(&c, "a[href='/admin/settings/shop-profile']").await;
    assert!(text(&c, "h1").await.contains("ショップ情報"));
    fill(&c, "#company_name", "株式会社ジュチュウ商店").await;
    fill(&c, "#postal_code", "〒１５０－０００１").await;
    fill(&c, "#address", "東京都渋谷区神宮前1-2-3 ジュチュウビル5F").await;
    fill(&c, "#tel", "０３－１２３４－５６７８").await;
    fill(&c, "#invoice_number", "T12345").await;
    submit(&c, "#save-profile").await;
    let errs = field_errors(&c).await;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "invoice_number");
    assert!(errs[0].1.contains("T"), "{errs:?}");
    // What was typed stays in the form.
    assert_eq!(
        c.find(Locator::Id("address"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("東京都渋谷区神宮前1-2-3 ジュチュウビル5F")
    );
    assert!(
        text(&c, "#issuer-preview")
            .await
            .contains("登録番号 未設定")
    );
    assert_no_overflow(&c, "shop profile").await;
    shot(&c, "documents-profile-error").await;
    fill(&c, "#invoice_number", "T1234567890123").await;
    submit(&c, "#save-profile").await;
    assert_eq!(text(&c, "#done").await, "ショップ情報を保存しました");
    let preview = text(&c, "#issuer-preview").await;
    for want in [
        "株式会社ジュチュウ商店",
        "〒150-0001",
        "TEL 03-1234-5678",
        "登録番号 T1234567890123",
    ] {
        assert!(preview.contains(want), "{want} in {preview}");
    }
    shot(&c, "documents-profile").await;

    // 帳票出力: opening the form prints nothing.
    c.goto(&format!("{}/admin/orders/{n}/slips", t.base))
        .await
        .unwrap();
    assert!(text(&c, "h1").await.contains("帳票出力"));
    assert!(text(&c, "#order-summary").await.contains("7,660円"));
    assert_no_overflow(&c, "slips form").await;
    shot(&c, "documents-choose").await;
    assert!(printed(&history(&t, n).await).is_empty());

    // A date that does not exist is shown beside the field; nothing is recorded.
    fill(&c, "#issued_on", "2024/02/30").await;
    submit(&c, "#open-print").await;
    let errs = field_errors(&c).await;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "issued_on");
    assert!(errs[0].1.contains("存在しない日付"), "{errs:?}");
    shot(&c, "documents-choose-error").await;
    assert!(printed(&history(&t, n).await).is_empty());

    // Each kind's printable page.
    let kinds = [
        ("order_slip", "受注伝票"),
        ("delivery_note", "納品書"),
        ("invoice", "請求書"),
        ("receipt", "領収書"),
    ];
    for (code, label) in kinds {
        c.goto(&format!("{}/admin/orders/{n}/slips", t.base))
            .await
            .unwrap();
        click(&c, &format!("#kind-{code}")).await;
        // Full-width digits and hyphens are normalised.
        fill(&c, "#issued_on", "２０２４－０８－２０").await;
        if code == "receipt" {
            fill(&c, "#addressee", "株式会社テスト 御中").await;
            fill(&c, "#proviso", "書籍代として").await;
        }
        fill(&c, "#message", "このたびはご注文ありがとうございました。").await;
        submit(&c, "#open-print").await;
        assert_eq!(text(&c, "h1").await, label);
        assert_eq!(
            c.find(Locator::Id("slip"))
                .await
                .unwrap()
                .attr("data-kind")
                .await
                .unwrap()
                .as_deref(),
            Some(code)
        );
        let page = text(&c, "#slip").await;
        assert!(page.contains("発行日　2024年8月20日"), "{code}: {page}");
        assert!(page.contains("Tシャツ（白 / M）"), "{code}: {page}");
        let items = text(&c, "#items").await;
        assert!(
            items.contains("※8%"),
            "{code}: the 8% item is marked: {items}"
        );
        assert!(text(&c, "#reduced-note").await.contains("軽減税率"));
        let taxes = text(&c, "#taxes").await;
        assert!(
            taxes.contains("10%対象") && taxes.contains("8%対象"),
            "{taxes}"
        );
        // 10%: 5,980 + 600 → 6,580 (tax 598); 8%: 1,080 (tax 80).
        assert!(
            taxes.contains("6,580円") && taxes.contains("598円"),
            "{taxes}"
        );
        assert!(
            taxes.contains("1,080円") && taxes.contains("80円"),
            "{taxes}"
        );
        match code {
            "order_slip" => {
                assert!(text(&c, "#customer").await.contains("山田 花子 様"));
                assert!(
                    text(&c, "#facts")
                        .await
                        .contains("クレジットカード決済（GMO）")
                );
            }
            _ => {
                assert_eq!(text(&c, "#invoice-number").await, "登録番号 T1234567890123");
                assert!(text(&c, "#issuer").await.contains("株式会社ジュチュウ商店"));
                assert!(text(&c, "#headline").await.contains("7,660円"));
            }
        }
        if code == "receipt" {
            assert_eq!(text(&c, "#addressee").await, "株式会社テスト 御中");
            assert_eq!(text(&c, "#proviso").await, "但し 書籍代として");
        } else if code != "order_slip" {
            assert_eq!(text(&c, "#addressee").await, "山田 花子 様");
        }
        // The item table's columns line up: every row's cells start where the head's do.
        let aligned = c
            .execute(
                "const t = document.getElementById('items');
                 const head = [...t.tHead.rows[0].cells].map(c => Math.round(c.getBoundingClientRect().left));
                 return [...t.tBodies[0].rows].every(r => [...r.cells].every((c, i) => Math.round(c.getBoundingClientRect().left) === head[i]))
                   && t.scrollWidth <= t.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(aligned, Value::Bool(true), "{code}: item columns");
        assert_no_overflow(&c, code).await;
        full_shot(&c, &format!("documents-print-{code}")).await;

        if code == "delivery_note" {
            // The browser prints the page to PDF (WebDriver Print Page), A4.
            let cfg = PrintConfigurationBuilder::default()
                .size(PrintSize::A4)
                .background(true)
                .build()
                .unwrap();
            let pdf = c.print(cfg).await.unwrap();
            assert!(pdf.starts_with(b"%PDF"), "browser print is a PDF");
            save("documents-browser-print-delivery_note.pdf", &pdf);
        }
    }
    // Every printable page opened was recorded, with the operator's name; the error was not.
    let h = printed(&history(&t, n).await);
    assert_eq!(h.len(), 4, "{h:?}");
    for (_, label) in kinds {
        assert!(
            h.iter().any(|(actor, detail)| actor == "管理 太郎"
                && detail == &format!("帳票（{label}）を出力しました（印刷用画面）")),
            "{label}: {h:?}"
        );
    }

    // The server's PDF of one order.
    let (st, hd, pdf) = as_browser(
        &t,
        &c,
        &format!("/admin/orders/{n}/slips/pdf?kind=delivery_note&issued_on=2024/08/20"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(hd["content-type"], "application/pdf");
    assert_eq!(
        hd["content-disposition"],
        format!("attachment; filename=\"delivery_note_{n}.pdf\"").as_str()
    );
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(pdf_pages(&pdf), 1);
    save("documents-delivery_note.pdf", &pdf);

    // A long order runs over pages.
    let (st, _, pdf) = as_browser(
        &t,
        &c,
        &format!("/admin/orders/{long}/slips/pdf?kind=invoice"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let pages = pdf_pages(&pdf);
    assert!(pages >= 3, "40 lines with long names: {pages} pages");
    save("documents-invoice-long.pdf", &pdf);

    // 帳票一括ダウンロード: two orders, one slip each, in one PDF.
    let (st, hd, pdf) = as_browser(
        &t,
        &c,
        &format!("/admin/slips/pdf?kind=receipt&number={n}&number={second}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        hd["content-disposition"],
        "attachment; filename=\"receipt_2orders.pdf\""
    );
    assert_eq!(pdf_pages(&pdf), 2);
    save("documents-receipt-bulk.pdf", &pdf);
    assert!(
        printed(&history(&t, second).await)
            .iter()
            .any(|(_, d)| d == "帳票（領収書）を出力しました（PDF）")
    );

    // The same as a form POST (checkboxes on a result list): it needs the session's token.
    c.goto(&format!("{}/admin/orders", t.base)).await.unwrap();
    let csrf = c
        .find(Locator::Css("input[name=csrf]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let cookie = c.get_named_cookie("juchu_session").await.unwrap();
    for (token, ok) in [(csrf.as_str(), true), ("forged", false)] {
        let r = t
            .client
            .post(format!("{}/admin/slips/pdf", t.base))
            .header("Cookie", format!("juchu_session={}", cookie.value()))
            .form(&[
                ("csrf", token),
                ("kind", "delivery_note"),
                ("number", &n.to_string()),
                ("number", &second.to_string()),
            ])
            .send()
            .await
            .unwrap();
        let bytes = r.bytes().await.unwrap();
        assert_eq!(bytes.starts_with(b"%PDF"), ok, "csrf {token}");
        if ok {
            assert_eq!(pdf_pages(&bytes), 2);
        }
    }

    // The order screen's 変更履歴 says so too.
    c.goto(&format!("{}/admin/orders/{n}", t.base))
        .await
        .unwrap();
    let hist = text(&c, "#history").await;
    assert!(
        hist.contains("帳票（納品書）を出力しました（PDF）"),
        "{hist}"
    );
    assert!(hist.contains("管理 太郎"), "{hist}");

    // A 決済処理中 order: the form says why, printing is refused, and a bulk download that
    // includes it prints nothing and names it.
    let pending = t.order_paid_by("gmo_card").await;
    make_pending(&t, pending).await;
    c.goto(&format!("{}/admin/orders/{pending}/slips", t.base))
        .await
        .unwrap();
    assert!(text(&c, "#refusal").await.contains("決済処理中"));
    assert!(c.find(Locator::Id("open-print")).await.is_err());
    shot(&c, "documents-pending-refused").await;
    let (st, _, body) = as_browser(
        &t,
        &c,
        &format!("/admin/orders/{pending}/slips/print?kind=invoice"),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(String::from_utf8_lossy(&body).contains("決済処理中"));
    let before = printed(&history(&t, second).await).len();
    c.goto(&format!(
        "{}/admin/slips/pdf?kind=invoice&number={second}&number={pending}&number=9999",
        t.base
    ))
    .await
    .unwrap();
    let msg = text(&c, ".box").await;
    assert!(
        msg.contains(&format!("注文番号 {pending}: 決済処理中")),
        "{msg}"
    );
    assert!(msg.contains("注文番号 9999: 受注が見つかりません"), "{msg}");
    assert!(!msg.contains(&format!("注文番号 {second}:")), "{msg}");
    shot(&c, "documents-bulk-refused").await;
    assert_eq!(printed(&history(&t, second).await).len(), before);
    assert!(printed(&history(&t, pending).await).is_empty());

    // An operator prints (recorded under their name) but cannot change the issuer.
    c.delete_all_cookies().await.unwrap();
    login(&c, &t, "operator").await;
    assert!(
        c.find(Locator::Css("a[href='/admin/settings/shop-profile']"))
            .await
            .is_err()
    );
    c.goto(&format!("{}/admin/settings/shop-profile", t.base))
        .await
        .unwrap();
    assert!(text(&c, ".box").await.contains("権限がありません"));
    let (st, _, _) = as_browser(
        &t,
        &c,
        &format!("/admin/orders/{second}/slips/pdf?kind=order_slip"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        printed(&history(&t, second).await)
            .iter()
            .any(|(a, d)| a == "受注 花子" && d == "帳票（受注伝票）を出力しました（PDF）")
    );
}

// ---------------------------------------------------------------------------------------
// API, on both databases

async fn put_profile(t: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    support::send(
        t.client
            .request(Method::PUT, format!("{}/api/v1/shop/profile", t.base))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

async fn profile_round_trip(t: TestApp) {
    let (st, v) = t.get("/api/v1/shop/profile").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["invoice_number"], "");

    // Every bad field at once; nothing saved.
    let (st, v) = put_profile(
        &t,
        &t.token,
        json!({"company_name": "株式会社テスト", "postal_code": "12-345", "tel": "03-1234", "invoice_number": "1234567890123"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["postal_code", "tel", "invoice_number"]);
    assert_eq!(t.get("/api/v1/shop/profile").await.1["company_name"], "");

    // Full-width, 〒 and hyphens are normalised.
    let (st, v) = put_profile(
        &t,
        &t.token,
        json!({"company_name": "株式会社テスト", "postal_code": "〒１５０－０００１",
               "address": "東京都渋谷区神宮前1-2-3", "tel": "０３－１２３４－５６７８", "invoice_number": "ｔ１２３４５６７８９０１２３"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let want = json!({"company_name": "株式会社テスト", "postal_code": "1500001",
        "address": "東京都渋谷区神宮前1-2-3", "tel": "03-1234-5678", "invoice_number": "T1234567890123"});
    assert_eq!(v, want);
    assert_eq!(t.get("/api/v1/shop/profile").await.1, want);

    // Operators read it but may not change it.
    let (st, _) = put_profile(&t, &t.operator_token, json!({"company_name": "x"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = support::send(
        t.client
            .get(format!("{}/api/v1/shop/profile", t.base))
            .bearer_auth(&t.operator_token),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v, want);
}

async fn slips_over_the_api(t: TestApp) {
    put_profile(
        &t,
        &t.token,
        json!({"company_name": "株式会社テスト", "invoice_number": "T1234567890123"}),
    )
    .await;
    let n = t.order_paid_by("gmo_card").await;

    // JSON: the slip's contents, not recorded.
    let (st, v) = t
        .get(&format!(
            "/api/v1/orders/{n}/slips/receipt?issued_on=2024/08/20"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["title"], "領収書");
    assert_eq!(v["issued_on"], "2024年8月20日");
    assert_eq!(v["issuer"]["invoice_number"], "T1234567890123");
    assert_eq!(v["proviso"], "但し お品代として");
    let rates: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rate"].as_str().unwrap())
        .collect();
    assert_eq!(rates, ["10%", "※8%"]);
    assert_eq!(v["taxes"][1]["label"], "8%対象");
    assert_eq!(v["taxes"][1]["tax"], "80円");
    assert!(printed(&history(&t, n).await).is_empty());

    // PDF: recorded, with the token's user.
    for path in [
        format!("/api/v1/orders/{n}/slips/invoice.pdf"),
        format!("/api/v1/orders/{n}/slips/invoice?format=pdf"),
    ] {
        let r = t.req(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
    }
    let h = printed(&history(&t, n).await);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h[0].0.starts_with("管理 太郎"), "{h:?}");
    assert_eq!(h[0].1, "帳票（請求書）を出力しました（PDF）");

    // Wrong kind, wrong date: 422 naming the fields.
    let (st, v) = t
        .get(&format!(
            "/api/v1/orders/{n}/slips/letter?issued_on=yesterday"
        ))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["kind", "issued_on"]);

    // 決済処理中: 409; in a bulk download, named, and nothing printed.
    let pending = t.order_paid_by("gmo_card").await;
    make_pending(&t, pending).await;
    let (st, v) = t
        .get(&format!("/api/v1/orders/{pending}/slips/invoice.pdf"))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "payment_in_progress");
    let (st, v) = t
        .get(&format!(
            "/api/v1/slips/invoice.pdf?number={n}&number={pending}"
        ))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "not_printable");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("注文番号 {pending}")),
        "{v}"
    );
    assert_eq!(printed(&history(&t, n).await).len(), 2);

    let r = t
        .req(
            Method::GET,
            &format!("/api/v1/slips/invoice.pdf?number={n}&number={n}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(pdf_pages(&r.bytes().await.unwrap()), 2);
}

async fn openapi_lists_the_slips(t: TestApp) {
    let (st, v) = support::send(t.client.get(format!("{}/api/openapi.json", t.base))).await;
    assert_eq!(st, StatusCode::OK);
    for p in [
        "/api/v1/orders/{number}/slips/{kind}",
        "/api/v1/slips/{kind}",
        "/api/v1/shop/profile",
    ] {
        assert!(v["paths"][p].is_object(), "missing {p}");
    }
    for schema in ["Slip", "IssuerProfile", "ProfileInput"] {
        assert!(v["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

both_backends!(
    profile_round_trip,
    slips_over_the_api,
    openapi_lists_the_slips
);
