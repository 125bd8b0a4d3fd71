//! 商品一覧 and カート.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use juchu_app::AppError;
use juchu_app::checkout::{self, CheckoutState};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Posted, Visit, on_page, render, with_status};
use crate::AppState;

/// One 規格 of a product as the list shows it.
#[derive(Serialize)]
struct VariantRow {
    code: String,
    label: String,
    price: i64,
    tax_rate: i64,
    /// None: not tracked (always available).
    stock: Option<i64>,
}

#[derive(Serialize)]
struct ProductRow {
    id: i64,
    name: String,
    variants: Vec<VariantRow>,
}

pub async fn products(State(s): State<AppState>, v: Visit) -> Response {
    products_page(&s, &v, None, StatusCode::OK).await
}

async fn products_page(
    s: &AppState,
    v: &Visit,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let view = match v.view(s).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let list = match checkout::products(&s.app, v.front.shop_id).await {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let rows: Vec<ProductRow> = list
        .into_iter()
        .map(|p| ProductRow {
            id: p.id,
            name: p.name,
            variants: p
                .variants
                .into_iter()
                .map(|x| VariantRow {
                    label: juchu_domain::catalog::class_label(&x.draft.class1, &x.draft.class2),
                    code: x.draft.code,
                    price: x.draft.price.get(),
                    tax_rate: x.draft.tax_rate.percent(),
                    stock: x.draft.stock,
                })
                .collect(),
        })
        .collect();
    let count: i64 = view.lines.iter().map(|l| l.quantity).sum();
    let ctx = v.ctx(
        "products",
        context! {
            products => rows,
            cart_count => count,
            message => message,
            paying => view.state == CheckoutState::Paying,
        },
    );
    v.respond(with_status(render("store_products.html", ctx), status))
}

pub async fn cart(State(s): State<AppState>, v: Visit) -> Response {
    cart_page(&s, &v, None, StatusCode::OK).await
}

async fn cart_page(
    s: &AppState,
    v: &Visit,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let view = match v.view(s).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ctx = v.ctx(
        "cart",
        context! {
            view => Value::from_serialize(&view),
            message => message.or(view.message.clone()),
            paying => view.state == CheckoutState::Paying,
        },
    );
    v.respond(with_status(render("store_cart.html", ctx), status))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LineForm {
    code: String,
    quantity: String,
    /// `delete` removes the line (削除).
    op: String,
}

/// A quantity as typed (half- or full-width digits), or the message to show.
fn quantity(s: &str, min: i64) -> Result<i64, String> {
    let digits: String = s
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        })
        .collect();
    match digits.parse::<i64>() {
        Ok(n) if (min..=999).contains(&n) => Ok(n),
        _ => Err(format!("数量は{min}〜999の数字で入力してください")),
    }
}

/// 「カートに入れる」: back to the list on a problem (stock, bad quantity), else the cart.
pub async fn add(State(s): State<AppState>, Posted(v, f): Posted<Visit, LineForm>) -> Response {
    let n = match quantity(&f.quantity, 1) {
        Ok(n) => n,
        Err(m) => {
            return products_page(&s, &v, Some(m), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match checkout::add(&s.app, &v.buyer(), f.code.trim(), n).await {
        Ok(()) => v.redirect("/cart"),
        Err(AppError::Invalid(i)) => {
            let m = i.0.first().map(|x| x.message.clone());
            products_page(&s, &v, m, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => match on_page(&e) {
            Some(m) => products_page(&s, &v, Some(m), StatusCode::CONFLICT).await,
            None => v.error(&e),
        },
    }
}

/// Quantity change or 削除 of one cart line.
pub async fn update(State(s): State<AppState>, Posted(v, f): Posted<Visit, LineForm>) -> Response {
    let n = if f.op == "delete" {
        0
    } else {
        match quantity(&f.quantity, 0) {
            Ok(n) => n,
            Err(m) => {
                return cart_page(&s, &v, Some(m), StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        }
    };
    match checkout::set_quantity(&s.app, &v.buyer(), f.code.trim(), n).await {
        Ok(()) => v.redirect("/cart"),
        Err(AppError::Invalid(i)) => {
            let m = i.0.first().map(|x| x.message.clone());
            cart_page(&s, &v, m, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => match on_page(&e) {
            Some(m) => cart_page(&s, &v, Some(m), StatusCode::CONFLICT).await,
            None => v.error(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantities_as_typed() {
        assert_eq!(super::quantity(" 2 ", 1), Ok(2));
        assert_eq!(super::quantity("１２", 1), Ok(12));
        assert!(super::quantity("0", 1).is_err());
        assert_eq!(super::quantity("0", 0), Ok(0));
        assert!(super::quantity("abc", 1).is_err());
        assert!(super::quantity("1000", 1).is_err());
    }
}
