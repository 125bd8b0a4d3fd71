//! The admin UI (管理画面): server-rendered Japanese pages. Reads use GET with the search
//! in the URL; every change is a POST carrying the session's CSRF token.

mod bulk;
mod csv;
mod customer;
pub(crate) mod documents;
mod mails;
mod methods;
mod order;
mod order_actions;
mod order_form;
mod pages;
mod payments;
mod users;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use juchu_app::{Actor, AppError};
use minijinja::Environment;

use crate::AppState;
use crate::error::{public_message, status_of};

pub const SESSION_COOKIE: &str = "juchu_session";
pub const LOGIN_CSRF_COOKIE: &str = "juchu_login_csrf";

pub struct Templates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {
        $( $env.add_template($name, include_str!(concat!("../../templates/", $name)))
            .unwrap_or_else(|e| panic!("template {}: {e}", $name)); )*
    };
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        // Templates are compiled into the binary; a broken one fails every test at start-up.
        templates!(
            env,
            "layout.html",
            "login.html",
            "orders.html",
            "order.html",
            "order_work.html",
            "order_form.html",
            "order_status.html",
            "payment_panel.html",
            "products.html",
            "customers.html",
            "customer.html",
            "cancelled_stock.html",
            "notices.html",
            "bulk.html",
            "bulk_confirm.html",
            "bulk_run.html",
            "bulk_runs.html",
            "payment_log.html",
            "settings.html",
            "user.html",
            "payment_methods.html",
            "payment_method.html",
            "mail_send.html",
            "mails.html",
            "mail.html",
            "mail_templates.html",
            "mail_template.html",
            "slips.html",
            "slip.html",
            "shop_profile.html",
            "csv_settings.html",
            "error.html"
        );
        // Amounts in yen with thousands separators: `{{ 5980|yen }}` → 5,980円.
        env.add_filter("yen", juchu_domain::money::yen);
        // `{{ "1500001"|postal }}` → 〒150-0001
        env.add_filter("postal", |p: String| {
            juchu_domain::customer::postal_label(&p)
        });
        Templates { env }
    }

    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(error = %e, template = name, "template failed");
                (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "画面の表示に失敗しました",
                )
                    .into_response()
            }
        }
    }
}

/// A logged-in operator. Pages that need one redirect to the login page without it.
pub struct Session {
    pub actor: Actor,
    pub csrf: String,
    pub shop_name: String,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.to_string())
            .unwrap_or_else(|| "/admin".to_owned());
        let to_login = || {
            let next: String = url_escape(&uri);
            Redirect::to(&format!("/admin/login?next={next}")).into_response()
        };
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Err(to_login());
        };
        match juchu_app::access::session(&s.app, &token).await {
            Ok((actor, csrf)) => {
                let shop_name = juchu_app::shops::get(&s.app, &actor)
                    .await
                    .map(|x| x.name)
                    .unwrap_or_default();
                Ok(Session {
                    actor,
                    csrf,
                    shop_name,
                })
            }
            Err(AppError::Unauthenticated) => Err(to_login()),
            Err(e) => Err(error_page(s, &e)),
        }
    }
}

/// A POST form from a logged-in operator, its CSRF token already checked against the
/// session's: `CsrfForm(sess, form)`. Without a session the login page, with a wrong token
/// the error page, before the handler runs.
pub struct CsrfForm<T>(pub Session, pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let sess = Session::from_request_parts(&mut parts, s).await?;
        let (token, form) = crate::csrf::read::<T>(&parts, body).await?;
        if let Some(r) = csrf_refusal(s, &sess, &token) {
            return Err(r);
        }
        Ok(CsrfForm(sess, form?))
    }
}

/// The error page for a form whose CSRF token is not the session's, or None when it is.
fn csrf_refusal(s: &AppState, sess: &Session, given: &str) -> Option<Response> {
    if crate::csrf::same(given, &sess.csrf) {
        None
    } else {
        Some(error_page(
            s,
            &AppError::conflict(
                "csrf",
                "画面の有効期限が切れました。画面を読み込み直してから操作してください",
            ),
        ))
    }
}

/// Percent-encode for a query value (only what the login redirect needs).
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A local path to go to after login; anything else (another host) goes to the start page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains("://") => {
            n.to_owned()
        }
        _ => "/admin/orders".to_owned(),
    }
}

pub fn error_page(s: &AppState, e: &AppError) -> Response {
    let status = status_of(e);
    let mut r = s.ui.render(
        "error.html",
        minijinja::context! { message => public_message(e), status => status.as_u16() },
    );
    *r.status_mut() = status;
    r
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/admin/orders") }))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/orders", get(pages::orders))
        .route("/orders/csv", get(pages::orders_csv))
        .route("/orders/shipping-csv", get(csv::shipping_csv))
        .route(
            "/orders/{number}/shipping-csv",
            get(csv::order_shipping_csv),
        )
        .route(
            "/orders/new",
            get(order_form::new_page).post(order_form::new_post),
        )
        .route(
            "/orders/status",
            get(order_actions::status_page).post(order_actions::status_bulk),
        )
        .route("/orders/{number}", get(order::order))
        .route(
            "/orders/{number}/edit",
            get(order_form::edit_page).post(order_form::edit_post),
        )
        .route(
            "/orders/{number}/payment-check",
            post(order_actions::payment_check),
        )
        .route("/orders/{number}/move", post(order_actions::move_list))
        .route("/orders/{number}/status", post(order_actions::set_status))
        .route("/orders/{number}/delete", post(order_actions::delete))
        .route("/orders/{number}/payment/{action}", post(payments::operate))
        .route(
            "/orders/{number}/mail",
            get(mails::compose_page).post(mails::post_mail),
        )
        .route("/mails", get(mails::outbox))
        .route("/mails/{id}", get(mails::mail))
        .route("/settings/mail-templates", get(mails::templates_page))
        .route(
            "/settings/mail-templates/{kind}",
            get(mails::template_page).post(mails::save_template),
        )
        .route("/orders/{number}/slips", get(documents::choose))
        .route("/orders/{number}/slips/print", get(documents::print))
        .route("/orders/{number}/slips/pdf", get(documents::pdf))
        .route(
            "/slips/pdf",
            get(documents::bulk_get).post(documents::bulk_post),
        )
        .route(
            "/settings/shop-profile",
            get(documents::profile).post(documents::save_profile),
        )
        .route("/products", get(pages::products))
        .route("/customers", get(pages::customers))
        .route("/customers/{id}", get(customer::detail))
        .route("/customers/{id}/points", post(customer::adjust_points))
        .route("/cancelled-stock", get(pages::cancelled_stock))
        .route("/cancelled-stock/{id}/return", post(pages::return_stock))
        .route("/cancelled-stock/return", post(pages::return_stock_many))
        .route("/notices", get(pages::notices))
        .route("/payments/log", get(bulk::log))
        .route("/payments/bulk", get(bulk::list))
        .route("/payments/bulk/confirm", post(bulk::confirm))
        .route("/payments/bulk/run", post(bulk::run))
        .route("/payments/bulk/runs", get(bulk::runs))
        .route("/payments/bulk/runs/{id}", get(bulk::run_page))
        .route("/payments/bulk/runs/{id}/stop", post(bulk::stop))
        .route("/settings", get(pages::settings))
        .route("/settings/users", post(pages::add_user))
        .route(
            "/settings/users/{login}",
            get(users::edit).post(users::save),
        )
        .route(
            "/settings/users/{login}/tokens/{id}/revoke",
            post(users::revoke_token),
        )
        .route("/settings/payments", post(pages::payment_settings))
        .route("/settings/shop", post(pages::shop_mail))
        .route("/settings/csv", get(csv::page).post(csv::save))
        .route("/settings/payment-methods", get(methods::page))
        .route(
            "/settings/payment-methods/{method}",
            get(methods::edit_method).post(methods::save_method),
        )
        .route(
            "/settings/gateway-credentials/{gateway}",
            post(methods::save_credentials),
        )
        .route("/settings/delivery-methods", post(methods::save_delivery))
        .route(
            "/settings/delivery-methods/{id}/delete",
            post(methods::delete_delivery),
        )
}
