//! Paygent module-type answers: `name=value` lines separated by CRLF, every parameter
//! present even when empty, in no fixed order. An HTML value (`out_acs_html`) comes last and
//! runs to the end of the body, line breaks included.

/// Parameters whose value is the rest of the body.
const TRAILING: [&str; 1] = ["out_acs_html"];

pub fn parse(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (line, next) = match rest.find("\r\n") {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, ""),
        };
        if let Some((k, v)) = line.split_once('=') {
            if TRAILING.contains(&k) {
                let start = rest.find('=').map(|i| i + 1).unwrap_or(rest.len());
                out.push((k.to_owned(), rest[start..].to_owned()));
                break;
            }
            out.push((k.to_owned(), v.to_owned()));
        }
        rest = next;
    }
    out
}

pub fn write(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_trailing_html() {
        let b = "result=0\r\npayment_id=123\r\nresponse_code=\r\nout_acs_html=<html>\r\n<body>x=y</body>\r\n</html>";
        let p = parse(b);
        assert_eq!(p[0], ("result".into(), "0".into()));
        assert_eq!(p[2], ("response_code".into(), "".into()));
        assert_eq!(p[3].1, "<html>\r\n<body>x=y</body>\r\n</html>");
        assert_eq!(
            parse(&write(&[("a", "1"), ("b", "")])),
            vec![("a".into(), "1".into()), ("b".into(), "".into())]
        );
    }
}
