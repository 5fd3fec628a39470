//! The client's address, for the sign-in throttle: the TCP peer, unless the peer is a trusted
//! reverse proxy, in which case the right-most address of `X-Forwarded-For` (or RFC 7239
//! `Forwarded`) that is not itself a trusted proxy.
//!
//! Why the right-most: a client can write anything into these headers, and each proxy appends
//! the address it saw, so only the entries added by proxies we trust are facts. Walking from
//! the right, the first address that is not a trusted proxy is the one our nearest trusted
//! proxy actually received a connection from; everything to its left is the client's claim.

use ipnet::{IpNet, Ipv6Net};
use std::net::{IpAddr, SocketAddr};

/// The reverse proxies whose forwarding headers are believed (`TESSERA_TRUSTED_PROXIES`):
/// addresses and networks. Empty by default: no header is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of IP addresses and CIDR networks (`10.0.0.0/8, ::1`); an empty
    /// string trusts nobody.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut networks = Vec::new();
        for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let network = match item.parse::<IpAddr>() {
                Ok(address) => IpNet::from(canonical(address)),
                Err(_) => {
                    item.parse::<IpNet>().map_err(|_| format!("{item:?} is not an IP address or CIDR network"))?
                }
            };
            networks.push(network);
        }
        Ok(TrustedProxies(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }
}

/// The forwarding headers of a request, each as its lines (a header may be sent several
/// times; the lines are read in order, as one comma-separated list). A line that is not text
/// should be passed as an empty string: it then counts as an unreadable hop.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardingHeaders<'a> {
    pub x_forwarded_for: &'a [&'a str],
    pub forwarded: &'a [&'a str],
}

/// The address to count a request's sign-in attempts against. From an untrusted peer the
/// headers are ignored. From a trusted one, `X-Forwarded-For` is read when present (the header
/// nginx, HAProxy, Caddy and the cloud load balancers append to), else `Forwarded`; the
/// result is the right-most hop that is not a trusted proxy. An unreadable hop (`unknown`, an
/// obfuscated RFC 7239 identifier, garbage) stops the walk at the last trusted hop, never
/// believing what lies to its left.
pub fn client_address(peer: IpAddr, trusted: &TrustedProxies, headers: ForwardingHeaders<'_>) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = if !headers.x_forwarded_for.is_empty() {
        list_items(headers.x_forwarded_for).map(parse_node).collect()
    } else {
        list_items(headers.forwarded).map(forwarded_for).collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(address) = hop else { break };
        client = canonical(address);
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

/// The key an address is counted under: an IPv4 address as it is, an IPv6 address by its
/// `/64`, since one host is routinely given a whole `/64` and could otherwise count each of
/// its addresses apart.
pub fn address_key(address: IpAddr) -> String {
    match canonical(address) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64).map(|network| network.trunc().to_string()).unwrap_or(v6.to_string()),
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers)
/// are the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn list_items<'a>(lines: &'a [&'a str]) -> impl Iterator<Item = &'a str> {
    lines.iter().flat_map(|line| line.split(',')).map(str::trim)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse::<IpAddr>().ok()
}

/// The `for=` node of one RFC 7239 element (`for=192.0.2.60;proto=http;by=203.0.113.43`),
/// its value a token or a quoted string (RFC 7239 §4, §6).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value.trim())
    })?;
    let value = value.strip_prefix('"').and_then(|value| value.strip_suffix('"')).unwrap_or(value);
    parse_node(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_address_of_a_request() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1,2001:db8::/32").unwrap();
        // (peer, X-Forwarded-For lines, Forwarded lines, expected client address)
        let rows: &[(&str, &[&str], &[&str], &str)] = &[
            // An untrusted peer: its headers are ignored, whatever they say.
            ("198.51.100.9", &["203.0.113.5"], &[], "198.51.100.9"),
            ("198.51.100.9", &[], &["for=203.0.113.5"], "198.51.100.9"),
            // A trusted peer without headers is the client.
            ("10.1.2.3", &[], &[], "10.1.2.3"),
            // The right-most untrusted hop: the client's own entries to its left are claims.
            ("10.1.2.3", &["203.0.113.5"], &[], "203.0.113.5"),
            ("10.1.2.3", &["1.1.1.1, 203.0.113.5"], &[], "203.0.113.5"),
            ("10.1.2.3", &["1.1.1.1, 203.0.113.5, 10.9.9.9, 192.0.2.1"], &[], "203.0.113.5"),
            ("10.1.2.3", &["1.1.1.1", "203.0.113.5, 10.9.9.9"], &[], "203.0.113.5"),
            // Ports and brackets, as some proxies write them.
            ("10.1.2.3", &["203.0.113.5:4711"], &[], "203.0.113.5"),
            ("10.1.2.3", &["[2001:db9::7]:4711"], &[], "2001:db9::7"),
            ("10.1.2.3", &["2001:db9::7"], &[], "2001:db9::7"),
            // Every hop trusted: the left-most.
            ("10.1.2.3", &["10.7.7.7, 192.0.2.1"], &[], "10.7.7.7"),
            // An unreadable hop: nothing left of it is believed; the last trusted hop counts.
            ("10.1.2.3", &["203.0.113.5, garbage"], &[], "10.1.2.3"),
            ("10.1.2.3", &["203.0.113.5, unknown, 10.9.9.9"], &[], "10.9.9.9"),
            ("10.1.2.3", &["203.0.113.5,,"], &[], "10.1.2.3"),
            ("10.1.2.3", &[""], &[], "10.1.2.3"),
            // RFC 7239 `Forwarded`, read when there is no X-Forwarded-For.
            ("10.1.2.3", &[], &["for=203.0.113.5;proto=https"], "203.0.113.5"),
            ("10.1.2.3", &[], &["For=\"[2001:db9::7]:4711\""], "2001:db9::7"),
            ("10.1.2.3", &[], &["for=1.1.1.1, for=203.0.113.5;by=10.0.0.1"], "203.0.113.5"),
            ("10.1.2.3", &[], &["for=1.1.1.1", "for=203.0.113.5, for=10.8.8.8"], "203.0.113.5"),
            ("10.1.2.3", &[], &["for=_hidden"], "10.1.2.3"),
            ("10.1.2.3", &[], &["proto=https"], "10.1.2.3"),
            ("10.1.2.3", &[], &["for=unknown, for=10.8.8.8"], "10.8.8.8"),
            // Both: X-Forwarded-For wins.
            ("10.1.2.3", &["203.0.113.5"], &["for=1.1.1.1"], "203.0.113.5"),
            // IPv4 seen through a dual-stack socket is still the trusted IPv4 proxy.
            ("::ffff:10.1.2.3", &["203.0.113.5"], &[], "203.0.113.5"),
            ("10.1.2.3", &["::ffff:203.0.113.5"], &[], "203.0.113.5"),
            // A trusted IPv6 network.
            ("2001:db8::1", &["203.0.113.5"], &[], "203.0.113.5"),
        ];
        for (peer, x_forwarded_for, forwarded, expected) in rows {
            let headers = ForwardingHeaders { x_forwarded_for, forwarded };
            let found = client_address(ip(peer), &proxies, headers);
            assert_eq!(found, ip(expected), "{peer} {x_forwarded_for:?} {forwarded:?}");
        }
        // Nobody trusted (the default): the peer, always.
        let headers = ForwardingHeaders { x_forwarded_for: &["203.0.113.5"], forwarded: &[] };
        assert_eq!(client_address(ip("10.1.2.3"), &TrustedProxies::default(), headers), ip("10.1.2.3"));
    }

    #[test]
    fn trusted_proxies_are_parsed() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse(" , ").unwrap().is_empty());
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8").unwrap();
        for (address, trusted) in
            [("127.0.0.1", true), ("127.0.0.2", false), ("10.200.0.1", true), ("::1", true), ("fd12::1", true)]
        {
            assert_eq!(proxies.contains(ip(address)), trusted, "{address}");
        }
        assert!(TrustedProxies::parse("::ffff:127.0.0.1").unwrap().contains(ip("127.0.0.1")));
        for bad in ["localhost", "10.0.0.0/33", "10.0.0.1/", "1.2.3.4:80"] {
            assert!(TrustedProxies::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn ipv6_addresses_count_by_their_slash_64() {
        assert_eq!(address_key(ip("203.0.113.5")), "203.0.113.5");
        assert_eq!(address_key(ip("::ffff:203.0.113.5")), "203.0.113.5");
        assert_eq!(address_key(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(address_key(ip("2001:db8:1:2:ffff::1")), address_key(ip("2001:db8:1:2::9")));
        assert_ne!(address_key(ip("2001:db8:1:2::1")), address_key(ip("2001:db8:1:3::1")));
    }
}
