//! Bounds: no list reaches deep or grows without end, no multipart form or import file makes
//! the server hold more than it must.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::complaints::shop;
use crate::helpers::{assert_field_error, assert_problem, spawn_app, uscc_for};
use yidianyima::db;

#[tokio::test]
async fn deep_pages_are_refused_on_every_paged_list() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513200"]).await;
    for list in ["/api/v1/merchants", "/api/v1/complaints"] {
        // Row 10,000 is the deepest one can reach: page 50 of 200, page 200 of 50.
        for ok in ["page=50&per_page=200", "page=200", "page=10000&per_page=1"] {
            let resp = app.get_as(&reg.token, &format!("{list}?{ok}")).await;
            assert_eq!(resp.status(), 200, "{list}?{ok}");
        }
        for deep in [
            "page=51&per_page=200",
            "page=201",
            "page=10001&per_page=1",
            "page=1000000&per_page=200",
        ] {
            let resp = app.get_as(&reg.token, &format!("{list}?{deep}")).await;
            let body = assert_field_error(resp, "page", "out_of_range").await;
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("filter"), "{message}");
        }
    }
}

fn today() -> chrono::NaiveDate {
    yidianyima::domain::time::china_date(Utc::now())
}

#[tokio::test]
async fn record_lists_photos_and_warnings_are_capped() {
    use db::schema::{credit_records, licences, photos, warnings};
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let s = shop(&app, &reg, "513201").await;
    let today = today();
    let mut conn = app.conn().await;
    let lic: Vec<db::merchants::NewLicence> = (0..130)
        .map(|i| db::merchants::NewLicence {
            merchant_id: s.id,
            kind: "food_business".into(),
            number: format!("JY15132010{i:05}"),
            issuer: "马尔康市市场监督管理局".into(),
            valid_from: today - Days::new(1000 - i),
            valid_until: Some(today + Days::new(1000)),
            created_by: None,
        })
        .collect();
    diesel::insert_into(licences::table)
        .values(&lic)
        .execute(&mut conn)
        .await
        .unwrap();
    let credit: Vec<db::merchants::NewCreditRecord> = (0..130)
        .map(|i| db::merchants::NewCreditRecord {
            merchant_id: s.id,
            kind: "commendation".into(),
            department: "马尔康市市场监督管理局".into(),
            decision_no: format!("马市监表〔2026〕{i}号"),
            decided_on: today - Days::new(200 - i),
            summary: "诚信经营".into(),
            publicity_until: Some(today + Days::new(365)),
            created_by: None,
        })
        .collect();
    diesel::insert_into(credit_records::table)
        .values(&credit)
        .execute(&mut conn)
        .await
        .unwrap();
    let ph: Vec<db::merchants::NewPhoto> = (0..25)
        .map(|_| db::merchants::NewPhoto {
            public_id: db::merchants::new_photo_public_id(),
            merchant_id: s.id,
            kind: "interior".into(),
            width: 1,
            height: 1,
            display: vec![0xFF, 0xD8, 0xFF],
            thumb_width: 1,
            thumb_height: 1,
            thumb: vec![0xFF, 0xD8, 0xFF],
            created_by: None,
        })
        .collect();
    diesel::insert_into(photos::table)
        .values(&ph)
        .execute(&mut conn)
        .await
        .unwrap();
    let warn: Vec<db::complaints::NewWarning> = (0..60)
        .map(|i| db::complaints::NewWarning {
            region_code: Some("513201".into()),
            category: None,
            title: format!("消费提示 {i}"),
            body: "旅游旺季请索要发票".into(),
            valid_until: today + Days::new(30),
            created_by: None,
        })
        .chain(std::iter::once(db::complaints::NewWarning {
            region_code: Some("513230".into()),
            category: None,
            title: "另一个县".into(),
            body: "不适用于马尔康".into(),
            valid_until: today + Days::new(30),
            created_by: None,
        }))
        .collect();
    diesel::insert_into(warnings::table)
        .values(&warn)
        .execute(&mut conn)
        .await
        .unwrap();
    app.state.pages.invalidate_all().await;

    let len = |v: &Value| v.as_array().unwrap().len();
    let m: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{}", s.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(len(&m["licences"]), 100);
    // Newest first: the newest licence is the last one inserted.
    assert_eq!(m["licences"][0]["number"], "JY1513201000129");
    assert_eq!(len(&m["credit_records"]), 100);
    assert_eq!(
        m["credit_records"][0]["decision_no"],
        "马市监表〔2026〕129号"
    );
    assert_eq!(len(&m["photos"]), 20);

    let l: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{}/licences", s.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(len(&l), 100);
    let l: Value = app
        .get_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/licences?limit=120", s.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(len(&l), 120);
    let c: Value = app
        .get_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/credit-records", s.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(len(&c), 100);
    let c: Value = app
        .get_as(
            &reg.token,
            &format!(
                "/api/v1/merchants/{}/credit-records?include_expired=true&limit=1000",
                s.id
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(len(&c), 130, "the largest limit is 500");

    // A merchant with 20 photos must remove one before adding another.
    let resp = app
        .upload_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/photos", s.id),
            "a.png",
            vec![0x89, b'P', b'N', b'G'],
            &[("kind", "interior")],
        )
        .await;
    assert_problem(resp, 409, "too_many_photos").await;

    let w: Value = app.get_json("/api/v1/public/warnings?region=513201").await;
    assert_eq!(len(&w), 50);
    assert_eq!(w[0]["title"], "消费提示 59");
    let w: Value = app.get_json("/api/v1/public/warnings?region=513230").await;
    assert_eq!(len(&w), 1);

    let page: Value = app
        .get_json(&format!("/api/v1/public/shops/{}", s.code))
        .await;
    assert_eq!(len(&page["licences"]), 100);
    assert_eq!(len(&page["credit_records"]), 100);
    assert_eq!(len(&page["warnings"]), 50);
    let html = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(html.contains("JY1513201000129"));
    assert!(!html.contains("JY1513201000029"), "the 101st licence");
}

/// A multipart body of `n` small text parts plus a CSV file.
fn form(n: usize, field_len: usize) -> reqwest::multipart::Form {
    let csv = format!(
        "统一社会信用代码,名称\n{},藏家饭店\n",
        uscc_for("513201", 7)
    );
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("m.csv"),
    );
    for i in 0..n {
        form = form.text(format!("note{i}"), "x".repeat(field_len));
    }
    form
}

#[tokio::test]
async fn multipart_forms_have_few_small_parts() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let send = |form| {
        app.client
            .post(app.url("/api/v1/imports?dry_run=true"))
            .bearer_auth(&reg.token)
            .multipart(form)
            .send()
    };
    let resp = send(form(9, 10)).await.unwrap();
    assert_eq!(resp.status(), 200, "ten parts");
    let resp = send(form(10, 10)).await.unwrap();
    let body = assert_problem(resp, 413, "payload_too_large").await;
    assert!(
        body["detail"].as_str().unwrap().contains("10 parts"),
        "{body}"
    );
    // Each text field is small, and so are all of them together.
    let resp = send(form(5, 4000)).await.unwrap();
    let body = assert_problem(resp, 413, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("text"), "{body}");
    // A second `file` part: the first one already counted.
    let twice = form(0, 0).part(
        "file",
        reqwest::multipart::Part::bytes(vec![b'a'; 100]).file_name("n.csv"),
    );
    let resp = send(twice).await.unwrap();
    assert_field_error(resp, "file", "duplicate_part").await;
}

#[tokio::test]
async fn imports_refuse_too_many_rows_and_cells() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    // 100,001 data rows.
    let mut csv = String::from("统一社会信用代码,名称\n");
    for i in 0..100_001u64 {
        csv.push_str(&format!("{},商户{i}\n", uscc_for("513201", i)));
    }
    let resp = app
        .upload_as(
            &reg.token,
            "/api/v1/imports?dry_run=true",
            "big.csv",
            csv.into_bytes(),
            &[],
        )
        .await;
    assert_field_error(resp, "file", "too_many_rows").await;
    // A row wider than any merchant file: 300 columns.
    let mut csv = String::from("统一社会信用代码,名称\n");
    csv.push_str(&format!("{},藏家饭店", uscc_for("513201", 1)));
    csv.push_str(&",x".repeat(300));
    csv.push('\n');
    let resp = app
        .upload_as(
            &reg.token,
            "/api/v1/imports?dry_run=true",
            "wide.csv",
            csv.into_bytes(),
            &[],
        )
        .await;
    assert_field_error(resp, "file", "too_many_columns").await;
    // 20,000 rows of 255 columns: too many cells for one import.
    let line = format!("{}x\n", ",".repeat(254));
    let csv = format!("统一社会信用代码,名称\n{}", line.repeat(20_000));
    let resp = app
        .upload_as(
            &reg.token,
            "/api/v1/imports?dry_run=true",
            "cells.csv",
            csv.into_bytes(),
            &[],
        )
        .await;
    assert_field_error(resp, "file", "too_many_cells").await;
}

#[tokio::test]
async fn a_sparse_xlsx_does_not_allocate_its_rectangle() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "统一社会信用代码").unwrap();
    sheet.write_string(0, 1, "名称").unwrap();
    sheet.write_string(1, 0, uscc_for("513201", 3)).unwrap();
    sheet.write_string(1, 1, "藏家饭店").unwrap();
    // One cell far away: rows × columns would be 16 billion cells.
    sheet.write_string(1_000_000, 16_000, "远").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let started = Instant::now();
    let resp = app
        .upload_as(
            &reg.token,
            "/api/v1/imports?dry_run=true",
            "sparse.xlsx",
            bytes,
            &[],
        )
        .await;
    assert_field_error(resp, "file", "too_many_columns").await;
    assert!(started.elapsed() < Duration::from_secs(10));

    // Far down but in a normal column: read sparsely, and the row keeps its number.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "统一社会信用代码").unwrap();
    sheet.write_string(0, 1, "名称").unwrap();
    sheet.write_string(1_000_000, 0, "bad").unwrap();
    sheet.write_string(1_000_000, 1, "远处的商户").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let resp = app
        .upload_as(
            &reg.token,
            "/api/v1/imports?dry_run=true",
            "far.xlsx",
            bytes,
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["rows"], 1, "{report}");
    assert_eq!(report["rejected"][0]["row"], 1_000_001);
}
