//! The 受注作業 rules under the admin screens, on SQLite and PostgreSQL: 入金チェック, list
//! moves and deletes that check the version the operator saw, what a moved order still
//! allows, a payment method that cannot change under a payment, 購入履歴 by member, and
//! cancelled-order stock returned many at once with a result per line.

use crate::both_backends;
use crate::support;

use juchu_app::{AppError, orders, stock};
use juchu_domain::search::SearchInput;
use juchu_domain::status::OrderList;
use serde_json::json;
use support::{TestApp, order_json};

async fn version(t: &TestApp, n: i64) -> i64 {
    t.get(&format!("/api/v1/orders/{n}")).await.1["version"]
        .as_i64()
        .unwrap()
}

async fn payment_check_is_a_mark_with_who_and_when(t: TestApp) {
    let n = t.import(order_json()).await["number"].as_i64().unwrap();
    let a = t.actor();
    let v = version(&t, n).await;
    // A stale page is refused and nothing changes.
    let e = orders::set_payment_checked(&t.app, &a, n, true, Some(v - 1))
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Stale { .. }), "{e:?}");
    let o = orders::set_payment_checked(&t.app, &a, n, true, Some(v))
        .await
        .unwrap();
    assert!(o.payment_checked);
    assert_eq!(o.payment_checked_by, "テスト");
    assert!(o.payment_checked_at.is_some());
    // Twice is said plainly, not silently repeated.
    let e = orders::set_payment_checked(&t.app, &a, n, true, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("すでに入金チェック済み"), "{e}");
    let o = orders::set_payment_checked(&t.app, &a, n, false, None)
        .await
        .unwrap();
    assert!(!o.payment_checked && o.payment_checked_at.is_none());
    let (_, h) = t.get(&format!("/api/v1/orders/{n}/history")).await;
    let h = h.to_string();
    assert!(h.contains("入金チェックを「済」にしました") && h.contains("入金チェックを外しました"));
    // In 受注完了一覧 the mark is no longer offered (seed 004 §7-1).
    orders::move_to_list(&t.app, &a, n, OrderList::Completed, None)
        .await
        .unwrap();
    let e = orders::set_payment_checked(&t.app, &a, n, true, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "only_in_open_list");
}

async fn moves_and_deletes_check_the_version(t: TestApp) {
    let n = t.import(order_json()).await["number"].as_i64().unwrap();
    let a = t.actor();
    let v = version(&t, n).await;
    let (st, _) = t
        .post(
            &format!("/api/v1/orders/{n}/move"),
            json!({"list": "completed", "version": v + 5}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::CONFLICT);
    let e = orders::delete(&t.app, &a, n, Some(v + 1))
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Stale { .. }));
    orders::move_to_list(&t.app, &a, n, OrderList::Completed, Some(v))
        .await
        .unwrap();
    orders::delete(&t.app, &a, n, Some(v + 1)).await.unwrap();
    let (st, _) = t.get(&format!("/api/v1/orders/{n}")).await;
    assert_eq!(st, reqwest::StatusCode::NOT_FOUND);
}

async fn payment_method_stays_under_a_payment(t: TestApp) {
    let n = t.order_paid_by("gmo_card").await;
    let (st, v) = t
        .post(
            &format!("/api/v1/orders/{n}/payment"),
            json!({"test_card_number": "4111111111111111", "test_card_expire": "3012", "capture": false}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{v}");
    let before = t.counts().await;
    let v = version(&t, n).await;
    let (st, e) = t
        .patch(
            &format!("/api/v1/orders/{n}"),
            json!({"version": v, "payment_method": "bank_transfer"}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("支払方法は変更できません"), "{e}");
    assert_eq!(t.counts().await, before, "nothing stored");
    // Without a payment the method may change.
    let m = t.import(order_json()).await["number"].as_i64().unwrap();
    let v = version(&t, m).await;
    let (st, o) = t
        .patch(
            &format!("/api/v1/orders/{m}"),
            json!({"version": v, "payment_method": "bank_transfer"}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{o}");
}

async fn purchase_history_by_member(t: TestApp) {
    let (_, c) = t
        .post(
            "/api/v1/customers",
            json!({"family_name": "会員", "given_name": "一", "family_kana": "カイイン", "given_kana": "ハジメ", "email": "one@example.jp"}),
        )
        .await;
    let cid = c["id"].as_i64().unwrap();
    t.import(order_json()).await;
    let mut o = order_json();
    o["customer_id"] = json!(cid);
    let mine = t.import(o).await["number"].as_i64().unwrap();
    orders::change_status(
        &t.app,
        &t.actor(),
        mine,
        juchu_domain::status::OrderStatus::Cancelled,
        None,
    )
    .await
    .unwrap();
    orders::move_to_list(&t.app, &t.actor(), mine, OrderList::Cancelled, None)
        .await
        .unwrap();
    let q = SearchInput {
        customer_id: Some(cid.to_string()),
        list: Some("all".into()),
        ..SearchInput::default()
    };
    let (_, p) = orders::search(&t.app, &t.actor(), &q).await.unwrap();
    assert_eq!(
        p.orders.iter().map(|o| o.order.number).collect::<Vec<_>>(),
        vec![mine]
    );
    let (st, e) = t.get("/api/v1/orders?customer_id=abc").await;
    assert_eq!(st, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

async fn stock_returned_many_with_a_result_each(t: TestApp) {
    let a = t.actor();
    for _ in 0..2 {
        let n = t.import(order_json()).await["number"].as_i64().unwrap();
        orders::change_status(
            &t.app,
            &a,
            n,
            juchu_domain::status::OrderStatus::Cancelled,
            None,
        )
        .await
        .unwrap();
    }
    let lines = stock::list(&t.app, &a, false).await.unwrap();
    assert_eq!(lines.len(), 4);
    // One line returned meanwhile: the batch reports it and returns the others.
    stock::return_one(&t.app, &a, lines[0].id).await.unwrap();
    let ids: Vec<i64> = lines.iter().map(|l| l.id).collect();
    let r = stock::return_many(&t.app, &a, &ids).await.unwrap();
    assert_eq!(r.iter().filter(|x| x.result.is_ok()).count(), 3);
    let refused = r.iter().find(|x| x.result.is_err()).unwrap();
    assert_eq!(refused.id, lines[0].id);
    assert!(stock::list(&t.app, &a, false).await.unwrap().is_empty());
    // TS-M: 5 in stock, imports took none, 2 orders × 2 came back.
    let (_, p) = t.get("/api/v1/products?q=TS-M").await;
    assert_eq!(p["items"][0]["variants"][0]["stock"], 9);
    let e = stock::return_many(&t.app, &a, &[]).await.unwrap_err();
    assert!(matches!(e, AppError::Invalid(_)));
}

both_backends!(
    payment_check_is_a_mark_with_who_and_when,
    moves_and_deletes_check_the_version,
    payment_method_stays_under_a_payment,
    purchase_history_by_member,
    stock_returned_many_with_a_result_each,
);
