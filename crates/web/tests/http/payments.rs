//! Payment operations through the API against the bundled sandboxes, on SQLite and
//! PostgreSQL: each manual's flow, exactly-once under concurrency and repeats, and faults
//! (lost answers) settled by the recovery job from the gateway's truth. juchu's records are
//! checked against the sandbox's ledger.

use crate::both_backends;
use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestApp, order_json};

const CARD: &str = "4111111111111111";

async fn authorize(t: &TestApp, n: i64, capture: bool) -> Value {
    let body = if t.get(&format!("/api/v1/orders/{n}")).await.1["payment_method"] == "paidy" {
        json!({"token": "tok_test", "capture": capture})
    } else {
        json!({"test_card_number": CARD, "test_card_expire": "3012", "capture": capture})
    };
    let (st, v) = t.post(&format!("/api/v1/orders/{n}/payment"), body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "succeeded", "{v}");
    v
}

async fn op(t: &TestApp, n: i64, action: &str, body: Value) -> (StatusCode, Value) {
    t.post(&format!("/api/v1/orders/{n}/payment/{action}"), body)
        .await
}

/// An operation that must succeed; returns its result.
async fn ok(t: &TestApp, n: i64, action: &str, body: Value) -> Value {
    let (st, v) = op(t, n, action, body).await;
    assert_eq!(st, StatusCode::OK, "{action}: {v}");
    assert_eq!(v["status"], "succeeded", "{action}: {v}");
    v
}

async fn payment(t: &TestApp, n: i64) -> Value {
    let (st, v) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

/// The order's payment id at the gateway now.
async fn payment_id(t: &TestApp, n: i64) -> String {
    payment(t, n).await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn allowed(p: &Value) -> Vec<String> {
    p["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect()
}

/// GMO's processing history of one OrderID: `API:JobCd:result`.
async fn gmo_events(t: &TestApp, order_id: &str) -> Vec<String> {
    let l = t.ledger().await;
    let tr = l["gmo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["order_id"] == order_id)
        .unwrap_or_else(|| panic!("no GMO transaction {order_id}"))
        .clone();
    tr["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}:{}", e["api"], e["job_cd"], e["result"]).replace('"', ""))
        .collect()
}

async fn paygent_payment(t: &TestApp, payment_id: &str) -> Value {
    t.ledger().await["paygent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["payment_id"] == payment_id)
        .unwrap_or_else(|| panic!("no Paygent payment {payment_id}"))
        .clone()
}

async fn fault(t: &TestApp, gateway: &str, operation: &str, kind: &str, delay_ms: u64) {
    t.sandbox_control(
        "/faults",
        json!({"gateway": gateway, "operation": operation, "kind": kind, "delay_ms": delay_ms, "times": 1}),
    )
    .await;
}

async fn history(t: &TestApp, n: i64) -> Vec<String> {
    t.get(&format!("/api/v1/orders/{n}/history"))
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["detail"].as_str().unwrap().to_owned())
        .collect()
}

async fn recover(t: &TestApp) -> Value {
    let (st, v) = t.post("/api/v1/payments/recover", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

/// Seed 000: Paygent — オーソリ変更 down (補正, new payment id), 取引更新 up (new
/// authorization + cancel of the old), 売上確定, 売上変更, キャンセル; fees.
async fn paygent_card_flow(t: TestApp) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    let p = payment(&t, n).await;
    assert_eq!(
        (p["state"].as_str(), p["amount"].as_i64()),
        (Some("authorized"), Some(7660))
    );
    assert_eq!(p["gateway_status"], "20");
    assert_eq!(p["masked_card"], "************1111");
    assert_eq!(
        allowed(&p),
        ["capture", "cancel", "change_authorization", "refresh"]
    );
    let first = p["payment_id"].as_str().unwrap().to_owned();
    // オーソリ変更 down: 028 gives a new payment id; the old one is closed by Paygent.
    let r = ok(&t, n, "change_authorization", json!({"amount": 7000})).await;
    let second = r["payment_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(paygent_payment(&t, &first).await["status"], "32");
    assert_eq!(paygent_payment(&t, &second).await["amount"], 7000);
    // The order's total grows: 取引更新 takes a new authorization and cancels the old.
    t.set_shipping_fee(n, 1000).await; // 8,060円
    let p = payment(&t, n).await;
    assert!(
        allowed(&p).contains(&"update_transaction".to_owned()),
        "{p}"
    );
    assert!(p["warnings"][0].as_str().unwrap().contains("取引更新"));
    let r = ok(&t, n, "update_transaction", json!({})).await;
    let third = r["payment_id"].as_str().unwrap().to_owned();
    assert!(r["message"].as_str().unwrap().contains(&second), "{r}");
    assert_eq!(paygent_payment(&t, &second).await["status"], "32");
    let th = paygent_payment(&t, &third).await;
    assert_eq!(
        (th["status"].as_str(), th["amount"].as_i64()),
        (Some("20"), Some(8060))
    );
    let p = payment(&t, n).await;
    let prev: Vec<(String, String)> = p["previous"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["payment_id"].as_str().unwrap().into(),
                x["standing"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        prev,
        [
            (first.clone(), "closed".into()),
            (second.clone(), "cancelled".into())
        ]
    );
    assert_eq!(
        t.get(&format!("/api/v1/orders/{n}")).await.1["gateway_ref"],
        third.as_str()
    );
    // 売上確定, then 売上変更 down (029), then キャンセル (023).
    ok(&t, n, "capture", json!({})).await;
    assert_eq!(paygent_payment(&t, &third).await["status"], "40");
    let p = payment(&t, n).await;
    assert_eq!(allowed(&p), ["cancel", "change_capture", "refresh"]);
    let r = ok(&t, n, "change_capture", json!({"amount": 8000})).await;
    let fourth = r["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(paygent_payment(&t, &fourth).await["status"], "40");
    assert_eq!(paygent_payment(&t, &third).await["status"], "60");
    ok(&t, n, "cancel", json!({})).await;
    assert_eq!(paygent_payment(&t, &fourth).await["status"], "60");
    let p = payment(&t, n).await;
    assert_eq!(p["state"], "cancelled");
    assert_eq!(allowed(&p), ["refresh"]);
    // Fees: one capture and one cancel at 10円.
    let (_, f) = t.get("/api/v1/payments/fees?month=2024-08").await;
    assert_eq!(
        (f["count"].as_i64(), f["total"].as_i64()),
        (Some(2), Some(20)),
        "{f}"
    );
    let h = history(&t, n).await;
    assert!(
        h.iter().any(|d| d.starts_with("売上確定 8,060円: 成功")),
        "{h:?}"
    );
    // A refused action says why and changes nothing.
    let (st, v) = op(&t, n, "capture", json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("取消"),
        "{v}"
    );
}

/// Seed 001: GMO — 金額変更 (仮売上), 実売上, 取消 (VOID on the same day, RETURNX a month
/// later), 再オーソリ only once the order is no longer キャンセル, 即時売上 orders.
async fn gmo_card_flow(t: TestApp) {
    let n = t.order_paid_by("gmo_card").await;
    authorize(&t, n, false).await;
    let p = payment(&t, n).await;
    let oid = p["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(oid, format!("{n}-1"), "GMO OrderID from the journal");
    ok(
        &t,
        n,
        "change_authorization",
        json!({"amount": 5000, "capture": false}),
    )
    .await;
    let p = payment(&t, n).await;
    assert_eq!(
        (p["state"].as_str(), p["amount"].as_i64()),
        (Some("authorized"), Some(5000))
    );
    ok(&t, n, "capture", json!({})).await;
    // Cancel on the same Japan day: VOID.
    let r = ok(&t, n, "cancel", json!({})).await;
    assert!(r["message"].as_str().unwrap().contains("VOID"), "{r}");
    // The order is cancelled: no re-authorization until its status moves back.
    let (st, _) = t
        .post(
            &format!("/api/v1/orders/{n}/status"),
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let p = payment(&t, n).await;
    assert_eq!(allowed(&p), ["refresh"]);
    let (st, v) = op(&t, n, "reauthorize", json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("キャンセル")
    );
    let (st, _) = t
        .post(
            &format!("/api/v1/orders/{n}/status"),
            json!({"status": "new"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    ok(&t, n, "reauthorize", json!({})).await;
    let p = payment(&t, n).await;
    assert_eq!(
        (p["state"].as_str(), p["amount"].as_i64()),
        (Some("authorized"), Some(7660))
    );
    ok(&t, n, "capture", json!({})).await;
    // A month later a captured payment is 月跨返品.
    t.set_now("2024-09-02T01:00:00Z");
    let r = ok(&t, n, "cancel", json!({})).await;
    assert!(r["message"].as_str().unwrap().contains("RETURNX"), "{r}");
    let ev = gmo_events(&t, &oid).await;
    assert_eq!(
        ev.iter()
            .filter(|e| e.starts_with("AlterTran:SALES:OK"))
            .count(),
        2,
        "{ev:?}"
    );
    // 即時売上: only キャンセル.
    let m = t.order_paid_by("gmo_card").await;
    authorize(&t, m, true).await;
    let p = payment(&t, m).await;
    assert_eq!(
        (p["state"].as_str(), p["mode"].as_str()),
        (Some("captured"), Some("auth_and_capture"))
    );
    assert_eq!(allowed(&p), ["cancel", "refresh"]);
    let (st, v) = op(&t, m, "change_capture", json!({"amount": 100})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("キャンセルのみ"),
        "{v}"
    );
    // No fees for GMO.
    let (_, f) = t.get("/api/v1/payments/fees?month=2024-08").await;
    assert_eq!(f["count"], 0);
}

/// Seed 002: Paidy — 更新 to the order's total (≤ +10%), 売上確定, partial and full
/// 払い戻し, クローズ once the order is キャンセル.
async fn paidy_flow(t: TestApp) {
    let n = t.order_paid_by("paidy").await;
    authorize(&t, n, false).await;
    let p = payment(&t, n).await;
    assert!(p["payment_id"].as_str().unwrap().starts_with("pay_"));
    assert!(p["auth_expires_at"].as_str().is_some());
    assert_eq!(allowed(&p), ["capture", "refresh"]);
    // The total grows within 10%: 更新 is offered, with the warning.
    t.set_shipping_fee(n, 1200).await; // 8,260円
    let p = payment(&t, n).await;
    assert!(allowed(&p).contains(&"paidy_update".to_owned()));
    assert!(p["warnings"][0].as_str().unwrap().contains("更新"), "{p}");
    ok(&t, n, "paidy_update", json!({})).await;
    // 更新 sends the order's contents too: its lines and shipping add up to the amount.
    let pid = payment_id(&t, n).await;
    let l = t.ledger().await;
    let sp = l["paidy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == pid.as_str())
        .unwrap();
    let items = sp["order"]["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], "TS-M");
    let sum: i64 = items
        .iter()
        .map(|i| i["unit_price"].as_i64().unwrap() * i["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(
        sum + sp["order"]["shipping"].as_i64().unwrap(),
        8260,
        "{sp}"
    );
    assert_eq!(sp["amount"], 8260);
    ok(&t, n, "capture", json!({})).await;
    let p = payment(&t, n).await;
    assert_eq!(
        (p["state"].as_str(), p["captured"].as_i64()),
        (Some("captured"), Some(8260))
    );
    // More than captured is refused before anything is sent.
    let (st, v) = op(&t, n, "refund", json!({"amount": 9000})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    ok(&t, n, "refund", json!({"amount": 1000})).await;
    let p = payment(&t, n).await;
    assert_eq!(p["refunded"], 1000);
    ok(&t, n, "refund", json!({})).await;
    let p = payment(&t, n).await;
    assert_eq!(
        (p["state"].as_str(), p["refunded"].as_i64()),
        (Some("refunded"), Some(8260))
    );
    let l = t.ledger().await;
    let pid = p["payment_id"].as_str().unwrap();
    let sp = l["paidy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == pid)
        .unwrap();
    assert_eq!(sp["refunds"].as_array().unwrap().len(), 2);
    // Above +10%: 更新 refused with the reason.
    let m = t.order_paid_by("paidy").await;
    authorize(&t, m, false).await;
    t.set_shipping_fee(m, 2000).await; // +1,400 > 10%
    let (st, v) = op(&t, m, "paidy_update", json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("10%"),
        "{v}"
    );
    // クローズ once cancelled.
    let (st, v) = op(&t, m, "paidy_close", json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    t.post(
        &format!("/api/v1/orders/{m}/status"),
        json!({"status": "cancelled"}),
    )
    .await;
    ok(&t, m, "paidy_close", json!({})).await;
    assert_eq!(payment(&t, m).await["state"], "cancelled");
}

/// 100 concurrent captures of one order (double clicks, no key) capture once; 30 concurrent
/// repeats of one Idempotency-Key (a retrying client) all get the one outcome; the key reused
/// for another request is refused.
async fn exactly_once_under_repeats_and_concurrency(t: TestApp) {
    let send = |n: i64, key: Option<&'static str>| {
        let mut r = t.req(Method::POST, &format!("/api/v1/orders/{n}/payment/capture"));
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        support::send(r)
    };
    let captures_at_gmo = |n: i64| {
        let t = &t;
        async move {
            let oid = payment(t, n).await["payment_id"]
                .as_str()
                .unwrap()
                .to_owned();
            gmo_events(t, &oid)
                .await
                .iter()
                .filter(|e| e.starts_with("AlterTran:SALES"))
                .count()
        }
    };
    let n = t.order_paid_by("gmo_card").await;
    authorize(&t, n, false).await;
    let results = futures_util::future::join_all((0..100).map(|_| send(n, None))).await;
    let won: Vec<&Value> = results
        .iter()
        .filter(|(_, v)| v["status"] == "succeeded")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(won.len(), 1, "one request captured");
    for (st, v) in &results {
        assert!(
            *st == StatusCode::OK || *st == StatusCode::CONFLICT,
            "{st} {v}"
        );
    }
    assert_eq!(
        captures_at_gmo(n).await,
        1,
        "exactly one capture at the gateway"
    );

    let m = t.order_paid_by("gmo_card").await;
    authorize(&t, m, false).await;
    let results =
        futures_util::future::join_all((0..30).map(|_| send(m, Some("capture-once")))).await;
    let ops: std::collections::BTreeSet<i64> = results
        .iter()
        .map(|(st, v)| {
            assert_eq!(
                (*st, v["status"].as_str()),
                (StatusCode::OK, Some("succeeded")),
                "{v}"
            );
            v["operation_id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(ops.len(), 1, "one operation for one key");
    assert_eq!(
        results
            .iter()
            .filter(|(_, v)| v["repeated"] == false)
            .count(),
        1
    );
    assert_eq!(captures_at_gmo(m).await, 1);
    // The key for another operation: refused.
    let (st, v) = support::send(
        t.req(Method::POST, &format!("/api/v1/orders/{m}/payment/cancel"))
            .header("Idempotency-Key", "capture-once"),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "idempotency_key_reused");
}

/// A capture whose answer is lost after GMO committed, a cancel that times out after
/// Paygent committed, and a Paidy capture dropped before it reached Paidy: each stays 確認中
/// (blocking other operations) until the recovery job asks the gateway — which settles the
/// first two as done and the third as not done, sending nothing again.
async fn lost_answers_are_settled_by_asking_the_gateway(t: TestApp) {
    // GMO: dropped after commit.
    let g = t.order_paid_by("gmo_card").await;
    authorize(&t, g, false).await;
    fault(&t, "gmo", "AlterTran", "drop_after", 0).await;
    let (st, v) = op(&t, g, "capture", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "unknown");
    let p = payment(&t, g).await;
    assert_eq!(p["state"], "authorized", "juchu does not guess");
    assert_eq!(allowed(&p), ["refresh"]);
    assert_eq!(p["open_operation"]["status"], "unknown");
    let (st, v) = op(&t, g, "cancel", json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(v["error"]["message"].as_str().unwrap().contains("確認中"));

    // Paygent: the cancel's answer held past the client's timeout.
    let pg = t.order_paid_by("paygent_card").await;
    authorize(&t, pg, false).await;
    fault(&t, "paygent", "021", "hold_after", 4000).await;
    let (st, v) = op(&t, pg, "cancel", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let pid = payment_id(&t, pg).await;

    // Paidy: dropped before it reached Paidy.
    let pd = t.order_paid_by("paidy").await;
    authorize(&t, pd, false).await;
    fault(&t, "paidy", "captures", "drop_before", 0).await;
    let (st, _) = op(&t, pd, "capture", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED);

    // Wait for the held answer to be given (and ignored).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let done = recover(&t).await;
    let by_order = |n: i64| {
        done.as_array()
            .unwrap()
            .iter()
            .find(|r| r["order_number"] == n)
            .unwrap_or_else(|| panic!("order {n} not settled: {done}"))["result"]
            .clone()
    };
    assert_eq!(by_order(g)["status"], "succeeded");
    assert_eq!(by_order(pg)["status"], "succeeded");
    assert_eq!(by_order(pd)["status"], "failed");
    assert!(
        by_order(pd)["message"]
            .as_str()
            .unwrap()
            .contains("行われていません")
    );
    assert_eq!(payment(&t, g).await["state"], "captured");
    assert_eq!(payment(&t, pg).await["state"], "cancelled");
    assert_eq!(payment(&t, pd).await["state"], "authorized");
    // Nothing was sent twice.
    let oid = payment_id(&t, g).await;
    let ev = gmo_events(&t, &oid).await;
    assert_eq!(
        ev.iter().filter(|e| e.starts_with("AlterTran")).count(),
        1,
        "{ev:?}"
    );
    let sp = paygent_payment(&t, &pid).await;
    let cancels = sp["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["telegram_kind"] == "021")
        .count();
    assert_eq!(cancels, 1, "{sp}");
    // Settled: a second run has nothing to do, and operations are open again.
    assert_eq!(recover(&t).await.as_array().unwrap().len(), 0);
    ok(&t, pd, "capture", json!({})).await;
    let h = history(&t, g).await;
    assert!(h.iter().any(|d| d.contains("確認中")), "{h:?}");
    assert!(h.iter().any(|d| d.contains("照会の結果")), "{h:?}");
    // A Paidy authorization whose answer is lost cannot be looked up by the shop's
    // reference: it is closed as unverifiable, telling the operator where to look.
    let a = t.order_paid_by("paidy").await;
    fault(&t, "paidy", "payments", "drop_after", 0).await;
    let (st, _) = t
        .post(
            &format!("/api/v1/orders/{a}/payment"),
            json!({"token": "tok_test"}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let done = recover(&t).await;
    let r = &done[0]["result"];
    assert_eq!(
        (r["status"].as_str(), r["result_code"].as_str()),
        (Some("failed"), Some("unverifiable")),
        "{done}"
    );
    assert!(
        r["message"].as_str().unwrap().contains("Paidyの管理画面"),
        "{r}"
    );
    // The refresh button settles an unknown one too.
    let r = t.order_paid_by("gmo_card").await;
    authorize(&t, r, false).await;
    fault(&t, "gmo", "AlterTran", "drop_after", 0).await;
    op(&t, r, "capture", json!({})).await;
    let v = ok(&t, r, "refresh", json!({})).await;
    assert!(v["message"].as_str().unwrap().contains("売上確定"), "{v}");
    assert_eq!(payment(&t, r).await["state"], "captured");
}

/// An authorization past its capture period (Paygent 60 days, GMO 90, Paidy's expires_at)
/// is 期限切れ — by juchu's clock, or as soon as the gateway refuses a capture for it though
/// juchu still counted it valid — and only what can still be done is offered.
async fn expired_authorizations_are_refused(t: TestApp) {
    let auths: Vec<(i64, &str)> = {
        let mut v = vec![];
        for m in ["paygent_card", "gmo_card", "paidy"] {
            for _ in 0..2 {
                let n = t.order_paid_by(m).await;
                authorize(&t, n, false).await;
                v.push((n, m));
            }
        }
        v
    };
    // The second of each is judged by the gateway alone.
    for (n, _) in auths.iter().skip(1).step_by(2) {
        t.stretch_capture_deadline(*n).await;
    }
    let [(pg, _), (pg2, _), (g, _), (g2, _), (pd, _), (pd2, _)] = auths[..] else {
        unreachable!()
    };
    // 91 days later: every period is over.
    t.set_now("2024-11-18T01:00:00Z");

    // By juchu's clock: 期限切れ, capture neither offered nor sent.
    let p = payment(&t, pg).await;
    assert_eq!(
        (p["state"].as_str(), p["auth_expired"].as_bool()),
        (Some("expired"), Some(true)),
        "{p}"
    );
    assert_eq!(allowed(&p), ["refresh"]);
    assert!(p["warnings"].to_string().contains("再度ご購入"), "{p}");
    let (st, v) = op(&t, pg, "capture", json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("有効期限"),
        "{v}"
    );
    let p = payment(&t, g).await;
    assert_eq!(p["state"], "expired", "{p}");
    // GMO keeps the lapsed AUTH: cancel it, then 再オーソリ takes a new one with the card.
    assert_eq!(allowed(&p), ["cancel", "refresh"]);
    assert!(p["warnings"].to_string().contains("再オーソリ"), "{p}");
    let r = ok(&t, g, "cancel", json!({})).await;
    assert!(r["message"].as_str().unwrap().contains("RETURN"), "{r}");
    assert_eq!(allowed(&payment(&t, g).await), ["reauthorize", "refresh"]);
    ok(&t, g, "reauthorize", json!({})).await;
    let p = payment(&t, g).await;
    assert_eq!(
        (p["state"].as_str(), p["auth_expired"].as_bool()),
        (Some("authorized"), Some(false))
    );
    ok(&t, g, "capture", json!({})).await;
    let p = payment(&t, pd).await;
    assert_eq!(
        (p["state"].as_str(), allowed(&p)),
        (Some("expired"), vec!["refresh".to_owned()])
    );
    t.post(
        &format!("/api/v1/orders/{pd}/status"),
        json!({"status": "cancelled"}),
    )
    .await;
    assert_eq!(allowed(&payment(&t, pd).await), ["paidy_close", "refresh"]);

    // By the gateway's refusal: the payment becomes 期限切れ and stays so, though GMO and
    // Paidy still report it authorized.
    for (n, code) in [
        (pg2, "2007"),
        (g2, "E01420010"),
        (pd2, "payment.invalid_state"),
    ] {
        assert_eq!(payment(&t, n).await["state"], "authorized");
        let (st, v) = op(&t, n, "capture", json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(
            (v["status"].as_str(), v["result_code"].as_str()),
            (Some("failed"), Some(code)),
            "{v}"
        );
        let p = payment(&t, n).await;
        assert_eq!(p["state"], "expired", "{p}");
        assert!(!allowed(&p).contains(&"capture".to_owned()), "{p}");
        ok(&t, n, "refresh", json!({})).await;
        assert_eq!(payment(&t, n).await["state"], "expired", "{n}");
    }
    assert_eq!(payment(&t, pg2).await["gateway_status"], "33");
    assert_eq!(payment(&t, g2).await["gateway_status"], "AUTH");
    assert_eq!(allowed(&payment(&t, g2).await), ["cancel", "refresh"]);
}

/// Automatic order status after payment operations (a shop setting, off by default).
async fn auto_status_after_capture_and_cancel(t: TestApp) {
    let n = t.order_paid_by("gmo_card").await;
    authorize(&t, n, false).await;
    ok(&t, n, "capture", json!({})).await;
    assert_eq!(
        t.get(&format!("/api/v1/orders/{n}")).await.1["status"],
        "new"
    );
    let (st, v) = support::send(
        t.req(Method::PUT, "/api/v1/shop/payment-settings")
            .json(&json!({"auto_status": true, "paygent_fee": 12})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let m = t.order_paid_by("paygent_card").await;
    authorize(&t, m, false).await;
    ok(&t, m, "capture", json!({})).await;
    assert_eq!(
        t.get(&format!("/api/v1/orders/{m}")).await.1["status"],
        "paid"
    );
    ok(&t, m, "cancel", json!({})).await;
    let o = t.get(&format!("/api/v1/orders/{m}")).await.1;
    assert_eq!(o["status"], "cancelled");
    let (_, f) = t.get("/api/v1/payments/fees?month=2024-08").await;
    assert_eq!(f["total"], 24);
    // Operators may not change shop settings.
    let (st, _) = support::send(
        t.client
            .put(format!("{}/api/v1/shop/payment-settings", t.base))
            .bearer_auth(&t.operator_token)
            .json(&json!({"auto_status": false, "paygent_fee": 0})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = t.get("/api/v1/payments/fees?month=2024-13").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A Paygent increase whose second step (cancel of the old authorization) fails is shown
/// half-done, and 旧取引を取消 finishes it.
async fn a_two_step_change_stopped_half_way_is_shown_and_finished(t: TestApp) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    let old = payment_id(&t, n).await;
    fault(&t, "paygent", "021", "server_error", 0).await;
    let (st, v) = op(&t, n, "change_authorization", json!({"amount": 9000})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "partial");
    assert!(
        v["message"].as_str().unwrap().contains("旧取引を取消"),
        "{v}"
    );
    let p = payment(&t, n).await;
    assert_eq!(p["amount"], 9000);
    assert!(allowed(&p).contains(&"cancel_previous".to_owned()));
    assert!(p["warnings"].to_string().contains("取消が済んでいません"));
    assert_eq!(
        paygent_payment(&t, &old).await["status"],
        "20",
        "the old one still holds"
    );
    ok(&t, n, "cancel_previous", json!({})).await;
    assert_eq!(paygent_payment(&t, &old).await["status"], "32");
    let p = payment(&t, n).await;
    assert!(!allowed(&p).contains(&"cancel_previous".to_owned()));
    assert_eq!(p["previous"][0]["standing"], "cancelled");
}

/// Bad input and missing things get clear errors and change nothing.
async fn bad_requests_are_refused_clearly(t: TestApp) {
    let n = t.order_paid_by("gmo_card").await;
    let (st, _) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // An operation on an order without a payment: refused with the reason, not "not found".
    for action in ["capture", "refresh"] {
        let (st, v) = op(&t, n, action, json!({})).await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["code"], "no_payment", "{v}");
    }
    let (st, v) = op(&t, n, "explode", json!({})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = t
        .post(&format!("/api/v1/orders/{n}/payment"), json!({}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // A declined card: failed with GMO's code, no payment kept, the attempt in the history.
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/payment"),
            json!({"test_card_number": "4111111111118212", "test_card_expire": "3012"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["status"].as_str(), v["result_code"].as_str()),
        (Some("failed"), Some("G12")),
        "{v}"
    );
    let (st, _) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(history(&t, n).await[0].contains("G12"));
    // A second card works; a third authorization is refused.
    authorize(&t, n, false).await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/payment"),
            json!({"test_card_number": CARD, "test_card_expire": "3012"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, v) = op(&t, n, "change_authorization", json!({"amount": 7660})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = op(&t, n, "change_authorization", json!({"amount": -5})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = op(&t, n, "capture", json!({"expected_version": 99})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "stale_version");
    // Not a card order.
    let mut o = order_json();
    o["payment_method"] = json!("bank_transfer");
    let b = t.import(o).await["number"].as_i64().unwrap();
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{b}/payment"),
            json!({"test_card_number": CARD, "test_card_expire": "3012"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
}

/// Seed 004 §7-3/§7-4: the panel warns when the payment's state and the order's list
/// disagree, and Paygent's capture waits until the amounts agree.
async fn the_panel_warns_when_payment_and_order_disagree(t: TestApp) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    t.set_shipping_fee(n, 900).await;
    let (st, v) = op(&t, n, "capture", json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("取引更新"),
        "{v}"
    );
    ok(&t, n, "update_transaction", json!({})).await;
    ok(&t, n, "capture", json!({})).await;
    t.post(
        &format!("/api/v1/orders/{n}/status"),
        json!({"status": "cancelled"}),
    )
    .await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/move"),
            json!({"list": "cancelled"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let p = payment(&t, n).await;
    assert!(
        p["warnings"].to_string().contains("購入者に請求されます"),
        "{p}"
    );
    ok(&t, n, "cancel", json!({})).await;
    assert!(
        !payment(&t, n).await["warnings"]
            .to_string()
            .contains("請求されます")
    );
}

/// Two recovery runs at once (two processes sharing the database) settle an operation once:
/// one history line, one fee.
async fn two_recoveries_at_once_settle_once(t: TestApp) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    fault(&t, "paygent", "022", "drop_after", 0).await;
    let (st, _) = op(&t, n, "capture", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (a, b) = tokio::join!(
        support::send(t.req(Method::POST, "/api/v1/payments/recover")),
        support::send(t.req(Method::POST, "/api/v1/payments/recover")),
    );
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK));
    let settled = history(&t, n)
        .await
        .iter()
        .filter(|d| d.contains("照会の結果"))
        .count();
    assert_eq!(settled, 1);
    assert_eq!(payment(&t, n).await["state"], "captured");
    let (_, f) = t.get("/api/v1/payments/fees?month=2024-08").await;
    assert_eq!(f["count"], 1, "{f}");
}

/// Paygent payments of order `n` at the sandbox (every trading_id juchu made for it is
/// `{n}_{operation}`): (payment_id, status, amount).
async fn paygent_payments_of(t: &TestApp, n: i64) -> Vec<(String, String, i64)> {
    let prefix = format!("{n}_");
    t.ledger().await["paygent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["trading_id"].as_str().unwrap().starts_with(&prefix))
        .map(|x| {
            (
                x["payment_id"].as_str().unwrap().to_owned(),
                x["status"].as_str().unwrap().to_owned(),
                x["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// `action` on order `n`, sent `times` times at once without a key (double clicks, a client
/// retrying in parallel): exactly one runs; the others are refused (409, or 422 once the
/// amount is already the new one) — never a 500. Returns the one result.
async fn once_of_many(t: &TestApp, n: i64, action: &str, body: Value, times: usize) -> Value {
    let results = futures_util::future::join_all((0..times).map(|_| {
        support::send(
            t.req(
                Method::POST,
                &format!("/api/v1/orders/{n}/payment/{action}"),
            )
            .json(&body),
        )
    }))
    .await;
    let mut won = vec![];
    for (st, v) in results {
        match st {
            StatusCode::OK if v["status"] == "succeeded" => won.push(v),
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {}
            _ => panic!("{action} on {n}: {st} {v}"),
        }
    }
    assert_eq!(won.len(), 1, "{action} on {n}: one of {times} ran: {won:?}");
    won.remove(0)
}

/// Every operation that changes an amount, on each gateway, sent ten times at once: one
/// runs and the gateway's ledger agrees with juchu afterwards. On PostgreSQL a transaction
/// that locked the payment before its order once deadlocked here and left a second Paygent
/// authorization juchu did not know of (the buyer charged twice).
async fn amount_changes_run_once_under_parallel_repeats(t: TestApp) {
    // Paygent up (取引更新): one new authorization of the new total, the old one cancelled.
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    t.set_shipping_fee(n, 1920).await; // 7,660 → 8,980
    let r = once_of_many(&t, n, "update_transaction", json!({}), 10).await;
    let live = r["payment_id"].as_str().unwrap().to_owned();
    let at = paygent_payments_of(&t, n).await;
    assert_eq!(at.len(), 2, "{at:?}");
    assert!(at.contains(&(live.clone(), "20".into(), 8980)), "{at:?}");
    assert_eq!(at.iter().filter(|p| p.1 == "32").count(), 1, "{at:?}");
    let p = payment(&t, n).await;
    assert_eq!(
        (p["payment_id"].as_str(), p["amount"].as_i64()),
        (Some(live.as_str()), Some(8980))
    );
    assert!(p["open_operation"].is_null(), "{p}");
    // Paygent up after capture (売上変更): the new payment captured, the old one's sale
    // cancelled.
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    ok(&t, n, "capture", json!({})).await;
    let r = once_of_many(&t, n, "change_capture", json!({"amount": 9000}), 10).await;
    let live = r["payment_id"].as_str().unwrap().to_owned();
    let at = paygent_payments_of(&t, n).await;
    assert_eq!(at.len(), 2, "{at:?}");
    assert!(at.contains(&(live, "40".into(), 9000)), "{at:?}");
    assert_eq!(at.iter().filter(|p| p.1 == "60").count(), 1, "{at:?}");
    assert_eq!(payment(&t, n).await["captured"], 9000);
    // Paygent down (補正 028): one new payment.
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    let r = once_of_many(&t, n, "change_authorization", json!({"amount": 7000}), 10).await;
    let at = paygent_payments_of(&t, n).await;
    assert_eq!(at.len(), 2, "{at:?}");
    assert!(
        at.contains(&(
            r["payment_id"].as_str().unwrap().to_owned(),
            "20".into(),
            7000
        )),
        "{at:?}"
    );
    // GMO: one ChangeTran before capture, one after.
    let n = t.order_paid_by("gmo_card").await;
    authorize(&t, n, false).await;
    once_of_many(&t, n, "change_authorization", json!({"amount": 9100}), 10).await;
    ok(&t, n, "capture", json!({})).await;
    once_of_many(&t, n, "change_capture", json!({"amount": 8800}), 10).await;
    let oid = payment_id(&t, n).await;
    let ev = gmo_events(&t, &oid).await;
    assert_eq!(
        ev.iter().filter(|e| e.starts_with("ChangeTran")).count(),
        2,
        "{ev:?}"
    );
    let p = payment(&t, n).await;
    assert_eq!(
        (p["state"].as_str(), p["amount"].as_i64()),
        (Some("captured"), Some(8800))
    );
    // Paidy: one 更新, one partial refund.
    let n = t.order_paid_by("paidy").await;
    authorize(&t, n, false).await;
    t.set_shipping_fee(n, 1200).await;
    once_of_many(&t, n, "paidy_update", json!({}), 10).await;
    ok(&t, n, "capture", json!({})).await;
    // A partial refund is a new operation each time it is asked for: repeats of one request
    // carry its key, and run once.
    let results = futures_util::future::join_all((0..10).map(|_| {
        support::send(
            t.req(Method::POST, &format!("/api/v1/orders/{n}/payment/refund"))
                .header("Idempotency-Key", "refund-1000")
                .json(&json!({"amount": 1000})),
        )
    }))
    .await;
    let ids: std::collections::BTreeSet<i64> = results
        .iter()
        .map(|(st, v)| {
            assert_eq!(
                (*st, v["status"].as_str()),
                (StatusCode::OK, Some("succeeded")),
                "{v}"
            );
            v["operation_id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    let pid = payment_id(&t, n).await;
    let l = t.ledger().await;
    let sp = l["paidy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == pid.as_str())
        .unwrap()
        .clone();
    assert_eq!(sp["amount"], 8260, "{sp}");
    assert_eq!(sp["refunds"].as_array().unwrap().len(), 1, "{sp}");
    assert_eq!(payment(&t, n).await["refunded"], 1000);
    // 決済状況を確認 pressed while an increase runs: no request deadlocks or fails.
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    t.set_shipping_fee(n, 1920).await;
    let results = futures_util::future::join_all((0..12).map(|i| {
        let action = if i % 2 == 0 {
            "refresh"
        } else {
            "update_transaction"
        };
        support::send(t.req(
            Method::POST,
            &format!("/api/v1/orders/{n}/payment/{action}"),
        ))
    }))
    .await;
    for (st, v) in &results {
        assert!(
            [StatusCode::OK, StatusCode::ACCEPTED, StatusCode::CONFLICT].contains(st),
            "{st} {v}"
        );
    }
    // Whichever ran, juchu shows the one authorization Paygent holds.
    let at = paygent_payments_of(&t, n).await;
    let live: Vec<_> = at.iter().filter(|p| p.1 == "20").collect();
    assert_eq!(live.len(), 1, "{at:?}");
    let p = payment(&t, n).await;
    assert_eq!(
        (p["payment_id"].as_str(), p["amount"].as_i64()),
        (Some(live[0].0.as_str()), Some(live[0].2)),
        "{results:?}"
    );
}

/// A Paygent increase whose new authorization was made but whose answer was lost: the
/// recovery job finds it under the operation's own reference, makes it the payment's and
/// cancels the old one — nothing is authorized twice, nothing is sent again.
async fn a_lost_paygent_increase_is_found_and_finished(t: TestApp) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    let old = payment_id(&t, n).await;
    fault(&t, "paygent", "020", "drop_after", 0).await;
    let (st, v) = op(&t, n, "change_authorization", json!({"amount": 9500})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "unknown", "{v}");
    let at = paygent_payments_of(&t, n).await;
    assert_eq!(
        at.iter().filter(|p| p.1 == "20").count(),
        2,
        "both held: {at:?}"
    );
    let done = recover(&t).await;
    assert_eq!(done[0]["result"]["status"], "succeeded", "{done}");
    let at = paygent_payments_of(&t, n).await;
    assert_eq!(at.len(), 2, "no third authorization: {at:?}");
    assert!(at.contains(&(old.clone(), "32".into(), 7660)), "{at:?}");
    let new = at.iter().find(|p| p.0 != old).unwrap().clone();
    assert_eq!((new.1.as_str(), new.2), ("20", 9500));
    let p = payment(&t, n).await;
    assert_eq!(
        (p["payment_id"].as_str(), p["amount"].as_i64()),
        (Some(new.0.as_str()), Some(9500))
    );
    assert_eq!(p["previous"][0]["standing"], "cancelled", "{p}");
    // The order still says 7,660円: the panel says so and offers 取引更新 back.
    assert_eq!(
        allowed(&p),
        [
            "cancel",
            "change_authorization",
            "update_transaction",
            "refresh"
        ]
    );
    // A declined increase (the card no longer authorizes) is found as not done.
    let m = t.order_paid_by("paygent_card").await;
    authorize(&t, m, false).await;
    fault(&t, "paygent", "020", "drop_before", 0).await;
    let (st, _) = op(&t, m, "change_authorization", json!({"amount": 9500})).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let done = recover(&t).await;
    assert_eq!(done[0]["result"]["status"], "failed", "{done}");
    assert_eq!(paygent_payments_of(&t, m).await.len(), 1);
    assert_eq!(payment(&t, m).await["amount"], 7660);
}

/// Each answer of the payment routes — the statuses a client meets, success and error — is
/// one the OpenAPI document lists for that operation, with an error body that names its
/// code; `{action}` is an enum of the operations; bad JSON gets one code everywhere; an
/// amount past the gateway's ceiling names the ceiling; the order JSON and the order list
/// carry the payment's state.
async fn answers_are_what_the_openapi_document_says(t: TestApp) {
    let (_, doc) = support::send(t.client.get(format!("{}/api/openapi.json", t.base))).await;
    let seen = std::cell::RefCell::new(Vec::<(String, &str, u16)>::new());
    let check = |method: &str, template: &'static str, st: StatusCode, v: &Value| {
        let r = &doc["paths"][template][method]["responses"][st.as_u16().to_string()];
        assert!(
            r.is_object(),
            "{method} {template} answered {st}, undocumented: {v}"
        );
        if !st.is_success() {
            assert!(v["error"]["code"].is_string(), "{st}: {v}");
        }
        seen.borrow_mut()
            .push((method.to_owned(), template, st.as_u16()));
    };
    const AUTH: &str = "/api/v1/orders/{number}/payment";
    const OP: &str = "/api/v1/orders/{number}/payment/{action}";
    let raw = |method: Method, path: String, body: &'static str| {
        support::send(
            t.req(method, &path)
                .header("content-type", "application/json")
                .body(body),
        )
    };
    let n = t.order_paid_by("gmo_card").await;
    // Before a payment.
    let (st, v) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    check("get", AUTH, st, &v);
    let (st, v) = op(&t, n, "capture", json!({})).await;
    check("post", OP, st, &v);
    assert_eq!(v["error"]["code"], "no_payment");
    for path in [
        format!("/api/v1/orders/{n}/payment"),
        format!("/api/v1/orders/{n}/payment/capture"),
    ] {
        let template = if path.ends_with("payment") { AUTH } else { OP };
        let (st, v) = raw(Method::POST, path.clone(), "{\"amount\": ").await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("malformed_json")),
            "{path}"
        );
        check("post", template, st, &v);
        let (st, v) = raw(
            Method::POST,
            path.clone(),
            "{\"amount\": \"many\", \"capture\": \"yes\"}",
        )
        .await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_json")),
            "{path}: {v}"
        );
        check("post", template, st, &v);
        let (st, v) =
            support::send(t.client.post(format!("{}{path}", t.base)).json(&json!({}))).await;
        check("post", template, st, &v);
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, v) = t
        .post(
            "/api/v1/orders/99999/payment",
            json!({"test_card_number": CARD}),
        )
        .await;
    check("post", AUTH, st, &v);
    let (st, v) = op(&t, 99999, "capture", json!({})).await;
    check("post", OP, st, &v);
    let (st, v) = t
        .post(&format!("/api/v1/orders/{n}/payment"), json!({}))
        .await;
    check("post", AUTH, st, &v);
    // Authorized; then the answers of an operation.
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/payment"),
            json!({"test_card_number": CARD, "test_card_expire": "3012"}),
        )
        .await;
    check("post", AUTH, st, &v);
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/payment"),
            json!({"test_card_number": CARD, "test_card_expire": "3012"}),
        )
        .await;
    check("post", AUTH, st, &v);
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, v) = op(
        &t,
        n,
        "change_authorization",
        json!({"amount": 1_000_000_000_000i64}),
    )
    .await;
    check("post", OP, st, &v);
    assert!(
        v["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("9,999,999円以下"),
        "{v}"
    );
    let (st, v) = op(&t, n, "explode", json!({})).await;
    check("post", OP, st, &v);
    let (st, v) = op(&t, n, "refresh", json!({})).await;
    check("post", OP, st, &v);
    assert!(v["operation_id"].as_i64().unwrap() > 0, "{v}");
    fault(&t, "gmo", "AlterTran", "drop_after", 0).await;
    let (st, v) = op(&t, n, "capture", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    check("post", OP, st, &v);
    let (st, v) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    check("get", AUTH, st, &v);
    let m = t.order_paid_by("gmo_card").await;
    fault(&t, "gmo", "ExecTran", "drop_after", 0).await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{m}/payment"),
            json!({"test_card_number": CARD, "test_card_expire": "3012"}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    check("post", AUTH, st, &v);
    let codes: std::collections::BTreeSet<u16> = seen.borrow().iter().map(|x| x.2).collect();
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        [200, 202, 400, 401, 404, 409, 422]
    );
    // {action} is an enum of exactly the operations.
    let schema = doc["paths"][OP]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "action")
        .unwrap()["schema"]
        .clone();
    let schema = match schema["$ref"].as_str() {
        Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
        None => schema,
    };
    fn enum_values(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(e)) = m.get("enum") {
                    out.extend(e.iter().filter_map(|x| x.as_str().map(str::to_owned)));
                }
                m.values().for_each(|x| enum_values(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| enum_values(x, out)),
            _ => {}
        }
    }
    let mut listed = vec![];
    enum_values(&schema, &mut listed);
    let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
    assert!(
        listed.contains(&"capture") && listed.contains(&"cancel_previous") && listed.len() == 11,
        "{listed:?}"
    );
    // The order and the order list carry the payment at a glance.
    recover(&t).await;
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(
        (o["number"].as_i64(), o["payment"]["state"].as_str()),
        (Some(n), Some("captured")),
        "{o}"
    );
    let (_, list) = t.get("/api/v1/orders?per_page=100").await;
    let row = |k: i64| {
        list["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["number"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(row(n)["payment"]["state"], "captured");
    assert_eq!(row(n)["payment"]["state_label"], "売上確定");
    // The lost authorization was found by the recovery above; an order not yet paid has
    // `null`.
    assert_eq!(row(m)["payment"]["state"], "authorized");
    let k = t.order_paid_by("gmo_card").await;
    let (_, list) = t.get("/api/v1/orders?per_page=100").await;
    let none = list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["number"] == k)
        .unwrap();
    assert!(none["payment"].is_null(), "{none}");
}

/// Seed 004 §7-4 ①-2 / ②-2 / ④-1: an operator's change on a gateway's own screen — capture,
/// cancel, an amount change, Paygent's 補正 (a new payment id) — is read back by 決済状況を
/// 確認: juchu ends holding the gateway's truth, says what changed and what to do, and offers
/// what fits it.
async fn changes_made_on_the_gateways_screens_are_read_back(t: TestApp) {
    let refresh = |n: i64| {
        let t = &t;
        async move { ok(t, n, "refresh", json!({})).await }
    };
    // Paygent 補正 down on its console: a new payment id, the old one closed.
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    let old = payment_id(&t, n).await;
    let r = support::send(
        t.client
            .post(format!("{}/_sandbox/paygent/{old}/admin", t.base))
            .json(&json!({"action": "amount", "amount": 7000})),
    )
    .await
    .1;
    let new = r["payment_id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let v = refresh(n).await;
    assert!(v["message"].as_str().unwrap().contains(&new), "{v}");
    let p = payment(&t, n).await;
    assert_eq!(
        (
            p["payment_id"].as_str(),
            p["state"].as_str(),
            p["amount"].as_i64()
        ),
        (Some(new.as_str()), Some("authorized"), Some(7000)),
        "{p}"
    );
    assert_eq!(p["previous"][0]["payment_id"], old.as_str());
    assert_eq!(p["previous"][0]["standing"], "closed");
    assert!(p["attention"].as_str().unwrap().contains("補正"), "{p}");
    assert!(p["warnings"][0].as_str().unwrap().contains("補正"), "{p}");
    assert!(
        p["warnings"][1]
            .as_str()
            .unwrap()
            .contains("受注金額を決済金額に合わせる"),
        "{p}"
    );
    // Capture waits until the amounts agree; 取引更新 puts the order's amount back.
    assert!(!allowed(&p).contains(&"capture".to_owned()), "{p}");
    ok(&t, n, "update_transaction", json!({})).await;
    let p = payment(&t, n).await;
    assert_eq!(
        (p["amount"].as_i64(), p["attention"].as_str()),
        (Some(7660), Some("")),
        "{p}"
    );
    let live: Vec<_> = paygent_payments_of(&t, n)
        .await
        .into_iter()
        .filter(|x| x.1 == "20")
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].0, p["payment_id"].as_str().unwrap());
    // Paygent capture, then a 補正売上 on its console; then a cancel there.
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    let id = payment_id(&t, n).await;
    t.sandbox_control(
        &format!("/paygent/{id}/admin"),
        json!({"action": "capture"}),
    )
    .await;
    refresh(n).await;
    let p = payment(&t, n).await;
    assert_eq!(p["state"], "captured");
    assert!(
        p["attention"]
            .as_str()
            .unwrap()
            .contains("売上確定されました"),
        "{p}"
    );
    assert_eq!(allowed(&p), ["cancel", "change_capture", "refresh"]);
    let r = support::send(
        t.client
            .post(format!("{}/_sandbox/paygent/{id}/admin", t.base))
            .json(&json!({"action": "amount", "amount": 6000})),
    )
    .await
    .1;
    let sold = r["payment_id"].as_str().unwrap().to_owned();
    refresh(n).await;
    let p = payment(&t, n).await;
    assert_eq!(
        (
            p["payment_id"].as_str(),
            p["state"].as_str(),
            p["captured"].as_i64()
        ),
        (Some(sold.as_str()), Some("captured"), Some(6000)),
        "{p}"
    );
    t.sandbox_control(
        &format!("/paygent/{sold}/admin"),
        json!({"action": "cancel"}),
    )
    .await;
    refresh(n).await;
    let p = payment(&t, n).await;
    assert_eq!(
        (p["payment_id"].as_str(), p["state"].as_str()),
        (Some(sold.as_str()), Some("cancelled"))
    );
    assert!(
        p["attention"]
            .as_str()
            .unwrap()
            .contains("取り消されました"),
        "{p}"
    );
    assert_eq!(allowed(&p), ["refresh"]);
    // GMO: an amount change, a capture, a cancel on its screen.
    let g = t.order_paid_by("gmo_card").await;
    authorize(&t, g, false).await;
    let oid = payment_id(&t, g).await;
    t.sandbox_control(
        &format!("/gmo/{oid}/admin"),
        json!({"action": "change_amount", "amount": 7000}),
    )
    .await;
    refresh(g).await;
    let p = payment(&t, g).await;
    assert_eq!(
        (p["state"].as_str(), p["amount"].as_i64()),
        (Some("authorized"), Some(7000))
    );
    assert!(
        p["attention"]
            .as_str()
            .unwrap()
            .contains("7,660円 → 7,000円"),
        "{p}"
    );
    t.sandbox_control(&format!("/gmo/{oid}/admin"), json!({"action": "capture"}))
        .await;
    refresh(g).await;
    assert_eq!(payment(&t, g).await["state"], "captured");
    t.sandbox_control(&format!("/gmo/{oid}/admin"), json!({"action": "cancel"}))
        .await;
    refresh(g).await;
    let p = payment(&t, g).await;
    assert_eq!(p["state"], "cancelled", "{p}");
    assert_eq!(allowed(&p), ["reauthorize", "refresh"]);
    // Paidy: captured, and another closed, on its dashboard.
    let pd = t.order_paid_by("paidy").await;
    authorize(&t, pd, false).await;
    let pid = payment_id(&t, pd).await;
    t.sandbox_control(&format!("/paidy/{pid}/capture"), json!({}))
        .await;
    refresh(pd).await;
    let p = payment(&t, pd).await;
    assert_eq!(
        (p["state"].as_str(), p["captured"].as_i64()),
        (Some("captured"), Some(7660))
    );
    assert_eq!(allowed(&p), ["refund", "refresh"]);
    let pc = t.order_paid_by("paidy").await;
    authorize(&t, pc, false).await;
    let pid = payment_id(&t, pc).await;
    t.sandbox_control(&format!("/paidy/{pid}/close"), json!({}))
        .await;
    refresh(pc).await;
    let p = payment(&t, pc).await;
    assert_eq!(p["state"], "cancelled");
    assert!(
        p["attention"]
            .as_str()
            .unwrap()
            .contains("取り消されました"),
        "{p}"
    );
    // Nothing changed: a second look adds no note.
    let h = history(&t, pc).await;
    refresh(pc).await;
    assert_eq!(history(&t, pc).await.len(), h.len() + 1);
}

/// A Paygent 補正 whose answer was lost: the recovery job finds the new payment id from
/// Paygent's notifications and settles it as done.
async fn a_lost_amendment_is_found_from_paygents_notices(t: TestApp) {
    let n = t.order_paid_by("paygent_card").await;
    authorize(&t, n, false).await;
    let old = payment_id(&t, n).await;
    fault(&t, "paygent", "028", "drop_after", 0).await;
    let (st, _) = op(&t, n, "change_authorization", json!({"amount": 7000})).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let done = recover(&t).await;
    assert_eq!(done[0]["result"]["status"], "succeeded", "{done}");
    let p = payment(&t, n).await;
    assert_ne!(p["payment_id"], old.as_str());
    let msg = done[0]["result"]["message"].as_str().unwrap();
    assert!(msg.contains(p["payment_id"].as_str().unwrap()), "{msg}");
    assert_eq!(
        (p["state"].as_str(), p["amount"].as_i64()),
        (Some("authorized"), Some(7000))
    );
    assert_eq!(p["previous"][0]["payment_id"], old.as_str());
}

/// Seed 004 §7-4 ①-5: after the shop's GMO ShopID changes, a payment made under the old one
/// is not operated through the new one — refused with both IDs named, nothing sent — while
/// a payment without a remembered merchant (Paidy) is unaffected.
async fn a_payment_of_an_earlier_merchant_is_not_operated(t: TestApp) {
    let n = t.order_paid_by("gmo_card").await;
    authorize(&t, n, false).await;
    let before = t.ledger().await["gmo"].to_string();
    let (st, v) = support::send(
        t.req(reqwest::Method::PUT, "/api/v1/shop/gateway-credentials/gmo")
            .json(&json!({"shop_id": "tshop00099999", "shop_pass": "sandbox2",
                "site_id": "tsite00000001", "site_pass": "sandbox1"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for action in ["capture", "cancel", "refresh"] {
        let (st, v) = op(&t, n, action, json!({})).await;
        assert_eq!(st, StatusCode::CONFLICT, "{action}: {v}");
        assert_eq!(v["error"]["code"], "merchant_changed", "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("tshop00000001") && m.contains("tshop00099999"),
            "{m}"
        );
    }
    assert_eq!(
        t.ledger().await["gmo"].to_string(),
        before,
        "nothing reached GMO"
    );
    assert_eq!(payment(&t, n).await["state"], "authorized");
    let pd = t.order_paid_by("paidy").await;
    authorize(&t, pd, false).await;
    assert_eq!(
        ok(&t, pd, "capture", json!({})).await["status"],
        "succeeded"
    );
}

both_backends!(
    a_payment_of_an_earlier_merchant_is_not_operated,
    changes_made_on_the_gateways_screens_are_read_back,
    a_lost_amendment_is_found_from_paygents_notices,
    answers_are_what_the_openapi_document_says,
    amount_changes_run_once_under_parallel_repeats,
    a_lost_paygent_increase_is_found_and_finished,
    two_recoveries_at_once_settle_once,
    the_panel_warns_when_payment_and_order_disagree,
    paygent_card_flow,
    gmo_card_flow,
    paidy_flow,
    exactly_once_under_repeats_and_concurrency,
    lost_answers_are_settled_by_asking_the_gateway,
    expired_authorizations_are_refused,
    auto_status_after_capture_and_cancel,
    a_two_step_change_stopped_half_way_is_shown_and_finished,
    bad_requests_are_refused_clearly,
);
