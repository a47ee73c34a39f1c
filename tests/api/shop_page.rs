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

/// The scan page reads its facts in one statement (`db::merchants::scan_page_facts`); what it
/// reads must be what the per-table reads give, record for record and in the same order, for
/// every demo shop and for one given every kind of record the page shows (withdrawn, expired,
/// hidden and closed ones among them, which the page must leave out).
#[tokio::test]
async fn the_scan_pages_one_statement_reads_what_the_per_table_reads_do() {
    use diesel_async::RunQueryDsl;
    use yidianyima::db;

    let app = spawn_app().await;
    yidianyima::demo::load_if_empty(&app.state.pool)
        .await
        .unwrap();
    let mut conn = app.conn().await;
    let today = yidianyima::domain::time::china_date(chrono::Utc::now());

    #[derive(diesel::QueryableByName)]
    struct Shop {
        #[diesel(sql_type = diesel::sql_types::Text)]
        code: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        region_code: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        category: String,
    }
    let shops: Vec<Shop> = diesel::sql_query(
        "SELECT c.code, m.id, m.region_code, m.category FROM shop_codes c \
         JOIN merchants m ON m.id = c.merchant_id ORDER BY m.id",
    )
    .load(&mut *conn)
    .await
    .unwrap();
    assert!(shops.len() > 1000, "the demo's shops have codes");
    // One shop gets every kind of record, including those the page must not show.
    let s = &shops[0];
    let (id, region, county_prefix) = (s.id, &s.region_code, &s.region_code[..4]);
    let setup = format!(
        "INSERT INTO credit_records (merchant_id, kind, department, decision_no, decided_on, summary, publicity_until, withdrawn_at)
           VALUES ({id}, 'penalty', '局', 'A-1', '{today}'::date - 30, '在公示期', '{today}'::date + 30, NULL),
                  ({id}, 'penalty', '局', 'A-2', '{today}'::date - 30, '同日，后录', NULL, NULL),
                  ({id}, 'penalty', '局', 'A-3', '{today}'::date - 400, '公示期已过', '{today}'::date - 1, NULL),
                  ({id}, 'penalty', '局', 'A-4', '{today}'::date - 20, '已撤回', NULL, now());
         INSERT INTO inspections (merchant_id, kind, inspected_on, department, result, summary, withdrawn_at)
           VALUES ({id}, 'routine', '{today}'::date - 5, '局', 'pass', '合格', NULL),
                  ({id}, 'routine', '{today}'::date - 5, '局', 'fail', '同日', NULL),
                  ({id}, 'routine', '{today}'::date - 3, '局', 'fail', '已撤回', now());
         INSERT INTO licences (merchant_id, kind, number, issuer, valid_from, valid_until)
           VALUES ({id}, 'food_business', 'JY1', '局', '{today}'::date - 100, NULL),
                  ({id}, 'food_business', 'JY2', '局', '{today}'::date - 10, '{today}'::date + 100);
         INSERT INTO photos (merchant_id, kind, width, height, display, thumb_width, thumb_height, thumb, public_id)
           VALUES ({id}, 'storefront', 800, 600, '\\x00', 80, 60, '\\x00', repeat('a', 32)),
                  ({id}, 'storefront', 640, 480, '\\x00', 64, 48, '\\x00', repeat('b', 32)),
                  ({id}, 'interior', 640, 480, '\\x00', 64, 48, '\\x00', repeat('c', 32));
         INSERT INTO complaints (tracking_no, merchant_id, shop_code, region_code, consumer_name, consumer_phone,
             category, description, status, received_on, accept_deadline, conclude_deadline, closed_at, request_hash)
           VALUES ('900000000001', {id}, '{code}', '{region}', '甲', '13900000001', 'quality', '逾期未受理', 'submitted',
                   '{today}'::date - 20, '{today}'::date - 13, NULL, NULL, 'h1'),
                  ('900000000002', {id}, '{code}', '{region}', '乙', '13900000002', 'quality', '待受理', 'submitted',
                   '{today}'::date - 1, '{today}'::date + 6, NULL, NULL, 'h2'),
                  ('900000000003', {id}, '{code}', '{region}', '丙', '13900000003', 'quality', '已受理', 'accepted',
                   '{today}'::date - 9, '{today}'::date - 2, '{today}'::date + 30, NULL, 'h3'),
                  ('900000000004', {id}, '{code}', '{region}', '丁', '13900000004', 'price', '已解决', 'resolved',
                   '{today}'::date - 40, '{today}'::date - 33, NULL, now(), 'h4'),
                  ('900000000005', {id}, '{code}', '{region}', '戊', '13900000005', 'price', '一年多以前', 'resolved',
                   '{today}'::date - 400, '{today}'::date - 393, NULL, now(), 'h5');
         INSERT INTO warnings (region_code, category, title, body, valid_until)
           VALUES (NULL, NULL, '全域', '正文', '{today}'::date + 1),
                  ('{region}', '{category}', '本县本类', '正文', '{today}'),
                  ('{county_prefix}00', NULL, '本州', '正文', '{today}'::date + 5),
                  ('{region}', '{other_category}', '他类', '正文', '{today}'::date + 5),
                  ((SELECT code FROM regions WHERE code <> '{region}' AND code NOT LIKE '%00' LIMIT 1), NULL, '他处', '正文', '{today}'::date + 5),
                  (NULL, NULL, '已过期', '正文', '{today}'::date - 1);
         INSERT INTO record_replies (merchant_id, record_kind, record_id, body, hidden_at, hidden_reason)
           SELECT {id}, 'credit_record', id, '说明：已整改。', NULL, NULL FROM credit_records WHERE decision_no = 'A-1' AND merchant_id = {id};
         INSERT INTO record_replies (merchant_id, record_kind, record_id, body, hidden_at, hidden_reason)
           SELECT {id}, 'inspection', id, '已隐藏', now(), '辱骂' FROM inspections WHERE summary = '合格' AND merchant_id = {id};
         INSERT INTO record_replies (merchant_id, record_kind, record_id, body)
           SELECT {id}, 'complaint', id, '已退款' FROM complaints WHERE tracking_no = '900000000004';
         INSERT INTO objections (merchant_id, record_kind, record_id, reason, status, deadline, decided_at)
           SELECT {id}, 'inspection', id, '有误', 'open', '{today}'::date + 10, NULL FROM inspections WHERE summary = '同日' AND merchant_id = {id};
         INSERT INTO objections (merchant_id, record_kind, record_id, reason, status, deadline, decided_at)
           SELECT {id}, 'credit_record', id, '有误', 'removed', '{today}'::date + 10, now() FROM credit_records WHERE decision_no = 'A-2' AND merchant_id = {id};",
        code = s.code,
        category = s.category,
        other_category = if s.category == "hotel" { "retail" } else { "hotel" },
    );
    for statement in setup.split(";\n") {
        diesel::sql_query(statement)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{e}: {statement}"));
    }

    let mut compared = 0;
    for shop in &shops {
        let facts = db::merchants::scan_page_facts(&mut *conn, &shop.code, today)
            .await
            .unwrap();
        let id = shop.id;
        let credit = db::merchants::credit_records_of(&mut conn, id, Some(today), i64::MAX)
            .await
            .unwrap();
        let inspections =
            db::merchants::inspections_of(&mut conn, id, db::merchants::INSPECTIONS_LOADED)
                .await
                .unwrap();
        let licences = db::merchants::licences_of(&mut conn, id, db::merchants::RECORDS_SHOWN)
            .await
            .unwrap();
        let storefront = db::merchants::photos_of(&mut conn, id)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.kind == "storefront");
        let overdue = db::complaints::overdue_of(&mut *conn, id, today)
            .await
            .unwrap();
        let since = today.checked_sub_months(chrono::Months::new(12)).unwrap();
        let stats = db::complaints::public_stats(&mut *conn, id, since)
            .await
            .unwrap();
        let region = yidianyima::domain::region::RegionCode::parse(&shop.region_code).unwrap();
        let warnings =
            db::complaints::active_warnings(&mut *conn, today, Some(&region), Some(&shop.category))
                .await
                .unwrap();
        let replies = db::replies::public_of(&mut *conn, id).await.unwrap();
        let objected = db::objections::open_of(&mut *conn, id).await.unwrap();
        let ctx = format!("shop {} ({})", shop.id, shop.code);
        assert_eq!(json(&facts.credit), json(&credit), "credit, {ctx}");
        assert_eq!(
            json(&facts.inspections),
            json(&inspections),
            "inspections, {ctx}"
        );
        assert_eq!(json(&facts.licences), json(&licences), "licences, {ctx}");
        assert_eq!(
            json(&facts.storefront),
            json(&storefront),
            "storefront, {ctx}"
        );
        assert_eq!(facts.overdue, overdue, "overdue, {ctx}");
        assert_eq!(facts.stats, stats, "stats, {ctx}");
        assert_eq!(json(&facts.warnings), json(&warnings), "warnings, {ctx}");
        assert_eq!(json(&facts.replies), json(&replies), "replies, {ctx}");
        assert_eq!(facts.objected, objected, "objections, {ctx}");
        compared += 1;
    }
    assert_eq!(compared, shops.len());

    // The shop given every kind of record shows what it should, so the comparison above was
    // not between two empty reads.
    let f = db::merchants::scan_page_facts(&mut *conn, &shops[0].code, today)
        .await
        .unwrap();
    let credit: Vec<&str> = f.credit.iter().map(|r| r.decision_no.as_str()).collect();
    let at = |no: &str| credit.iter().position(|c| *c == no);
    assert!(
        at("A-2").unwrap() < at("A-1").unwrap(),
        "same day: newer id first: {credit:?}"
    );
    assert!(
        !credit.contains(&"A-3") && !credit.contains(&"A-4"),
        "{credit:?}"
    );
    assert!(f.inspections.iter().all(|i| i.summary != "已撤回"));
    assert_eq!(f.storefront.as_ref().map(|p| p.width), Some(640));
    assert_eq!(
        f.overdue.0, 1,
        "the submitted one past its deadline to accept"
    );
    assert_eq!(f.overdue.1, Some(today + chrono::Days::new(7)));
    assert_eq!((f.stats.0, f.stats.1), (4, 1));
    let titles: Vec<&str> = f.warnings.iter().map(|w| w.title.as_str()).collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(!titles.contains(&"他类") && !titles.contains(&"他处") && !titles.contains(&"已过期"));
    assert_eq!(f.replies.len(), 2);
    assert_eq!(f.replies[1].1.as_deref(), Some("price"));
    assert_eq!(f.objected.len(), 1);
    assert_eq!(f.objected[0].0, "inspection");

    // The statement stays prepared on the connection (a `sql_query` is parsed and planned on
    // every execution, which cost PostgreSQL more than running it).
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let prepared = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%json_build_object(''credit''%'",
    )
    .get_result::<N>(&mut *conn)
    .await
    .unwrap();
    assert_eq!(prepared.n, 1, "the facts' statement is kept prepared");

    // A code that leads nowhere reads nothing.
    let none = db::merchants::scan_page_facts(&mut *conn, "ZZZZZZZZZZ", today)
        .await
        .unwrap();
    assert!(none.credit.is_empty() && none.warnings.is_empty() && none.storefront.is_none());
    assert_eq!((none.overdue, none.stats), ((0, None), (0, 0, None)));
}

/// Rows as JSON, to compare rows that do not implement `PartialEq`.
fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}
