//! The scan page: content, escaping, languages, unknown and withdrawn codes, weight.

use std::io::Write;

use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, uscc_for, TestApp, TestUser};

async fn shop_with_everything(
    app: &TestApp,
    reg: &TestUser,
    name: &str,
    text: &str,
) -> (i64, String) {
    let body = json!({
        "uscc": uscc_for("513230", 501),
        "name": name,
        "legal_representative": text,
        "category": "restaurant",
        "region_code": "513230",
        "address": text,
        "phone": "0837-2822222",
        "business_scope": text,
        "registered_on": "2019-05-20",
        "status": "seasonal_closed",
        "opening_hours": text,
        "opening_months": [5, 6, 7, 8, 9, 10],
        "description": text,
        "pledges": [text, "明码标价"],
    });
    let resp = app.post_as(&reg.token, "/api/v1/merchants", &body).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let m: Value = resp.json().await.unwrap();
    let id = m["id"].as_i64().unwrap();
    let base = format!("/api/v1/merchants/{id}");
    let today = yidianyima::domain::time::china_date(chrono::Utc::now());
    for (path, body) in [
        (
            "licences",
            json!({"kind": "food_business", "number": "JY25132300000042", "issuer": text,
            "valid_from": "2018-01-01", "valid_until": "2023-01-01"}),
        ),
        (
            "inspections",
            json!({"kind": "random", "inspected_on": today.to_string(),
            "department": text, "result": "rectify", "summary": text}),
        ),
        (
            "credit-records",
            json!({"kind": "penalty", "department": text, "decision_no": "壤市监罚〔2026〕9号",
            "decided_on": today.to_string(), "summary": text}),
        ),
        (
            "credit-records",
            json!({"kind": "commendation", "department": "阿坝州市场监督管理局",
            "decided_on": today.to_string()}),
        ),
    ] {
        let resp = app
            .post_as(&reg.token, &format!("{base}/{path}"), &body)
            .await;
        assert_eq!(resp.status(), 201, "{path}: {}", resp.text().await.unwrap());
    }
    let png = {
        use image::ImageEncoder;
        let img = image::RgbImage::from_pixel(800, 600, image::Rgb([200, 40, 40]));
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), 800, 600, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    };
    let resp = app
        .upload_as(
            &reg.token,
            &format!("{base}/photos"),
            "front.png",
            png,
            &[("kind", "storefront")],
        )
        .await;
    assert_eq!(resp.status(), 201);
    let code: Value = app
        .post_as(&reg.token, &format!("{base}/qrcode"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    (id, code["code"].as_str().unwrap().to_owned())
}

async fn page(app: &TestApp, path: &str, accept_language: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(app.url(path));
    if let Some(l) = accept_language {
        req = req.header("accept-language", l);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn a_rich_merchant_in_both_languages() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let (_, code) =
        shop_with_everything(&app, &reg, "壤塘县藏家饭店", "壤塘县市场监督管理局").await;
    let (status, html) = page(&app, &format!("/s/{code}"), None).await;
    assert_eq!(status, 200);
    for needle in [
        "<html lang=\"zh-CN\">",
        "壤塘县藏家饭店",
        "季节性歇业",
        "营业月份：5, 6, 7, 8, 9, 10 月",
        "gC",
        "近 12 个月内受到行政处罚",
        "最近一次监督检查责令整改",
        "放心舒心示范户",
        "JY25132300000042",
        "已过期",
        "责令整改",
        "壤市监罚〔2026〕9号",
        "明码标价",
        "/media/photos/",
        "loading=\"lazy\"",
        uscc_for("513230", 501).as_str(),
        "12315",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(!html.contains("<script"), "no JavaScript needed");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external requests"
    );

    let (_, en) = page(&app, &format!("/s/{code}?lang=en"), None).await;
    for needle in [
        "<html lang=\"en\">",
        "Credit grade",
        "Closed for the season",
        "Administrative penalty in the last 12 months",
        "Expired",
    ] {
        assert!(en.contains(needle), "missing {needle}");
    }
    let (_, by_header) = page(&app, &format!("/s/{code}"), Some("en-US,en;q=0.9,zh;q=0.5")).await;
    assert!(by_header.contains("Credit grade"));
    let (_, zh_wins) = page(&app, &format!("/s/{code}?lang=zh"), Some("en-US")).await;
    assert!(zh_wins.contains("信用等级"));

    // The JSON carries the same content.
    let json: Value = app.get_json(&format!("/api/v1/public/shops/{code}")).await;
    assert_eq!(json["name"], "壤塘县藏家饭店");
    assert_eq!(json["grade"], "C");
    assert_eq!(json["model_merchant"], true);
    assert_eq!(json["licences"][0]["expired"], true);
    assert_eq!(json["stale"], false);
    assert!(json["storefront"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/thumb.jpg"));
    // Codes are read forgivingly (lower case, dashes).
    let spoken = format!("{}-{}", &code[..6], &code[6..]).to_lowercase();
    assert_eq!(page(&app, &format!("/s/{spoken}"), None).await.0, 200);

    // Weight: the whole page fits one initial congestion window when gzipped.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(html.as_bytes()).unwrap();
    let size = gz.finish().unwrap().len();
    assert!(size <= 14 * 1024, "gzip size {size}");
}

#[tokio::test]
async fn hostile_text_is_escaped_everywhere() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
    let (_, code) = shop_with_everything(&app, &reg, evil, evil).await;
    let (status, html) = page(&app, &format!("/s/{code}"), None).await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("<script>") && !html.contains("<img src=x"),
        "unescaped"
    );
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(
        html.matches("&#60;img src=x onerror=alert(2)&#62;").count() >= 10,
        "every field shown, escaped"
    );
}

#[tokio::test]
async fn unknown_and_withdrawn_codes() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let path = format!("/api/v1/merchants/{}/qrcode", shop.id);
    let first: Value = app
        .post_as(&reg.token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let old = first["code"].as_str().unwrap().to_owned();

    let (status, html) = page(&app, "/s/ZZZZZZZZZZZZ", None).await;
    assert_eq!(status, 404);
    assert!(html.contains("未找到该商户码"));
    assert_eq!(page(&app, "/s/not-a-code!", None).await.0, 404);
    let resp = app
        .client
        .get(app.url("/api/v1/public/shops/ZZZZZZZZZZZZ"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;

    // Re-issued: the old code is withdrawn (410 with the hotline), the new one works.
    let second: Value = app
        .post_as(&reg.token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let (status, html) = page(&app, &format!("/s/{old}"), None).await;
    assert_eq!(status, 410);
    assert!(html.contains("该商户码已停用") && html.contains("12315"));
    let (_, en) = page(&app, &format!("/s/{old}?lang=en"), None).await;
    assert!(en.contains("This code was withdrawn"));
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/public/shops/{old}")))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 410, "code_withdrawn").await;
    assert_eq!(
        page(
            &app,
            &format!("/s/{}", second["code"].as_str().unwrap()),
            None
        )
        .await
        .0,
        200
    );
}
