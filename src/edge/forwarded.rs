//! Who the client is behind a reverse proxy. `Forwarded` (RFC 7239) and
//! `X-Forwarded-For/Proto/Host` are believed only when the peer is a configured trusted
//! proxy; then the client is the right-most address of the chain that is not itself a
//! trusted proxy, and the scheme and host are the ones the first proxy saw. Anyone else
//! may send those headers: they are ignored.

use std::net::IpAddr;

use http::HeaderMap;

use super::AllowList;
pub use crate::http::request::Client;
use crate::http::request::Connection;

/// Decides the [`Client`] of a request with `headers` and `extensions`.
pub(crate) fn resolve(
    headers: &HeaderMap,
    extensions: &http::Extensions,
    trusted: &AllowList,
) -> Client {
    let Some(conn) = extensions.get::<Connection>() else {
        return Client::default();
    };
    let peer = conn.peer.ip();
    if trusted.is_empty() || !trusted.contains(peer) {
        return Client {
            ip: Some(peer),
            forwarded_base: None,
        };
    }
    let h = headers;
    let (chain, proto, host) = match h.get("forwarded").and_then(|v| v.to_str().ok()) {
        Some(f) => rfc7239(f),
        None => legacy(h),
    };
    let ip = chain
        .iter()
        .rev()
        .find(|ip| !trusted.contains(**ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer);
    let forwarded_base = match (proto, host) {
        (p, Some(host)) if valid_host(&host) => {
            let scheme = p.filter(|p| p == "http" || p == "https");
            Some(format!("{}://{host}", scheme.as_deref().unwrap_or("http")))
        }
        _ => None,
    };
    Client {
        ip: Some(ip),
        forwarded_base,
    }
}

type Forward = (Vec<IpAddr>, Option<String>, Option<String>);

/// `Forwarded: for=192.0.2.60;proto=https;host=example.com, for="[2001:db8::1]:4711"`.
fn rfc7239(value: &str) -> Forward {
    let (mut chain, mut proto, mut host) = (Vec::new(), None, None);
    for element in value.split(',') {
        for pair in element.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "for" => chain.extend(node_ip(v)),
                "proto" if proto.is_none() => proto = Some(v.to_ascii_lowercase()),
                "host" if host.is_none() => host = Some(v.to_owned()),
                _ => {}
            }
        }
    }
    (chain, proto, host)
}

/// `X-Forwarded-For: client, proxy1`, `X-Forwarded-Proto`, `X-Forwarded-Host`.
fn legacy(h: &HeaderMap) -> Forward {
    let chain = h
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| node_ip(s.trim()))
        .collect();
    let first = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    (
        chain,
        first("x-forwarded-proto").map(|p| p.to_ascii_lowercase()),
        first("x-forwarded-host"),
    )
}

/// The address of a node: `192.0.2.60`, `192.0.2.60:80`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn node_ip(v: &str) -> Option<IpAddr> {
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.rsplit_once(':')?.0.parse().ok()
}

/// A host a link may name: no path, user info, space or control character.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && !h.contains(['/', ' ', '@', '\\', '?', '#'])
        && !h.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::request::Parts;
    use std::net::SocketAddr;

    fn resolve(p: &Parts, trusted: &AllowList) -> Client {
        super::resolve(&p.headers, &p.extensions, trusted)
    }

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri("/fs/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (mut p, ()) = b.body(()).unwrap().into_parts();
        let peer: SocketAddr = peer.parse().unwrap();
        p.extensions.insert(Connection {
            peer,
            local: "127.0.0.1:9090".parse().unwrap(),
            tls: false,
            client_certificate: None,
        });
        p
    }

    #[test]
    fn headers_of_untrusted_peers_are_ignored() {
        let p = parts(
            "203.0.113.9:5000",
            &[
                ("x-forwarded-for", "10.9.9.9"),
                ("x-forwarded-host", "evil.example"),
            ],
        );
        let trusted: AllowList = "10.0.0.1".parse().unwrap();
        let c = resolve(&p, &trusted);
        assert_eq!(c.ip, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(c.forwarded_base, None);
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_the_public_host() {
        let trusted: AllowList = "10.0.0.0/24".parse().unwrap();
        let p = parts(
            "10.0.0.1:5000",
            &[
                ("x-forwarded-for", "198.51.100.7, 10.0.0.2"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "flow.example.com"),
            ],
        );
        let c = resolve(&p, &trusted);
        assert_eq!(c.ip, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(
            c.forwarded_base.as_deref(),
            Some("https://flow.example.com")
        );
        let p = parts(
            "10.0.0.1:5000",
            &[(
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https;host=a.example, for=10.0.0.3",
            )],
        );
        let c = resolve(&p, &trusted);
        assert_eq!(c.ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(c.forwarded_base.as_deref(), Some("https://a.example"));
        let p = parts("10.0.0.1:5000", &[("x-forwarded-host", "a.example/evil")]);
        assert_eq!(resolve(&p, &trusted).forwarded_base, None);
    }
}
