//! File payments: 200 ファイル決済要求 uploads a CSV of card operations, 201
//! ファイル決済結果照会 fetches the result file once Paygent has processed it
//! (docs/paygent-protocol.md §3.11).
//!
//! Layouts (file_type ≠ telegram kind): `020` オーソリ — 15 columns as the shop software
//! writes them (3 trading_id, 5 amount, 8 payment class, 12 ref_trading_id, 14 customer);
//! `021` 売上 and `022` 取消 — record type, payment_id, trading_id. Header
//! `1,<file_type>,<merchant_id>`, data records `3,…`, trailer `4,<count>`.

use super::PaygentClient;
use crate::GatewayError;

/// A result file (201).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResult {
    pub file_type: String,
    pub merchant_id: String,
    pub file_receipt_id: String,
    /// YYYYMMDDHHMMSS, Japan time.
    pub received_at: String,
    pub processed_at: String,
    pub records: Vec<FileRecordResult>,
    /// The trailer's counts: all records, processed OK, refused.
    pub count: usize,
    pub ok: usize,
    pub ng: usize,
}

/// One data record of a result file: the columns sent, then the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecordResult {
    /// The record as uploaded, record type (`3`) first.
    pub columns: Vec<String>,
    pub ok: bool,
    pub response_code: String,
    pub response_detail: String,
    /// The payment made (020 only; empty on a decline).
    pub payment_id: String,
}

impl FileRecordResult {
    /// The uploaded column `n`, counted from 1 as in the layouts.
    pub fn column(&self, n: usize) -> &str {
        n.checked_sub(1)
            .and_then(|i| self.columns.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// Result columns appended to each record: result, response_code, response_detail, and for
/// 020 the payment_id.
fn appended(file_type: &str) -> usize {
    if file_type == "020" { 4 } else { 3 }
}

impl PaygentClient {
    /// A file's text for `file_type` with this merchant's header: each row is a data record
    /// without its record type. Records are CRLF-separated.
    pub fn file_text(&self, file_type: &str, rows: &[Vec<String>]) -> String {
        let mut lines = vec![format!("1,{file_type},{}", self.cfg.merchant_id)];
        lines.extend(rows.iter().map(|r| format!("3,{}", r.join(","))));
        lines.push(format!("4,{}", rows.len()));
        lines.join("\r\n")
    }

    /// 200: upload a file; returns the file_receipt_id. Paygent checks the format only
    /// (9101 lists the bad records). On an unknown outcome, send the same file again with
    /// `duplicate_check`: 9106 then means the first upload was received.
    pub async fn upload_file(
        &self,
        file_type: &str,
        csv_text: &str,
        duplicate_check: bool,
    ) -> Result<String, GatewayError> {
        // The common header goes with empty trading_id and payment_id (spec §1.1: empty when
        // unused); a file has no single payment.
        let a = self
            .telegram(
                "200",
                "",
                "",
                &[
                    ("file_type", file_type),
                    ("data", csv_text),
                    ("duplicate_check", if duplicate_check { "1" } else { "0" }),
                ],
            )
            .await?;
        match a.get("file_receipt_id") {
            "" => Err(GatewayError::Protocol(
                "200: result=0 without file_receipt_id".into(),
            )),
            id => Ok(id.to_owned()),
        }
    }

    /// 201: the result file of an upload. 9103 (not processed yet) is a retryable refusal.
    pub async fn file_result(&self, receipt_id: &str) -> Result<FileResult, GatewayError> {
        let text = self
            .post("201", "", "", &[("file_receipt_id", receipt_id)])
            .await?;
        parse_result(&text)
    }
}

/// Read a 201 answer: CSV, comma-separated, spaces belonging to the fields.
pub fn parse_result(text: &str) -> Result<FileResult, GatewayError> {
    let bad = |why: String| GatewayError::Protocol(format!("201: {why}"));
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(text.as_bytes());
    let mut head: Option<Vec<String>> = None;
    let mut trailer: Option<Vec<String>> = None;
    let mut records = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| bad(format!("CSV: {e}")))?;
        let cols: Vec<String> = rec.iter().map(str::to_owned).collect();
        let f = |i: usize| cols.get(i).cloned().unwrap_or_default();
        match cols.first().map(String::as_str) {
            Some("1") => {
                if f(6) != "0" {
                    return Err(super::refusal(f(7), f(8)));
                }
                head = Some(cols);
            }
            Some("3") => {
                let file_type = head
                    .as_ref()
                    .and_then(|h| h.get(1))
                    .ok_or_else(|| bad("data record before the header".into()))?;
                let n = appended(file_type);
                if cols.len() <= n {
                    return Err(bad(format!("short data record {cols:?}")));
                }
                let (orig, res) = cols.split_at(cols.len() - n);
                records.push(FileRecordResult {
                    columns: orig.to_vec(),
                    ok: res[0] == "0",
                    response_code: res[1].clone(),
                    response_detail: res[2].clone(),
                    payment_id: res.get(3).cloned().unwrap_or_default(),
                });
            }
            Some("4") => trailer = Some(cols),
            _ => return Err(bad(format!("unknown record {cols:?}"))),
        }
    }
    let head = head.ok_or_else(|| bad("no header record".into()))?;
    let trailer = trailer.ok_or_else(|| bad("no trailer record".into()))?;
    let count = |i: usize| -> Result<usize, GatewayError> {
        trailer
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("trailer {trailer:?}")))
    };
    let r = FileResult {
        file_type: head[1].clone(),
        merchant_id: head.get(2).cloned().unwrap_or_default(),
        file_receipt_id: head.get(3).cloned().unwrap_or_default(),
        received_at: head.get(4).cloned().unwrap_or_default(),
        processed_at: head.get(5).cloned().unwrap_or_default(),
        count: count(1)?,
        ok: count(2)?,
        ng: count(3)?,
        records,
    };
    if r.count != r.records.len() {
        return Err(bad(format!(
            "trailer counts {} records, the file has {}",
            r.count,
            r.records.len()
        )));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_file_and_error_file() {
        let text = "1,020,000000001,900000001,20240819100000,20240819100100,0,,\r\n\
                    3,,338,,11246,,,10,,,,200,,285,,0,,,900000000003\r\n\
                    3,,379,,10175,,,10,,,,236,,360,,1,2009,\"a, b\",\r\n\
                    4,2,1,1";
        let r = parse_result(text).unwrap();
        assert_eq!((r.count, r.ok, r.ng), (2, 1, 1));
        assert_eq!(r.records[0].column(3), "338");
        assert_eq!(r.records[0].columns.len(), 15);
        assert_eq!(r.records[0].payment_id, "900000000003");
        assert_eq!(r.records[1].response_detail, "a, b");
        let e = parse_result("1,,,,,,1,9103,\"処理中\"\r\n4,,,").unwrap_err();
        assert!(
            matches!(e, GatewayError::Refused { ref code, retryable: true, .. } if code == "9103"),
            "{e:?}"
        );
    }
}
