//! The connectors juchu talks to, per gateway: where they are (endpoints), with which
//! credentials, and rebuilding them when a shop saves its credentials.

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

use juchu_domain::payment_method::Gateway;
use juchu_gateway::{Gateway as GatewayApi, GatewayError, Secret};

use crate::credentials::{self, GatewayCredentials};
use crate::{App, AppError};

/// The connectors juchu talks to, one per gateway (absent: not configured).
#[derive(Clone, Default)]
pub struct Gateways {
    pub paygent: Option<Arc<dyn GatewayApi>>,
    pub gmo: Option<Arc<dyn GatewayApi>>,
    pub paidy: Option<Arc<dyn GatewayApi>>,
    /// Paygent's client itself, for 差分照会 (091), which the common trait does not have.
    pub paygent_client: Option<Arc<juchu_gateway::paygent::PaygentClient>>,
    /// The key of 差分通知's `hc`.
    pub paygent_hash_key: Secret,
    /// The ShopID a GMO 結果通知 must carry.
    pub gmo_shop_id: String,
    /// What the storefront's card and Paidy pages need (public values and the keys that
    /// check what the buyer's browser brings back).
    pub front: Front,
}

/// The gateways' browser side, for the storefront.
#[derive(Clone, Default)]
pub struct Front {
    /// Where the buyer's browser loads the gateways' scripts from (`http://host:port`).
    pub script_base: String,
    pub paygent_merchant_id: String,
    /// Paygent's token key (public: it goes to the browser).
    pub paygent_token_key: String,
    /// Checks the `hc` of a token the browser brings.
    pub paygent_token_hash_key: Secret,
    /// Checks the `hc` of an EMV 3-D Secure result.
    pub paygent_3ds_hash_key: Secret,
    pub paidy_public_key: String,
}

/// Where the gateways are, and how long an answer may take: the configuration half of the
/// connectors (the credentials are the shop's, stored sealed).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub paygent: String,
    pub gmo: String,
    pub paidy: String,
    /// Where buyers' browsers load the gateways' scripts (token, Paidy Checkout) from.
    pub script_base: String,
    pub timeout: Duration,
}

impl Endpoints {
    /// The bundled sandboxes under `base` (`http://host:port`).
    pub fn sandbox(base: &str, timeout: Duration) -> Endpoints {
        let base = base.trim_end_matches('/');
        Endpoints {
            paygent: format!("{base}/paygent"),
            gmo: format!("{base}/gmo"),
            paidy: format!("{base}/paidy"),
            script_base: base.to_owned(),
            timeout,
        }
    }
}

/// A shop's stored credentials per gateway (`credentials::credentials`).
#[derive(Debug, Clone, Default)]
pub struct ShopCredentials {
    pub paygent: Option<credentials::PaygentCredentials>,
    pub gmo: Option<credentials::GmoCredentials>,
    pub paidy: Option<credentials::PaidyCredentials>,
}

pub(crate) fn set(s: &Secret) -> Option<&str> {
    Some(s.expose().trim()).filter(|x| !x.is_empty())
}

impl Gateways {
    /// Every connector pointed at the bundled sandboxes under `base` (`http://host:port`),
    /// with their documented test credentials; past `timeout` an answer counts as lost.
    pub fn sandbox(base: &str, timeout: Duration) -> Result<Gateways, GatewayError> {
        Gateways::connect(
            &Endpoints::sandbox(base, timeout),
            &ShopCredentials::default(),
        )
    }

    /// Connectors to `e` with the shop's credentials `c`; a gateway with none stored uses the
    /// sandboxes' documented test credentials. Stored credentials missing a field the
    /// gateway cannot work without leave that gateway unconfigured (its methods are not
    /// offered, its operations refused with the reason) rather than half-configured.
    pub fn connect(e: &Endpoints, c: &ShopCredentials) -> Result<Gateways, GatewayError> {
        use juchu_gateway::{gmo, paidy, paygent};
        let mut pg = paygent::PaygentConfig::sandbox(&e.paygent);
        pg.timeout = e.timeout;
        let mut front = Front {
            script_base: e.script_base.clone(),
            paygent_merchant_id: pg.merchant_id.clone(),
            paygent_token_key: "test_sandbox_token_key".into(),
            paygent_token_hash_key: Secret::new("sandbox_token_hash_key"),
            paygent_3ds_hash_key: Secret::new("sandbox_3ds_hash_key"),
            paidy_public_key: "pk_test_sandbox".into(),
        };
        let mut paygent_hash_key = Secret::new("sandbox_hash_key");
        let mut paygent_ok = true;
        if let Some(k) = &c.paygent {
            match (
                set(&k.merchant_id),
                set(&k.connect_id),
                set(&k.connect_password),
            ) {
                (Some(m), Some(i), Some(p)) => {
                    pg.merchant_id = m.to_owned();
                    pg.connect_id = i.to_owned();
                    pg.connect_password = Secret::new(p);
                    front.paygent_merchant_id = m.to_owned();
                    front.paygent_token_key = k.token_key.expose().to_owned();
                    front.paygent_token_hash_key = k.token_hash_key.clone();
                    front.paygent_3ds_hash_key = k.three_ds_hash_key.clone();
                    paygent_hash_key = k.notice_hash_key.clone();
                }
                _ => paygent_ok = false,
            }
        }
        let mut gm = gmo::GmoConfig::sandbox(&e.gmo);
        gm.timeout = e.timeout;
        let mut gmo_ok = true;
        if let Some(k) = &c.gmo {
            match (set(&k.shop_id), set(&k.shop_pass)) {
                (Some(id), Some(pass)) => {
                    gm.shop_id = id.to_owned();
                    gm.shop_pass = Secret::new(pass);
                    gm.site_id = k.site_id.expose().to_owned();
                    gm.site_pass = k.site_pass.clone();
                }
                _ => gmo_ok = false,
            }
        }
        let mut pd = paidy::PaidyConfig::sandbox(&e.paidy);
        pd.timeout = e.timeout;
        let mut paidy_ok = true;
        if let Some(k) = &c.paidy {
            match (set(&k.public_key), set(&k.secret_key)) {
                (Some(public), Some(secret)) => {
                    front.paidy_public_key = public.to_owned();
                    pd.secret_key = Secret::new(secret);
                }
                _ => paidy_ok = false,
            }
        }
        let gmo_shop_id = gm.shop_id.clone();
        let pgc = if paygent_ok {
            Some(Arc::new(paygent::PaygentClient::new(pg)?))
        } else {
            None
        };
        Ok(Gateways {
            paygent: pgc.clone().map(|c| c as Arc<dyn GatewayApi>),
            gmo: if gmo_ok {
                Some(Arc::new(gmo::GmoClient::new(gm)?))
            } else {
                None
            },
            paidy: if paidy_ok {
                Some(Arc::new(paidy::PaidyClient::new(pd)?))
            } else {
                None
            },
            paygent_client: pgc,
            paygent_hash_key,
            gmo_shop_id,
            front,
        })
    }

    /// Whether juchu can reach `g` (a connector is configured).
    pub fn has(&self, g: Gateway) -> bool {
        self.get(g).is_ok()
    }

    pub(crate) fn get(&self, g: Gateway) -> Result<Arc<dyn GatewayApi>, AppError> {
        let c = match g {
            Gateway::Paygent => &self.paygent,
            Gateway::Gmo => &self.gmo,
            Gateway::Paidy => &self.paidy,
        };
        c.clone().ok_or_else(|| {
            AppError::conflict(
                "gateway_not_configured",
                format!("{}の接続設定がありません", g.name()),
            )
        })
    }
}

/// Rebuild the connectors from the shop's stored credentials (at start-up, and whenever
/// they are saved). Does nothing for an app without endpoints (tests that hand it
/// connectors).
pub async fn reconnect(app: &App, shop_id: i64) -> Result<(), AppError> {
    let Some(e) = app.endpoints() else {
        return Ok(());
    };
    let mut c = ShopCredentials::default();
    for g in [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy] {
        match credentials::credentials(app, shop_id, g).await? {
            Some(GatewayCredentials::Paygent(k)) => c.paygent = Some(k),
            Some(GatewayCredentials::Gmo(k)) => c.gmo = Some(k),
            Some(GatewayCredentials::Paidy(k)) => c.paidy = Some(k),
            None => {}
        }
    }
    let g = Gateways::connect(&e, &c).context("gateway connectors")?;
    app.set_gateways(g);
    Ok(())
}
