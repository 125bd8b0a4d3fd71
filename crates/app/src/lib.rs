//! juchu's use cases. Each public function is one thing an operator (or the API) does: it
//! checks the domain's rules inside a store transaction and records what happened.

pub mod access;
pub mod catalog;
pub mod checkout;
pub mod connectors;
pub mod credentials;
pub mod customers;
pub mod demo;
pub mod documents;
mod error;
pub mod export;
pub mod mail;
pub mod methods;
pub mod orders;
pub mod payments;
pub mod secrets;
pub mod shops;
pub mod stock;
mod throttle;
pub mod tokens;

use anyhow::Context;
use std::sync::Arc;

use jiff::Timestamp;
use juchu_store::Store;

pub use error::AppError;
pub use secrets::SecretKey;

/// Who is acting: every history entry and ledger line names them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub shop_id: i64,
    pub user_id: Option<i64>,
    /// Shown in histories: the operator's name, or `API: <token name>`.
    pub name: String,
    pub is_admin: bool,
}

impl Actor {
    /// Jobs and start-up work that no person did.
    pub fn system(shop_id: i64) -> Actor {
        Actor {
            shop_id,
            user_id: None,
            name: "システム".to_owned(),
            is_admin: true,
        }
    }
}

type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The application: a store, a clock, the gateway connectors and the key that seals stored
/// secrets. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    clock: Clock,
    /// The connectors in use; replaced whole when the shop's credentials change.
    gateways: Arc<std::sync::RwLock<Arc<connectors::Gateways>>>,
    /// Where the gateways are (configuration): with it, stored credentials rebuild the
    /// connectors (`connectors::reconnect`).
    endpoints: Option<Arc<connectors::Endpoints>>,
    pub mailer: Arc<mail::Mailer>,
    /// Seals the gateways' credentials in the database. `new` / `with_clock` make a random
    /// one (fine for tests); a server must pass its persistent key with `with_secret_key`
    /// (`juchu serve`: `JUCHU_SECRET_KEY` or `secret.key`), or it cannot read them back.
    pub secrets: Arc<SecretKey>,
    /// Refused notifications kept per source and minute (`payments::later`).
    pub(crate) refused_notices: Arc<throttle::PerMinute>,
    /// How many bulk-run items go to each gateway at once (`payments::BulkLimits`).
    pub(crate) bulk_limits: Arc<payments::BulkLimits>,
}

impl App {
    pub fn new(store: Store) -> App {
        App::with_clock(store, Timestamp::now)
    }

    /// For tests that need to pin time.
    pub fn with_clock(store: Store, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> App {
        App {
            store,
            clock: Arc::new(clock),
            gateways: Arc::default(),
            endpoints: None,
            mailer: Arc::default(),
            secrets: Arc::new(SecretKey::random()),
            refused_notices: Arc::default(),
            bulk_limits: Arc::default(),
        }
    }

    /// How many bulk-run items go to each gateway at once, per process (default 8), and how
    /// long a worker holds the items it took (default 60 s).
    pub fn with_bulk(mut self, concurrency: usize, lease: std::time::Duration) -> App {
        self.bulk_limits = Arc::new(payments::BulkLimits::new(concurrency, lease));
        self
    }

    /// Where mails go.
    pub fn with_mailer(mut self, m: mail::Mailer) -> App {
        self.mailer = Arc::new(m);
        self
    }

    /// The key that seals and opens stored secrets (the gateways' credentials).
    pub fn with_secret_key(mut self, k: SecretKey) -> App {
        self.secrets = Arc::new(k);
        self
    }

    /// The connectors payment operations use.
    pub fn with_gateways(self, g: connectors::Gateways) -> App {
        self.set_gateways(g);
        self
    }

    /// Connectors to the gateways at `e`, built from the shops' stored credentials
    /// (`connectors::reconnect`); until then, and for gateways without them, the sandboxes'
    /// documented test credentials.
    pub fn with_endpoints(mut self, e: connectors::Endpoints) -> Result<App, AppError> {
        let g = connectors::Gateways::connect(&e, &connectors::ShopCredentials::default())
            .context("gateway connectors")?;
        self.endpoints = Some(Arc::new(e));
        Ok(self.with_gateways(g))
    }

    /// The connectors in use now.
    pub fn gateways(&self) -> Arc<connectors::Gateways> {
        match self.gateways.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn set_gateways(&self, g: connectors::Gateways) {
        let g = Arc::new(g);
        match self.gateways.write() {
            Ok(mut w) => *w = g,
            Err(poisoned) => *poisoned.into_inner() = g,
        }
    }

    pub(crate) fn endpoints(&self) -> Option<Arc<connectors::Endpoints>> {
        self.endpoints.clone()
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The database answers a query (for `/healthz`).
    pub async fn check_health(&self) -> Result<(), AppError> {
        juchu_store::shops::count(&mut *self.store.read().await?).await?;
        Ok(())
    }
}
