//! The common Gateway trait over GMO-PG, Paygent and Paidy, as juchu's payment operations will use
//! it: one code path, each gateway's rules applied by its connector.

use crate::support;
use crate::support::y;

use jiff::Timestamp;
use juchu_gateway::gmo::{GmoClient, GmoConfig};
use juchu_gateway::paidy::{PaidyClient, PaidyConfig};
use juchu_gateway::paygent::{PaygentClient, PaygentConfig};
use juchu_gateway::{
    AuthorizeOutcome, AuthorizeRequest, CardRef, Gateway, GatewayError, Installments, PaymentRef,
    PaymentState, Secret,
};

fn card_request(order_ref: &str, amount: i64, capture: bool) -> AuthorizeRequest {
    AuthorizeRequest {
        order_ref: order_ref.into(),
        amount: y(amount),
        tax: y(0),
        capture,
        card: CardRef::TestNumber {
            card_no: Secret::new("4111111111111111"),
            expire_yymm: "3012".into(),
        },
        installments: Installments::Lump,
        three_ds_return_url: None,
        three_ds_auth_id: None,
    }
}

fn jst(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn done(g: &dyn Gateway, r: &AuthorizeRequest) -> PaymentRef {
    match g.authorize(r).await.unwrap() {
        AuthorizeOutcome::Done { payment, status } => {
            assert_eq!(
                status.state,
                if r.capture {
                    PaymentState::Captured
                } else {
                    PaymentState::Authorized
                }
            );
            payment
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn gmo_through_the_trait_picks_cancel_kinds_by_japan_date() {
    let sb = support::Sandbox::start(juchu_sandbox::Config::default()).await;
    let gmo = GmoClient::new(GmoConfig::sandbox(&format!("{}/gmo", sb.base))).unwrap();
    let g: &dyn Gateway = &gmo;
    sb.set_clock("2024-08-31T23:50:00+09:00").await;
    let a = done(g, &card_request("t-1", 1000, false)).await;
    let b = done(g, &card_request("t-2", 1000, true)).await;
    let c = done(g, &card_request("t-3", 1000, false)).await;
    // Same Japan day: 取消.
    assert_eq!(
        g.cancel(&c, jst("2024-08-31T23:55:00+09:00"))
            .await
            .unwrap()
            .gateway_status,
        "VOID"
    );
    sb.set_clock("2024-09-01T00:05:00+09:00").await;
    let now = jst("2024-09-01T00:05:00+09:00");
    // Next month: an uncaptured authorization is 返品, a captured one 月跨返品.
    assert_eq!(g.cancel(&a, now).await.unwrap().gateway_status, "RETURN");
    assert_eq!(g.cancel(&b, now).await.unwrap().gateway_status, "RETURNX");
    // Re-authorize, change the amount, capture, query.
    let (again, st) = g.reauthorize(&a, y(1200), false, "unused").await.unwrap();
    assert_eq!(again, a);
    assert_eq!((st.state, st.amount), (PaymentState::Authorized, y(1200)));
    let (same, st) = g.change_amount(&a, y(900), false).await.unwrap();
    assert_eq!(same, a);
    assert_eq!(st.amount, y(900));
    g.capture(&a, y(900)).await.unwrap();
    let q = g.query(&a).await.unwrap();
    assert_eq!(
        (q.state, q.amount, q.captured),
        (PaymentState::Captured, y(900), y(900))
    );
    assert!(matches!(
        g.refund(&a, None).await,
        Err(GatewayError::Unsupported(_))
    ));
    // A declined card is a refusal marked declined.
    let mut r = card_request("t-4", 500, false);
    r.card = CardRef::TestNumber {
        card_no: Secret::new("4111111111118203"),
        expire_yymm: "3012".into(),
    };
    match g.authorize(&r).await {
        Err(GatewayError::Refused {
            declined: true,
            detail,
            ..
        }) => assert_eq!(detail, "42G030000"),
        other => panic!("{other:?}"),
    }
    // 3-D Secure through the trait.
    let mut r = card_request("t-5", 700, false);
    r.three_ds_return_url = Some("https://shop.example/ret".into());
    let AuthorizeOutcome::ThreeDs {
        payment,
        redirect_url,
    } = g.authorize(&r).await.unwrap()
    else {
        panic!("expected a 3DS redirect");
    };
    sb.http.get(&redirect_url).send().await.unwrap();
    assert_eq!(
        g.complete_3ds(&payment).await.unwrap().state,
        PaymentState::Authorized
    );
    // Stored as JSON in juchu, found again.
    let json = serde_json::to_string(&payment).unwrap();
    assert!(json.contains("\"gateway\":\"gmo\""));
    let back: PaymentRef = serde_json::from_str(&json).unwrap();
    assert_eq!(g.query(&back).await.unwrap().amount, y(700));
}

#[tokio::test]
async fn paidy_through_the_trait() {
    let sb = support::Sandbox::start(juchu_sandbox::Config::default()).await;
    let paidy = PaidyClient::new(PaidyConfig::sandbox(&format!("{}/paidy", sb.base))).unwrap();
    let g: &dyn Gateway = &paidy;
    let mut r = card_request("88", 5000, false);
    r.card = CardRef::Token("tok_x".into());
    let p = done(g, &r).await;
    // The shop's total changed: capture refuses until the payment is updated.
    match g.capture(&p, y(5400)).await {
        Err(GatewayError::Refused { code, .. }) => assert_eq!(code, "amount_mismatch"),
        other => panic!("{other:?}"),
    }
    g.change_amount(&p, y(5400), false).await.unwrap();
    let st = g.capture(&p, y(5400)).await.unwrap();
    assert_eq!((st.state, st.captured), (PaymentState::Captured, y(5400)));
    let st = g.refund(&p, Some(y(400))).await.unwrap();
    assert_eq!((st.state, st.refunded), (PaymentState::Captured, y(400)));
    let st = g.refund(&p, None).await.unwrap();
    assert_eq!(st.state, PaymentState::Refunded);
    // Close an open one.
    let q = done(g, &r).await;
    assert_eq!(
        g.cancel(&q, Timestamp::now()).await.unwrap().state,
        PaymentState::Cancelled
    );
    r.card = CardRef::Token("tok_reject".into());
    assert!(matches!(
        g.authorize(&r).await,
        Err(GatewayError::Refused { declined: true, .. })
    ));
}

#[tokio::test]
async fn later_payments_and_stored_cards_through_the_trait() {
    use juchu_gateway::{LaterMethod, LaterRequest};
    let sb = support::Sandbox::start(juchu_sandbox::Config::default()).await;
    let gmo = GmoClient::new(GmoConfig::sandbox(&format!("{}/gmo", sb.base))).unwrap();
    let g: &dyn Gateway = &gmo;
    let req = |order: &str, method: LaterMethod| LaterRequest {
        order_ref: order.into(),
        amount: y(2200),
        method,
        customer_name: "佐藤 一郎".into(),
        customer_kana: "サトウ イチロウ".into(),
        tel: "0312345678".into(),
        due_days: 5,
    };
    let (p, slip) = g
        .request_payment(&req(
            "lp-1",
            LaterMethod::Konbini {
                store: "00002".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(slip.fields[0].0, "受付番号");
    assert_eq!(
        slip.due.to_string(),
        "2024-08-24T14:59:59Z",
        "end of 2024-08-24 in Japan"
    );
    assert_eq!(g.query(&p).await.unwrap().state, PaymentState::Pending);
    sb.control("/gmo/lp-1/pay", serde_json::json!({})).await;
    assert_eq!(g.query(&p).await.unwrap().state, PaymentState::Paid);
    let (p2, _) = g
        .request_payment(&req("lp-2", LaterMethod::PayEasy))
        .await
        .unwrap();
    sb.advance(6 * 86_400).await;
    assert_eq!(g.query(&p2).await.unwrap().state, PaymentState::Expired);
    assert!(matches!(
        g.request_payment(&req("lp-3", LaterMethod::NetBank)).await,
        Err(GatewayError::Unsupported(_))
    ));
    // Stored cards: the customer is registered at the gateway on first use.
    assert!(g.cards("cust-9").await.unwrap().is_empty());
    let card = CardRef::TestNumber {
        card_no: Secret::new("4111111111111111"),
        expire_yymm: "3012".into(),
    };
    let c = g.save_card("cust-9", &card, true).await.unwrap();
    assert_eq!(c.masked, "*************111");
    let cards = g.cards("cust-9").await.unwrap();
    assert_eq!(cards.len(), 1);
    assert!(cards[0].default);
    let mut r = card_request("sc-1", 990, false);
    r.card = CardRef::Stored {
        customer_id: "cust-9".into(),
        card_seq: c.card_id.parse().unwrap(),
    };
    done(g, &r).await;
    g.delete_card("cust-9", &c.card_id).await.unwrap();
    assert!(g.cards("cust-9").await.unwrap().is_empty());
}

#[tokio::test]
async fn paygent_through_the_trait_hands_back_new_payment_ids() {
    use juchu_gateway::{LaterMethod, LaterRequest};
    let sb = support::Sandbox::start(juchu_sandbox::Config::default()).await;
    let pg = PaygentClient::new(PaygentConfig::sandbox(&format!("{}/paygent", sb.base))).unwrap();
    let g: &dyn Gateway = &pg;
    let now = jst("2024-08-19T10:00:00+09:00");
    let a = done(g, &card_request("pt-1", 3000, false)).await;
    // 補正オーソリ down: a new payment_id, the original cancelled.
    let (b, st) = g.change_amount(&a, y(2800), false).await.unwrap();
    assert_ne!(b, a);
    assert_eq!((st.state, st.amount), (PaymentState::Authorized, y(2800)));
    assert_eq!(g.query(&a).await.unwrap().gateway_status, "32");
    // Up is not a 補正: the trait says so, and nothing changed.
    assert!(matches!(
        g.change_amount(&b, y(3500), false).await,
        Err(GatewayError::Unsupported(_))
    ));
    assert_eq!(g.query(&b).await.unwrap().amount, y(2800));
    // Growing the amount: authorize again with the same card under a reference of its own
    // (as a trading_id: `-` is not allowed there), then cancel the old one. The new payment
    // is found by its reference; the old one's is not shared.
    let (c, st) = g.reauthorize(&b, y(3500), false, "pt-2").await.unwrap();
    assert_ne!(c, b);
    assert_eq!((st.state, st.amount), (PaymentState::Authorized, y(3500)));
    assert!(
        matches!(&c, PaymentRef::Paygent { trading_id, .. } if trading_id == "pt_2"),
        "{c:?}"
    );
    let (found, st) = g
        .find("pt-2")
        .await
        .unwrap()
        .expect("found by its reference");
    assert_eq!((found, st.amount), (c.clone(), y(3500)));
    assert_eq!(g.cancel(&b, now).await.unwrap().gateway_status, "32");
    // Capture, 補正売上 down, refund in full.
    let st = g.capture(&c, y(3500)).await.unwrap();
    assert_eq!(st.state, PaymentState::Captured);
    let (d, st) = g.change_amount(&c, y(3000), true).await.unwrap();
    assert_eq!((st.state, st.amount), (PaymentState::Captured, y(3000)));
    assert!(matches!(
        g.refund(&d, Some(y(100))).await,
        Err(GatewayError::Unsupported(_))
    ));
    let st = g.refund(&d, None).await.unwrap();
    assert_eq!((st.state, st.refunded), (PaymentState::Cancelled, y(3000)));
    assert_eq!(g.query(&d).await.unwrap().gateway_status, "60");
    // Cancel picks 021 or 023 itself.
    let e = done(g, &card_request("pt-2", 1000, true)).await;
    assert_eq!(g.cancel(&e, now).await.unwrap().gateway_status, "60");
    // Paid later: konbini, ATM, net bank.
    let req = |order: &str, method: LaterMethod| LaterRequest {
        order_ref: order.into(),
        amount: y(2200),
        method,
        customer_name: "佐藤 一郎".into(),
        customer_kana: "サトウ イチロウ".into(),
        tel: "03-1234-5678".into(),
        due_days: 5,
    };
    let (k, slip) = g
        .request_payment(&req(
            "pl-1",
            LaterMethod::Konbini {
                store: "00C002".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(slip.fields[0].0, "受付番号");
    assert_eq!(slip.due.to_string(), "2024-08-24T14:59:59Z");
    assert_eq!(g.query(&k).await.unwrap().state, PaymentState::Pending);
    sb.control(
        &format!("/paygent/{}/pay", k.display_id()),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(g.query(&k).await.unwrap().state, PaymentState::Paid);
    let (atm, slip) = g
        .request_payment(&req("pl-2", LaterMethod::PayEasy))
        .await
        .unwrap();
    assert_eq!(slip.fields.len(), 3);
    let (_, slip) = g
        .request_payment(&req("pl-3", LaterMethod::NetBank))
        .await
        .unwrap();
    assert!(slip.url.unwrap().contains("/paygent/bank/asp/"));
    sb.advance(6 * 86_400).await;
    assert_eq!(g.query(&atm).await.unwrap().state, PaymentState::Expired);
    // Stored cards.
    assert!(g.cards("cust_9").await.unwrap().is_empty());
    let card = CardRef::TestNumber {
        card_no: Secret::new("4111111111111111"),
        expire_yymm: "3012".into(),
    };
    let sc = g.save_card("cust_9", &card, true).await.unwrap();
    assert_eq!(sc.expire, "1230");
    let mut r = card_request("ps-1", 990, false);
    r.card = CardRef::Stored {
        customer_id: "cust_9".into(),
        card_seq: sc.card_id.parse().unwrap(),
    };
    done(g, &r).await;
    g.delete_card("cust_9", &sc.card_id).await.unwrap();
    assert!(g.cards("cust_9").await.unwrap().is_empty());
}

/// What juchu offers for an unpaid konbini / Pay-easy / ATM / net-bank request
/// (`PaymentMethod::cancels_unpaid`) is what each connector can do: the ones juchu never
/// offers to cancel answer `Unsupported`, the one it offers cancels.
#[tokio::test]
async fn cancelling_an_unpaid_request_is_offered_exactly_where_the_gateway_can() {
    use juchu_domain::payment_method::PaymentMethod;
    use juchu_gateway::{LaterMethod, LaterRequest};
    let sb = support::Sandbox::start(juchu_sandbox::Config::default()).await;
    let gmo = GmoClient::new(GmoConfig::sandbox(&format!("{}/gmo", sb.base))).unwrap();
    let pg = PaygentClient::new(PaygentConfig::sandbox(&format!("{}/paygent", sb.base))).unwrap();
    let now = jst("2024-08-19T10:00:00+09:00");
    let cases: [(PaymentMethod, &dyn Gateway, LaterMethod); 5] = [
        (
            PaymentMethod::GmoKonbini,
            &gmo,
            LaterMethod::Konbini {
                store: "00001".into(),
            },
        ),
        (PaymentMethod::GmoPayeasy, &gmo, LaterMethod::PayEasy),
        (
            PaymentMethod::PaygentKonbini,
            &pg,
            LaterMethod::Konbini {
                store: "00C001".into(),
            },
        ),
        (PaymentMethod::PaygentAtm, &pg, LaterMethod::PayEasy),
        (PaymentMethod::PaygentNetbank, &pg, LaterMethod::NetBank),
    ];
    for (i, (method, g, later)) in cases.into_iter().enumerate() {
        let (p, _) = g
            .request_payment(&LaterRequest {
                order_ref: format!("cu-{i}"),
                amount: y(2200),
                method: later,
                customer_name: "佐藤 一郎".into(),
                customer_kana: "サトウ イチロウ".into(),
                tel: "0312345678".into(),
                due_days: 5,
            })
            .await
            .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        let r = g.cancel(&p, now).await;
        if method.cancels_unpaid() {
            assert_eq!(r.unwrap().state, PaymentState::Cancelled, "{method:?}");
        } else {
            assert!(
                matches!(r, Err(GatewayError::Unsupported(_))),
                "{method:?}: {r:?}"
            );
        }
    }
}
