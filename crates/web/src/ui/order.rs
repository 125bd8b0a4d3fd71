//! 受注詳細: the order, its payment panel, the 受注作業 buttons the manuals lay out (送り状,
//! 帳票, mails, 入金チェック, list moves, 対応状況, 削除 — only those the order's standing
//! allows, the others named with the reason), its mails and its 変更履歴.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::orders;
use juchu_domain::order::{Order, Totals};
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_domain::time::format_jst_minute;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::pages::{base, page_ctx, yen};
use super::{Session, error_page};
use crate::AppState;
use crate::extract::Query;

#[derive(Serialize)]
struct ItemRow {
    code: String,
    name: String,
    classes: String,
    price: String,
    quantity: i64,
    rate: String,
    line: String,
}

/// The order page's query: `done` / `refused` is the last action's message (green / red),
/// the rest a payment operation's outcome (see `payments::operate`).
#[derive(Deserialize, Default)]
pub struct OrderQ {
    edit: Option<String>,
    done: Option<String>,
    refused: Option<String>,
    #[serde(flatten)]
    result: super::payments::ResultQ,
}

pub(super) fn totals_ctx(t: &Totals) -> minijinja::Value {
    let tax: Vec<_> = t
        .tax
        .by_rate
        .iter()
        .map(|r| context! { label => r.rate.label(), amount => yen(r.amount.get()), tax => yen(r.tax.get()) })
        .collect();
    context! {
        subtotal => yen(t.subtotal.get()), discount => yen(t.discount.get()),
        shipping_fee => yen(t.shipping_fee.get()), fee => yen(t.fee.get()), total => yen(t.total.get()),
        points_used => t.points_used, payment_total => yen(t.payment_total.get()),
        payment_total_value => t.payment_total.get(), tax => tax,
    }
}

/// 受注詳細 with the payment panel and the 受注作業 buttons.
pub async fn order(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
    Query(q): Query<OrderQ>,
) -> Response {
    // The old inline editor's address now opens 受注編集.
    if q.edit.as_deref() == Some("1") {
        return Redirect::to(&format!("/admin/orders/{number}/edit")).into_response();
    }
    let o: Order = match orders::get(&s.app, &sess.actor, number).await {
        Ok(o) => o,
        Err(e) => return error_page(&s, &e),
    };
    let history = match orders::history(&s.app, &sess.actor, number).await {
        Ok(h) => h,
        Err(e) => return error_page(&s, &e),
    };
    let mails = match juchu_app::mail::of_order(&s.app, &sess.actor, number).await {
        Ok(m) => m,
        Err(e) => return error_page(&s, &e),
    };
    let payment = match super::payments::panel(&s, &sess, &o, &q.result).await {
        Ok(p) => p,
        Err(e) => return error_page(&s, &e),
    };
    let d = &o.draft;
    let items: Vec<ItemRow> = d
        .items
        .iter()
        .map(|i| ItemRow {
            code: i.product_code.clone(),
            name: i.product_name.clone(),
            classes: juchu_domain::catalog::class_label(&i.class1, &i.class2),
            price: yen(i.unit_price.get()),
            quantity: i.quantity,
            rate: format!("{}%", i.tax_rate.percent()),
            line: i.line_total().map(|y| yen(y.get())).unwrap_or_default(),
        })
        .collect();
    let hist: Vec<_> = history
        .iter()
        .map(|h| context! { at => format_jst_minute(h.at), actor => h.actor.clone(), detail => h.detail.clone() })
        .collect();
    let mails: Vec<_> = mails
        .iter()
        .map(|m| {
            let at = juchu_domain::time::from_db(m.sent_at.as_deref().unwrap_or(&m.created_at))
                .map(format_jst_minute)
                .unwrap_or_default();
            let state = match m.status.as_str() {
                "sent" => "送信済み",
                "failed" => "送信失敗",
                _ => "送信待ち",
            };
            context! { id => m.id, at => at, subject => m.subject.clone(), to => m.mail_to.clone(), state => state, status => m.status.clone() }
        })
        .collect();
    let person = |p: &juchu_domain::customer::Person| {
        context! {
            name => p.full_name(), kana => p.full_kana(), company => p.company.clone(),
            postal => juchu_domain::customer::postal_label(&p.postal_code),
            address => format!("{}{} {}", p.prefecture, p.address1, p.address2), tel => p.tel.clone(),
        }
    };
    s.ui.render(
        "order.html",
        page_ctx(
            base(&sess, "orders"),
            context! {
                number => o.number, version => o.version, status => d.status.label(), status_code => d.status.code(), list => o.list.label(),
                ordered_at => format_jst_minute(o.ordered_at), updated_at => format_jst_minute(o.updated_at),
                customer => person(&d.customer), delivery => person(&d.delivery), email => d.email.clone(),
                customer_id => d.customer_id,
                birth_date => d.birth_date.map(juchu_domain::time::format_date),
                sex => d.sex.map(|x| x.label()),
                payment => d.payment_method.label(), gateway_ref => d.gateway_ref.clone(),
                items => items, t => totals_ctx(&d.totals),
                points_earned => d.points_earned,
                remarks => d.remarks.clone(), memo => d.memo.clone(),
                shipped_on => d.shipped_on.map(juchu_domain::time::format_date),
                tracking_number => d.tracking_number.clone(),
                delivery_date => d.delivery_date.map(juchu_domain::time::format_date),
                delivery_time => d.delivery_time.clone(),
                history => hist, mails => mails, done => q.done, refused => q.refused,
                work => work(&o),
                pay => payment,
            },
        ),
    )
}

/// What the 受注作業 panel offers, from the order's standing: each thing either allowed or
/// with the reason it is not.
fn work(o: &Order) -> minijinja::Value {
    let st = o.standing();
    let why = |r: Result<(), juchu_domain::status::Refusal>| r.err().map(|e| e.to_string());
    let statuses: Vec<_> = OrderStatus::ALL
        .iter()
        .filter(|to| st.can_change_status(**to).is_ok())
        .map(|to| context! { code => to.code(), label => to.label() })
        .collect();
    let moves: Vec<_> = OrderList::ALL
        .iter()
        .filter(|to| st.can_move(**to).is_ok())
        .map(|to| {
            let label = match to {
                OrderList::Open => "受注一覧へ戻す",
                OrderList::Completed => "受注完了一覧へ移動",
                OrderList::Cancelled => "受注キャンセル一覧へ移動",
            };
            context! { code => to.code(), label => label }
        })
        .collect();
    let move_refusals: Vec<_> = OrderList::ALL
        .iter()
        .filter(|to| **to != o.list)
        .filter_map(|to| st.can_move(*to).err().map(|e| e.to_string()))
        .collect();
    context! {
        edit => why(st.can_edit()),
        mail => why(st.can_work("メール送信")),
        slip_csv => why(st.can_work("送り状データの出力")),
        check => why(st.can_work("入金チェック")),
        print => why(st.can_print()),
        delete => why(st.can_delete()),
        status_refusal => if statuses.is_empty() { why(st.can_change_status(OrderStatus::Cancelled)) } else { None },
        statuses => statuses, moves => moves, move_refusals => move_refusals,
        checked => o.payment_checked,
        checked_at => o.payment_checked_at.map(format_jst_minute),
        checked_by => o.payment_checked_by.clone(),
    }
}
