//! 会員詳細: the member's details, points with their ledger and a correction form, and the
//! purchase history (購入履歴) across every list.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::customers::{self, PointAdjustment};
use juchu_app::{AppError, orders};
use juchu_domain::money::group;
use juchu_domain::search::SearchInput;
use juchu_domain::time::format_jst_minute;
use minijinja::context;
use serde::Deserialize;

use super::CsrfForm;
use super::pages::{base, page_ctx, unprocessable, yen};
use super::{Session, error_page, url_escape};
use crate::AppState;
use crate::extract::Query;

#[derive(Deserialize, Default)]
pub struct DetailQ {
    done: Option<String>,
}

/// The form as typed, and what checking it said.
#[derive(Default, serde::Serialize)]
struct Adjust {
    delta: String,
    reason: String,
    errors: std::collections::BTreeMap<String, String>,
}

pub async fn detail(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    Query(q): Query<DetailQ>,
) -> Response {
    page(&s, &sess, id, q.done, Adjust::default()).await
}

async fn page(
    s: &AppState,
    sess: &Session,
    id: i64,
    done: Option<String>,
    adjust: Adjust,
) -> Response {
    let c = match customers::get(&s.app, &sess.actor, id).await {
        Ok(c) => c,
        Err(e) => return error_page(s, &e),
    };
    let ledger = match customers::ledger(&s.app, &sess.actor, id).await {
        Ok(l) => l,
        Err(e) => return error_page(s, &e),
    };
    let search = SearchInput {
        customer_id: Some(id.to_string()),
        list: Some("all".to_owned()),
        sort: Some("ordered_desc".to_owned()),
        per_page: Some("20".to_owned()),
        ..SearchInput::default()
    };
    let (total, history) = match orders::search(&s.app, &sess.actor, &search).await {
        Ok((_, p)) => (p.total, p.orders),
        Err(e) => return error_page(s, &e),
    };
    let p = &c.draft.person;
    let ledger: Vec<_> = ledger
        .iter()
        .take(50)
        .map(|l| {
            context! {
                at => format_jst_minute(l.at), delta => l.delta, balance => group(l.balance_after),
                reason => l.reason.clone(), number => l.order_number, actor => l.actor.clone(),
            }
        })
        .collect();
    let history: Vec<_> = history
        .iter()
        .map(|l| &l.order)
        .map(|o| {
            context! {
                number => o.number, ordered_at => format_jst_minute(o.ordered_at),
                payment => o.payment_method.label(), amount => yen(o.payment_total.get()),
                status => o.status.label(), status_code => o.status.code(), list => o.list.label(),
            }
        })
        .collect();
    s.ui.render(
        "customer.html",
        page_ctx(
            base(sess, "customers"),
            context! {
                id => c.id, name => p.full_name(), kana => p.full_kana(), company => p.company.clone(),
                postal => juchu_domain::customer::postal_label(&p.postal_code), address => format!("{}{} {}", p.prefecture, p.address1, p.address2),
                tel => p.tel.clone(), email => c.draft.email.clone(),
                birth_date => c.draft.birth_date.map(juchu_domain::time::format_date),
                sex => c.draft.sex.map(|x| x.label()),
                points => group(c.points), ledger => ledger,
                orders_total => total, history => history,
                done => done, adjust => adjust,
            },
        ),
    )
}

#[derive(Deserialize)]
pub struct AdjustForm {
    #[serde(default)]
    delta: String,
    #[serde(default)]
    reason: String,
}

/// ポイント調整: a correction with its reason, written to the member's point ledger.
pub async fn adjust_points(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(sess, f): CsrfForm<AdjustForm>,
) -> Response {
    let mut shown = Adjust {
        delta: f.delta.clone(),
        reason: f.reason.clone(),
        ..Adjust::default()
    };
    let r = match juchu_domain::input::parse_int("delta", &f.delta) {
        Ok(delta) => {
            let a = PointAdjustment {
                delta,
                reason: f.reason.clone(),
            };
            customers::adjust_points(&s.app, &sess.actor, id, &a).await
        }
        Err(i) => Err(AppError::Invalid(i)),
    };
    match r {
        Ok(c) => {
            let msg = format!("ポイントを調整しました（残高 {}pt）", group(c.points));
            Redirect::to(&format!("/admin/customers/{id}?done={}", url_escape(&msg)))
                .into_response()
        }
        Err(AppError::Invalid(i)) => {
            shown.errors = i.0.into_iter().map(|e| (e.field, e.message)).collect();
            unprocessable(page(&s, &sess, id, None, shown).await)
        }
        Err(e) => error_page(&s, &e),
    }
}
