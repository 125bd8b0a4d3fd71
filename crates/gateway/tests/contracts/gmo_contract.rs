//! The GMO-PG connector against the sandbox: every operation, each rule and its refusal,
//! time travel across a Japan-time midnight and a month end, and faults that leave the
//! outcome unknown.

use std::time::Duration;

use juchu_gateway::GatewayError;
use juchu_gateway::Secret;
use juchu_gateway::gmo::{AccessKeys, CardSource, GmoClient, GmoConfig, JobCd, PayMethod};
use serde_json::{Value, json};

use crate::support;

struct Env {
    sb: support::Sandbox,
    base: String,
    gmo: GmoClient,
    http: reqwest::Client,
}

async fn env_with(cfg: juchu_sandbox::Config, timeout: Duration) -> Env {
    let sb = support::Sandbox::start(cfg).await;
    let mut cfg = GmoConfig::sandbox(&format!("{}/gmo", sb.base));
    cfg.timeout = timeout;
    Env {
        base: sb.base.clone(),
        http: sb.http.clone(),
        gmo: GmoClient::new(cfg).unwrap(),
        sb,
    }
}

async fn env() -> Env {
    env_with(juchu_sandbox::Config::default(), Duration::from_secs(10)).await
}

impl Env {
    async fn control(&self, path: &str, body: Value) -> Value {
        self.sb.control(path, body).await
    }
    async fn set_clock(&self, t: &str) {
        self.sb.set_clock(t).await;
    }
    async fn advance(&self, secs: i64) {
        self.sb.advance(secs).await;
    }
    async fn fault(&self, op: &str, kind: &str) {
        self.sb.fault("gmo", op, kind).await;
    }
    async fn ledger(&self, order_id: &str) -> Value {
        let v = self.sb.ledger().await;
        v["gmo"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["order_id"] == order_id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// EntryTran + ExecTran with a test card.
    async fn authorize(
        &self,
        order_id: &str,
        job: JobCd,
        amount: i64,
        card: &str,
    ) -> Result<AccessKeys, GatewayError> {
        let keys = self.gmo.entry_tran(order_id, job, amount, 0).await?;
        self.gmo
            .exec_tran(&keys, order_id, PayMethod::Lump, &card_no(card))
            .await?;
        Ok(keys)
    }
}

fn card_no(n: &str) -> CardSource {
    CardSource::Number {
        card_no: Secret::new(n),
        expire_yymm: "3012".into(),
        security_code: Some(Secret::new("123")),
    }
}

const OK_CARD: &str = "4111111111111111";

fn refused(r: Result<impl std::fmt::Debug, GatewayError>) -> (String, String, bool) {
    match r {
        Err(GatewayError::Refused {
            detail,
            message,
            declined,
            ..
        }) => (detail, message, declined),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn authorize_capture_and_search() {
    let e = env().await;
    let keys = e
        .authorize("order-1", JobCd::Auth, 1200, OK_CARD)
        .await
        .unwrap();
    let t = e.gmo.search_trade("order-1").await.unwrap();
    assert_eq!((t.status.as_str(), t.amount), ("AUTH", 1200));
    assert_eq!(t.card_no, "*************111");
    assert_eq!(t.access_id, keys.access_id);
    // SALES must be for the authorized amount.
    let (d, m, _) = refused(e.gmo.alter_tran(&keys, JobCd::Sales, Some(1000)).await);
    assert_eq!(d, "E01060010");
    assert!(m.contains("一致しません"), "{m}");
    e.gmo
        .alter_tran(&keys, JobCd::Sales, Some(1200))
        .await
        .unwrap();
    assert_eq!(e.gmo.search_trade("order-1").await.unwrap().status, "SALES");
    // Captured twice? No.
    let (d, _, _) = refused(e.gmo.alter_tran(&keys, JobCd::Sales, Some(1200)).await);
    assert_eq!(d, "E11010001");
    let l = e.ledger("order-1").await;
    let apis: Vec<&str> = l["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["api"].as_str().unwrap())
        .collect();
    assert_eq!(
        apis,
        [
            "EntryTran",
            "ExecTran",
            "AlterTran",
            "AlterTran",
            "AlterTran"
        ]
    );
}

#[tokio::test]
async fn entry_rules() {
    let e = env().await;
    e.gmo
        .entry_tran("dup-1", JobCd::Auth, 100, 0)
        .await
        .unwrap();
    assert_eq!(
        refused(e.gmo.entry_tran("dup-1", JobCd::Auth, 100, 0).await).0,
        "E01040010"
    );
    assert_eq!(
        refused(e.gmo.entry_tran("注文1", JobCd::Auth, 100, 0).await).0,
        "E01040013"
    );
    assert_eq!(
        refused(e.gmo.entry_tran(&"x".repeat(28), JobCd::Auth, 100, 0).await).0,
        "E01040003"
    );
    assert_eq!(
        refused(e.gmo.entry_tran("amt-1", JobCd::Auth, 12_345_678, 0).await).0,
        "E01060005"
    );
    let mut cfg = e.gmo.config().clone();
    cfg.shop_pass = Secret::new("wrong");
    let bad = GmoClient::new(cfg).unwrap();
    let (d, m, _) = refused(bad.entry_tran("cred-1", JobCd::Auth, 100, 0).await);
    assert_eq!(d, "E01030002");
    assert!(m.contains("決済設定"), "{m}");
    assert_eq!(refused(e.gmo.search_trade("nope").await).0, "E01110002");
}

#[tokio::test]
async fn test_cards_decline_with_issuer_codes() {
    let e = env().await;
    let keys = e
        .gmo
        .entry_tran("decl-1", JobCd::Auth, 500, 0)
        .await
        .unwrap();
    let (d, m, declined) = refused(
        e.gmo
            .exec_tran(
                &keys,
                "decl-1",
                PayMethod::Lump,
                &card_no("4111111111118212"),
            )
            .await,
    );
    assert_eq!(d, "42G120000");
    assert!(declined);
    assert!(m.contains("G12"), "{m}");
    assert_eq!(
        e.gmo.search_trade("decl-1").await.unwrap().status,
        "UNPROCESSED"
    );
    // The decline stays on record; another card then goes through on the same transaction.
    e.gmo
        .exec_tran(&keys, "decl-1", PayMethod::Lump, &card_no(OK_CARD))
        .await
        .unwrap();
    let l = e.ledger("decl-1").await;
    let results: Vec<&str> = l["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["OK", "42G120000", "OK"]);
    // An expired card is G83; a malformed number is an input error.
    let k2 = e
        .gmo
        .entry_tran("decl-2", JobCd::Auth, 500, 0)
        .await
        .unwrap();
    let expired = CardSource::Number {
        card_no: Secret::new(OK_CARD),
        expire_yymm: "2407".into(),
        security_code: None,
    };
    assert_eq!(
        refused(
            e.gmo
                .exec_tran(&k2, "decl-2", PayMethod::Lump, &expired)
                .await
        )
        .0,
        "42G830000"
    );
    assert_eq!(
        refused(
            e.gmo
                .exec_tran(&k2, "decl-2", PayMethod::Lump, &card_no("4111-1111"))
                .await
        )
        .0,
        "E01170006"
    );
    // Installments need a count.
    assert_eq!(
        refused(
            e.gmo
                .exec_tran(&k2, "decl-2", PayMethod::Installments(1), &card_no(OK_CARD))
                .await
        )
        .0,
        "E01080010"
    );
}

#[tokio::test]
async fn authorization_expires_after_90_days() {
    let e = env().await;
    let keys = e
        .authorize("exp-1", JobCd::Auth, 800, OK_CARD)
        .await
        .unwrap();
    e.advance(90 * 86_400 - 60).await;
    let k2 = e
        .authorize("exp-2", JobCd::Auth, 800, OK_CARD)
        .await
        .unwrap();
    e.advance(120).await;
    let (d, m, _) = refused(e.gmo.alter_tran(&keys, JobCd::Sales, Some(800)).await);
    assert_eq!(d, "E01420010");
    assert!(m.contains("90日"), "{m}");
    e.gmo
        .alter_tran(&k2, JobCd::Sales, Some(800))
        .await
        .unwrap();
}

#[tokio::test]
async fn cancel_kind_follows_japan_dates() {
    let e = env().await;
    // Authorized and captured at 23:50 on 31 August, Japan time.
    e.set_clock("2024-08-31T23:50:00+09:00").await;
    let auth = e
        .authorize("void-1", JobCd::Auth, 1000, OK_CARD)
        .await
        .unwrap();
    let cap = e
        .authorize("cap-1", JobCd::Capture, 1000, OK_CARD)
        .await
        .unwrap();
    let same_day = e
        .authorize("void-2", JobCd::Capture, 1000, OK_CARD)
        .await
        .unwrap();
    e.set_clock("2024-08-31T23:59:00+09:00").await;
    e.gmo
        .alter_tran(&same_day, JobCd::Void, None)
        .await
        .unwrap();
    // Twenty minutes later it is 1 September: a new day and a new month.
    e.set_clock("2024-09-01T00:10:00+09:00").await;
    assert_eq!(
        refused(e.gmo.alter_tran(&auth, JobCd::Void, None).await).0,
        "E01050004"
    );
    assert_eq!(
        refused(e.gmo.alter_tran(&auth, JobCd::ReturnX, None).await).0,
        "E01050004"
    );
    e.gmo.alter_tran(&auth, JobCd::Return, None).await.unwrap();
    assert_eq!(
        refused(e.gmo.alter_tran(&cap, JobCd::Void, None).await).0,
        "E01050004"
    );
    assert_eq!(
        refused(e.gmo.alter_tran(&cap, JobCd::Return, None).await).0,
        "E01050004"
    );
    e.gmo.alter_tran(&cap, JobCd::ReturnX, None).await.unwrap();
    assert_eq!(e.gmo.search_trade("cap-1").await.unwrap().status, "RETURNX");
    // Same month, later day: RETURN, not RETURNX.
    e.set_clock("2024-09-02T10:00:00+09:00").await;
    let sep = e
        .authorize("ret-1", JobCd::Capture, 500, OK_CARD)
        .await
        .unwrap();
    e.set_clock("2024-09-20T10:00:00+09:00").await;
    assert_eq!(
        refused(e.gmo.alter_tran(&sep, JobCd::ReturnX, None).await).0,
        "E01050004"
    );
    e.gmo.alter_tran(&sep, JobCd::Return, None).await.unwrap();
    // Past 180 days nothing can be cancelled.
    let old = e
        .authorize("old-1", JobCd::Capture, 500, OK_CARD)
        .await
        .unwrap();
    e.advance(181 * 86_400).await;
    let (d, m, _) = refused(e.gmo.alter_tran(&old, JobCd::ReturnX, None).await);
    assert_eq!(d, "E11010010");
    assert!(m.contains("180日"), "{m}");
}

#[tokio::test]
async fn reauthorize_after_cancel_and_change_amount() {
    let e = env().await;
    let keys = e
        .authorize("re-1", JobCd::Auth, 1000, OK_CARD)
        .await
        .unwrap();
    // Re-authorization only from a cancelled state.
    assert_eq!(
        refused(e.gmo.alter_tran(&keys, JobCd::Auth, Some(1000)).await).0,
        "E01050004"
    );
    e.gmo.alter_tran(&keys, JobCd::Void, None).await.unwrap();
    e.gmo
        .alter_tran(&keys, JobCd::Auth, Some(1100))
        .await
        .unwrap();
    let t = e.gmo.search_trade("re-1").await.unwrap();
    assert_eq!((t.status.as_str(), t.amount), ("AUTH", 1100));
    e.gmo
        .alter_tran(&keys, JobCd::Sales, Some(1100))
        .await
        .unwrap();
    // 金額変更 after capture, ending as 即時売上.
    e.gmo
        .change_tran(&keys, JobCd::Capture, 900, 0)
        .await
        .unwrap();
    let t = e.gmo.search_trade("re-1").await.unwrap();
    assert_eq!((t.status.as_str(), t.amount), ("CAPTURE", 900));
    // … or as 仮売上 again.
    e.gmo.change_tran(&keys, JobCd::Auth, 950, 0).await.unwrap();
    assert_eq!(e.gmo.search_trade("re-1").await.unwrap().status, "AUTH");
    // Not on a cancelled transaction.
    e.gmo.alter_tran(&keys, JobCd::Void, None).await.unwrap();
    assert_eq!(
        refused(e.gmo.change_tran(&keys, JobCd::Auth, 800, 0).await).0,
        "E11010002"
    );
}

#[tokio::test]
async fn faults_leave_the_outcome_unknown_and_the_ledger_tells() {
    let e = env().await;
    let keys = e.authorize("f-1", JobCd::Auth, 700, OK_CARD).await.unwrap();
    // Dropped after the gateway committed: unknown, and SearchTrade shows it happened.
    e.fault("AlterTran", "drop_after").await;
    let r = e.gmo.alter_tran(&keys, JobCd::Sales, Some(700)).await;
    assert!(matches!(r, Err(GatewayError::Unknown { .. })), "{r:?}");
    assert_eq!(e.gmo.search_trade("f-1").await.unwrap().status, "SALES");
    // Dropped before: unknown to the client too, but nothing happened.
    let k2 = e.authorize("f-2", JobCd::Auth, 700, OK_CARD).await.unwrap();
    e.fault("AlterTran", "drop_before").await;
    assert!(
        e.gmo
            .alter_tran(&k2, JobCd::Sales, Some(700))
            .await
            .unwrap_err()
            .is_unknown()
    );
    assert_eq!(e.gmo.search_trade("f-2").await.unwrap().status, "AUTH");
    // A 5xx is not a refusal either.
    e.fault("AlterTran", "server_error").await;
    assert!(
        e.gmo
            .alter_tran(&k2, JobCd::Sales, Some(700))
            .await
            .unwrap_err()
            .is_unknown()
    );
    // The faults were used up: the next call goes through.
    e.gmo
        .alter_tran(&k2, JobCd::Sales, Some(700))
        .await
        .unwrap();
}

#[tokio::test]
async fn slow_card_times_out_but_was_authorized() {
    let cfg = juchu_sandbox::Config {
        slow_card_ms: 1500,
        ..Default::default()
    };
    let e = env_with(cfg, Duration::from_millis(400)).await;
    let keys = e
        .gmo
        .entry_tran("slow-1", JobCd::Auth, 300, 0)
        .await
        .unwrap();
    let r = e
        .gmo
        .exec_tran(
            &keys,
            "slow-1",
            PayMethod::Lump,
            &card_no("4111111111119000"),
        )
        .await;
    match r {
        Err(GatewayError::Unknown { reason }) => {
            assert!(reason.contains("タイムアウト"), "{reason}")
        }
        other => panic!("expected unknown, got {other:?}"),
    }
    assert_eq!(e.gmo.search_trade("slow-1").await.unwrap().status, "AUTH");
}

#[tokio::test]
async fn unreachable_gateway_is_not_sent() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = GmoClient::new(GmoConfig::sandbox(&format!("http://127.0.0.1:{port}/gmo"))).unwrap();
    let r = c.entry_tran("x-1", JobCd::Auth, 100, 0).await;
    assert!(matches!(r, Err(GatewayError::NotSent { .. })), "{r:?}");
}

#[tokio::test]
async fn admin_screen_changes_show_in_search() {
    let e = env().await;
    e.authorize("adm-1", JobCd::Auth, 1000, OK_CARD)
        .await
        .unwrap();
    e.control(
        "/gmo/adm-1/admin",
        json!({"action": "change_amount", "amount": 1500}),
    )
    .await;
    assert_eq!(e.gmo.search_trade("adm-1").await.unwrap().amount, 1500);
    e.control("/gmo/adm-1/admin", json!({"action": "capture"}))
        .await;
    assert_eq!(e.gmo.search_trade("adm-1").await.unwrap().status, "SALES");
}

/// A client written from GMO's public protocol alone: raw form, raw answer.
/// GMO's own module sends ExecTran (and ExecTranCvs / ExecTranPayEasy) without ShopID /
/// ShopPass: the transaction is named by AccessID / AccessPass. The shop APIs still need them.
#[tokio::test]
async fn exec_tran_needs_no_shop_credentials() {
    let e = env().await;
    let post = async |api: &str, body: String| {
        e.sb.post_form(&format!("/gmo/payment/{api}.idPass"), body)
            .await
    };
    let entry = post(
        "EntryTran",
        "OrderID=mod-1&JobCd=AUTH&Amount=1200&ShopID=tshop00000001&ShopPass=sandbox1".into(),
    )
    .await;
    let keys: std::collections::HashMap<&str, &str> = entry
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let (id, pass) = (keys["AccessID"], keys["AccessPass"]);
    let card = "OrderID=mod-1&Method=1&CardNo=4111111111111111&Expire=3012";
    let wrong = post(
        "ExecTran",
        format!("AccessID={id}&AccessPass={}&{card}", "0".repeat(32)),
    )
    .await;
    assert_eq!(
        wrong, "ErrCode=E01&ErrInfo=E01110002",
        "the pair must match"
    );
    let exec = post(
        "ExecTran",
        format!("AccessID={id}&AccessPass={pass}&{card}"),
    )
    .await;
    assert!(exec.starts_with("ACS=0&OrderID=mod-1&"), "{exec}");
    assert_eq!(e.ledger("mod-1").await["status"], "AUTH");
    let alter = post(
        "AlterTran",
        format!("AccessID={id}&AccessPass={pass}&JobCd=SALES&Amount=1200"),
    )
    .await;
    assert_eq!(
        alter, "ErrCode=E01|E01&ErrInfo=E01010001|E01020001",
        "AlterTran is a shop API"
    );
}

#[tokio::test]
async fn third_party_client_sees_gmo_wire_format() {
    let e = env().await;
    let r = e
        .http
        .post(format!("{}/gmo/payment/EntryTran.idPass", e.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("OrderID=1362106991&JobCd=AUTH&Amount=100&ShopID=tshop00000001&ShopPass=sandbox1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain;charset=Windows-31J"
    );
    let body = r.text().await.unwrap();
    let parts: Vec<&str> = body.split('&').collect();
    assert_eq!(parts.len(), 2, "{body}");
    assert!(
        parts[0].starts_with("AccessID=") && parts[0].len() == 9 + 32,
        "{body}"
    );
    assert!(
        parts[1].starts_with("AccessPass=") && parts[1].len() == 11 + 32,
        "{body}"
    );
    let r = e
        .http
        .post(format!("{}/gmo/payment/EntryTran.idPass", e.base))
        .body("OrderID=null&JobCd=null&Amount=null&ShopID=tshop00000001&ShopPass=sandbox1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GMO answers errors with HTTP 200");
    assert_eq!(
        r.text().await.unwrap(),
        "ErrCode=E01|E01|E01&ErrInfo=E01040001|E01050001|E01060001"
    );
}

#[tokio::test]
async fn members_and_stored_cards() {
    let e = env().await;
    e.gmo.save_member("m-100", "山田 花子").await.unwrap();
    assert_eq!(
        refused(e.gmo.save_member("m-100", "x").await).0,
        "E01390010"
    );
    assert_eq!(e.gmo.search_member("m-100").await.unwrap(), "山田 花子");
    assert!(e.gmo.search_cards("m-100").await.unwrap().is_empty());
    // A declining card is not kept.
    assert_eq!(
        refused(
            e.gmo
                .save_card("m-100", &card_no("4111111111118212"), None, true)
                .await
        )
        .0,
        "42G120000"
    );
    let c0 = e
        .gmo
        .save_card("m-100", &card_no(OK_CARD), None, true)
        .await
        .unwrap();
    assert_eq!((c0.card_seq, c0.card_no.as_str()), (0, "*************111"));
    let c1 = e
        .gmo
        .save_card("m-100", &card_no("5555555555551111"), None, false)
        .await
        .unwrap();
    let cards = e.gmo.search_cards("m-100").await.unwrap();
    assert_eq!(cards.len(), 2);
    assert!(cards[0].default && !cards[1].default);
    // Pay with the stored card: no card number leaves juchu.
    let keys = e
        .gmo
        .entry_tran("mem-1", JobCd::Auth, 2500, 0)
        .await
        .unwrap();
    let stored = CardSource::Member {
        member_id: "m-100".into(),
        card_seq: c1.card_seq,
    };
    e.gmo
        .exec_tran(&keys, "mem-1", PayMethod::Lump, &stored)
        .await
        .unwrap();
    assert_eq!(
        e.gmo.search_trade("mem-1").await.unwrap().card_no,
        "*************111"
    );
    e.gmo.delete_card("m-100", c1.card_seq).await.unwrap();
    let keys = e
        .gmo
        .entry_tran("mem-2", JobCd::Auth, 2500, 0)
        .await
        .unwrap();
    assert_eq!(
        refused(
            e.gmo
                .exec_tran(&keys, "mem-2", PayMethod::Lump, &stored)
                .await
        )
        .0,
        "E01240002"
    );
    assert_eq!(e.gmo.search_cards("m-100").await.unwrap().len(), 1);
    e.gmo.delete_member("m-100").await.unwrap();
    assert_eq!(refused(e.gmo.search_member("m-100").await).0, "E01390002");
    // Wrong site password.
    let mut cfg = e.gmo.config().clone();
    cfg.site_pass = Secret::new("nope");
    let (d, m, _) = refused(GmoClient::new(cfg).unwrap().search_member("m-1").await);
    assert_eq!(d, "E01210002");
    assert!(m.contains("サイト"), "{m}");
}

fn buyer() -> juchu_gateway::gmo::LaterPayment {
    juchu_gateway::gmo::LaterPayment {
        customer_name: "山田 花子".into(),
        customer_kana: "ヤマダ ハナコ".into(),
        tel: "0312345678".into(),
        term_days: 3,
    }
}

#[tokio::test]
async fn konbini_is_paid_later_or_expires() {
    use juchu_gateway::gmo::PayType;
    let e = env().await;
    let keys = e
        .gmo
        .entry_later(PayType::Konbini, "cvs-1", 3000)
        .await
        .unwrap();
    let slip = e
        .gmo
        .exec_later(PayType::Konbini, &keys, "cvs-1", "00001", &buyer())
        .await
        .unwrap();
    assert_eq!(slip.convenience, "00001");
    assert!(!slip.conf_no.is_empty() && !slip.receipt_no.is_empty());
    // Issued 2024-08-19 with 3 days: due at the end of 2024-08-22, Japan time.
    assert_eq!(slip.payment_term, "20240822235959");
    // The name went over the wire in Shift_JIS and came back whole.
    assert_eq!(
        e.ledger("cvs-1").await["extra"]["CustomerName"],
        "山田 花子"
    );
    assert_eq!(
        e.gmo
            .search_trade_multi("cvs-1", PayType::Konbini)
            .await
            .unwrap()
            .status,
        "REQSUCCESS"
    );
    e.control("/gmo/cvs-1/pay", json!({})).await;
    assert_eq!(
        e.gmo
            .search_trade_multi("cvs-1", PayType::Konbini)
            .await
            .unwrap()
            .status,
        "PAYSUCCESS"
    );
    // Unpaid past the deadline: EXPIRED, and no longer payable or cancellable.
    let k2 = e
        .gmo
        .entry_later(PayType::Konbini, "cvs-2", 3000)
        .await
        .unwrap();
    e.gmo
        .exec_later(PayType::Konbini, &k2, "cvs-2", "00002", &buyer())
        .await
        .unwrap();
    e.set_clock("2024-08-23T00:00:01+09:00").await;
    assert_eq!(
        e.gmo
            .search_trade_multi("cvs-2", PayType::Konbini)
            .await
            .unwrap()
            .status,
        "EXPIRED"
    );
    assert_eq!(refused(e.gmo.cvs_cancel(&k2, "cvs-2").await).0, "E11010003");
    // Bad input: unknown store, kana that is not katakana.
    let k3 = e
        .gmo
        .entry_later(PayType::Konbini, "cvs-3", 3000)
        .await
        .unwrap();
    let mut b = buyer();
    b.customer_kana = "やまだ".into();
    let (d, _, _) = refused(
        e.gmo
            .exec_later(PayType::Konbini, &k3, "cvs-3", "99999", &b)
            .await,
    );
    assert_eq!(d, "E01130012|E01220008");
    // A request can be withdrawn while unpaid.
    e.gmo
        .exec_later(PayType::Konbini, &k3, "cvs-3", "00001", &buyer())
        .await
        .unwrap();
    e.gmo.cvs_cancel(&k3, "cvs-3").await.unwrap();
    assert_eq!(
        e.gmo
            .search_trade_multi("cvs-3", PayType::Konbini)
            .await
            .unwrap()
            .status,
        "CANCEL"
    );
}

#[tokio::test]
async fn pay_easy_slip() {
    use juchu_gateway::gmo::PayType;
    let e = env().await;
    let keys = e
        .gmo
        .entry_later(PayType::PayEasy, "pe-1", 5000)
        .await
        .unwrap();
    let slip = e
        .gmo
        .exec_later(PayType::PayEasy, &keys, "pe-1", "", &buyer())
        .await
        .unwrap();
    assert_eq!(slip.bk_code, "58021");
    assert!(slip.cust_id.starts_with("WNT") && !slip.encrypt_receipt_no.is_empty());
    // Card searches do not see it; SearchTradeMulti with its pay type does.
    assert_eq!(refused(e.gmo.search_trade("pe-1").await).0, "E01110002");
    assert_eq!(
        e.gmo
            .search_trade_multi("pe-1", PayType::PayEasy)
            .await
            .unwrap()
            .amount,
        5000
    );
    // Konbini cancel is not for Pay-easy.
    assert_eq!(
        refused(e.gmo.cvs_cancel(&keys, "pe-1").await).0,
        "E01110002"
    );
}

/// Follow a 3DS redirect like a browser: open the issuer's page, answer the challenge if
/// there is one, and return the page that posts back to the shop.
async fn buyer_authenticates(e: &Env, url: &str, answer: Option<&str>) -> String {
    let page = e.http.get(url).send().await.unwrap().text().await.unwrap();
    match answer {
        None => page,
        Some(a) => {
            assert!(page.contains("認証する"), "{page}");
            let id = url
                .split("AccessID=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap();
            e.http
                .post(format!("{}/gmo/tds2/challenge", e.base))
                .form(&[("AccessID", id), ("answer", a)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    }
}

#[tokio::test]
async fn three_d_secure_2() {
    let e = env().await;
    let ret = "https://shop.example/3ds/return";
    // A challenge the buyer passes.
    let keys = e
        .gmo
        .entry_tran_3ds("tds-1", JobCd::Auth, 4000, 0)
        .await
        .unwrap();
    let ch = e
        .gmo
        .exec_tran_3ds(
            &keys,
            "tds-1",
            PayMethod::Lump,
            &card_no("4111111111113111"),
            ret,
        )
        .await
        .unwrap();
    assert!(ch.redirect_url.starts_with(&e.base), "{}", ch.redirect_url);
    assert_eq!(
        e.gmo.search_trade("tds-1").await.unwrap().status,
        "AUTHENTICATED"
    );
    // Not back yet: SecureTran2 cannot authorize.
    assert_eq!(refused(e.gmo.secure_tran2(&keys).await).0, "E21020999");
    let back = buyer_authenticates(&e, &ch.redirect_url, Some("ok")).await;
    assert!(
        back.contains(ret) && back.contains(&keys.access_id),
        "{back}"
    );
    e.gmo.secure_tran2(&keys).await.unwrap();
    assert_eq!(e.gmo.search_trade("tds-1").await.unwrap().status, "AUTH");
    assert_eq!(e.ledger("tds-1").await["tds_result"], "Y");
    // A challenge that fails (X=4): E21030007 and nothing authorized.
    let k2 = e
        .gmo
        .entry_tran_3ds("tds-2", JobCd::Auth, 4000, 0)
        .await
        .unwrap();
    let ch = e
        .gmo
        .exec_tran_3ds(
            &k2,
            "tds-2",
            PayMethod::Lump,
            &card_no("4111111111114111"),
            ret,
        )
        .await
        .unwrap();
    buyer_authenticates(&e, &ch.redirect_url, Some("ok")).await;
    let (d, m, _) = refused(e.gmo.secure_tran2(&k2).await);
    assert_eq!(d, "E21030007");
    assert!(m.contains("3Dセキュア"), "{m}");
    assert_eq!(
        e.gmo.search_trade("tds-2").await.unwrap().status,
        "UNPROCESSED"
    );
    // Frictionless: no challenge, straight back to the shop.
    let k3 = e
        .gmo
        .entry_tran_3ds("tds-3", JobCd::Capture, 4000, 0)
        .await
        .unwrap();
    let ch = e
        .gmo
        .exec_tran_3ds(&k3, "tds-3", PayMethod::Lump, &card_no(OK_CARD), ret)
        .await
        .unwrap();
    let back = buyer_authenticates(&e, &ch.redirect_url, None).await;
    assert!(back.contains(ret) && !back.contains("認証する"));
    e.gmo.secure_tran2(&k3).await.unwrap();
    assert_eq!(e.gmo.search_trade("tds-3").await.unwrap().status, "CAPTURE");
    // The issuer can still decline after authentication.
    let k4 = e
        .gmo
        .entry_tran_3ds("tds-4", JobCd::Auth, 4000, 0)
        .await
        .unwrap();
    let ch = e
        .gmo
        .exec_tran_3ds(
            &k4,
            "tds-4",
            PayMethod::Lump,
            &card_no("4111111111118203"),
            ret,
        )
        .await
        .unwrap();
    buyer_authenticates(&e, &ch.redirect_url, None).await;
    assert_eq!(refused(e.gmo.secure_tran2(&k4).await).0, "42G030000");
    // A 3DS transaction needs a return URL.
    let k5 = e
        .gmo
        .entry_tran_3ds("tds-5", JobCd::Auth, 4000, 0)
        .await
        .unwrap();
    assert_eq!(
        refused(
            e.gmo
                .exec_tran_3ds(&k5, "tds-5", PayMethod::Lump, &card_no(OK_CARD), "nowhere")
                .await
        )
        .0,
        "E01320012"
    );
}

#[tokio::test]
async fn result_notifications_are_retried_until_the_shop_says_0() {
    use juchu_gateway::gmo::PayType;
    let e = env().await;
    // The shop asks for a resend the first time, then accepts.
    let shop = support::ShopEndpoint::start(|n| if n == 1 { "1" } else { "0" }).await;
    e.control("/notifications", json!({"gateway": "gmo", "url": shop.url}))
        .await;
    let keys = e
        .gmo
        .entry_later(PayType::Konbini, "ntf-1", 1800)
        .await
        .unwrap();
    e.gmo
        .exec_later(PayType::Konbini, &keys, "ntf-1", "00001", &buyer())
        .await
        .unwrap();
    e.control("/gmo/ntf-1/pay", json!({})).await;
    let mut list = Value::Null;
    for _ in 0..100 {
        list = e
            .http
            .get(format!("{}/_sandbox/notifications", e.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["delivered"] == true)
            && list.as_array().unwrap().len() == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().all(|n| n["delivered"] == true), "{list:?}");
    let paid = list
        .iter()
        .find(|n| n["body"].as_str().unwrap().contains("Status=PAYSUCCESS"))
        .unwrap();
    assert!(paid["body"].as_str().unwrap().contains("PayType=3"));
    let bodies: Vec<String> = shop
        .bodies_when(|_| true)
        .await
        .iter()
        .map(|b| support::sjis(b))
        .collect();
    // The first delivery was refused with 1 and sent again.
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(
        bodies
            .iter()
            .all(|b| b.contains("OrderID=ntf-1") && b.contains("ShopPass=**********"))
    );
}

async fn get_token(e: &Env, body: Value) -> Value {
    e.http
        .post(format!("{}/gmo/ext/api/credit/getToken", e.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn tokens_from_the_token_script() {
    let e = env().await;
    let js = e
        .http
        .get(format!("{}/gmo/ext/js/token.js", e.base))
        .send()
        .await
        .unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    assert!(js.text().await.unwrap().contains("Multipayment"));
    let card = json!({"shopId": "tshop00000001", "cardno": "4111111111111111", "expire": "203012", "securitycode": "123", "holdername": "HANAKO YAMADA"});
    let r = get_token(&e, card.clone()).await;
    assert_eq!(r["resultCode"], "000");
    assert_eq!(r["tokenObject"]["maskedCardNo"], "411111******1111");
    let token = r["tokenObject"]["token"].as_str().unwrap().to_owned();
    let keys = e
        .gmo
        .entry_tran("tok-1", JobCd::Auth, 1500, 0)
        .await
        .unwrap();
    e.gmo
        .exec_tran(
            &keys,
            "tok-1",
            PayMethod::Lump,
            &CardSource::Token(token.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        e.gmo.search_trade("tok-1").await.unwrap().card_no,
        "*************111"
    );
    // A token is used once…
    let k2 = e
        .gmo
        .entry_tran("tok-2", JobCd::Auth, 1500, 0)
        .await
        .unwrap();
    assert_eq!(
        refused(
            e.gmo
                .exec_tran(&k2, "tok-2", PayMethod::Lump, &CardSource::Token(token))
                .await
        )
        .0,
        "E61010002"
    );
    // …and lives 30 minutes.
    let t2 = get_token(&e, card.clone()).await["tokenObject"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    e.advance(31 * 60).await;
    assert_eq!(
        refused(
            e.gmo
                .exec_tran(&k2, "tok-2", PayMethod::Lump, &CardSource::Token(t2))
                .await
        )
        .0,
        "E61010002"
    );
    // The script's own checks.
    for (patch, code) in [
        (json!({"cardno": ""}), "100"),
        (json!({"cardno": "4111x"}), "101"),
        (json!({"expire": "2030"}), "112"),
        (json!({"expire": "20301"}), "111"),
        (json!({"securitycode": "12"}), "122"),
        (json!({"shopId": "tshop99999999"}), "180"),
    ] {
        let mut b = card.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        assert_eq!(get_token(&e, b).await["resultCode"], code, "{patch}");
    }
    // Several tokens at once (tokennumber).
    let mut b = card;
    b["tokennumber"] = json!("2");
    assert_eq!(
        get_token(&e, b).await["tokenObject"]["token"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn html_views_list_transactions() {
    let e = env().await;
    e.authorize("view-1", JobCd::Auth, 1234, OK_CARD)
        .await
        .unwrap();
    let html = e
        .http
        .get(format!("{}/_sandbox/view/gmo", e.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("view-1") && html.contains("1234円") && html.contains("AUTH"),
        "{html}"
    );
    let index = e
        .http
        .get(format!("{}/_sandbox", e.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("2024/08/19 10:00:00"), "{index}");
}

#[tokio::test]
async fn expired_requests_are_notified() {
    use juchu_gateway::gmo::PayType;
    let e = env().await;
    let shop = support::ShopEndpoint::start(|n| if n == 1 { "1" } else { "0" }).await;
    e.control("/notifications", json!({"gateway": "gmo", "url": shop.url}))
        .await;
    let k = e
        .gmo
        .entry_later(PayType::Konbini, "exp-c1", 900)
        .await
        .unwrap();
    e.gmo
        .exec_later(PayType::Konbini, &k, "exp-c1", "00001", &buyer())
        .await
        .unwrap();
    let k2 = e
        .gmo
        .entry_later(PayType::PayEasy, "exp-p1", 900)
        .await
        .unwrap();
    e.gmo
        .exec_later(PayType::PayEasy, &k2, "exp-p1", "", &buyer())
        .await
        .unwrap();
    // The buyer never pays: the deadline passes (clock) or the request is expired by hand.
    e.control("/gmo/exp-p1/expire", json!({})).await;
    e.advance(4 * 86_400).await;
    let expired = |b: &[u8]| support::sjis(b).contains("Status=EXPIRED");
    let bodies: Vec<String> = shop
        .bodies_when(|bs| bs.iter().filter(|b| expired(b)).count() == 2)
        .await
        .iter()
        .map(|b| support::sjis(b))
        .collect();
    let expired: Vec<&String> = bodies
        .iter()
        .filter(|b| b.contains("Status=EXPIRED"))
        .collect();
    assert!(
        expired.iter().any(|b| b.contains("OrderID=exp-c1")),
        "{bodies:?}"
    );
    assert!(
        expired
            .iter()
            .any(|b| b.contains("OrderID=exp-p1") && b.contains("PayType=4")),
        "{bodies:?}"
    );
    assert_eq!(
        e.gmo
            .search_trade_multi("exp-c1", PayType::Konbini)
            .await
            .unwrap()
            .status,
        "EXPIRED"
    );
}
