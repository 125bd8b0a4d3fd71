//! Paygent file payments (200 upload, 201 result file) against the sandbox: seed 003's
//! recurring-order file, captures and cancels by file, the format refusals, and the wire
//! form of the result file.

use crate::support;

use juchu_gateway::paygent::{Card, FileResult, PaygentClient, PaygentConfig, PaymentClass};
use juchu_gateway::{GatewayError, Secret};

async fn env_with(cfg: juchu_sandbox::Config) -> (support::Sandbox, PaygentClient) {
    let sb = support::Sandbox::start(cfg).await;
    let c = PaygentClient::new(PaygentConfig::sandbox(&format!("{}/paygent", sb.base))).unwrap();
    (sb, c)
}

async fn env() -> (support::Sandbox, PaygentClient) {
    env_with(juchu_sandbox::Config::default()).await
}

fn card(n: &str, term: &str) -> Card {
    Card::Raw {
        number: Secret::new(n),
        valid_term_mmyy: term.into(),
    }
}

fn refused(r: Result<impl std::fmt::Debug, GatewayError>) -> (String, String, bool) {
    match r {
        Err(GatewayError::Refused {
            code,
            detail,
            retryable,
            ..
        }) => (code, detail, retryable),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A 020 record as the shop software writes it (seed 003): order number, amount, payment
/// class 10, the previous order, the customer number; the other columns empty.
fn auth_row(order: &str, amount: &str, previous: &str, customer: &str) -> Vec<String> {
    let mut r = vec![String::new(); 14];
    r[1] = order.into();
    r[3] = amount.into();
    r[6] = "10".into();
    r[10] = previous.into();
    r[12] = customer.into();
    r
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Upload, let a minute pass, fetch the result.
async fn run_file(sb: &support::Sandbox, c: &PaygentClient, kind: &str, text: &str) -> FileResult {
    let id = c.upload_file(kind, text, false).await.unwrap();
    sb.advance(60).await;
    c.file_result(&id).await.unwrap()
}

async fn status(c: &PaygentClient, id: &str) -> String {
    c.query(id).await.unwrap().get("payment_status").to_owned()
}

#[tokio::test]
async fn seed_003_recurring_authorizations_then_captures_and_cancels() {
    let (sb, c) = env().await;
    // The previous orders, authorized online: 200 approved, 236 declined (…8212).
    let first = c
        .authorize(
            "200",
            9800,
            PaymentClass::Lump,
            &card("4111111111111111", "1230"),
            false,
        )
        .await
        .unwrap();
    let declined = c
        .authorize(
            "236",
            9800,
            PaymentClass::Lump,
            &card("4111111111118212", "1230"),
            false,
        )
        .await;
    assert_eq!(refused(declined).0, "2001");
    let text = c.file_text(
        "020",
        &[
            auth_row("338", "11246", "200", "285"),
            auth_row("339", "7022", "338", "285"),
            auth_row("379", "10175", "236", "360"),
        ],
    );
    assert!(text.starts_with("1,020,000000001\r\n3,,338,,11246,,,10,,,,200,,285,\r\n"));
    let id = c.upload_file("020", &text, true).await.unwrap();
    // Not processed before a minute has passed: 9103, to retry later.
    let (code, _, retryable) = refused(c.file_result(&id).await);
    assert_eq!((code.as_str(), retryable), ("9103", true));
    sb.advance(59).await;
    assert_eq!(refused(c.file_result(&id).await).0, "9103");
    sb.advance(1).await;
    let r = c.file_result(&id).await.unwrap();
    assert_eq!(
        (r.file_type.as_str(), r.merchant_id.as_str()),
        ("020", "000000001")
    );
    assert_eq!(r.file_receipt_id, id);
    assert_eq!(
        (r.received_at.as_str(), r.processed_at.as_str()),
        ("20240819100000", "20240819100100")
    );
    assert_eq!((r.count, r.ok, r.ng), (3, 2, 1));
    let orders: Vec<&str> = r.records.iter().map(|x| x.column(3)).collect();
    assert_eq!(orders, ["338", "339", "379"]);
    // Every record comes back as sent, with the outcome appended.
    assert_eq!(r.records[0].columns.len(), 15);
    assert_eq!(r.records[0].column(12), "200");
    assert_eq!(r.records[0].column(14), "285");
    assert!(r.records[0].ok && r.records[1].ok);
    // 379's previous order was declined: there is no card to reuse (2009).
    let ng = &r.records[2];
    assert!(!ng.ok);
    assert_eq!(ng.response_code, "2009");
    assert!(ng.payment_id.is_empty());
    // The payments exist at Paygent as if authorized online; 339 charged the card of 338,
    // itself 200's.
    let (p338, p339) = (
        r.records[0].payment_id.clone(),
        r.records[1].payment_id.clone(),
    );
    let q = c.query(&p338).await.unwrap();
    assert_eq!(
        (
            q.get("trading_id"),
            q.get("payment_status"),
            q.get("payment_amount")
        ),
        ("338", "20", "11246")
    );
    let q = c.query(&p339).await.unwrap();
    assert_eq!(q.get("masked_card_number"), "************1111");
    assert_eq!(q.get("payment_amount"), "7022");
    // 差分 as online: 20 for order 200 (online), then 20 for 338 and 339 from the file
    // (the declined 236 gave 11).
    let mut seen = vec![];
    loop {
        let n = c.notice(None).await.unwrap();
        if n.get("success_code") == "1" {
            break;
        }
        seen.push(format!(
            "{}:{}",
            n.get("trading_id"),
            n.get("payment_status")
        ));
    }
    assert_eq!(seen, ["200:20", "236:11", "338:20", "339:20"]);

    // 021 売上 by file: 338 by payment_id, 339 by trading_id; 379 has no payment (2006).
    let text = c.file_text(
        "021",
        &[strs(&[&p338, ""]), strs(&["", "339"]), strs(&["", "379"])],
    );
    let r = run_file(&sb, &c, "021", &text).await;
    assert_eq!((r.count, r.ok, r.ng), (3, 2, 1));
    assert_eq!(r.records[2].response_code, "2006");
    assert!(r.records.iter().all(|x| x.payment_id.is_empty()));
    assert_eq!(status(&c, &p338).await, "40");
    assert_eq!(status(&c, &p339).await, "40");

    // 022 取消 by file: a capture (40 → 60) and an authorization (20 → 32).
    let p200 = first.get("payment_id").to_owned();
    let text = c.file_text("022", &[strs(&[&p338, "338"]), strs(&[&p200, ""])]);
    let r = run_file(&sb, &c, "022", &text).await;
    assert_eq!((r.ok, r.ng), (2, 0), "{r:?}");
    assert_eq!(status(&c, &p338).await, "60");
    assert_eq!(status(&c, &p200).await, "32");
}

#[tokio::test]
async fn card_rules_apply_to_file_records() {
    let (sb, c) = env().await;
    // A card valid until August 2024 pays the August order; September's, by file, fails
    // as an expired card would online (2003 1G83, the payment kept at 10).
    c.authorize(
        "500",
        3000,
        PaymentClass::Lump,
        &card("4111111111111111", "0824"),
        false,
    )
    .await
    .unwrap();
    sb.set_clock("2024-09-19T10:00:00+09:00").await;
    let text = c.file_text("020", &[auth_row("501", "3000", "500", "77")]);
    let r = run_file(&sb, &c, "020", &text).await;
    let x = &r.records[0];
    assert_eq!(
        (x.ok, x.response_code.as_str(), x.response_detail.as_str()),
        (false, "2003", "1G83")
    );
    assert_eq!(status(&c, &x.payment_id).await, "10");
}

#[tokio::test]
async fn format_errors_refuse_the_whole_file() {
    let (sb, c) = env().await;
    let good = c.file_text("020", &[auth_row("1001", "500", "1000", "1")]);
    // Header: a file_type other than the telegram's, another merchant.
    let (code, detail, _) = refused(
        c.upload_file("020", &good.replace("1,020,", "1,999,"), false)
            .await,
    );
    assert_eq!(code, "9101");
    assert!(detail.contains("record 1: file_type"), "{detail}");
    let (code, detail, _) = refused(
        c.upload_file("020", &good.replace("000000001", "000000002"), false)
            .await,
    );
    assert_eq!(code, "9101");
    assert!(detail.contains("record 1: merchant_id"), "{detail}");
    // A file type not allowed: 9104.
    assert_eq!(refused(c.upload_file("024", &good, false).await).0, "9104");
    // The trailer counts records that are not there.
    let (code, detail, _) = refused(
        c.upload_file("020", &good.replace("\r\n4,1", "\r\n4,2"), false)
            .await,
    );
    assert_eq!(code, "9101");
    assert!(detail.contains("record 3: count"), "{detail}");
    // A zero amount names its record (the header is record 1) and field.
    let text = c.file_text(
        "020",
        &[
            auth_row("1001", "500", "1000", "1"),
            auth_row("1002", "0", "1000", "1"),
        ],
    );
    let (code, detail, retryable) = refused(c.upload_file("020", &text, false).await);
    assert_eq!((code.as_str(), retryable), ("9101", false));
    assert!(detail.contains("record 3: payment_amount"), "{detail}");
    assert!(!detail.contains("record 2"), "{detail}");
    // 60 bad records: the first 51 errors are listed.
    let rows: Vec<Vec<String>> = (0..60)
        .map(|i| auth_row(&format!("2{i:03}"), "0", "1000", "1"))
        .collect();
    let (_, detail, _) = refused(
        c.upload_file("020", &c.file_text("020", &rows), false)
            .await,
    );
    assert_eq!(detail.matches("record ").count(), 51, "{detail}");
    assert!(detail.contains("record 52: payment_amount"));
    assert!(!detail.contains("record 53:"));
    // Capture records need a payment_id or a trading_id.
    let text = c.file_text("021", &[strs(&["", ""])]);
    let (code, detail, _) = refused(c.upload_file("021", &text, false).await);
    assert_eq!(code, "9101");
    assert!(detail.contains("record 2: payment_id"), "{detail}");
    // An unknown receipt number: 9102.
    assert_eq!(refused(c.file_result("123456789").await).0, "9102");
    // Nothing was accepted: no payment exists.
    assert_eq!(sb.ledger().await["paygent"], serde_json::json!([]));
}

#[tokio::test]
async fn record_limit_and_duplicate_check() {
    let cfg = juchu_sandbox::Config {
        paygent_file_record_limit: 2,
        ..Default::default()
    };
    let (sb, c) = env_with(cfg).await;
    let rows: Vec<Vec<String>> = (1..=3)
        .map(|i| auth_row(&format!("30{i}"), "100", "300", "1"))
        .collect();
    let (code, detail, _) = refused(
        c.upload_file("020", &c.file_text("020", &rows), false)
            .await,
    );
    assert_eq!(code, "9101");
    assert!(detail.contains("limit of 2"), "{detail}");
    let two = c.file_text("020", &rows[..2]);
    let first = c.upload_file("020", &two, false).await.unwrap();
    // The same bytes again within 24 hours, checked: 9106 — whatever the file type.
    assert_eq!(refused(c.upload_file("020", &two, true).await).0, "9106");
    // Unchecked, it is a new file.
    let second = c.upload_file("020", &two, false).await.unwrap();
    assert_ne!(first, second);
    // A different file passes the check.
    let other = c.file_text("020", &rows[1..]);
    c.upload_file("020", &other, true).await.unwrap();
    // A day later the check no longer looks that far back.
    sb.advance(24 * 3600).await;
    c.upload_file("020", &two, true).await.unwrap();
}

#[tokio::test]
async fn raw_wire_result_file_is_shift_jis_csv_with_crlf() {
    let (sb, c) = env().await;
    c.authorize(
        "600",
        1000,
        PaymentClass::Lump,
        &card("4111111111111111", "1230"),
        false,
    )
    .await
    .unwrap();
    let text = c.file_text("020", &[auth_row("601", "1000", "600", "9")]);
    let id = c.upload_file("020", &text, false).await.unwrap();
    let url = format!("{}/paygent/n/o/requestdata", sb.base);
    let body = |kind: &str, rest: &str| {
        format!(
            "merchant_id=000000001&connect_id=sandbox&connect_password=sandbox&telegram_kind={kind}&telegram_version=1.0&trading_id=&payment_id={rest}"
        )
    };
    let post = |b: String| {
        let (http, url) = (sb.http.clone(), url.clone());
        async move { http.post(url).body(b).send().await.unwrap() }
    };
    // Before processing: an error file, header with result 1 and the Japanese detail in
    // Shift_JIS, then an empty trailer.
    let r = post(body("201", &format!("&file_receipt_id={id}"))).await;
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; charset=Windows-31J"
    );
    let bytes = r.bytes().await.unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
    assert_eq!(
        support::sjis(&bytes),
        "1,,,,,,1,9103,\"指定された受付番号のファイル決済は処理が完了していません。\"\r\n4,,,"
    );
    sb.advance(60).await;
    let bytes = post(body("201", &format!("&file_receipt_id={id}")))
        .await
        .bytes()
        .await
        .unwrap();
    let text = support::sjis(&bytes);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(!lines.iter().any(|l| l.contains('\n')), "{text:?}");
    assert_eq!(lines.len(), 3, "{text:?}");
    assert_eq!(
        lines[0],
        format!("1,020,000000001,{id},20240819100000,20240819100100,0,,")
    );
    assert!(
        lines[1].starts_with("3,,601,,1000,,,10,,,,600,,9,,0,,,"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "4,1,1,0");
    // The upload's answer is name=value lines with every parameter; 200 at the card URL is
    // refused with P004.
    let text = post(body("201", "&file_receipt_id="))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("1,,,,,,1,P006,"), "{text:?}");
    let r = sb
        .http
        .post(format!("{}/paygent/n/card/request", sb.base))
        .body(body("200", "&file_type=020&data=x"))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("response_code=P004"), "{text:?}");
    let text = post(body("200", "&file_type=020&data=1%2C020"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.starts_with("result=1\r\nresponse_code=9101\r\n"),
        "{text:?}"
    );
    assert!(text.ends_with("\r\nfile_receipt_id="), "{text:?}");
}
