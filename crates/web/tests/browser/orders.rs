//! 受注管理 in headless Chromium: the search by every field (Enter submits, both date
//! spellings, full-width digits), 新規受注入力, 受注編集 with product search, the 受注作業
//! panel (入金チェック, list moves and what a moved order keeps), ステータス管理 with one
//! order refused, 会員詳細, and キャンセル受注在庫 returned all at once. Screenshots of every
//! screen land in target/screenshots/orders-*.png.

use crate::browser;
use crate::support;

use browser::{browser, fill, full_shot, login, press_enter, shot, submit, text};
use fantoccini::{Client, Locator};
use serde_json::json;
use support::{TestApp, order_json, search_dataset};

/// The order numbers in the result list, in order.
async fn rows(c: &Client, table: &str) -> Vec<i64> {
    let mut out = vec![];
    for r in c
        .find_all(Locator::Css(&format!("{table} tbody tr[data-number]")))
        .await
        .unwrap()
    {
        out.push(
            r.attr("data-number")
                .await
                .unwrap()
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    out
}

async fn check(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap();
}

async fn select(c: &Client, css: &str, value: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .select_by_value(value)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_every_field() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    search_dataset(&t).await;
    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;
    let start = format!("{}/admin/orders?sort=number_asc", t.base);

    // One text field at a time, submitted with Enter; dates in both spellings, full-width
    // digits in numbers.
    let cases: [(&str, &str, Vec<i64>); 16] = [
        ("#number_from", "２", vec![2, 3, 4, 5]),
        ("input[name=number_to]", "4", vec![1, 2, 3, 4]),
        ("#name", "山", vec![1, 4]),
        ("#kana", "ヤマ", vec![1, 4]),
        ("#email", "EXAMPLE.JP", vec![1, 5]),
        ("#tel", "03-1111", vec![1]),
        ("#birth_from", "1990/01/01", vec![2, 3]),
        ("input[name=birth_to]", "1992-11-30", vec![1, 2]),
        ("#ordered_from", "2024-08-05", vec![2, 3, 4, 5]),
        ("input[name=ordered_to]", "2024/08/10", vec![1, 2, 3]),
        ("#shipped_from", "2024/08/21", vec![3]),
        ("input[name=shipped_to]", "2024-08-20", vec![2]),
        ("#updated_from", "２０２４/０８/２１", vec![3]),
        ("input[name=updated_to]", "2024/08/09", vec![1]),
        ("#amount_min", "３，０００", vec![2, 3, 5]),
        ("input[name=amount_max]", "6000", vec![1, 2, 3, 4]),
    ];
    for (css, value, want) in cases {
        c.goto(&start).await.unwrap();
        press_enter(&c, css, value).await;
        assert_eq!(rows(&c, "#results").await, want, "{css} = {value}");
    }
    c.goto(&start).await.unwrap();
    press_enter(&c, "#gateway_ref", "pay_abc").await;
    assert_eq!(rows(&c, "#results").await, vec![3]);
    shot(&c, "orders-search-gateway-ref").await;

    // Checkboxes: 対応状況, 性別, 備考, 支払方法 (several), then the search button.
    let boxes: [(&[&str], Vec<i64>); 4] = [
        (&["input[name=status][value=shipped]"], vec![2, 3]),
        (&["input[name=sex][value=male]"], vec![2, 4]),
        (&["input[name=has_remarks]"], vec![1, 3]),
        (
            &[
                "input[name=payment_method][value=gmo_card]",
                "input[name=payment_method][value=paidy]",
            ],
            vec![1, 3],
        ),
    ];
    for (clicks, want) in boxes {
        c.goto(&start).await.unwrap();
        for b in clicks {
            check(&c, b).await;
        }
        submit(&c, "#search button[type=submit]").await;
        assert_eq!(rows(&c, "#results").await, want, "{clicks:?}");
    }
    shot(&c, "orders-search-methods").await;

    // 表示順 and 検索結果表示件数, kept in the URL: page 2 of 2 per page.
    c.goto(&format!("{}/admin/orders", t.base)).await.unwrap();
    select(&c, "#sort", "amount_desc").await;
    select(&c, "#per_page", "20").await;
    submit(&c, "#search button[type=submit]").await;
    assert_eq!(rows(&c, "#results").await, vec![5, 3, 2, 1, 4]);
    let url = c.current_url().await.unwrap();
    assert!(url.query().unwrap().contains("sort=amount_desc"), "{url}");

    // A bad value is reported beside its field; the others keep what was typed.
    c.goto(&start).await.unwrap();
    fill(&c, "#name", "山").await;
    press_enter(&c, "#birth_from", "2024/13/01").await;
    assert!(text(&c, "[data-field=birth_from]").await.contains("日付"));
    assert_eq!(
        c.find(Locator::Id("name"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("山")
    );
    shot(&c, "orders-search-error").await;

    // 会員情報 / 購入履歴 links of a member's order.
    let (_, cust) = t
        .post(
            "/api/v1/customers",
            json!({"family_name": "会員", "given_name": "太郎", "family_kana": "カイイン", "given_kana": "タロウ", "email": "taro@example.jp"}),
        )
        .await;
    let cid = cust["id"].as_i64().unwrap();
    let mut o = order_json();
    o["customer_id"] = json!(cid);
    t.import(o).await;
    c.goto(&format!("{}/admin/orders?sort=number_asc", t.base))
        .await
        .unwrap();
    full_shot(&c, "orders-search").await;
    c.find(Locator::LinkText("購入履歴"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("results")).await.unwrap();
    assert_eq!(rows(&c, "#results").await, vec![6]);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_from_entry_to_completion() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_, cust) = t
        .post(
            "/api/v1/customers",
            json!({"family_name": "佐藤", "given_name": "一郎", "family_kana": "サトウ", "given_kana": "イチロウ",
                   "email": "ichiro@example.jp", "postal_code": "1500001", "prefecture": "東京都", "address1": "渋谷区神宮前1-1", "tel": "0312345678"}),
        )
        .await;
    let cid = cust["id"].as_i64().unwrap();
    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;

    // 新規受注入力: a member found by search, products by code and by search.
    c.goto(&format!("{}/admin/orders/new", t.base))
        .await
        .unwrap();
    shot(&c, "orders-new-empty").await;
    press_enter(&c, "#member_q", "サトウ").await;
    let picks = c
        .find_all(Locator::Css("#members button[name=pick]"))
        .await
        .unwrap();
    assert_eq!(picks.len(), 1);
    submit(&c, "#members button[name=pick]").await;
    assert!(text(&c, "#note").await.contains("佐藤 一郎"));
    assert_eq!(
        c.find(Locator::Id("customer_id"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap(),
        Some(cid.to_string())
    );
    press_enter(&c, "#add_code", "TEA-1").await;
    assert!(text(&c, "#note").await.contains("緑茶"));
    press_enter(&c, "#add_code", "NOPE-9").await;
    assert!(text(&c, "[data-field=add_code]").await.contains("NOPE-9"));
    press_enter(&c, "#product_q", "Tシャツ").await;
    shot(&c, "orders-new-product-search").await;
    submit(&c, "#products button[value=TS-M]").await;
    fill(&c, "#quantity_1", "２").await;
    select(&c, "#payment_method", "bank_transfer").await;
    fill(&c, "#shipping_fee", "600").await;
    // A bad delivery date is reported beside its field; nothing is stored.
    fill(&c, "#delivery_date", "2024/02/30").await;
    submit(&c, "#preview-button").await;
    assert!(
        text(&c, "[data-field=delivery_date]")
            .await
            .contains("存在しない日付")
    );
    fill(&c, "#delivery_date", "2024-09-01").await;
    submit(&c, "#preview-button").await;
    // 1,080 + 2 × 2,990 + 600
    assert_eq!(text(&c, "#preview-total").await, "7,660円");
    shot(&c, "orders-new-preview").await;
    let (_, list) = t.get("/api/v1/orders?list=all").await;
    assert_eq!(list["total"], 0, "the preview stored nothing");
    submit(&c, "#save-button").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("受注を登録しました（注文番号 1")
    );
    let (_, o) = t.get("/api/v1/orders/1").await;
    assert_eq!(o["customer_id"], cid);
    assert_eq!(o["delivery_date"], "2024-09-01");
    assert_eq!(o["items"][1]["quantity"], 2);
    let (_, p) = t.get("/api/v1/products?q=TS-M").await;
    let stock = p["items"][0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["code"] == "TS-M")
        .unwrap()["stock"]
        .clone();
    assert_eq!(stock, 3, "a manual order takes stock");
    full_shot(&c, "orders-detail").await;

    // 受注編集: another delivery address, a line removed, the memo; the history says what.
    submit(&c, "#edit-link").await;
    check(&c, "#delivery_same").await;
    fill(&c, "#delivery_family_name", "田中").await;
    fill(&c, "#delivery_given_name", "次郎").await;
    fill(&c, "#delivery_postal_code", "５３０－０００１").await;
    select(&c, "#delivery_prefecture", "大阪府").await;
    fill(&c, "#delivery_address1", "大阪市北区梅田1-1").await;
    fill(&c, "#delivery_tel", "06-1111-2222").await;
    fill(&c, "#memo", "お届け先を電話で変更").await;
    submit(&c, "button[name=remove][value='0']").await;
    assert_eq!(
        c.find_all(Locator::Css("#edit-items input[name=item_code]"))
            .await
            .unwrap()
            .len(),
        1
    );
    submit(&c, "#preview-button").await;
    assert_eq!(text(&c, "#preview-total").await, "6,580円");
    full_shot(&c, "orders-edit-preview").await;
    submit(&c, "#save-button").await;
    assert!(text(&c, "#done").await.contains("6,580円"));
    let hist = text(&c, "#history").await;
    assert!(
        hist.contains("お届け先") && hist.contains("商品") && hist.contains("メモ"),
        "{hist}"
    );
    let (_, o) = t.get("/api/v1/orders/1").await;
    assert_eq!(o["delivery"]["postal_code"], "5300001");

    // 入金チェック: ¥ → 済, with who; no gateway effect.
    assert_eq!(text(&c, "#check-mark").await, "¥");
    submit(&c, "#payment-check").await;
    assert_eq!(text(&c, "#check-mark").await, "済");
    assert!(text(&c, "#work").await.contains("管理 太郎"));
    // A page left open is refused when someone else changed the order meanwhile.
    let (_, o) = t.get("/api/v1/orders/1").await;
    t.patch(
        "/api/v1/orders/1",
        json!({"version": o["version"], "memo": "別の担当が変更"}),
    )
    .await;
    submit(&c, "#payment-check").await;
    assert!(
        text(&c, "#refused")
            .await
            .contains("ほかの操作で内容が変更されています")
    );
    assert_eq!(text(&c, "#check-mark").await, "済");
    shot(&c, "orders-detail-refused").await;

    // 受注完了一覧へ移動: afterwards only 帳票出力 stays; mails and 入金チェック say why.
    submit(&c, "#move-completed").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("受注完了一覧へ移動しました")
    );
    let work = text(&c, "#work").await;
    assert!(c.find(Locator::Id("slips")).await.is_ok());
    assert!(c.find(Locator::Id("mail-order")).await.is_err());
    assert!(c.find(Locator::Id("payment-check")).await.is_err());
    assert!(
        work.contains("受注完了一覧にある受注ではメール送信はできません"),
        "{work}"
    );
    assert!(c.find(Locator::Id("edit-link")).await.is_err());
    shot(&c, "orders-detail-completed").await;
    submit(&c, "#move-open").await;
    assert!(text(&c, "#done").await.contains("受注一覧へ移動しました"));

    // 対応状況 from the order page: キャンセル puts the items on the cancelled-order list.
    select(&c, "#status-to", "cancelled").await;
    submit(&c, "#status-change").await;
    assert!(text(&c, "#done").await.contains("キャンセル"));
    assert!(
        text(&c, "#history")
            .await
            .contains("キャンセル受注在庫に移しました")
    );
    submit(&c, "#move-cancelled").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("受注キャンセル一覧へ移動しました")
    );

    // 会員詳細: points corrected (a bad value beside its field first), 購入履歴.
    c.goto(&format!("{}/admin/customers/{cid}", t.base))
        .await
        .unwrap();
    assert!(text(&c, "#history").await.contains("受注キャンセル一覧"));
    fill(&c, "#delta", "abc").await;
    fill(&c, "#reason", "お詫び").await;
    submit(&c, "#adjust button").await;
    assert!(text(&c, "[data-field=delta]").await.contains("半角数字"));
    fill(&c, "#delta", "５００").await;
    submit(&c, "#adjust button").await;
    assert_eq!(text(&c, "#points").await, "500pt");
    assert!(text(&c, "#ledger").await.contains("お詫び"));
    shot(&c, "orders-customer").await;

    // キャンセル受注在庫管理: all open lines at once.
    c.goto(&format!("{}/admin/cancelled-stock", t.base))
        .await
        .unwrap();
    c.execute("window.confirm = () => true; return null;", vec![])
        .await
        .unwrap();
    submit(&c, "#return-all").await;
    assert!(text(&c, "#done").await.contains("1行を在庫へ戻しました"));
    assert!(text(&c, "#return-results").await.contains("TS-M ×2"));
    shot(&c, "orders-cancelled-stock").await;

    // 管理者の編集: a short password beside its field, then the operator is disabled.
    c.goto(&format!("{}/admin/settings/users/operator", t.base))
        .await
        .unwrap();
    fill(&c, "#password", "short").await;
    submit(&c, "#edit-user button").await;
    assert!(text(&c, "[data-field=password]").await.contains("文字以上"));
    // The operator's API token, revoked here: it stops working at once.
    assert!(text(&c, "#tokens tbody").await.contains("有効"));
    c.execute("window.confirm = () => true; return null;", vec![])
        .await
        .unwrap();
    submit(&c, "#tokens button").await;
    assert!(text(&c, "#done").await.contains("無効にしました"));
    assert!(text(&c, "#tokens tbody").await.contains("無効（"));
    assert!(c.find(Locator::Css("#tokens button")).await.is_err());
    shot(&c, "orders-user-tokens").await;
    let (st, _) = support::send(
        t.client
            .get(format!("{}/api/v1/me", t.base))
            .bearer_auth(&t.operator_token),
    )
    .await;
    assert_eq!(st, reqwest::StatusCode::UNAUTHORIZED);
    check(&c, "#disabled").await;
    submit(&c, "#edit-user button").await;
    assert!(text(&c, ".flash").await.contains("利用停止"));
    assert!(text(&c, "#users").await.contains("停止中"));
    shot(&c, "orders-users").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_management_moves_many_and_shows_each_result() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    for _ in 0..3 {
        t.import(order_json()).await;
    }
    let (_d, c) = browser().await;
    login(&c, &t, "admin").await;
    c.goto(&format!("{}/admin/orders/status?status=new", t.base))
        .await
        .unwrap();
    assert_eq!(rows(&c, "#results").await, vec![1, 2, 3]);
    shot(&c, "orders-status").await;
    // Nothing chosen: said plainly, nothing changed.
    select(&c, "#to", "shipped").await;
    submit(&c, "#bulk-submit").await;
    assert!(
        text(&c, "#bulk-results")
            .await
            .contains("移動する受注を選んでください")
    );
    check(&c, "#check-all").await;
    // Meanwhile someone moves #2 to 受注完了一覧: it is refused, the others move.
    let (st, v) = t
        .post("/api/v1/orders/2/move", json!({"list": "completed"}))
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{v}");
    select(&c, "#to", "shipped").await;
    submit(&c, "#bulk-submit").await;
    assert_eq!(text(&c, "#ok-count").await, "2");
    assert_eq!(text(&c, "#ng-count").await, "1");
    let refused = text(&c, "#bulk-results tr.ng").await;
    assert!(
        refused.contains('2') && refused.contains("受注完了一覧"),
        "{refused}"
    );
    shot(&c, "orders-status-result").await;
    for n in [1, 3] {
        let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
        assert_eq!(o["status"], "shipped");
    }
    let (_, o) = t.get("/api/v1/orders/2").await;
    assert_eq!(o["status"], "new");
    // The 発送済み tab now lists them.
    c.goto(&format!("{}/admin/orders/status?status=shipped", t.base))
        .await
        .unwrap();
    assert_eq!(rows(&c, "#results").await, vec![1, 3]);

    // 削除 from the search list comes back to the same search with the outcome.
    c.goto(&format!(
        "{}/admin/orders?sort=number_asc&status=shipped",
        t.base
    ))
    .await
    .unwrap();
    c.execute("window.confirm = () => true; return null;", vec![])
        .await
        .unwrap();
    submit(&c, "tr[data-number='1'] button.linkish").await;
    assert!(
        text(&c, "#done")
            .await
            .contains("注文番号 1 を削除しました")
    );
    assert_eq!(rows(&c, "#results").await, vec![3]);
    assert!(
        c.current_url()
            .await
            .unwrap()
            .query()
            .unwrap()
            .contains("status=shipped")
    );
    c.close().await.unwrap();
}
