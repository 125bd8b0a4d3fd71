//! Notifications the gateways push to the shop: GMO's 結果通知 (a Windows-31J form; the
//! shop answers `0`, anything else is retried) and Paidy's webhooks (JSON; any 2xx). Sent
//! from a background task, retried with growing pauses, and listed in the control API so
//! tests can see what the shop was told and when. Paygent's rule on top: after five failures
//! in a row, nothing more goes to that merchant for fifteen minutes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Accept {
    /// GMO: the body must be `0`.
    BodyZero,
    /// Paidy: any 2xx.
    Http2xx,
    /// Paygent 差分通知: the body must be `result=0`.
    ResultZero,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Notification {
    pub id: u64,
    pub gateway: String,
    pub url: String,
    /// What was sent, as text (decoded for GMO's Shift_JIS forms).
    pub body: String,
    pub accept: Accept,
    pub attempts: u32,
    pub delivered: bool,
    pub last_error: Option<String>,
    #[serde(skip)]
    bytes: Vec<u8>,
    #[serde(skip)]
    content_type: &'static str,
    #[serde(skip)]
    next_at: Instant,
}

/// Attempts before the sandbox gives up on a notification (GMO keeps retrying for days;
/// tests do not wait that long).
pub const MAX_ATTEMPTS: u32 = 8;

/// Paygent's pause: failures in a row, and for how long the merchant is then left alone.
const PAUSE_AFTER: u32 = 5;
const PAUSE: Duration = Duration::from_secs(15 * 60);

/// Failures in a row, and the end of the pause they led to.
type Streak = (u32, Option<Instant>);

#[derive(Clone)]
pub struct Notifier {
    queue: Arc<Mutex<Vec<Notification>>>,
    started: Arc<AtomicBool>,
    urls: Arc<Mutex<std::collections::HashMap<String, String>>>,
    /// The first retry's wait; each next one doubles.
    retry_base: Duration,
    /// Per gateway: failures in a row, and the end of a pause.
    failures: Arc<Mutex<std::collections::HashMap<String, Streak>>>,
}

impl Notifier {
    pub fn new(retry_base: Duration) -> Notifier {
        Notifier {
            queue: Arc::default(),
            started: Arc::default(),
            urls: Arc::default(),
            retry_base,
            failures: Arc::default(),
        }
    }

    fn paused(&self, gateway: &str, now: Instant) -> bool {
        let f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.get(gateway)
            .and_then(|(_, until)| *until)
            .is_some_and(|until| until > now)
    }

    fn count(&self, gateway: &str, ok: bool) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let e = f.entry(gateway.to_owned()).or_insert((0, None));
        if ok {
            *e = (0, None);
            return;
        }
        e.0 += 1;
        if gateway == "paygent" && e.0 >= PAUSE_AFTER {
            *e = (0, Some(Instant::now() + PAUSE));
        }
    }

    pub fn set_url(&self, gateway: &str, url: Option<String>) {
        let mut u = self.urls.lock().unwrap_or_else(|e| e.into_inner());
        match url {
            Some(v) => u.insert(gateway.to_owned(), v),
            None => u.remove(gateway),
        };
    }

    pub fn url(&self, gateway: &str) -> Option<String> {
        self.urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(gateway)
            .cloned()
    }

    pub fn list(&self) -> Vec<Notification> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Queue a notification to the gateway's configured URL (none configured: nothing is
    /// sent, as a shop without a notification URL gets nothing).
    pub fn push(
        &self,
        gateway: &str,
        body_text: String,
        bytes: Vec<u8>,
        content_type: &'static str,
        accept: Accept,
    ) {
        let Some(url) = self.url(gateway) else {
            return;
        };
        {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            let id = q.len() as u64 + 1;
            q.push(Notification {
                id,
                gateway: gateway.to_owned(),
                url,
                body: body_text,
                accept,
                attempts: 0,
                delivered: false,
                last_error: None,
                bytes,
                content_type,
                next_at: Instant::now(),
            });
        }
        if !self.started.swap(true, Ordering::SeqCst) {
            let me = self.clone();
            tokio::spawn(async move { me.run().await });
        }
    }

    async fn run(self) {
        let http = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "sandbox notifier: no HTTP client");
                return;
            }
        };
        loop {
            let due: Vec<Notification> = {
                let q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                q.iter()
                    .filter(|n| {
                        !n.delivered
                            && n.attempts < MAX_ATTEMPTS
                            && n.next_at <= now
                            && !self.paused(&n.gateway, now)
                    })
                    .cloned()
                    .collect()
            };
            for n in due {
                // A pause may have begun during this round.
                if self.paused(&n.gateway, Instant::now()) {
                    continue;
                }
                let res = http
                    .post(&n.url)
                    .header(reqwest::header::CONTENT_TYPE, n.content_type)
                    .body(n.bytes.clone())
                    .send()
                    .await;
                let outcome = match res {
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        match n.accept {
                            Accept::BodyZero if status.is_success() && body.trim() == "0" => Ok(()),
                            Accept::BodyZero => Err(format!(
                                "HTTP {status}, body {:?} (expected 0)",
                                body.trim()
                            )),
                            Accept::Http2xx if status.is_success() => Ok(()),
                            Accept::Http2xx => Err(format!("HTTP {status}")),
                            Accept::ResultZero
                                if status.is_success() && body.trim() == "result=0" =>
                            {
                                Ok(())
                            }
                            Accept::ResultZero => Err(format!(
                                "HTTP {status}, body {:?} (expected result=0)",
                                body.trim()
                            )),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                self.count(&n.gateway, outcome.is_ok());
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(m) = q.iter_mut().find(|m| m.id == n.id) {
                    m.attempts += 1;
                    match outcome {
                        Ok(()) => {
                            m.delivered = true;
                            m.last_error = None;
                        }
                        Err(e) => {
                            m.last_error = Some(e);
                            // 0.5 s, 1 s, 2 s … by default: quick enough for tests, growing
                            // like GMO's.
                            m.next_at = Instant::now() + self.retry_base * (1 << m.attempts.min(6));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
