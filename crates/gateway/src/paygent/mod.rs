//! Paygent, module type: Shift_JIS forms with the common header; CRLF `name=value` answers
//! (`result`, `response_code`, `response_detail`). See docs/paygent-protocol.md.
//!
//! So far the card telegrams: 020, 021, 022, 023, 028, 029 and the 094 query; file payments
//! 200 / 201 in `file`.

mod file;
mod gateway;
pub use file::*;

mod threeds;
pub use threeds::*;

use std::time::Duration;

use crate::{GatewayError, Secret, post_sjis_form};

#[derive(Debug, Clone)]
pub struct PaygentConfig {
    /// Paygent's module host, or `http://127.0.0.1:8080/paygent` for the sandbox.
    pub base_url: String,
    pub merchant_id: String,
    pub connect_id: String,
    pub connect_password: Secret,
    pub telegram_version: String,
    pub timeout: Duration,
    /// The client certificate Paygent issues (production requires it): one PEM file with
    /// the certificate and its private key. `None` for the sandbox.
    pub client_cert_pem: Option<std::path::PathBuf>,
}

impl PaygentConfig {
    pub fn sandbox(base_url: &str) -> PaygentConfig {
        PaygentConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            merchant_id: "000000001".into(),
            connect_id: "sandbox".into(),
            connect_password: Secret::new("sandbox"),
            telegram_version: "1.0".into(),
            timeout: crate::DEFAULT_TIMEOUT,
            client_cert_pem: None,
        }
    }
}

/// 支払区分 (payment_class) and, for installments, split_count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentClass {
    Lump,
    BonusLump,
    Installments(u8),
    Revolving,
}

/// Where the card of a 020 comes from.
#[derive(Debug, Clone)]
pub enum Card {
    Token(String),
    /// Reuse the card of an earlier payment with this trading_id.
    RefTradingId(String),
    /// Raw data: test merchants only.
    Raw {
        number: Secret,
        valid_term_mmyy: String,
    },
    /// A card stored at Paygent (stock_card_mode=1).
    Stored {
        customer_id: String,
        customer_card_id: String,
    },
    /// A stored card with a security-code token from the token script's createCvcToken.
    StoredWithCvc {
        customer_id: String,
        customer_card_id: String,
        cvc_token: String,
    },
}

/// A row of 027's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCardRow {
    pub customer_card_id: String,
    pub masked: String,
    pub valid_term: String,
    pub last_use: String,
    pub expired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer(pub Vec<(String, String)>);

impl Answer {
    pub fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// What Paygent's codes mean for an operator.
pub fn message(code: &str, detail: &str) -> String {
    let m = match code {
        "2001" => "カード会社でオーソリNGとなりました",
        "2002" => "カード会社のシステムでエラーが発生しました",
        "2003" => "カード情報の入力に誤りがあります（同じ決済IDで再試行できます）",
        "2004" => "決済の状態では、この処理はできません",
        "2005" => "取引IDに複数の決済が該当します（決済IDで指定してください）",
        "2006" => "決済が見つかりません",
        "2007" => "期限切れのため処理できません（オーソリ期限切れ・売上取消期限切れ）",
        "2008" => "カード会社の応答がタイムアウトしました",
        "2009" => "参照する取引IDの決済が使えません",
        "2013" => {
            "補正後の金額は0円より大きく、元の金額以下にしてください（増額は新しいオーソリが必要です）"
        }
        "2014" => "3Dセキュアの決済は補正できません",
        "2015" => "3Dセキュアのアテンプト取引のため、オーソリを行いませんでした",
        "2016" => "カード番号に誤りがあるか、契約のないカードです",
        "2020" => "カード情報トークンの有効期限が切れています。カード情報を入力し直してください",
        "2021" => "カード情報トークンが正しくありません",
        "2022" => "カード情報トークンは使用済みです。カード情報を入力し直してください",
        "2024" | "2025" => "カード情報トークンと他のカード指定方法は併用できません",
        "2026" => "トークンの種類（カード／セキュリティコード）が電文と合っていません",
        "5008" => "この取引は支払済みです",
        "5009" => "銀行ネット決済の有効期限が切れています",
        "5010" => "同じ取引IDの有効な銀行ネット決済がすでにあります",
        "5011" => "銀行の選択回数が上限を超えました",
        "P022" | "P025" | "P026" => "お預かりカードが見つかりません",
        "P023" => "お預かりできるカードは10枚までです",
        "P001" | "P002" => {
            "ペイジェントの接続情報（マーチャントID・接続ID・パスワード）が正しくありません"
        }
        "P003" => "電文バージョンが正しくありません",
        "P004" => "この電文種別はこの接続先では使えません",
        "P010" => "設定値が正しくありません（未契約の支払方法・支払区分など）",
        "P014" => "金額は0円より大きくしてください",
        "13001" => "照会した決済が見つかりません",
        "13002" => "取引IDに複数の決済が該当します",
        "P063" => "EMV 3-Dセキュアの利用が許可されていません（ペイジェントへの利用申請が必要です）",
        "31001" => {
            "このカードでは3-Dセキュア認証ができません（カード番号の誤りか未契約のカード会社）"
        }
        "31002" => "カード情報の指定方法と指定した項目の組み合わせが正しくありません",
        "31003" => "カード情報トークンの有効期限が切れています",
        "31004" => "カード情報トークンが見つかりません",
        "31005" => "カード情報トークンは使用済みです",
        "31006" => "指定したお預かりカードが見つかりません",
        "31007" => "本人認証（3-Dセキュア）に失敗しました",
        "31008" => "3-Dセキュアの認証結果を使うには3Dセキュア利用タイプを2にしてください",
        "31009" => "3-Dセキュアの認証IDが指定されていません",
        "31010" => "この3-Dセキュア認証は別の決済で使用済みです",
        "31011" => "3-Dセキュアの認証情報が見つかりません",
        "31012" => {
            "カード会社がこのブランドの3-Dセキュアに対応していません（3-Dセキュアなしでオーソリできます）"
        }
        "31013" => "本人認証が時間内に完了しませんでした（認証タイムアウト）",
        "9101" => "取引ファイルの形式に誤りがあります（ファイル全体を受け付けていません）",
        "9102" => "指定した受付番号のファイル決済はありません",
        "9103" => {
            "ファイル決済の処理がまだ終わっていません（しばらくしてから再度照会してください）"
        }
        "9104" => "この取引種別のファイル決済は利用が許可されていません",
        "9106" => "同じファイルを24時間以内に受け付け済みです",
        c if c.starts_with('P') => "ペイジェントへの要求内容に誤りがあります",
        _ => "ペイジェントでエラーが発生しました",
    };
    if detail.is_empty() {
        m.to_owned()
    } else {
        format!("{m}（{detail}）")
    }
}

/// A Paygent error answer as a typed refusal with the operator's message. Declined means
/// the card side said no (2001 オーソリNG, 31007 3-D Secure failed): another card may work.
pub(crate) fn refusal(code: String, detail: String) -> GatewayError {
    GatewayError::Refused {
        message: message(&code, &detail),
        declined: matches!(code.as_str(), "2001" | "31007"),
        retryable: retryable(&code),
        // 2007 says "past a period" for an authorization (33) and a sale alike; 094 tells
        // which (33 is 期限切れ).
        lapsed: false,
        code,
        detail,
    }
}

/// Lower-case hex SHA-256: every Paygent `hc`.
pub(crate) fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A parameter of a received form, empty when absent.
pub(crate) fn param<'a>(fields: &'a [(String, String)], k: &str) -> &'a str {
    fields
        .iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Does `hc` (any case) match the hash of `input`? Never without an `hc`.
pub(crate) fn hc_ok(hc: &str, input: &str) -> bool {
    !hc.is_empty() && hc.eq_ignore_ascii_case(&sha256_hex(input))
}

/// Retryable per Paygent's code table (2003 with the same payment_id, at most 3 times).
pub fn retryable(code: &str) -> bool {
    matches!(code, "E002" | "9005" | "9004" | "2003" | "2008" | "9103")
}

#[derive(Clone)]
pub struct PaygentClient {
    cfg: PaygentConfig,
    http: reqwest::Client,
}

/// The URL (after `/n/`) of a telegram kind, as Paygent's merchant module maps them.
fn path_of(kind: &str) -> &'static str {
    match kind {
        "094" => "ref/paymentref",
        "091" => "ref/paynotice",
        "030" => "conveni/request",
        "010" => "atm/request",
        "450" => "threeds/request",
        "060" => "bank/requestasp",
        "200" | "201" => "o/requestdata",
        _ => "card/request",
    }
}

/// Check a 差分通知's `hc`: SHA-256 of payment_notice_id + payment_id + trading_id +
/// payment_type + payment_amount + the merchant's hash key, in hex.
pub fn notice_hash_ok(fields: &[(String, String)], hash_key: &str) -> bool {
    let get = |k: &str| param(fields, k);
    let input = format!(
        "{}{}{}{}{}{hash_key}",
        get("payment_notice_id"),
        get("payment_id"),
        get("trading_id"),
        get("payment_type"),
        get("payment_amount")
    );
    hc_ok(get("hc"), &input)
}

/// How a 020 treats 3-D Secure.
enum Secure<'a> {
    Skip,
    Emv(&'a str),
    V1 {
        http_accept: &'a str,
        http_user_agent: &'a str,
        term_url: &'a str,
    },
}

/// Check a 3-D Secure 1.0 result (the GET to term_url): `hc` = SHA-256 of result +
/// payment_id + attempt_kbn + the 3Dセキュア結果受付ハッシュ鍵, hex.
pub fn three_ds1_result_ok(params: &[(String, String)], key: &str) -> bool {
    let get = |k: &str| param(params, k);
    let input = format!(
        "{}{}{}{key}",
        get("result"),
        get("payment_id"),
        get("attempt_kbn")
    );
    !key.is_empty() && hc_ok(get("hc"), &input)
}

/// Check the token script's answer: `hc` = SHA-256 of token + masked_card_number +
/// valid_until + fingerprint + the トークン受取ハッシュ鍵. Checked on the server: the buyer's
/// browser carried these values.
pub fn token_hash_ok(
    token: &str,
    masked_card_number: &str,
    valid_until: &str,
    fingerprint: &str,
    hc: &str,
    hash_key: &str,
) -> bool {
    hc_ok(
        hc,
        &format!("{token}{masked_card_number}{valid_until}{fingerprint}{hash_key}"),
    )
}

/// What a 差分照会 round read.
#[derive(Debug, Default)]
pub struct NoticeBatch {
    /// The notices, in payment_notice_id order.
    pub notices: Vec<Answer>,
    /// Ids asked for that Paygent no longer has (purged after seven days).
    pub lost: Vec<u64>,
    /// Why the round stopped early, if it did: read again later.
    pub error: Option<GatewayError>,
}

impl NoticeBatch {
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.notices
            .iter()
            .filter_map(|a| a.get("payment_notice_id").parse().ok())
    }

    fn sorted(mut self) -> NoticeBatch {
        self.notices.sort_by_key(|a| {
            a.get("payment_notice_id")
                .parse::<u64>()
                .unwrap_or(u64::MAX)
        });
        self
    }
}

/// Who pays a konbini / ATM payment.
#[derive(Debug, Clone)]
pub struct Payer {
    pub family_name: String,
    pub name: String,
    pub tel: String,
}

impl PaygentClient {
    pub fn new(cfg: PaygentConfig) -> Result<PaygentClient, GatewayError> {
        let mut b = crate::http_builder(cfg.timeout);
        if let Some(path) = &cfg.client_cert_pem {
            let pem = std::fs::read(path).map_err(|e| {
                GatewayError::Config(format!(
                    "ペイジェントのクライアント証明書 {} を読めません: {e}",
                    path.display()
                ))
            })?;
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                GatewayError::Config(format!(
                    "ペイジェントのクライアント証明書 {} は証明書と秘密鍵のPEMではありません: {e}",
                    path.display()
                ))
            })?;
            b = b.identity(id);
        }
        let http = b
            .build()
            .map_err(|e| GatewayError::Config(format!("HTTP client: {e}")))?;
        Ok(PaygentClient { cfg, http })
    }

    /// Send a telegram and return the answer's text; `payment_id` / `trading_id` go in the
    /// common header.
    async fn post(
        &self,
        kind: &str,
        payment_id: &str,
        trading_id: &str,
        data: &[(&str, &str)],
    ) -> Result<String, GatewayError> {
        let mut all: Vec<(&str, &str)> = vec![
            ("merchant_id", &self.cfg.merchant_id),
            ("connect_id", &self.cfg.connect_id),
            ("connect_password", self.cfg.connect_password.expose()),
            ("telegram_kind", kind),
            ("telegram_version", &self.cfg.telegram_version),
            ("trading_id", trading_id),
            ("payment_id", payment_id),
        ];
        all.extend_from_slice(data);
        let url = format!("{}/n/{}", self.cfg.base_url, path_of(kind));
        post_sjis_form(&self.http, &url, &all, "ペイジェント").await
    }

    /// Send a telegram answered in `name=value` lines.
    pub async fn telegram(
        &self,
        kind: &str,
        payment_id: &str,
        trading_id: &str,
        data: &[(&str, &str)],
    ) -> Result<Answer, GatewayError> {
        let text = self.post(kind, payment_id, trading_id, data).await?;
        let a = Answer(juchu_wire::paygent::parse(&text));
        match a.get("result") {
            "0" => Ok(a),
            // 3-D Secure 1.0: the buyer must authenticate first (out_acs_html).
            "7" if kind == "020" => Ok(a),
            "1" => Err(refusal(
                a.get("response_code").to_owned(),
                a.get("response_detail").trim_matches('"').to_owned(),
            )),
            other => Err(GatewayError::Protocol(format!(
                "telegram {kind}: result={other:?}"
            ))),
        }
    }

    /// 020: authorize (and capture, with `sales`). Returns the answer with the payment_id.
    pub async fn authorize(
        &self,
        trading_id: &str,
        amount: i64,
        class: PaymentClass,
        card: &Card,
        sales: bool,
    ) -> Result<Answer, GatewayError> {
        self.authorize_020(trading_id, amount, class, card, sales, Secure::Skip)
            .await
    }

    /// 020 with 3-D Secure 1.0: Paygent answers `result=7` with the payment_id and
    /// `out_acs_html`, the page to send to the buyer's browser (as it is). Paygent authorizes
    /// by itself after the authentication and sends the buyer to `term_url` by GET; check
    /// that with `three_ds1_result_ok` and read the outcome with 094.
    #[allow(clippy::too_many_arguments)]
    pub async fn authorize_3ds1(
        &self,
        trading_id: &str,
        amount: i64,
        class: PaymentClass,
        card: &Card,
        sales: bool,
        http_accept: &str,
        http_user_agent: &str,
        term_url: &str,
    ) -> Result<Answer, GatewayError> {
        let secure = Secure::V1 {
            http_accept,
            http_user_agent,
            term_url,
        };
        self.authorize_020(trading_id, amount, class, card, sales, secure)
            .await
    }

    /// 020, without 3-D Secure (`3dsecure_ryaku=1`), with 3-D Secure 1.0, or with an EMV
    /// 3-D Secure authentication's id (`3dsecure_use_type=2`, see `authorize_3ds`).
    async fn authorize_020(
        &self,
        trading_id: &str,
        amount: i64,
        class: PaymentClass,
        card: &Card,
        sales: bool,
        secure: Secure<'_>,
    ) -> Result<Answer, GatewayError> {
        let amount = amount.to_string();
        let (pc, split) = match class {
            PaymentClass::Lump => ("10", String::new()),
            PaymentClass::BonusLump => ("23", String::new()),
            PaymentClass::Installments(n) => ("61", n.to_string()),
            PaymentClass::Revolving => ("80", String::new()),
        };
        let mut d: Vec<(&str, &str)> = vec![
            ("payment_amount", &amount),
            ("payment_class", pc),
            ("split_count", &split),
            ("sales_mode", if sales { "1" } else { "0" }),
        ];
        match secure {
            Secure::Skip => d.push(("3dsecure_ryaku", "1")),
            Secure::Emv(id) => {
                d.push(("3dsecure_use_type", "2"));
                d.push(("3ds_auth_id", id));
            }
            Secure::V1 {
                http_accept,
                http_user_agent,
                term_url,
            } => {
                d.push(("http_accept", http_accept));
                d.push(("http_user_agent", http_user_agent));
                d.push(("term_url", term_url));
            }
        }
        match card {
            Card::Token(t) => d.push(("card_token", t)),
            Card::RefTradingId(r) => d.push(("ref_trading_id", r)),
            Card::Raw {
                number,
                valid_term_mmyy,
            } => {
                d.push(("card_number", number.expose()));
                d.push(("card_valid_term", valid_term_mmyy));
            }
            Card::Stored {
                customer_id,
                customer_card_id,
            } => {
                d.push(("stock_card_mode", "1"));
                d.push(("customer_id", customer_id));
                d.push(("customer_card_id", customer_card_id));
            }
            Card::StoredWithCvc {
                customer_id,
                customer_card_id,
                cvc_token,
            } => {
                d.push(("stock_card_mode", "1"));
                d.push(("customer_id", customer_id));
                d.push(("customer_card_id", customer_card_id));
                d.push(("card_token", cvc_token));
                d.push(("security_code_token", "1"));
            }
        }
        self.telegram("020", "", trading_id, &d).await
    }

    /// 021 オーソリ取消.
    pub async fn cancel_auth(&self, payment_id: &str) -> Result<Answer, GatewayError> {
        self.telegram("021", payment_id, "", &[]).await
    }

    /// 022 売上.
    pub async fn capture(&self, payment_id: &str) -> Result<Answer, GatewayError> {
        self.telegram("022", payment_id, "", &[]).await
    }

    /// 023 売上取消.
    pub async fn cancel_capture(&self, payment_id: &str) -> Result<Answer, GatewayError> {
        self.telegram("023", payment_id, "", &[]).await
    }

    /// 028 補正オーソリ (before capture) / 029 補正売上 (after): a new payment for the new
    /// total; the answer's payment_id is the new one, base_payment_id the original.
    pub async fn amend(
        &self,
        payment_id: &str,
        new_amount: i64,
        captured: bool,
    ) -> Result<Answer, GatewayError> {
        let a = new_amount.to_string();
        let kind = if captured { "029" } else { "028" };
        self.telegram(
            kind,
            payment_id,
            "",
            &[("payment_amount", &a), ("reduction_flag", "0")],
        )
        .await
    }

    /// 025: store a card for a customer (validity-checked with the issuer first).
    pub async fn register_card(
        &self,
        customer_id: &str,
        card: &Card,
    ) -> Result<Answer, GatewayError> {
        let mut d: Vec<(&str, &str)> = vec![("customer_id", customer_id), ("valid_check_flg", "1")];
        match card {
            Card::Raw {
                number,
                valid_term_mmyy,
            } => {
                d.push(("card_number", number.expose()));
                d.push(("card_valid_term", valid_term_mmyy));
            }
            Card::Token(t) => d.push(("card_token", t)),
            _ => {
                return Err(GatewayError::Config(
                    "025 takes a card number or a token".into(),
                ));
            }
        }
        self.telegram("025", "", "", &d).await
    }

    /// 026: delete one stored card, or all of the customer's (`None`).
    pub async fn delete_card(
        &self,
        customer_id: &str,
        customer_card_id: Option<&str>,
    ) -> Result<Answer, GatewayError> {
        self.telegram(
            "026",
            "",
            "",
            &[
                ("customer_id", customer_id),
                ("customer_card_id", customer_card_id.unwrap_or("")),
            ],
        )
        .await
    }

    /// 027: the customer's stored cards (Paygent answers this one in CSV).
    pub async fn cards(&self, customer_id: &str) -> Result<Vec<StoredCardRow>, GatewayError> {
        let text = self
            .post(
                "027",
                "",
                "",
                &[("customer_id", customer_id), ("customer_card_id", "")],
            )
            .await?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| GatewayError::Protocol(format!("027 CSV: {e}")))?;
            match rec.get(0) {
                Some("1") if rec.get(1) != Some("0") => {
                    let (code, detail) = (
                        rec.get(2).unwrap_or("").to_owned(),
                        rec.get(3).unwrap_or("").to_owned(),
                    );
                    if code == "P026" {
                        return Ok(vec![]);
                    }
                    return Err(refusal(code, detail));
                }
                Some("3") => rows.push(StoredCardRow {
                    customer_card_id: rec.get(2).unwrap_or("").to_owned(),
                    masked: rec.get(3).unwrap_or("").to_owned(),
                    valid_term: rec.get(4).unwrap_or("").to_owned(),
                    last_use: rec.get(5).unwrap_or("").to_owned(),
                    expired: rec.get(12) == Some("1"),
                }),
                _ => {}
            }
        }
        Ok(rows)
    }

    /// 030: a konbini payment number for the stores of `cvs_company_id` (e.g. `00C002`
    /// Lawson); `sales_type` is required for 7-Eleven (`1` prepaid).
    pub async fn request_konbini(
        &self,
        trading_id: &str,
        amount: i64,
        cvs_company_id: &str,
        payer: &Payer,
        limit_days: u8,
    ) -> Result<Answer, GatewayError> {
        let (amount, days) = (amount.to_string(), limit_days.to_string());
        let sales_type = if cvs_company_id == "00C001" { "1" } else { "" };
        self.telegram(
            "030",
            "",
            trading_id,
            &[
                ("payment_amount", &amount),
                ("cvs_company_id", cvs_company_id),
                ("customer_family_name", &payer.family_name),
                ("customer_name", &payer.name),
                ("customer_tel", &payer.tel),
                ("payment_limit_date", &days),
                ("sales_type", sales_type),
            ],
        )
        .await
    }

    /// 010: an ATM (Pay-easy) payment; `detail` / `detail_kana` are shown at the ATM.
    pub async fn request_atm(
        &self,
        trading_id: &str,
        amount: i64,
        detail: &str,
        detail_kana: &str,
        limit_days: u8,
    ) -> Result<Answer, GatewayError> {
        let (amount, days) = (amount.to_string(), limit_days.to_string());
        self.telegram(
            "010",
            "",
            trading_id,
            &[
                ("payment_amount", &amount),
                ("payment_detail", detail),
                ("payment_detail_kana", detail_kana),
                ("payment_limit_date", &days),
            ],
        )
        .await
    }

    /// 116: change a stored card's expiry (MMYY; checked with the issuer) or holder name;
    /// `None` leaves it as it is.
    pub async fn update_card(
        &self,
        customer_id: &str,
        customer_card_id: &str,
        valid_term_mmyy: Option<&str>,
        cardholder_name: Option<&str>,
    ) -> Result<Answer, GatewayError> {
        let mut d = vec![
            ("customer_id", customer_id),
            ("customer_card_id", customer_card_id),
        ];
        // A parameter sent empty would clear the value: leave out what does not change.
        if let Some(t) = valid_term_mmyy {
            d.push(("card_valid_term", t));
        }
        if let Some(n) = cardholder_name {
            d.push(("cardholder_name", n));
        }
        self.telegram("116", "", "", &d).await
    }

    /// 060 銀行ネット決済ASP: a bank-selection page for the buyer (`asp_url`), open for
    /// `days` days. `claim_kanji` / `claim_kana` (half-width kana) describe what is paid for.
    pub async fn request_bank(
        &self,
        trading_id: &str,
        amount: i64,
        claim_kanji: &str,
        claim_kana: &str,
        days: u8,
        return_url: &str,
    ) -> Result<Answer, GatewayError> {
        let amount = amount.to_string();
        let term = format!("1{:02}0000", days.min(99));
        self.telegram(
            "060",
            "",
            trading_id,
            &[
                ("amount", &amount),
                ("claim_kanji", claim_kanji),
                ("claim_kana", claim_kana),
                ("asp_payment_term", &term),
                ("return_url", return_url),
            ],
        )
        .await
    }

    /// 091 差分照会: the next unread notice (`None`), or one by id to fill a gap.
    /// `success_code` 0 = a notice, 1 = none left, 2 = a notice after purged ones.
    pub async fn notice(&self, payment_notice_id: Option<u64>) -> Result<Answer, GatewayError> {
        let id = payment_notice_id.map(|i| i.to_string()).unwrap_or_default();
        self.telegram("091", "", "", &[("payment_notice_id", &id)])
            .await
    }

    /// One 差分照会 round as the spec suggests (§6): first the gaps the shop knows of
    /// (`missing`) by id; then unnumbered reads until none is left (at most `limit`, so a
    /// fault cannot loop forever); then, by id, any id after `last_id` the round skipped (an
    /// answer lost on the way). Notices already handed over by Paygent are never dropped: a
    /// failure midway returns what was read with the error beside it.
    pub async fn sync_notices(&self, last_id: u64, missing: &[u64], limit: usize) -> NoticeBatch {
        let mut b = NoticeBatch::default();
        let by_id = |b: &mut NoticeBatch, a: Answer, id: u64| match a.get("success_code") {
            "0" | "2" => b.notices.push(a),
            _ => b.lost.push(id),
        };
        for &id in missing {
            match self.notice(Some(id)).await {
                Ok(a) => by_id(&mut b, a, id),
                Err(e) => {
                    b.error = Some(e);
                    return b.sorted();
                }
            }
        }
        for _ in 0..limit {
            match self.notice(None).await {
                Ok(a) if a.get("success_code") == "1" => break,
                Ok(a) => b.notices.push(a),
                Err(e) => {
                    b.error = Some(e);
                    return b.sorted();
                }
            }
        }
        let seen: std::collections::BTreeSet<u64> = b.ids().collect();
        let top = seen.last().copied().unwrap_or(last_id);
        for id in (last_id + 1)..top {
            if seen.contains(&id) || missing.contains(&id) {
                continue;
            }
            match self.notice(Some(id)).await {
                Ok(a) => by_id(&mut b, a, id),
                Err(e) => {
                    b.error = Some(e);
                    break;
                }
            }
        }
        b.sorted()
    }

    /// 094 決済情報照会.
    pub async fn query(&self, payment_id: &str) -> Result<Answer, GatewayError> {
        self.telegram("094", payment_id, "", &[]).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_certificate_that_is_not_one_is_a_clear_configuration_error() {
        let dir = std::env::temp_dir().join(format!("juchu-cert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.pem");
        std::fs::write(&bad, "not a certificate").unwrap();
        let mut cfg = super::PaygentConfig::sandbox("http://127.0.0.1:1/paygent");
        cfg.client_cert_pem = Some(bad);
        match super::PaygentClient::new(cfg.clone()) {
            Err(crate::GatewayError::Config(m)) => assert!(m.contains("クライアント証明書"), "{m}"),
            _ => panic!("a bad certificate was accepted"),
        }
        cfg.client_cert_pem = Some(dir.join("missing.pem"));
        assert!(matches!(
            super::PaygentClient::new(cfg),
            Err(crate::GatewayError::Config(_))
        ));
    }

    #[test]
    fn three_ds1_hash_matches_the_documented_vector() {
        // docs/paygent-protocol.md §3.1: result 0, payment_id 11111, attempt_kbn 0.
        let p: Vec<(String, String)> = [
            ("result", "0"),
            ("payment_id", "11111"),
            ("attempt_kbn", "0"),
            (
                "hc",
                "132b364ea2ce9eeba96dd845363cc0a7ad749fcf2a7a6cbaece7008417896976",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(super::three_ds1_result_ok(&p, "test_1234567890123456789"));
        assert!(!super::three_ds1_result_ok(&p, "test_other"));
    }
}
