//! Mails an operator sends from an order (注文確認 / 配送通知 / フリー) on SQLite and
//! PostgreSQL: the shop's templates (round trip, broken ones refused with their line), each
//! kind queued with To / Bcc / sent_by and a history line, the 問合せ番号 rule, stale and
//! moved orders refused with nothing queued, the deliver job and the outbox, and the
//! checkout's サンクスメール made from the same template.

use crate::both_backends;
use crate::support;

use juchu_app::checkout::{self, Buyer, BuyerInput, ChoiceInput, Next};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

both_backends!(
    templates_round_trip,
    a_broken_template_is_refused_with_its_line,
    each_kind_is_queued_with_history,
    shipping_needs_a_tracking_number_and_stores_a_typed_one,
    empty_fields_are_refused_beside_them,
    a_stale_version_queues_nothing,
    a_moved_order_takes_no_mail,
    the_job_sends_and_the_outbox_shows_it,
    the_thanks_mail_is_the_shops_order_template,
    openapi_lists_the_mail_api,
);

const SHOP_MAIL: &str = "shop@juchu-test.example";
/// The harness's users as their API tokens name them in histories and `sent_by`.
const ADMIN_NAME: &str = "管理 太郎（API: tests）";
const OPERATOR_NAME: &str = "受注 花子（API: tests）";

async fn put(t: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    send(t.req(Method::PUT, path).json(&body)).await
}

async fn set_shop_mail(t: &TestApp) {
    let (st, v) = put(t, "/api/v1/shop/mail", json!({"email": SHOP_MAIL})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

async fn order(t: &TestApp) -> (i64, i64) {
    let o = t.import(order_json()).await;
    (
        o["number"].as_i64().unwrap(),
        o["version"].as_i64().unwrap(),
    )
}

async fn version(t: &TestApp, n: i64) -> i64 {
    t.get(&format!("/api/v1/orders/{n}")).await.1["version"]
        .as_i64()
        .unwrap()
}

async fn mails_of(t: &TestApp, n: i64) -> Vec<Value> {
    let (st, m) = t.get(&format!("/api/v1/orders/{n}/mails")).await;
    assert_eq!(st, StatusCode::OK, "{m}");
    m.as_array().unwrap().clone()
}

async fn history(t: &TestApp, n: i64) -> Vec<Value> {
    t.get(&format!("/api/v1/orders/{n}/history"))
        .await
        .1
        .as_array()
        .unwrap()
        .clone()
}

fn messages(v: &Value) -> Vec<(String, String)> {
    v["error"]["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_owned(),
                        e["message"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn templates_round_trip(t: TestApp) {
    let (st, v) = t.get("/api/v1/shop/mail-templates/shipping").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["customized"], false);
    assert!(
        v["body"]
            .as_str()
            .unwrap()
            .contains("{{ tracking_number }}"),
        "{v}"
    );
    let names: Vec<&str> = v["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    for n in [
        "order_number",
        "items",
        "tracking_number",
        "payment_instructions",
        "tax8",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let body =
        "{{ customer_name }} 様\n\n問合せ番号は {{ tracking_number }} です。\n{{ shop_name }}";
    let (st, v) = put(
        &t,
        "/api/v1/shop/mail-templates/shipping",
        json!({"subject": "発送しました {{ order_number }}", "body": body}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, v) = t.get("/api/v1/shop/mail-templates/shipping").await;
    assert_eq!(v["customized"], true);
    assert_eq!(v["subject"], "発送しました {{ order_number }}");
    assert_eq!(v["body"], body);
    assert_eq!(v["updated_by"], ADMIN_NAME);
    // The other kinds keep the built-in text.
    let (_, o) = t.get("/api/v1/shop/mail-templates/order").await;
    assert_eq!(o["customized"], false);
    // Operators may read but not change templates.
    let (st, v) = send(
        t.client
            .put(format!("{}/api/v1/shop/mail-templates/shipping", t.base))
            .bearer_auth(&t.operator_token)
            .json(&json!({"subject": "x", "body": "y"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = send(t.req(Method::DELETE, "/api/v1/shop/mail-templates/shipping")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["customized"], false);
    assert!(v["subject"].as_str().unwrap().contains("発送"), "{v}");
    let (st, _) = t.get("/api/v1/shop/mail-templates/nope").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

async fn a_broken_template_is_refused_with_its_line(t: TestApp) {
    for (subject, body, field, starts) in [
        (
            "件名",
            "1行目\n2行目\n{{ custmer_name }} 様",
            "body",
            "3行目",
        ),
        ("件名", "本文\n{% if payment_done %}\n未完", "body", "3行目"),
        ("{{ order_numbr }}", "本文", "subject", "1行目"),
        ("件名", "{% include 'other' %}", "body", "1行目"),
        // Runs too long: stopped by the fuel limit.
        (
            "件名",
            "{% for a in range(1000) %}{% for b in range(1000) %}{{ b }}{% endfor %}{% endfor %}",
            "body",
            "1行目",
        ),
        // Only the optional parts empty: the bare sample order catches it.
        (
            "件名",
            "{% if not tracking_number %}{{ nothing }}{% endif %}",
            "body",
            "1行目",
        ),
    ] {
        let (st, v) = put(
            &t,
            "/api/v1/shop/mail-templates/order",
            json!({"subject": subject, "body": body}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        let m = messages(&v);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].0, field, "{m:?}");
        assert!(m[0].1.starts_with(starts), "{body}: {m:?}");
    }
    let (st, v) = put(
        &t,
        "/api/v1/shop/mail-templates/free",
        json!({"subject": "", "body": "  "}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(messages(&v).len(), 2, "{v}");
    // Nothing was stored.
    let (_, v) = t.get("/api/v1/shop/mail-templates/order").await;
    assert_eq!(v["customized"], false);
}

async fn each_kind_is_queued_with_history(t: TestApp) {
    set_shop_mail(&t).await;
    let (n, _) = order(&t).await;
    // 注文確認 from the built-in template (subject and body left out).
    let (st, m) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "order", "version": version(&t, n).await}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(m["kind"], "order");
    assert_eq!(m["mail_to"], "hanako@example.jp");
    assert_eq!(m["bcc"], SHOP_MAIL);
    assert_eq!(m["status"], "queued");
    assert_eq!(m["sent_by"], ADMIN_NAME);
    assert_eq!(m["order_number"], n);
    assert_eq!(
        m["subject"],
        format!("【テストショップ】ご注文ありがとうございます（注文番号 {n}）")
    );
    let body = m["body"].as_str().unwrap();
    for want in [
        "山田 花子 様",
        &format!("注文番号: {n}"),
        "TS-M Tシャツ（白 / M） × 2 = 5,980円",
        "※TEA-1 緑茶（20袋） × 1 = 1,080円",
        "お支払い合計: 7,660円",
        "8%対象 1,080円 内消費税 80円",
        "〒100-0001 東京都千代田区千代田1-1",
        SHOP_MAIL,
    ] {
        assert!(body.contains(want), "{want} in:\n{body}");
    }
    // The shop's own フリーメール text, and what the operator typed over it.
    let (st, v) = put(
        &t,
        "/api/v1/shop/mail-templates/free",
        json!({"subject": "{{ shop_name }}より（{{ order_number }}）", "body": "{{ customer_name }} 様\n\n（本文）\n\n{{ operator_name }}"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, c) = t
        .get(&format!("/api/v1/orders/{n}/mails/compose?kind=free"))
        .await;
    assert_eq!(c["subject"], format!("テストショップより（{n}）"));
    assert_eq!(
        c["body"],
        format!("山田 花子 様\n\n（本文）\n\n{ADMIN_NAME}")
    );
    let typed = "山田 花子 様\r\n\r\n入荷が遅れております。\r\n";
    let (st, m) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "free", "subject": "入荷遅延のお知らせ", "body": typed, "version": c["version"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(m["subject"], "入荷遅延のお知らせ");
    assert_eq!(m["body"], "山田 花子 様\n\n入荷が遅れております。\n");
    // 配送通知 by the operator's token: sent_by names them.
    let (st, m) = send(
        t.client
            .post(format!("{}/api/v1/orders/{n}/mails", t.base))
            .bearer_auth(&t.operator_token)
            .json(&json!({"kind": "shipping", "tracking_number": "4444-5555", "version": version(&t, n).await})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(m["sent_by"], OPERATOR_NAME);
    assert!(
        m["body"]
            .as_str()
            .unwrap()
            .contains("お問い合わせ番号: 4444-5555"),
        "{m}"
    );
    let all = mails_of(&t, n).await;
    let kinds: Vec<&str> = all.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["shipping", "free", "order"]);
    let h = history(&t, n).await;
    let line = |actor: &str, prefix: &str| {
        h.iter()
            .any(|e| e["actor"] == actor && e["detail"].as_str().unwrap().starts_with(prefix))
    };
    assert!(
        line(
            ADMIN_NAME,
            &format!(
                "注文確認メールを送信しました（件名: 【テストショップ】ご注文ありがとうございます（注文番号 {n}）、宛先: hanako@example.jp）"
            )
        ),
        "{h:?}"
    );
    assert!(
        line(
            ADMIN_NAME,
            "フリーメールを送信しました（件名: 入荷遅延のお知らせ"
        ),
        "{h:?}"
    );
    assert!(line(OPERATOR_NAME, "配送通知メールを送信しました"), "{h:?}");
}

async fn shipping_needs_a_tracking_number_and_stores_a_typed_one(t: TestApp) {
    let (n, v) = order(&t).await;
    let before = history(&t, n).await.len();
    let (st, e) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "shipping", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let m = messages(&e);
    assert!(
        m.iter()
            .any(|(f, msg)| f == "tracking_number" && msg.contains("問合せ番号を入力")),
        "{m:?}"
    );
    assert!(mails_of(&t, n).await.is_empty());
    assert_eq!(history(&t, n).await.len(), before);
    // A body of the operator's without the number it announces.
    let (st, e) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "shipping", "subject": "発送", "body": "発送しました", "tracking_number": "777", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(messages(&e)[0].0, "body", "{e}");
    assert_eq!(version(&t, n).await, v, "nothing stored");
    // Typed in full-width digits: stored on the order as ASCII, in the same transaction.
    let (st, m) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "shipping", "tracking_number": " １２３４-５６７８ ", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert!(
        m["body"]
            .as_str()
            .unwrap()
            .contains("お問い合わせ番号: 1234-5678"),
        "{m}"
    );
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(o["tracking_number"], "1234-5678", "{o}");
    assert_eq!(o["version"], v + 1);
    let h = history(&t, n).await;
    assert!(
        h.iter().any(|e| e["detail"] == "お問い合わせ番号「1234-5678」を登録しました（配送通知メール）"),
        "{h:?}"
    );
    // Again, with nothing typed: the order's number is used and the order is not changed.
    let (st, m) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "shipping", "version": v + 1}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert!(m["body"].as_str().unwrap().contains("1234-5678"), "{m}");
    assert_eq!(version(&t, n).await, v + 1);
    assert_eq!(mails_of(&t, n).await.len(), 2);
}

async fn empty_fields_are_refused_beside_them(t: TestApp) {
    let (n, v) = order(&t).await;
    let (st, e) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "free", "subject": " ", "body": "\r\n", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fields: Vec<String> = messages(&e).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["subject", "body"], "{e}");
    // The built-in フリーメール's stand-in text must be replaced.
    let (st, e) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "free", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(messages(&e)[0].1.contains("書き換えて"), "{e}");
    let (st, e) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "order", "subject": "二行\n件名", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(messages(&e)[0].0, "subject", "{e}");
    assert!(mails_of(&t, n).await.is_empty());
}

async fn a_stale_version_queues_nothing(t: TestApp) {
    let (n, v) = order(&t).await;
    // Someone else edits the order.
    let (st, o) = t
        .patch(
            &format!("/api/v1/orders/{n}"),
            json!({"version": v, "memo": "電話あり"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{o}");
    let before = history(&t, n).await.len();
    for kind in ["order", "shipping"] {
        let (st, e) = t
            .post(
                &format!("/api/v1/orders/{n}/mails"),
                json!({"kind": kind, "tracking_number": "999", "version": v}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{e}");
        assert_eq!(e["error"]["code"], "stale_version");
        assert_eq!(e["error"]["current_version"], v + 1);
    }
    assert!(mails_of(&t, n).await.is_empty());
    assert_eq!(history(&t, n).await.len(), before);
    let (_, o) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(o["tracking_number"], "", "{o}");
}

async fn a_moved_order_takes_no_mail(t: TestApp) {
    let (n, _) = order(&t).await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/move"),
            json!({"list": "completed"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let v = version(&t, n).await;
    let (st, e) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "shipping", "tracking_number": "1", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["code"], "only_in_open_list", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("受注完了一覧にある受注ではメール送信はできません"),
        "{e}"
    );
    let (st, e) = t
        .get(&format!("/api/v1/orders/{n}/mails/compose?kind=order"))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    assert!(mails_of(&t, n).await.is_empty());
    let (st, _) = t
        .post(
            "/api/v1/orders/99999/mails",
            json!({"kind": "order", "version": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

async fn the_job_sends_and_the_outbox_shows_it(t: TestApp) {
    set_shop_mail(&t).await;
    let (n, v) = order(&t).await;
    let (m2, _) = order(&t).await;
    let (st, m) = t
        .post(
            &format!("/api/v1/orders/{n}/mails"),
            json!({"kind": "shipping", "tracking_number": "1111-2222", "version": v}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let id = m["id"].as_i64().unwrap();
    let (st, _) = t
        .post(
            &format!("/api/v1/orders/{m2}/mails"),
            json!({"kind": "order", "version": version(&t, m2).await}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, out) = t.get("/api/v1/mails?status=queued").await;
    assert_eq!(out["total"], 2, "{out}");
    // Newest first.
    assert_eq!(out["mails"][0]["order_number"], m2);
    assert_eq!(out["mails"][1]["id"], id);
    let (st, sent) = t.post("/api/v1/mails/deliver", json!({})).await;
    assert_eq!((st, sent.as_i64()), (StatusCode::OK, Some(2)), "{sent}");
    let (_, out) = t
        .get(&format!(
            "/api/v1/mails?number={n}&kind=shipping&status=sent"
        ))
        .await;
    assert_eq!(out["total"], 1, "{out}");
    let x = &out["mails"][0];
    assert_eq!(x["id"], id);
    assert_eq!(x["status"], "sent");
    assert!(x["sent_at"].is_string(), "{x}");
    assert_eq!(x["sent_by"], ADMIN_NAME);
    let (_, none) = t.get("/api/v1/mails?status=failed").await;
    assert_eq!(none["total"], 0);
    // Full-width digits in the order number filter are fine; letters are not.
    let (_, out) = t.get("/api/v1/mails?number=%EF%BC%91").await;
    assert_eq!(out["total"], 1, "{out}");
    let (st, e) = t.get("/api/v1/mails?number=abc&status=lost").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(messages(&e).len(), 2, "{e}");
    let (st, one) = t.get(&format!("/api/v1/mails/{id}")).await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert!(one["body"].as_str().unwrap().contains("1111-2222"));
    // The .eml files written: to the buyer, from the shop.
    let eml: Vec<String> = std::fs::read_dir(&t.mail_dir.0)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(eml.len(), 2);
    for e in &eml {
        assert!(e.contains("To: hanako@example.jp"), "{e}");
        assert!(e.contains(&format!("<{SHOP_MAIL}>")), "{e}");
    }
    let h = history(&t, n).await;
    assert!(
        h.iter().any(|e| e["detail"]
            .as_str()
            .unwrap()
            .starts_with("メールを送信しました")),
        "{h:?}"
    );
    // Another shop's operator sees none of it.
    let (st, _) = t.get("/api/v1/mails/999999").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// A konbini checkout's サンクスメール is the shop's 注文確認 template with the payment
/// number, and the operator's 注文確認メール for the order is the same text.
async fn the_thanks_mail_is_the_shops_order_template(t: TestApp) {
    set_shop_mail(&t).await;
    let (st, v) = put(
        &t,
        "/api/v1/shop/mail-templates/order",
        json!({"subject": "【{{ shop_name }}】ご注文確認 {{ order_number }}",
               "body": "{{ customer_name }} 様\nご注文番号 {{ order_number }}（{{ order_status }}）\n{% if payment_instructions %}\n--\n{{ payment_instructions }}\n--\n{% endif %}\nお支払い合計 {{ payment_total|yen }}"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, p) = t
        .post(
            "/api/v1/products",
            json!({"name": "メール茶", "variants": [{"code": "ML-1", "price": 1200, "tax_rate": 8, "stock": 5}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let b = Buyer::new(
        t.shop_id,
        checkout::begin(&t.app, t.shop_id, None).await.unwrap(),
    );
    checkout::add(&t.app, &b, "ML-1", 1).await.unwrap();
    checkout::set_buyer(
        &t.app,
        &b,
        BuyerInput {
            family_name: "購入".into(),
            given_name: "太郎".into(),
            family_kana: "コウニュウ".into(),
            given_kana: "タロウ".into(),
            email: "buyer@example.jp".into(),
            tel: "0312345678".into(),
            postal_code: "1000001".into(),
            prefecture: "東京都".into(),
            address1: "千代田区千代田1-1".into(),
            address2: String::new(),
        },
    )
    .await
    .unwrap();
    let d = juchu_app::methods::deliveries(&t.app, t.shop_id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "宅配便")
        .expect("宅配便");
    checkout::choose(
        &t.app,
        &b,
        ChoiceInput {
            delivery_id: d.id,
            payment_method: "gmo_konbini".into(),
            konbini_store: Some("00001".into()),
            points: 0,
            remarks: String::new(),
        },
    )
    .await
    .unwrap();
    let view = checkout::view(&t.app, &b).await.unwrap();
    assert_eq!(
        checkout::confirm(&t.app, &b, &view.attempt).await.unwrap(),
        Next::Completed
    );
    let n = checkout::view(&t.app, &b)
        .await
        .unwrap()
        .order_number
        .unwrap();
    let c = checkout::completion(&t.app, &b).await.unwrap();
    let m = mails_of(&t, n).await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["kind"], "thanks");
    assert_eq!(m[0]["bcc"], SHOP_MAIL);
    assert_eq!(m[0]["subject"], format!("【テストショップ】ご注文確認 {n}"));
    let thanks = m[0]["body"].as_str().unwrap();
    assert!(
        thanks.starts_with(&format!("購入 太郎 様\nご注文番号 {n}（入金待ち）\n--\n")),
        "{thanks}"
    );
    assert!(thanks.contains(&c.slip[0].1), "{thanks}");
    assert!(thanks.contains("お支払い期限"), "{thanks}");
    // The operator's 注文確認メール: the same text while the buyer has still to pay.
    let (st, composed) = t
        .get(&format!("/api/v1/orders/{n}/mails/compose?kind=order"))
        .await;
    assert_eq!(st, StatusCode::OK, "{composed}");
    assert_eq!(composed["body"], thanks);
    assert_eq!(composed["subject"], m[0]["subject"]);
}

async fn openapi_lists_the_mail_api(t: TestApp) {
    let (st, v) = send(t.client.get(format!("{}/api/openapi.json", t.base))).await;
    assert_eq!(st, StatusCode::OK);
    for (p, m) in [
        ("/api/v1/shop/mail-templates/{kind}", "put"),
        ("/api/v1/orders/{number}/mails", "post"),
        ("/api/v1/orders/{number}/mails", "get"),
        ("/api/v1/orders/{number}/mails/compose", "get"),
        ("/api/v1/mails", "get"),
        ("/api/v1/mails/{id}", "get"),
    ] {
        assert!(v["paths"][p][m].is_object(), "missing {m} {p}");
    }
    for s in [
        "SendInput",
        "TemplateDoc",
        "OutboxPage",
        "Listed",
        "Composed",
    ] {
        assert!(
            v["components"]["schemas"][s].is_object(),
            "missing schema {s}"
        );
    }
}
