//! Fuzzing what comes in from outside, with proptest: the wire parsers and each connector
//! reading whatever a gateway (or a man in the middle) might answer. Nothing may panic; an
//! answer that is not the protocol is an error the caller can act on. Short in CI (the
//! default case counts below); longer on demand: `PROPTEST_CASES=100000 cargo test -p
//! juchu-gateway --test contracts fuzz`.

use crate::support::y;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use juchu_gateway::gmo::{GmoClient, GmoConfig};
use juchu_gateway::paidy::{PaidyClient, PaidyConfig};
use juchu_gateway::paygent::{PaygentClient, PaygentConfig};
use juchu_gateway::{Gateway, GmoMethod, PaymentRef};
use juchu_wire::form::{self, Charset};
use proptest::prelude::*;

/// `default` cases, or `PROPTEST_CASES` for a longer run.
fn cases(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// Bytes a peer could send: mostly the shapes of the protocols (key=value lines, CSV, JSON),
/// with anything in between.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        "[a-z_]{1,12}=[^\r\n]{0,20}(\r\n[a-z_]{1,12}=[^\r\n]{0,20}){0,12}".prop_map(String::into_bytes),
        "([0-9A-Za-z\"]{0,6},){0,12}[0-9A-Za-z\"]{0,6}(\r?\n([0-9A-Za-z\"]{0,6},){0,12}){0,6}"
            .prop_map(String::into_bytes),
        "\\{\"[a-z_]{1,10}\": ?(\"[^\"]{0,10}\"|[0-9-]{1,12}|null|\\[\\]|\\{\\})\\}"
            .prop_map(String::into_bytes),
        "(result=[0-9]\r\n)?(response_code=[A-Z0-9]{0,5}\r\n)?(payment_id=[0-9]{0,20}\r\n)?(payment_status=[0-9]{0,2}\r\n)?(payment_amount=[-0-9]{0,12}\r\n)?(out_acs_html=.{0,30})?"
            .prop_map(String::into_bytes),
        "(AccessID=[a-f0-9]{0,8}&?)?(Status=[A-Z]{0,10}&?)?(Amount=[-0-9]{0,12}&?)?(ErrCode=[A-Z0-9|]{0,12}&?)?(ErrInfo=[A-Z0-9|]{0,20})?"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    /// Paygent's and GMO's answer formats, forms, the 201 result file and 差分通知's hash
    /// check read any text without a panic.
    #[test]
    fn wire_parsers_read_anything(b in wire_bytes(), key in "[a-z0-9]{0,16}") {
        let text = String::from_utf8_lossy(&b);
        let _ = juchu_wire::paygent::parse(&text);
        let pairs = juchu_wire::gmo::parse(&text);
        let _ = juchu_wire::gmo::errors(&pairs);
        for cs in [Charset::ShiftJis, Charset::Utf8] {
            let fields = form::decode(&b, cs);
            let _ = juchu_gateway::paygent::notice_hash_ok(&fields, &key);
            let _ = juchu_gateway::paygent::three_ds1_result_ok(&fields, &key);
            let _ = cs.decode(&b);
        }
        let _ = juchu_gateway::paygent::parse_result(&text);
        let _ = juchu_gateway::gmo::parse_tran_date(&text);
    }
}

/// A gateway that answers every request with `body` (status 200).
struct Liar {
    base: String,
    body: Arc<Mutex<Vec<u8>>>,
    rt: tokio::runtime::Runtime,
}

impl Liar {
    fn start() -> Liar {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let body: Arc<Mutex<Vec<u8>>> = Arc::default();
        let b = body.clone();
        let base = rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let app = axum::Router::new().fallback(move || {
                let b = b.clone();
                async move { b.lock().unwrap().clone() }
            });
            tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            });
            format!("http://{addr}")
        });
        Liar { base, body, rt }
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// Each connector reads any answer to a query, a capture, a cancel, an amount change and a
    /// lookup by reference without a panic.
    #[test]
    fn connectors_read_any_answer(b in wire_bytes()) {
        thread_local! {
            static LIAR: Liar = Liar::start();
        }
        LIAR.with(|liar| {
            *liar.body.lock().unwrap() = b.clone();
            let base = liar.base.clone();
            liar.rt.block_on(async move {
                let pg = PaygentClient::new(PaygentConfig::sandbox(&format!("{base}/paygent"))).unwrap();
                let gmo = GmoClient::new(GmoConfig::sandbox(&format!("{base}/gmo"))).unwrap();
                let paidy = PaidyClient::new(PaidyConfig::sandbox(&format!("{base}/paidy"))).unwrap();
                let now: Timestamp = "2024-08-19T01:00:00Z".parse().unwrap();
                let cases: [(&dyn Gateway, PaymentRef); 3] = [
                    (&pg, PaymentRef::Paygent { payment_id: "1".into(), trading_id: "t".into() }),
                    (&gmo, PaymentRef::Gmo { order_id: "o".into(), access_id: "a".into(), access_pass: "p".into(), method: GmoMethod::Card }),
                    (&paidy, PaymentRef::Paidy { payment_id: "pay_1".into() }),
                ];
                for (g, r) in cases {
                    let _ = g.query(&r).await;
                    let _ = g.capture(&r, y(1000)).await;
                    let _ = g.cancel(&r, now).await;
                    let _ = g.change_amount(&r, y(900), false).await;
                    let _ = g.find("1-1").await;
                }
            });
        });
    }
}
