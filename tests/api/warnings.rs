//! Staff warning list and ending a warning early (API).

use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn warning(region: Option<&str>) -> Value {
    json!({
        "region_code": region,
        "title": "冬季燃气安全提示",
        "body": "使用燃气取暖请保持通风。",
        "valid_until": (yidianyima::service::today() + chrono::Days::new(30)).to_string(),
    })
}

#[tokio::test]
async fn staff_list_their_warnings_and_end_them_early() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reg = app.regulator(&["513230"]).await;
    let other = app.regulator(&["513231"]).await;
    let mine: Value = app
        .post_as(&reg.token, "/api/v1/warnings", &warning(Some("513230")))
        .await
        .json()
        .await
        .unwrap();
    let theirs: Value = app
        .post_as(&other.token, "/api/v1/warnings", &warning(Some("513231")))
        .await
        .json()
        .await
        .unwrap();
    let global: Value = app
        .post_as(&admin.token, "/api/v1/warnings", &warning(None))
        .await
        .json()
        .await
        .unwrap();

    let list: Vec<Value> = app
        .get_as(&reg.token, "/api/v1/warnings")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = list.iter().map(|w| w["id"].as_i64().unwrap()).collect();
    assert!(ids.contains(&mine["id"].as_i64().unwrap()));
    assert!(ids.contains(&global["id"].as_i64().unwrap()));
    assert!(!ids.contains(&theirs["id"].as_i64().unwrap()));

    // another county's warning: unknown; a warning for everywhere: admins only
    let end = |id: &Value| format!("/api/v1/warnings/{}/end", id["id"]);
    assert_eq!(
        app.post_as(&reg.token, &end(&theirs), &json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post_as(&reg.token, &end(&global), &json!({}))
            .await
            .status(),
        403
    );
    let ended = app.post_as(&reg.token, &end(&mine), &json!({})).await;
    assert_eq!(ended.status(), 200);
    let ended: Value = ended.json().await.unwrap();
    let yesterday = yidianyima::service::today().pred_opt().unwrap().to_string();
    assert_eq!(ended["valid_until"], yesterday);
    let public: Vec<Value> = app.get_json("/api/v1/public/warnings?region=513230").await;
    assert!(
        public.iter().all(|w| w["id"] != mine["id"]),
        "no longer shown"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'warning.end'")
            .await,
        1
    );
    // merchants: neither
    let m = app.merchant_in("513230").await;
    let owner = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(m.id))
        .await;
    assert_eq!(
        app.get_as(&owner.token, "/api/v1/warnings").await.status(),
        403
    );
}
