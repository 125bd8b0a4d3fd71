//! 外部決済一括処理 (seed 004 §8): the 決済状況 list of card and Paidy orders → choose orders
//! and an action → 確認 (count and amount) → the run's page, which follows its progress and
//! shows each order's result (green / red) → 操作ログ of every run.
//!
//! The run is a stored job (`payments::start_bulk`): leaving the page does not stop it. The
//! 確認 page carries a fresh token used as the run's key, so a double click or a resent form
//! shows the first run instead of starting a second.

use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::AppError;
use juchu_app::payments::{self, BULK_ACTIONS, BulkInput};
use juchu_domain::payment::Action;
use juchu_domain::payment_method::{Gateway, PaymentMethod};
use juchu_domain::search::{PaymentFilter, SearchInput};
use juchu_domain::time::format_jst_minute;
use minijinja::context;
use serde::Deserialize;

use super::pages::{base, page_ctx, unprocessable};
use super::{CsrfForm, Session, error_page};
use crate::AppState;
use crate::extract::{Path, Query};

/// The payment methods whose payments a run can act on.
const METHODS: [PaymentMethod; 3] = [
    PaymentMethod::GmoCard,
    PaymentMethod::PaygentCard,
    PaymentMethod::Paidy,
];

/// The list's search when the URL names none: 未処理一覧 — authorizations not yet captured
/// or cancelled, in every list (an order already moved to 受注完了一覧 or キャンセル一覧 but
/// not captured still shows), by card or Paidy.
fn with_defaults(mut q: SearchInput, raw: &str) -> SearchInput {
    if !raw.contains("payment_state=") && !raw.contains("searched=") {
        q.payment_state = vec!["authorized".into(), "expired".into(), "in_doubt".into()];
    }
    if q.list.is_none() {
        q.list = Some("all".into());
    }
    if q.payment_method.is_empty() {
        q.payment_method = METHODS.iter().map(|m| m.code().to_owned()).collect();
    }
    if q.sort.is_none() {
        q.sort = Some("ordered_asc".into());
    }
    q
}

/// A search or filter as a query string (for 「検索結果すべて」 and the page links): every
/// field with a value, repeated keys repeated.
fn query_string(v: &impl serde::Serialize) -> String {
    let mut out = Vec::new();
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(v) {
        for (k, v) in m {
            let vals = match v {
                serde_json::Value::Array(a) => a,
                one => vec![one],
            };
            for x in vals {
                let x = match x {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                if !x.is_empty() {
                    out.push(format!("{k}={}", super::url_escape(&x)));
                }
            }
        }
    }
    out.join("&")
}

fn gateway_name(code: &str) -> &'static str {
    Gateway::from_code(code).map_or("", Gateway::name)
}

fn actions() -> Vec<minijinja::Value> {
    BULK_ACTIONS
        .iter()
        .map(|a| context! { code => a.code(), label => bulk_label(*a) })
        .collect()
}

/// The action as the bulk screens say it (seed 004 §8, seed 002 p.10).
fn bulk_label(a: Action) -> &'static str {
    match a {
        Action::Capture => "売上確定",
        Action::Cancel => "取消（取消・返品・月跨返品）",
        Action::Refresh => "状態確認",
        Action::PaidyClose => "クローズ（Paidy）",
        Action::Refund => "払い戻し（全額・Paidy）",
        other => other.label(),
    }
}

/// 外部決済一括処理: the list to choose from.
pub async fn list(
    State(s): State<AppState>,
    sess: Session,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<SearchInput>,
) -> Response {
    let raw = uri.query().unwrap_or_default().to_owned();
    let q = with_defaults(q, &raw);
    list_page(&s, &sess, q, None).await
}

async fn list_page(
    s: &AppState,
    sess: &Session,
    q: SearchInput,
    refused: Option<String>,
) -> Response {
    let (errors, rows, total, page, pages) = match juchu_app::orders::search(
        &s.app,
        &sess.actor,
        &q,
    )
    .await
    {
        Ok((_, p)) => {
            let rows: Vec<_> = p
                .orders
                .iter()
                .map(|l| {
                    let o = &l.order;
                    let pay = l.payment.as_ref();
                    let differs = pay.is_some_and(|p| {
                        matches!(p.state.as_str(), "authorized" | "captured")
                            && p.amount != o.payment_total.get()
                    });
                    context! {
                        number => o.number,
                        ordered_at => format_jst_minute(o.ordered_at),
                        customer_name => o.customer_name.clone(),
                        method => o.payment_method.label(),
                        list => o.list.label(),
                        status => o.status.label(),
                        total => o.payment_total.get(),
                        gateway => pay.map(|p| gateway_name(&p.gateway)).unwrap_or_default(),
                        payment_id => pay.map(|p| p.payment_id.clone()).unwrap_or_default(),
                        amount => pay.map(|p| p.amount),
                        captured => pay.map_or(0, |p| p.captured),
                        refunded => pay.map_or(0, |p| p.refunded),
                        shipped_on => o.shipped_on.map(|d| d.strftime("%Y/%m/%d").to_string()),
                        differs => differs,
                        state => pay.map(|p| p.state_label.clone()).unwrap_or_else(|| "決済なし".into()),
                        state_code => pay.map(|p| p.state_code().to_owned()).unwrap_or_default(),
                        capture_by => pay.filter(|p| p.state == "authorized").and_then(|p| p.auth_expires_at.clone()),
                    }
                })
                .collect();
            let pages = (p.total + p.per_page - 1) / p.per_page;
            (
                std::collections::BTreeMap::new(),
                rows,
                p.total,
                p.page,
                pages,
            )
        }
        Err(AppError::Invalid(i)) => {
            let errors: std::collections::BTreeMap<String, String> =
                i.0.into_iter().map(|f| (f.field, f.message)).collect();
            (errors, vec![], 0, 1, 0)
        }
        Err(e) => return error_page(s, &e),
    };
    let query = query_string(&q);
    let page_link = |n: i64| {
        let mut q2 = q.clone();
        q2.page = Some(n.to_string());
        format!("/admin/payments/bulk?{}&searched=1", query_string(&q2))
    };
    let states: Vec<_> = PaymentFilter::ALL
        .iter()
        .map(|f| context! { code => f.code(), label => f.label() })
        .collect();
    let methods: Vec<_> = METHODS
        .iter()
        .map(|m| context! { code => m.code(), label => m.label() })
        .collect();
    let r = s.ui.render(
        "bulk.html",
        page_ctx(
            base(sess, "payments_bulk"),
            context! {
                q => q, errors => errors, rows => rows, total => total, page => page, pages => pages,
                prev => (page > 1).then(|| page_link(page - 1)),
                next => (page < pages).then(|| page_link(page + 1)),
                states => states, methods => methods, actions => actions(), query => query,
                refused => refused,
            },
        ),
    );
    if refused.is_some() {
        unprocessable(r)
    } else {
        r
    }
}

/// What the operator chose on the list, and (on 確認) the run's key.
#[derive(Debug, Deserialize)]
pub struct Chosen {
    #[serde(default)]
    action: String,
    /// `selected` (the checked orders) or `all` (every order the search finds).
    #[serde(default)]
    scope: String,
    #[serde(default)]
    number: Vec<String>,
    /// The list's search, as a query string (for `all`, and to go back).
    #[serde(default)]
    query: String,
    /// 確認's token: the run's key.
    #[serde(default)]
    key: String,
}

impl Chosen {
    fn search(&self) -> SearchInput {
        let uri: axum::http::Uri = format!("/?{}", self.query)
            .parse()
            .unwrap_or_else(|_| axum::http::Uri::from_static("/"));
        axum_extra::extract::Query::<SearchInput>::try_from_uri(&uri)
            .map(|q| q.0)
            .unwrap_or_default()
    }

    fn input(&self) -> Result<BulkInput, String> {
        let action = Action::from_code(&self.action)
            .filter(|a| BULK_ACTIONS.contains(a))
            .ok_or("処理内容を選んでください")?;
        Ok(if self.scope == "all" {
            let mut search = self.search();
            search.page = None;
            search.per_page = None;
            BulkInput {
                action,
                numbers: vec![],
                search: Some(search),
            }
        } else {
            let numbers: Vec<i64> = self
                .number
                .iter()
                .filter_map(|n| n.trim().parse().ok())
                .collect();
            if numbers.is_empty() {
                return Err("処理する受注を選んでください".into());
            }
            BulkInput {
                action,
                numbers,
                search: None,
            }
        })
    }
}

/// Why a choice cannot run, in one line for the list's banner.
fn said(i: juchu_domain::Invalid) -> String {
    i.0.into_iter()
        .map(|f| f.message)
        .collect::<Vec<_>>()
        .join("、")
}

/// 確認: the count and the amount, and the button that starts the run.
pub async fn confirm(State(s): State<AppState>, CsrfForm(sess, c): CsrfForm<Chosen>) -> Response {
    let back = c.search();
    let input = match c.input() {
        Ok(i) => i,
        Err(m) => return list_page(&s, &sess, back, Some(m)).await,
    };
    let preview = match payments::preview_bulk(&s.app, &sess.actor, &input).await {
        Ok(p) => p,
        Err(AppError::Invalid(i)) => return list_page(&s, &sess, back, Some(said(i))).await,
        Err(e) => return error_page(&s, &e),
    };
    let key = match juchu_app::tokens::random_token() {
        Ok(k) => k,
        Err(e) => return error_page(&s, &e),
    };
    let by_gateway: Vec<_> = preview
        .by_gateway
        .iter()
        .map(|(g, n, a)| context! { name => gateway_name(g), count => n, amount => a })
        .collect();
    s.ui.render(
        "bulk_confirm.html",
        page_ctx(
            base(&sess, "payments_bulk"),
            context! {
                action => input.action.code(), action_label => bulk_label(input.action),
                count => preview.count, amount => preview.amount, by_gateway => by_gateway,
                without_payment => preview.without_payment,
                numbers => preview.numbers, scope => c.scope, query => c.query, key => key,
                shown => preview.numbers.len(),
            },
        ),
    )
}

/// 一括処理を実行: start the run and follow it on its page.
pub async fn run(State(s): State<AppState>, CsrfForm(sess, c): CsrfForm<Chosen>) -> Response {
    let back = c.search();
    let input = match c.input() {
        Ok(i) => i,
        Err(m) => return list_page(&s, &sess, back, Some(m)).await,
    };
    match payments::start_bulk(&s.app, &sess.actor, input, Some(c.key.clone())).await {
        Ok(r) => Redirect::to(&format!("/admin/payments/bulk/runs/{}", r.id)).into_response(),
        Err(AppError::Invalid(i)) => list_page(&s, &sess, back, Some(said(i))).await,
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ItemsQ {
    state: Option<String>,
}

/// A run: progress while it works (the page reloads itself), then each order's result.
pub async fn run_page(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    Query(q): Query<ItemsQ>,
) -> Response {
    let run = match payments::bulk_run(&s.app, &sess.actor, id).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, &e),
    };
    let state = q.state.filter(|s| !s.is_empty());
    let items = match payments::bulk_items(&s.app, &sess.actor, id, state.as_deref(), 1, 1000).await
    {
        Ok(i) => i,
        Err(e) => return error_page(&s, &e),
    };
    let rows: Vec<_> = items
        .iter()
        .map(|i| {
            context! {
                number => i.order_number, gateway => gateway_name(&i.gateway), amount => i.amount,
                state => i.state.clone(), result => i.result.clone(), at => i.finished_at.clone(),
            }
        })
        .collect();
    let done = run.total - run.pending;
    let percent = if run.total > 0 {
        done * 100 / run.total
    } else {
        100
    };
    let working = matches!(run.state.as_str(), "running" | "stopping");
    s.ui.render(
        "bulk_run.html",
        page_ctx(
            base(&sess, "payments_bulk_runs"),
            context! {
                run => run, rows => rows, percent => percent, done => done, working => working,
                filter => state.unwrap_or_default(),
            },
        ),
    )
}

/// 中止.
pub async fn stop(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(sess, _): CsrfForm<serde::de::IgnoredAny>,
) -> Response {
    match payments::stop_bulk(&s.app, &sess.actor, id).await {
        Ok(_) | Err(AppError::Conflict { .. }) => {
            Redirect::to(&format!("/admin/payments/bulk/runs/{id}")).into_response()
        }
        Err(e) => error_page(&s, &e),
    }
}

/// 操作ログ: the last 100 runs.
pub async fn runs(State(s): State<AppState>, sess: Session) -> Response {
    match payments::bulk_runs(&s.app, &sess.actor, 1, 100).await {
        Ok((total, runs)) => s.ui.render(
            "bulk_runs.html",
            page_ctx(
                base(&sess, "payments_bulk_runs"),
                context! { runs => runs, total => total },
            ),
        ),
        Err(e) => error_page(&s, &e),
    }
}

/// 決済ログ: every payment operation (single and bulk), filterable, newest first.
pub async fn log(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<payments::LogQuery>,
) -> Response {
    let (errors, page) = match payments::operation_log(&s.app, &sess.actor, &q).await {
        Ok(p) => (std::collections::BTreeMap::new(), Some(p)),
        Err(AppError::Invalid(i)) => (
            i.0.into_iter()
                .map(|f| (f.field, f.message))
                .collect::<std::collections::BTreeMap<_, _>>(),
            None,
        ),
        Err(e) => return error_page(&s, &e),
    };
    let (total, pg, pages) = page.as_ref().map_or((0, 1, 0), |p| {
        (p.total, p.page, (p.total + p.per_page - 1) / p.per_page)
    });
    let link = |n: i64| {
        let mut q2 = q.clone();
        q2.page = Some(n);
        format!("/admin/payments/log?{}", query_string(&q2))
    };
    let actions: Vec<_> = [
        juchu_domain::payment::OpAction::Authorize,
        juchu_domain::payment::OpAction::RequestPayment,
    ]
    .into_iter()
    .chain(
        Action::ALL
            .into_iter()
            .map(juchu_domain::payment::OpAction::Panel),
    )
    .map(|a| context! { code => a.code(), label => a.label() })
    .collect();
    s.ui.render(
        "payment_log.html",
        page_ctx(
            base(&sess, "payment_log"),
            context! {
                q => q, errors => errors, rows => page.map(|p| p.operations).unwrap_or_default(),
                total => total, page => pg, pages => pages,
                prev => (pg > 1).then(|| link(pg - 1)), next => (pg < pages).then(|| link(pg + 1)),
                actions => actions,
            },
        ),
    )
}
