//! Indicators on a hand-computed fixture, as JSON, CSV and XLSX.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::Days;
use serde_json::{json, Value};

use crate::complaints::{file, make_overdue, shop};
use crate::helpers::{assert_field_error, spawn_app};
use yidianyima::domain::user::Role;

async fn act(app: &crate::helpers::TestApp, token: &str, id: i64, body: Value) {
    let r = app
        .post_as(token, &format!("/api/v1/complaints/{id}/actions"), &body)
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn public(app: &crate::helpers::TestApp, path: &str, body: Value) {
    let r = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn indicators_on_a_hand_computed_fixture() {
    let app = spawn_app().await;
    let prefecture = app.regulator(&["513200"]).await;
    let county = app.regulator(&["513230"]).await;
    let today = yidianyima::domain::time::china_date(chrono::Utc::now());
    // 513230: a restaurant and a seasonal hotel with codes, one merchant without; 513231: a
    // pharmacy with a code.
    let m1 = shop(&app, &prefecture, "513230").await;
    let m2 = shop(&app, &prefecture, "513230").await;
    let _m3 = app.merchant_in("513230").await;
    let m4 = shop(&app, &prefecture, "513231").await;
    for (id, patch) in [
        (m1.id, json!({"category": "restaurant"})),
        (
            m2.id,
            json!({"category": "hotel", "status": "seasonal_closed"}),
        ),
        (m4.id, json!({"category": "pharmacy"})),
    ] {
        let r = app
            .patch_as(
                &prefecture.token,
                &format!("/api/v1/merchants/{id}"),
                &patch,
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    for (id, result, day) in [
        (m1.id, "pass", today),
        (m1.id, "fail", today),
        (m4.id, "rectify", today),
        (m4.id, "fail", today - Days::new(400)),
    ] {
        let r = app
            .post_as(
                &prefecture.token,
                &format!("/api/v1/merchants/{id}/inspections"),
                &json!({"kind": "routine", "inspected_on": day.to_string(),
                        "department": "县市场监管局", "result": result}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    for code in [&m1.code, &m1.code, &m4.code] {
        let r = app
            .client
            .get(app.url(&format!("/s/{code}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let t = &prefecture.token;
    // c1: accepted, resolved recovering 15 yuan, rated satisfied.
    let (n1, c1) = file(&app, &m1.code, "13800000001").await;
    act(&app, t, c1, json!({"action": "accept"})).await;
    act(
        &app,
        t,
        c1,
        json!({"action": "resolve", "amount_recovered_fen": 1500}),
    )
    .await;
    public(
        &app,
        &format!("/api/v1/public/complaints/{n1}/rating"),
        json!({"phone": "13800000001", "rating": "satisfied"}),
    )
    .await;
    // c2: rejected, rated dissatisfied.
    let (n2, c2) = file(&app, &m1.code, "13800000002").await;
    act(
        &app,
        t,
        c2,
        json!({"action": "reject", "note": "不属于消费纠纷"}),
    )
    .await;
    public(
        &app,
        &format!("/api/v1/public/complaints/{n2}/rating"),
        json!({"phone": "13800000002", "rating": "dissatisfied"}),
    )
    .await;
    // c3: open and overdue.
    let (_, c3) = file(&app, &m2.code, "13800000003").await;
    // c4: settled in the green channel for 30 yuan, rated basically satisfied.
    let (n4, c4) = file(&app, &m2.code, "13800000004").await;
    let owner = app.user(Role::Merchant, &[], Some(m2.id)).await;
    act(
        &app,
        &owner.token,
        c4,
        json!({"action": "propose", "note": "退款", "amount_recovered_fen": 3000}),
    )
    .await;
    public(
        &app,
        &format!("/api/v1/public/complaints/{n4}/confirm"),
        json!({"phone": "13800000004", "accept": true}),
    )
    .await;
    public(
        &app,
        &format!("/api/v1/public/complaints/{n4}/rating"),
        json!({"phone": "13800000004", "rating": "basically_satisfied"}),
    )
    .await;
    // c5 (513231): accepted, concluded after its deadline.
    let (_, c5) = file(&app, &m4.code, "13800000005").await;
    act(&app, t, c5, json!({"action": "accept"})).await;
    make_overdue(&app, c3).await;
    make_overdue(&app, c5).await;
    act(&app, t, c5, json!({"action": "resolve"})).await;
    // The background job notices the complaint that went overdue (a GET writes nothing).
    yidianyima::jobs::refresh_grades(&app.state).await.unwrap();

    let from = (today - Days::new(30)).to_string();
    let q = format!("from={from}&to={today}");
    let r: Value = app
        .get_as(t, &format!("/api/v1/stats?{q}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["regions"].as_array().unwrap().len(),
        13,
        "every county, no prefecture row"
    );
    let row = |code: &str| {
        r["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["region_code"] == code)
            .unwrap()
            .clone()
    };
    let a = row("513230");
    assert_eq!(a["merchants"]["total"], 3);
    assert_eq!(a["merchants"]["with_active_code"], 2);
    assert_eq!(a["merchants"]["by_category"]["restaurant"], 1);
    assert_eq!(a["merchants"]["by_category"]["other"], 1);
    assert_eq!(a["merchants"]["by_status"]["seasonal_closed"], 1);
    assert_eq!(
        a["merchants"]["by_grade"]["B"], 2,
        "a failed inspection, an overdue complaint"
    );
    assert_eq!(a["scans"], 2);
    let c = &a["complaints"];
    assert_eq!(
        (
            c["received"].clone(),
            c["handled"].clone(),
            c["handled_rate"].clone()
        ),
        (json!(4), json!(3), json!(0.75))
    );
    assert_eq!(
        (c["on_time"].clone(), c["on_time_rate"].clone()),
        (json!(3), json!(1.0))
    );
    assert_eq!(c["overdue_open"], 1);
    assert_eq!(c["rated"], 3);
    assert_eq!(c["satisfaction_rate"], 0.6667);
    assert_eq!(c["amount_claimed_fen"], 6000);
    assert_eq!(c["amount_recovered_fen"], 4500);
    assert_eq!(c["recovery_rate"], 0.75);
    assert_eq!(a["inspections"]["count"], 2);
    assert_eq!(a["inspections"]["fail_rate"], 0.5);
    let b = row("513231");
    assert_eq!(b["complaints"]["on_time_rate"], 0.0);
    assert_eq!(
        b["inspections"]["count"], 1,
        "the old one is outside the period"
    );
    assert_eq!(b["inspections"]["rectify"], 1);
    let empty = row("513221");
    assert!(
        empty["complaints"]["handled_rate"].is_null(),
        "no complaints: no rate"
    );
    let tot = &r["total"];
    assert_eq!(tot["merchants"]["total"], 4);
    assert_eq!(tot["merchants"]["with_active_code"], 3);
    assert_eq!(tot["scans"], 3);
    assert_eq!(tot["complaints"]["received"], 5);
    assert_eq!(tot["complaints"]["handled_rate"], 0.8);
    assert_eq!(tot["complaints"]["on_time_rate"], 0.75);
    assert_eq!(tot["complaints"]["recovery_rate"], 0.5625);
    assert_eq!(tot["inspections"]["fail_rate"], 0.3333);

    // A county regulator sees its county only, and cannot ask for another.
    let own: Value = app
        .get_as(&county.token, &format!("/api/v1/stats?{q}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["regions"].as_array().unwrap().len(), 1);
    assert_eq!(own["total"]["complaints"]["received"], 4);
    let resp = app
        .get_as(&county.token, &format!("/api/v1/stats?region=513231&{q}"))
        .await;
    // Outside the jurisdiction is unknown, as a merchant or complaint there would be.
    crate::helpers::assert_problem(resp, 404, "not_found").await;
    let resp = app.get_as(t, "/api/v1/stats?from=2026-13-01").await;
    assert_field_error(resp, "from", "invalid_date").await;
    assert_eq!(
        app.get_as(&owner.token, "/api/v1/stats").await.status(),
        403
    );
    // Only the period counts.
    let before: Value = app
        .get_as(
            t,
            &format!("/api/v1/stats?from=2020-01-01&to={}", today - Days::new(31)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["total"]["complaints"]["received"], 0);
    assert_eq!(before["total"]["inspections"]["count"], 1);

    // CSV: the same figures.
    let resp = app
        .get_as(t, &format!("/api/v1/stats.csv?region=513200&{q}"))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = resp.text().await.unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rd.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<HashMap<String, String>> = rd
        .records()
        .map(|r| {
            headers
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect();
    let total = rows.iter().find(|r| r["region_code"] == "total").unwrap();
    assert_eq!(total["complaints_received"], "5");
    assert_eq!(total["handled_rate"], "0.8000");
    assert_eq!(total["amount_recovered_fen"], "4500");
    assert_eq!(total["category_pharmacy"], "1");
    let a = rows.iter().find(|r| r["region_code"] == "513230").unwrap();
    assert_eq!(a["satisfaction_rate"], "0.6667");
    assert_eq!(a["scans"], "2");

    // XLSX: read back.
    let resp = app.get_as(t, &format!("/api/v1/stats.xlsx?{q}")).await;
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("indicators").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    assert_eq!(rows[0][0], Data::String("行政区划代码".into()));
    let keys: Vec<String> = rows[1].iter().map(|d| d.to_string()).collect();
    let col = |k: &str| keys.iter().position(|x| x == k).unwrap();
    let total = rows
        .iter()
        .find(|r| r[0] == Data::String("total".into()))
        .unwrap();
    assert_eq!(total[col("complaints_received")], Data::Float(5.0));
    assert_eq!(total[col("on_time_rate")], Data::Float(0.75));
    assert_eq!(total[col("inspections")], Data::Float(3.0));
}

/// With `STATS_CACHE_SECS` set, the same report asked again within it is the one computed first
/// (seconds of PostgreSQL each over 10^5 merchants); another period is computed afresh.
#[tokio::test]
async fn a_report_is_reused_within_the_stats_cache_time() {
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        stats_cache: std::time::Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    let reg = app.regulator(&["513230"]).await;
    app.merchant_in("513230").await;
    let total = |q: &'static str| {
        let (app, token) = (&app, reg.token.clone());
        async move {
            let r: Value = app
                .get_as(&token, &format!("/api/v1/stats?{q}"))
                .await
                .json()
                .await
                .unwrap();
            r["total"]["merchants"]["total"].as_i64().unwrap()
        }
    };
    assert_eq!(total("region=513230").await, 1);
    app.merchant_in("513230").await;
    assert_eq!(
        total("region=513230").await,
        1,
        "reused within the cache time"
    );
    assert_eq!(
        total("region=513230&from=2026-06-01").await,
        2,
        "another period is computed afresh"
    );
}
