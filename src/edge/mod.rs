//! The edge: what fss decides about a request from its transport and its head alone,
//! before any route runs — who the client is behind trusted proxies (`forwarded`), which
//! addresses may call a service or the admin API ([`AllowList`]), which web origins may
//! call services from a browser (`cors`), and which admin requests a browser page of
//! another site may not make (`site`).
//!
//! All of it is configured once ([`EdgeConfig`]); the default trusts no proxy, allows
//! every address, answers no cross-origin browser call and refuses every cross-site
//! state-changing admin request.

mod cors;
mod forwarded;
mod site;

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

pub(crate) use cors::{allow_origin, origin_of, preflight};
pub(crate) use forwarded::resolve as resolve_client;
pub use forwarded::Client;
pub(crate) use site::check_admin_request;

/// What the edge is configured with.
#[derive(Debug, Clone, Default)]
pub struct EdgeConfig {
    /// Web origins (`https://app.example.com`, or `*`) whose pages may call `/fs/` from a
    /// browser: preflights are answered for them and answers carry
    /// `Access-Control-Allow-Origin`. Default none.
    pub cors_origins: Vec<String>,
    /// Web origins whose pages may make state-changing admin requests despite being of
    /// another site. Default none.
    pub admin_origins: Vec<String>,
    /// Peers whose `Forwarded` / `X-Forwarded-*` headers are believed. Default none.
    pub trusted_proxies: AllowList,
    /// Client addresses that may call the admin API. Default: every address.
    pub admin_allow_from: AllowList,
}

/// A list of CIDR ranges (`10.0.0.0/8`, `::1/128`; a bare address is one host). An empty
/// list allows everyone where it is an allow-list, and trusts no one where it lists
/// proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    /// Whether no range is listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is inside one of the ranges (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// Whether `ip` may pass: the list is empty, or holds it.
    pub fn admits(&self, ip: Option<IpAddr>) -> bool {
        self.is_empty() || ip.is_some_and(|ip| self.contains(ip))
    }
}

impl FromStr for AllowList {
    type Err = String;

    /// Parses ranges separated by commas or whitespace.
    fn from_str(s: &str) -> Result<Self, String> {
        s.split([',', ' ', '\t', '\n'])
            .filter(|p| !p.is_empty())
            .map(parse_range)
            .collect::<Result<_, _>>()
            .map(AllowList)
    }
}

impl<'a> FromIterator<&'a str> for AllowList {
    /// Ranges from strings that are known to parse; the others are skipped (definitions
    /// are validated before they are built).
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        AllowList(
            iter.into_iter()
                .filter_map(|s| parse_range(s).ok())
                .collect(),
        )
    }
}

/// One CIDR range or bare address.
///
/// # Errors
///
/// A message naming the text that is neither.
pub fn parse_range(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}' is not an address or a CIDR range such as 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_hosts_parse_and_match() {
        let l: AllowList = "10.0.0.0/8, 192.168.1.7 ::1".parse().unwrap();
        assert!(l.contains("10.2.3.4".parse().unwrap()));
        assert!(l.contains("192.168.1.7".parse().unwrap()));
        assert!(!l.contains("192.168.1.8".parse().unwrap()));
        assert!(l.contains("::1".parse().unwrap()));
        assert!(
            l.contains("::ffff:10.0.0.1".parse().unwrap()),
            "mapped IPv4"
        );
        assert!(AllowList::default().admits(None));
        assert!(!l.admits(None));
        let err = "10.0.0.0/33".parse::<AllowList>().unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
    }
}
