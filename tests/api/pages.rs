//! What the consumer's pages are sent with and say: the bureau, the hotline and the storefront
//! photo on the scan page; a content security policy without inline script on every HTML page;
//! compression of the pages rendered per request; the icon; the tracking page after a declined
//! offer.

use std::io::{Read, Write};

use serde_json::{json, Value};
use yidianyima::domain::user::Role;
use yidianyima::pages::security::{style_blocks, style_hash, CONTENT_SECURITY_POLICY};

use crate::complaints::{file, shop};
use crate::helpers::spawn_app;

fn png(width: u32, height: u32) -> Vec<u8> {
    use image::ImageEncoder;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap().len()
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_scan_page_names_the_bureau_links_the_hotline_and_describes_the_photo() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let resp = app
        .upload_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/photos", s.id),
            "front.png",
            png(800, 600),
            &[("kind", "storefront")],
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let name: String = app
        .get_json::<Value>(&format!("/api/v1/public/shops/{}", s.code))
        .await["name"]
        .as_str()
        .unwrap()
        .to_owned();

    let html = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    let bureau = html
        .find("阿坝州市场监督管理局")
        .expect("the bureau is named");
    assert!(bureau < html.find("<h1>").unwrap(), "above the shop's name");
    assert!(html.contains("<a href=\"tel:12315\">"), "the hotline dials");
    assert!(html.contains(&format!("alt=\"{name}门店照片\"")), "{html}");
    // The thumbnail for ordinary screens, the display copy for 2x and more.
    let srcset = html
        .split("srcset=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a srcset");
    let sources: Vec<(&str, &str)> = srcset
        .split(", ")
        .map(|c| c.split_once(' ').unwrap())
        .collect();
    assert_eq!(sources.len(), 2, "{srcset}");
    assert!(sources[0].0.ends_with("/thumb.jpg") && sources[0].1 == "320w");
    assert!(sources[1].0.ends_with(".jpg") && sources[1].1 == "800w");
    for (url, _) in &sources {
        let resp = app.client.get(app.url(url)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
    }
    assert!(
        gzip_len(html.as_bytes()) <= 6 * 1024,
        "small: {}",
        gzip_len(html.as_bytes())
    );

    let en = app
        .get_text(app.url(&format!("/s/{}?lang=en", s.code)))
        .await;
    assert!(en.contains("Aba Prefecture Market Supervision Administration"));
    assert!(en.contains(&format!("alt=\"Storefront of {name}\"")));
}

/// Every `<style>` element of the page is allowed by hash, and nothing else inline is there.
fn assert_fits_the_policy(path: &str, html: &str) {
    assert!(!html.contains("<script"), "{path}: no script");
    assert!(!html.contains(" style=\""), "{path}: no style attributes");
    let blocks = style_blocks(html);
    assert!(!blocks.is_empty(), "{path}: styled");
    for css in blocks {
        assert!(
            CONTENT_SECURITY_POLICY.contains(&style_hash(css)),
            "{path}: a <style> block the policy does not allow"
        );
    }
}

async fn check_page(resp: reqwest::Response, path: &str) -> String {
    let csp = header(&resp, "content-security-policy");
    assert_eq!(csp, *CONTENT_SECURITY_POLICY, "{path}");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{path}: {directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{path}");
    assert_eq!(header(&resp, "referrer-policy"), "same-origin", "{path}");
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff", "{path}");
    let html = resp.text().await.unwrap();
    assert_fits_the_policy(path, &html);
    html
}

#[tokio::test]
async fn every_html_page_has_a_policy_without_inline_script() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    for path in [
        format!("/s/{}", s.code),
        // the second time from the cache, with the headers built with it
        format!("/s/{}", s.code),
        format!("/s/{}?lang=en", s.code),
        "/s/ZZZZZZZZZZZZ".to_owned(),
        format!("/s/{}/complaint", s.code),
        "/s/ZZZZZZZZZZZZ/complaint".to_owned(),
        "/track".to_owned(),
        "/".to_owned(),
    ] {
        let resp = app.client.get(app.url(&path)).send().await.unwrap();
        assert!(
            [200, 404].contains(&resp.status().as_u16()),
            "{path}: {}",
            resp.status()
        );
        check_page(resp, &path).await;
    }
    let resp = app
        .client
        .post(app.url("/track"))
        .form(&[("no", "202601010001"), ("phone", "13800000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    check_page(resp, "POST /track").await;

    // A 304 of the scan page carries them too; JSON does not need them.
    let first = app
        .client
        .get(app.url(&format!("/s/{}", s.code)))
        .send()
        .await
        .unwrap();
    let etag = header(&first, "etag");
    let resp = app
        .client
        .get(app.url(&format!("/s/{}", s.code)))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(
        header(&resp, "content-security-policy"),
        *CONTENT_SECURITY_POLICY
    );
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/public/shops/{}", s.code)))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "content-security-policy"), "");
}

#[tokio::test]
async fn complaint_and_tracking_pages_are_compressed_as_asked() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    for path in [format!("/s/{}/complaint", s.code), "/track".to_owned()] {
        let plain = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(header(&plain, "content-encoding"), "", "{path}");
        assert!(header(&plain, "vary").contains("Accept-Encoding"), "{path}");
        let plain = plain.text().await.unwrap();
        for (enc, asked) in [("br", "gzip, deflate, br"), ("gzip", "gzip, deflate")] {
            let resp = app
                .client
                .get(app.url(&path))
                .header("accept-encoding", asked)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(header(&resp, "content-encoding"), enc, "{path}");
            assert!(header(&resp, "vary").contains("Accept-Encoding"), "{path}");
            assert_eq!(header(&resp, "cache-control"), "no-store", "{path}");
            let body = resp.bytes().await.unwrap();
            let mut html = String::new();
            if enc == "br" {
                brotli::Decompressor::new(&body[..], 4096)
                    .read_to_string(&mut html)
                    .unwrap();
            } else {
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_string(&mut html)
                    .unwrap();
            }
            assert!(
                html.trim_end().ends_with("</html>"),
                "{path}: {enc} decodes"
            );
            assert!(
                body.len() * 3 < plain.len() * 2,
                "{path}: {enc} {} of {} bytes",
                body.len(),
                plain.len()
            );
        }
    }
    // A form answered with errors (422) is compressed as well.
    let resp = app
        .client
        .post(app.url(&format!("/s/{}/complaint", s.code)))
        .header("accept-encoding", "gzip")
        .form(&[("name", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    assert_eq!(header(&resp, "content-encoding"), "gzip");
}

#[tokio::test]
async fn the_icon_is_served_from_the_binary_and_kept() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "image/x-icon");
    let cc = header(&resp, "cache-control");
    let max_age: u64 = cc
        .split("max-age=")
        .nth(1)
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(max_age >= 86_400, "{cc}");
    let body = resp.bytes().await.unwrap();
    assert_eq!(&body[..4], &[0, 0, 1, 0], "an ICO file");
    assert!(body.len() < 8 * 1024);
}

#[tokio::test]
async fn declining_the_offer_says_the_regulator_takes_over() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let (no, id) = file(&app, &s.code, "13811112222").await;
    let resp = app
        .post_as(
            &owner.token,
            &format!("/api/v1/complaints/{id}/actions"),
            &json!({"action": "propose", "note": "退还 20 元并致歉"}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let lookup = [("no", no.as_str()), ("phone", "13811112222")];
    let (_, before) = app.post_form("/track", &lookup).await;
    assert!(!before.contains("转交市场监管部门"), "not before declining");
    let (status, html) = app
        .post_form(
            "/track",
            &[&lookup[..], &[("op", "confirm_decline")]].concat(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("您未接受商户的和解方案，投诉已转交市场监管部门处理。"),
        "{html}"
    );
    // Looked up again later, in English, the page still says where it stands.
    let (_, en) = app.post_form("/track?lang=en", &lookup).await;
    assert!(
        en.contains("your complaint now goes to the market regulator"),
        "{en}"
    );
    // Once the regulator acts, the note gives way to the new status.
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/complaints/{id}/actions"),
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (_, after) = app.post_form("/track", &lookup).await;
    assert!(!after.contains("转交市场监管部门"));
}
