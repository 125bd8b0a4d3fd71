//! 一括処理 through the API on SQLite and PostgreSQL: a run over many orders gives each
//! order its own result, reaches the gateway once per success, is started once per key,
//! resumes what a vanished worker left, and can be stopped.

use crate::both_backends;
use crate::support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestApp;

async fn start(t: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    support::send(
        t.req(reqwest::Method::POST, "/api/v1/payments/bulk")
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await
}

/// The run once it has ended.
async fn finished(t: &TestApp, id: i64) -> Value {
    for _ in 0..600 {
        let (st, v) = t.get(&format!("/api/v1/payments/bulk/{id}")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        if v["state"] == "done" || v["state"] == "stopped" {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("bulk run {id} did not end");
}

async fn items(t: &TestApp, id: i64) -> Vec<Value> {
    let (st, v) = t.get(&format!("/api/v1/payments/bulk/{id}/items")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

fn result_of(items: &[Value], n: i64) -> Value {
    items
        .iter()
        .find(|i| i["order_number"] == n)
        .unwrap_or_else(|| panic!("no item for order {n}"))
        .clone()
}

/// GMO captures (AlterTran SALES) the sandbox took, over all its transactions.
async fn gmo_sales(t: &TestApp) -> usize {
    t.ledger().await["gmo"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|tr| tr["history"].as_array().unwrap().clone())
        .filter(|e| e["api"] == "AlterTran" && e["job_cd"] == "SALES" && e["result"] == "OK")
        .count()
}

/// Captures recorded by juchu's journal for order `n` (succeeded ones).
async fn captures_of(t: &TestApp, n: i64) -> usize {
    let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
    p["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "capture" && o["status"] == "succeeded")
        .count()
}

/// Seed 004 §8: a bulk 売上確定 over a hundred and fifty card and Paidy orders, some of
/// which cannot be captured (cancelled, lapsed by juchu's clock or by the gateway's, total
/// changed, no payment) — each gets its own result, the same start twice is one run, every
/// success is one capture at the gateway, and each order's 変更履歴 has its line.
async fn a_bulk_capture_gives_each_order_its_result(t: TestApp) {
    // Authorized 91 days before the run: past GMO's 90 days and Paygent's 60. juchu knows
    // the first lapsed; for the second only the gateway says so, when asked to capture.
    let lapsed = t.authorized_order("paygent_card").await;
    let lapsed_at_gateway = t.authorized_order("gmo_card").await;
    t.stretch_capture_deadline(lapsed_at_gateway).await;
    t.set_now("2024-11-12T01:00:00Z");
    let mut good = Vec::new();
    for i in 0..150 {
        let m = ["gmo_card", "paygent_card", "paidy"][i % 3];
        good.push(t.authorized_order(m).await);
    }
    // Already cancelled: 取消 has no capture.
    let cancelled = t.authorized_order("gmo_card").await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{cancelled}/payment/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The order's total changed after the authorization: 取引更新 first.
    let differs = t.authorized_order("gmo_card").await;
    t.set_shipping_fee(differs, 1200).await;
    // No payment at all (bank transfer).
    let none = t.order_paid_by("bank_transfer").await;

    t.set_now("2024-11-18T01:00:00Z");

    let mut numbers = good.clone();
    numbers.extend([cancelled, differs, none, lapsed, lapsed_at_gateway]);
    let body = json!({"action": "capture", "numbers": numbers});
    let gmo_before = gmo_sales(&t).await;
    // A double click: the same key twice at once is one run.
    let (a, b) = tokio::join!(
        start(&t, "run-1", body.clone()),
        start(&t, "run-1", body.clone())
    );
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.1);
    assert_eq!(b.0, StatusCode::ACCEPTED, "{}", b.1);
    assert_eq!(a.1["id"], b.1["id"]);
    assert_eq!(a.1["total"], 155);
    let id = a.1["id"].as_i64().unwrap();
    // The key with other orders is refused.
    let (st, v) = start(
        &t,
        "run-1",
        json!({"action": "capture", "numbers": [good[0]]}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "idempotency_key_reused");

    let run = finished(&t, id).await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["succeeded"], 150, "{run}");
    assert_eq!(run["failed"], 5, "{run}");
    assert_eq!(run["pending"], 0, "{run}");
    assert_eq!(run["succeeded_amount"], 150 * 7660, "{run}");
    let its = items(&t, id).await;
    assert_eq!(its.len(), 155);
    for n in &good {
        let i = result_of(&its, *n);
        assert_eq!(i["state"], "succeeded", "{i}");
        assert_eq!(i["result"], "正常終了", "{i}");
        assert_eq!(captures_of(&t, *n).await, 1, "order {n}");
        let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
        assert_eq!(p["state"], "captured", "{p}");
    }
    let c = result_of(&its, cancelled);
    assert_eq!(c["state"], "failed", "{c}");
    assert!(c["message"].as_str().unwrap().contains("取消"), "{c}");
    let d = result_of(&its, differs);
    assert_eq!(d["result_code"], "amount_differs", "{d}");
    assert!(d["message"].as_str().unwrap().contains("取引更新"), "{d}");
    assert!(
        d["result"]
            .as_str()
            .unwrap()
            .starts_with("エラーコード:amount_differs"),
        "{d}"
    );
    let (_, p) = t.get(&format!("/api/v1/orders/{differs}/payment")).await;
    assert_eq!(p["state"], "authorized", "not captured: {p}");
    let x = result_of(&its, none);
    assert_eq!(x["result_code"], "no_payment", "{x}");
    let l = result_of(&its, lapsed);
    assert_eq!(l["result_code"], "payment_action_not_allowed", "{l}");
    assert!(l["message"].as_str().unwrap().contains("有効期限"), "{l}");
    let l = result_of(&its, lapsed_at_gateway);
    assert_eq!(l["state"], "failed", "{l}");
    assert!(
        l["result_code"].as_str().unwrap().starts_with("E01"),
        "GMO's own code: {l}"
    );
    let (_, p) = t
        .get(&format!("/api/v1/orders/{lapsed_at_gateway}/payment"))
        .await;
    assert_eq!(p["state"], "expired", "{p}");
    // One GMO capture per GMO success, none for the refused ones.
    assert_eq!(gmo_sales(&t).await - gmo_before, 50);
    // The line in the order's 変更履歴 names the run.
    let (_, h) = t.get(&format!("/api/v1/orders/{}/history", good[0])).await;
    assert!(
        h.as_array().unwrap().iter().any(|e| e["actor"]
            .as_str()
            .unwrap()
            .contains(&format!("一括処理 #{id}"))),
        "{h}"
    );
    // 決済ログ finds the run's operations across orders, by operator, gateway and action.
    let (st, log) = support::send(
        t.req(reqwest::Method::GET, "/api/v1/payments/operations")
            .query(&[
                ("actor", format!("一括処理 #{id}")),
                ("per_page", "500".into()),
            ]),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{log}");
    assert_eq!(
        log["total"], 151,
        "150 captures and the refused GMO one: {log}"
    );
    let (_, log) = t
        .get("/api/v1/payments/operations?gateway=gmo&action=capture&status=succeeded")
        .await;
    assert_eq!(log["total"], 50, "{log}");
    assert_eq!(log["operations"][0]["label"], "売上確定", "{log}");
    let (st, bad) = t
        .get("/api/v1/payments/operations?gateway=nope&from=2024-13-01")
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    // 操作ログ lists it.
    let (st, l) = t.get("/api/v1/payments/bulk").await;
    assert_eq!(st, StatusCode::OK, "{l}");
    assert_eq!(l["runs"][0]["id"], id);
    // The same run again with another key: nothing left to capture, nothing reaches a gateway.
    let (st, again) = start(&t, "run-2", body).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{again}");
    let again = finished(&t, again["id"].as_i64().unwrap()).await;
    assert_eq!(again["succeeded"], 0, "{again}");
    assert_eq!(again["failed"], 155, "{again}");
    assert_eq!(gmo_sales(&t).await - gmo_before, 50);
}

/// A worker that vanished mid-run (its items' lease runs out, one item's operation already
/// sent) is replaced: the job finishes the run and no order is captured twice. Two workers
/// on one run share it.
async fn a_run_left_by_a_vanished_worker_is_finished_once(t: TestApp) {
    let mut ns = Vec::new();
    for _ in 0..12 {
        ns.push(t.authorized_order("gmo_card").await);
    }
    let gmo_before = gmo_sales(&t).await;
    let actor = t.actor();
    // As a dead process would leave it: the run stored, one item's operation done under its
    // key, the items claimed by a lease that has run out.
    let run = {
        let mut tx = t.app.store.begin().await.unwrap();
        let mut items = Vec::new();
        for n in &ns {
            let (id, _) = juchu_store::orders::ids_of_numbers(tx.conn(), t.shop_id, &[*n])
                .await
                .unwrap()[0];
            items.push(juchu_store::bulk::NewItem {
                order_id: id,
                order_number: *n,
                gateway: Some(juchu_domain::payment_method::Gateway::Gmo),
                amount: 7660,
            });
        }
        let now = t.app.now();
        let id = juchu_store::bulk::create(
            &mut tx,
            &juchu_store::bulk::NewRun {
                shop_id: t.shop_id,
                action: "capture",
                request_key: "left",
                request: "{}",
                created_by: "admin",
            },
            &items,
            now,
        )
        .await
        .unwrap();
        let claimed = juchu_store::bulk::claim(
            &mut tx,
            id,
            100,
            now - jiff::SignedDuration::from_secs(600),
            jiff::SignedDuration::from_secs(60),
            "dead:1",
        )
        .await
        .unwrap();
        assert_eq!(claimed.len(), 12);
        tx.commit().await.unwrap();
        // Its first item was sent before the process died.
        let first = &claimed[0];
        let r = juchu_app::payments::operate(
            &t.app,
            &actor,
            first.order_number,
            juchu_domain::payment::Action::Capture,
            Default::default(),
            Some(format!("bulk-{id}-{}-0", first.id)),
        )
        .await
        .unwrap();
        assert_eq!(r.status, juchu_domain::payment::OpStatus::Succeeded);
        id
    };
    // Two workers take it over at once.
    let (a, b) = tokio::join!(
        juchu_app::payments::work_bulk(&t.app),
        juchu_app::payments::work_bulk(&t.app)
    );
    a.unwrap();
    b.unwrap();
    let v = finished(&t, run).await;
    assert_eq!(v["succeeded"], 12, "{v}");
    assert_eq!(
        gmo_sales(&t).await - gmo_before,
        12,
        "one capture per order"
    );
    for n in &ns {
        assert_eq!(captures_of(&t, *n).await, 1, "order {n}");
    }
}

/// 中止: the orders not begun are skipped and said so; a stopped run cannot be stopped again.
async fn a_stopped_run_skips_what_it_had_not_begun(t: TestApp) {
    let mut ns = Vec::new();
    for _ in 0..3 {
        ns.push(t.authorized_order("paygent_card").await);
    }
    // A run stored but not yet worked (as if its worker were busy elsewhere).
    let id = t
        .stored_bulk_run(
            "cancel",
            &ns,
            juchu_domain::payment_method::Gateway::Paygent,
        )
        .await;
    let (st, v) = t
        .post(&format!("/api/v1/payments/bulk/{id}/stop"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "stopped", "{v}");
    assert_eq!(v["skipped"], 3, "{v}");
    for i in items(&t, id).await {
        assert_eq!(i["result"], "中止により未実行", "{i}");
    }
    for n in &ns {
        let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
        assert_eq!(p["state"], "authorized", "untouched: {p}");
    }
    let (st, v) = t
        .post(&format!("/api/v1/payments/bulk/{id}/stop"), json!({}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "bulk_run_ended");
}

/// Seed 002 p.10 払い戻し (リファンド) in bulk: every captured Paidy payment is refunded in
/// full, once — an authorization with nothing captured is refused, and a second run finds
/// nothing left to refund.
async fn a_bulk_refund_returns_what_was_captured(t: TestApp) {
    let mut captured = Vec::new();
    for _ in 0..3 {
        let n = t.authorized_order("paidy").await;
        let (st, v) = t
            .post(&format!("/api/v1/orders/{n}/payment/capture"), json!({}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["status"], "succeeded", "{v}");
        captured.push(n);
    }
    let open = t.authorized_order("paidy").await;
    let mut numbers = captured.clone();
    numbers.push(open);
    let body = json!({"action": "refund", "numbers": numbers});
    let (st, v) = start(&t, "refund-1", body.clone()).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["amount"], 3 * 7660, "what is left to refund: {v}");
    let run = finished(&t, v["id"].as_i64().unwrap()).await;
    assert_eq!(
        (run["succeeded"].as_i64(), run["failed"].as_i64()),
        (Some(3), Some(1)),
        "{run}"
    );
    let its = items(&t, run["id"].as_i64().unwrap()).await;
    assert_eq!(result_of(&its, open)["state"], "failed");
    let refunds = |l: &Value, id: &str| -> Vec<i64> {
        l["paidy"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("no Paidy payment {id}"))["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount"].as_i64().unwrap())
            .collect()
    };
    let mut ids = Vec::new();
    for n in &captured {
        let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
        assert_eq!(p["state"], "refunded", "{p}");
        ids.push(p["payment_id"].as_str().unwrap().to_owned());
    }
    let l = t.ledger().await;
    for id in &ids {
        assert_eq!(refunds(&l, id), [7660], "one full refund of {id}");
    }
    // Again, under another key: nothing is left, nothing reaches Paidy.
    let (_, v) = start(&t, "refund-2", body).await;
    let again = finished(&t, v["id"].as_i64().unwrap()).await;
    assert_eq!(again["succeeded"], 0, "{again}");
    assert_eq!(again["failed"], 4, "{again}");
    let l = t.ledger().await;
    for id in &ids {
        assert_eq!(refunds(&l, id), [7660], "still one refund of {id}");
    }
}

/// A gateway that answers "busy" (GMO E92000001, Paygent E002, Paidy HTTP 429) is asked
/// again later under a new key: every order ends captured, once, and its payment's journal
/// shows the busy attempts as failed with nothing done.
async fn a_busy_gateway_is_asked_again(t: TestApp) {
    let ns = [
        t.authorized_order("gmo_card").await,
        t.authorized_order("paygent_card").await,
        t.authorized_order("paidy").await,
    ];
    for (gateway, op) in [
        ("gmo", "AlterTran"),
        ("paygent", "022"),
        ("paidy", "captures"),
    ] {
        t.sandbox_control(
            "/faults",
            json!({"gateway": gateway, "operation": op, "kind": "busy", "times": 2}),
        )
        .await;
    }
    let gmo_before = gmo_sales(&t).await;
    let (st, v) = start(&t, "busy", json!({"action": "capture", "numbers": ns})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let run = finished(&t, v["id"].as_i64().unwrap()).await;
    assert_eq!(run["succeeded"], 3, "{run}");
    assert_eq!(gmo_sales(&t).await - gmo_before, 1, "GMO captured once");
    for (n, busy) in ns.iter().zip(["E92000001", "E002", "429"]) {
        assert_eq!(captures_of(&t, *n).await, 1, "order {n}");
        let (_, p) = t.get(&format!("/api/v1/orders/{n}/payment")).await;
        assert_eq!(p["state"], "captured", "{p}");
        let refused: Vec<&Value> = p["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["action"] == "capture" && o["status"] == "failed")
            .collect();
        assert_eq!(refused.len(), 2, "two busy answers for {n}: {p}");
        assert!(
            refused.iter().all(|o| o["result_code"] == busy),
            "{busy} for {n}: {p}"
        );
    }
}

/// Starts that cannot run are refused with the reason; nothing is stored.
async fn bad_bulk_starts_are_refused(t: TestApp) {
    let n = t.authorized_order("gmo_card").await;
    for (body, field) in [
        (
            json!({"action": "change_authorization", "numbers": [n]}),
            "action",
        ),
        (json!({"action": "capture", "numbers": []}), "numbers"),
        (
            json!({"action": "capture", "numbers": [n, 999999]}),
            "numbers",
        ),
        (
            json!({"action": "capture", "numbers": [n], "search": {"list": "all"}}),
            "numbers",
        ),
        (
            json!({"action": "capture", "search": {"payment_state": ["nope"]}}),
            "payment_state",
        ),
    ] {
        let (st, v) = start(&t, &format!("bad-{field}-{}", body), body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{body}: {v}");
    }
    let (_, l) = t.get("/api/v1/payments/bulk").await;
    assert_eq!(l["total"], 0, "{l}");
    // By search: the authorized GMO orders.
    let (st, v) = start(
        &t,
        "by-search",
        json!({"action": "refresh", "search": {"list": "all", "payment_state": ["authorized"]}}),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    let v = finished(&t, v["id"].as_i64().unwrap()).await;
    assert_eq!(v["succeeded"], 1, "{v}");
}

/// ステータス管理 moving orders to 発送済み says which of them still have only an
/// authorization (shipping does not capture), and moves them all the same.
async fn shipping_uncaptured_orders_warns(t: TestApp) {
    let authorized_only = t.authorized_order("gmo_card").await;
    let captured = t.authorized_order("paygent_card").await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{captured}/payment/capture"),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = t
        .post(
            "/api/v1/orders/status",
            json!({"numbers": [authorized_only, captured], "status": "shipped"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["succeeded"], 2, "{v}");
    let r = v["results"].as_array().unwrap();
    assert!(
        r[0]["warning"]
            .as_str()
            .unwrap()
            .contains("売上確定が済んでいません"),
        "{v}"
    );
    assert!(r[1]["warning"].is_null(), "{v}");
    // And the list finds it: 発送済み, still 仮売上.
    let (_, l) = support::send(t.req(reqwest::Method::GET, "/api/v1/orders").query(&[
        ("list", "all"),
        ("status", "shipped"),
        ("payment_state", "authorized"),
    ]))
    .await;
    assert_eq!(l["total"], 1, "{l}");
    assert_eq!(l["orders"][0]["number"], authorized_only, "{l}");
    assert_eq!(l["orders"][0]["payment"]["state_label"], "仮売上", "{l}");
}

both_backends!(
    shipping_uncaptured_orders_warns,
    a_bulk_capture_gives_each_order_its_result,
    a_run_left_by_a_vanished_worker_is_finished_once,
    a_stopped_run_skips_what_it_had_not_begun,
    a_bulk_refund_returns_what_was_captured,
    a_busy_gateway_is_asked_again,
    bad_bulk_starts_are_refused,
);
