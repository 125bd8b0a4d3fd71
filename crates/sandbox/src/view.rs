//! Read-only HTML pages of what each gateway holds, like the gateways' own merchant screens
//! (ペイジェントオンライン, GMO's 管理画面, Paidy's dashboard): for people checking by eye what
//! juchu did.

use axum::extract::State;
use axum::response::Html;

use crate::Sandbox;
use crate::clock::jst_date;

/// Text for HTML: the sandbox's pages show what clients sent.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page the buyer's browser sees at the issuer or the bank (3-D Secure, net bank).
pub(crate) fn buyer_page(
    status: axum::http::StatusCode,
    title: &str,
    body: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        Html(format!(
            "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <style>body{{font-family:sans-serif;background:#eef1f5;display:flex;justify-content:center;padding-top:60px}}\
             main{{background:#fff;padding:24px 32px;border:1px solid #ccd;border-radius:6px;width:400px}}\
             button{{padding:8px 18px;margin-right:8px}}</style></head><body><main>\
             <h1 style=\"font-size:18px\">{title}</h1>{body}</main></body></html>"
        )),
    )
        .into_response()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{t} | juchu sandbox</title>\
         <style>body{{font-family:\"Noto Sans CJK JP\",sans-serif;margin:20px;font-size:13px}}\
         table{{border-collapse:collapse}}th,td{{border:1px solid #ccd;padding:4px 8px;text-align:left}}\
         th{{background:#eef1f5}}td.n{{text-align:right}}nav a{{margin-right:12px}}</style></head>\
         <body><nav><a href=\"/_sandbox\">サンドボックス</a><a href=\"/_sandbox/view/gmo\">GMO-PG</a>\
         <a href=\"/_sandbox/view/paygent\">ペイジェント</a><a href=\"/_sandbox/view/paidy\">Paidy</a></nav><h1 style=\"font-size:18px\">{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
}

fn jst(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9)))
        .strftime("%Y/%m/%d %H:%M:%S")
        .to_string()
}

pub async fn index(State(sb): State<Sandbox>) -> Html<String> {
    let now = sb.clock.now();
    page(
        "juchu サンドボックス",
        &format!(
            "<p>サンドボックスの時刻: {} （{}）</p><ul><li><a href=\"/_sandbox/view/gmo\">GMO-PG 取引一覧</a></li>\
             <li><a href=\"/_sandbox/view/paygent\">ペイジェント 決済一覧</a></li>\
             <li><a href=\"/_sandbox/view/paidy\">Paidy 決済一覧</a></li><li><a href=\"/_sandbox/ledger\">台帳（JSON）</a></li>\
             <li><a href=\"/_sandbox/notifications\">通知（JSON）</a></li></ul>",
            jst(now),
            if sb.clock.is_frozen() {
                "停止中"
            } else {
                "進行中"
            }
        ),
    )
}

pub async fn gmo(State(sb): State<Sandbox>) -> Html<String> {
    let st = sb.state();
    let mut trans: Vec<_> = st.gmo.trans.values().collect();
    trans.sort_by_key(|t| std::cmp::Reverse(t.process_date));
    let mut rows = String::new();
    for t in trans {
        let kind = match t.pay_type.as_str() {
            "3" => "コンビニ",
            "4" => "Pay-easy",
            _ => "カード",
        };
        let last = t
            .history
            .last()
            .map(|h| format!("{} {}", h.api, h.result))
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}円</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.order_id),
            kind,
            esc(&t.status),
            esc(&t.job_cd),
            t.amount,
            esc(&t.card_no),
            jst(t.process_date),
            jst_date(t.process_date),
            esc(&last)
        ));
    }
    page(
        "GMO-PG 取引一覧",
        &format!(
            "<table><tr><th>オーダーID</th><th>決済方法</th><th>状態</th><th>処理区分</th><th>金額</th><th>カード番号</th>\
             <th>処理日時</th><th>処理日</th><th>最後の処理</th></tr>{rows}</table>"
        ),
    )
}

pub async fn paidy(State(sb): State<Sandbox>) -> Html<String> {
    let st = sb.state();
    let mut pays: Vec<_> = st.paidy.payments.values().collect();
    pays.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let mut rows = String::new();
    for p in pays {
        let captured: i64 = p.captures.iter().map(|c| c.amount).sum();
        let refunded: i64 = p.refunds.iter().map(|r| r.amount).sum();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}円</td><td class=\"n\">{}円</td><td class=\"n\">{}円</td><td>{}</td><td>{}</td></tr>",
            esc(&p.id),
            esc(&p.status),
            esc(p.order.order_ref.as_deref().unwrap_or("")),
            p.amount,
            captured,
            refunded,
            esc(&p.created_at),
            esc(&p.expires_at)
        ));
    }
    page(
        "Paidy 決済一覧",
        &format!(
            "<table><tr><th>決済ID</th><th>状態</th><th>注文番号</th><th>金額</th><th>売上</th><th>返金</th><th>作成日時</th>\
             <th>売上確定有効期限</th></tr>{rows}</table>"
        ),
    )
}

/// Paygent's status names (docs/paygent-protocol.md §4).
fn paygent_status(payment_type: &str, code: &str) -> &'static str {
    match (payment_type, code) {
        (_, "10") => "申込済",
        (_, "11") => "オーソリNG",
        (_, "12") => "支払期限切",
        ("05", "15") => "申込中断",
        (_, "15") => "トランザクションブロック",
        (_, "20") => "オーソリOK",
        (_, "30") => "売上要求中",
        (_, "31") => "オーソリ取消中",
        (_, "32") => "オーソリ取消済",
        (_, "33") => "オーソリ期限切",
        (_, "40") => "消込済",
        (_, "41") => "消込済（売上取消期限切）",
        (_, "42") => "売上取消中",
        (_, "43") => "速報検知済",
        (_, "60") => "売上取消済",
        (_, "61") => "速報取消済",
        _ => "",
    }
}

pub async fn paygent(State(sb): State<Sandbox>) -> Html<String> {
    let st = sb.state();
    let mut rows = String::new();
    for p in st.paygent.payments.iter().rev() {
        let kind = match p.payment_type.as_str() {
            "01" => "ATM",
            "02" => "カード",
            "03" => "コンビニ（番号方式）",
            "05" => "銀行ネット",
            _ => "",
        };
        let last = p
            .history
            .last()
            .map(|h| format!("{} {}", h.telegram_kind, h.result))
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td class=\"n\">{}円</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.payment_id),
            esc(&p.trading_id),
            kind,
            esc(&p.status),
            paygent_status(&p.payment_type, &p.status),
            p.amount,
            esc(&p.masked_card_number),
            jst(p.init_at),
            p.limit_date.map(|d| d.to_string()).unwrap_or_default(),
            esc(&p.base_payment_id),
            esc(&last)
        ));
    }
    page(
        "ペイジェント 決済一覧",
        &format!(
            "<table><tr><th>決済ID</th><th>取引ID</th><th>決済種別</th><th>決済ステータス</th><th>金額</th><th>カード番号</th>\
             <th>申込日時</th><th>支払期限</th><th>元の決済ID</th><th>最後の処理</th></tr>{rows}</table>"
        ),
    )
}
