//! Injected faults, per gateway and operation: slow answers, 5xx, and connections dropped
//! before or after the gateway committed — the cases where a client cannot know what
//! happened and must ask (SearchTrade, 094, GET payment) instead of retrying blindly.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer normally after `delay_ms`.
    Delay,
    /// Answer 503 without processing.
    ServerError,
    /// Answer the gateway's own "busy, try again later" without processing (GMO E92000001,
    /// Paygent E002, Paidy HTTP 429): a client should retry later, not report a failure.
    Busy,
    /// Drop the connection without processing.
    DropBefore,
    /// Process (the gateway commits), then drop the connection before the answer.
    DropAfter,
    /// Process (the gateway commits), then hold the answer for `delay_ms`: a client that
    /// gives up first (timeout) or dies meanwhile never learns the outcome.
    HoldAfter,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Fault {
    /// `gmo`, `paidy`, `paygent`
    pub gateway: String,
    /// The operation (`ExecTran`, `AlterTran`, `captures` …) or `*` for all.
    pub operation: String,
    pub kind: FaultKind,
    #[serde(default)]
    pub delay_ms: u64,
    /// How many requests it hits; absent = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Fault>>>);

impl Faults {
    pub fn add(&self, f: Fault) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn list(&self) -> Vec<Fault> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The fault for this request, if any, using up one of its `times`.
    pub fn take(&self, gateway: &str, operation: &str) -> Option<Fault> {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let i = v.iter().position(|f| {
            f.gateway == gateway && (f.operation == operation || f.operation == "*")
        })?;
        let f = v[i].clone();
        if let Some(t) = v[i].times.as_mut() {
            *t = t.saturating_sub(1);
            if *t == 0 {
                v.remove(i);
            }
        }
        Some(f)
    }
}

/// An answer a fault gives without processing, built in each gateway's own form.
pub enum Refuse {
    Unavailable,
    Busy,
}

/// What an injected fault makes of a request before the gateway processes it.
pub enum Before {
    /// Process it, then see what [`After`] does to the answer.
    Go(After),
    /// Answer this without processing.
    Stop(Response),
}

/// What happens to the answer once the gateway has processed the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct After {
    /// Break the connection instead of answering.
    pub drop: bool,
    /// Wait this long before answering.
    pub hold_ms: u64,
}

impl After {
    /// Hold the answer if asked; `Some(dropped)` when the connection must break instead.
    pub async fn apply(self) -> Option<Response> {
        if self.hold_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(self.hold_ms)).await;
        }
        self.drop.then(dropped)
    }
}

impl Faults {
    /// Apply the fault for this request, if any: wait, answer 5xx or "busy" (`answer` builds
    /// the gateway's own form of them), or drop the connection before or after processing.
    pub async fn before(
        &self,
        gateway: &str,
        operation: &str,
        answer: impl FnOnce(Refuse) -> Response,
    ) -> Before {
        let Some(f) = self.take(gateway, operation) else {
            return Before::Go(After::default());
        };
        match f.kind {
            FaultKind::Delay => {
                tokio::time::sleep(std::time::Duration::from_millis(f.delay_ms)).await;
                Before::Go(After::default())
            }
            FaultKind::ServerError => Before::Stop(answer(Refuse::Unavailable)),
            FaultKind::Busy => Before::Stop(answer(Refuse::Busy)),
            FaultKind::DropBefore => Before::Stop(dropped()),
            FaultKind::DropAfter => Before::Go(After {
                drop: true,
                hold_ms: 0,
            }),
            FaultKind::HoldAfter => Before::Go(After {
                drop: false,
                hold_ms: f.delay_ms,
            }),
        }
    }
}

/// A plain 503, for gateways whose errors are not JSON.
pub fn unavailable() -> Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "sandbox fault").into_response()
}

/// A response whose body fails at once: the client sees the connection break.
pub fn dropped() -> Response {
    let body = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("sandbox: connection dropped"))
    });
    Response::new(Body::from_stream(body))
}
