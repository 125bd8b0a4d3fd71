//! Paidy Checkout for storefronts: `/paidy/js/paidy.js` offers Paidy's browser API
//! (`Paidy.configure({api_key, closed})`, `handler.launch(payload)`) and shows the buyer a
//! sandbox checkout in the page: approve (an authorized `pay_…`), be rejected, or close.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{Order, Payment, buyer_of, iso, webhook};
use crate::{Sandbox, ids};

pub async fn script() -> Response {
    const JS: &str = r#"(function () {
  var base = (function () {
    var s = document.currentScript && document.currentScript.src;
    return s ? s.replace(/\/js\/paidy\.js.*$/, "") : "/paidy";
  })();
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }
  window.Paidy = {
    configure: function (cfg) {
      return {
        launch: function (payload) {
          var overlay = el("div", { id: "paidy-sandbox", style: "position:fixed;inset:0;background:#0008;display:flex;align-items:center;justify-content:center;z-index:99999" });
          var box = el("div", { style: "background:#fff;padding:24px 28px;border-radius:8px;width:360px;font-family:sans-serif" });
          box.appendChild(el("h2", { style: "margin:0 0 12px;font-size:18px" }, "Paidy あと払い（サンドボックス）"));
          box.appendChild(el("p", {}, "ご請求金額: " + (payload.amount || 0) + "円"));
          var finish = function (decision) {
            if (decision === "close") { overlay.remove(); cfg.closed && cfg.closed({ status: "closed" }); return; }
            fetch(base + "/checkout/authorize", {
              method: "POST", headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ api_key: cfg.api_key, payload: payload, decision: decision })
            }).then(function (r) { return r.json(); }).then(function (res) {
              overlay.remove(); cfg.closed && cfg.closed(res);
            }).catch(function () { overlay.remove(); cfg.closed && cfg.closed({ status: "closed" }); });
          };
          [["approve", "お支払いを確定する"], ["reject", "審査に通らない（テスト）"], ["close", "閉じる"]].forEach(function (b) {
            var btn = el("button", { id: "paidy-" + b[0], type: "button", style: "display:block;width:100%;margin:8px 0;padding:8px" }, b[1]);
            btn.onclick = function () { finish(b[0]); };
            box.appendChild(btn);
          });
          overlay.appendChild(box);
          document.body.appendChild(overlay);
        }
      };
    }
  };
})();
"#;
    (
        [(
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        )],
        JS,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub struct Authorize {
    api_key: String,
    payload: Value,
    /// `approve` or `reject`
    decision: String,
}

/// The buyer's decision in the checkout: creates the payment as Paidy would and answers
/// the callback data (`{id, status, amount, currency, created_at}`).
pub async fn authorize(State(sb): State<Sandbox>, Json(a): Json<Authorize>) -> Response {
    let bad = |m: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"status": "closed", "error": m})),
        )
            .into_response()
    };
    if a.api_key != sb.config.paidy_public_key {
        return bad("unknown public key");
    }
    let amount = match a.payload.get("amount").and_then(Value::as_i64) {
        Some(v) if v > 0 => v,
        _ => return bad("amount must be a positive integer"),
    };
    if a.payload.get("currency").and_then(Value::as_str) != Some("JPY") {
        return bad("currency must be JPY");
    }
    let order: Order = match a.payload.get("order") {
        Some(o) => match serde_json::from_value(o.clone()) {
            Ok(o) => o,
            Err(e) => return bad(&format!("order: {e}")),
        },
        None => Order::default(),
    };
    let now = sb.clock.now();
    let expires = now
        .checked_add(SignedDuration::from_hours(24 * sb.config.paidy_expiry_days))
        .unwrap_or(now);
    let status = if a.decision == "approve" {
        "authorized"
    } else {
        "rejected"
    };
    let p = Payment {
        id: format!("pay_{}", ids::alnum_lower(20)),
        created_at: iso(now),
        expires_at: iso(expires),
        amount,
        currency: "JPY".into(),
        description: a
            .payload
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        store_name: a
            .payload
            .get("store_name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        test: true,
        status: status.into(),
        tier: "classic".into(),
        buyer: buyer_of(a.payload.get("buyer")),
        order,
        shipping_address: a
            .payload
            .get("shipping_address")
            .cloned()
            .unwrap_or(json!({})),
        captures: vec![],
        refunds: vec![],
        metadata: a.payload.get("metadata").cloned().unwrap_or(json!({})),
        authorized_amount: amount,
        expires,
    };
    sb.state().paidy.payments.insert(p.id.clone(), p.clone());
    webhook(&sb, "payments", &p, now);
    Json(json!({
        "id": p.id,
        "status": p.status,
        "amount": p.amount,
        "currency": p.currency,
        "created_at": p.created_at,
    }))
    .into_response()
}
