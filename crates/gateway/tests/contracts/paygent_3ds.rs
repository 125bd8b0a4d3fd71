//! EMV 3-D Secure 2.0 on Paygent against the sandbox: 450, the buyer's trip through the
//! issuer's pages, the result at the merchant's term_url with its `hc`, and 020 with the
//! authentication's id (used once).

use crate::support;

use juchu_gateway::paygent::{
    Card, PaygentClient, PaygentConfig, PaymentClass, ThreeDsRequest, ThreeDsResult,
};
use juchu_gateway::{GatewayError, Secret};
use juchu_wire::form::{self, Charset};

const KEY: &str = "sandbox_3ds_hash_key";
const TERM_URL: &str = "https://shop.example/checkout/3ds?order=1001";

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

fn request(card: Card, amount: i64, term_url: &str) -> ThreeDsRequest {
    ThreeDsRequest {
        trading_id: "order_1001".into(),
        amount,
        card,
        term_url: term_url.into(),
        merchant_name: "JUCHU DEMO SHOP".into(),
        cardholder_name: "TARO YAMADA".into(),
        email: "taro@example.jp".into(),
        // Full-width: 450 travels in UTF-8.
        extra: vec![("bill_address_city".into(), "渋谷区".into())],
    }
}

fn refused(r: Result<impl std::fmt::Debug, GatewayError>) -> String {
    match r {
        Err(GatewayError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The buyer's browser: no redirects followed, so each hop can be looked at.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `action` of a page's form.
fn action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + 8;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

/// Where a 303 sends the browser, split into the merchant's URL and the query Paygent added.
fn back_at_merchant(r: &reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap();
    let rest = loc
        .strip_prefix(&format!("{TERM_URL}&"))
        .unwrap_or_else(|| panic!("not back at term_url: {loc}"));
    form::decode(rest.as_bytes(), Charset::Utf8)
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
    p.iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {k} in {p:?}"))
}

async fn status(c: &PaygentClient, id: &str) -> String {
    c.query(id).await.unwrap().get("payment_status").to_owned()
}

#[tokio::test]
async fn frictionless_card_authenticates_and_authorizes_once() {
    let (sb, c) = env().await;
    let s = c
        .start_3ds(&request(card("4111111111111111"), 5000, TERM_URL))
        .await
        .unwrap();
    assert_eq!(s.auth_id.len(), 36);
    assert_eq!(s.card_brand, "VISA");
    assert_eq!(s.masked_card_number, "************1111");
    // The page posts itself to the issuer, an absolute URL on Paygent's side.
    let to = action(&s.acs_html);
    assert!(
        to.starts_with(&format!("{}/paygent/threeds/acs/", sb.base)),
        "{to}"
    );
    assert!(s.acs_html.contains("document.forms[0].submit()"));

    // No challenge: the issuer sends the buyer straight back.
    let back = back_at_merchant(&browser().post(&to).send().await.unwrap());
    assert_eq!(get(&back, "result"), "0");
    assert_eq!(get(&back, "3ds_auth_id"), s.auth_id);
    assert_eq!(get(&back, "attempt_kbn"), "");
    assert_eq!(get(&back, "masked_card_number"), "************1111");
    assert!(PaygentClient::three_ds_result_ok(&back, KEY));
    let r = ThreeDsResult::from_params(&back);
    assert!(r.passed && r.issuer_liable());

    let a = c
        .authorize_3ds(
            "order_1001",
            5000,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
            &r.auth_id,
        )
        .await
        .unwrap();
    assert_eq!(status(&c, a.get("payment_id")).await, "20");

    // Used once: a second 020 with the same id is 31010; an unknown id 31011.
    let again = c
        .authorize_3ds(
            "order_1001",
            5000,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
            &r.auth_id,
        )
        .await;
    assert_eq!(refused(again), "31010");
    let unknown = c
        .authorize_3ds(
            "order_1002",
            5000,
            PaymentClass::Lump,
            &card("4111111111111111"),
            false,
            "00000000-0000-0000-0000-000000000000",
        )
        .await;
    assert_eq!(refused(unknown), "31011");

    // A reload of the issuer's page repeats the same result.
    let again = back_at_merchant(&browser().post(&to).send().await.unwrap());
    assert_eq!(get(&again, "hc"), get(&back, "hc"));

    // Forged results: a changed attempt class, a changed hash, another key, no hash.
    let forge = |k: &str, v: &str| {
        back.iter()
            .map(|(a, b)| (a.clone(), if a == k { v.to_owned() } else { b.clone() }))
            .collect::<Vec<_>>()
    };
    assert!(!PaygentClient::three_ds_result_ok(
        &forge("attempt_kbn", "1"),
        KEY
    ));
    assert!(!PaygentClient::three_ds_result_ok(
        &forge("hc", &"0".repeat(64)),
        KEY
    ));
    assert!(!PaygentClient::three_ds_result_ok(&back, "other_key"));
    let no_hc: Vec<_> = back.iter().filter(|(k, _)| k != "hc").cloned().collect();
    assert!(!PaygentClient::three_ds_result_ok(&no_hc, KEY));
}

#[tokio::test]
async fn challenge_passes_for_x3_with_a_stored_card() {
    let (_sb, c) = env().await;
    let r = c
        .register_card("cust_3ds", &card("4111111111113111"))
        .await
        .unwrap();
    let stored = Card::Stored {
        customer_id: "cust_3ds".into(),
        customer_card_id: r.get("customer_card_id").into(),
    };
    let s = c
        .start_3ds(&request(stored.clone(), 12000, TERM_URL))
        .await
        .unwrap();
    let b = browser();
    let page = b.post(action(&s.acs_html)).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let url = page.url().clone();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("パスワード") && html.contains("12000"),
        "{html}"
    );

    // The buyer has not answered yet: nothing to authorize with.
    let early = c
        .authorize_3ds(
            "order_1001",
            12000,
            PaymentClass::Lump,
            &stored,
            false,
            &s.auth_id,
        )
        .await;
    assert_eq!(refused(early), "31011");

    let submit = url.join(&action(&html)).unwrap();
    let back = back_at_merchant(
        &b.post(submit)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("password=secret1&answer=ok")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(get(&back, "result"), "0");
    assert_eq!(get(&back, "attempt_kbn"), "");
    assert!(PaygentClient::three_ds_result_ok(&back, KEY));

    // The same card, but not the same amount: refused; then the authenticated amount.
    let other_amount = c
        .authorize_3ds(
            "order_1001",
            9000,
            PaymentClass::Lump,
            &stored,
            false,
            &s.auth_id,
        )
        .await;
    assert_eq!(refused(other_amount), "P010");
    let a = c
        .authorize_3ds(
            "order_1001",
            12000,
            PaymentClass::Lump,
            &stored,
            true,
            &s.auth_id,
        )
        .await
        .unwrap();
    assert_eq!(status(&c, a.get("payment_id")).await, "40");
}

#[tokio::test]
async fn challenge_fails_for_x4_and_020_is_refused() {
    let (_sb, c) = env().await;
    let s = c
        .start_3ds(&request(card("4111111111114111"), 3000, TERM_URL))
        .await
        .unwrap();
    let b = browser();
    let page = b.post(action(&s.acs_html)).send().await.unwrap();
    let url = page.url().clone();
    let html = page.text().await.unwrap();
    let back = back_at_merchant(
        &b.post(url.join(&action(&html)).unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .body("password=secret1&answer=ok")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(get(&back, "result"), "1");
    assert_eq!(get(&back, "response_code"), "31007");
    // The hash comes with failures too (attempt_kbn is then absent).
    assert!(PaygentClient::three_ds_result_ok(&back, KEY));
    let r = ThreeDsResult::from_params(&back);
    assert!(!r.passed && !r.issuer_liable());
    assert!(r.message().contains("本人認証"));
    let a = c
        .authorize_3ds(
            "order_1001",
            3000,
            PaymentClass::Lump,
            &card("4111111111114111"),
            false,
            &s.auth_id,
        )
        .await;
    assert_eq!(refused(a), "31007");
}

#[tokio::test]
async fn attempt_classes_from_test_cardholder_names() {
    let (_sb, c) = env().await;
    for (name, result, attempt) in [("BAVAA", "0", "0"), ("BAVUA", "0", "1"), ("BAVRA", "1", "")] {
        let mut req = request(card("4111111111111111"), 1000, TERM_URL);
        req.cardholder_name = name.into();
        let s = c.start_3ds(&req).await.unwrap();
        let back = back_at_merchant(&browser().post(action(&s.acs_html)).send().await.unwrap());
        assert_eq!(get(&back, "result"), result, "{name}");
        if result == "0" {
            assert_eq!(get(&back, "attempt_kbn"), attempt, "{name}");
        }
        assert!(PaygentClient::three_ds_result_ok(&back, KEY));
        assert_eq!(
            ThreeDsResult::from_params(&back).issuer_liable(),
            attempt == "0"
        );
    }
}

#[tokio::test]
async fn telegram_rules() {
    let (_sb, c) = env().await;
    // 450 validation: a missing term_url is P006 (the annex has no P005), an unknown token
    // 31004, a number no brand owns 31001, an earlier trading_id cannot be authenticated.
    assert_eq!(
        refused(
            c.start_3ds(&request(card("4111111111111111"), 1000, ""))
                .await
        ),
        "P006"
    );
    assert_eq!(
        refused(
            c.start_3ds(&request(Card::Token("tok_unknown".into()), 1000, TERM_URL))
                .await
        ),
        "31004"
    );
    assert_eq!(
        refused(
            c.start_3ds(&request(card("9111111111111111"), 1000, TERM_URL))
                .await
        ),
        "31001"
    );
    assert!(matches!(
        c.start_3ds(&request(
            Card::RefTradingId("order_1".into()),
            1000,
            TERM_URL
        ))
        .await,
        Err(GatewayError::Config(_))
    ));
    // 020: use type 2 without an id (31009), an id without use type 2 (31008).
    let base = [
        ("payment_amount", "1000"),
        ("payment_class", "10"),
        ("card_number", "4111111111111111"),
        ("card_valid_term", "1230"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut d = base.to_vec();
        d.extend_from_slice(extra);
        d
    };
    assert_eq!(
        refused(
            c.telegram("020", "", "t1", &with(&[("3dsecure_use_type", "2")]))
                .await
        ),
        "31009"
    );
    assert_eq!(
        refused(
            c.telegram(
                "020",
                "",
                "t1",
                &with(&[("3dsecure_ryaku", "1"), ("3ds_auth_id", "abc")])
            )
            .await
        ),
        "31008"
    );
}

/// The merchant's term_url, recording the GETs Paygent makes to it.
async fn term_url_endpoint() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/3ds",
        axum::routing::get(move |uri: axum::http::Uri| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(uri.query().unwrap_or("").to_owned());
                "OK"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/3ds", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, seen)
}

#[tokio::test]
async fn unfinished_authentication_times_out_after_30_minutes() {
    let (sb, c) = env().await;
    let (url, seen) = term_url_endpoint().await;
    let s = c
        .start_3ds(&request(card("4111111111113111"), 2000, &url))
        .await
        .unwrap();
    sb.advance(29 * 60).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert!(seen.lock().unwrap().is_empty(), "too early");
    sb.advance(2 * 60).await;
    let mut notice = None;
    for _ in 0..50 {
        if let Some(q) = seen.lock().unwrap().first() {
            notice = Some(q.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let q = form::decode(notice.expect("a timeout notice").as_bytes(), Charset::Utf8);
    assert_eq!(get(&q, "result"), "1");
    assert_eq!(get(&q, "response_code"), "31013");
    assert_eq!(get(&q, "3ds_auth_id"), s.auth_id);
    assert_eq!(get(&q, "fingerprint"), "XXXX");
    assert!(PaygentClient::three_ds_result_ok(&q, KEY));
    // The buyer arriving late is told by Paygent; the id cannot authorize.
    let late = browser().post(action(&s.acs_html)).send().await.unwrap();
    assert_eq!(late.status(), reqwest::StatusCode::GONE);
    let a = c
        .authorize_3ds(
            "order_1001",
            2000,
            PaymentClass::Lump,
            &card("4111111111113111"),
            false,
            &s.auth_id,
        )
        .await;
    assert_eq!(refused(a), "31013");
    // Accepted once: no second notice.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// A card token from the sandbox's token script endpoint (as the buyer's browser gets it).
async fn card_token(sb: &support::Sandbox, number: &str) -> String {
    let t: serde_json::Value = sb
        .http
        .post(format!("{}/paygent/n/token/request", sb.base))
        .json(
            &serde_json::json!({"kind": "card", "merchant_id": "000000001",
            "token_key": "test_sandbox_token_key", "card_number": number, "expire_year": "30",
            "expire_month": "12", "cvc": "123", "name": "TARO YAMADA"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["tokenizedCardObject"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_token_is_authenticated_without_being_spent_then_spent_by_020() {
    let (sb, c) = env().await;
    let tok = Card::Token(card_token(&sb, "4111111111113111").await);
    let s = c
        .start_3ds(&request(tok.clone(), 8000, TERM_URL))
        .await
        .unwrap();
    assert_eq!(s.masked_card_number, "************3111");
    let b = browser();
    let page = b.post(action(&s.acs_html)).send().await.unwrap();
    let url = page.url().clone();
    let html = page.text().await.unwrap();
    let back = back_at_merchant(
        &b.post(url.join(&action(&html)).unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .body("password=14052&answer=ok")
            .send()
            .await
            .unwrap(),
    );
    // The test environment's caution password: passed, attempt 1, the merchant's risk.
    assert_eq!(get(&back, "attempt_kbn"), "1");
    assert!(PaygentClient::three_ds_result_ok(&back, KEY));
    assert!(!ThreeDsResult::from_params(&back).issuer_liable());
    // 450 left the token usable: 020 takes it (and spends it).
    let a = c
        .authorize_3ds(
            "order_1001",
            8000,
            PaymentClass::Lump,
            &tok,
            false,
            &s.auth_id,
        )
        .await
        .unwrap();
    assert_eq!(status(&c, a.get("payment_id")).await, "20");
    assert_eq!(
        refused(c.start_3ds(&request(tok, 8000, TERM_URL)).await),
        "31005"
    );
}
