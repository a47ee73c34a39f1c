//! HTTP handlers, grouped by resource. Thin: parse → policy/domain → db → respond.

pub mod api;
pub mod complaint_flow;
pub mod complaint_pages;
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

/// The audit-log actor for a request by `user`.
pub fn actor(user: &CurrentUser, req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Actor {
    Actor {
        user_id: Some(user.id),
        label: user.username.clone(),
        client_ip: client_ip(req, trusted_proxies).map(|ip| ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

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
