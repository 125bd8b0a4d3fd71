//! The JSON API, `/api/v1`. Every route needs `Authorization: Bearer <token>` except
//! `POST /auth/token`, which trades a login and password for a token.

pub mod access;
pub mod bulk;
pub mod catalog;
pub mod csv;
pub mod customers;
pub mod documents;
pub mod mails;
pub mod methods;
pub mod orders;
pub mod payments;

use axum::Router;
use axum::routing::{get, patch, post, put};

use crate::AppState;

// Long: the API's route table, one line per route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(access::issue_token))
        .route("/auth/tokens", get(access::tokens))
        .route(
            "/auth/tokens/{id}",
            axum::routing::delete(access::revoke_token),
        )
        .route("/me", get(access::me))
        .route("/users", get(access::list_users).post(access::add_user))
        .route("/orders", get(orders::search).post(orders::create))
        .route("/orders/csv", get(orders::csv))
        .route("/orders/shipping-csv", get(csv::shipping_csv))
        .route("/orders/status", post(orders::change_status_many))
        .route(
            "/orders/{number}",
            get(orders::get).patch(orders::edit).delete(orders::delete),
        )
        .route("/orders/{number}/status", post(orders::change_status))
        .route("/orders/{number}/move", post(orders::move_to_list))
        .route("/orders/{number}/history", get(orders::history))
        .route(
            "/orders/{number}/payment",
            get(payments::get).post(payments::authorize),
        )
        .route(
            "/orders/{number}/payment/request",
            post(payments::request_later),
        )
        .route("/orders/{number}/payment/{action}", post(payments::operate))
        .route("/payments/sync", post(payments::sync))
        .route(
            "/orders/{number}/mails",
            get(payments::mails).post(mails::send),
        )
        .route("/orders/{number}/slips/{kind}", get(documents::slip))
        .route("/slips/{kind}", get(documents::bulk))
        .route(
            "/shop/profile",
            get(documents::profile).put(documents::set_profile),
        )
        .route("/mails/deliver", post(payments::deliver_mails))
        .route("/orders/{number}/mails/compose", get(mails::compose))
        .route("/mails", get(mails::outbox))
        .route("/mails/{id}", get(mails::get))
        .route(
            "/shop/mail-templates/{kind}",
            get(mails::template)
                .put(mails::set_template)
                .delete(mails::reset_template),
        )
        .route(
            "/shop/mail",
            get(payments::shop_mail).put(payments::set_shop_mail),
        )
        .route("/payments/notices", get(payments::notices))
        .route("/payments/operations", get(payments::operations))
        .route("/payments/bulk", get(bulk::list).post(bulk::start))
        .route("/payments/bulk/{id}", get(bulk::get))
        .route("/payments/bulk/{id}/items", get(bulk::items))
        .route("/payments/bulk/{id}/stop", post(bulk::stop))
        .route("/payments/recover", post(payments::recover))
        .route(
            "/payments/pending-orders/sweep",
            post(payments::sweep_pending),
        )
        .route("/payments/fees", get(payments::fees))
        .route(
            "/shop/payment-settings",
            get(payments::settings).put(payments::set_settings),
        )
        .route(
            "/shop/csv-columns/{kind}",
            get(csv::get_columns)
                .put(csv::set_columns)
                .delete(csv::reset_columns),
        )
        .route("/shop/payment-methods", get(methods::list))
        .route(
            "/shop/payment-methods/{method}",
            get(methods::get).put(methods::set),
        )
        .route("/shop/gateway-credentials", get(methods::credentials))
        .route(
            "/shop/gateway-credentials/{gateway}",
            put(methods::set_credentials),
        )
        .route(
            "/shop/delivery-methods",
            get(methods::deliveries).post(methods::create_delivery),
        )
        .route(
            "/shop/delivery-methods/{id}",
            put(methods::update_delivery).delete(methods::delete_delivery),
        )
        .route("/products", get(catalog::list).post(catalog::create))
        .route("/products/{id}", get(catalog::get))
        .route("/variants/{code}", patch(catalog::update_variant))
        .route("/customers", get(customers::search).post(customers::create))
        .route("/customers/{id}", get(customers::get))
        .route(
            "/customers/{id}/points",
            get(customers::ledger).post(customers::adjust_points),
        )
        .route("/cancelled-stock", get(catalog::cancelled_stock))
        .route("/cancelled-stock/{id}/return", post(catalog::return_stock))
        .route(
            "/orders/{number}/cancelled-stock/return",
            post(catalog::return_order_stock),
        )
}

/// `?page=&per_page=&q=` for simple lists.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Part of a name, code, email or tel.
    pub q: Option<String>,
    /// 1-based
    pub page: Option<i64>,
    /// default 50, at most 1000
    pub per_page: Option<i64>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub items: Vec<T>,
}

impl ListParams {
    pub fn page(&self) -> (i64, i64) {
        (
            self.page.unwrap_or(1).max(1),
            self.per_page.unwrap_or(50).clamp(1, 1000),
        )
    }
}
