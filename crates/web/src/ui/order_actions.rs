//! The order screen's 受注作業 buttons (入金チェック, list moves, 対応状況, 削除) and
//! ステータス管理, the screen that moves many orders to another status at once.
//!
//! Each button is a small POST form with the session's CSRF token and the order's version,
//! so a page left open while someone else changed the order is refused, not applied.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::{AppError, orders};
use juchu_domain::search::SearchInput;
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_domain::time::format_jst_minute;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::CsrfForm;
use super::pages::{base, page_ctx, yen};
use super::{Session, error_page, url_escape};
use crate::AppState;
use crate::extract::Query;

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    version: String,
    /// 入金チェック: `1` to set, `0` to clear; list move: the list; status: the status.
    #[serde(default)]
    value: String,
    /// Where to go after 削除 (the search it was started from).
    #[serde(default)]
    back: String,
}

impl ActionForm {
    /// A version that does not read as one is refused as stale, never applied.
    fn version(&self) -> Option<i64> {
        Some(self.version.trim().parse().unwrap_or(0))
    }
}

/// Back to the order with the outcome as the page's message: green when done, red when
/// refused (the order page shows either beside its title).
fn to_order(number: i64, r: Result<String, AppError>) -> Response {
    let q = match r {
        Ok(done) => format!("done={}", url_escape(&done)),
        Err(e) => format!("refused={}", url_escape(&crate::error::public_message(&e))),
    };
    Redirect::to(&format!("/admin/orders/{number}?{q}")).into_response()
}

/// 入金チェック on or off.
pub async fn payment_check(
    State(s): State<AppState>,
    Path(number): Path<i64>,
    CsrfForm(sess, f): CsrfForm<ActionForm>,
) -> Response {
    let checked = f.value == "1";
    let r = orders::set_payment_checked(&s.app, &sess.actor, number, checked, f.version())
        .await
        .map(|_| {
            if checked {
                "入金チェックを「済」にしました".to_owned()
            } else {
                "入金チェックを外しました".to_owned()
            }
        });
    to_order(number, r)
}

/// 受注完了一覧へ移動 / 受注キャンセル一覧へ移動 / 受注一覧へ戻す.
pub async fn move_list(
    State(s): State<AppState>,
    Path(number): Path<i64>,
    CsrfForm(sess, f): CsrfForm<ActionForm>,
) -> Response {
    let r = match OrderList::parse("list", &f.value) {
        Ok(to) => orders::move_to_list(&s.app, &sess.actor, number, to, f.version())
            .await
            .map(|_| format!("{}へ移動しました", to.label())),
        Err(e) => Err(e.into()),
    };
    to_order(number, r)
}

/// 受注ステータス: 変更.
pub async fn set_status(
    State(s): State<AppState>,
    Path(number): Path<i64>,
    CsrfForm(sess, f): CsrfForm<ActionForm>,
) -> Response {
    let r = match OrderStatus::parse("status", &f.value) {
        Ok(to) => orders::change_status(&s.app, &sess.actor, number, to, f.version())
            .await
            .map(|_| format!("対応状況を「{}」に変更しました", to.label())),
        Err(e) => Err(e.into()),
    };
    to_order(number, r)
}

/// 削除 (logical): back to the search the operator came from, with the outcome.
pub async fn delete(
    State(s): State<AppState>,
    Path(number): Path<i64>,
    CsrfForm(sess, f): CsrfForm<ActionForm>,
) -> Response {
    match orders::delete(&s.app, &sess.actor, number, f.version()).await {
        Ok(()) => {
            // Only a search of this screen; anything else goes to the plain list.
            let back = if f.back.starts_with('?') && !f.back.contains("//") {
                f.back.clone()
            } else {
                String::new()
            };
            let sep = if back.is_empty() { "?" } else { "&" };
            let msg = url_escape(&format!("注文番号 {number} を削除しました"));
            Redirect::to(&format!("/admin/orders{back}{sep}done={msg}")).into_response()
        }
        Err(e) => to_order(number, Err(e)),
    }
}

#[derive(Serialize)]
struct StatusRow {
    number: i64,
    ordered_at: String,
    customer_name: String,
    payment: &'static str,
    amount: String,
    status: &'static str,
    status_code: &'static str,
    checked: bool,
}

#[derive(Serialize)]
struct Tab {
    code: &'static str,
    label: &'static str,
    count: i64,
}

#[derive(Serialize)]
struct ResultRow {
    number: i64,
    ok: bool,
    message: String,
    warning: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct StatusQ {
    status: Option<String>,
    page: Option<String>,
}

/// ステータス管理: the orders of one status (受注一覧 only), a tab per status with its count.
pub async fn status_page(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<StatusQ>,
) -> Response {
    status_screen(&s, &sess, q, None, vec![], None).await
}

async fn status_screen(
    s: &AppState,
    sess: &Session,
    q: StatusQ,
    to: Option<&str>,
    results: Vec<ResultRow>,
    selected: Option<Vec<i64>>,
) -> Response {
    let current = q
        .status
        .as_deref()
        .and_then(OrderStatus::from_code)
        .filter(|st| st.operator_settable() || *st == OrderStatus::PendingPayment)
        .unwrap_or(OrderStatus::New);
    let mut tabs = Vec::new();
    for st in OrderStatus::ALL {
        let input = SearchInput {
            status: vec![st.code().to_owned()],
            per_page: Some("1".to_owned()),
            ..SearchInput::default()
        };
        match orders::search(&s.app, &sess.actor, &input).await {
            Ok((_, p)) => tabs.push(Tab {
                code: st.code(),
                label: st.label(),
                count: p.total,
            }),
            Err(e) => return error_page(s, &e),
        }
    }
    let input = SearchInput {
        status: vec![current.code().to_owned()],
        sort: Some("number_asc".to_owned()),
        page: q.page.clone(),
        per_page: Some("100".to_owned()),
        ..SearchInput::default()
    };
    let (page, rows) = match orders::search(&s.app, &sess.actor, &input).await {
        Ok((_, p)) => {
            let selected = selected.as_deref().unwrap_or(&[]);
            let rows: Vec<StatusRow> = p
                .orders
                .iter()
                .map(|l| &l.order)
                .map(|o| StatusRow {
                    number: o.number,
                    ordered_at: format_jst_minute(o.ordered_at),
                    customer_name: o.customer_name.clone(),
                    payment: o.payment_method.label(),
                    amount: yen(o.payment_total.get()),
                    status: o.status.label(),
                    status_code: o.status.code(),
                    checked: selected.contains(&o.number),
                })
                .collect();
            (p, rows)
        }
        Err(e) => return error_page(s, &e),
    };
    let pages = (page.total + page.per_page - 1) / page.per_page;
    let targets: Vec<_> = OrderStatus::ALL
        .iter()
        .filter(|st| st.operator_settable())
        .map(|st| context! { code => st.code(), label => st.label() })
        .collect();
    let ok = results.iter().filter(|r| r.ok).count();
    let ng = results.len() - ok;
    let warned = results.iter().filter(|r| r.warning.is_some()).count();
    s.ui.render(
        "order_status.html",
        page_ctx(
            base(sess, "order_status"),
            context! {
                tabs => tabs, current => current.code(), current_label => current.label(),
                rows => rows, total => page.total, page => page.page, pages => pages,
                targets => targets, to => to, results => results, ok => ok, ng => ng,
                warned => warned,
                pending => current == OrderStatus::PendingPayment,
            },
        ),
    )
}

#[derive(Deserialize)]
pub struct BulkForm {
    /// The tab the operator was on.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    number: Vec<String>,
}

/// ステータス管理's 移動: each chosen order changes on its own; the page lists every
/// order's outcome, the refused ones in red with the reason.
pub async fn status_bulk(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<BulkForm>,
) -> Response {
    let numbers: Vec<i64> = f
        .number
        .iter()
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let q = StatusQ {
        status: Some(f.from.clone()),
        page: None,
    };
    let refuse = |msg: &str| ResultRow {
        number: 0,
        ok: false,
        message: msg.to_owned(),
        warning: None,
    };
    let to = match OrderStatus::parse("to", &f.to) {
        Ok(to) => to,
        Err(_) => {
            let r = vec![refuse("移動先の対応状況を選んでください")];
            return super::pages::unprocessable(
                status_screen(&s, &sess, q, None, r, Some(numbers)).await,
            );
        }
    };
    if numbers.is_empty() {
        let r = vec![refuse("移動する受注を選んでください")];
        return super::pages::unprocessable(
            status_screen(&s, &sess, q, Some(to.code()), r, None).await,
        );
    }
    let results = match orders::change_status_many(&s.app, &sess.actor, &numbers, to).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, &e),
    };
    let rows = results
        .into_iter()
        .map(|r| ResultRow {
            number: r.number,
            ok: r.ok,
            message: r.message,
            warning: r.warning,
        })
        .collect();
    status_screen(&s, &sess, q, Some(to.code()), rows, None).await
}
