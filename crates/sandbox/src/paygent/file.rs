//! File payments: 200 ファイル決済要求 (upload a CSV of card operations) and 201
//! ファイル決済結果照会 (download the result file), at `/paygent/n/o/requestdata`.
//!
//! The upload checks the format only and answers a `file_receipt_id`; the records run later
//! (60 virtual seconds after the upload, at the next touch of the ledger) through the same code
//! as the online telegrams 020 / 022 / 021 / 023, so test cards, statuses and 差分 notices
//! behave as online. The per-type layouts are the sandbox's own (docs/paygent-protocol.md
//! §3.11): Paygent's ファイル決済フォーマット.pdf was not available.

use jiff::{SignedDuration, Timestamp};

use super::{Ledger, Params, Refusal, get, jst, refuse};
use crate::{Config, Sandbox};

/// How long after the upload a file is processed.
pub const PROCESSING_SECS: i64 = 60;
/// The operator screen lists the first 51 errors of a file; the sandbox's 9101 does the same.
const MAX_LISTED_ERRORS: usize = 51;
/// `data` is at most 10,000,000 bytes (spec §1.2.20).
const MAX_DATA_BYTES: usize = 10_000_000;
/// 9106 looks back this far.
const DUPLICATE_WINDOW_HOURS: i64 = 24;

/// One uploaded file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileJob {
    pub file_receipt_id: String,
    pub file_type: String,
    /// `processing`, then `done`.
    pub status: String,
    pub received_at: Timestamp,
    pub processed_at: Option<Timestamp>,
    /// The file as received (for duplicate_check).
    #[serde(skip)]
    pub data: String,
    /// The data records' columns, record type first.
    pub records: Vec<Vec<String>>,
    /// Per data record: result, response_code, response_detail, payment_id.
    pub results: Vec<[String; 4]>,
}

/// A column of a data record layout: its name and what it may hold.
#[derive(Clone, Copy)]
enum Col {
    RecordType,
    /// Not used by the sandbox's layout: must be empty.
    Reserved,
    /// `[A-Za-z0-9_]`, at most 25; mandatory or optional.
    Id(&'static str, bool),
    /// Digits, at most 18; optional (021/022 take payment_id or trading_id).
    PaymentId,
    /// 1–9999999 yen.
    Amount,
    PaymentClass,
}

/// 020 オーソリ: the 15 columns of the shop software's file (seed 003): 3 = order number
/// (trading_id), 5 = amount, 8 = payment class, 12 = the previous order (ref_trading_id: its
/// card is charged), 14 = customer number.
const AUTH: [Col; 15] = [
    Col::RecordType,
    Col::Reserved,
    Col::Id("trading_id", true),
    Col::Reserved,
    Col::Amount,
    Col::Reserved,
    Col::Reserved,
    Col::PaymentClass,
    Col::Reserved,
    Col::Reserved,
    Col::Reserved,
    Col::Id("ref_trading_id", true),
    Col::Reserved,
    Col::Id("customer_id", false),
    Col::Reserved,
];

/// 021 売上 and 022 取消: record type, payment_id, trading_id (either one, or both matching).
const BY_PAYMENT: [Col; 3] = [
    Col::RecordType,
    Col::PaymentId,
    Col::Id("trading_id", false),
];

fn layout(file_type: &str) -> Option<&'static [Col]> {
    match file_type {
        "020" => Some(&AUTH),
        "021" | "022" => Some(&BY_PAYMENT),
        _ => None,
    }
}

fn col_name(c: Col, i: usize) -> String {
    match c {
        Col::RecordType => "record_type".into(),
        Col::Reserved => format!("column {}", i + 1),
        Col::Id(n, _) => n.into(),
        Col::PaymentId => "payment_id".into(),
        Col::Amount => "payment_amount".into(),
        Col::PaymentClass => "payment_class".into(),
    }
}

fn is_id(v: &str) -> bool {
    v.len() <= 25 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Why a column's value is wrong, if it is.
fn col_error(c: Col, v: &str) -> Option<&'static str> {
    let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    match c {
        Col::RecordType if v != "3" => Some("data record type must be 3"),
        Col::Reserved if !v.is_empty() => Some("must be empty"),
        Col::Id(_, true) if v.is_empty() => Some("missing"),
        Col::Id(..) if !is_id(v) => Some("at most 25 of A-Z a-z 0-9 _"),
        Col::PaymentId if !v.is_empty() && (!digits || v.len() > 18) => Some("at most 18 digits"),
        Col::Amount if v.is_empty() => Some("missing"),
        Col::Amount if !digits || v.len() > 7 => Some("at most 7 digits"),
        Col::Amount if v.bytes().all(|b| b == b'0') => Some("must be above 0"),
        Col::PaymentClass if !matches!(v, "10" | "23" | "80") => {
            Some("10, 23 or 80 (installments cannot be filed)")
        }
        _ => None,
    }
}

fn error(n: usize, field: &str, why: &str, value: &str) -> String {
    format!("record {n}: {field}: {why} ({value:?})")
}

/// The format errors of a file, or its data records. Records are numbered by their line
/// in the file (the header is record 1), as an operator sees them in a spreadsheet.
/// Header or trailer errors reject the file without looking at the data records.
// Long: header, data and trailer checks of Paygent's file format, in the specification's order.
fn check(
    text: &str,
    file_type: &str,
    cols: &[Col],
    cfg: &Config,
) -> Result<Vec<Vec<String>>, Vec<String>> {
    let body = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    let lines: Vec<Vec<String>> = body
        .split('\n')
        .map(|l| {
            l.strip_suffix('\r')
                .unwrap_or(l)
                .split(',')
                .map(str::to_owned)
                .collect()
        })
        .collect();
    // Spreadsheets pad short rows with commas: header and trailer may carry empty columns.
    let padded = |r: &[String], n: usize| r.iter().skip(n).all(String::is_empty);
    let mut errs = Vec::new();
    let head = &lines[0];
    if head[0] != "1" {
        errs.push(error(
            1,
            "record_type",
            "header record type must be 1",
            &head[0],
        ));
    } else {
        let f = |i: usize| head.get(i).map(String::as_str).unwrap_or("");
        if f(1) != file_type {
            errs.push(error(
                1,
                "file_type",
                "must be the telegram's file_type",
                f(1),
            ));
        }
        if f(2) != cfg.paygent_merchant_id {
            errs.push(error(1, "merchant_id", "not this merchant", f(2)));
        }
        if !padded(head, 3) {
            errs.push(error(1, "record", "header is 1,file_type,merchant_id", ""));
        }
    }
    let n = lines.len();
    let tail = &lines[n - 1];
    if n < 2 || tail[0] != "4" {
        errs.push(error(
            n,
            "record_type",
            "trailer record (4) missing",
            &tail[0],
        ));
    } else {
        let count = tail.get(1).map(String::as_str).unwrap_or("");
        if count != (n - 2).to_string() {
            errs.push(error(
                n,
                "count",
                &format!("{} data records in the file", n - 2),
                count,
            ));
        }
        if !padded(tail, 2) {
            errs.push(error(n, "record", "trailer is 4,count", ""));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let data = &lines[1..n - 1];
    if data.is_empty() {
        return Err(vec!["no data records".into()]);
    }
    if data.len() > cfg.paygent_file_record_limit {
        return Err(vec![format!(
            "{} data records, more than the merchant's limit of {}",
            data.len(),
            cfg.paygent_file_record_limit
        )]);
    }
    for (i, r) in data.iter().enumerate() {
        let no = i + 2;
        if r.len() != cols.len() {
            errs.push(error(
                no,
                "record",
                &format!("{} columns expected, got {}", cols.len(), r.len()),
                &r.join(","),
            ));
            continue;
        }
        for (j, (c, v)) in cols.iter().zip(r).enumerate() {
            if let Some(why) = col_error(*c, v) {
                errs.push(error(no, &col_name(*c, j), why, v));
            }
        }
        if cols.len() == BY_PAYMENT.len() && r[1].is_empty() && r[2].is_empty() {
            errs.push(error(
                no,
                "payment_id",
                "payment_id or trading_id required",
                "",
            ));
        }
    }
    if errs.is_empty() {
        Ok(data.to_vec())
    } else {
        Err(errs)
    }
}

type Answer = Vec<(&'static str, String)>;

/// 200: accept a file for later processing, or refuse it whole.
pub fn upload(l: &mut Ledger, p: &Params, now: Timestamp, cfg: &Config) -> Result<Answer, Refusal> {
    for k in ["file_type", "data"] {
        match p.get(k) {
            None => return Err(refuse("P005", k)),
            Some(v) if v.is_empty() => return Err(refuse("P006", k)),
            Some(_) => {}
        }
    }
    let (file_type, data) = (get(p, "file_type"), get(p, "data"));
    if !matches!(get(p, "duplicate_check"), "" | "0" | "1") {
        return Err(refuse("P010", "duplicate_check"));
    }
    let Some(cols) = layout(file_type) else {
        return Err(refuse(
            "9104",
            format!("{file_type}の利用が許可されていません。"),
        ));
    };
    if juchu_wire::form::Charset::ShiftJis.encode(data).len() > MAX_DATA_BYTES {
        return Err(refuse("P009", "data"));
    }
    // Any file type: the check compares the files only (spec, 9106).
    let window = SignedDuration::from_hours(DUPLICATE_WINDOW_HOURS);
    if get(p, "duplicate_check") == "1"
        && l.files
            .iter()
            .any(|f| f.data == data && now.duration_since(f.received_at) < window)
    {
        return Err(refuse("9106", "同一ファイルを受付済みです。"));
    }
    let records = check(data, file_type, cols, cfg).map_err(|errs| {
        let listed: Vec<&str> = errs
            .iter()
            .take(MAX_LISTED_ERRORS)
            .map(String::as_str)
            .collect();
        refuse(
            "9101",
            format!(
                "ファイルフォーマットに誤りがあります。[{}]",
                listed.join("; ")
            ),
        )
    })?;
    // Nine digits at most (N≤9); a recognisable prefix like the payment ids.
    let id = format!("{}", 900_000_001 + l.files.len());
    l.files.push(FileJob {
        file_receipt_id: id.clone(),
        file_type: file_type.to_owned(),
        status: "processing".into(),
        received_at: now,
        processed_at: None,
        data: data.to_owned(),
        records,
        results: vec![],
    });
    Ok(vec![
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        ("file_receipt_id", id),
    ])
}

/// Run the files whose processing time has come, record by record, in file order (a record
/// may charge the card of an order authorized earlier in the same file).
pub fn process_due(l: &mut Ledger, now: Timestamp) {
    let due = SignedDuration::from_secs(PROCESSING_SECS);
    for i in 0..l.files.len() {
        if l.files[i].status != "processing" || now.duration_since(l.files[i].received_at) < due {
            continue;
        }
        let file_type = l.files[i].file_type.clone();
        let records = l.files[i].records.clone();
        let results = records.iter().map(|r| run(l, &file_type, r, now)).collect();
        let f = &mut l.files[i];
        f.results = results;
        f.status = "done".into();
        f.processed_at = Some(now);
    }
}

fn run(l: &mut Ledger, file_type: &str, r: &[String], now: Timestamp) -> [String; 4] {
    let mut p = Params::new();
    let answer = match file_type {
        "020" => {
            p.insert("trading_id".into(), r[2].clone());
            p.insert("payment_amount".into(), r[4].clone());
            p.insert("payment_class".into(), r[7].clone());
            p.insert("ref_trading_id".into(), r[11].clone());
            super::card::authorize(l, &p, now)
        }
        _ => {
            p.insert("payment_id".into(), r[1].clone());
            p.insert("trading_id".into(), r[2].clone());
            if file_type == "021" {
                super::card::capture(l, &p, now)
            } else if captured(l, &r[1], &r[2]) {
                super::card::cancel_capture(l, &p, now)
            } else {
                // Also the path for unknown or ambiguous payments: 021 reports them.
                super::card::cancel_auth(l, &p, now)
            }
        }
    };
    let field = |a: &Answer, k: &str| {
        a.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    match answer {
        Ok(a) => [
            field(&a, "result"),
            field(&a, "response_code"),
            field(&a, "response_detail"),
            field(&a, "payment_id"),
        ],
        Err(e) => ["1".into(), e.code, e.detail, String::new()],
    }
}

/// Whether the one payment a 022 record names is captured (cancel = 023, else 021).
fn captured(l: &Ledger, payment_id: &str, trading_id: &str) -> bool {
    let hits: Vec<&str> = l
        .payments
        .iter()
        .filter(|x| {
            (payment_id.is_empty() || x.payment_id == payment_id)
                && (trading_id.is_empty() || x.trading_id == trading_id)
        })
        .map(|x| x.status.as_str())
        .collect();
    matches!(hits.as_slice(), ["40" | "41"])
}

/// A CSV field: quoted only when it has to be (the result columns are plain).
fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// The 201 answer on error: a header with result 1 and an empty trailer (the spec's example
/// quotes the detail).
fn error_file(e: &Refusal) -> String {
    format!(
        "1,,,,,,1,{},\"{}\"\r\n4,,,",
        e.code,
        e.detail.replace('"', "\"\"")
    )
}

/// 201: the result file — header `1,file_type,merchant_id,file_receipt_id,received,processed,
/// 0,,`, each data record with result, response_code, response_detail (and payment_id for
/// 020) appended, trailer `4,count,ok,ng`; CRLF between records.
fn result_file(l: &Ledger, p: &Params, merchant_id: &str) -> Result<String, Refusal> {
    let id = match p.get("file_receipt_id").map(String::as_str) {
        None => return Err(refuse("P005", "file_receipt_id")),
        Some("") => return Err(refuse("P006", "file_receipt_id")),
        Some(v) if !v.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(refuse("P008", "file_receipt_id"));
        }
        Some(v) if v.len() > 9 => return Err(refuse("P009", "file_receipt_id")),
        Some(v) => v,
    };
    let Some(f) = l.files.iter().find(|f| f.file_receipt_id == id) else {
        return Err(refuse(
            "9102",
            "指定された受付番号のファイル決済は存在しません。",
        ));
    };
    let Some(done) = f.processed_at else {
        return Err(refuse(
            "9103",
            "指定された受付番号のファイル決済は処理が完了していません。",
        ));
    };
    let mut out = vec![
        [
            "1",
            &f.file_type,
            merchant_id,
            &f.file_receipt_id,
            &jst(f.received_at),
            &jst(done),
            "0",
            "",
            "",
        ]
        .join(","),
    ];
    let mut ok = 0;
    for (r, res) in f.records.iter().zip(&f.results) {
        let appended = if f.file_type == "020" { 4 } else { 3 };
        let cols: Vec<String> = r
            .iter()
            .chain(&res[..appended])
            .map(|v| csv_field(v))
            .collect();
        out.push(cols.join(","));
        if res[0] == "0" {
            ok += 1;
        }
    }
    let n = f.records.len();
    out.push(format!("4,{n},{ok},{}", n - ok));
    Ok(out.join("\r\n"))
}

/// 201 end to end: touch the ledger (timers, due files, 差分 notices) and answer the result
/// file, or an error file for a refused header or id.
pub fn result(sb: &Sandbox, p: &Params, checked: Result<String, Refusal>) -> String {
    let now = sb.clock.now();
    let mut st = sb.state();
    let l = &mut st.paygent;
    super::settle(l, now);
    let text = checked
        .and_then(|_| result_file(l, p, &sb.config.paygent_merchant_id))
        .unwrap_or_else(|e| error_file(&e));
    let fresh = super::notice::collect(l, now);
    drop(st);
    super::notice::push(sb, fresh);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(lines: &[&str]) -> String {
        lines.join("\r\n")
    }

    #[test]
    fn the_seed_file_passes_and_errors_name_record_and_field() {
        let cfg = Config::default();
        let ok = file(&[
            "1,020,000000001",
            "3,,338,,11246,,,10,,,,200,,285,",
            "3,,339,,7022,,,10,,,,338,,285,",
            "4,2",
        ]);
        assert_eq!(check(&ok, "020", &AUTH, &cfg).map(|r| r.len()), Ok(2));
        let zero = ok.replace("11246", "0");
        let errs = check(&zero, "020", &AUTH, &cfg).unwrap_err();
        assert_eq!(
            errs,
            vec![r#"record 2: payment_amount: must be above 0 ("0")"#]
        );
        // A bad header stops the check before the data records.
        let bad = zero.replace("1,020,", "1,999,");
        let errs = check(&bad, "020", &AUTH, &cfg).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("record 1: file_type"), "{errs:?}");
    }

    #[test]
    fn capture_records_need_an_id() {
        let cfg = Config::default();
        let f = file(&["1,021,000000001", "3,,", "3,12x,", "4,2", ""]);
        let errs = check(&f, "021", &BY_PAYMENT, &cfg).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("record 2: payment_id"));
        assert!(errs[1].starts_with("record 3: payment_id: at most 18 digits"));
    }
}
