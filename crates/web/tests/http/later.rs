//! Payments the buyer makes later (konbini, ATM / Pay-easy, net bank), on SQLite and
//! PostgreSQL against the bundled sandboxes: the payment number, the push (Paygent 差分通知,
//! GMO 結果通知) and the pull job settling them, due dates under the virtual clock, and
//! notifications that must change nothing (forged, replayed, wrong amount, unknown payment).

use crate::both_backends;
use crate::support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestApp;

async fn request(t: &TestApp, n: i64, body: Value) -> Value {
    let (st, v) = t
        .post(&format!("/api/v1/orders/{n}/payment/request"), body)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "succeeded", "{v}");
    v
}

async fn status(t: &TestApp, n: i64) -> String {
    t.get(&format!("/api/v1/orders/{n}")).await.1["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn payment(t: &TestApp, n: i64) -> Value {
    t.get(&format!("/api/v1/orders/{n}/payment")).await.1
}

/// Wait (a push arrives on its own) until the order has `want`.
async fn wait_status(t: &TestApp, n: i64, want: &str) {
    for _ in 0..100 {
        if status(t, n).await == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("order {n} never became {want}: {}", status(t, n).await);
}

async fn sync(t: &TestApp) -> Value {
    let (st, v) = t.post("/api/v1/payments/sync", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

/// GMO konbini: the number and due date, paid at the store → 入金済み by the push; with the
/// push stopped, the pull job catches the next one.
async fn konbini_paid_by_push_and_by_pull(t: TestApp) {
    let (st, v) = support::send(
        t.req(reqwest::Method::PUT, "/api/v1/shop/mail")
            .json(&json!({"email": "not an address"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = support::send(
        t.req(reqwest::Method::PUT, "/api/v1/shop/mail")
            .json(&json!({"email": "shop@juchu-test.example"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let n = t.order_paid_by("gmo_konbini").await;
    let r = request(&t, n, json!({"store": "00002", "due_days": 5})).await;
    assert!(r["message"].as_str().unwrap().contains("受付番号"), "{r}");
    assert_eq!(status(&t, n).await, "awaiting_payment");
    let p = payment(&t, n).await;
    assert_eq!(p["state"], "pending");
    assert_eq!(p["slip_fields"][0][0], "受付番号");
    assert_eq!(p["due_at"], "2024/08/24 23:59");
    let oid = p["payment_id"].as_str().unwrap().to_owned();
    t.sandbox_control(&format!("/gmo/{oid}/pay"), json!({}))
        .await;
    wait_status(&t, n, "paid").await;
    assert_eq!(payment(&t, n).await["state"], "paid");
    let h = t.get(&format!("/api/v1/orders/{n}/history")).await.1;
    assert!(h.to_string().contains("入金を確認しました"), "{h}");
    // The buyer's instructions mail went out with the payment number, recorded on the order.
    let (st, sent) = t.post("/api/v1/mails/deliver", json!({})).await;
    assert_eq!((st, sent.as_i64()), (StatusCode::OK, Some(1)), "{sent}");
    let (_, mails) = t.get(&format!("/api/v1/orders/{n}/mails")).await;
    assert_eq!(mails[0]["status"], "sent", "{mails}");
    assert_eq!(mails[0]["mail_to"], "hanako@example.jp");
    assert!(mails[0]["body"].as_str().unwrap().contains("受付番号"));
    let eml: Vec<_> = std::fs::read_dir(&t.mail_dir.0)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(eml.len(), 1);
    assert!(eml[0].contains("To: hanako@example.jp"), "{}", eml[0]);
    assert!(
        eml[0].contains("<shop@juchu-test.example>"),
        "From: the shop: {}",
        eml[0]
    );
    assert!(
        eml[0].contains("Subject: =?utf-8?"),
        "encoded Japanese subject: {}",
        eml[0]
    );
    let h = t.get(&format!("/api/v1/orders/{n}/history")).await.1;
    assert!(h.to_string().contains("メールを送信しました"), "{h}");

    // The push is lost: the pull job finds the payment.
    t.sandbox.notify_to("gmo", None);
    let m = t.order_paid_by("gmo_konbini").await;
    request(&t, m, json!({"store": "00001"})).await;
    let oid = payment(&t, m).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.sandbox_control(&format!("/gmo/{oid}/pay"), json!({}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(status(&t, m).await, "awaiting_payment");
    let r = sync(&t).await;
    assert!(
        r["applied"].to_string().contains("入金を確認しました"),
        "{r}"
    );
    assert_eq!(status(&t, m).await, "paid");
    // Nothing left to do.
    assert_eq!(sync(&t).await["applied"].as_array().unwrap().len(), 0);
}

/// Paygent konbini and ATM paid: 差分通知 pushed with its hc, taken once each.
async fn paygent_notices_are_taken_once(t: TestApp) {
    let n = t.order_paid_by("paygent_konbini").await;
    request(&t, n, json!({"store": "00C002"})).await;
    let pid = payment(&t, n).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.sandbox_control(&format!("/paygent/{pid}/pay"), json!({}))
        .await;
    wait_status(&t, n, "paid").await;
    let a = t.order_paid_by("paygent_atm").await;
    request(&t, a, json!({})).await;
    let pid = payment(&t, a).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.sandbox_control(&format!("/paygent/{pid}/pay"), json!({}))
        .await;
    wait_status(&t, a, "paid").await;
    // The pull job reads the same notices by 差分照会 and applies nothing twice.
    let r = sync(&t).await;
    assert_eq!(r["applied"].as_array().unwrap().len(), 0, "{r}");
    let h = t.get(&format!("/api/v1/orders/{n}/history")).await.1;
    assert_eq!(
        h.to_string().matches("入金を確認しました").count(),
        1,
        "{h}"
    );
}

/// Due dates pass under the virtual clock: konbini → キャンセル with the items on the
/// cancelled-order stock list; net bank stays 入金待ち, flagged for the operator.
async fn due_dates_cancel_konbini_and_flag_net_bank(t: TestApp) {
    let k = t.order_paid_by("gmo_konbini").await;
    request(&t, k, json!({"store": "00005", "due_days": 3})).await;
    let b = t.order_paid_by("paygent_netbank").await;
    request(&t, b, json!({})).await;
    let a = t.order_paid_by("paygent_atm").await;
    request(&t, a, json!({"due_days": 3})).await;
    t.set_now("2024-09-30T01:00:00Z");
    sync(&t).await;
    assert_eq!(status(&t, k).await, "cancelled");
    assert_eq!(status(&t, a).await, "cancelled");
    let (_, stock) = t.get("/api/v1/cancelled-stock").await;
    assert!(stock.to_string().contains("TS-M"), "{stock}");
    assert_eq!(status(&t, b).await, "awaiting_payment");
    let p = payment(&t, b).await;
    assert!(
        p["attention"].as_str().unwrap().contains("入金を確認"),
        "{p}"
    );
    assert!(p["warnings"].to_string().contains("銀行ネット決済"));
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn post_form(t: &TestApp, path: &str, pairs: &[(&str, &str)]) -> (StatusCode, String) {
    let body: String = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = t
        .client
        .post(format!("{}{path}", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A 結果通知 that arrives before juchu's own request has its answer (GMO pushes as it
/// processes; here the answer is held 1.5 s) waits for that request to settle and is taken,
/// not refused as naming an unknown payment.
async fn a_notice_ahead_of_its_answer_waits_for_it(t: TestApp) {
    let n = t.order_paid_by("gmo_konbini").await;
    t.sandbox_control(
        "/faults",
        json!({"gateway": "gmo", "operation": "ExecTranCvs", "kind": "hold_after", "delay_ms": 1500, "times": 1}),
    )
    .await;
    request(&t, n, json!({"store": "00001"})).await;
    let oid = payment(&t, n).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut seen = Value::Null;
    for _ in 0..100 {
        let (_, all) = t.get("/api/v1/payments/notices?per_page=100").await;
        if let Some(x) = all
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["payment_ref"] == oid.as_str())
        {
            seen = x.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!seen.is_null(), "the notice for {oid} was kept");
    assert_ne!(seen["outcome"], "refused", "{seen}");
    let (_, refused) = t.get("/api/v1/payments/notices?refused=true").await;
    assert_eq!(refused.as_array().unwrap().len(), 0, "{refused}");
}

/// Forged, replayed, wrong-amount and unknown-payment notifications are answered (so the
/// sender stops), logged as refused, and change nothing.
async fn bad_notifications_change_nothing(t: TestApp) {
    t.sandbox.notify_to("paygent", None);
    let n = t.order_paid_by("paygent_konbini").await;
    request(&t, n, json!({"store": "00C016"})).await;
    let p = payment(&t, n).await;
    let pid = p["payment_id"].as_str().unwrap().to_owned();
    let tid = p["trading_id"].as_str().unwrap().to_owned();
    let notice = |id: &'static str, amount: &'static str, key: &str| {
        let hc = sha256_hex(&format!("{id}{pid}{tid}03{amount}{key}"));
        vec![
            ("payment_notice_id", id.to_owned()),
            ("payment_id", pid.clone()),
            ("trading_id", tid.clone()),
            ("payment_type", "03".to_owned()),
            ("payment_status", "40".to_owned()),
            ("payment_amount", amount.to_owned()),
            ("hc", hc),
        ]
    };
    let send = |pairs: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            let v: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(t, "/notify/test/paygent", &v).await
        }
    };
    // Forged (wrong key) with the ids genuine notices will have; the wrong amount with the
    // right key.
    for id in ["1", "2", "3"] {
        let (st, body) = send(notice(id, "7660", "not-the-key")).await;
        assert_eq!((st, body.trim()), (StatusCode::OK, "result=0"));
    }
    send(notice("901", "1", "sandbox_hash_key")).await;
    // GMO: someone else's ShopID; an unknown OrderID.
    let (st, body) = post_form(
        &t,
        "/notify/test/gmo",
        &[
            ("ShopID", "tshop99999999"),
            ("OrderID", "x"),
            ("Status", "PAYSUCCESS"),
        ],
    )
    .await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, "0"));
    post_form(
        &t,
        "/notify/test/gmo",
        &[
            ("ShopID", "tshop00000001"),
            ("OrderID", "nobody"),
            ("Status", "PAYSUCCESS"),
        ],
    )
    .await;
    assert_eq!(status(&t, n).await, "awaiting_payment");
    let (_, refused) = t.get("/api/v1/payments/notices?refused=true").await;
    let reasons = refused.to_string();
    assert_eq!(refused.as_array().unwrap().len(), 6, "{refused}");
    assert!(reasons.contains("ハッシュ値"), "{reasons}");
    assert!(reasons.contains("金額"), "{reasons}");
    assert!(reasons.contains("ShopID"), "{reasons}");
    assert!(reasons.contains("該当する決済がありません"), "{reasons}");
    // The genuine notices, whose ids the forged ones claimed, are still taken by the push.
    t.sandbox
        .notify_to("paygent", Some(format!("{}/notify/test/paygent", t.base)));
    t.sandbox_control(&format!("/paygent/{pid}/pay"), json!({}))
        .await;
    wait_status(&t, n, "paid").await;
    // Replays change nothing more.
    let before = t.get(&format!("/api/v1/orders/{n}/history")).await.1;
    for _ in 0..2 {
        for id in ["1", "2", "3"] {
            send(notice(id, "7660", "sandbox_hash_key")).await;
        }
    }
    sync(&t).await;
    let after = t.get(&format!("/api/v1/orders/{n}/history")).await.1;
    assert_eq!(before, after);
}

/// Net bank: the buyer picks a bank on Paygent's page and pays; the notice names the new
/// payment, found by the shop's trading_id.
async fn net_bank_paid_at_the_bank(t: TestApp) {
    let n = t.order_paid_by("paygent_netbank").await;
    request(&t, n, json!({})).await;
    let tid = payment(&t, n).await["trading_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.sandbox_control(
        &format!("/paygent/asp/{tid}/pay"),
        json!({"bank_code": "D036"}),
    )
    .await;
    wait_status(&t, n, "paid").await;
}

/// A payment into an order the operator already cancelled: the order stays as it is and the
/// payment is flagged for the operator.
async fn a_payment_into_a_cancelled_order_is_flagged(t: TestApp) {
    let n = t.order_paid_by("gmo_konbini").await;
    request(&t, n, json!({"store": "00002"})).await;
    let (st, _) = t
        .post(
            &format!("/api/v1/orders/{n}/status"),
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let oid = payment(&t, n).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.sandbox_control(&format!("/gmo/{oid}/pay"), json!({}))
        .await;
    for _ in 0..100 {
        if payment(&t, n).await["state"] == "paid" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let p = payment(&t, n).await;
    assert_eq!(p["state"], "paid");
    assert!(
        p["attention"].as_str().unwrap().contains("キャンセル"),
        "{p}"
    );
    assert_eq!(status(&t, n).await, "cancelled");
}

/// Only what the gateway can do is offered: a GMO Pay-easy number and Paygent's requests
/// cannot be withdrawn (cancel neither shown nor accepted, with the reason); a GMO konbini
/// slip can. 決済状況を確認 of a paid slip makes the order 入金済み, as the notice would.
async fn only_what_the_gateway_can_do_is_offered(t: TestApp) {
    for m in ["gmo_payeasy", "paygent_atm", "paygent_konbini"] {
        let n = t.order_paid_by(m).await;
        request(&t, n, json!({"store": "00C001"})).await;
        let p = payment(&t, n).await;
        assert_eq!(
            p["allowed"],
            json!([{"action": "refresh", "label": "決済状況を確認"}]),
            "{m}: {p}"
        );
        let (st, v) = t
            .post(&format!("/api/v1/orders/{n}/payment/cancel"), json!({}))
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{m}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("取り消せません"),
            "{v}"
        );
    }
    // The push is off: only the button brings the news.
    t.sandbox.notify_to("gmo", None);
    let k = t.order_paid_by("gmo_konbini").await;
    request(&t, k, json!({"store": "00001"})).await;
    let p = payment(&t, k).await;
    assert!(p["allowed"].to_string().contains("cancel"), "{p}");
    let oid = p["payment_id"].as_str().unwrap().to_owned();
    t.sandbox_control(&format!("/gmo/{oid}/pay"), json!({}))
        .await;
    let (st, v) = t
        .post(&format!("/api/v1/orders/{k}/payment/refresh"), json!({}))
        .await;
    assert_eq!(
        (st, v["status"].as_str()),
        (StatusCode::OK, Some("succeeded")),
        "{v}"
    );
    assert!(v["operation_id"].as_i64().unwrap() > 0, "{v}");
    assert_eq!(status(&t, k).await, "paid");
    assert_eq!(payment(&t, k).await["state"], "paid");
}

/// A forged notification neither acts nor shadows the genuine one. A Paidy webhook naming a
/// live payment juchu holds closes nothing, whatever order_ref it claims; one naming a payment
/// Paidy does not know is refused and answered 200 (Paidy would resend an error forever). A
/// GMO 結果通知 sent before the genuine one, with the id the genuine one will carry, is kept
/// unconfirmed — GMO says otherwise — and the genuine push still settles the order at once.
async fn forged_notifications_neither_act_nor_shadow(t: TestApp) {
    let n = t.order_paid_by("paidy").await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/payment"),
            json!({"token": "tok_test"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let pay = payment(&t, n).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook = |body: Value| {
        support::send(
            t.client
                .post(format!("{}/notify/test/paidy", t.base))
                .json(&body),
        )
    };
    for order_ref in ["99999".to_owned(), n.to_string(), String::new()] {
        for status in ["authorize_success", "close_success"] {
            let (st, _) =
                webhook(json!({"payment_id": pay, "status": status, "order_ref": order_ref})).await;
            assert_eq!(st, StatusCode::OK);
        }
    }
    assert_eq!(payment(&t, n).await["state"], "authorized");
    let l = t.ledger().await;
    let at_paidy = l["paidy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == pay.as_str())
        .unwrap();
    assert_eq!(at_paidy["status"], "authorized", "{at_paidy}");
    let (st, _) = webhook(json!({"payment_id": "pay_nosuchpayment", "status": "authorize_success", "order_ref": n.to_string()})).await;
    assert_eq!(st, StatusCode::OK);
    let (_, refused) = t.get("/api/v1/payments/notices?refused=true").await;
    assert!(
        refused.to_string().contains("Paidyにこの決済はありません"),
        "{refused}"
    );

    let k = t.order_paid_by("gmo_konbini").await;
    request(&t, k, json!({"store": "00001"})).await;
    let oid = payment(&t, k).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The clock is frozen: the genuine notice's TranDate is now, in Japan time.
    let forged = [
        ("ShopID", "tshop00000001"),
        ("OrderID", oid.as_str()),
        ("Status", "PAYSUCCESS"),
        ("TranDate", "20240819100000"),
        ("Amount", "7660"),
    ];
    let (st, body) = post_form(&t, "/notify/test/gmo", &forged).await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, "0"));
    assert_eq!(status(&t, k).await, "awaiting_payment");
    let (_, all) = t.get("/api/v1/payments/notices").await;
    assert!(all.to_string().contains("既読にしていません"), "{all}");
    t.sandbox_control(&format!("/gmo/{oid}/pay"), json!({}))
        .await;
    wait_status(&t, k, "paid").await;
}

/// Fuzzing the notification URLs, which anyone can post to: whatever arrives (bytes, forms,
/// JSON, NUL bytes on PostgreSQL), juchu answers without a server error and changes no
/// order. `PROPTEST_CASES` sets how many per URL (default 48).
async fn any_notification_body_is_taken_calmly(t: TestApp) {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    let n = t.order_paid_by("gmo_konbini").await;
    request(&t, n, json!({"store": "00001"})).await;
    let before = (t.counts().await, status(&t, n).await);
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "([a-zA-Z_]{1,20}=[^&]{0,30}&?){0,12}".prop_map(String::into_bytes),
        "(payment_notice_id=[0-9]{0,5}&)?(payment_id=[0-9%]{0,12}&)?(trading_id=[0-9_%]{0,8}&)?(payment_type=0[1-5]&)?(payment_status=[0-9]{2}&)?(payment_amount=[-0-9]{0,9}&)?(hc=[a-f0-9]{0,64})?"
            .prop_map(String::into_bytes),
        "(ShopID=tshop00000001&)?(OrderID=[0-9-]{0,8}(%00)?&)?(Status=[A-Z]{0,12}&)?(TranDate=[0-9%]{0,14}&)?(Amount=[-0-9]{0,9})?"
            .prop_map(String::into_bytes),
        "\\{(\"payment_id\": ?\"(pay_)?[a-z0-9%]{0,12}\",? ?)?(\"status\": ?\"[a-z_]{0,20}\",? ?)?(\"order_ref\": ?\"[0-9]{0,4}\")?\\}"
            .prop_map(String::into_bytes),
    ];
    let cases: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..cases {
        let body = bodies.new_tree(&mut runner).unwrap().current();
        for (gw, kind) in [
            ("paygent", "application/x-www-form-urlencoded"),
            ("gmo", "application/x-www-form-urlencoded"),
            ("paidy", "application/json"),
        ] {
            let r = t
                .client
                .post(format!("{}/notify/test/{gw}", t.base))
                .header("content-type", kind)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert!(
                !r.status().is_server_error(),
                "{gw}: {} for {:?}",
                r.status(),
                String::from_utf8_lossy(&body)
            );
        }
    }
    assert_eq!((t.counts().await, status(&t, n).await), before);
}

/// Anyone can post to the notification URLs: what is kept of a refused notification is
/// bounded, at most 30 a minute from one source are kept, and the list comes a page at a
/// time.
async fn refused_notifications_cannot_fill_the_database(t: TestApp) {
    let big = "9".repeat(1_000_000);
    for i in 0..40 {
        let body = format!("ShopID=tshop99999999&OrderID={big}{i}&Status=PAYSUCCESS");
        let r = t
            .client
            .post(format!("{}/notify/test/gmo", t.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (kept, longest): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(MAX(LENGTH(notice_id) + LENGTH(payment_ref) + LENGTH(reason)), 0) FROM gateway_notices",
    )
    .fetch_one(t.app.store.pool())
    .await
    .unwrap();
    assert_eq!(kept, 30, "at most 30 a minute from one source");
    assert!(longest < 1000, "bounded: {longest}");
    let (st, page) = t
        .get("/api/v1/payments/notices?refused=true&per_page=10&page=2")
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 10);
    assert!(page.to_string().len() < 20_000);
}

both_backends!(
    refused_notifications_cannot_fill_the_database,
    a_notice_ahead_of_its_answer_waits_for_it,
    any_notification_body_is_taken_calmly,
    forged_notifications_neither_act_nor_shadow,
    only_what_the_gateway_can_do_is_offered,
    a_payment_into_a_cancelled_order_is_flagged,
    net_bank_paid_at_the_bank,
    konbini_paid_by_push_and_by_pull,
    paygent_notices_are_taken_once,
    due_dates_cancel_konbini_and_flag_net_bank,
    bad_notifications_change_nothing,
);
