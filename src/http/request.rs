//! What fss reads off a request head besides the route: the base of absolute URLs and
//! the pairs of a query string.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::header;
use http::request::Parts;

/// The transport's view of a request: the peer address, the listener's own address, and
/// whether it came over TLS with which verified client certificate. The server puts one
/// into every request's extensions; requests made in-process have none. Forwarding
/// headers, IP allow-lists, the scheme of links and client-certificate services are
/// decided from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The address of the peer that opened the connection.
    pub peer: SocketAddr,
    /// The address of the listener it connected to.
    pub local: SocketAddr,
    /// Whether the connection is HTTPS (`--tls-cert`): links fss prints say `https://`.
    pub tls: bool,
    /// The client certificate the peer presented and the listener verified against
    /// `--tls-client-ca`; shared by every request of the connection.
    pub client_certificate: Option<Arc<ClientCertificate>>,
}

/// The identity of a verified client certificate: what services match their
/// `auth.clientCertificate.subjects` against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's common names (`CN`), usually one.
    pub common_names: Vec<String>,
    /// The DNS names of its subject alternative names.
    pub dns_names: Vec<String>,
}

impl ClientCertificate {
    /// The first of `subjects` this certificate satisfies: `CN=name` matches a common
    /// name exactly, `DNS=name` a DNS name of the SAN, ignoring ASCII case (as DNS does).
    pub fn first_match<'a>(&self, subjects: &'a [String]) -> Option<&'a str> {
        subjects.iter().map(String::as_str).find(|s| {
            if let Some(cn) = s.strip_prefix("CN=") {
                self.common_names.iter().any(|c| c == cn)
            } else if let Some(dns) = s.strip_prefix("DNS=") {
                self.dns_names.iter().any(|d| d.eq_ignore_ascii_case(dns))
            } else {
                false
            }
        })
    }

    /// How logs and messages name it: `CN=…` of its first common name, else `DNS=…` of
    /// its first DNS name.
    pub fn display_name(&self) -> String {
        match (self.common_names.first(), self.dns_names.first()) {
            (Some(cn), _) => format!("CN={cn}"),
            (None, Some(dns)) => format!("DNS={dns}"),
            (None, None) => "a certificate without a CN or DNS name".to_owned(),
        }
    }
}

/// Who sent a request, as the edge decided: the client's address (the peer, or what a
/// trusted proxy said of it) and, when a trusted proxy forwarded it, the scheme and host
/// the client used. The runtime puts one into every request's extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's address; `None` for in-process requests.
    pub ip: Option<IpAddr>,
    /// `scheme://host` the client addressed, as a trusted proxy forwarded it.
    pub forwarded_base: Option<String>,
}

/// The base of absolute URLs in answers (download links, admin `url` fields): the
/// configured public base URL; else what a trusted proxy forwarded ([`Client`]); else the
/// listener's own address ([`Connection`]). `Host` is believed only for in-process
/// requests, which have no connection: a client cannot make fss print links to elsewhere.
pub fn base_url(public: Option<&str>, parts: &Parts) -> String {
    if let Some(b) = public {
        return b.trim_end_matches('/').to_owned();
    }
    if let Some(base) = parts
        .extensions
        .get::<Client>()
        .and_then(|c| c.forwarded_base.as_deref())
    {
        return base.to_owned();
    }
    if let Some(c) = parts.extensions.get::<Connection>() {
        let scheme = if c.tls { "https" } else { "http" };
        return format!("{scheme}://{}", c.local);
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '@']))
        .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The `application/x-www-form-urlencoded` pairs of a query string, decoded: `+` is a
/// space, `%XX` a byte, a `%` not followed by two hex digits stays as it is, and bytes that
/// are not UTF-8 become U+FFFD. The one query decoder of fss (form_urlencoded's), so every
/// endpoint reads a query string the same way.
pub fn query_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(host: &str) -> Parts {
        http::Request::builder()
            .uri("/x")
            .header(header::HOST, host)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn base_url_prefers_the_configured_one_and_cleans_host() {
        assert_eq!(
            base_url(Some("https://a.example/"), &parts("h")),
            "https://a.example"
        );
        assert_eq!(base_url(None, &parts("h:9090")), "http://h:9090");
        assert_eq!(base_url(None, &parts("evil.example/x")), "http://localhost");
        assert_eq!(base_url(None, &parts("u@evil.example")), "http://localhost");
    }

    #[test]
    fn base_url_of_a_tls_connection_says_https() {
        let mut p = parts("h");
        let addr: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        p.extensions.insert(Connection {
            peer: addr,
            local: addr,
            tls: true,
            client_certificate: None,
        });
        assert_eq!(base_url(None, &p), "https://127.0.0.1:8443");
    }

    #[test]
    fn client_certificates_match_cn_exactly_and_dns_without_case() {
        let c = ClientCertificate {
            common_names: vec!["flow-tenant-1".into()],
            dns_names: vec!["Tenant.Example".into()],
        };
        let subjects = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            c.first_match(&subjects(&["CN=other", "CN=flow-tenant-1"])),
            Some("CN=flow-tenant-1")
        );
        assert_eq!(c.first_match(&subjects(&["CN=FLOW-TENANT-1"])), None);
        assert_eq!(
            c.first_match(&subjects(&["DNS=tenant.example"])),
            Some("DNS=tenant.example")
        );
        assert_eq!(c.first_match(&subjects(&["flow-tenant-1"])), None);
        assert_eq!(c.display_name(), "CN=flow-tenant-1");
    }

    #[test]
    fn query_pairs_decode_plus_and_percent() {
        let v: Vec<_> = query_pairs("name=a+b%C3%A9&&x").collect();
        assert_eq!(
            v,
            [("name".into(), "a bé".into()), ("x".into(), String::new())]
        );
    }

    #[test]
    fn query_pairs_keep_bad_percent_sequences() {
        let v: Vec<(String, String)> =
            query_pairs("a=100%&b=%zz&c=%C3&d=x%2By&e=1=2&%41=").collect();
        let want = [
            ("a", "100%"),
            ("b", "%zz"),
            ("c", "\u{FFFD}"),
            ("d", "x+y"),
            ("e", "1=2"),
            ("A", ""),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(v, want);
    }
}
