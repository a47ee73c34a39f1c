//! Licences, inspections, credit records and the grade they make; photos.

use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::helpers::{
    assert_field_error, assert_problem, spawn_app, spawn_app_with, AppOptions, TestApp,
};
use yidianyima::domain::user::Role;

fn today() -> chrono::NaiveDate {
    yidianyima::domain::time::china_date(chrono::Utc::now())
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let resp = app.post_as(token, path, &body).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

#[tokio::test]
async fn credit_records_make_the_grade_and_expired_ones_vanish() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let base = format!("/api/v1/merchants/{}", shop.id);
    let credit = format!("{base}/credit-records");

    // Expired penalty: neither counts nor shows.
    post(&app, &reg.token, &credit, json!({"kind": "penalty", "department": "壤塘县市场监督管理局",
        "decision_no": "壤市监罚〔2022〕3号", "decided_on": "2022-03-01", "publicity_until": "2023-03-01",
        "summary": "未明码标价"})).await;
    let m: Value = app.get_as(&reg.token, &base).await.json().await.unwrap();
    assert_eq!(m["grade"], "A");
    assert_eq!(m["credit_records"], json!([]));

    let serious = post(
        &app,
        &reg.token,
        &credit,
        json!({"kind": "serious_violation",
        "department": "阿坝州市场监督管理局", "decided_on": "2025-06-01"}),
    )
    .await;
    assert_eq!(
        serious["publicity_until"], "2028-06-01",
        "default three years"
    );
    post(
        &app,
        &reg.token,
        &credit,
        json!({"kind": "commendation",
        "department": "阿坝州市场监督管理局", "decided_on": today().to_string()}),
    )
    .await;
    let m: Value = app.get_as(&reg.token, &base).await.json().await.unwrap();
    assert_eq!(m["grade"], "D");
    assert_eq!(m["grade_reasons"][0]["code"], "serious_violation");
    assert_eq!(
        m["grade_reasons"][0]["source"],
        json!({"type": "credit_record", "id": serious["id"]})
    );
    assert!(m["grade_reasons"][0]["message"]["zh"]
        .as_str()
        .unwrap()
        .contains("严重违法失信"));
    assert_eq!(m["model_merchant"], true);
    assert_eq!(m["credit_records"].as_array().unwrap().len(), 2);

    // The stored grade follows, so the list filter finds it.
    let page: Value = app
        .get_as(&reg.token, "/api/v1/merchants?grade=D")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 1);

    // Regulators may see expired records on request; merchants never.
    let owner = app.user(Role::Merchant, &[], Some(shop.id)).await;
    let all: Value = app
        .get_as(&reg.token, &format!("{credit}?include_expired=true"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let own: Value = app
        .get_as(&owner.token, &format!("{credit}?include_expired=true"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own.as_array().unwrap().len(), 2);

    // When the publicity period ends, the stored grade is rechecked by the background job,
    // not by a GET (a GET writes nothing), one instance at a time, audited as the system.
    let mut conn = app.conn().await;
    diesel::sql_query(format!(
        "UPDATE credit_records SET publicity_until = '{}' WHERE id = {}",
        today().pred_opt().unwrap(),
        serious["id"]
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE merchants SET grade_recheck_on = '{}' WHERE id = {}",
        today(),
        shop.id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    async fn stored(app: &TestApp, token: &str) -> i64 {
        let page: Value = app
            .get_as(token, "/api/v1/merchants?grade=D")
            .await
            .json()
            .await
            .unwrap();
        page["total"].as_i64().unwrap()
    }
    assert_eq!(stored(&app, &reg.token).await, 1, "a GET does not regrade");
    assert_eq!(stored(&app, &reg.token).await, 1);
    // Another instance holds the lock: this one skips.
    #[derive(diesel::QueryableByName)]
    struct Got {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        got: bool,
    }
    let got: Got = diesel::sql_query(format!(
        "SELECT pg_try_advisory_lock({}) AS got",
        yidianyima::db::merchants::GRADE_REFRESH_LOCK
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(got.got, "the lock is free");
    let done = yidianyima::jobs::refresh_grades(&app.state).await.unwrap();
    assert!(done.skipped);
    assert_eq!(stored(&app, &reg.token).await, 1);
    diesel::sql_query(format!(
        "SELECT pg_advisory_unlock({})",
        yidianyima::db::merchants::GRADE_REFRESH_LOCK
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let done = yidianyima::jobs::refresh_grades(&app.state).await.unwrap();
    assert_eq!((done.skipped, done.changed.clone()), (false, vec![shop.id]));
    assert_eq!(stored(&app, &reg.token).await, 0);
    let m: Value = app.get_as(&reg.token, &base).await.json().await.unwrap();
    assert_eq!(m["grade"], "A");
    #[derive(diesel::QueryableByName)]
    struct Entry {
        #[diesel(sql_type = diesel::sql_types::Text)]
        actor_label: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        change: String,
    }
    let e: Entry = diesel::sql_query(
        "SELECT actor_label, (before->>'grade') || '->' || (after->>'grade') AS change \
         FROM audit_log WHERE action = 'merchant.regrade'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (e.actor_label.as_str(), e.change.as_str()),
        ("system", "D->A")
    );
    // Nothing more is due.
    let done = yidianyima::jobs::refresh_grades(&app.state).await.unwrap();
    assert!(done.changed.is_empty());
}

#[tokio::test]
async fn inspections_and_licences() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513200"]).await;
    let shop = app.merchant_in("513232").await;
    let base = format!("/api/v1/merchants/{}", shop.id);
    let day = today().to_string();
    post(
        &app,
        &reg.token,
        &format!("{base}/inspections"),
        json!({"kind": "random",
        "inspected_on": day, "department": "若尔盖县市场监督管理局", "result": "fail",
        "summary": "过期食品"}),
    )
    .await;
    let m: Value = app.get_as(&reg.token, &base).await.json().await.unwrap();
    assert_eq!(m["grade"], "B");
    assert_eq!(m["grade_reasons"][0]["code"], "failed_inspection");
    assert_eq!(m["inspections"][0]["result"], "fail");

    let lic = post(
        &app,
        &reg.token,
        &format!("{base}/licences"),
        json!({"kind": "food_business",
        "number": "JY25132320000123", "issuer": "若尔盖县市场监督管理局",
        "valid_from": "2019-01-01", "valid_until": "2024-01-01"}),
    )
    .await;
    assert_eq!(lic["expired"], true);
    let list: Value = app
        .get_as(&reg.token, &format!("{base}/licences"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["number"], "JY25132320000123");

    let resp = app
        .post_as(
            &reg.token,
            &format!("{base}/inspections"),
            &json!({"kind": "daily",
            "inspected_on": "2099-01-01", "department": "", "result": "ok"}),
        )
        .await;
    let p = assert_field_error(resp, "kind", "invalid_inspection_kind").await;
    let got: Vec<(String, String)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().into(),
                e["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    for want in [
        ("inspected_on", "in_future"),
        ("department", "required"),
        ("result", "invalid_inspection_result"),
    ] {
        assert!(
            got.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {got:?}"
        );
    }
    let resp = app
        .post_as(
            &reg.token,
            &format!("{base}/licences"),
            &json!({"kind": "food_business",
            "number": "x", "issuer": "y", "valid_from": "2020-01-01", "valid_until": "2019-01-01"}),
        )
        .await;
    assert_field_error(resp, "valid_until", "before_start").await;
}

#[tokio::test]
async fn record_write_matrix() {
    let app = spawn_app().await;
    let county = app.regulator(&["513230"]).await;
    let other = app.regulator(&["513231"]).await;
    let shop = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(shop.id)).await;
    let path = format!("/api/v1/merchants/{}/credit-records", shop.id);
    let rec = json!({"kind": "abnormal_list", "department": "壤塘县市场监督管理局", "decided_on": "2026-01-05"});
    let resp = app.post_as(&owner.token, &path, &rec).await;
    assert_problem(resp, 403, "forbidden").await;
    let resp = app.post_as(&other.token, &path, &rec).await;
    assert_problem(resp, 404, "not_found").await;
    let resp = app.get_as(&other.token, &path).await;
    assert_problem(resp, 404, "not_found").await;
    post(&app, &county.token, &path, rec).await;
    let own: Value = app.get_as(&owner.token, &path).await.json().await.unwrap();
    assert_eq!(own[0]["kind"], "abnormal_list");
    assert_eq!(own[0]["publicity_until"], Value::Null);
    let mut conn = app.conn().await;
    let log =
        yidianyima::db::audit::for_entity(&mut conn, "credit_record", &own[0]["id"].to_string())
            .await
            .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor_id, Some(county.id));
}

// --- photos -----------------------------------------------------------------------------------

fn png(w: u32, h: u32) -> Vec<u8> {
    use image::ImageEncoder;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 255) as u8, (y % 255) as u8, 120])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A PNG whose header promises a huge image; the data is a few bytes.
fn bomb(w: u32, h: u32, bit_depth: u8) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, 6, 0, 0, 0]); // RGBA
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    ));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// A JPEG carrying an EXIF segment with a GPS position.
pub fn jpeg_with_exif() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, _| image::Rgb([(x % 255) as u8, 80, 40]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&img)
        .unwrap();
    let mut payload = b"Exif\0\0II*\0\x08\0\0\0\0\0".to_vec();
    payload.extend_from_slice(b"GPSLatitude 32.2667 N GPSLongitude 100.9667 E");
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    app1.extend(payload);
    let mut out = jpeg[..2].to_vec();
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[tokio::test]
async fn photos_are_checked_by_content_reencoded_and_shared() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(shop.id)).await;
    let path = format!("/api/v1/merchants/{}/photos", shop.id);
    // Interior photos are public while the shop has an active code.
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/qrcode", shop.id),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 201);

    // A PNG named .jpg is fine: the content decides.
    let resp = app
        .upload_as(
            &owner.token,
            &path,
            "shopfront.jpg",
            png(2400, 1800),
            &[("kind", "storefront")],
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let photo: Value = resp.json().await.unwrap();
    assert_eq!(
        (photo["width"].clone(), photo["height"].clone()),
        (json!(1600), json!(1200))
    );
    let thumb = app
        .client
        .get(app.url(photo["thumb_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let thumb = thumb.bytes().await.unwrap();
    assert!(thumb.len() <= 30 * 1024, "{}", thumb.len());
    assert_eq!(
        image::guess_format(&thumb).unwrap(),
        image::ImageFormat::Jpeg
    );

    // Metadata does not survive re-encoding.
    let resp = app
        .upload_as(
            &reg.token,
            &path,
            "gps.jpeg",
            jpeg_with_exif(),
            &[("kind", "interior")],
        )
        .await;
    assert_eq!(resp.status(), 201);
    let photo: Value = resp.json().await.unwrap();
    let bytes = app
        .client
        .get(app.url(photo["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"Exif") && !has(b"GPSLatitude"));

    // A text file named .png is 415; bombs are 422; no file is 422; not multipart is 415.
    let resp = app
        .upload_as(
            &owner.token,
            &path,
            "menu.png",
            b"just some text".to_vec(),
            &[],
        )
        .await;
    assert_problem(resp, 415, "unsupported_media_type").await;
    for (w, h, depth) in [(100_000, 100_000, 8), (8000, 8000, 16)] {
        let resp = app
            .upload_as(&owner.token, &path, "bomb.png", bomb(w, h, depth), &[])
            .await;
        assert_field_error(resp, "file", "image_too_large").await;
    }
    let resp = app
        .upload_as(
            &owner.token,
            &path,
            "x.png",
            png(10, 10),
            &[("kind", "selfie")],
        )
        .await;
    assert_field_error(resp, "kind", "invalid_photo_kind").await;
    let resp = app
        .post_as(&owner.token, &path, &json!({"file": "x"}))
        .await;
    assert_problem(resp, 415, "unsupported_media_type").await;

    // Another county's regulator cannot add photos.
    let other = app.regulator(&["513231"]).await;
    let resp = app
        .upload_as(&other.token, &path, "x.png", png(10, 10), &[])
        .await;
    assert_problem(resp, 404, "not_found").await;

    // A second app instance on the same database serves the same bytes.
    let b = spawn_app_with(AppOptions {
        database_url: Some(app.database_url.clone()),
        ..AppOptions::default()
    })
    .await;
    let again = b
        .client
        .get(b.url(photo["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap(), bytes);
    let m: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{}", shop.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["photos"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn oversized_upload_is_413() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let path = format!("/api/v1/merchants/{}/photos", shop.id);
    let resp = app
        .upload_as(
            &reg.token,
            &path,
            "huge.png",
            vec![0u8; 21 * 1024 * 1024],
            &[],
        )
        .await;
    assert_problem(resp, 413, "payload_too_large").await;
}

#[tokio::test]
async fn photos_are_unguessable_interior_ones_private_without_a_code_and_removable() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(shop.id)).await;
    let path = format!("/api/v1/merchants/{}/photos", shop.id);
    let mut photos = Vec::new();
    for kind in ["storefront", "interior"] {
        let resp = app
            .upload_as(&owner.token, &path, "p.png", png(64, 48), &[("kind", kind)])
            .await;
        assert_eq!(resp.status(), 201);
        photos.push(resp.json::<Value>().await.unwrap());
    }
    let get = |url: String| {
        let app = &app;
        async move { app.client.get(app.url(&url)).send().await.unwrap().status() }
    };
    for p in &photos {
        let id = p["id"].as_str().unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{p}"
        );
        assert!(p["url"].as_str().unwrap().contains(id));
    }
    // Sequential ids no longer name photos.
    for n in 1..4 {
        assert_eq!(get(format!("/media/photos/{n}.jpg")).await, 404);
    }
    let (storefront, interior) = (&photos[0], &photos[1]);
    assert_eq!(get(storefront["url"].as_str().unwrap().into()).await, 200);
    assert_eq!(
        get(interior["url"].as_str().unwrap().into()).await,
        404,
        "no active code"
    );
    assert_eq!(
        get(interior["thumb_url"].as_str().unwrap().into()).await,
        404
    );
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/qrcode", shop.id),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        get(interior["url"].as_str().unwrap().into()).await,
        200,
        "active code"
    );

    // Another county's regulator cannot remove it; the merchant and its regulator can.
    let other = app.regulator(&["513231"]).await;
    let one = |p: &Value| format!("{path}/{}", p["id"].as_str().unwrap());
    let resp = app.delete_as(&other.token, &one(interior)).await;
    assert_eq!(resp.status(), 404);
    let resp = app.delete_as(&owner.token, &one(interior)).await;
    assert_eq!(resp.status(), 204);
    let resp = app.delete_as(&reg.token, &one(storefront)).await;
    assert_eq!(resp.status(), 204);
    let resp = app.delete_as(&reg.token, &one(storefront)).await;
    assert_eq!(resp.status(), 404, "already removed");
    assert_eq!(get(storefront["url"].as_str().unwrap().into()).await, 404);
    let m: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{}", shop.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["photos"], json!([]));
    let n = app
        .count("SELECT count(*) AS n FROM audit_log WHERE action = 'photo.delete'")
        .await;
    assert_eq!(n, 2);
}
