//! 支払方法設定, the gateways' credentials and 配送方法 (SPEC §10) through the API, on SQLite
//! and (with JUCHU_TEST_DATABASE_URL) PostgreSQL.

use crate::both_backends;
use crate::support;

use juchu_app::credentials::GatewayCredentials;
use juchu_app::methods;
use juchu_domain::payment_method::{Gateway, PaymentMethod};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestApp, send};

async fn put(t: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    send(t.req(Method::PUT, path).json(&body)).await
}

fn fields(v: &Value) -> Vec<String> {
    v["error"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn codes(ms: &[methods::MethodSettings]) -> Vec<&'static str> {
    ms.iter().map(|m| m.method.code()).collect()
}

async fn settings_round_trip(t: TestApp) {
    let (st, v) = t.get("/api/v1/shop/payment-methods").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let all = v.as_array().expect("list");
    assert_eq!(all.len(), PaymentMethod::ALL.len());
    assert_eq!(all[0]["method"], "paygent_card");
    assert_eq!(
        all[0]["display_name"],
        "クレジットカード決済（ペイジェント）"
    );
    assert_eq!(all[0]["enabled"], true);
    assert_eq!(all[0]["capture"], "auth_only");
    assert_eq!(all[0]["installments"], json!(["1"]));
    assert_eq!(all[0]["attempt_control"], "high");
    assert_eq!(all[0]["due_days"], 7);
    assert_eq!(all[0]["updated_at"], Value::Null);

    let body = json!({
        "enabled": true, "display_name": "クレジットカード決済", "capture": "auth_and_capture",
        "installments": ["revolving", "1", "3", "bonus", "24"],
        "installments_note": "ご利用のカードによっては選択できない回数があります。",
        "three_ds": true, "merchant_name_en": "JUCHU DEMO SHOP", "attempt_control": "medium",
        "min_subtotal": 1000, "max_subtotal": 500000,
        "payment_note": "VISA・Mastercard・JCB・AMEX・Diners がご利用いただけます。",
        "confirm_note": "ご注文確定後にオーソリを行います。", "mail_note": "カード明細には JUCHU と表示されます。",
        "logo_url": "https://shop.example.jp/img/cards.png"
    });
    let (st, v) = put(&t, "/api/v1/shop/payment-methods/paygent_card", body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["capture"], "auth_and_capture");
    assert_eq!(
        v["installments"],
        json!(["1", "3", "24", "bonus", "revolving"])
    );
    assert_eq!(v["attempt_control"], "medium");
    assert_eq!(v["min_subtotal"], 1000);
    assert!(v["updated_at"].is_string(), "{v}");
    assert!(!v["updated_by"].as_str().unwrap_or_default().is_empty());

    let (st, got) = t.get("/api/v1/shop/payment-methods/paygent_card").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got, v);
    // What GET returns can be sent back as it is.
    let (st, again) = put(&t, "/api/v1/shop/payment-methods/paygent_card", got.clone()).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["display_name"], "クレジットカード決済");
    // Fields left out keep their values; null removes a bound.
    let (st, v) = put(
        &t,
        "/api/v1/shop/payment-methods/paygent_card",
        json!({"max_subtotal": null, "enabled": false}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["max_subtotal"], Value::Null);
    assert_eq!(v["min_subtotal"], 1000);
    assert_eq!(v["three_ds"], true);
    assert_eq!(v["enabled"], false);
    // The app's view is the same.
    let s = methods::method_settings(&t.app, t.shop_id, PaymentMethod::PaygentCard)
        .await
        .expect("settings");
    assert!(!s.enabled && s.three_ds && s.merchant_name_en == "JUCHU DEMO SHOP");

    // A konbini method: its due date, and a GET sent back.
    let (st, k) = t.get("/api/v1/shop/payment-methods/gmo_konbini").await;
    assert_eq!(st, StatusCode::OK);
    let mut k = k;
    k["due_days"] = json!(3);
    let (st, v) = put(&t, "/api/v1/shop/payment-methods/gmo_konbini", k).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["due_days"], 3);

    let (st, v) = t.get("/api/v1/shop/payment-methods/no_such").await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let (st, _) = put(&t, "/api/v1/shop/payment-methods/no_such", json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

async fn every_bad_field_is_reported(t: TestApp) {
    let (st, v) = put(
        &t,
        "/api/v1/shop/payment-methods/gmo_card",
        json!({
            "display_name": "", "capture": "sometimes", "installments": ["1", "2", "99"],
            "three_ds": true, "merchant_name_en": "ジュチュウ", "attempt_control": "none",
            "min_subtotal": -1, "max_subtotal": 1_000_000_000_000i64, "due_days": 61,
            "installments_note": "x".repeat(1001), "payment_note": "x".repeat(1001),
            "confirm_note": "x".repeat(1001), "mail_note": "x".repeat(1001),
            "logo_url": "javascript:alert(1)"
        }),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_input");
    let f = fields(&v);
    for x in [
        "display_name",
        "capture",
        "installments",
        "merchant_name_en",
        "attempt_control",
        "min_subtotal",
        "max_subtotal",
        "due_days",
        "installments_note",
        "payment_note",
        "confirm_note",
        "mail_note",
        "logo_url",
    ] {
        assert!(f.iter().any(|y| y == x), "{x} missing in {f:?}");
    }
    // Nothing was stored.
    let (_, g) = t.get("/api/v1/shop/payment-methods/gmo_card").await;
    assert_eq!(g["updated_at"], Value::Null);
    assert_eq!(g["display_name"], "クレジットカード決済（GMO）");

    // min above max, and 3DS without the merchant name.
    let (st, v) = put(
        &t,
        "/api/v1/shop/payment-methods/gmo_card",
        json!({"min_subtotal": 5000, "max_subtotal": 4000, "three_ds": true}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), vec!["merchant_name_en", "max_subtotal"]);

    // Card settings on other methods are refused, saying why.
    let (st, v) = put(
        &t,
        "/api/v1/shop/payment-methods/paygent_konbini",
        json!({"capture": "auth_and_capture", "installments": ["1", "3"], "three_ds": true}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), vec!["capture", "installments", "three_ds"]);
    let msg = v["error"]["fields"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains("コンビニ決済（ペイジェント）では売上確定方式を設定できません"),
        "{msg}"
    );
    // Paidy has a capture mode but no installments.
    let (st, v) = put(
        &t,
        "/api/v1/shop/payment-methods/paidy",
        json!({"capture": "auth_and_capture"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = put(
        &t,
        "/api/v1/shop/payment-methods/paidy",
        json!({"installments": ["1", "bonus"]}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // A mistyped body names the problem.
    let (st, _) = put(
        &t,
        "/api/v1/shop/payment-methods/paidy",
        json!({"enabled": "yes"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn operators_may_read_but_not_change(t: TestApp) {
    let op = |m: Method, p: &str| {
        t.client
            .request(m, format!("{}{p}", t.base))
            .bearer_auth(&t.operator_token)
    };
    let (st, _) = send(op(Method::GET, "/api/v1/shop/payment-methods")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = send(op(Method::GET, "/api/v1/shop/delivery-methods")).await;
    assert_eq!(st, StatusCode::OK);
    for (m, p, body) in [
        (
            Method::PUT,
            "/api/v1/shop/payment-methods/paygent_card",
            json!({"enabled": false}),
        ),
        (
            Method::PUT,
            "/api/v1/shop/gateway-credentials/gmo",
            json!({"shop_id": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/shop/delivery-methods",
            json!({"name": "メール便", "fee": 180, "payment_methods": ["bank_transfer"]}),
        ),
        (
            Method::PUT,
            "/api/v1/shop/delivery-methods/1",
            json!({"name": "x", "fee": 1, "payment_methods": ["bank_transfer"]}),
        ),
        (Method::DELETE, "/api/v1/shop/delivery-methods/1", json!({})),
    ] {
        let (st, v) = send(op(m.clone(), p).json(&body)).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{m} {p}: {v}");
        assert_eq!(v["error"]["code"], "forbidden");
    }
    // The credentials, even masked, are for admins.
    let (st, _) = send(op(Method::GET, "/api/v1/shop/gateway-credentials")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Nothing changed.
    let s = methods::method_settings(&t.app, t.shop_id, PaymentMethod::PaygentCard)
        .await
        .expect("settings");
    assert!(s.enabled && s.updated_at.is_none());
    assert_eq!(
        methods::deliveries(&t.app, t.shop_id)
            .await
            .expect("deliveries")
            .len(),
        3
    );
}

const PAYGENT: [(&str, &str); 7] = [
    ("merchant_id", "38921"),
    ("connect_id", "conn-38921-live"),
    ("connect_password", "Pw-s3cr3t-5678"),
    ("token_key", "tok-key-abcdef-0001"),
    ("token_hash_key", "tok-hash-zyxwv-0002"),
    ("three_ds_hash_key", "tds-hash-qwerty-0003"),
    ("notice_hash_key", "notice-hash-asdfg-0004"),
];

async fn credentials_are_sealed_masked_and_kept(t: TestApp) {
    let (st, v) = t.get("/api/v1/shop/gateway-credentials").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().map(Vec::len), Some(3));
    assert_eq!(v[0]["gateway"], "paygent");
    assert_eq!(v[0]["configured"], false);

    let body: serde_json::Map<String, Value> = PAYGENT
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let (st, v) = put(
        &t,
        "/api/v1/shop/gateway-credentials/paygent",
        Value::Object(body),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["configured"], true);

    // The database holds ciphertext: no secret in the clear, in either column.
    let row = juchu_store::methods::credentials(
        &mut t.app.store.read().await.expect("conn"),
        t.shop_id,
        Gateway::Paygent,
    )
    .await
    .expect("read")
    .expect("row");
    for (_, secret) in PAYGENT.iter().skip(1) {
        assert!(!row.sealed.contains(secret), "sealed holds {secret}");
        assert!(!row.masked.contains(secret), "masked holds {secret}");
    }
    assert!(!row.sealed.contains("connect_password"));

    // GET shows ids in full and the last 4 characters of secrets.
    let (_, v) = t.get("/api/v1/shop/gateway-credentials").await;
    let shown = |name: &str| {
        v[0]["fields"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["name"] == name))
            .map(|f| f["shown"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(shown("merchant_id"), "38921");
    assert_eq!(shown("connect_password"), "••••••5678");
    assert_eq!(shown("notice_hash_key"), "••••••0004");
    let text = v.to_string();
    for (_, secret) in PAYGENT.iter().skip(1) {
        assert!(!text.contains(secret), "GET shows {secret}");
    }

    // An empty field keeps what is stored; a filled one replaces it.
    let (st, v) = put(
        &t,
        "/api/v1/shop/gateway-credentials/paygent",
        json!({"merchant_id": "", "connect_password": "", "token_key": "tok-key-new-9999"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let Some(GatewayCredentials::Paygent(c)) =
        juchu_app::credentials::credentials(&t.app, t.shop_id, Gateway::Paygent)
            .await
            .expect("credentials")
    else {
        panic!("paygent credentials");
    };
    assert_eq!(c.merchant_id.expose(), "38921");
    assert_eq!(c.connect_password.expose(), "Pw-s3cr3t-5678");
    assert_eq!(c.token_key.expose(), "tok-key-new-9999");
    assert_eq!(c.notice_hash_key.expose(), "notice-hash-asdfg-0004");
    assert!(
        !format!("{c:?}").contains("s3cr3t"),
        "Debug prints a secret"
    );

    // A first save needs every required field; unknown and malformed fields are named.
    let (st, v) = put(
        &t,
        "/api/v1/shop/gateway-credentials/gmo",
        json!({"shop_id": "tshop00012345", "site_pass": "has space", "pin": "1"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mut f = fields(&v);
    f.sort();
    assert_eq!(f, vec!["pin", "shop_pass", "site_id", "site_pass"]);
    let (st, v) = put(
        &t,
        "/api/v1/shop/gateway-credentials/gmo",
        json!({"shop_id": "tshop00012345"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), vec!["shop_pass", "site_id", "site_pass"]);
    assert_eq!(
        juchu_app::credentials::credentials(&t.app, t.shop_id, Gateway::Gmo)
            .await
            .expect("gmo"),
        None
    );
    let (st, _) = put(&t, "/api/v1/shop/gateway-credentials/stripe", json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Another key does not open them: a clear error naming the gateway, never a panic.
    let other = t
        .app
        .clone()
        .with_secret_key(juchu_app::SecretKey::random());
    let e = juchu_app::credentials::credentials(&other, t.shop_id, Gateway::Paygent)
        .await
        .expect_err("wrong key");
    assert!(e.to_string().contains("ペイジェント"), "{e}");
    let e = juchu_app::credentials::verify_key(&other)
        .await
        .expect_err("wrong key");
    assert!(e.to_string().contains("ペイジェント"), "{e}");
    juchu_app::credentials::verify_key(&t.app)
        .await
        .expect("right key");
}

async fn offered_follows_delivery_amount_and_settings(t: TestApp) {
    let ds = methods::deliveries(&t.app, t.shop_id)
        .await
        .expect("deliveries");
    let names: Vec<_> = ds.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["宅配便", "代金引換（宅配便）", "大型家具便（送料別途見積）"]
    );
    // Seeding again changes nothing.
    methods::seed_defaults(&t.app, t.shop_id)
        .await
        .expect("seed");
    assert_eq!(
        methods::deliveries(&t.app, t.shop_id)
            .await
            .expect("deliveries")
            .len(),
        3
    );
    let (takkyubin, cod, furniture) = (&ds[0], &ds[1], &ds[2]);
    let offered = |d: &methods::DeliveryMethod, subtotal: i64| {
        let d = d.clone();
        let app = t.app.clone();
        let shop = t.shop_id;
        async move {
            methods::offered(&app, shop, &d, subtotal)
                .await
                .expect("offered")
        }
    };
    let all_but_cod: Vec<_> = PaymentMethod::ALL
        .iter()
        .filter(|m| **m != PaymentMethod::CashOnDelivery)
        .map(|m| m.code())
        .collect();
    assert_eq!(codes(&offered(takkyubin, 5000).await), all_but_cod);
    assert_eq!(codes(&offered(cod, 5000).await), vec!["cash_on_delivery"]);
    // 送料別途見積: the total is not fixed, so nothing through a gateway.
    assert_eq!(
        codes(&offered(furniture, 5000).await),
        vec!["bank_transfer", "postal_transfer", "cash_on_delivery"]
    );

    // 利用条件 and 有効.
    let (st, v) = put(
        &t,
        "/api/v1/shop/payment-methods/paygent_card",
        json!({"min_subtotal": 1000, "max_subtotal": 3000}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _) = put(
        &t,
        "/api/v1/shop/payment-methods/gmo_konbini",
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let has = |v: &[methods::MethodSettings], c: &str| v.iter().any(|m| m.method.code() == c);
    let below = offered(takkyubin, 999).await;
    assert!(!has(&below, "paygent_card") && has(&below, "gmo_card"));
    assert!(has(&offered(takkyubin, 1000).await, "paygent_card"));
    assert!(has(&offered(takkyubin, 3000).await, "paygent_card"));
    assert!(!has(&offered(takkyubin, 3001).await, "paygent_card"));
    assert!(!has(&offered(takkyubin, 2000).await, "gmo_konbini"));
    // What is offered carries the settings the checkout shows.
    let card = offered(takkyubin, 2000).await.remove(0);
    assert_eq!(card.method, PaymentMethod::PaygentCard);
    assert_eq!(card.min_subtotal, Some(1000));

    // A delivery method that lists only some methods offers only those.
    let (st, v) = t
        .post(
            "/api/v1/shop/delivery-methods",
            json!({"name": "メール便", "fee": 180, "payment_methods": ["gmo_card", "bank_transfer", "gmo_konbini"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let mail = methods::delivery(&t.app, t.shop_id, v["id"].as_i64().expect("id"))
        .await
        .expect("delivery");
    assert_eq!(
        codes(&offered(&mail, 2000).await),
        vec!["gmo_card", "bank_transfer"]
    );

    // Without a connector for a gateway its methods are not offered.
    let bare = t.app.clone().with_gateways(Default::default());
    let v = methods::offered(&bare, t.shop_id, takkyubin, 2000)
        .await
        .expect("offered");
    assert_eq!(codes(&v), vec!["bank_transfer", "postal_transfer"]);
}

async fn delivery_methods_crud(t: TestApp) {
    let (st, v) = t
        .post(
            "/api/v1/shop/delivery-methods",
            json!({"name": " メール便 ", "fee": 180, "payment_methods": ["paygent_card", "bank_transfer", "paygent_card"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "メール便");
    assert_eq!(v["fee"], 180);
    assert_eq!(
        v["payment_methods"],
        json!(["paygent_card", "bank_transfer"])
    );
    assert_eq!(v["position"], 4);
    let id = v["id"].as_i64().expect("id");

    let (st, list) = t.get("/api/v1/shop/delivery-methods").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(4));
    assert_eq!(list[3]["name"], "メール便");
    assert_eq!(list[2]["fee"], Value::Null);

    // Replace: 送料別途見積, first in the list; GET's body can be sent back.
    let (st, v) = put(
        &t,
        &format!("/api/v1/shop/delivery-methods/{id}"),
        json!({"id": id, "name": "チャーター便", "fee": null, "payment_methods": ["bank_transfer"], "position": 0}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["fee"], Value::Null);
    let (_, list) = t.get("/api/v1/shop/delivery-methods").await;
    assert_eq!(list[0]["name"], "チャーター便");
    // Position left out: unchanged.
    let (st, v) = put(
        &t,
        &format!("/api/v1/shop/delivery-methods/{id}"),
        json!({"name": "チャーター便", "fee": 5000, "payment_methods": ["bank_transfer"]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["position"], 0);

    // Bad input: every field named; nothing changed.
    let (st, v) = t
        .post(
            "/api/v1/shop/delivery-methods",
            json!({"name": "", "fee": -5, "payment_methods": ["cash", "bank_transfer"], "position": 10000}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        fields(&v),
        vec!["name", "fee", "payment_methods[0]", "position"]
    );
    let (st, v) = t
        .post(
            "/api/v1/shop/delivery-methods",
            json!({"name": "手渡し", "fee": 0, "payment_methods": []}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), vec!["payment_methods"]);
    let (st, _) = put(
        &t,
        "/api/v1/shop/delivery-methods/999999",
        json!({"name": "x", "fee": 1, "payment_methods": ["bank_transfer"]}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Another shop's delivery methods are out of reach.
    let (other, _) = juchu_app::shops::ensure(&t.app, "other", "他店")
        .await
        .expect("shop");
    let theirs = methods::deliveries(&t.app, other.id)
        .await
        .expect("deliveries")[0]
        .id;
    let (st, _) = send(t.req(
        Method::DELETE,
        &format!("/api/v1/shop/delivery-methods/{theirs}"),
    ))
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let (st, _) = send(t.req(
        Method::DELETE,
        &format!("/api/v1/shop/delivery-methods/{id}"),
    ))
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = send(t.req(
        Method::DELETE,
        &format!("/api/v1/shop/delivery-methods/{id}"),
    ))
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, list) = t.get("/api/v1/shop/delivery-methods").await;
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    assert_eq!(
        methods::deliveries(&t.app, other.id)
            .await
            .expect("deliveries")
            .len(),
        3
    );
}

async fn openapi_lists_the_settings(t: TestApp) {
    let (st, v) = send(t.client.get(format!("{}/api/openapi.json", t.base))).await;
    assert_eq!(st, StatusCode::OK);
    for p in [
        "/api/v1/shop/payment-methods",
        "/api/v1/shop/payment-methods/{method}",
        "/api/v1/shop/gateway-credentials",
        "/api/v1/shop/gateway-credentials/{gateway}",
        "/api/v1/shop/delivery-methods",
        "/api/v1/shop/delivery-methods/{id}",
    ] {
        assert!(v["paths"][p].is_object(), "{p} missing");
    }
}

both_backends!(
    settings_round_trip,
    every_bad_field_is_reported,
    operators_may_read_but_not_change,
    credentials_are_sealed_masked_and_kept,
    offered_follows_delivery_amount_and_settings,
    delivery_methods_crud,
    openapi_lists_the_settings,
);
