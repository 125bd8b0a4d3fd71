//! Sandboxes of the payment gateways, speaking their real wire protocols on one port under
//! path prefixes (`/gmo`, `/paidy`, `/paygent`), with a control API under `/_sandbox`.
//!
//! The sandbox is the gateway side, written from the gateways' public documentation and
//! nothing of juchu's connectors but the shared wire codecs (`juchu-wire`): it judges the
//! connectors instead of agreeing with them. It is strict on purpose: a sandbox that always
//! says OK would prove nothing.
//!
//! State lives in memory; the ledger can be dumped through the control API.
//! Paidy's secret key is `sk_test_sandbox`.

mod clock;
mod control;
mod faults;
mod gmo;
mod ids;
mod notify;
mod paidy;
mod paygent;
mod view;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;

pub use clock::Clock;
pub use faults::{Fault, FaultKind};

/// Credentials the sandbox accepts (the defaults are documented in docs/sandbox.md).
#[derive(Debug, Clone)]
pub struct Config {
    pub gmo_shop_id: String,
    pub gmo_shop_pass: String,
    pub gmo_site_id: String,
    pub gmo_site_pass: String,
    /// How long a "slow" test card (X=9) holds its answer, in milliseconds.
    pub slow_card_ms: u64,
    /// Paidy's secret key (Bearer) and public key (checkout script).
    pub paidy_secret_key: String,
    pub paidy_public_key: String,
    /// Days from authorization to Paidy's capture deadline (expires_at).
    pub paidy_expiry_days: i64,
    pub paygent_merchant_id: String,
    pub paygent_connect_id: String,
    pub paygent_connect_password: String,
    /// The wait before a failed notification is sent again (doubling each time).
    pub notify_retry_ms: u64,
    /// The key of 差分通知's `hc` hash.
    pub paygent_hash_key: String,
    /// 3Dセキュア結果受付ハッシュ鍵: the key of the EMV 3-D Secure result's `hc`, a key of its own
    /// (the merchant sets it in Paygent's console); empty = no `hc`, as for a merchant without one.
    pub paygent_3ds_hash_key: String,
    /// The most data records a file payment (200) may carry: a contract setting at Paygent.
    pub paygent_file_record_limit: usize,
    /// トークン生成鍵 (the token script's second argument) and トークン受取ハッシュ鍵 (the
    /// key of the token answer's `hc`).
    pub paygent_token_key: String,
    /// 3-D Secure 1.0 attempt control (アテンプト取引の扱い): `all` authorizes every attempt,
    /// `normal` refuses attempt_kbn 1, `none` refuses 0 and 1 (2015).
    pub paygent_attempt_control: String,
    pub paygent_token_hash_key: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gmo_shop_id: "tshop00000001".into(),
            gmo_shop_pass: "sandbox1".into(),
            gmo_site_id: "tsite00000001".into(),
            gmo_site_pass: "sandbox1".into(),
            slow_card_ms: 30_000,
            paidy_secret_key: "sk_test_sandbox".into(),
            paidy_public_key: "pk_test_sandbox".into(),
            paidy_expiry_days: 30,
            paygent_merchant_id: "000000001".into(),
            paygent_connect_id: "sandbox".into(),
            paygent_connect_password: "sandbox".into(),
            notify_retry_ms: 500,
            paygent_hash_key: "sandbox_hash_key".into(),
            paygent_3ds_hash_key: "sandbox_3ds_hash_key".into(),
            paygent_file_record_limit: 10_000,
            paygent_token_key: "test_sandbox_token_key".into(),
            paygent_attempt_control: "all".into(),
            paygent_token_hash_key: "sandbox_token_hash_key".into(),
        }
    }
}

pub(crate) struct State {
    pub gmo: gmo::Ledger,
    pub paidy: paidy::Ledger,
    pub paygent: paygent::Ledger,
}

/// One sandbox: its clock, faults and ledgers. Cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    pub config: Arc<Config>,
    pub clock: Clock,
    pub(crate) faults: faults::Faults,
    pub(crate) notifier: notify::Notifier,
    state: Arc<Mutex<State>>,
}

impl Sandbox {
    pub fn new(config: Config) -> Sandbox {
        let retry = std::time::Duration::from_millis(config.notify_retry_ms);
        Sandbox {
            config: Arc::new(config),
            clock: Clock::default(),
            faults: faults::Faults::default(),
            notifier: notify::Notifier::new(retry),
            state: Arc::new(Mutex::new(State {
                gmo: gmo::Ledger::default(),
                paidy: paidy::Ledger::default(),
                paygent: paygent::Ledger::default(),
            })),
        }
    }

    /// Where `gateway` (`gmo`, `paygent`, `paidy`) pushes its notifications; `None` stops
    /// them. The same as `POST /_sandbox/notifications`.
    pub fn notify_to(&self, gateway: &str, url: Option<String>) {
        self.notifier.set_url(gateway, url);
    }

    /// The ledgers. A poisoned lock (a panic mid-update) still gives the data: the sandbox
    /// keeps serving what it recorded.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// All the sandbox's routes: `/gmo/...`, `/_sandbox/...`.
    /// The gateways and the control API (`/_sandbox`: the clock, faults, the buyer paying …),
    /// which answers only callers on this machine.
    pub fn router(&self) -> Router {
        self.gateways().merge(
            Router::new()
                .nest("/_sandbox", control::routes())
                .layer(axum::middleware::from_fn(control::loopback_only))
                .with_state(self.clone()),
        )
    }

    /// The gateways alone: what connectors talk to. A shop's port serves these by default;
    /// the control API, which can mark an order paid, only when asked.
    pub fn gateways(&self) -> Router {
        // Deadlines pass on their own: a ticker expires unpaid requests and notifies the
        // shop. Without a runtime (no server) there is nothing to tick for.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let sb = self.clone();
            rt.spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    gmo::sweep(&sb);
                    paygent::notify_changes(&sb);
                }
            });
        }
        Router::new()
            .nest("/gmo", gmo::routes())
            .nest("/paidy", paidy::routes())
            .nest("/paygent", paygent::routes())
            .with_state(self.clone())
    }
}
