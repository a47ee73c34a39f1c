//! Who may do what, decided before validation, and answered the same way everywhere.

use serde_json::{json, Value};

use crate::complaints::{file, shop};
use crate::helpers::{assert_problem, spawn_app};
use yidianyima::domain::user::Role;

#[tokio::test]
async fn a_merchant_cannot_reopen_a_listing_a_regulator_closed() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let path = format!("/api/v1/merchants/{}", m.id);
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    // Seasonal closing and reopening is the merchant's own business.
    for status in ["seasonal_closed", "open"] {
        let resp = app
            .patch_as(&owner.token, &path, &json!({"status": status}))
            .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let resp = app
        .patch_as(&reg.token, &path, &json!({"status": "closed"}))
        .await;
    assert_eq!(resp.status(), 200);
    for status in ["open", "seasonal_closed", "营业"] {
        let resp = app
            .patch_as(&owner.token, &path, &json!({"status": status}))
            .await;
        assert_problem(resp, 403, "forbidden").await;
    }
    // Other fields stay the merchant's to edit.
    let resp = app
        .patch_as(&owner.token, &path, &json!({"phone": "0837-2822225"}))
        .await;
    assert_eq!(resp.status(), 200);
    let m: Value = app.get_as(&reg.token, &path).await.json().await.unwrap();
    assert_eq!(m["status"], "closed");
}

#[tokio::test]
async fn account_rights_come_before_validation() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    for role in ["admin", "regulator"] {
        let resp = app
            .post_as(
                &reg.token,
                "/api/v1/users",
                &json!({
                "username": "x", "password": "short", "role": role, "region_codes": ["nope"]}),
            )
            .await;
        assert_problem(resp, 403, "forbidden").await;
    }
}

#[tokio::test]
async fn a_region_outside_the_jurisdiction_is_unknown_everywhere() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    for path in [
        "/api/v1/stats?region=513231",
        "/api/v1/stats.csv?region=513231",
        "/api/v1/merchants?region=513231",
        "/api/v1/complaints?region=513231",
        // before any other field is validated
        "/api/v1/stats?region=513231&from=nope",
        "/api/v1/merchants?region=513231&category=nope",
    ] {
        assert_problem(app.get_as(&reg.token, path).await, 404, "not_found").await;
    }
    for path in [
        "/api/v1/stats?region=513230",
        "/api/v1/merchants?region=513230",
    ] {
        assert_eq!(app.get_as(&reg.token, path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn merchants_see_the_role_that_acted_not_the_officer() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let (_, id) = file(&app, &s.code, "13812345678").await;
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/complaints/{id}/actions"),
            &json!({"action": "reject", "note": "不属于本局管辖"}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let path = format!("/api/v1/complaints/{id}");
    let staff: Value = app.get_as(&reg.token, &path).await.json().await.unwrap();
    let step = &staff["timeline"][1];
    assert_eq!(step["actor_role"], "regulator");
    assert_eq!(step["actor"], reg.username.as_str(), "{staff}");
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let seen: Value = app.get_as(&owner.token, &path).await.json().await.unwrap();
    let step = &seen["timeline"][1];
    assert_eq!(step["actor_role"], "regulator");
    assert!(step.get("actor").is_none(), "{seen}");
    assert!(!seen.to_string().contains(&reg.username));
}

#[tokio::test]
async fn a_merchant_is_refused_a_warning_before_its_fields_are_checked() {
    let app = spawn_app().await;
    let m = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    // Every field wrong: the merchant may not publish at all, so that is the answer.
    let resp = app
        .post_as(
            &owner.token,
            "/api/v1/warnings",
            &json!({"region_code": "nope", "title": "", "body": "", "valid_until": "soon"}),
        )
        .await;
    assert_problem(resp, 403, "forbidden").await;
}

#[tokio::test]
async fn a_complaint_outside_the_jurisdiction_is_unknown_whatever_the_action() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let other_county = app.regulator(&["513231"]).await;
    let s = shop(&app, &reg, "513230").await;
    let (_, id) = file(&app, &s.code, "13812345678").await;
    let path = format!("/api/v1/complaints/{id}/actions");
    // Not an action, and a note too long: still nothing to see here.
    let resp = app
        .post_as(
            &other_county.token,
            &path,
            &json!({"action": "bogus", "note": "x".repeat(3000)}),
        )
        .await;
    assert_problem(resp, 404, "not_found").await;
    let resp = app
        .post_as(&reg.token, &path, &json!({"action": "bogus"}))
        .await;
    assert_eq!(resp.status(), 422);
}

#[tokio::test]
async fn a_consumer_with_the_wrong_phone_learns_nothing_from_a_bad_rating() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let (no, _) = file(&app, &s.code, "13812345678").await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/public/complaints/{no}/rating")))
        .json(&json!({"phone": "13900000000", "rating": "bogus"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn a_merchant_outside_the_jurisdiction_is_unknown_before_its_parameters_are_checked() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let other_county = app.regulator(&["513231"]).await;
    let s = shop(&app, &reg, "513230").await;
    for path in [
        format!("/api/v1/merchants/{}/qrcode.png?size=5", s.id),
        format!("/api/v1/merchants/{}/scans?days=0", s.id),
    ] {
        let resp = app.get_as(&other_county.token, &path).await;
        assert_problem(resp, 404, "not_found").await;
        // Its own regulator is told what is wrong with the parameter.
        let resp = app.get_as(&reg.token, &path).await;
        assert_eq!(resp.status(), 422, "{path}");
    }
    // A merchant may not fetch a region's posters, whatever format it asks for.
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let resp = app
        .get_as(
            &owner.token,
            "/api/v1/regions/513230/qrcodes.zip?format=bogus",
        )
        .await;
    assert_problem(resp, 403, "forbidden").await;
}
