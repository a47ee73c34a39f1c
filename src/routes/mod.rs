//! HTTP handlers, grouped by resource. Thin: parse → policy/domain → db → respond.

pub mod api;
pub mod complaint_pages;
pub mod console;
pub mod edge;
pub mod ops;
pub mod public;

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::auth::CurrentUser;
use crate::db::audit::Actor;

/// The client's IP. `X-Forwarded-For` is believed only when the direct peer is a configured
/// trusted proxy (otherwise anyone could pick the IP their rate limit is counted against); then
/// the right-most address that is not itself a trusted proxy is the client.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted_proxies.contains(ip))
            .unwrap_or(peer),
    )
}

/// The key a per-client rate limit counts against: an IPv4 address as it is, an IPv6 address
/// by its /64 (one subscriber's prefix: a client that hops between the addresses of its own
/// prefix must not multiply its allowance).
pub fn rate_limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The audit-log actor for a request by `user`.
pub fn actor(user: &CurrentUser, req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Actor {
    Actor {
        user_id: Some(user.id),
        label: user.username.clone(),
        client_ip: client_ip(req, trusted_proxies).map(|ip| ip.to_string()),
    }
}

/// The consumer behind a public complaint request (no account): where it came from.
pub fn consumer(
    state: &crate::state::AppState,
    req: &HttpRequest,
) -> crate::service::complaints::Consumer {
    let ip = client_ip(req, &state.settings.trusted_proxies);
    crate::service::complaints::Consumer {
        rate_key: ip
            .map(rate_limit_key)
            .unwrap_or_else(|| "unknown".to_owned()),
        ip: ip
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn ipv6_clients_count_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(rate_limit_key(a), rate_limit_key(b));
        assert_ne!(rate_limit_key(a), rate_limit_key(c));
        assert_eq!(
            rate_limit_key("203.0.113.9".parse().unwrap()),
            "203.0.113.9"
        );
        assert_eq!(
            rate_limit_key("::ffff:203.0.113.9".parse().unwrap()),
            "203.0.113.9"
        );
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr("203.0.113.9:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, &[proxy]),
            Some("203.0.113.9".parse().unwrap())
        );
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "9.9.9.9, 198.51.100.7, 10.0.0.1"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
    }
}
