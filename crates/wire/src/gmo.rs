//! GMO-PG "protocol type" responses: `Key=Value&Key=Value`, values unescaped, in
//! Windows-31J. Errors come as `ErrCode=E01|E01&ErrInfo=E01050002|E01060006`: two lists
//! paired by position. A value may itself contain `&` (3DS redirect URLs): GMO's keys all
//! start with a capital letter, so a segment that does not start with `Capital...=` belongs
//! to the value before it.

/// Parse a response body (already decoded to text).
pub fn parse(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for seg in body.trim_end_matches(['\r', '\n']).split('&') {
        match seg.split_once('=') {
            Some((k, v))
                if k.starts_with(|c: char| c.is_ascii_uppercase())
                    && k.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                out.push((k.to_owned(), v.to_owned()))
            }
            _ => match out.last_mut() {
                Some((_, v)) => {
                    v.push('&');
                    v.push_str(seg);
                }
                None if seg.is_empty() => {}
                None => out.push((seg.to_owned(), String::new())),
            },
        }
    }
    out
}

/// Write a response body.
pub fn write(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// One GMO error: the code (`E01`, `G12` …) and its detail (`E01050002`, `42G120000` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GmoError {
    pub code: String,
    pub info: String,
}

/// The errors of a response, if it is an error response.
pub fn errors(pairs: &[(String, String)]) -> Option<Vec<GmoError>> {
    let get = |k: &str| pairs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let codes = get("ErrCode")?;
    let infos = get("ErrInfo").unwrap_or("");
    let infos: Vec<&str> = infos.split('|').collect();
    Some(
        codes
            .split('|')
            .enumerate()
            .map(|(i, c)| GmoError {
                code: c.to_owned(),
                info: infos.get(i).copied().unwrap_or("").to_owned(),
            })
            .collect(),
    )
}

/// Write an error response.
pub fn write_errors(errs: &[GmoError]) -> String {
    let codes: Vec<&str> = errs.iter().map(|e| e.code.as_str()).collect();
    let infos: Vec<&str> = errs.iter().map(|e| e.info.as_str()).collect();
    format!("ErrCode={}&ErrInfo={}", codes.join("|"), infos.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_success_and_errors() {
        let p = parse("AccessID=abc&AccessPass=def\r\n");
        assert_eq!(
            p,
            vec![
                ("AccessID".into(), "abc".into()),
                ("AccessPass".into(), "def".into())
            ]
        );
        let e = errors(&parse("ErrCode=E01|E01&ErrInfo=E01050002|E01060006")).unwrap();
        assert_eq!(
            e[1],
            GmoError {
                code: "E01".into(),
                info: "E01060006".into()
            }
        );
        assert!(errors(&p).is_none());
    }

    #[test]
    fn urls_with_ampersands_are_rejoined() {
        let p = parse("ACS=2&RedirectUrl=https://h/x?a=1&b=2&c&OrderID=o1");
        assert_eq!(p[1].1, "https://h/x?a=1&b=2&c");
        assert_eq!(p.len(), 3);
        assert_eq!(p[2], ("OrderID".into(), "o1".into()));
    }

    #[test]
    fn write_roundtrip() {
        let errs = vec![GmoError {
            code: "E01".into(),
            info: "E01040010".into(),
        }];
        assert_eq!(errors(&parse(&write_errors(&errs))).unwrap(), errs);
        assert_eq!(write(&[("A", "1"), ("B", "")]), "A=1&B=");
    }
}
