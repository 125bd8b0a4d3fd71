//! The Paygent connector against the sandbox: card telegrams 020–023, 028/029 and 094, with
//! Paygent's statuses and codes, and the wire format a third-party client sees.

mod support;

use juchu_gateway::paygent::{Card, PaygentClient, PaygentConfig, PaymentClass};
use juchu_gateway::{GatewayError, Secret};

async fn env() -> (support::Sandbox, PaygentClient) {
    let sb = support::Sandbox::start(juchu_sandbox::Config::default()).await;
    let c = PaygentClient::new(PaygentConfig::sandbox(&format!("{}/paygent", sb.base))).unwrap();
    (sb, c)
}

fn card(n: &str) -> Card {
    Card::Raw {
        number: Secret::new(n),
        valid_term_mmyy: "1230".into(),
    }
}

fn refused(r: Result<impl std::fmt::Debug, GatewayError>) -> (String, String) {
    match r {
        Err(GatewayError::Refused { code, detail, .. }) => (code, detail),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn status(c: &PaygentClient, id: &str) -> String {
    c.query(id).await.unwrap().get("payment_status").to_owned()
}

#[tokio::test]
async fn authorize_capture_cancel() {
    let (_sb, c) = env().await;
    let a = c
        .authorize(
            "order-1",
            3300,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
        )
        .await
        .unwrap();
    let id = a.get("payment_id").to_owned();
    assert_eq!(a.get("masked_card_number"), "************1111");
    assert_eq!(status(&c, &id).await, "20");
    c.capture(&id).await.unwrap();
    assert_eq!(status(&c, &id).await, "40");
    // Wrong order of things: 021 on a capture, 022 twice.
    assert_eq!(refused(c.cancel_auth(&id).await).0, "2004");
    assert_eq!(refused(c.capture(&id).await).0, "2004");
    c.cancel_capture(&id).await.unwrap();
    assert_eq!(status(&c, &id).await, "60");
    // Auth + capture at once, then an auth cancel.
    let b = c
        .authorize(
            "order-2",
            1000,
            PaymentClass::Installments(3),
            &card("4111111111111111"),
            true,
        )
        .await
        .unwrap();
    assert_eq!(status(&c, b.get("payment_id")).await, "40");
    let d = c
        .authorize(
            "order-3",
            1000,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
        )
        .await
        .unwrap();
    c.cancel_auth(d.get("payment_id")).await.unwrap();
    assert_eq!(status(&c, d.get("payment_id")).await, "32");
    assert_eq!(refused(c.query("999").await).0, "13001");
}

#[tokio::test]
async fn declines_and_input_errors() {
    let (sb, c) = env().await;
    let (code, detail) = refused(
        c.authorize(
            "dec-1",
            500,
            PaymentClass::Lump,
            &card("4111111111118212"),
            false,
        )
        .await,
    );
    assert_eq!((code.as_str(), detail.as_str()), ("2001", "1G12"));
    // The declined attempt is kept at Paygent as オーソリNG.
    let l = sb.ledger().await;
    assert_eq!(l["paygent"][0]["status"], "11");
    let expired = Card::Raw {
        number: Secret::new("4111111111111111"),
        valid_term_mmyy: "0724".into(),
    };
    assert_eq!(
        refused(
            c.authorize("dec-2", 500, PaymentClass::Lump, &expired, false)
                .await
        ),
        ("2003".into(), "1G83".into())
    );
    assert_eq!(
        refused(
            c.authorize(
                "dec-3",
                0,
                PaymentClass::Lump,
                &card("4111111111111111"),
                false
            )
            .await
        )
        .0,
        "P014"
    );
    assert_eq!(
        refused(
            c.authorize(
                "dec-4",
                500,
                PaymentClass::Installments(4),
                &card("4111111111111111"),
                false
            )
            .await
        )
        .0,
        "P010"
    );
    let mut cfg = PaygentConfig::sandbox(&format!("{}/paygent", sb.base));
    cfg.connect_password = Secret::new("wrong");
    let bad = PaygentClient::new(cfg).unwrap();
    match bad.query("1").await {
        Err(GatewayError::Refused { code, message, .. }) => {
            assert_eq!(code, "P002");
            assert!(message.contains("接続情報"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn amendments_make_a_new_payment_never_larger() {
    let (_sb, c) = env().await;
    let a = c
        .authorize(
            "amd-1",
            5000,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
        )
        .await
        .unwrap();
    let id = a.get("payment_id").to_owned();
    assert_eq!(refused(c.amend(&id, 5001, false).await).0, "2013");
    let n = c.amend(&id, 4200, false).await.unwrap();
    let new_id = n.get("payment_id").to_owned();
    assert_ne!(new_id, id);
    assert_eq!(n.get("base_payment_id"), id);
    assert_eq!(n.get("reduced_amount"), "4200");
    assert_eq!(status(&c, &id).await, "32");
    assert_eq!(status(&c, &new_id).await, "20");
    c.capture(&new_id).await.unwrap();
    // 補正売上 after capture: the capture is replaced by a captured new payment.
    let m = c.amend(&new_id, 4000, true).await.unwrap();
    assert_eq!(status(&c, &new_id).await, "60");
    let q = c.query(m.get("payment_id")).await.unwrap();
    assert_eq!(
        (q.get("payment_status"), q.get("payment_amount")),
        ("40", "4000")
    );
}

#[tokio::test]
async fn authorization_expires_after_60_days_and_ref_trading_id_reuses_the_card() {
    let (sb, c) = env().await;
    let a = c
        .authorize(
            "exp-1",
            800,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
        )
        .await
        .unwrap();
    let r = c
        .authorize(
            "exp-2",
            900,
            PaymentClass::Lump,
            &Card::RefTradingId("exp-1".into()),
            false,
        )
        .await
        .unwrap();
    assert_eq!(r.get("masked_card_number"), "************1111");
    sb.advance(61 * 86_400).await;
    assert_eq!(status(&c, a.get("payment_id")).await, "33");
    assert_eq!(refused(c.capture(a.get("payment_id")).await).0, "2007");
    assert_eq!(
        refused(
            c.authorize(
                "exp-3",
                1,
                PaymentClass::Lump,
                &Card::RefTradingId("nope".into()),
                false
            )
            .await
        )
        .0,
        "2009"
    );
}

#[tokio::test]
async fn faults_and_raw_wire_format() {
    let (sb, c) = env().await;
    let a = c
        .authorize(
            "f-1",
            700,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
        )
        .await
        .unwrap();
    sb.fault("paygent", "022", "drop_after").await;
    assert!(
        c.capture(a.get("payment_id"))
            .await
            .unwrap_err()
            .is_unknown()
    );
    assert_eq!(
        status(&c, a.get("payment_id")).await,
        "40",
        "the capture happened"
    );
    // A client written from the public spec: Shift_JIS form in, CRLF lines out.
    let body = "merchant_id=000000001&connect_id=sandbox&connect_password=sandbox&telegram_kind=094&telegram_version=1.0&trading_id=&payment_id=none";
    let r = sb
        .http
        .post(format!("{}/paygent/n/ref/paymentref", sb.base))
        .body(body)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("result=1\r\nresponse_code=13001\r\n"),
        "{text:?}"
    );
    // A card telegram at the query URL is refused with P004.
    let body = body.replace("telegram_kind=094", "telegram_kind=022");
    let text = sb
        .http
        .post(format!("{}/paygent/n/ref/paymentref", sb.base))
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("response_code=P004"), "{text:?}");
}

#[tokio::test]
async fn stored_cards() {
    let (_sb, c) = env().await;
    assert!(c.cards("cust_1").await.unwrap().is_empty());
    assert_eq!(
        refused(c.register_card("cust_1", &card("4111111111118212")).await),
        ("2001".into(), "1G12".into())
    );
    let r = c
        .register_card("cust_1", &card("4111111111111111"))
        .await
        .unwrap();
    let card_id = r.get("customer_card_id").to_owned();
    assert_eq!(r.get("num_of_cards"), "1");
    c.register_card("cust_1", &card("5555555555554444"))
        .await
        .unwrap();
    let stored = Card::Stored {
        customer_id: "cust_1".into(),
        customer_card_id: card_id.clone(),
    };
    let a = c
        .authorize("st-1", 1200, PaymentClass::Lump, &stored, false)
        .await
        .unwrap();
    assert_eq!(a.get("masked_card_number"), "************1111");
    let cards = c.cards("cust_1").await.unwrap();
    assert_eq!(cards.len(), 2);
    assert_eq!(
        cards[0].customer_card_id, card_id,
        "the card just used comes first"
    );
    assert_eq!(
        c.delete_card("cust_1", Some(&card_id))
            .await
            .unwrap()
            .get("num_of_cards"),
        "1"
    );
    assert_eq!(
        refused(
            c.authorize("st-2", 1200, PaymentClass::Lump, &stored, false)
                .await
        )
        .0,
        "P025"
    );
    assert_eq!(
        refused(c.delete_card("cust_1", Some(&card_id)).await).0,
        "P022"
    );
    c.delete_card("cust_1", None).await.unwrap();
    assert!(c.cards("cust_1").await.unwrap().is_empty());
}

#[tokio::test]
async fn konbini_and_atm_are_paid_later_or_expire() {
    use juchu_gateway::paygent::Payer;
    let (sb, c) = env().await;
    let payer = Payer {
        family_name: "山田".into(),
        name: "花子".into(),
        tel: "0312345678".into(),
    };
    let k = c
        .request_konbini("cv-1", 2980, "00C002", &payer, 3)
        .await
        .unwrap();
    assert_eq!(k.get("payment_limit_date"), "20240822");
    assert_eq!(k.get("usable_cvs_company_id"), "00C002-00C004-00C014");
    assert_eq!(k.get("receipt_number").len(), 11);
    let id = k.get("payment_id").to_owned();
    assert_eq!(status(&c, &id).await, "10");
    sb.control(&format!("/paygent/{id}/pay"), serde_json::json!({}))
        .await;
    assert_eq!(status(&c, &id).await, "40");
    // 7-Eleven reports first (43), then clears (40).
    let s7 = c
        .request_konbini("cv-2", 1000, "00C001", &payer, 3)
        .await
        .unwrap();
    let id7 = s7.get("payment_id").to_owned();
    sb.control(
        &format!("/paygent/{id7}/pay"),
        serde_json::json!({"preliminary": true}),
    )
    .await;
    assert_eq!(status(&c, &id7).await, "43");
    // Unknown store, missing name, limit out of range.
    assert_eq!(
        refused(c.request_konbini("cv-3", 1000, "00C999", &payer, 3).await).0,
        "P010"
    );
    let nobody = Payer {
        family_name: String::new(),
        ..payer.clone()
    };
    assert_eq!(
        refused(c.request_konbini("cv-4", 1000, "00C002", &nobody, 3).await).0,
        "P006"
    );
    assert_eq!(
        refused(c.request_konbini("cv-5", 1000, "00C002", &payer, 61).await).0,
        "P012"
    );
    // ATM: unpaid past the limit date → 12.
    let a = c
        .request_atm("atm-1", 5000, "ジュチュウ商店", "ｼﾞｭﾁｭｳｼｮｳﾃﾝ", 2)
        .await
        .unwrap();
    assert_eq!(a.get("pay_center_number"), "58191");
    let aid = a.get("payment_id").to_owned();
    sb.set_clock("2024-08-21T23:59:00+09:00").await;
    assert_eq!(status(&c, &aid).await, "10");
    sb.set_clock("2024-08-22T00:00:01+09:00").await;
    assert_eq!(status(&c, &aid).await, "12");
    assert!(c.query(&aid).await.unwrap().get("customer_number").len() >= 10);
}

#[tokio::test]
async fn differences_by_query_and_push() {
    let (sb, c) = env().await;
    // A shop endpoint that answers result=0 and keeps what it was told.
    let shop = support::ShopEndpoint::start(|_| "result=0").await;
    let url = shop.url.clone();
    sb.control(
        "/notifications",
        serde_json::json!({"gateway": "paygent", "url": url}),
    )
    .await;
    let a = c
        .authorize(
            "d-1",
            1500,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
        )
        .await
        .unwrap();
    c.capture(a.get("payment_id")).await.unwrap();
    let payer = juchu_gateway::paygent::Payer {
        family_name: "山田".into(),
        name: "花子".into(),
        tel: "0312345678".into(),
    };
    let k = c
        .request_konbini("d-2", 800, "00C002", &payer, 5)
        .await
        .unwrap();
    sb.control(
        &format!("/paygent/{}/pay", k.get("payment_id")),
        serde_json::json!({}),
    )
    .await;
    // 091 reads them one by one, then says there is nothing left.
    let mut seen = vec![];
    loop {
        let n = c.notice(None).await.unwrap();
        if n.get("success_code") == "1" {
            break;
        }
        seen.push((
            n.get("payment_notice_id").to_owned(),
            n.get("payment_type").to_owned(),
            n.get("payment_status").to_owned(),
        ));
    }
    let want: Vec<(String, String, String)> = [
        ("1", "02", "20"),
        ("2", "02", "40"),
        ("3", "03", "10"),
        ("4", "03", "40"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(seen, want);
    // A gap is re-fetched by id.
    assert_eq!(c.notice(Some(2)).await.unwrap().get("payment_status"), "40");
    // The same notices were pushed, each with a valid hc.
    let pushed: Vec<Vec<(String, String)>> = shop
        .bodies_when(|b| b.len() == 4)
        .await
        .iter()
        .map(|b| juchu_wire::form::decode(b, juchu_wire::form::Charset::ShiftJis))
        .collect();
    assert_eq!(pushed.len(), 4);
    assert!(
        pushed
            .iter()
            .all(|f| juchu_gateway::paygent::notice_hash_ok(f, "sandbox_hash_key"))
    );
    assert!(!juchu_gateway::paygent::notice_hash_ok(
        &pushed[0],
        "other_key"
    ));
}
