use serde_json::{json, Value};
use yidianyima::db;

use crate::helpers::{assert_problem, spawn_app};

async fn add(app: &crate::helpers::TestApp, from: &str, days: u32) -> Value {
    app.get_json(&format!(
        "/api/v1/calendar/add-working-days?from={from}&days={days}"
    ))
    .await
}

#[tokio::test]
async fn seeded_2026_calendar_and_arithmetic_across_national_day() {
    let app = spawn_app().await;
    let cal: Value = app.get_json("/api/v1/calendar/2026").await;
    let holidays = cal["holidays"].as_array().unwrap();
    for d in [
        "2026-10-01",
        "2026-10-07",
        "2026-09-25",
        "2026-02-15",
        "2026-02-23",
    ] {
        assert!(holidays.contains(&json!(d)), "{d}");
    }
    assert_eq!(
        cal["workdays"],
        json!([
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10"
        ])
    );

    // A complaint received Wed 30 Sep 2026: 7 working days = 8, 9, 10 (Sat, make-up), 12–15 Oct.
    let a = add(&app, "2026-09-30", 7).await;
    assert_eq!(a["date"], "2026-10-15");
    assert_eq!(a["calendar_complete"], true);
    assert_eq!(add(&app, "2026-09-30", 3).await["date"], "2026-10-10");
    // Fri 18 Sep: the next working day is Sun 20 Sep (make-up)
    assert_eq!(add(&app, "2026-09-18", 1).await["date"], "2026-09-20");
    // 45 working days from acceptance on 15 Oct 2026
    assert_eq!(add(&app, "2026-10-15", 45).await["date"], "2026-12-17");
    // 2025 National Day + Mid-Autumn (1–8 Oct, make-up 28 Sep and 11 Oct)
    assert_eq!(add(&app, "2025-09-30", 2).await["date"], "2025-10-10");
    assert_eq!(add(&app, "2025-09-30", 3).await["date"], "2025-10-11");
    // a span reaching 2027, whose schedule is not loaded, is flagged
    assert_eq!(
        add(&app, "2026-12-20", 30).await["calendar_complete"],
        false
    );
    let resp = app
        .client
        .get(app.url("/api/v1/calendar/add-working-days?from=2026-01-01&days=401"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 422, "validation_failed").await;
}

#[tokio::test]
async fn admin_replaces_a_year_audited_and_others_cannot() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let regulator = app.regulator(&["513200"]).await;
    let schedule = json!({
        "holidays": ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"],
        "workdays": ["2027-02-13"]
    });
    let resp = app
        .put_as(&regulator.token, "/api/v1/calendar/2027", &schedule)
        .await;
    assert_problem(resp, 403, "forbidden").await;

    let resp = app
        .put_as(&admin.token, "/api/v1/calendar/2027", &schedule)
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["year"], 2027);
    assert_eq!(body["workdays"], json!(["2027-02-13"]));
    // Thu 4 Feb 2027 + 1 working day skips the holiday (5–8 Feb) and the weekend… to Tue 9 Feb
    assert_eq!(add(&app, "2027-02-04", 1).await["date"], "2027-02-09");
    // Sat 13 Feb is a make-up working day
    assert_eq!(add(&app, "2027-02-12", 1).await["date"], "2027-02-13");

    let mut conn = app.conn().await;
    let audit = db::audit::for_entity(&mut conn, "calendar", "2027")
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor_id, Some(admin.id));
    assert_eq!(audit[0].before.as_ref().unwrap()["holidays"], json!([]));
    assert_eq!(
        audit[0].after.as_ref().unwrap()["workdays"],
        json!(["2027-02-13"])
    );

    // invalid: nothing changes
    let bad =
        json!({"holidays": ["2027-03-01", "2026-12-31"], "workdays": ["2027-03-01", "2027-03-02"]});
    let resp = app
        .put_as(&admin.token, "/api/v1/calendar/2027", &bad)
        .await;
    let problem = assert_problem(resp, 422, "validation_failed").await;
    let codes: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![
            "wrong_year",
            "both_holiday_and_workday",
            "not_a_weekend_day"
        ]
    );
    let now: Value = app.get_json("/api/v1/calendar/2027").await;
    assert_eq!(now["holidays"], schedule["holidays"]);
    assert_eq!(
        db::audit::for_entity(&mut conn, "calendar", "2027")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn complaint_deadline_rules_are_versioned_settings() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let regulator = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let merchant = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(shop.id))
        .await;

    let rules: Value = app
        .get_as(&regulator.token, "/api/v1/settings/complaint-deadlines")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["accept_working_days"], 7);
    assert_eq!(rules[0]["conclude_working_days"], 45);
    assert_eq!(rules[0]["green_channel_working_days"], 10);
    let resp = app
        .get_as(&merchant.token, "/api/v1/settings/complaint-deadlines")
        .await;
    assert_problem(resp, 403, "forbidden").await;

    let revised = json!({"accept_working_days": 5, "conclude_working_days": 30,
                         "green_channel_working_days": 7, "note": "2026 revision"});
    let path = "/api/v1/settings/complaint-deadlines/2026-07-15";
    assert_problem(
        app.put_as(&regulator.token, path, &revised).await,
        403,
        "forbidden",
    )
    .await;
    let bad = json!({"accept_working_days": 0, "conclude_working_days": 400,
                     "green_channel_working_days": -1});
    let problem = assert_problem(
        app.put_as(&admin.token, path, &bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3);
    let resp = app.put_as(&admin.token, path, &revised).await;
    assert_eq!(resp.status(), 200);

    // a complaint follows the rule in force on the day it was received
    let mut conn = app.conn().await;
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let before = db::calendar::deadline_rule_on(&mut conn, d("2026-07-14"))
        .await
        .unwrap()
        .unwrap();
    let after = db::calendar::deadline_rule_on(&mut conn, d("2026-07-15"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (before.accept_working_days, after.accept_working_days),
        (7, 5)
    );
    let audit = db::audit::for_entity(&mut conn, "complaint_deadline_rule", "2026-07-15")
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].before.is_none());
    assert_eq!(
        audit[0].after.as_ref().unwrap()["conclude_working_days"],
        30
    );
}
