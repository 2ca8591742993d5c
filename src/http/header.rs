//! Header names fss reads or writes, as constants so that no literal is repeated.

use http::{HeaderName, HeaderValue};

/// The ServiceProblem kind header the Flow engine reads on every error (the Flow wire protocol, `protocol`).
pub const SERVICE_PROBLEM_KIND: HeaderName =
    HeaderName::from_static("x-manywho-service-problem-kind");

/// The execution id of the request, for troubleshooting.
pub const EXECUTION_ID: HeaderName = HeaderName::from_static("x-execution-id");

/// The tenant header the engine sends and callbacks carry.
pub const MANYWHO_TENANT: HeaderName = HeaderName::from_static("manywhotenant");

/// Per-request debug capture switch (`true` keeps this execution's payloads).
pub const BOOMI_DEBUG: HeaderName = HeaderName::from_static("x-boomi-debug");

/// `{kind}; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266, RFC 5987):
/// `kind` is `attachment` or `inline`; the plain `filename` replaces what is not printable
/// ASCII, `"` and `\` with `_`, for old clients; everyone else reads `filename*`.
pub fn content_disposition(kind: &str, name: &str) -> HeaderValue {
    /// What RFC 5987 lets stand unescaped in `filename*` (`attr-char`).
    const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR_CHAR);
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .expect("printable ASCII makes a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_has_both_names() {
        let v = content_disposition("attachment", "résumé \"1\".pdf");
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
        let v = content_disposition("inline", "run.sh");
        assert_eq!(
            v.to_str().unwrap(),
            "inline; filename=\"run.sh\"; filename*=UTF-8''run.sh"
        );
    }
}
