//! The storefront (購入画面) in headless Chromium: whole checkouts from the product list to
//! ご注文完了 with every payment method the shop offers — card tokens from the gateways'
//! scripts (Paygent, GMO), declines, 3-D Secure challenges under each attempt control,
//! Paidy Checkout, and konbini / ATM / net-bank payment numbers — each checked against the
//! API (order, payment, mails, history) and the sandboxes' ledger.
//! Screenshots of every step land in target/screenshots/checkout-*.png.

use crate::browser;
use crate::support;

use std::time::Duration;

use browser::{browser, shot};
use fantoccini::{Client, Locator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestApp;

const OK_CARD: &str = "4111111111111111";

/// One buyer's way through the shop, numbering its screenshots.
struct Buyer<'a> {
    c: &'a Client,
    t: &'a TestApp,
    name: String,
    step: usize,
}

impl<'a> Buyer<'a> {
    fn new(c: &'a Client, t: &'a TestApp, name: &str) -> Buyer<'a> {
        Buyer {
            c,
            t,
            name: name.to_owned(),
            step: 0,
        }
    }

    /// A screenshot of the whole page (the window grows to the page's height for it).
    async fn shot(&mut self, what: &str) {
        self.step += 1;
        let height = self
            .c
            .execute(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(650);
        let (w, h) = self.c.get_window_size().await.unwrap();
        let tall = u32::try_from(height.clamp(650, 4000) + 150).unwrap();
        self.c.set_window_size(1280, tall).await.unwrap();
        shot(
            self.c,
            &format!("checkout-{}-{:02}-{what}", self.name, self.step),
        )
        .await;
        self.c
            .set_window_size(u32::try_from(w).unwrap(), u32::try_from(h).unwrap())
            .await
            .unwrap();
    }

    async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        // Polled by hand: while a page posts itself on (the issuers' pages do), a lookup can
        // fail with a navigation error rather than "no such element", which would end
        // fantoccini's own wait at once.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let found = loop {
            match self.c.find(Locator::Css(css)).await {
                Ok(e) => break Ok(e),
                Err(e) if std::time::Instant::now() >= deadline => break Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        match found {
            Ok(e) => e,
            Err(_) => {
                let url = self.url().await;
                let at = match self.c.find(Locator::Css("body")).await {
                    Ok(b) => b.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("{}: no {css} on {url}\n{at}", self.name)
            }
        }
    }

    async fn url(&self) -> String {
        self.c
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The element's text once it shows: a hidden element (a message the page's script
    /// reveals) reads as empty until then.
    async fn text(&self, css: &str) -> String {
        let e = self.wait(css).await;
        for _ in 0..50 {
            if e.is_displayed().await.unwrap_or(false) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        e.text().await.unwrap()
    }

    async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap();
    }

    async fn fill(&self, css: &str, value: &str) {
        let e = self.wait(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    async fn select(&self, css: &str, value: &str) {
        self.wait(css).await.select_by_value(value).await.unwrap();
    }

    /// Wait until the page's path ends with `suffix`.
    async fn at(&self, suffix: &str) {
        for _ in 0..150 {
            if self
                .c
                .current_url()
                .await
                .is_ok_and(|u| u.path().ends_with(suffix))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body = match self.c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        panic!(
            "{}: expected …{suffix}, at {}\n{body}",
            self.name,
            self.url().await
        );
    }

    /// A new buyer: no cart cookie.
    async fn fresh(&mut self) {
        self.c
            .goto(&format!("{}/store/test", self.t.base))
            .await
            .unwrap();
        self.c.delete_all_cookies().await.unwrap();
    }

    /// 商品一覧 → カート (2 × Tシャツ 白/M, 1 × 緑茶) → お客様情報 (guest) → 配送・支払
    /// (宅配便, `method`, `konbini` store) → ご注文内容の確認.
    async fn shop_to_confirmation(&mut self, method: &str, konbini: Option<&str>) {
        self.fresh().await;
        self.c
            .goto(&format!("{}/store/test", self.t.base))
            .await
            .unwrap();
        self.wait("#products").await;
        self.shot("products").await;
        self.fill(".variant[data-code='TS-L'] input[name=quantity]", "2")
            .await;
        self.click(".variant[data-code='TS-L'] button[type=submit]")
            .await;
        self.at("/cart").await;
        self.c
            .goto(&format!("{}/store/test", self.t.base))
            .await
            .unwrap();
        self.click(".variant[data-code='TEA-1'] button[type=submit]")
            .await;
        self.at("/cart").await;
        self.wait("#cart").await;
        self.shot("cart").await;
        self.click("#to-checkout").await;
        self.at("/checkout/customer").await;
        self.guest().await;
        self.shot("customer").await;
        self.click("#to-delivery").await;
        self.at("/checkout/delivery").await;
        self.choose(method, konbini).await;
        self.shot("delivery").await;
        self.click("#to-confirm").await;
        self.at("/checkout/confirm").await;
        self.wait("#place-order").await;
        self.shot("confirm").await;
    }

    async fn guest(&self) {
        for (id, v) in [
            ("family_name", "山田"),
            ("given_name", "花子"),
            ("family_kana", "ヤマダ"),
            ("given_kana", "ハナコ"),
            ("email", "hanako@example.jp"),
            ("tel", "03-1234-5678"),
            ("postal_code", "100-0001"),
            ("address1", "千代田区千代田1-1"),
            ("address2", "千代田ハイツ101"),
        ] {
            self.fill(&format!("#{id}"), v).await;
        }
        self.select("#prefecture", "東京都").await;
    }

    /// On the delivery page: the payment method (and its konbini).
    async fn choose(&self, method: &str, konbini: Option<&str>) {
        self.click(&format!("input[name=payment_method][value={method}]"))
            .await;
        if let Some(k) = konbini {
            self.select(&format!("#konbini_{method}"), k).await;
        }
    }

    /// 「注文する」 on the confirmation page.
    async fn place_order(&mut self) {
        self.click("#place-order").await;
    }

    /// Through the shop to 注文する with `method`: on the payment page.
    async fn order_and_go_to_payment(&mut self, method: &str, konbini: Option<&str>) {
        self.shop_to_confirmation(method, konbini).await;
        self.place_order().await;
        self.at("/checkout/payment").await;
    }

    /// The card form: a card and a holder name; the token script runs on 支払う.
    async fn pay_card(&mut self, number: &str, holder: &str) {
        self.wait("#card-form").await;
        self.fill("#card_number", number).await;
        self.select("#card_month", "12").await;
        self.select("#card_year", "30").await;
        self.fill("#card_cvc", "123").await;
        self.fill("#card_name", holder).await;
        self.shot("card").await;
        self.click("#pay").await;
    }

    /// ご注文完了: its order number.
    async fn completed(&mut self) -> i64 {
        self.at("/checkout/complete").await;
        let n = self.text("#order-number").await;
        assert!(
            self.text("h1")
                .await
                .contains("ご注文ありがとうございました"),
            "{}",
            self.name
        );
        self.shot("complete").await;
        n.trim().parse().unwrap()
    }
}

async fn put(t: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    support::send(t.req(Method::PUT, path).json(&body)).await
}

/// Change a payment method's settings through the API.
async fn set_method(t: &TestApp, method: &str, body: Value) {
    let (st, v) = put(t, &format!("/api/v1/shop/payment-methods/{method}"), body).await;
    assert_eq!(st, StatusCode::OK, "{method}: {v}");
}

async fn order(t: &TestApp, n: i64) -> Value {
    let (st, v) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

async fn payment(t: &TestApp, n: i64) -> Value {
    let (st, v) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

async fn mail_kinds(t: &TestApp, n: i64) -> Vec<String> {
    let (st, v) = t.get(&format!("/api/v1/orders/{n}/mails")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn history(t: &TestApp, n: i64) -> String {
    let (st, v) = t.get(&format!("/api/v1/orders/{n}/history")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v.to_string()
}

/// The sandbox ledger's entries of one gateway that mention `needle`.
async fn ledger_of(t: &TestApp, gateway: &str, needle: &str) -> Vec<Value> {
    t.ledger().await[gateway]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x.to_string().contains(needle))
        .collect()
}

/// 2 × 2,990 + 1,080 + 送料 800.
const TOTAL: i64 = 2 * 2990 + 1080 + 800;

/// Paygent card, オーソリのみ: the order is 新規受付 with an authorized payment the
/// sandbox knows, and the thanks mail is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paygent_card_authorizes() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    let mut b = Buyer::new(&c, &t, "paygent-card");
    b.shop_to_confirmation("paygent_card", None).await;
    assert!(b.text("#payment-total").await.contains("7,860円"));
    assert!(b.text("#totals").await.contains("8%対象"));
    b.place_order().await;
    b.at("/checkout/payment").await;
    b.shot("payment").await;
    // The token script refuses a holder name in full-width characters: the message is
    // beside the form and nothing is sent to juchu.
    b.pay_card(OK_CARD, "山田 花子").await;
    let e = b.text("#err-name").await;
    assert!(e.contains("半角ローマ字"), "{e}");
    assert!(b.url().await.ends_with("/checkout/payment"));
    b.shot("token-error").await;
    b.pay_card(OK_CARD, "HANAKO YAMADA").await;
    let n = b.completed().await;

    let o = order(&t, n).await;
    assert_eq!(o["status"], "new", "{o}");
    assert_eq!(o["totals"]["payment_total"], TOTAL, "{o}");
    let p = payment(&t, n).await;
    assert_eq!(p["state"], "authorized", "{p}");
    let payment_id = p["gateway_ref"]
        .as_str()
        .or(p["payment_id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let entries = ledger_of(&t, "paygent", "1111").await;
    assert!(!entries.is_empty(), "the sandbox has the payment");
    assert!(
        payment_id.is_empty()
            || entries
                .iter()
                .any(|e| e["payment_id"] == payment_id.as_str()),
        "{payment_id}: {entries:?}"
    );
    assert!(mail_kinds(&t, n).await.contains(&"thanks".to_owned()));
}

/// GMO card with オーソリ＋売上: the payment is captured at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmo_card_captures() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    set_method(
        &t,
        "gmo_card",
        json!({"capture": "auth_and_capture", "installments": ["1", "3", "bonus"],
            "installments_note": "分割・ボーナス払いはカード会社の規定によります",
            "confirm_note": "ご注文確定後、カード情報の入力画面へ進みます"}),
    )
    .await;
    let (_d, c) = browser().await;
    let mut b = Buyer::new(&c, &t, "gmo-card");
    b.shop_to_confirmation("gmo_card", None).await;
    assert!(
        b.text("#confirm-note")
            .await
            .contains("カード情報の入力画面へ進みます")
    );
    b.place_order().await;
    b.at("/checkout/payment").await;
    assert!(
        b.text("#installments-note")
            .await
            .contains("カード会社の規定")
    );
    let options = b.text("#installments").await;
    assert!(
        options.contains("一括") && options.contains("3回") && options.contains("ボーナス一括"),
        "{options}"
    );
    // 戻る: the pending order goes, the confirmation page is back.
    let first: i64 = b
        .wait("#order-ref")
        .await
        .attr("data-number")
        .await
        .unwrap()
        .unwrap_or_default()
        .parse()
        .unwrap();
    b.click("#back").await;
    b.at("/checkout/confirm").await;
    b.shot("back").await;
    b.place_order().await;
    b.at("/checkout/payment").await;
    // GMO's token script: a number too short.
    b.pay_card("411111", "HANAKO YAMADA").await;
    let e = b.text("#err-number").await;
    assert!(e.contains("桁数"), "{e}");
    b.shot("token-error").await;
    b.select("#installments", "3").await;
    b.pay_card(OK_CARD, "HANAKO YAMADA").await;
    let n = b.completed().await;
    assert_ne!(n, first, "a new order after 戻る");
    // The order left by 戻る is gone (deleted, or found only as deleted).
    let (st, first_order) = t.get(&format!("/api/v1/orders/{first}")).await;
    assert!(
        st == StatusCode::NOT_FOUND || !first_order["deleted_at"].is_null(),
        "{st} {first_order}"
    );
    assert_eq!(order(&t, n).await["status"], "new");
    let p = payment(&t, n).await;
    assert_eq!(p["state"], "captured", "{p}");
    let at_gmo = ledger_of(&t, "gmo", &format!("\"{n}-")).await;
    assert_eq!(at_gmo.len(), 1, "{at_gmo:?}");
    assert_eq!(
        (
            at_gmo[0]["method"].as_str(),
            at_gmo[0]["pay_times"].as_str()
        ),
        (Some("2"), Some("3")),
        "分割 3回: {at_gmo:?}"
    );
    assert!(mail_kinds(&t, n).await.contains(&"thanks".to_owned()));
}

/// A declined card (…8212 → G12) brings the buyer back to the card form with the reason;
/// the next card succeeds. The sandbox saw both attempts; the order's history keeps the
/// declined one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_card_then_another() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    let mut b = Buyer::new(&c, &t, "decline");
    b.order_and_go_to_payment("gmo_card", None).await;
    b.pay_card("4111111111118212", "HANAKO YAMADA").await;
    let m = b.text("#message").await;
    b.shot("declined").await;
    assert!(m.contains("G12"), "{m}");
    assert!(m.contains("ご利用になれません"), "{m}");
    assert!(b.url().await.ends_with("/checkout/pay/card"));
    // The form is there again, empty: the buyer types another card.
    assert_eq!(
        b.wait("#card_number").await.prop("value").await.unwrap(),
        Some(String::new())
    );
    b.pay_card(OK_CARD, "HANAKO YAMADA").await;
    let n = b.completed().await;
    assert_eq!(payment(&t, n).await["state"], "authorized");
    let ledger = ledger_of(&t, "gmo", &format!("\"{n}-")).await;
    let all = serde_json::to_string(&ledger).unwrap();
    assert!(all.contains("42G120000"), "the declined attempt: {all}");
    assert!(
        ledger.len() >= 2 || all.matches("ExecTran").count() >= 2,
        "{all}"
    );
    let h = history(&t, n).await;
    assert!(h.contains("G12"), "{h}");
}

/// A Paygent card order paid with `card` / `holder`; `answer` is the button to press on the
/// issuer's challenge page (None: no challenge expected).
async fn paygent_3ds_run(b: &mut Buyer<'_>, card: &str, holder: &str, answer: Option<&str>) {
    b.order_and_go_to_payment("paygent_card", None).await;
    b.pay_card(card, holder).await;
    if let Some(button) = answer {
        b.wait(button).await;
        b.shot("challenge").await;
        b.fill("input[name=password]", "password").await;
        b.click(button).await;
    }
}

/// Back on the card form with why; returns the order's history.
async fn expect_refused(b: &mut Buyer<'_>, what: &str) -> String {
    b.at("/checkout/payment").await;
    let m = b.text("#message").await;
    b.shot(what).await;
    assert!(m.contains("本人認証"), "{}: {m}", b.name);
    b.wait("#card-form").await;
    let n: i64 = b
        .wait("#order-ref")
        .await
        .attr("data-number")
        .await
        .unwrap()
        .unwrap_or_default()
        .parse()
        .unwrap();
    history(b.t, n).await
}

/// Paygent EMV 3-D Secure: a challenge that passes and one that fails under each attempt
/// control (高 / 中 / 低); then the attempt results the test cardholder names give —
/// BA?AA (attempt 0: refused at 高, authorized at 中) and BA?UA (attempt 1: refused at 中,
/// authorized at 低).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paygent_three_d_secure() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    for level in ["high", "medium", "low"] {
        set_method(
            &t,
            "paygent_card",
            json!({"three_ds": true, "merchant_name_en": "JUCHU TEST SHOP", "attempt_control": level}),
        )
        .await;
        let mut b = Buyer::new(&c, &t, &format!("paygent-3ds-{level}-pass"));
        paygent_3ds_run(
            &mut b,
            "4111111111113000",
            "HANAKO YAMADA",
            Some("#threeds-ok"),
        )
        .await;
        let n = b.completed().await;
        assert_eq!(payment(&t, n).await["state"], "authorized", "{level}");
        assert_eq!(order(&t, n).await["status"], "new");

        let mut b = Buyer::new(&c, &t, &format!("paygent-3ds-{level}-fail"));
        paygent_3ds_run(
            &mut b,
            "4111111111114000",
            "HANAKO YAMADA",
            Some("#threeds-ok"),
        )
        .await;
        let h = expect_refused(&mut b, "failed").await;
        assert!(h.contains("3Dセキュア認証に失敗"), "{h}");
    }
    // Attempt results by cardholder name (frictionless: no challenge page).
    for (level, holder, authorized) in [
        ("high", "BAVAA", false),
        ("medium", "BAVAA", true),
        ("medium", "BAVUA", false),
        ("low", "BAVUA", true),
    ] {
        set_method(&t, "paygent_card", json!({"attempt_control": level})).await;
        let mut b = Buyer::new(&c, &t, &format!("paygent-3ds-{holder}-{level}"));
        paygent_3ds_run(&mut b, OK_CARD, holder, None).await;
        if authorized {
            let n = b.completed().await;
            assert_eq!(
                payment(&t, n).await["state"],
                "authorized",
                "{holder} {level}"
            );
        } else {
            let h = expect_refused(&mut b, "attempt-refused").await;
            assert!(h.contains("アテンプト取引"), "{holder} {level}: {h}");
        }
    }
}

/// GMO 3-D Secure 2.0: the issuer's challenge passes and the buyer comes back by a POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmo_three_d_secure() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    set_method(
        &t,
        "gmo_card",
        json!({"three_ds": true, "merchant_name_en": "JUCHU TEST SHOP"}),
    )
    .await;
    let (_d, c) = browser().await;
    let mut b = Buyer::new(&c, &t, "gmo-3ds");
    b.order_and_go_to_payment("gmo_card", None).await;
    b.pay_card("4111111111113000", "HANAKO YAMADA").await;
    b.wait("#tds-ok").await;
    b.shot("challenge").await;
    b.click("#tds-ok").await;
    let n = b.completed().await;
    assert_eq!(payment(&t, n).await["state"], "authorized");
    assert_eq!(order(&t, n).await["status"], "new");

    // A real issuer's page is on another site: its POST back to the shop carries no
    // SameSite=Lax cookie. The return is found by the OrderID; the redirect that follows is
    // a GET, which brings the cookie to the completion page.
    let mut b = Buyer::new(&c, &t, "gmo-3ds-cross-site");
    b.order_and_go_to_payment("gmo_card", None).await;
    b.pay_card("4111111111113000", "HANAKO YAMADA").await;
    let access_id = b
        .wait("input[name=AccessID]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let page = t
        .client
        .post(format!("{}/gmo/tds2/challenge", t.base))
        .form(&[("AccessID", access_id.as_str()), ("answer", "ok")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let attr = |after: &str| {
        let from = page.find(after).unwrap() + after.len();
        page[from..from + page[from..].find('"').unwrap()].to_owned()
    };
    let ret_url = attr("action=\"");
    let order_id = attr("name=\"OrderID\" value=\"");
    assert!(
        ret_url.ends_with("/store/test/checkout/3ds/gmo"),
        "{ret_url}"
    );
    let r = t
        .client
        .post(&ret_url)
        .form(&[
            ("AccessID", access_id.as_str()),
            ("OrderID", order_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(to, "/store/test/checkout/complete");
    c.goto(&format!("{}{to}", t.base)).await.unwrap();
    let n = b.completed().await;
    assert_eq!(payment(&t, n).await["state"], "authorized");
}

/// Paidy Checkout: approved → 完了; rejected → the message, then コンビニ instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paidy_approved_and_rejected() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    let mut b = Buyer::new(&c, &t, "paidy-approve");
    b.order_and_go_to_payment("paidy", None).await;
    b.shot("payment").await;
    b.click("#paidy-pay").await;
    b.wait("#paidy-approve").await;
    b.shot("overlay").await;
    b.click("#paidy-approve").await;
    let n = b.completed().await;
    assert_eq!(payment(&t, n).await["state"], "authorized");
    assert_eq!(order(&t, n).await["status"], "new");

    let mut b = Buyer::new(&c, &t, "paidy-reject");
    b.order_and_go_to_payment("paidy", None).await;
    b.click("#paidy-pay").await;
    b.click("#paidy-reject").await;
    let m = b.text("#paidy-rejected").await;
    b.shot("rejected").await;
    assert!(
        m.contains("Paidyのご利用が承認されませんでした。別のお支払い方法をお選びください"),
        "{m}"
    );
    b.click("#choose-other").await;
    b.at("/checkout/delivery").await;
    b.choose("paygent_konbini", Some("00C016")).await;
    b.shot("konbini-instead").await;
    b.click("#to-confirm").await;
    b.at("/checkout/confirm").await;
    assert!(b.text("#method").await.contains("セブン-イレブン"));
    b.shot("confirm-konbini").await;
    b.place_order().await;
    let n = b.completed().await;
    assert_eq!(order(&t, n).await["status"], "awaiting_payment");
    assert_eq!(order(&t, n).await["payment_method"], "paygent_konbini");
}

/// Konbini (GMO, Paygent), ATM (Paygent) and net bank (Paygent): the completion page shows
/// the payment number or the bank page's URL and the due date; the order waits as 入金待ち.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_payments_show_how_to_pay() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    for (method, konbini) in [
        ("gmo_konbini", Some("00001")),
        ("paygent_konbini", Some("00C002")),
        ("paygent_atm", None),
        ("paygent_netbank", None),
    ] {
        let mut b = Buyer::new(&c, &t, method);
        b.shop_to_confirmation(method, konbini).await;
        b.place_order().await;
        let n = b.completed().await;
        let slip = b.text("#slip").await;
        assert!(b.text("#due").await.contains("2024"), "{method}: {slip}");
        if method == "paygent_netbank" {
            let href = b.wait("#pay-url").await.attr("href").await.unwrap();
            let href = href.unwrap_or_default();
            assert!(
                href.starts_with("http") && href.contains("/paygent/bank/asp/"),
                "an absolute URL to Paygent's page: {href} {slip}"
            );
            // The buyer follows it to the bank-selection page.
            c.goto(&href).await.unwrap();
            let page = c.source().await.unwrap();
            assert!(page.contains("銀行ネット決済"), "{page}");
        } else {
            assert!(
                slip.chars().filter(char::is_ascii_digit).count() >= 6,
                "{method}: {slip}"
            );
        }
        let o = order(&t, n).await;
        assert_eq!(o["status"], "awaiting_payment", "{method}: {o}");
        assert_eq!(o["payment_method"], method);
    }
}

/// What the buyer can get wrong: field errors beside the fields, an empty cart, a form
/// from another site (403), and a delivery without a fixed fee (no online payment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyer_mistakes() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (_d, c) = browser().await;
    let mut b = Buyer::new(&c, &t, "mistakes");
    b.fresh().await;
    c.goto(&format!("{}/store/test/checkout/customer", t.base))
        .await
        .unwrap();
    b.at("/cart").await;
    assert!(
        b.text("main")
            .await
            .contains("カートに商品が入っていません")
    );
    b.shot("empty-cart").await;
    c.goto(&format!("{}/store/test", t.base)).await.unwrap();
    b.click(".variant[data-code='TS-M'] button[type=submit]")
        .await;
    b.at("/cart").await;
    b.click("#to-checkout").await;
    b.at("/checkout/customer").await;
    b.fill("#family_name", "山田").await;
    b.fill("#email", "not-an-email").await;
    b.click("#to-delivery").await;
    b.wait("#err-given_name").await;
    b.shot("field-errors").await;
    assert!(!b.text("#err-email").await.is_empty());
    assert_eq!(
        b.wait("#family_name").await.prop("value").await.unwrap(),
        Some("山田".into()),
        "what was typed stays"
    );
    b.guest().await;
    b.click("#to-delivery").await;
    b.at("/checkout/delivery").await;
    // 大型家具便（送料別途見積）: only methods without a gateway.
    let furniture = b
        .wait("#deliveries")
        .await
        .find(Locator::XPath(
            ".//label[contains(., '送料別途見積')]//input",
        ))
        .await
        .unwrap();
    furniture.click().await.unwrap();
    let note = b.text("#no-online").await;
    assert!(note.contains("送料が確定しないため、オンライン決済はご利用いただけません"));
    let methods = b.text("#methods").await;
    assert!(!methods.contains("クレジットカード"), "{methods}");
    b.shot("no-fixed-fee").await;
    b.choose("bank_transfer", None).await;
    b.click("#to-confirm").await;
    b.at("/checkout/confirm").await;
    assert!(b.text("#shipping").await.contains("別途お見積り"));
    b.shot("confirm-no-fixed-fee").await;

    // A form posted from elsewhere (no cart cookie) is refused.
    let r = t
        .client
        .post(format!("{}/store/test/cart/add", t.base))
        .form(&[("code", "TS-M"), ("quantity", "1"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("別の画面から送信されました")
    );
    // An unknown shop.
    let r = t
        .client
        .get(format!("{}/store/nope", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// A member logs in at お客様情報 (a wrong password first), sees the point balance, pays
/// part with points and the rest by 銀行振込 (no gateway: complete at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_uses_points() {
    let t = TestApp::start(support::Backend::Sqlite).await;
    let (st, m) = t
        .post(
            "/api/v1/customers",
            json!({"family_name": "会員", "given_name": "次郎", "family_kana": "カイイン", "given_kana": "ジロウ",
                "email": "jiro@example.jp", "tel": "0311112222", "postal_code": "1500001", "prefecture": "東京都",
                "address1": "渋谷区渋谷1-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let cid = m["id"].as_i64().unwrap();
    let (st, _) = t
        .post(
            &format!("/api/v1/customers/{cid}/points"),
            json!({"delta": 500, "reason": "テスト"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut tx = t.app.store.begin().await.unwrap();
    let hash = juchu_app::access::hash_password("member-pass").unwrap();
    juchu_store::customers::set_password_hash(&mut tx, t.shop_id, cid, &hash)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (_d, c) = browser().await;
    let mut b = Buyer::new(&c, &t, "member");
    b.fresh().await;
    c.goto(&format!("{}/store/test", t.base)).await.unwrap();
    b.click(".variant[data-code='TS-L'] button[type=submit]")
        .await;
    b.at("/cart").await;
    b.click("#to-checkout").await;
    b.at("/checkout/customer").await;
    b.fill("#login_email", "jiro@example.jp").await;
    b.fill("#login_password", "wrong").await;
    b.click("#login").await;
    let e = b.text("#err-login_password").await;
    assert!(e.contains("正しくありません"), "{e}");
    b.shot("login-failed").await;
    b.fill("#login_password", "member-pass").await;
    b.click("#login").await;
    // Logged in: on to the delivery page; お客様情報 now shows the member's details.
    b.at("/checkout/delivery").await;
    c.goto(&format!("{}/store/test/checkout/customer", t.base))
        .await
        .unwrap();
    let member = b.text("#member").await;
    assert!(
        member.contains("会員 次郎") && member.contains("渋谷区渋谷1-1"),
        "{member}"
    );
    b.shot("member").await;
    b.click("#to-delivery").await;
    b.at("/checkout/delivery").await;
    assert_eq!(b.text("#points-balance").await, "500");
    b.choose("bank_transfer", None).await;
    b.fill("#points", "300").await;
    b.fill("#remarks", "午前中に届けてください").await;
    b.shot("points").await;
    b.click("#to-confirm").await;
    b.at("/checkout/confirm").await;
    let totals = b.text("#totals").await;
    assert!(totals.contains("ポイント利用"), "{totals}");
    assert!(b.text("#payment-total").await.contains("3,490円"));
    b.shot("confirm").await;
    b.place_order().await;
    let n = b.completed().await;
    let o = order(&t, n).await;
    assert_eq!(o["customer_id"], cid);
    assert_eq!(o["totals"]["points_used"], 300, "{o}");
    assert_eq!(o["remarks"], "午前中に届けてください");
    assert_eq!(o["status"], "awaiting_payment");
}
