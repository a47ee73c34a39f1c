//! What every HTML page is sent with: a Content-Security-Policy that allows no script and no
//! inline style except the pages' own `<style>` blocks (and the console's own stylesheet) (by hash, so the scan page still arrives
//! in one round trip without `'unsafe-inline'`), `Referrer-Policy`, `nosniff`; and, for pages
//! rendered per request (complaint form, tracking, landing, error pages), compression in the
//! encoding the client asks for. The scan page builds the same headers once with its cached
//! bytes (`cache::pages::PageHeaders`) and never passes through the middleware here.

use std::sync::LazyLock;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use base64::Engine;
use sha2::Digest;

use crate::cache::pages::{brotli_fast, gzip_fast};

/// The templates with `<style>` blocks; each block's hash is allowed by the policy.
const STYLED_TEMPLATES: &[&str] = &[
    include_str!("../../templates/shop.html"),
    include_str!("../../templates/shop_missing.html"),
    include_str!("../../templates/complaint_style.html"),
    include_str!("../../templates/index.html"),
];

/// `'sha256-…'` of a style element's text, as a policy source.
pub fn style_hash(css: &str) -> String {
    let digest = sha2::Sha256::digest(css.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The text of every `<style>…</style>` element in `html`.
pub fn style_blocks(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<style>") {
        let after = &rest[start + "<style>".len()..];
        let Some(end) = after.find("</style>") else {
            break;
        };
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

/// The policy: nothing from elsewhere, no script, no inline style but ours, no framing.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let mut styles: Vec<String> = STYLED_TEMPLATES
        .iter()
        .flat_map(|t| style_blocks(t))
        .map(style_hash)
        .collect();
    styles.dedup();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' {}; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        styles.join(" ")
    )
});

/// Links from our pages tell other sites nothing (tracking numbers travel in URLs).
pub const REFERRER_POLICY: &str = "same-origin";

/// The header values, built once.
pub static CSP_VALUE: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
});

/// Adds the page headers (policy, referrer policy, nosniff) to an HTML response's headers.
pub fn add_page_headers(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, CSP_VALUE.clone());
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(REFERRER_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// The best encoding the client accepts: brotli, gzip, or none (`q=0` refuses).
pub fn encoding(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let accepts = |name: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let token = it.next().unwrap_or_default().trim();
            let refused = it.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            token.eq_ignore_ascii_case(name) && !refused
        })
    };
    if accepts("br") {
        Some("br")
    } else if accepts("gzip") {
        Some("gzip")
    } else {
        None
    }
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

/// Middleware for pages rendered per request: page headers on every HTML response, and the
/// body compressed for the client (`Vary: Accept-Encoding`). Other responses pass untouched.
pub async fn html_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let enc = encoding(req.headers());
    let mut res = next.call(req).await?.map_into_boxed_body();
    if !is_html(res.headers()) {
        return Ok(res);
    }
    let h = res.headers_mut();
    add_page_headers(h);
    h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let Some(enc) = enc else {
        return Ok(res);
    };
    if res.headers().contains_key(header::CONTENT_ENCODING) {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    if bytes.is_empty() {
        return Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))));
    }
    let compressed = if enc == "br" {
        brotli_fast(&bytes)
    } else {
        gzip_fast(&bytes)
    };
    res.headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    Ok(ServiceResponse::new(
        req,
        res.set_body(BoxBody::new(compressed)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_each_page_style_and_nothing_inline_else() {
        let csp = &*CONTENT_SECURITY_POLICY;
        assert!(csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self' 'sha256-"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        for t in STYLED_TEMPLATES {
            let blocks = style_blocks(t);
            assert_eq!(blocks.len(), 1, "one <style> per template");
            assert!(csp.contains(&style_hash(blocks[0])));
        }
        // Known vector: sha256 of the empty string.
        assert_eq!(
            style_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }

    #[test]
    fn encoding_prefers_brotli_and_honours_refusals() {
        let mut h = HeaderMap::new();
        assert_eq!(encoding(&h), None);
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert_eq!(encoding(&h), Some("br"));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br;q=0, gzip"),
        );
        assert_eq!(encoding(&h), Some("gzip"));
    }
}
