//! `application/x-www-form-urlencoded` in a chosen character set. GMO-PG and Paygent take
//! their forms in Shift_JIS (Windows-31J): percent-escapes of Shift_JIS bytes, `+` for space.

use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    ShiftJis,
    Utf8,
}

impl Charset {
    fn encoding(self) -> &'static Encoding {
        match self {
            Charset::ShiftJis => SHIFT_JIS,
            Charset::Utf8 => UTF_8,
        }
    }

    /// The name gateways put in `Content-Type` (GMO writes `Windows-31J`).
    pub fn mime_name(self) -> &'static str {
        match self {
            Charset::ShiftJis => "Windows-31J",
            Charset::Utf8 => "UTF-8",
        }
    }

    /// Text to bytes; characters the charset lacks become `?` (encoding_rs would write an
    /// HTML numeric reference, which a gateway would take literally).
    pub fn encode(self, s: &str) -> Vec<u8> {
        if s.is_ascii() {
            return s.as_bytes().to_vec();
        }
        let mut out = Vec::with_capacity(s.len());
        let mut buf = [0u8; 4];
        for ch in s.chars() {
            let (b, _, bad) = self.encoding().encode(ch.encode_utf8(&mut buf));
            if bad {
                out.push(b'?');
            } else {
                out.extend_from_slice(&b);
            }
        }
        out
    }

    /// Bytes to text; invalid sequences become U+FFFD and are reported.
    pub fn decode(self, b: &[u8]) -> (String, bool) {
        let (s, _, bad) = self.encoding().decode(b);
        (s.into_owned(), bad)
    }
}

fn escape_into(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// Encode pairs as a form body, escaping the bytes of `charset`.
pub fn encode(pairs: &[(&str, &str)], charset: Charset) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape_into(&mut out, &charset.encode(k));
        out.push('=');
        escape_into(&mut out, &charset.encode(v));
    }
    out
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Decode a form body sent in `charset`. Keys keep their order; a repeated key appears twice.
pub fn decode(body: &[u8], charset: Charset) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            (
                charset.decode(&unescape(k)).0,
                charset.decode(&unescape(v)).0,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_form_roundtrip() {
        let body = encode(
            &[("CustomerName", "ペイ太郎"), ("Note", "a b&c=d")],
            Charset::ShiftJis,
        );
        // The same bytes GMO's own clients send for ペイ太郎.
        assert!(
            body.starts_with("CustomerName=%83y%83C%91%BE%98Y&"),
            "{body}"
        );
        let back = decode(body.as_bytes(), Charset::ShiftJis);
        assert_eq!(back[0], ("CustomerName".into(), "ペイ太郎".into()));
        assert_eq!(back[1], ("Note".into(), "a b&c=d".into()));
    }

    #[test]
    fn unmappable_becomes_question_mark() {
        assert_eq!(Charset::ShiftJis.encode("a😀b"), b"a?b");
    }

    #[test]
    fn lone_percent_survives() {
        assert_eq!(
            decode(b"a=100%&b=%4", Charset::Utf8),
            vec![("a".into(), "100%".into()), ("b".into(), "%4".into())]
        );
    }
}
