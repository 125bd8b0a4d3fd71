//! Paygent module-type answers: `name=value` lines separated by CRLF, every parameter
//! present even when empty, in no fixed order. An HTML value (`out_acs_html`) comes last: the
//! line `out_acs_html=`, then the page on the lines after it to the end of the body —
//! Paygent's published module keeps exactly those following lines as the value.

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
                // The lines after this one, as the module reads them (anything on this line
                // after `=` is not part of the value).
                out.push((k.to_owned(), next.to_owned()));
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
        .map(|(k, v)| {
            if TRAILING.contains(k) && !v.is_empty() {
                format!("{k}=\r\n{v}")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_trailing_html() {
        let html = "<html><body onload=\"document.forms[0].submit()\">\r\n<form>x=y</form>\r\n</body></html>";
        let b =
            format!("\r\nresult=0\r\npayment_id=123\r\nresponse_code=\r\nout_acs_html=\r\n{html}");
        let p = parse(&b);
        assert_eq!(p[0], ("result".into(), "0".into()));
        assert_eq!(p[2], ("response_code".into(), "".into()));
        assert_eq!(
            p[3].1, html,
            "the page starts on the line after out_acs_html="
        );
        let w = write(&[("result", "7"), ("out_acs_html", html)]);
        assert_eq!(w, format!("result=7\r\nout_acs_html=\r\n{html}"));
        assert_eq!(parse(&w)[1].1, html);
        assert_eq!(write(&[("out_acs_html", "")]), "out_acs_html=");
        assert_eq!(parse("result=0\r\nout_acs_html=")[1].1, "");
        assert_eq!(
            parse(&write(&[("a", "1"), ("b", "")])),
            vec![("a".into(), "1".into()), ("b".into(), "".into())]
        );
    }
}
