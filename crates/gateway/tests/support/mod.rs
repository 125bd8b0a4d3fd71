//! A sandbox on 127.0.0.1:0 and its control API, for the contract suites.

#![allow(dead_code)]

use juchu_domain::money::Yen;
use serde_json::{Value, json};

/// An amount in yen, for the tests' literals.
pub fn y(v: i64) -> Yen {
    Yen::new(v).unwrap()
}

pub struct Sandbox {
    pub base: String,
    pub http: reqwest::Client,
}

impl Sandbox {
    /// Start a sandbox with its clock frozen at 2024-08-19 10:00 Japan time.
    pub async fn start(cfg: juchu_sandbox::Config) -> Sandbox {
        let sb = juchu_sandbox::Sandbox::new(cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = sb.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let s = Sandbox {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        };
        s.set_clock("2024-08-19T10:00:00+09:00").await;
        s
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/_sandbox{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let text = r.text().await.unwrap();
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    /// A form posted to the gateway at `path` as a client written from its public protocol
    /// would post it; the answer's text.
    pub async fn post_form(&self, path: &str, body: impl Into<String>) -> String {
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.into())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn set_clock(&self, t: &str) {
        self.control("/clock", json!({"set": t, "freeze": true}))
            .await;
    }

    pub async fn advance(&self, secs: i64) {
        self.control("/clock", json!({"advance_secs": secs})).await;
    }

    pub async fn fault(&self, gateway: &str, op: &str, kind: &str) {
        self.control(
            "/faults",
            json!({"gateway": gateway, "operation": op, "kind": kind, "times": 1}),
        )
        .await;
    }

    pub async fn ledger(&self) -> Value {
        self.http
            .get(format!("{}/_sandbox/ledger", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A shop's notification endpoint on 127.0.0.1:0: keeps every body it receives and answers
/// `answer(n)` to the n-th (1-based) — `"0"`, `"result=0"`, `"1"` to ask for a resend …
pub struct ShopEndpoint {
    pub url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl ShopEndpoint {
    pub async fn start(answer: fn(usize) -> &'static str) -> ShopEndpoint {
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
        let b = bodies.clone();
        let app = axum::Router::new().route(
            "/notify",
            axum::routing::post(move |body: axum::body::Bytes| {
                let b = b.clone();
                async move {
                    let mut v = b.lock().unwrap();
                    v.push(body.to_vec());
                    answer(v.len())
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        ShopEndpoint { url, bodies }
    }

    /// The bodies received so far, once `done` holds of them (or after 5 seconds).
    pub async fn bodies_when(&self, done: impl Fn(&[Vec<u8>]) -> bool) -> Vec<Vec<u8>> {
        for _ in 0..50 {
            if done(&self.bodies.lock().unwrap()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.bodies.lock().unwrap().clone()
    }
}

/// A Windows-31J body as text.
pub fn sjis(b: &[u8]) -> String {
    juchu_wire::form::Charset::ShiftJis.decode(b).0
}
