//! The merchant registry: CRUD per role, the authorization matrix, USCC rules, concurrency.

use serde_json::{json, Value};

use crate::helpers::{assert_field_error, assert_problem, spawn_app, uscc_for, TestApp};

fn body(uscc: &str, region: &str) -> Value {
    json!({
        "uscc": uscc,
        "name": "  壤塘县　藏家饭店 ",
        "legal_representative": "扎西",
        "category": "餐饮",
        "region_code": region,
        "address": "壤塘县壤柯镇中壤塘路 12 号",
        "phone": "（0837）2822222",
        "business_scope": "餐饮服务",
        "registered_on": "2019年5月20日",
        "status": "open",
        "opening_hours": "09:00-21:00",
        "opening_months": [5, 6, 7, 8, 9, 10],
        "pledges": ["明码标价", "诚信经营"]
    })
}

async fn create(app: &TestApp, token: &str, uscc: &str, region: &str) -> Value {
    let resp = app
        .post_as(token, "/api/v1/merchants", &body(uscc, region))
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

#[tokio::test]
async fn county_regulator_creates_in_jurisdiction_normalised_and_audited() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let uscc = uscc_for("513230", 1);
    let resp = app
        .post_as(
            &reg.token,
            "/api/v1/merchants",
            &body(&uscc.to_lowercase(), "513230"),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["uscc"], uscc);
    assert_eq!(m["name"], "壤塘县 藏家饭店");
    assert_eq!(m["category"], "restaurant");
    assert_eq!(m["phone"], "0837-2822222");
    assert_eq!(m["registered_on"], "2019-05-20");
    assert_eq!(m["grade"], "A");
    assert_eq!(m["grade_reasons"][0]["code"], "no_adverse_records");
    assert!(m["grade_reasons"][0]["message"]["zh"].is_string());
    assert!(m["grade_reasons"][0]["message"]["en"].is_string());
    assert_eq!(m["version"], 1);
    assert_eq!(etag, format!("\"m{}-v1\"", m["id"]));

    let mut conn = app.conn().await;
    let log = yidianyima::db::audit::for_entity(&mut conn, "merchant", &m["id"].to_string())
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "merchant.create");
    assert_eq!(log[0].actor_id, Some(reg.id));
    assert_eq!(log[0].after.as_ref().unwrap()["uscc"], uscc);
}

#[tokio::test]
async fn create_is_refused_outside_jurisdiction_for_merchants_and_for_duplicates() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let uscc = uscc_for("513231", 2);
    let resp = app
        .post_as(&reg.token, "/api/v1/merchants", &body(&uscc, "513231"))
        .await;
    assert_field_error(resp, "region_code", "outside_jurisdiction").await;

    let shop = app.merchant_in("513230").await;
    let owner = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(shop.id))
        .await;
    let resp = app
        .post_as(
            &owner.token,
            "/api/v1/merchants",
            &body(&uscc_for("513230", 3), "513230"),
        )
        .await;
    assert_problem(resp, 403, "forbidden").await;

    let uscc = uscc_for("513230", 4);
    create(&app, &reg.token, &uscc, "513230").await;
    let resp = app
        .post_as(&reg.token, "/api/v1/merchants", &body(&uscc, "513230"))
        .await;
    let p = assert_problem(resp, 409, "duplicate_uscc").await;
    assert!(p["detail"].as_str().unwrap().contains(&uscc));
}

#[tokio::test]
async fn each_uscc_rule_is_named() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513200"]).await;
    let valid = uscc_for("513230", 5);
    let mut org_broken: Vec<char> = valid.chars().collect();
    org_broken[12] = if org_broken[12] == '1' { '2' } else { '1' };
    let org_broken: String = org_broken.into_iter().collect();
    for (code, rule) in [
        ("9251323012345", "uscc_length"),
        ("92513230I0000005XX", "uscc_charset"),
        ("92A13230000000050X", "uscc_region"),
        (org_broken.as_str(), "uscc_org_code_check"),
    ] {
        let resp = app
            .post_as(&reg.token, "/api/v1/merchants", &body(code, "513230"))
            .await;
        let p = assert_field_error(resp, "uscc", rule).await;
        assert!(!p["errors"][0]["message"].as_str().unwrap().is_empty());
    }
    // Positions 3–8 must agree with region_code unless a reason is given.
    let resp = app
        .post_as(&reg.token, "/api/v1/merchants", &body(&valid, "513231"))
        .await;
    assert_field_error(resp, "region_code", "region_mismatch").await;
    let mut b = body(&valid, "513231");
    b["region_override_reason"] = json!("registered in Rangtang, trades in Aba county");
    let resp = app.post_as(&reg.token, "/api/v1/merchants", &b).await;
    assert_eq!(resp.status(), 201);

    // A wrong 18th (check) character is refused: a mistyped code must not become a public
    // record. A pilot-era code that really carries it is kept with a reason, shown to staff.
    let mut pilot = uscc_for("513230", 6);
    let last = pilot.pop().unwrap();
    pilot.push(if last == '0' { '1' } else { '0' });
    let resp = app
        .post_as(&reg.token, "/api/v1/merchants", &body(&pilot, "513230"))
        .await;
    let p = assert_field_error(resp, "uscc", "uscc_check_digit").await;
    assert!(p["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("uscc_check_override_reason"));
    let mut b = body(&pilot, "513230");
    b["uscc_check_override_reason"] = json!("2015 年试点期核发，与营业执照原件一致");
    let resp = app.post_as(&reg.token, "/api/v1/merchants", &b).await;
    assert_eq!(resp.status(), 201);
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["uscc_warning"], true);
    assert_eq!(m["warnings"][0]["code"], "uscc_check_char");
    assert_eq!(
        m["uscc_check_override_reason"],
        "2015 年试点期核发，与营业执照原件一致"
    );
    let audited = app
        .count(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'merchant.create' \
             AND after->>'uscc_check_override_reason' IS NOT NULL",
        )
        .await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn read_access_matrix() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let pref = app.regulator(&["513200"]).await;
    let county = app.regulator(&["513230"]).await;
    let other = app.regulator(&["513231"]).await;
    let shop = app.merchant_in("513230").await;
    let neighbour = app.merchant_in("513230").await;
    let owner = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(shop.id))
        .await;
    let path = format!("/api/v1/merchants/{}", shop.id);
    for (who, status) in [
        (&admin.token, 200),
        (&pref.token, 200),
        (&county.token, 200),
        (&other.token, 404),
        (&owner.token, 200),
    ] {
        assert_eq!(app.get_as(who, &path).await.status(), status, "{path}");
    }
    let resp = app
        .get_as(&owner.token, &format!("/api/v1/merchants/{}", neighbour.id))
        .await;
    assert_problem(resp, 404, "not_found").await;
    let resp = app.get_as(&owner.token, "/api/v1/merchants").await;
    assert_problem(resp, 403, "forbidden").await;
    let resp = app.get_as(&pref.token, "/api/v1/merchants/999999").await;
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn list_filters_scope_and_pages() {
    let app = spawn_app().await;
    let pref = app.regulator(&["513200"]).await;
    let county = app.regulator(&["513230"]).await;
    let a = create(&app, &pref.token, &uscc_for("513230", 11), "513230").await;
    let mut hotel = body(&uscc_for("513231", 12), "513231");
    hotel["name"] = json!("阿坝县草原宾馆");
    hotel["category"] = json!("hotel");
    hotel["status"] = json!("seasonal_closed");
    let resp = app.post_as(&pref.token, "/api/v1/merchants", &hotel).await;
    assert_eq!(resp.status(), 201);

    let all: Value = app
        .get_as(&pref.token, "/api/v1/merchants")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"], 2);
    assert_eq!(
        (all["page"].clone(), all["per_page"].clone()),
        (json!(1), json!(50))
    );
    let mine: Value = app
        .get_as(&county.token, "/api/v1/merchants")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], a["id"]);

    for (query, expect) in [
        ("q=草原", 1),
        ("q=%E8%97%8F%E5%AE%B6", 1), // 藏家
        (
            &format!("q={}", &uscc_for("513231", 12)[4..12].to_lowercase()),
            1,
        ),
        ("q=%25", 0),
        ("category=hotel", 1),
        ("status=seasonal_closed", 1),
        ("status=open&category=restaurant", 1),
        ("region=513231", 1),
        ("region=513200", 2),
        ("grade=A", 2),
        ("grade=D", 0),
        ("per_page=1&page=2", 2),
    ] {
        let page: Value = app
            .get_as(&pref.token, &format!("/api/v1/merchants?{query}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["total"], expect, "{query}: {page}");
    }
    let page: Value = app
        .get_as(&pref.token, "/api/v1/merchants?per_page=1&page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], a["id"], "newest first");

    let resp = app
        .get_as(
            &pref.token,
            "/api/v1/merchants?category=bar&grade=E&per_page=500",
        )
        .await;
    let p = assert_field_error(resp, "category", "invalid_category").await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"per_page"), "{p}");
}

#[tokio::test]
async fn merchant_edits_allowed_fields_only() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = create(&app, &reg.token, &uscc_for("513230", 21), "513230").await;
    let id = m["id"].as_i64().unwrap();
    let owner = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(id))
        .await;
    let path = format!("/api/v1/merchants/{id}");

    let resp = app
        .patch_as(
            &owner.token,
            &path,
            &json!({"phone": "+86 139 0837 0001", "status": "seasonal_closed",
                    "opening_months": [6, 7, 8], "description": "藏式火锅", "pledges": ["假一赔十"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["phone"], "13908370001");
    assert_eq!(after["status"], "seasonal_closed");
    assert_eq!(after["opening_months"], json!([6, 7, 8]));
    assert_eq!(after["version"], 2);

    for forbidden in [
        json!({"name": "改名"}),
        json!({"uscc": uscc_for("513230", 22)}),
        json!({"phone": "13908370002", "category": "hotel"}),
        json!({"status": "closed"}),
    ] {
        let resp = app.patch_as(&owner.token, &path, &forbidden).await;
        assert_problem(resp, 403, "forbidden").await;
    }
    // Nothing changed by the refused requests.
    let now: Value = app.get_as(&reg.token, &path).await.json().await.unwrap();
    assert_eq!(now["version"], 2);
    assert_eq!(now["phone"], "13908370001");

    let resp = app
        .patch_as(&owner.token, &path, &json!({"phone": "12"}))
        .await;
    assert_field_error(resp, "phone", "invalid_phone").await;

    // Another merchant's record does not exist for this owner.
    let other = app.merchant_in("513230").await;
    let resp = app
        .patch_as(
            &owner.token,
            &format!("/api/v1/merchants/{}", other.id),
            &json!({"phone": "13908370003"}),
        )
        .await;
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn regulators_patch_any_field_with_optimistic_concurrency() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let other_county = app.regulator(&["513231"]).await;
    let m = create(&app, &reg.token, &uscc_for("513230", 31), "513230").await;
    let path = format!("/api/v1/merchants/{}", m["id"]);

    let resp = app.get_as(&reg.token, &path).await;
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let resp = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&reg.token)
        .header("If-Match", &etag)
        .json(&json!({"name": "壤塘县藏家饭店（总店）", "status": "closed", "address": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let new_etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["status"], "closed");
    assert_eq!(after["address"], Value::Null);

    // The old ETag and an old version number are both stale now.
    let resp = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&reg.token)
        .header("If-Match", &etag)
        .json(&json!({"name": "lost update"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 409, "stale_version").await;
    let resp = app
        .patch_as(
            &reg.token,
            &path,
            &json!({"name": "lost update", "version": 1}),
        )
        .await;
    assert_problem(resp, 409, "stale_version").await;

    let resp = app
        .patch_as(&reg.token, &path, &json!({"colour": "red"}))
        .await;
    assert_field_error(resp, "colour", "unknown_field").await;
    let resp = app
        .patch_as(
            &reg.token,
            &path,
            &json!({"name": 5, "opening_months": "summer"}),
        )
        .await;
    let p = assert_field_error(resp, "name", "invalid_type").await;
    assert!(p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["field"] == "opening_months"));
    let resp = app
        .patch_as(&other_county.token, &path, &json!({"name": "x"}))
        .await;
    assert_problem(resp, 404, "not_found").await;
    let resp = app
        .patch_as(
            &reg.token,
            &path,
            &json!({"region_code": "513231", "region_override_reason": "moved"}),
        )
        .await;
    assert_field_error(resp, "region_code", "outside_jurisdiction").await;

    let mut conn = app.conn().await;
    let log = yidianyima::db::audit::for_entity(&mut conn, "merchant", &m["id"].to_string())
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].action, "merchant.update");
    assert_eq!(log[1].before.as_ref().unwrap()["status"], "open");
    assert_eq!(log[1].after.as_ref().unwrap()["status"], "closed");
}
