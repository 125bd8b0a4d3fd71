//! The storefront (購入画面): server-rendered Japanese pages under `/store/{shop}` for the
//! buyer — products, cart, お客様情報, 配送・支払, 確認, お支払い (card tokens / Paidy), 完了.
//!
//! The buyer is the `juchu_cart` cookie (HttpOnly, SameSite=Lax, Path=/store/{shop}) holding
//! the token `checkout::begin` gives. Every POST form carries `csrf` = `checkout::form_token`
//! of that token (a double submit: a page of another site cannot read it). Card numbers
//! never reach juchu: the card inputs have no `name`, the gateway's token script turns them
//! into a token in the browser.

mod cart;
mod pay;
mod steps;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use juchu_app::AppError;
use juchu_app::checkout::{self, Buyer, Front, Next};
use minijinja::{Environment, Value, context};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::{public_message, status_of};

pub const CART_COOKIE: &str = "juchu_cart";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(cart::products))
        .route("/cart", get(cart::cart))
        .route("/cart/add", post(cart::add))
        .route("/cart/update", post(cart::update))
        .route(
            "/checkout/customer",
            get(steps::customer).post(steps::set_customer),
        )
        .route("/checkout/login", post(steps::login))
        .route(
            "/checkout/delivery",
            get(steps::delivery).post(steps::choose),
        )
        .route(
            "/checkout/confirm",
            get(steps::confirm_page).post(steps::confirm),
        )
        .route("/checkout/payment", get(pay::payment))
        .route("/checkout/pay/card", post(pay::pay_card))
        .route("/checkout/pay/paidy", post(pay::pay_paidy))
        .route("/checkout/3ds/paygent", get(pay::paygent_3ds))
        .route("/checkout/3ds/gmo", post(pay::gmo_3ds))
        .route("/checkout/back", post(pay::back))
        .route("/checkout/complete", get(pay::complete))
}

// ---- templates ----

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {
        $( $env.add_template($name, include_str!(concat!("../../templates/", $name)))
            .unwrap_or_else(|e| panic!("template {}: {e}", $name)); )*
    };
}

/// The storefront's templates, compiled in (a broken one fails the first page and every
/// storefront test).
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    templates!(
        env,
        "store_layout.html",
        "store_products.html",
        "store_cart.html",
        "store_customer.html",
        "store_delivery.html",
        "store_confirm.html",
        "store_payment.html",
        "store_complete.html",
        "store_error.html",
    );
    // `{{ 5980|yen }}` → 5,980円
    env.add_filter("yen", juchu_domain::money::yen);
    env
});

fn render(name: &str, ctx: Value) -> Response {
    match TEMPLATES.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template = name, "storefront template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<p>画面の表示に失敗しました。時間をおいて再度お試しください。</p>"),
            )
                .into_response()
        }
    }
}

fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r
}

/// A storefront error page in the shop's layout (or a bare one when the shop is unknown).
fn error_page(front: Option<&Front>, status: StatusCode, message: &str) -> Response {
    let ctx = context! {
        shop => front.map(|f| f.name.clone()).unwrap_or_default(),
        base => front.map(|f| format!("/store/{}", f.code)),
        status => status.as_u16(),
        message => message,
        step => "",
    };
    with_status(render("store_error.html", ctx), status)
}

fn app_error_page(front: Option<&Front>, e: &AppError) -> Response {
    error_page(front, status_of(e), &public_message(e))
}

/// Field errors by field name, for messages beside the inputs.
fn field_errors(e: &juchu_domain::Invalid) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in &e.0 {
        out.entry(f.field.clone())
            .or_insert_with(|| f.message.clone());
    }
    out
}

// ---- the buyer ----

/// One request's shop and buyer. `jar` carries the cart cookie when a new token was handed
/// out; answer through [`Visit::respond`] so it reaches the browser.
pub(super) struct Visit {
    front: Front,
    token: String,
    /// The token the request's cookie held, if any: forms must carry its form token.
    sent: Option<String>,
    jar: CookieJar,
    secure: bool,
}

/// The buyer exactly as the cookie names them (payment steps and the completion page,
/// which must reach a checkout that has just become an order); empty without one.
pub(super) struct Current(pub Visit);

/// As an extractor, a `Visit` is the buyer by the cookie, or a new checkout
/// (`checkout::begin`: also when the cookie's checkout is unknown or already became an
/// order). Its rejection is the storefront's error page.
impl FromRequestParts<AppState> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let Current(v) = Current::from_request_parts(parts, s).await?;
        v.begin(s).await
    }
}

impl FromRequestParts<AppState> for Current {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let Path(shop) = Path::<String>::from_request_parts(parts, s)
            .await
            .map_err(IntoResponse::into_response)?;
        let jar = CookieJar::from_headers(&parts.headers);
        Visit::current(s, &shop, jar).await.map(Current)
    }
}

/// A storefront POST form whose `csrf` belongs to the cart cookie the browser sent (a page
/// of another site can read neither), checked before anything is begun or decoded:
/// `Posted(visit, form)` with the buyer found as `V` finds them ([`Visit`] or [`Current`]).
/// A forged one gets the 403 page.
pub(super) struct Posted<V, T>(pub V, pub T);

/// How a form's buyer is found once its token is checked.
pub(super) trait Reach: Sized + Send {
    fn reach(v: Visit, s: &AppState) -> impl Future<Output = Result<Self, Response>> + Send;
    fn visit(&self) -> &Visit;
}

impl Reach for Visit {
    fn reach(v: Visit, s: &AppState) -> impl Future<Output = Result<Self, Response>> + Send {
        v.begin(s)
    }
    fn visit(&self) -> &Visit {
        self
    }
}

impl Reach for Current {
    fn reach(v: Visit, _: &AppState) -> impl Future<Output = Result<Self, Response>> + Send {
        std::future::ready(Ok(Current(v)))
    }
    fn visit(&self) -> &Visit {
        &self.0
    }
}

impl<V: Reach, T: DeserializeOwned + Send> FromRequest<AppState> for Posted<V, T> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Current(v) = Current::from_request_parts(&mut parts, s).await?;
        let (token, form) = crate::csrf::read::<T>(&parts, body).await?;
        if let Some(refusal) = v.forged(&token) {
            return Err(refusal);
        }
        let v = V::reach(v, s).await?;
        match form {
            Ok(f) => Ok(Posted(v, f)),
            Err(r) => Err(v.visit().respond(r)),
        }
    }
}

impl Visit {
    /// This buyer's checkout, begun when the cookie names none that is still open.
    async fn begin(mut self, s: &AppState) -> Result<Visit, Response> {
        let token = checkout::begin(&s.app, self.front.shop_id, self.sent.as_deref())
            .await
            .map_err(|e| app_error_page(Some(&self.front), &e))?;
        if self.sent.as_deref() != Some(token.as_str()) {
            self.jar = self.jar.clone().add(self.cookie(token.clone()));
        }
        self.token = token;
        Ok(self)
    }

    async fn current(s: &AppState, shop: &str, jar: CookieJar) -> Result<Visit, Response> {
        let front = checkout::front(&s.app, shop)
            .await
            .map_err(|e| app_error_page(None, &e))?;
        let sent = jar
            .get(CART_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| !t.is_empty());
        Ok(Visit {
            front,
            token: sent.clone().unwrap_or_default(),
            sent,
            jar,
            secure: s.secure_cookies,
        })
    }

    fn cookie(&self, value: String) -> Cookie<'static> {
        let mut c = Cookie::new(CART_COOKIE, value);
        c.set_http_only(true);
        c.set_same_site(SameSite::Lax);
        c.set_path(self.base());
        c.set_secure(self.secure);
        c
    }

    fn buyer(&self) -> Buyer {
        Buyer::new(self.front.shop_id, self.token.clone())
    }

    /// `/store/{shop}`
    fn base(&self) -> String {
        format!("/store/{}", self.front.code)
    }

    fn csrf(&self) -> String {
        checkout::form_token(&self.token)
    }

    /// The 403 page unless the form's `csrf` belongs to the cookie the browser sent (a page
    /// of another site can read neither).
    fn forged(&self, given: &str) -> Option<Response> {
        let ok = self
            .sent
            .as_deref()
            .is_some_and(|t| crate::csrf::same(given, &checkout::form_token(t)));
        if ok {
            None
        } else {
            Some(self.respond(error_page(
                Some(&self.front),
                StatusCode::FORBIDDEN,
                "画面の有効期限が切れたか、別の画面から送信されました。お手数ですが、もう一度操作してください。",
            )))
        }
    }

    /// The answer with the cart cookie (when new); never cached (the pages carry the form
    /// token and the buyer's details) and never framed (no clickjacking of 「注文する」).
    fn respond(&self, r: Response) -> Response {
        let mut r = (self.jar.clone(), r).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        r
    }

    fn redirect(&self, path: &str) -> Response {
        self.respond(Redirect::to(&format!("{}{path}", self.base())).into_response())
    }

    fn error(&self, e: &AppError) -> Response {
        self.respond(app_error_page(Some(&self.front), e))
    }

    /// Values every storefront page uses.
    fn ctx(&self, step: &str, extra: Value) -> Value {
        let base = context! {
            shop => self.front.name.clone(),
            base => self.base(),
            csrf => self.csrf(),
            step => step,
        };
        context! { ..base, ..extra }
    }

    /// The buyer's checkout as the templates see it.
    async fn view(&self, s: &AppState) -> Result<checkout::View, Response> {
        checkout::view(&s.app, &self.buyer())
            .await
            .map_err(|e| self.error(&e))
    }
}

/// `http(s)://{Host}`: where the gateway sends the buyer back (3-D Secure's term URL).
fn base_url(s: &AppState, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    {
        return None;
    }
    let scheme = if s.secure_cookies { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

/// Where a checkout step goes next. `Failed` is the caller's (it knows which page to show).
fn follow(v: &Visit, next: Next) -> Result<Response, String> {
    match next {
        Next::PaymentPage => Ok(v.redirect("/checkout/payment")),
        Next::Completed => Ok(v.redirect("/checkout/complete")),
        Next::Html(html) => Ok(v.respond(Html(html).into_response())),
        Next::Redirect(url) => Ok(v.respond(Redirect::to(&url).into_response())),
        Next::Failed { message } => Err(message),
    }
}

/// Is this error shown on the page the buyer came from (rather than on the error page)?
fn on_page(e: &AppError) -> Option<String> {
    match e {
        AppError::Conflict { message, .. } => Some(message.clone()),
        AppError::Refused(r) => Some(r.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile() {
        for name in TEMPLATES
            .templates()
            .map(|(n, _)| n.to_owned())
            .collect::<Vec<_>>()
        {
            assert!(TEMPLATES.get_template(&name).is_ok(), "{name}");
        }
        assert_eq!(TEMPLATES.templates().count(), 9);
    }

    #[test]
    fn pages_render_with_an_empty_checkout() {
        let ctx = context! { shop => "店", base => "/store/s", csrf => "x", step => "cart",
        view => context! { lines => Vec::<i64>::new(), subtotal => 0 } };
        let html = TEMPLATES
            .get_template("store_cart.html")
            .and_then(|t| t.render(ctx))
            .expect("render");
        assert!(html.contains("カートに商品が入っていません"));
        assert!(html.contains("aria-current=\"step\">カート"));
    }
}
