//! The API behaviour suite. Every test runs on SQLite and, when JUCHU_TEST_DATABASE_URL is
//! set (CI sets it), on PostgreSQL.

use crate::both_backends;
use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestApp, order_json, send};

fn numbers(v: &Value) -> Vec<i64> {
    v["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["number"].as_i64().expect("number"))
        .collect()
}

async fn search(t: &TestApp, q: &str) -> Vec<i64> {
    let (st, v) = t.get(&format!("/api/v1/orders?{q}")).await;
    assert_eq!(st, StatusCode::OK, "{q}: {v}");
    let mut n = numbers(&v);
    n.sort();
    n
}

async fn create_and_totals(t: TestApp) {
    let (st, o) = t.post("/api/v1/orders", order_json()).await;
    assert_eq!(st, StatusCode::CREATED, "{o}");
    assert_eq!(o["number"], 1);
    assert_eq!(o["version"], 1);
    assert_eq!(o["status"], "new");
    assert_eq!(o["list"], "open");
    // Items filled from the catalog.
    assert_eq!(o["items"][0]["product_name"], "Tシャツ");
    assert_eq!(o["items"][0]["class2"], "M");
    assert_eq!(o["items"][1]["tax_rate"], 8);
    let tot = &o["totals"];
    assert_eq!(tot["subtotal"], 2 * 2990 + 1080);
    assert_eq!(tot["total"], 2 * 2990 + 1080 + 600);
    assert_eq!(tot["payment_total"], 2 * 2990 + 1080 + 600);
    assert_eq!(tot["tax"]["by_rate"][0]["amount"], 2 * 2990 + 600);
    assert_eq!(tot["tax"]["by_rate"][1]["amount"], 1080);
    assert_eq!(tot["tax"]["by_rate"][1]["tax"], 80);
    // A manual order takes stock.
    let (_, p) = t.get("/api/v1/products?q=TS-M").await;
    assert_eq!(p["items"][0]["variants"][0]["stock"], 3);
    // Numbers are sequential per shop.
    let (_, o2) = t.post("/api/v1/orders", order_json()).await;
    assert_eq!(o2["number"], 2);
    let (st, h) = t.get("/api/v1/orders/1/history").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[0]["action"], "order.created");
    assert!(h[0]["actor"].as_str().unwrap().contains("管理 太郎"), "{h}");
}

async fn manual_order_refused_when_stock_short(t: TestApp) {
    let before = t.counts().await;
    let mut o = order_json();
    o["items"][0]["quantity"] = json!(6);
    let (st, v) = t.post("/api/v1/orders", o).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["code"], "insufficient_stock");
    assert_eq!(t.counts().await, before);
    let (_, p) = t.get("/api/v1/products?q=TEA-1").await;
    assert_eq!(
        p["items"][0]["variants"][0]["stock"], 10,
        "stock of the other line was not kept taken"
    );
}

async fn invalid_input_is_refused_and_nothing_changes(t: TestApp) {
    t.import(order_json()).await;
    let before = t.counts().await;
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut o = order_json();
                o["items"][0]["quantity"] = json!(-1);
                o
            },
            "items[0].quantity",
        ),
        (
            {
                let mut o = order_json();
                o["status"] = json!("shipping");
                o
            },
            "status",
        ),
        (
            {
                let mut o = order_json();
                o["shipping_fee"] = json!(1_000_000_000_000_i64);
                o
            },
            "shipping_fee",
        ),
        (
            {
                let mut o = order_json();
                o["items"] = json!([{"product_code": "X", "product_name": "x", "unit_price": 999_999_999, "quantity": 99_999}, {"product_code": "Y", "product_name": "y", "unit_price": 999_999_999, "quantity": 99_999}, {"product_code": "Z", "product_name": "z", "unit_price": 999_999_999, "quantity": 99_999}]);
                o
            },
            "items",
        ),
        (
            {
                let mut o = order_json();
                o["birth_date"] = json!("1990/02/30");
                o
            },
            "birth_date",
        ),
        (
            {
                let mut o = order_json();
                o["ordered_at"] = json!("yesterday");
                o
            },
            "ordered_at",
        ),
        (
            {
                let mut o = order_json();
                o["email"] = json!("not-an-email");
                o
            },
            "email",
        ),
        (
            {
                let mut o = order_json();
                o["customer"]["prefecture"] = json!("東京");
                o
            },
            "customer.prefecture",
        ),
        (
            {
                let mut o = order_json();
                o["items"][0]["product_code"] = json!("NOPE");
                o
            },
            "items[0].product_name",
        ),
        (
            {
                let mut o = order_json();
                o["discount"] = json!(999_999);
                o
            },
            "discount",
        ),
    ];
    for (body, field) in cases {
        let (st, v) = t.post("/api/v1/orders", body).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {v}");
        let fields: Vec<&str> = v["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{field} not in {fields:?}"
        );
    }
    // Amounts beyond i64 and wrong types: the JSON itself is refused with the field path.
    let mut o = order_json();
    o["fee"] = json!(1e30);
    let (st, v) = t.post("/api/v1/orders", o).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("fee"),
        "{v}"
    );
    let (st, v) = send(
        t.req(Method::POST, "/api/v1/orders")
            .header("content-type", "application/json")
            .body("{\"email\": "),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "malformed_json");
    // A 10 MB body. Over a raw connection: the server answers 413 from the Content-Length
    // alone, before reading the body, and closes the connection; an HTTP client still
    // writing the body may see the close (EPIPE) instead of the answer.
    let (st, v) = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = t.base.trim_start_matches("http://");
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/v1/orders HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            t.token,
            10 * 1024 * 1024
        );
        c.write_all(head.as_bytes()).await.unwrap();
        let (mut rd, mut wr) = c.into_split();
        // Keep sending the body while reading: the server stops reading past its limit.
        let writer = tokio::spawn(async move {
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..160 {
                if wr.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        });
        let mut buf = Vec::new();
        let _ = rd.read_to_end(&mut buf).await;
        writer.abort();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (
            StatusCode::from_u16(status).unwrap(),
            serde_json::from_str::<Value>(&body).unwrap_or(Value::String(text)),
        )
    };
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "body_too_large");
    // Bad edits and status changes.
    let (st, _) = t
        .patch(
            "/api/v1/orders/1",
            json!({"version": 1, "items": [{"product_code": "TS-M", "quantity": 0}]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, v) = t
        .post("/api/v1/orders/1/status", json!({"status": "done"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"][0]["code"], "unknown_status");
    let (st, v) = t
        .get("/api/v1/orders?ordered_from=2024-13-40&number_from=abc")
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(
        t.counts().await,
        before,
        "a refused request changed the database"
    );
}

async fn stale_edit_gets_409(t: TestApp) {
    let o = t.import(order_json()).await;
    let v = o["version"].as_i64().unwrap();
    let a = t.patch(
        "/api/v1/orders/1",
        json!({"version": v, "shipping_fee": 800}),
    );
    let b = t.patch("/api/v1/orders/1", json!({"version": v, "discount": 500}));
    let ((sa, va), (sb, vb)) = tokio::join!(a, b);
    let mut statuses = [sa, sb];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{va} {vb}"
    );
    let loser = if sa == StatusCode::CONFLICT { &va } else { &vb };
    assert_eq!(loser["error"]["code"], "stale_version");
    let (_, now) = t.get("/api/v1/orders/1").await;
    assert_eq!(now["version"], v + 1);
    let tot = &now["totals"];
    // Exactly one edit applied, and the totals agree with it.
    let applied_fee = now["totals"]["shipping_fee"].as_i64().unwrap();
    let applied_discount = now["totals"]["discount"].as_i64().unwrap();
    assert!((applied_fee == 800) ^ (applied_discount == 500), "{tot}");
    assert_eq!(
        tot["total"].as_i64().unwrap(),
        2 * 2990 + 1080 + applied_fee - applied_discount
    );
    // A later edit from the old version is refused too, and changes nothing.
    let (st, _) = t
        .patch("/api/v1/orders/1", json!({"version": v, "fee": 330}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (_, after) = t.get("/api/v1/orders/1").await;
    assert_eq!(after, now);
}

async fn edit_recalculates_and_records(t: TestApp) {
    t.import(order_json()).await;
    let (st, o) = t
        .patch(
            "/api/v1/orders/1",
            json!({"version": 1, "items": [{"product_code": "TEA-1", "quantity": 3}, {"product_code": "FREE", "product_name": "送料調整", "unit_price": 110, "quantity": 1}], "fee": 330, "discount": 100, "memo": "電話で数量変更"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{o}");
    assert_eq!(o["version"], 2);
    assert_eq!(o["totals"]["subtotal"], 3 * 1080 + 110);
    assert_eq!(o["totals"]["total"], 3 * 1080 + 110 + 600 + 330 - 100);
    assert_eq!(o["memo"], "電話で数量変更");
    let (_, h) = t.get("/api/v1/orders/1/history").await;
    let d = h[0]["detail"].as_str().unwrap();
    assert!(
        d.contains("商品") && d.contains("手数料") && d.contains("メモ"),
        "{d}"
    );
    // Editing never moves stock.
    let (_, p) = t.get("/api/v1/products?q=TEA-1").await;
    assert_eq!(p["items"][0]["variants"][0]["stock"], 10);
}

async fn status_cancel_puts_stock_on_list_and_returns_once(t: TestApp) {
    t.import(order_json()).await;
    let (st, o) = t
        .post("/api/v1/orders/1/status", json!({"status": "cancelled"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "cancelled");
    let (_, lines) = t.get("/api/v1/cancelled-stock").await;
    let lines = lines.as_array().unwrap().clone();
    assert_eq!(lines.len(), 2);
    let ts = lines.iter().find(|l| l["product_code"] == "TS-M").unwrap();
    assert_eq!(ts["quantity"], 2);
    let id = ts["id"].as_i64().unwrap();
    let (st, _) = t
        .post(&format!("/api/v1/cancelled-stock/{id}/return"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = t
        .post(&format!("/api/v1/cancelled-stock/{id}/return"), json!({}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "already_returned");
    let (_, p) = t.get("/api/v1/products?q=TS-M").await;
    assert_eq!(
        p["items"][0]["variants"][0]["stock"], 7,
        "5 + 2 returned once"
    );
    // The rest of the order at once.
    let (st, v) = t
        .post("/api/v1/orders/1/cancelled-stock/return", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (_, open) = t.get("/api/v1/cancelled-stock").await;
    assert_eq!(open.as_array().unwrap().len(), 0);
    let (_, h) = t.get("/api/v1/orders/1/history").await;
    assert!(
        h.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "stock.returned")
    );
}

async fn member_points_follow_status(t: TestApp) {
    let (st, c) = t
        .post("/api/v1/customers", json!({"family_name": "佐藤", "given_name": "一郎", "family_kana": "サトウ", "given_kana": "イチロウ", "email": "ichiro@example.jp"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_i64().unwrap();
    let (st, _) = t
        .post(
            &format!("/api/v1/customers/{cid}/points"),
            json!({"delta": 300, "reason": "キャンペーン"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut o = order_json();
    o["customer_id"] = json!(cid);
    o["points_used"] = json!(200);
    o["points_earned"] = json!(50);
    let o = t.import(o).await;
    assert_eq!(o["totals"]["payment_total"], 2 * 2990 + 1080 + 600 - 200);
    assert_eq!(balance(&t, cid).await, 100);
    // Not enough points for a second order.
    let mut o2 = order_json();
    o2["customer_id"] = json!(cid);
    o2["points_used"] = json!(101);
    let before = t.counts().await;
    let (st, v) = t.post("/api/v1/orders?import=true", o2).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["code"], "insufficient_points");
    assert_eq!(t.counts().await, before);
    // Shipping grants, cancelling returns used and revokes granted.
    t.post("/api/v1/orders/1/status", json!({"status": "shipped"}))
        .await;
    assert_eq!(balance(&t, cid).await, 150);
    let (_, o) = t.get("/api/v1/orders/1").await;
    assert_eq!(o["shipped_on"], "2024-08-19");
    t.post("/api/v1/orders/1/status", json!({"status": "cancelled"}))
        .await;
    assert_eq!(balance(&t, cid).await, 300);
    let (_, ledger) = t.get(&format!("/api/v1/customers/{cid}/points")).await;
    let deltas: Vec<i64> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["delta"].as_i64().unwrap())
        .collect();
    assert_eq!(deltas, vec![-50, 200, 50, -200, 300]);
}

async fn balance(t: &TestApp, cid: i64) -> i64 {
    t.get(&format!("/api/v1/customers/{cid}")).await.1["points"]
        .as_i64()
        .unwrap()
}

async fn bulk_status_reports_each_order(t: TestApp) {
    for _ in 0..3 {
        t.import(order_json()).await;
    }
    t.post("/api/v1/orders/2/status", json!({"status": "shipped"}))
        .await;
    t.post("/api/v1/orders/2/move", json!({"list": "completed"}))
        .await;
    let (st, v) = t
        .post(
            "/api/v1/orders/status",
            json!({"numbers": [1, 2, 3, 99], "status": "paid"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["succeeded"], 2);
    assert_eq!(v["failed"], 2);
    let r = v["results"].as_array().unwrap();
    assert_eq!(r[1]["code"], "completed_only_cancel");
    assert_eq!(r[3]["code"], "not_found");
    assert!(r[1]["message"].as_str().unwrap().contains("受注完了一覧"));
    let (_, o2) = t.get("/api/v1/orders/2").await;
    assert_eq!(o2["status"], "shipped");
    assert_eq!(search(&t, "status=paid").await, vec![1, 3]);
}

async fn lists_and_delete(t: TestApp) {
    t.import(order_json()).await;
    t.import(order_json()).await;
    // Not cancelled: cannot go to the cancelled list.
    let (st, v) = t
        .post("/api/v1/orders/1/move", json!({"list": "cancelled"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "cannot_move_to_cancelled");
    t.post("/api/v1/orders/1/status", json!({"status": "cancelled"}))
        .await;
    let (st, _) = t
        .post("/api/v1/orders/1/move", json!({"list": "cancelled"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(search(&t, "").await, vec![2]);
    assert_eq!(search(&t, "list=cancelled").await, vec![1]);
    assert_eq!(search(&t, "list=all").await, vec![1, 2]);
    // In the cancelled list nothing is edited.
    let (st, v) = t
        .patch("/api/v1/orders/1", json!({"version": 3, "memo": "x"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "not_in_open_list");
    let (st, _) = t
        .post("/api/v1/orders/1/move", json!({"list": "open"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    // Logical delete.
    let (st, _) = send(t.req(Method::DELETE, "/api/v1/orders/2")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = t.get("/api/v1/orders/2").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(search(&t, "list=all").await, vec![1]);
    let (st, h) = t.get("/api/v1/orders/2/history").await;
    assert_eq!(st, StatusCode::OK, "history stays");
    assert_eq!(h[0]["action"], "order.deleted");
}

async fn auth_is_required_and_roles_hold(t: TestApp) {
    let (st, v) = send(t.client.get(format!("{}/api/v1/orders", t.base))).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "unauthenticated");
    let (st, _) = send(
        t.client
            .get(format!("{}/api/v1/orders", t.base))
            .bearer_auth("juchu_forged"),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = send(
        t.client
            .post(format!("{}/api/v1/auth/token", t.base))
            .json(&json!({"login": "admin", "password": "wrong-password", "name": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let op = |m: Method, p: &str| {
        t.client
            .request(m, format!("{}{p}", t.base))
            .bearer_auth(&t.operator_token)
    };
    let (st, v) = send(op(Method::GET, "/api/v1/users")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, _) = send(
        op(Method::POST, "/api/v1/users")
            .json(&json!({"login": "evil", "name": "x", "password": "12345678", "role": "admin"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = send(op(Method::GET, "/api/v1/orders")).await;
    assert_eq!(st, StatusCode::OK, "operators work with orders");
    let (st, v) = t.post("/api/v1/users", json!({"login": "yamada", "name": "山田", "password": "long-enough", "role": "operator"})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = t
        .post(
            "/api/v1/users",
            json!({"login": "yamada", "name": "山田", "password": "short", "role": "boss"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"].as_array().unwrap().len(), 3, "{v}");
}

async fn shops_are_isolated(t: TestApp) {
    t.import(order_json()).await;
    let (other, _) = juchu_app::shops::ensure(&t.app, "other", "他店")
        .await
        .unwrap();
    juchu_app::access::add_user_to_shop(
        &t.app,
        other.id,
        &juchu_app::access::NewUser {
            login: "other-admin".into(),
            name: "他店".into(),
            password: "other-password".into(),
            role: "admin".into(),
        },
    )
    .await
    .unwrap();
    let tok =
        juchu_app::access::issue_token(&t.app, "other-admin", "other-password", "t", None, "test")
            .await
            .unwrap();
    let (st, v) = send(
        t.client
            .get(format!("{}/api/v1/orders?list=all", t.base))
            .bearer_auth(&tok),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["total"], 0);
    let (st, _) = send(
        t.client
            .get(format!("{}/api/v1/orders/1", t.base))
            .bearer_auth(&tok),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, o) = send(t.client.post(format!("{}/api/v1/orders?import=true", t.base)).bearer_auth(&tok).json(&{
        let mut o = order_json();
        o["items"] = json!([{"product_code": "X-1", "product_name": "他店商品", "unit_price": 500, "quantity": 1}]);
        o
    }))
    .await;
    assert_eq!(st, StatusCode::CREATED, "{o}");
    assert_eq!(o["number"], 1, "numbers are per shop");
}

async fn concurrent_creates_get_distinct_numbers(t: TestApp) {
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = t.client.clone();
        let url = format!("{}/api/v1/orders?import=true", t.base);
        let tok = t.token.clone();
        tasks.push(tokio::spawn(async move {
            send(c.post(url).bearer_auth(tok).json(&order_json())).await
        }));
    }
    let mut nums = Vec::new();
    for task in tasks {
        let (st, v) = task.await.unwrap();
        assert_eq!(st, StatusCode::CREATED, "{v}");
        nums.push(v["number"].as_i64().unwrap());
    }
    nums.sort();
    assert_eq!(nums, (1..=12).collect::<Vec<_>>());
}

async fn openapi_lists_the_api(t: TestApp) {
    let (st, v) = send(t.client.get(format!("{}/api/openapi.json", t.base))).await;
    assert_eq!(st, StatusCode::OK);
    for p in [
        "/api/v1/orders",
        "/api/v1/orders/{number}",
        "/api/v1/orders/csv",
        "/api/v1/orders/status",
        "/api/v1/cancelled-stock",
        "/api/v1/customers/{id}/points",
        "/api/v1/users",
    ] {
        assert!(v["paths"][p].is_object(), "missing {p}");
    }
    assert!(v["components"]["schemas"]["OrderInput"].is_object());
    assert!(v["components"]["securitySchemes"]["bearer"].is_object());
}

async fn health_and_metrics(t: TestApp) {
    let r = t
        .client
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-request-id").is_some());
    t.get("/api/v1/orders").await;
    let m = t
        .client
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains(
            "juchu_http_requests_total{method=\"GET\",route=\"/api/v1/orders\",status=\"200\"}"
        ),
        "{m}"
    );
}

/// Input that once reached a 500 or a panic is refused with the field named, the same on both
/// databases: huge sweep ages (a panic in the time library, a product that wrapped), search
/// words of 50,000 characters (SQLite: "LIKE pattern too complex"), NUL and other control
/// characters (PostgreSQL refuses NUL in text), page numbers that overflow an OFFSET.
async fn input_that_once_reached_a_500_is_refused(t: TestApp) {
    for mins in ["7000000000", "307445734561825861", "0"] {
        let (st, v) = t
            .post(
                &format!("/api/v1/payments/pending-orders/sweep?older_than_minutes={mins}"),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{mins}: {v}");
        assert_eq!(
            v["error"]["fields"][0]["field"], "older_than_minutes",
            "{v}"
        );
    }
    let long = "a".repeat(50_000);
    for path in [
        "/api/v1/orders?name=",
        "/api/v1/products?q=",
        "/api/v1/customers?q=",
    ] {
        let (st, v) = t.get(&format!("{path}{long}")).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert_eq!(v["error"]["fields"][0]["code"], "too_long", "{v}");
    }
    let before = t.counts().await;
    let (st, v) = t.get("/api/v1/orders?name=%E5%B1%B1%00").await;
    assert_eq!(
        (st, v["error"]["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name")),
        "{v}"
    );
    let mut o = order_json();
    o["customer"]["family_name"] = json!("山\u{0}田");
    let (st, v) = t.post("/api/v1/orders?import=true", o).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        v["error"]["fields"][0]["field"], "customer.family_name",
        "{v}"
    );
    assert_eq!(v["error"]["fields"][0]["code"], "control_character");
    let (st, v) = support::send(
        t.req(Method::PUT, "/api/v1/shop/mail-templates/order")
            .json(&json!({"subject": "件名\u{1}", "body": "本文"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = t
        .post(
            "/api/v1/shop/delivery-methods",
            json!({"name": "宅配\u{0}便", "fee": 800, "payment_methods": ["bank_transfer"]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = t
        .post(
            "/api/v1/auth/token",
            json!({"login": support::ADMIN, "password": support::PASSWORD, "name": "a\u{0}"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(t.counts().await, before, "nothing stored");
    // Line breaks and tabs are text.
    let mut o = order_json();
    o["remarks"] = json!("一行目\n二行目");
    t.import(o).await;
    // A point adjustment of i64::MIN once panicked (its absolute value overflows).
    let (st, v) = t
        .post(
            "/api/v1/customers/1/points",
            json!({"delta": i64::MIN, "reason": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "delta");
    // Pages past the end: an empty page, never an error.
    for path in [
        "/api/v1/products",
        "/api/v1/customers",
        "/api/v1/mails",
        "/api/v1/orders",
    ] {
        let (st, v) = t.get(&format!("{path}?page=9223372036854775806")).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
    }
}

/// Every answer says: not in a frame, not another type, not cached; a declared body over the
/// limit is refused before it is sent; a client that never finishes its headers is dropped;
/// the sandbox control API refuses callers from other machines.
async fn answers_are_hardened(t: TestApp) {
    for path in ["/admin/login", "/api/v1/orders", "/healthz"] {
        let r = t.req(Method::GET, path).send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.base.trim_start_matches("http://").to_owned();
    // 10 GB declared, nothing sent: 413 at once.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered at once")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Half a request line, then silence: the connection is closed after the header timeout.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let n = tokio::time::timeout(
        juchu_web::HEADER_READ_TIMEOUT + std::time::Duration::from_secs(5),
        s.read(&mut buf),
    )
    .await
    .expect("closed by the server")
    .unwrap_or(0);
    assert!(
        started.elapsed() >= juchu_web::HEADER_READ_TIMEOUT - std::time::Duration::from_secs(1)
    );
    let _ = n;
    // The control API answers loopback only.
    let app = juchu_sandbox::Sandbox::new(juchu_sandbox::Config::default()).router();
    let req = |ip: [u8; 4]| {
        let mut r = axum_request("/_sandbox/clock");
        r.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 5555,
            ))));
        r
    };
    use tower::ServiceExt;
    let r = app.clone().oneshot(req([192, 0, 2, 7])).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.oneshot(req([127, 0, 0, 1])).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

fn axum_request(path: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .unwrap()
}

both_backends!(
    answers_are_hardened,
    input_that_once_reached_a_500_is_refused,
    create_and_totals,
    manual_order_refused_when_stock_short,
    invalid_input_is_refused_and_nothing_changes,
    stale_edit_gets_409,
    edit_recalculates_and_records,
    status_cancel_puts_stock_on_list_and_returns_once,
    member_points_follow_status,
    bulk_status_reports_each_order,
    lists_and_delete,
    auth_is_required_and_roles_hold,
    shops_are_isolated,
    concurrent_creates_get_distinct_numbers,
    openapi_lists_the_api,
    health_and_metrics,
);
