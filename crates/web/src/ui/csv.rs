//! 基本設定 > CSV出力項目設定 (`/admin/settings/csv`) and the 送り状データ downloads.
//!
//! The settings screen works without JavaScript: the list being edited travels in the form
//! (hidden `columns`, in order) and 追加 / 削除 / 上へ / 下へ are submit buttons that return
//! the page with the list changed but not saved; 保存 stores it, 初期設定に戻す forgets it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::AppError;
use juchu_app::export::{self, CsvKind, Per, columns};
use juchu_domain::search::SearchInput;
use juchu_domain::time::format_jst_minute;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::CsrfForm;
use super::pages::{base, page_ctx};
use super::{Session, error_page};
use crate::AppState;
use crate::extract::Query;

#[derive(Deserialize, Default)]
pub struct PageQ {
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct ColumnsForm {
    #[serde(default)]
    op: String,
    /// The list being edited, in order.
    #[serde(default)]
    columns: Vec<String>,
    /// Selected in 出力する項目.
    #[serde(default)]
    chosen: Vec<String>,
    /// Selected in 出力しない項目.
    #[serde(default)]
    available: Vec<String>,
}

#[derive(Serialize)]
struct Opt {
    code: String,
    label: String,
    line: bool,
    selected: bool,
}

/// What the page shows besides the saved state.
#[derive(Default)]
struct Shown {
    /// The list being edited when it differs from the saved one.
    working: Option<Vec<String>>,
    /// Options to keep selected (so 上へ can be pressed again on the same items).
    selected: Vec<String>,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    done: Option<String>,
}

fn label_of(code: &str) -> String {
    columns::by_code(code)
        .map(|c| c.header.to_owned())
        .unwrap_or_else(|| code.to_owned())
}

pub async fn page(State(s): State<AppState>, sess: Session, Query(q): Query<PageQ>) -> Response {
    let done = match q.done.as_deref() {
        Some("saved") => Some("受注CSVの出力項目を保存しました".to_owned()),
        Some("reset") => Some("受注CSVの出力項目を初期設定に戻しました".to_owned()),
        _ => None,
    };
    render(
        &s,
        &sess,
        Shown {
            done,
            ..Shown::default()
        },
    )
    .await
}

async fn render(s: &AppState, sess: &Session, shown: Shown) -> Response {
    let saved = match export::column_settings(&s.app, &sess.actor, CsvKind::Orders).await {
        Ok(x) => x,
        Err(e) => return error_page(s, &e),
    };
    let sender = match export::shipping_sender(&s.app, &sess.actor).await {
        Ok(x) => x,
        Err(e) => return error_page(s, &e),
    };
    let unsaved = shown.working.is_some();
    let working: Vec<String> = shown
        .working
        .unwrap_or_else(|| saved.columns.iter().map(|c| c.code.clone()).collect());
    let is_selected = |c: &str| shown.selected.iter().any(|x| x == c);
    let chosen: Vec<Opt> = working
        .iter()
        .map(|c| Opt {
            code: c.clone(),
            label: label_of(c),
            line: columns::by_code(c).is_some_and(|x| x.per == Per::Line),
            selected: is_selected(c),
        })
        .collect();
    // 出力しない項目, grouped as the catalogue groups them.
    let mut groups: Vec<(&str, Vec<Opt>)> = vec![];
    for c in columns::CATALOGUE
        .iter()
        .filter(|c| !working.iter().any(|w| w == c.code))
    {
        let o = Opt {
            code: c.code.to_owned(),
            label: c.header.to_owned(),
            line: c.per == Per::Line,
            selected: is_selected(c.code),
        };
        match groups.last_mut() {
            Some((g, v)) if *g == c.group => v.push(o),
            _ => groups.push((c.group, vec![o])),
        }
    }
    let groups: Vec<_> = groups
        .into_iter()
        .map(|(g, v)| context! { label => g, options => v })
        .collect();
    let column_errors: Vec<String> = shown
        .errors
        .iter()
        .filter(|(k, _)| k.starts_with("columns"))
        .map(|(_, v)| v.clone())
        .collect();
    let preview = working
        .iter()
        .map(|c| label_of(c))
        .collect::<Vec<_>>()
        .join(",");
    let status = if shown.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = s.ui.render(
        "csv_settings.html",
        page_ctx(
            base(sess, "csv_settings"),
            context! {
                chosen => chosen, groups => groups, working => working,
                column_errors => column_errors, notice => shown.notice, done => shown.done,
                unsaved => unsaved, preview => preview,
                is_default => saved.is_default && !unsaved,
                updated => saved.updated_at.map(|t| format!("{} {}", format_jst_minute(t), saved.updated_by)),
                sender => context! {
                    name => sender.name, tel => sender.tel, address => sender.address,
                    postal_code => juchu_domain::customer::postal_label(&sender.postal_code),
                },
                b2_count => export::b2::HEADERS.len(),
            },
        ),
    );
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

/// Move the selected codes one place up (or down), each only past an unselected neighbour, so
/// a selected block moves together.
fn shift(list: &mut [String], selected: &[String], up: bool) {
    let sel = |c: &String| selected.contains(c);
    let n = list.len();
    let idx: Vec<usize> = if up {
        (1..n).collect()
    } else {
        (0..n.saturating_sub(1)).rev().collect()
    };
    for i in idx {
        let j = if up { i - 1 } else { i + 1 };
        if sel(&list[i]) && !sel(&list[j]) {
            list.swap(i, j);
        }
    }
}

pub async fn save(State(s): State<AppState>, CsrfForm(sess, f): CsrfForm<ColumnsForm>) -> Response {
    let mut working = f.columns.clone();
    let none = |what: &str| Some(format!("{what}項目を選んでから押してください"));
    let mut shown = Shown::default();
    match f.op.as_str() {
        "save" => {
            return match export::set_columns(&s.app, &sess.actor, CsvKind::Orders, &working).await {
                Ok(_) => Redirect::to("/admin/settings/csv?done=saved").into_response(),
                Err(AppError::Invalid(i)) => {
                    shown.errors = i.0.into_iter().map(|e| (e.field, e.message)).collect();
                    shown.working = Some(working);
                    render(&s, &sess, shown).await
                }
                Err(e) => error_page(&s, &e),
            };
        }
        "reset" => {
            return match export::reset_columns(&s.app, &sess.actor, CsvKind::Orders).await {
                Ok(_) => Redirect::to("/admin/settings/csv?done=reset").into_response(),
                Err(e) => error_page(&s, &e),
            };
        }
        "add" => {
            if f.available.is_empty() {
                shown.notice = none("「出力しない項目」で");
            }
            // Added in catalogue order, at the end.
            for c in columns::CATALOGUE {
                if f.available.iter().any(|a| a == c.code) && !working.iter().any(|w| w == c.code) {
                    working.push(c.code.to_owned());
                }
            }
            shown.selected = f.available;
        }
        "remove" => {
            if f.chosen.is_empty() {
                shown.notice = none("「出力する項目」で");
            }
            working.retain(|c| !f.chosen.contains(c));
            shown.selected = f.chosen;
        }
        "up" | "down" => {
            if f.chosen.is_empty() {
                shown.notice = none("「出力する項目」で");
            }
            shift(&mut working, &f.chosen, f.op == "up");
            shown.selected = f.chosen;
        }
        _ => {}
    }
    shown.working = Some(working);
    render(&s, &sess, shown).await
}

/// 送り状データ (B2クラウド) of the current search.
pub async fn shipping_csv(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<SearchInput>,
) -> Response {
    match export::shipping_csv(&s.app, &sess.actor, &q).await {
        Ok(stream) => crate::download::csv(&s, "b2", "Shift_JIS", stream),
        Err(e) => error_page(&s, &e),
    }
}

/// 送り状データ of one order, from the order screen (recorded in its history).
pub async fn order_shipping_csv(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
) -> Response {
    match export::shipping_csv_for(&s.app, &sess.actor, number).await {
        Ok(bytes) => {
            let once = futures_util::stream::once(async move { Ok(bytes) });
            crate::download::csv(&s, &format!("b2_{number}"), "Shift_JIS", once)
        }
        Err(e) => error_page(&s, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::shift;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn shift_moves_selected_blocks() {
        let mut l = v(&["a", "b", "c", "d"]);
        shift(&mut l, &v(&["c", "d"]), true);
        assert_eq!(l, v(&["a", "c", "d", "b"]));
        shift(&mut l, &v(&["a"]), true);
        assert_eq!(l, v(&["a", "c", "d", "b"]), "the top stays put");
        shift(&mut l, &v(&["a", "b"]), false);
        assert_eq!(l, v(&["c", "a", "d", "b"]));
    }
}
