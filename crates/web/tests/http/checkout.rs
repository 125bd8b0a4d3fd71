//! The checkout's money rules, on SQLite and PostgreSQL against the bundled sandboxes: one
//! authorization however often a form is sent, declines kept, 3-D Secure attempt control,
//! Paidy adoption, konbini numbers, and 決済処理中 orders removed exactly once — never one
//! whose authorization reached the gateway.

use crate::both_backends;
use crate::support;

use juchu_app::checkout::{self, Buyer, BuyerInput, CardInput, ChoiceInput, Next, Removal};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

both_backends!(
    double_submits_authorize_once,
    a_decline_is_kept_and_a_second_card_pays,
    abandoned_pending_orders_are_removed_once,
    an_authorization_that_reached_the_gateway_is_never_dropped,
    going_back_removes_the_pending_order,
    paygent_3ds_attempt_control,
    gmo_3ds_challenge,
    paidy_checkout_is_checked_before_it_is_taken,
    konbini_checkout_gives_the_number_in_the_thanks_mail,
    stored_credentials_drive_the_connectors,
    paidy_webhooks_take_or_close_what_the_browser_never_brought,
);

const CODE: &str = "CK-1";

async fn product(t: &TestApp, stock: i64) {
    let (st, p) = t
        .post(
            "/api/v1/products",
            json!({"name": "チェックアウト茶", "variants": [
                {"code": CODE, "class1": "100g", "class2": "", "price": 1200, "tax_rate": 8, "stock": stock}
            ]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
}

fn guest() -> BuyerInput {
    BuyerInput {
        family_name: "購入".into(),
        given_name: "太郎".into(),
        family_kana: "コウニュウ".into(),
        given_kana: "タロウ".into(),
        email: "buyer@example.jp".into(),
        tel: "0312345678".into(),
        postal_code: "1000001".into(),
        prefecture: "東京都".into(),
        address1: "千代田区千代田1-1".into(),
        address2: String::new(),
    }
}

/// A buyer with two of the product in the cart, お客様情報 and 宅配便 + `method` chosen.
async fn ready(t: &TestApp, method: &str, store: Option<&str>) -> Buyer {
    let b = Buyer::new(
        t.shop_id,
        checkout::begin(&t.app, t.shop_id, None).await.unwrap(),
    );
    checkout::add(&t.app, &b, CODE, 2).await.unwrap();
    checkout::set_buyer(&t.app, &b, guest()).await.unwrap();
    choose(t, &b, method, store, 0).await;
    b
}

async fn choose(t: &TestApp, b: &Buyer, method: &str, store: Option<&str>, points: i64) {
    let d = juchu_app::methods::deliveries(&t.app, t.shop_id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "宅配便")
        .expect("宅配便");
    checkout::choose(
        &t.app,
        b,
        ChoiceInput {
            delivery_id: d.id,
            payment_method: method.into(),
            konbini_store: store.map(str::to_owned),
            points,
            remarks: String::new(),
        },
    )
    .await
    .unwrap();
}

async fn confirm(t: &TestApp, b: &Buyer) -> Next {
    let v = checkout::view(&t.app, b).await.unwrap();
    checkout::confirm(&t.app, b, &v.attempt).await.unwrap()
}

async fn gmo_token(t: &TestApp, card: &str) -> String {
    let r: Value = t
        .client
        .post(format!("{}/gmo/ext/api/credit/getToken", t.base))
        .json(
            &json!({"shopId": "tshop00000001", "cardno": card, "expire": "203012",
            "securitycode": "123", "holdername": "TARO KOUNYU"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["resultCode"], "000", "{r}");
    r["tokenObject"]["token"].as_str().unwrap().to_owned()
}

async fn paygent_card(t: &TestApp, b: &Buyer, card: &str, holder: &str) -> CardInput {
    let r: Value = t
        .client
        .post(format!("{}/paygent/n/token/request", t.base))
        .json(&json!({"kind": "card", "merchant_id": "000000001", "token_key": "test_sandbox_token_key",
            "card_number": card, "expire_year": "30", "expire_month": "12", "cvc": "123", "name": "TARO"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"], "0000", "{r}");
    let o = &r["tokenizedCardObject"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    CardInput {
        attempt: checkout::view(&t.app, b).await.unwrap().attempt,
        token: s(&o["token"]),
        masked: s(&o["masked_card_number"]),
        installments: "1".into(),
        valid_until: s(&o["valid_until"]),
        fingerprint: s(&o["fingerprint"]),
        hc: s(&r["hc"]),
        holder: holder.into(),
    }
}

async fn gmo_card(t: &TestApp, b: &Buyer, card: &str) -> CardInput {
    CardInput {
        attempt: checkout::view(&t.app, b).await.unwrap().attempt,
        token: gmo_token(t, card).await,
        masked: format!("************{}", &card[card.len() - 4..]),
        installments: "1".into(),
        ..CardInput::default()
    }
}

async fn order_of(t: &TestApp, b: &Buyer) -> Value {
    let n = checkout::view(&t.app, b)
        .await
        .unwrap()
        .order_number
        .expect("order");
    let (st, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(st, StatusCode::OK, "{o}");
    o
}

async fn mails(t: &TestApp, n: i64) -> Vec<Value> {
    let (_, m) = t.get(&format!("/api/v1/orders/{n}/mails")).await;
    m.as_array().cloned().unwrap_or_default()
}

async fn set_method(t: &TestApp, method: &str, body: Value) {
    let (st, r) = send(
        t.req(
            reqwest::Method::PUT,
            &format!("/api/v1/shop/payment-methods/{method}"),
        )
        .json(&body),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{r}");
}

/// Ledger transactions at the gateway for the order's references (`{number}-…`).
async fn attempts_at(t: &TestApp, n: i64) -> Vec<Value> {
    let l = t.ledger().await;
    let prefix = format!("{n}-");
    let mut out = Vec::new();
    for g in ["gmo", "paygent", "paidy"] {
        for x in l[g].as_array().into_iter().flatten() {
            let text = x.to_string();
            if text.contains(&format!("\"{prefix}")) {
                out.push(x.clone());
            }
        }
    }
    out
}

async fn double_submits_authorize_once(t: TestApp) {
    product(&t, 50).await;
    let b = ready(&t, "gmo_card", None).await;
    // The confirmation sent ten times at once: one order.
    let v = checkout::view(&t.app, &b).await.unwrap();
    let runs: Vec<_> = (0..10)
        .map(|_| {
            let (app, b, a) = (t.app.clone(), b.clone(), v.attempt.clone());
            tokio::spawn(async move { checkout::confirm(&app, &b, &a).await })
        })
        .collect();
    for r in runs {
        assert_eq!(r.await.unwrap().unwrap(), Next::PaymentPage);
    }
    let o = order_of(&t, &b).await;
    let n = o["number"].as_i64().unwrap();
    assert_eq!(o["status"], "pending_payment");
    let (_, found) = t.get("/api/v1/orders?status=pending_payment").await;
    assert_eq!(found["total"], 1, "{found}");
    // The card form sent twenty times at once: one authorization, one order, one mail.
    let card = gmo_card(&t, &b, "4111111111111111").await;
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let (app, b, c, base) = (t.app.clone(), b.clone(), card.clone(), t.base.clone());
            tokio::spawn(async move { checkout::pay_card(&app, &b, c, &base).await })
        })
        .collect();
    for r in runs {
        assert_eq!(r.await.unwrap().unwrap(), Next::Completed);
    }
    let o = order_of(&t, &b).await;
    assert_eq!(o["status"], "new", "{o}");
    let at = attempts_at(&t, n).await;
    assert_eq!(at.len(), 1, "one transaction at GMO: {at:?}");
    let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(p["state"], "authorized", "{p}");
    let m = mails(&t, n).await;
    assert_eq!(
        m.iter().filter(|m| m["kind"] == "thanks").count(),
        1,
        "{m:?}"
    );
    // A reload of the completed checkout's forms changes nothing.
    assert_eq!(
        checkout::pay_card(&t.app, &b, card, &t.base).await.unwrap(),
        Next::Completed
    );
    assert_eq!(attempts_at(&t, n).await.len(), 1);
    let c = checkout::completion(&t.app, &b).await.unwrap();
    assert_eq!(c.number, n);
    assert_eq!(c.payment_total, 2 * 1200 + 800);
}

async fn a_decline_is_kept_and_a_second_card_pays(t: TestApp) {
    product(&t, 50).await;
    let b = ready(&t, "gmo_card", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let n = order_of(&t, &b).await["number"].as_i64().unwrap();
    let declined = gmo_card(&t, &b, "4111111111118212").await;
    let Next::Failed { message } = checkout::pay_card(&t.app, &b, declined.clone(), &t.base)
        .await
        .unwrap()
    else {
        panic!("a declined card must fail");
    };
    assert!(message.contains("G12"), "{message}");
    // The same declined form again is the same attempt: no second call to GMO.
    checkout::pay_card(&t.app, &b, declined, &t.base)
        .await
        .unwrap();
    assert_eq!(order_of(&t, &b).await["status"], "pending_payment");
    let ok = gmo_card(&t, &b, "4111111111111111").await;
    assert_eq!(
        checkout::pay_card(&t.app, &b, ok, &t.base).await.unwrap(),
        Next::Completed
    );
    assert_eq!(order_of(&t, &b).await["status"], "new");
    let at = attempts_at(&t, n).await;
    assert_eq!(at.len(), 2, "both attempts stay at GMO: {at:?}");
    let (_, h) = t.get(&format!("/api/v1/orders/{n}/history")).await;
    let text = h.to_string();
    assert!(
        text.contains("G12"),
        "the decline is in the history: {text}"
    );
}

async fn abandoned_pending_orders_are_removed_once(t: TestApp) {
    product(&t, 10).await;
    let (st, c) = t
        .post(
            "/api/v1/customers",
            json!({"family_name": "会員", "given_name": "花子", "family_kana": "カイイン", "given_kana": "ハナコ",
                "email": "member@example.jp", "tel": "0311112222", "postal_code": "1500001", "prefecture": "東京都", "address1": "渋谷区1-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_i64().unwrap();
    t.post(
        &format!("/api/v1/customers/{cid}/points"),
        json!({"delta": 500, "reason": "テスト"}),
    )
    .await;
    let mut tx = t.app.store.begin().await.unwrap();
    let hash = juchu_app::access::hash_password("member-pass").unwrap();
    juchu_store::customers::set_password_hash(&mut tx, t.shop_id, cid, &hash)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    t.set_now("2026-11-20T10:00:00+09:00");
    let b = Buyer::new(
        t.shop_id,
        checkout::begin(&t.app, t.shop_id, None).await.unwrap(),
    );
    checkout::add(&t.app, &b, CODE, 3).await.unwrap();
    assert!(
        checkout::login(&t.app, &b, "member@example.jp", "wrong")
            .await
            .is_err()
    );
    checkout::login(&t.app, &b, "member@example.jp", "member-pass")
        .await
        .unwrap();
    choose(&t, &b, "paygent_card", None, 300).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let o = order_of(&t, &b).await;
    let n = o["number"].as_i64().unwrap();
    assert_eq!(o["totals"]["points_used"], 300, "{o}");
    let (_, cust) = t.get(&format!("/api/v1/customers/{cid}")).await;
    assert_eq!(cust["points"], 200, "points spent with the pending order");
    let (_, p) = t.get(&format!("/api/v1/products?q={CODE}")).await;
    assert_eq!(p["items"][0]["variants"][0]["stock"], 7, "{p}");

    // Not yet: 59 minutes.
    t.set_now("2026-11-20T10:59:00+09:00");
    let (_, swept) = t
        .post("/api/v1/payments/pending-orders/sweep", json!({}))
        .await;
    assert_eq!(swept, json!([]));
    // Past the hour, two workers at once: one removal.
    t.set_now("2026-11-20T11:01:00+09:00");
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let app = t.app.clone();
            tokio::spawn(async move {
                checkout::sweep(&app, std::time::Duration::from_secs(3600)).await
            })
        })
        .collect();
    let mut removed = 0;
    for r in runs {
        for s in r.await.unwrap().unwrap() {
            assert_eq!(s.order_number, n);
            if s.removal == Removal::Removed {
                removed += 1;
            }
        }
    }
    assert_eq!(removed, 1);
    let (_, cust) = t.get(&format!("/api/v1/customers/{cid}")).await;
    assert_eq!(cust["points"], 500, "points returned exactly once");
    let (_, ledger) = t.get(&format!("/api/v1/customers/{cid}/points")).await;
    let returns = ledger
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["delta"] == 300)
        .count();
    assert_eq!(returns, 1, "{ledger}");
    let (_, cs) = t.get("/api/v1/cancelled-stock").await;
    let lines: Vec<&Value> = cs
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["product_code"] == CODE)
        .collect();
    assert_eq!(lines.len(), 1, "{cs}");
    assert_eq!(lines[0]["quantity"], 3);
    let (st, _) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "the pending order is gone");
    // The buyer's cart is kept; the next confirmation makes a new order.
    let v = checkout::view(&t.app, &b).await.unwrap();
    assert_eq!(v.state, checkout::CheckoutState::Shopping);
    assert_eq!(v.lines.len(), 1);
}

async fn an_authorization_that_reached_the_gateway_is_never_dropped(t: TestApp) {
    product(&t, 10).await;
    t.set_now("2026-11-20T10:00:00+09:00");
    let b = ready(&t, "gmo_card", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let n = order_of(&t, &b).await["number"].as_i64().unwrap();
    // GMO authorizes, then the connection breaks: the buyer is told it is being checked.
    t.sandbox_control(
        "/faults",
        json!({"gateway": "gmo", "operation": "ExecTran", "kind": "drop_after", "times": 1}),
    )
    .await;
    let card = gmo_card(&t, &b, "4111111111111111").await;
    let Next::Failed { message } = checkout::pay_card(&t.app, &b, card, &t.base).await.unwrap()
    else {
        panic!("unknown outcome");
    };
    assert!(message.contains("確認"), "{message}");
    assert_eq!(order_of(&t, &b).await["status"], "pending_payment");
    // An hour later the sweep asks GMO first: the order is completed, not removed.
    t.set_now("2026-11-20T11:05:00+09:00");
    let s = checkout::sweep(&t.app, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].removal, Removal::Completed);
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(o["status"], "new", "{o}");
    let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(p["state"], "authorized", "{p}");
    assert_eq!(
        mails(&t, n)
            .await
            .iter()
            .filter(|m| m["kind"] == "thanks")
            .count(),
        1
    );
    assert_eq!(attempts_at(&t, n).await.len(), 1);
}

async fn going_back_removes_the_pending_order(t: TestApp) {
    product(&t, 10).await;
    let b = ready(&t, "paidy", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let n = order_of(&t, &b).await["number"].as_i64().unwrap();
    // Changing the cart means leaving the payment: the pending order goes.
    checkout::set_quantity(&t.app, &b, CODE, 1).await.unwrap();
    let (st, _) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, h) = t.get(&format!("/api/v1/orders/{n}/history")).await;
    assert!(h.to_string().contains("購入手続きに戻った"), "{h}");
    let v = checkout::view(&t.app, &b).await.unwrap();
    assert_eq!(v.state, checkout::CheckoutState::Shopping);
    assert_eq!(v.lines[0].quantity, 1);
    // Back again through the confirmation: a new order.
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let n2 = order_of(&t, &b).await["number"].as_i64().unwrap();
    assert!(n2 > n);
    checkout::back(&t.app, &b).await.unwrap();
    let (st, _) = t.get(&format!("/api/v1/orders/{n2}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, cs) = t.get("/api/v1/cancelled-stock").await;
    let q: i64 = cs
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["product_code"] == CODE)
        .map(|l| l["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(q, 3, "2 from the first order, 1 from the second");
}

/// Follow Paygent's 3-D Secure page as the buyer's browser would: post its form, answer a
/// challenge with `password`, and return the term_url's parameters.
async fn paygent_acs(t: &TestApp, html: &str, password: &str) -> Vec<(String, String)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut page = html.to_owned();
    for _ in 0..4 {
        let (action, fields) = form_of(&page);
        let mut fields = fields;
        if page.contains("name=\"password\"") {
            fields.retain(|(k, _)| k != "password");
            fields.push(("password".into(), password.into()));
        }
        if page.contains("name=\"answer\"") {
            fields.push(("answer".into(), "ok".into()));
        }
        let url = if action.starts_with("http") {
            action
        } else {
            format!("{}{}", t.base, action)
        };
        let r = client.post(&url).form(&fields).send().await.unwrap();
        if let Some(loc) = r.headers().get("location") {
            let loc = reqwest::Url::parse(loc.to_str().unwrap()).unwrap();
            return loc
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        }
        page = r.text().await.unwrap();
    }
    panic!("no way back from the 3-D Secure pages: {page}");
}

/// The first form of a page: its action and its input fields.
fn form_of(html: &str) -> (String, Vec<(String, String)>) {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let i = tag.find(&key)? + key.len();
        let j = tag[i..].find('"')? + i;
        Some(html_unescape(&tag[i..j]))
    };
    let f = html.find("<form").expect("a form");
    let end = html[f..].find('>').unwrap() + f;
    let action = attr(&html[f..=end], "action").unwrap_or_default();
    let mut fields = Vec::new();
    let mut rest = &html[end..];
    while let Some(i) = rest.find("<input") {
        let e = rest[i..].find('>').unwrap() + i;
        let tag = &rest[i..=e];
        if let Some(n) = attr(tag, "name") {
            fields.push((n, attr(tag, "value").unwrap_or_default()));
        }
        rest = &rest[e..];
    }
    (action, fields)
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
}

async fn paygent_3ds_attempt_control(t: TestApp) {
    product(&t, 100).await;
    // (level, cardholder / card, challenge password, authorized?)
    let cases = [
        ("high", "4111111111113000", "TARO", "1234", true),
        ("high", "4111111111114000", "TARO", "1234", false),
        ("high", "4111111111111111", "BAVAA", "", false),
        ("medium", "4111111111111111", "BAVAA", "", true),
        ("medium", "4111111111111111", "BAVUA", "", false),
        ("low", "4111111111111111", "BAVUA", "", true),
        ("low", "4111111111114000", "TARO", "1234", false),
        ("medium", "4111111111113000", "TARO", "1234", true),
    ];
    for (level, card, holder, password, ok) in cases {
        set_method(
            &t,
            "paygent_card",
            json!({"three_ds": true, "merchant_name_en": "JUCHU TEST", "attempt_control": level}),
        )
        .await;
        let b = ready(&t, "paygent_card", None).await;
        assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
        let n = order_of(&t, &b).await["number"].as_i64().unwrap();
        let input = paygent_card(&t, &b, card, holder).await;
        let next = checkout::pay_card(&t.app, &b, input, &t.base)
            .await
            .unwrap();
        let Next::Html(html) = next else {
            panic!("3-D Secure starts with the issuer's page: {next:?}");
        };
        let back = paygent_acs(&t, &html, password).await;
        let next = checkout::paygent_3ds_returned(&t.app, Some(&b), t.shop_id, back.clone())
            .await
            .unwrap();
        let o = order_of(&t, &b).await;
        if ok {
            assert_eq!(next, Next::Completed, "{level} {card} {holder}");
            assert_eq!(o["status"], "new");
            let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
            assert_eq!(p["three_ds"], true, "{p}");
            // The same return again (a reload): the first outcome, no second payment.
            assert_eq!(
                checkout::paygent_3ds_returned(&t.app, Some(&b), t.shop_id, back)
                    .await
                    .unwrap(),
                Next::Completed
            );
        } else {
            assert!(
                matches!(next, Next::Failed { .. }),
                "{level} {card} {holder}: {next:?}"
            );
            assert_eq!(o["status"], "pending_payment");
            let (_, h) = t.get(&format!("/api/v1/orders/{n}/history")).await;
            assert!(h.to_string().contains("3Dセキュア"), "{h}");
            checkout::back(&t.app, &b).await.unwrap();
        }
    }
    // A forged result changes nothing.
    let b = ready(&t, "paygent_card", None).await;
    confirm(&t, &b).await;
    let forged = vec![
        ("result".to_owned(), "0".to_owned()),
        ("3ds_auth_id".to_owned(), "x".to_owned()),
        ("hc".to_owned(), "00".to_owned()),
    ];
    assert!(
        checkout::paygent_3ds_returned(&t.app, Some(&b), t.shop_id, forged)
            .await
            .is_err()
    );
}

async fn gmo_3ds_challenge(t: TestApp) {
    product(&t, 10).await;
    set_method(
        &t,
        "gmo_card",
        json!({"three_ds": true, "merchant_name_en": "JUCHU TEST"}),
    )
    .await;
    let b = ready(&t, "gmo_card", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let n = order_of(&t, &b).await["number"].as_i64().unwrap();
    let card = gmo_card(&t, &b, "4111111111113000").await;
    let Next::Redirect(url) = checkout::pay_card(&t.app, &b, card, &t.base).await.unwrap() else {
        panic!("GMO sends the buyer to the issuer");
    };
    // While the buyer is away the recovery job leaves the authorization alone.
    t.set_now("2026-12-01T10:00:00+09:00");
    juchu_app::payments::recover(&t.app, std::time::Duration::ZERO)
        .await
        .unwrap();
    // The issuer's page (a challenge that passes), then the POST back to RetUrl.
    let order_id = gmo_challenge(&t, &url).await;
    // Twice, as a reloading browser would: one authorization.
    for _ in 0..2 {
        assert_eq!(
            checkout::gmo_3ds_returned(&t.app, Some(&b), t.shop_id, &order_id)
                .await
                .unwrap(),
            Next::Completed
        );
    }
    let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(p["three_ds"], true, "{p}");
    assert_eq!(p["state"], "authorized");
    // Without the cookie (a gateway on another site), the return finds its checkout too.
    let b2 = ready(&t, "gmo_card", None).await;
    confirm(&t, &b2).await;
    let card = gmo_card(&t, &b2, "4111111111114000").await;
    let Next::Redirect(url) = checkout::pay_card(&t.app, &b2, card, &t.base)
        .await
        .unwrap()
    else {
        panic!("redirect");
    };
    let order_id = gmo_challenge(&t, &url).await;
    let next = checkout::gmo_3ds_returned(&t.app, None, t.shop_id, &order_id)
        .await
        .unwrap();
    assert!(
        matches!(next, Next::Failed { .. }),
        "a failed challenge: {next:?}"
    );
    assert_eq!(order_of(&t, &b2).await["status"], "pending_payment");
}

/// Through GMO's 3-D Secure challenge page as the buyer's browser (認証する): the OrderID
/// the page posts back to RetUrl.
async fn gmo_challenge(t: &TestApp, url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(url).send().await.unwrap().text().await.unwrap();
    let (action, mut fields) = form_of(&page);
    fields.push(("answer".into(), "ok".into()));
    let action = if action.starts_with("http") {
        action
    } else {
        format!("{}{}", t.base, action)
    };
    let text = client
        .post(&action)
        .form(&fields)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, ret) = form_of(&text);
    ret.into_iter()
        .find(|(k, _)| k == "OrderID")
        .map(|(_, v)| v)
        .expect("OrderID")
}

async fn paidy_checkout_is_checked_before_it_is_taken(t: TestApp) {
    product(&t, 10).await;
    let b = ready(&t, "paidy", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let v = checkout::view(&t.app, &b).await.unwrap();
    let n = v.order_number.unwrap();
    let payload = v.paidy.expect("paidy form").payload;
    assert_eq!(payload["amount"], 3200);
    let paidy = |payload: Value, decision: &str| {
        let (client, base) = (t.client.clone(), t.base.clone());
        let decision = decision.to_owned();
        async move {
            let r: Value = client
                .post(format!("{base}/paidy/checkout/authorize"))
                .json(&json!({"api_key": "pk_test_sandbox", "payload": payload, "decision": decision}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r
        }
    };
    // A payment for another amount (a tampered page) is refused and closed at Paidy.
    let mut cheap = payload.clone();
    cheap["amount"] = json!(100);
    let p = paidy(cheap, "approve").await;
    let id = p["id"].as_str().unwrap().to_owned();
    let next = checkout::paidy_approved(&t.app, &b, &id).await.unwrap();
    assert!(matches!(next, Next::Failed { .. }), "{next:?}");
    let l = t.ledger().await;
    let held = l["paidy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(held["status"], "closed", "{held}");
    // A rejection leaves the order waiting; the buyer may choose another method.
    let r = paidy(payload.clone(), "reject").await;
    assert_eq!(r["status"], "rejected", "{r}");
    // The real one, sent twice: one payment taken.
    let p = paidy(payload, "approve").await;
    let id = p["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(
            checkout::paidy_approved(&t.app, &b, &id).await.unwrap(),
            Next::Completed
        );
    }
    let (_, pay) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(pay["payment_id"], id, "{pay}");
    assert_eq!(order_of(&t, &b).await["status"], "new");
}

async fn konbini_checkout_gives_the_number_in_the_thanks_mail(t: TestApp) {
    product(&t, 10).await;
    for (method, store) in [("gmo_konbini", "00001"), ("paygent_konbini", "00C016")] {
        let b = ready(&t, method, Some(store)).await;
        assert_eq!(confirm(&t, &b).await, Next::Completed, "{method}");
        let o = order_of(&t, &b).await;
        assert_eq!(o["status"], "awaiting_payment", "{o}");
        let n = o["number"].as_i64().unwrap();
        let c = checkout::completion(&t.app, &b).await.unwrap();
        assert!(!c.slip.is_empty(), "{method}: {c:?}");
        assert!(c.due.is_some());
        let m = mails(&t, n).await;
        let thanks: Vec<&Value> = m.iter().filter(|m| m["kind"] == "thanks").collect();
        assert_eq!(thanks.len(), 1, "{m:?}");
        let body = thanks[0]["body"].as_str().unwrap();
        assert!(body.contains(&c.slip[0].1), "{body}");
        assert!(body.contains("お支払い期限"), "{body}");
        assert_eq!(m.len(), 1, "the thanks mail carries the number: {m:?}");
    }
}

async fn put(t: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    send(t.req(reqwest::Method::PUT, path).json(&body)).await
}

async fn stored_credentials_drive_the_connectors(t: TestApp) {
    product(&t, 10).await;
    // A wrong GMO shop password: GMO refuses, the buyer is told, the order waits.
    let (st, v) = put(
        &t,
        "/api/v1/shop/gateway-credentials/gmo",
        json!({"shop_id": "tshop00000001", "shop_pass": "wrong-pass", "site_id": "tsite00000001", "site_pass": "sandbox1"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let b = ready(&t, "gmo_card", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let card = gmo_card(&t, &b, "4111111111111111").await;
    let next = checkout::pay_card(&t.app, &b, card, &t.base).await.unwrap();
    assert!(matches!(next, Next::Failed { .. }), "{next:?}");
    assert_eq!(order_of(&t, &b).await["status"], "pending_payment");
    // The right one (only the password sent: the rest is kept): the next card pays.
    let (st, v) = put(
        &t,
        "/api/v1/shop/gateway-credentials/gmo",
        json!({"shop_pass": "sandbox1"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let card = gmo_card(&t, &b, "4111111111111111").await;
    assert_eq!(
        checkout::pay_card(&t.app, &b, card, &t.base).await.unwrap(),
        Next::Completed
    );
    // Paidy credentials without the secret key are refused; the connector stays as it was.
    let (st, v) = put(
        &t,
        "/api/v1/shop/gateway-credentials/paidy",
        json!({"public_key": "pk_live_x"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let d = juchu_app::methods::deliveries(&t.app, t.shop_id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "宅配便")
        .unwrap();
    let offered = juchu_app::methods::offered(&t.app, t.shop_id, &d, 2400)
        .await
        .unwrap();
    assert!(
        offered
            .iter()
            .any(|m| m.method == juchu_domain::payment_method::PaymentMethod::Paidy)
    );
    assert!(
        offered
            .iter()
            .any(|m| m.method == juchu_domain::payment_method::PaymentMethod::GmoCard)
    );
}

async fn paidy_authorize(t: &TestApp, payload: Value) -> String {
    let r: Value = t
        .client
        .post(format!("{}/paidy/checkout/authorize", t.base))
        .json(&json!({"api_key": "pk_test_sandbox", "payload": payload, "decision": "approve"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["id"].as_str().expect("pay_").to_owned()
}

async fn paidy_webhooks_take_or_close_what_the_browser_never_brought(t: TestApp) {
    product(&t, 10).await;
    // The buyer approves in Paidy Checkout and closes the browser: the webhook completes
    // the order.
    let b = ready(&t, "paidy", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let v = checkout::view(&t.app, &b).await.unwrap();
    let n = v.order_number.unwrap();
    let id = paidy_authorize(&t, v.paidy.unwrap().payload).await;
    let mut status = Value::Null;
    for _ in 0..50 {
        status = order_of(&t, &b).await["status"].clone();
        if status == "new" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "new");
    let (_, pay) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(pay["payment_id"], id, "{pay}");
    assert_eq!(
        mails(&t, n)
            .await
            .iter()
            .filter(|m| m["kind"] == "thanks")
            .count(),
        1
    );
    // The browser comes back late: the same payment, taken once.
    assert_eq!(
        checkout::paidy_approved(&t.app, &b, &id).await.unwrap(),
        Next::Completed
    );
    // A buyer who approves after the order was removed: Paidy's payment is closed.
    t.set_now("2026-11-20T10:00:00+09:00");
    let b = ready(&t, "paidy", None).await;
    assert_eq!(confirm(&t, &b).await, Next::PaymentPage);
    let v = checkout::view(&t.app, &b).await.unwrap();
    let payload = v.paidy.unwrap().payload;
    t.set_now("2026-11-20T11:01:00+09:00");
    let s = checkout::sweep(&t.app, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(s[0].removal, Removal::Removed);
    let late = paidy_authorize(&t, payload).await;
    let mut held = Value::Null;
    for _ in 0..50 {
        let l = t.ledger().await;
        held = l["paidy"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == late)
            .cloned()
            .unwrap_or_default();
        if held["status"] == "closed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(held["status"], "closed", "{held}");
}
