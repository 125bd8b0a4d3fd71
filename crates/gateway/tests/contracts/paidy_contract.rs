//! The Paidy connector against the sandbox: token payments, capture, partial and full
//! refunds, close, the +10% update cap, expiry, errors and faults.

use crate::support;
use crate::support::y;

use juchu_gateway::paidy::{Item, NewPayment, Order, PaidyClient, PaidyConfig, Update};
use juchu_gateway::{GatewayError, Secret};

async fn env() -> (support::Sandbox, PaidyClient) {
    env_with(juchu_sandbox::Config::default()).await
}

async fn env_with(cfg: juchu_sandbox::Config) -> (support::Sandbox, PaidyClient) {
    let sb = support::Sandbox::start(cfg).await;
    let c = PaidyClient::new(PaidyConfig::sandbox(&format!("{}/paidy", sb.base))).unwrap();
    (sb, c)
}

fn new_payment(token: &str, amount: i64) -> NewPayment {
    NewPayment {
        token_id: token.into(),
        amount,
        currency: "JPY",
        description: Some("juchu order 1".into()),
        store_name: Some("デモショップ".into()),
        order: Order {
            items: vec![Item {
                id: Some("TS-M".into()),
                title: Some("Tシャツ".into()),
                quantity: 2,
                unit_price: 2990,
            }],
            tax: Some(543),
            shipping: Some(600),
            order_ref: Some("1".into()),
        },
    }
}

fn refused_code(r: Result<impl std::fmt::Debug, GatewayError>) -> String {
    match r {
        Err(GatewayError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn authorize_capture_refund() {
    let (_sb, c) = env().await;
    let p = c.create(&new_payment("tok_buyer1", 6580)).await.unwrap();
    assert!(p.id.starts_with("pay_"));
    assert_eq!((p.status.as_str(), p.amount), ("authorized", 6580));
    assert_eq!(p.order.order_ref.as_deref(), Some("1"));
    let p = c.capture(&p.id).await.unwrap();
    assert_eq!(p.status, "closed");
    assert_eq!(p.captured(), Ok(y(6580)));
    let cap = p.captures[0].id.clone();
    assert!(cap.starts_with("cap_"));
    // Partial refunds, never more than captured.
    let p = c.refund(&p.id, &cap, Some(1000)).await.unwrap();
    assert!(p.refunds[0].id.starts_with("ref_"));
    assert_eq!(
        refused_code(c.refund(&p.id, &cap, Some(6000)).await),
        "request_entity.invalid"
    );
    let p = c.refund(&p.id, &cap, None).await.unwrap();
    assert_eq!(p.refunded(), Ok(y(6580)));
    assert_eq!(
        refused_code(c.refund(&p.id, &cap, Some(1)).await),
        "request_entity.invalid"
    );
    assert_eq!(
        refused_code(c.refund(&p.id, "cap_nope", None).await),
        "request_entity.invalid"
    );
    // A closed payment cannot be captured or closed again.
    assert_eq!(
        refused_code(c.capture(&p.id).await),
        "payment.invalid_state"
    );
    assert_eq!(refused_code(c.close(&p.id).await), "payment.invalid_state");
    assert_eq!(c.retrieve(&p.id).await.unwrap(), p);
}

#[tokio::test]
async fn close_and_rejection() {
    let (_sb, c) = env().await;
    let p = c.create(&new_payment("tok_b", 3000)).await.unwrap();
    let p = c.close(&p.id).await.unwrap();
    assert_eq!((p.status.as_str(), p.captured()), ("closed", Ok(y(0))));
    let r = c.create(&new_payment("tok_reject_me", 3000)).await.unwrap();
    assert_eq!(r.status, "rejected");
    assert_eq!(
        refused_code(c.capture(&r.id).await),
        "payment.invalid_state"
    );
    assert_eq!(
        refused_code(c.retrieve("pay_missing").await),
        "resource.not_found"
    );
}

#[tokio::test]
async fn update_is_capped_at_ten_percent() {
    let (_sb, c) = env().await;
    let p = c.create(&new_payment("tok_u", 10_000)).await.unwrap();
    let upd = |amount| Update {
        amount: Some(amount),
        order_ref: Some("1".into()),
        ..Default::default()
    };
    let p2 = c.update(&p.id, &upd(11_000)).await.unwrap();
    assert_eq!(p2.amount, 11_000);
    assert_eq!(
        refused_code(c.update(&p.id, &upd(11_001)).await),
        "request_entity.invalid"
    );
    // The cap is on the authorized amount, not the last update; decreases are fine.
    let p3 = c.update(&p.id, &upd(8_000)).await.unwrap();
    assert_eq!(p3.amount, 8_000);
    assert_eq!(c.update(&p.id, &upd(11_000)).await.unwrap().amount, 11_000);
    let captured = c.capture(&p.id).await.unwrap();
    assert_eq!(captured.captured(), Ok(y(11_000)));
    assert_eq!(
        refused_code(c.update(&p.id, &upd(9_000)).await),
        "payment.invalid_state"
    );
    // order_ref/description alone may still change (Paidy's public update).
    let d = Update {
        description: Some("memo".into()),
        ..Default::default()
    };
    assert_eq!(
        c.update(&p.id, &d).await.unwrap().description.as_deref(),
        Some("memo")
    );
}

#[tokio::test]
async fn capture_deadline_is_30_days() {
    let (sb, c) = env().await;
    let a = c.create(&new_payment("tok_a", 1000)).await.unwrap();
    sb.advance(29 * 86_400).await;
    let b = c.create(&new_payment("tok_b", 1000)).await.unwrap();
    sb.advance(86_400 + 1).await;
    assert_eq!(
        refused_code(c.capture(&a.id).await),
        "payment.invalid_state"
    );
    c.capture(&b.id).await.unwrap();
}

#[tokio::test]
async fn wrong_key_and_faults() {
    let (sb, c) = env().await;
    let mut cfg = PaidyConfig::sandbox(&format!("{}/paidy", sb.base));
    cfg.secret_key = Secret::new("sk_live_wrong");
    let bad = PaidyClient::new(cfg).unwrap();
    match bad.retrieve("pay_x").await {
        Err(GatewayError::Refused { code, message, .. }) => {
            assert_eq!(code, "authentication.failed");
            assert!(message.contains("秘密鍵"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let p = c.create(&new_payment("tok_f", 2000)).await.unwrap();
    sb.fault("paidy", "captures", "drop_after").await;
    assert!(c.capture(&p.id).await.unwrap_err().is_unknown());
    // The capture happened: the GET that resolves the unknown outcome shows it.
    assert_eq!(c.retrieve(&p.id).await.unwrap().status, "closed");
    let l = sb.ledger().await;
    assert_eq!(l["paidy"][0]["captures"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn webhooks_follow_operations() {
    let (sb, c) = env().await;
    let shop = support::ShopEndpoint::start(|_| "ok").await;
    let url = shop.url.clone();
    sb.control(
        "/notifications",
        serde_json::json!({"gateway": "paidy", "url": url}),
    )
    .await;
    sb.set_clock("2024-08-19T01:00:00Z").await;
    let p = c.create(&new_payment("tok_w", 5000)).await.unwrap();
    sb.advance(3600).await;
    let p = c.capture(&p.id).await.unwrap();
    sb.advance(3600).await;
    c.refund(&p.id, &p.captures[0].id, Some(500)).await.unwrap();
    let events: Vec<serde_json::Value> = shop
        .bodies_when(|b| b.len() == 3)
        .await
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["authorize_success", "capture_success", "refund_success"]
    );
    assert!(
        events
            .iter()
            .all(|e| e["payment_id"] == p.id.as_str() && e["event_type"] == "payment")
    );
    assert_eq!(events[1]["capture_id"], p.captures[0].id.as_str());
    assert_eq!(events[0]["order_ref"], "1");
    // Each stamped when it happened; the refund's carries its reason (none sent: unknown).
    let at: Vec<&str> = events
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        at,
        [
            "2024-08-19T01:00:00.000Z",
            "2024-08-19T02:00:00.000Z",
            "2024-08-19T03:00:00.000Z"
        ]
    );
    assert_eq!(events[2]["reason"], "unknown");
}

/// Paidy's wire as its public SDKs and recorded answers show it: the buyer is the shopper,
/// not the `buyer_data` sent; an amount may come as a string of digits; every answer carries
/// `Paidy-Version` and `Request-Id`; error references are `err_…`; a refund without a reason
/// says `unknown`.
#[tokio::test]
async fn raw_wire_as_paidy_answers() {
    let (sb, _) = env().await;
    let post = async |path: &str, body: serde_json::Value| {
        sb.http
            .post(format!("{}/paidy{path}", sb.base))
            .bearer_auth("sk_test_sandbox")
            .header("Paidy-Version", "2018-04-10")
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let r = post(
        "/payments",
        serde_json::json!({"token_id": "tok_wire", "amount": "1000", "currency": "JPY",
            "buyer_data": {"age": 30, "order_count": 2, "ltv": 5000}, "order": {"items": []}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["paidy-version"], "2018-04-10");
    assert!(
        r.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["amount"], 1000, "{p}");
    let buyer = p["buyer"].as_object().unwrap();
    let mut keys: Vec<&str> = buyer.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["email", "name1", "name2", "phone"], "{p}");
    let id = p["id"].as_str().unwrap();
    let r = post(&format!("/payments/{id}/captures"), serde_json::json!({})).await;
    let p: serde_json::Value = r.json().await.unwrap();
    let cap = p["captures"][0]["id"].as_str().unwrap();
    let r = post(
        &format!("/payments/{id}/refunds"),
        serde_json::json!({"capture_id": cap, "amount": 100}),
    )
    .await;
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["refunds"][0]["reason"], "unknown", "{p}");
    let r = post("/payments/pay_nope/captures", serde_json::json!({})).await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("request-id"));
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(e["reference"].as_str().unwrap().starts_with("err_"), "{e}");
    for bad in [
        serde_json::json!("10.5"),
        serde_json::json!("-1"),
        serde_json::json!(""),
    ] {
        let r = post(
            "/payments",
            serde_json::json!({"token_id": "tok_wire", "amount": bad, "currency": "JPY"}),
        )
        .await;
        assert_eq!(r.status(), 400, "amount {bad}");
    }
}

/// What the checkout script does when the buyer approves or is rejected.
#[tokio::test]
async fn checkout_creates_authorized_or_rejected_payments() {
    let (sb, c) = env().await;
    let js = sb
        .http
        .get(format!("{}/paidy/js/paidy.js", sb.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("Paidy") && js.contains("launch"));
    let payload = serde_json::json!({
        "amount": 6580, "currency": "JPY", "store_name": "デモショップ",
        "buyer": {"name1": "山田 花子", "email": "hanako@example.jp"},
        "order": {"items": [{"id": "TS-M", "quantity": 2, "unit_price": 2990}], "shipping": 600, "order_ref": "7"}
    });
    let auth = |decision: &str, key: &str| {
        sb.http
            .post(format!("{}/paidy/checkout/authorize", sb.base))
            .json(&serde_json::json!({"api_key": key, "payload": payload, "decision": decision}))
            .send()
    };
    let r: serde_json::Value = auth("approve", "pk_test_sandbox")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "authorized");
    let id = r["id"].as_str().unwrap();
    let p = c.retrieve(id).await.unwrap();
    assert_eq!((p.amount, p.order.order_ref.as_deref()), (6580, Some("7")));
    c.capture(id).await.unwrap();
    let r: serde_json::Value = auth("reject", "pk_test_sandbox")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "rejected");
    assert_eq!(auth("approve", "pk_live_x").await.unwrap().status(), 400);
}

#[tokio::test]
async fn captured_on_the_dashboard_shows_in_retrieve() {
    let (sb, c) = env().await;
    let p = c.create(&new_payment("tok_d", 1500)).await.unwrap();
    sb.control(&format!("/paidy/{}/capture", p.id), serde_json::json!({}))
        .await;
    let p = c.retrieve(&p.id).await.unwrap();
    assert_eq!((p.status.as_str(), p.captured()), ("closed", Ok(y(1500))));
}

#[tokio::test]
async fn capture_deadline_is_configurable() {
    let (sb, c) = env_with(juchu_sandbox::Config {
        paidy_expiry_days: 7,
        ..Default::default()
    })
    .await;
    let p = c.create(&new_payment("tok_7", 1000)).await.unwrap();
    assert!(p.expires_at.starts_with("2024-08-26"), "{}", p.expires_at);
    sb.advance(7 * 86_400 + 1).await;
    assert_eq!(
        refused_code(c.capture(&p.id).await),
        "payment.invalid_state"
    );
}
