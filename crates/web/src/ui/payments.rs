//! The payment panel (決済) of the order screen and its buttons.
//!
//! The panel shows what `payments::view` says and offers only the actions it allows. Each
//! button is its own small POST form carrying the session's CSRF token, the payment's
//! version and a fresh form token used as the operation's idempotency key: a double click or
//! a resent form returns the first outcome instead of running the operation twice. After an
//! operation the browser is sent back to the order page with the outcome in the URL.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::AppError;
use juchu_app::payments::{self, OperateInput, OperationResult, PaymentView};
use juchu_domain::order::Order;
use juchu_domain::payment::Action;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{CsrfForm, Session, url_escape};
use crate::AppState;
use crate::error::public_message;

/// A payment operation's outcome as it travels in the order page's URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResultQ {
    /// `succeeded`, `failed`, `partial`, `unknown`, `pending`, or `error` (refused by juchu)
    result: Option<String>,
    label: Option<String>,
    amount: Option<String>,
    code: Option<String>,
    message: Option<String>,
    repeated: Option<String>,
}

/// How an outcome looks: the word and the colour (`ok` green, `ng` red, `wait` amber).
fn outcome(status: &str) -> (&'static str, &'static str) {
    match status {
        "succeeded" => ("成功", "ok"),
        "failed" => ("失敗", "ng"),
        "partial" => ("途中で停止", "ng"),
        "unknown" | "pending" => ("確認中", "wait"),
        _ => ("エラー", "ng"),
    }
}

#[derive(Serialize)]
struct OpRow {
    at: String,
    actor: String,
    label: String,
    amount: i64,
    status: &'static str,
    css: &'static str,
    code: String,
    message: String,
    payment_id: String,
}

impl OpRow {
    fn of(r: &OperationResult) -> OpRow {
        let (status, css) = outcome(r.status.code());
        OpRow {
            at: r.at.clone(),
            actor: r.actor.clone(),
            label: r.label.clone(),
            amount: r.amount,
            status,
            css,
            code: r.result_code.clone(),
            message: r.message.clone(),
            payment_id: r.payment_id.clone(),
        }
    }
}

/// The actions each gateway's panel lays out in its own words; anything else allowed is
/// offered as a plain button, so nothing the domain allows is hidden.
fn laid_out(g: &str) -> &'static [&'static str] {
    match g {
        "paygent" => &[
            "cancel",
            "update_transaction",
            "capture",
            "change_authorization",
            "change_capture",
            "refresh",
        ],
        "gmo" => &[
            "capture",
            "cancel",
            "change_authorization",
            "change_capture",
            "reauthorize",
            "refresh",
        ],
        "paidy" => &[
            "paidy_update",
            "capture",
            "paidy_close",
            "refund",
            "refresh",
        ],
        _ => &["refresh"],
    }
}

/// The gateway's own status word as its manuals and admin screens name it (Paygent card
/// status codes, GMO-PG Status, Paidy status), shown beside juchu's common word.
fn gateway_status_name(gateway: &str, status: &str) -> &'static str {
    match (gateway, status) {
        ("paygent", "10") => "申込済",
        ("paygent", "11") => "オーソリNG",
        ("paygent", "20") => "オーソリOK",
        ("paygent", "30") => "売上要求中",
        ("paygent", "31") => "オーソリ取消中",
        ("paygent", "32") => "オーソリ取消済",
        ("paygent", "33") => "オーソリ期限切",
        ("paygent", "40") => "消込済",
        ("paygent", "41") => "消込済（売上取消期限切）",
        ("paygent", "42") => "売上取消中",
        ("paygent", "43") => "速報検知済",
        ("paygent", "60") => "売上取消済",
        ("paygent", "61") => "速報取消済",
        ("gmo", "UNPROCESSED") => "未決済",
        ("gmo", "AUTHENTICATED") => "未決済（3Dセキュア認証済）",
        ("gmo", "CHECK") => "有効性チェック",
        ("gmo", "CAPTURE") => "即時売上",
        ("gmo", "AUTH") => "仮売上",
        ("gmo", "SAUTH") => "簡易オーソリ",
        ("gmo", "SALES") => "実売上",
        ("gmo", "VOID") => "取消",
        ("gmo", "RETURN") => "返品",
        ("gmo", "RETURNX") => "月跨返品",
        ("paidy", "authorized") => "オープン",
        ("paidy", "closed") => "クローズ",
        ("paidy", "rejected") => "却下",
        _ => "",
    }
}

/// The panel's values for `payment_panel.html`: `none` when the order's method has no online
/// payment, `empty` when it has one but no payment was made yet.
pub async fn panel(
    s: &AppState,
    sess: &Session,
    o: &Order,
    result: &ResultQ,
) -> Result<minijinja::Value, AppError> {
    let gateway = o.draft.payment_method.gateway();
    let view: Option<PaymentView> = if gateway.is_some() {
        payments::view(&s.app, &sess.actor, o.number).await?
    } else {
        None
    };
    let result_box = result.result.as_deref().map(|st| {
        let (word, css) = outcome(st);
        context! {
            word => word, css => css,
            label => result.label.clone().unwrap_or_default(),
            amount => result.amount.as_deref().and_then(|a| a.parse::<i64>().ok()),
            code => result.code.clone().unwrap_or_default(),
            message => result.message.clone().unwrap_or_default(),
            repeated => result.repeated.as_deref() == Some("1"),
        }
    });
    let Some(p) = view else {
        return Ok(context! {
            none => gateway.is_none(),
            empty => gateway.is_some(),
            gateway_name => gateway.map(juchu_domain::payment_method::Gateway::name),
            result => result_box,
        });
    };
    // One fresh form token per form.
    let mut keys = BTreeMap::new();
    let mut can = BTreeMap::new();
    for a in &p.allowed {
        keys.insert(a.action.clone(), juchu_app::tokens::random_token()?);
        can.insert(a.action.clone(), a.label.clone());
    }
    let others: Vec<_> = p
        .allowed
        .iter()
        .filter(|a| !laid_out(&p.gateway).contains(&a.action.as_str()))
        .cloned()
        .collect();
    let ops: Vec<OpRow> = p.operations.iter().map(OpRow::of).collect();
    let open = p.open_operation.as_ref().map(OpRow::of);
    let status_name = gateway_status_name(&p.gateway, &p.gateway_status);
    // An outcome still being confirmed is shown once, by the 確認中 box.
    let result_box = if open.is_some()
        && result
            .result
            .as_deref()
            .is_some_and(|r| outcome(r).1 == "wait")
    {
        None
    } else {
        result_box
    };
    Ok(context! {
        none => false, empty => false,
        p => p.clone(), keys => keys, can => can, others => others,
        ops => ops, open => open,
        billed => p.captured - p.refunded,
        status_name => status_name,
        // 売上確定有効期限 matters only while the authorization waits for capture.
        show_expiry => matches!(p.state.as_str(), "authorized" | "expired"),
        is_paygent => p.gateway == "paygent",
        is_gmo => p.gateway == "gmo",
        is_paidy => p.gateway == "paidy",
        result => result_box,
    })
}

/// One button's form.
#[derive(Deserialize)]
pub struct OperateForm {
    /// The form token: the operation's idempotency key.
    #[serde(default)]
    key: String,
    #[serde(default)]
    expected_version: String,
    #[serde(default)]
    amount: String,
    /// GMO 金額変更: `1` 即時売上, `0` 仮売上
    #[serde(default)]
    capture: String,
    /// Paidy 払い戻し: `1` = 全額 (the amount is not sent)
    #[serde(default)]
    all: String,
}

fn back(number: i64, q: &[(&str, String)]) -> Response {
    let query: Vec<String> = q
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url_escape(v)))
        .collect();
    Redirect::to(&format!(
        "/admin/orders/{number}?{}#payment",
        query.join("&")
    ))
    .into_response()
}

fn refused(number: i64, label: &str, e: &AppError) -> Response {
    let message = match e {
        AppError::Invalid(i) => {
            i.0.iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join(" / ")
        }
        e => public_message(e),
    };
    back(
        number,
        &[
            ("result", "error".into()),
            ("label", label.to_owned()),
            ("code", e.code().to_owned()),
            ("message", message),
        ],
    )
}

/// Run one payment operation from its button, then go back to the order with the outcome.
pub async fn operate(
    State(s): State<AppState>,
    Path((number, action)): Path<(i64, String)>,
    CsrfForm(sess, f): CsrfForm<OperateForm>,
) -> Response {
    let Some(act) = Action::from_code(&action) else {
        let e = AppError::Invalid(juchu_domain::Invalid::one(
            "action",
            "unknown_action",
            format!("決済操作「{action}」はありません"),
        ));
        return refused(number, "決済処理", &e);
    };
    let label = act.label();
    let typed = |field: &str, v: &str| -> Result<Option<i64>, AppError> {
        if v.trim().is_empty() {
            Ok(None)
        } else {
            juchu_domain::input::parse_int(field, v)
                .map(Some)
                .map_err(AppError::Invalid)
        }
    };
    let all = f.all == "1";
    let amount = match (act, all) {
        (Action::Refund, true) => Ok(None),
        (Action::Refund, false) => typed("amount", &f.amount).and_then(|a| {
            a.map(Some).ok_or_else(|| {
                AppError::Invalid(juchu_domain::Invalid::one(
                    "amount",
                    "required",
                    "払い戻す金額を入力するか、「全額」にチェックしてください",
                ))
            })
        }),
        _ => typed("amount", &f.amount),
    };
    let amount = match amount {
        Ok(a) => a,
        Err(e) => return refused(number, label, &e),
    };
    let expected_version = match typed("expected_version", &f.expected_version) {
        Ok(v) => v,
        Err(e) => return refused(number, label, &e),
    };
    let capture = match f.capture.as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    };
    let input = OperateInput {
        amount,
        capture,
        expected_version,
    };
    let key = Some(f.key).filter(|k| !k.trim().is_empty());
    match payments::operate(&s.app, &sess.actor, number, act, input, key).await {
        Ok(r) => back(
            number,
            &[
                ("result", r.status.code().to_owned()),
                ("label", r.label.clone()),
                ("amount", r.amount.to_string()),
                ("code", r.result_code.clone()),
                ("message", r.message.clone()),
                (
                    "repeated",
                    if r.repeated {
                        "1".into()
                    } else {
                        String::new()
                    },
                ),
            ],
        ),
        Err(e) => refused(number, label, &e),
    }
}
