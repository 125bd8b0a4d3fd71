//! The Paygent connector against the sandbox: card telegrams 020–023, 028/029 and 094, with
//! Paygent's statuses and codes, and the wire format a third-party client sees.

use crate::support;

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

/// A lump-sum 020 with a raw test card that must succeed.
async fn lump(
    c: &PaygentClient,
    trading_id: &str,
    amount: i64,
    number: &str,
    sales: bool,
) -> juchu_gateway::paygent::Answer {
    c.authorize(trading_id, amount, PaymentClass::Lump, &card(number), sales)
        .await
        .unwrap()
}

async fn status(c: &PaygentClient, id: &str) -> String {
    c.query(id).await.unwrap().get("payment_status").to_owned()
}

#[tokio::test]
async fn authorize_capture_cancel() {
    let (_sb, c) = env().await;
    let a = lump(&c, "order-1", 3300, "4111111111111111", false).await;
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
    let d = lump(&c, "order-3", 1000, "4111111111111111", false).await;
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
    let a = lump(&c, "amd-1", 5000, "4111111111111111", false).await;
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
    let a = lump(&c, "exp-1", 800, "4111111111111111", false).await;
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
    let a = lump(&c, "f-1", 700, "4111111111111111", false).await;
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
    let text = sb.post_form("/paygent/n/ref/paymentref", body).await;
    assert!(text.contains("response_code=P004"), "{text:?}");
}

/// Paygent's module reads `out_acs_html` as the lines after the line `out_acs_html=`: the
/// page answered to a 3-D Secure 1.0 020 (result=7) starts there, auto-submit and all.
#[tokio::test]
async fn acs_page_starts_on_the_line_after_its_name() {
    let (sb, _c) = env().await;
    let body = "merchant_id=000000001&connect_id=sandbox&connect_password=sandbox&telegram_kind=020\
        &telegram_version=1.0&trading_id=raw-3ds1&payment_amount=1000&payment_class=10\
        &card_number=4111111111111111&card_valid_term=1230&http_accept=text%2Fhtml\
        &http_user_agent=Mozilla&term_url=http%3A%2F%2F127.0.0.1%2Fback";
    let text = sb.post_form("/paygent/n/card/request", body).await;
    assert!(text.contains("result=7\r\n"), "{text:?}");
    // The module's reading: every line after `out_acs_html=` is the page.
    let lines: Vec<&str> = text.split("\r\n").collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("out_acs_html="))
        .expect("out_acs_html");
    assert_eq!(
        lines[at], "out_acs_html=",
        "the page starts on the next line"
    );
    let page = lines[at + 1..].join("\r\n");
    assert!(page.starts_with("<html"), "{page:?}");
    assert!(
        lines[at + 1].contains("document.forms[0].submit()"),
        "the auto-submit is on the page's first line: {page:?}"
    );
    assert!(page.trim_end().ends_with("</html>"), "{page:?}");
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
    // The slip's URL is absolute and opens the 払込票 with its number.
    let slip = k.get("receipt_print_url");
    assert!(
        slip.starts_with(&format!("{}/paygent/receipt/", sb.base)),
        "{slip}"
    );
    let page = sb.http.get(slip).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(k.get("receipt_number")));
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
    let a = lump(&c, "d-1", 1500, "4111111111111111", false).await;
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

#[tokio::test]
async fn capture_cancel_window_closes_and_trading_id_must_be_unambiguous() {
    let (sb, c) = env().await;
    let a = lump(&c, "dup", 500, "4111111111111111", true).await;
    lump(&c, "dup", 600, "4111111111111111", false).await;
    // Two payments share trading_id "dup": addressing by it alone is ambiguous.
    assert_eq!(refused(c.telegram("021", "", "dup", &[]).await).0, "2005");
    assert_eq!(refused(c.telegram("094", "", "dup", &[]).await).0, "13002");
    sb.advance(59 * 86_400).await;
    assert_eq!(status(&c, a.get("payment_id")).await, "40");
    sb.advance(2 * 86_400).await;
    // Sixty days after capture: 41, and the capture can no longer be cancelled.
    assert_eq!(status(&c, a.get("payment_id")).await, "41");
    assert_eq!(
        refused(c.cancel_capture(a.get("payment_id")).await).0,
        "2007"
    );
}

/// The token script's request, as PaygentToken.js sends it from the buyer's browser.
async fn token(sb: &support::Sandbox, body: serde_json::Value) -> serde_json::Value {
    sb.http
        .post(format!("{}/paygent/n/token/request", sb.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn card_json(number: &str) -> serde_json::Value {
    serde_json::json!({"kind": "card", "merchant_id": "000000001",
        "token_key": "test_sandbox_token_key", "card_number": number, "expire_year": "30",
        "expire_month": "12", "cvc": "123", "name": "TARO YAMADA"})
}

#[tokio::test]
async fn tokens_are_checked_used_once_and_lapse() {
    let (sb, c) = env().await;
    let js = sb
        .http
        .get(format!("{}/paygent/js/PaygentToken.js", sb.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("createToken") && js.contains("createCvcToken"));
    let t = token(&sb, card_json("4111111111111111")).await;
    assert_eq!(t["result"], "0000");
    let o = &t["tokenizedCardObject"];
    let tok = o["token"].as_str().unwrap().to_owned();
    assert!(tok.len() <= 30);
    assert_eq!(o["masked_card_number"], "************1111");
    assert!(juchu_gateway::paygent::token_hash_ok(
        &tok,
        o["masked_card_number"].as_str().unwrap(),
        o["valid_until"].as_str().unwrap(),
        o["fingerprint"].as_str().unwrap(),
        t["hc"].as_str().unwrap(),
        "sandbox_token_hash_key"
    ));
    assert!(!juchu_gateway::paygent::token_hash_ok(
        &tok,
        "************4242",
        o["valid_until"].as_str().unwrap(),
        o["fingerprint"].as_str().unwrap(),
        t["hc"].as_str().unwrap(),
        "sandbox_token_hash_key"
    ));
    let a = c
        .authorize(
            "tok-1",
            1200,
            PaymentClass::Lump,
            &Card::Token(tok.clone()),
            false,
        )
        .await
        .unwrap();
    assert_eq!(a.get("masked_card_number"), "************1111");
    assert_eq!(a.get("fingerprint"), o["fingerprint"].as_str().unwrap());
    // Spent by the first normal answer.
    let again = c
        .authorize("tok-2", 1200, PaymentClass::Lump, &Card::Token(tok), false)
        .await;
    assert_eq!(refused(again).0, "2022");
    let unknown = c
        .authorize(
            "tok-3",
            1,
            PaymentClass::Lump,
            &Card::Token("tok_nope".into()),
            false,
        )
        .await;
    assert_eq!(refused(unknown).0, "2021");
    // A decline does not spend the token: the buyer may try again... with the same card it
    // declines again, but the token is still known.
    let declining = token(&sb, card_json("4111111111118212")).await;
    let dt = declining["tokenizedCardObject"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let r = c
            .authorize(
                "tok-4",
                1,
                PaymentClass::Lump,
                &Card::Token(dt.clone()),
                false,
            )
            .await;
        assert_eq!(refused(r), ("2001".into(), "1G12".into()));
    }
    // Lapsed after 30 minutes.
    let late = token(&sb, card_json("4111111111111111")).await;
    let lt = late["tokenizedCardObject"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.advance(31 * 60).await;
    let r = c
        .authorize("tok-5", 1, PaymentClass::Lump, &Card::Token(lt), false)
        .await;
    assert_eq!(refused(r).0, "2020");
    // The script's own checks.
    let mut bad = card_json("4111111111111111");
    bad["token_key"] = "wrong".into();
    assert_eq!(token(&sb, bad).await["result"], "1201");
    let mut bad = card_json("4111111111111111");
    bad["expire_year"] = "23".into();
    assert_eq!(token(&sb, bad).await["result"], "1502");
    let mut bad = card_json("41111111");
    bad["cvc"] = "".into();
    assert_eq!(token(&sb, bad).await["result"], "1301");
    let mut bad = card_json("4111111111111111");
    bad["name"] = "山田".into();
    assert_eq!(token(&sb, bad).await["result"], "1700");
    // A token with another card source in the same telegram: 2024.
    let t2 = token(&sb, card_json("4111111111111111")).await;
    let t2 = t2["tokenizedCardObject"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mixed = c
        .telegram(
            "020",
            "",
            "tok-6",
            &[
                ("payment_amount", "100"),
                ("payment_class", "10"),
                ("3dsecure_ryaku", "1"),
                ("card_token", &t2),
                ("ref_trading_id", "tok-1"),
            ],
        )
        .await;
    assert_eq!(refused(mixed).0, "2024");
}

#[tokio::test]
async fn stored_card_by_token_with_a_security_code_token_and_116_update() {
    let (sb, c) = env().await;
    let t = token(&sb, card_json("4111111111111111")).await;
    let tok = t["tokenizedCardObject"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reg = c.register_card("cust_7", &Card::Token(tok)).await.unwrap();
    let card_id = reg.get("customer_card_id").to_owned();
    let cvc = token(
        &sb,
        serde_json::json!({"kind": "cvc", "merchant_id": "000000001",
            "token_key": "test_sandbox_token_key", "cvc": "123"}),
    )
    .await;
    assert_eq!(cvc["result"], "0000");
    let cvc = cvc["tokenizedCardObject"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = Card::StoredWithCvc {
        customer_id: "cust_7".into(),
        customer_card_id: card_id.clone(),
        cvc_token: cvc.clone(),
    };
    let a = c
        .authorize("cvc-1", 2000, PaymentClass::Lump, &stored, false)
        .await
        .unwrap();
    assert_eq!(status(&c, a.get("payment_id")).await, "20");
    // A card token where a CVC token belongs: 2026.
    let t2 = token(&sb, card_json("4111111111111111")).await;
    let wrong = Card::StoredWithCvc {
        customer_id: "cust_7".into(),
        customer_card_id: card_id.clone(),
        cvc_token: t2["tokenizedCardObject"]["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let r = c
        .authorize("cvc-2", 1, PaymentClass::Lump, &wrong, false)
        .await;
    assert_eq!(refused(r).0, "2026");
    // 116: a new expiry; a past one is refused and nothing changes.
    c.update_card("cust_7", &card_id, Some("0131"), None)
        .await
        .unwrap();
    assert_eq!(c.cards("cust_7").await.unwrap()[0].valid_term, "0131");
    let r = c.update_card("cust_7", &card_id, Some("0120"), None).await;
    assert_eq!(refused(r), ("2003".into(), "1G83".into()));
    assert_eq!(c.cards("cust_7").await.unwrap()[0].valid_term, "0131");
    let r = c.update_card("cust_7", "999", Some("0131"), None).await;
    assert_eq!(refused(r).0, "P022");
}

#[tokio::test]
async fn net_bank_asp_is_paid_at_the_bank_or_abandoned() {
    let (sb, c) = env().await;
    let a = c
        .request_bank("bank-1", 5400, "ご注文代金", "ｺﾞﾁｭｳﾓﾝﾀﾞｲｷﾝ", 5, "")
        .await
        .unwrap();
    // Absolute: the shop hands it to the buyer as it is.
    let url = a.get("asp_url").to_owned();
    assert!(
        url.starts_with(&format!("{}/paygent/bank/asp/", sb.base)),
        "{url}"
    );
    // 2024-08-19 (Mon) 10:00 + 5 days, to 23:59; then two business days (Mon 26, Tue 27).
    assert_eq!(a.get("asp_limit_date"), "20240824235900");
    assert_eq!(a.get("asp_payment_limit_date"), "20240827235900");
    // A second request for the same trading_id while the first is live: 5010.
    let again = c
        .request_bank("bank-1", 5400, "ご注文代金", "ｺﾞﾁｭｳﾓﾝﾀﾞｲｷﾝ", 5, "")
        .await;
    assert_eq!(refused(again).0, "5010");
    // The buyer picks a bank on the page and pays.
    let page = sb.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("楽天銀行") && page.contains("5400"));
    let paid = sb
        .control(
            "/paygent/asp/bank-1/pay",
            serde_json::json!({"bank_code": "D036"}),
        )
        .await;
    assert_eq!(paid["status"], "40");
    let id = paid["payment_id"].as_str().unwrap();
    let q = c.query(id).await.unwrap();
    assert_eq!(
        (
            q.get("payment_type"),
            q.get("payment_status"),
            q.get("bank_code")
        ),
        ("05", "40", "D036")
    );
    let after = c
        .request_bank("bank-1", 5400, "ご注文代金", "ｺﾞﾁｭｳﾓﾝﾀﾞｲｷﾝ", 5, "")
        .await;
    assert_eq!(refused(after).0, "5008");
    // Another: a bank chosen, never paid; two business days after the limit it is 15, and a
    // late payment still arrives.
    let b = c
        .request_bank("bank-2", 800, "ご注文代金", "ｺﾞﾁｭｳﾓﾝﾀﾞｲｷﾝ", 1, "")
        .await
        .unwrap();
    let key = b.get("asp_url").rsplit('/').next().unwrap().to_owned();
    let chosen = sb
        .http
        .post(format!("{}/paygent/bank/asp/{key}", sb.base))
        .form(&[("bank_code", "D009")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pid = chosen
        .split("決済ID ")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    assert_eq!(status(&c, &pid).await, "10");
    sb.advance(6 * 86_400).await;
    assert_eq!(status(&c, &pid).await, "15");
    sb.control(&format!("/paygent/{pid}/pay"), serde_json::json!({}))
        .await;
    assert_eq!(status(&c, &pid).await, "40");
    assert_eq!(
        refused(c.request_bank("bank-3", 0, "x", "ｱ", 5, "").await).0,
        "P014"
    );
}

#[tokio::test]
async fn merchant_console_actions_and_lapses() {
    let (sb, c) = env().await;
    let a = lump(&c, "adm-1", 3000, "4111111111111111", false).await;
    let id = a.get("payment_id");
    let new = sb
        .control(
            &format!("/paygent/{id}/admin"),
            serde_json::json!({"action": "amount", "amount": 2500}),
        )
        .await;
    let new_id = new["payment_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert_eq!(
        (new["status"].as_str(), new["amount"].as_i64()),
        (Some("20"), Some(2500))
    );
    assert_eq!(status(&c, id).await, "32");
    sb.control(
        &format!("/paygent/{new_id}/admin"),
        serde_json::json!({"action": "capture"}),
    )
    .await;
    assert_eq!(status(&c, &new_id).await, "40");
    sb.control(
        &format!("/paygent/{new_id}/admin"),
        serde_json::json!({"action": "cancel"}),
    )
    .await;
    assert_eq!(status(&c, &new_id).await, "60");
    // A konbini number lapses on demand as at its limit date.
    let k = c
        .request_konbini(
            "adm-2",
            1000,
            "00C002",
            &juchu_gateway::paygent::Payer {
                family_name: "山田".into(),
                name: "太郎".into(),
                tel: "0312345678".into(),
            },
            10,
        )
        .await
        .unwrap();
    let kid = k.get("payment_id");
    sb.control(&format!("/paygent/{kid}/expire"), serde_json::json!({}))
        .await;
    assert_eq!(status(&c, kid).await, "12");
}

#[tokio::test]
async fn a_lost_091_answer_is_repaired_by_id_and_pushes_resend_then_pause() {
    let sb = support::Sandbox::start(juchu_sandbox::Config {
        notify_retry_ms: 20,
        ..Default::default()
    })
    .await;
    let c = PaygentClient::new(PaygentConfig::sandbox(&format!("{}/paygent", sb.base))).unwrap();
    // The shop fails twice, then answers result=0.
    let shop = support::ShopEndpoint::start(|n| if n <= 2 { "NG" } else { "result=0" }).await;
    sb.control(
        "/notifications",
        serde_json::json!({"gateway": "paygent", "url": shop.url}),
    )
    .await;
    let a = lump(&c, "g-1", 100, "4111111111111111", false).await;
    // Resent until answered: the notice went three times, the same each time.
    let bodies = shop.bodies_when(|b| b.len() >= 3).await;
    assert_eq!(bodies.len(), 3);
    assert!(
        bodies
            .iter()
            .all(|b| support::sjis(b).starts_with("payment_notice_id=1&"))
    );
    c.capture(a.get("payment_id")).await.unwrap();
    c.cancel_capture(a.get("payment_id")).await.unwrap();
    // 091: notice 1 read; the answer carrying notice 2 is lost on the way.
    assert_eq!(c.notice(None).await.unwrap().get("payment_notice_id"), "1");
    sb.fault("paygent", "091", "drop_after").await;
    assert!(c.notice(None).await.unwrap_err().is_unknown());
    let b = c.sync_notices(1, &[], 100).await;
    assert!(b.error.is_none());
    assert_eq!(b.ids().collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(
        b.notices
            .iter()
            .map(|n| n.get("payment_status"))
            .collect::<Vec<_>>(),
        vec!["40", "60"]
    );
    // Five failures in a row pause pushes to this merchant (15 minutes).
    let dead = support::ShopEndpoint::start(|_| "NG").await;
    sb.control(
        "/notifications",
        serde_json::json!({"gateway": "paygent", "url": dead.url}),
    )
    .await;
    lump(&c, "g-2", 100, "4111111111111111", false).await;
    lump(&c, "g-3", 100, "4111111111111111", false).await;
    dead.bodies_when(|b| b.len() >= 5).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(dead.bodies_when(|_| true).await.len(), 5);
}

/// Follow a 3-D Secure 1.0 authentication in the buyer's place: post the ACS page (and the
/// challenge form when there is one) and read where the browser is sent back.
async fn authenticate_v1(
    sb: &support::Sandbox,
    acs_html: &str,
    action: &str,
) -> Vec<(String, String)> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let acs = acs_html
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert!(acs.starts_with(&sb.base), "{acs}");
    let mut r = browser.post(&acs).send().await.unwrap();
    if r.status() == 200 {
        let page = r.text().await.unwrap();
        assert!(page.contains("パスワード"), "{page}");
        r = browser
            .post(format!("{acs}/challenge"))
            .form(&[("password", "secret"), ("action", action)])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with("https://shop.example/3ds?"), "{back}");
    juchu_wire::form::decode(
        back.split_once('?').unwrap().1.as_bytes(),
        juchu_wire::form::Charset::ShiftJis,
    )
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
    p.iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[tokio::test]
async fn three_d_secure_1_result_7_and_the_signed_return() {
    let (sb, c) = env().await;
    let v1 = |n: &'static str, t: &'static str| {
        let c = c.clone();
        async move {
            c.authorize_3ds1(
                t,
                4400,
                PaymentClass::Lump,
                &card(n),
                false,
                "text/html",
                "Mozilla/5.0",
                "https://shop.example/3ds",
            )
            .await
        }
    };
    // Frictionless: result=7, payment at 10, then authorized by Paygent itself.
    let a = v1("4111111111111111", "v1-1").await.unwrap();
    assert_eq!(a.get("result"), "7");
    let id = a.get("payment_id").to_owned();
    assert_eq!(status(&c, &id).await, "10");
    let back = authenticate_v1(&sb, a.get("out_acs_html"), "ok").await;
    assert_eq!(
        (param(&back, "result"), param(&back, "payment_id")),
        ("0", id.as_str())
    );
    assert!(juchu_gateway::paygent::three_ds1_result_ok(
        &back,
        "sandbox_3ds_hash_key"
    ));
    assert!(!juchu_gateway::paygent::three_ds1_result_ok(&back, "other"));
    assert_eq!(status(&c, &id).await, "20");
    // Challenge that passes (X=3), challenge that fails (X=4 → 2001 1511, status 11).
    let b = v1("4111111111113111", "v1-2").await.unwrap();
    let back = authenticate_v1(&sb, b.get("out_acs_html"), "ok").await;
    assert_eq!(param(&back, "result"), "0");
    let f = v1("4111111111114111", "v1-3").await.unwrap();
    let back = authenticate_v1(&sb, f.get("out_acs_html"), "ok").await;
    assert_eq!(
        (
            param(&back, "result"),
            param(&back, "response_code"),
            param(&back, "response_detail")
        ),
        ("1", "2001", "1511")
    );
    assert!(juchu_gateway::paygent::three_ds1_result_ok(
        &back,
        "sandbox_3ds_hash_key"
    ));
    assert_eq!(status(&c, f.get("payment_id")).await, "11");
    // An attempt (X=5): authorized under attempt control "all", marked attempt_kbn 1.
    let t = v1("4111111111115111", "v1-4").await.unwrap();
    let back = authenticate_v1(&sb, t.get("out_acs_html"), "ok").await;
    assert_eq!(
        (param(&back, "result"), param(&back, "attempt_kbn")),
        ("0", "1")
    );
    // Without the browser's headers and return URL: P005.
    let bare = c
        .telegram(
            "020",
            "",
            "v1-5",
            &[
                ("payment_amount", "100"),
                ("card_number", "4111111111111111"),
                ("card_valid_term", "1230"),
            ],
        )
        .await;
    assert_eq!(refused(bare), ("P005".into(), "http_accept".into()));
}

#[tokio::test]
async fn attempt_control_refuses_attempts_with_2015() {
    let sb = support::Sandbox::start(juchu_sandbox::Config {
        paygent_attempt_control: "normal".into(),
        ..Default::default()
    })
    .await;
    let c = PaygentClient::new(PaygentConfig::sandbox(&format!("{}/paygent", sb.base))).unwrap();
    let try_card = |n: &'static str| {
        let c = c.clone();
        async move {
            c.authorize_3ds1(
                "ac",
                100,
                PaymentClass::Lump,
                &card(n),
                false,
                "text/html",
                "Mozilla/5.0",
                "https://shop.example/3ds",
            )
            .await
            .unwrap()
        }
    };
    let a = try_card("4111111111115111").await;
    let back = authenticate_v1(&sb, a.get("out_acs_html"), "ok").await;
    assert_eq!(
        (param(&back, "result"), param(&back, "response_code")),
        ("1", "2015")
    );
    // attempt_kbn 0 (card not enrolled) passes "normal".
    let b = try_card("4111111111116111").await;
    let back = authenticate_v1(&sb, b.get("out_acs_html"), "ok").await;
    assert_eq!(
        (param(&back, "result"), param(&back, "attempt_kbn")),
        ("0", "0")
    );
}
