//! What fss reads off a request head besides the route: the base of absolute URLs and
//! the pairs of a query string.

use std::net::{IpAddr, SocketAddr};

use http::header;
use http::request::Parts;

/// The transport's view of a request: the peer address and the listener's own address.
/// The server puts one into every request's extensions; requests made in-process have
/// none. Forwarding headers and IP allow-lists are decided from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The address of the peer that opened the connection.
    pub peer: SocketAddr,
    /// The address of the listener it connected to.
    pub local: SocketAddr,
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
        return format!("http://{}", c.local);
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

/// The `application/x-www-form-urlencoded` pairs of a query string, decoded.
pub fn query_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let dec = |s: &str| {
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8_lossy()
                .into_owned()
        };
        (dec(k), dec(v))
    })
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
    fn query_pairs_decode_plus_and_percent() {
        let v: Vec<_> = query_pairs("name=a+b%C3%A9&&x").collect();
        assert_eq!(
            v,
            [("name".into(), "a bé".into()), ("x".into(), String::new())]
        );
    }
}
