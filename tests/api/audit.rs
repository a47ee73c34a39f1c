//! Reading the audit log: jurisdiction, filters, what changed.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_log_shows_the_jurisdiction_with_the_fields_that_changed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reg = app.regulator(&["513230"]).await;
    let other = app.regulator(&["513231"]).await;
    let mine = app.merchant_in("513230").await;
    let theirs = app.merchant_in("513231").await;
    let r = app
        .patch_as(
            &reg.token,
            &format!("/api/v1/merchants/{}", mine.id),
            &json!({"phone": "13800001111"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .patch_as(
            &other.token,
            &format!("/api/v1/merchants/{}", theirs.id),
            &json!({"phone": "13800002222"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let log: Value = app
        .get_as(&reg.token, "/api/v1/audit?entity=merchant")
        .await
        .json()
        .await
        .unwrap();
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{log}");
    assert_eq!(items[0]["entity_id"], mine.id.to_string());
    assert_eq!(items[0]["action"], "merchant.update");
    assert_eq!(items[0]["actor"], reg.username);
    let changes = items[0]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "only the phone: {changes:?}");
    assert_eq!(changes[0]["field"], "phone");
    assert_eq!(changes[0]["after"], "13800001111");

    let all: Value = app
        .get_as(&admin.token, "/api/v1/audit?entity=merchant")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"], 2);
    let by_actor: Value = app
        .get_as(
            &admin.token,
            &format!("/api/v1/audit?actor={}", other.username),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_actor["total"], 1);
    let r = app
        .get_as(&admin.token, "/api/v1/audit?from=2026-02-30")
        .await;
    crate::helpers::assert_field_error(r, "from", "invalid_date").await;
    let future = (yidianyima::service::today() + chrono::Days::new(1)).to_string();
    let none: Value = app
        .get_as(&admin.token, &format!("/api/v1/audit?from={future}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["total"], 0);
    let owner = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(mine.id))
        .await;
    assert_eq!(
        app.get_as(&owner.token, "/api/v1/audit").await.status(),
        403
    );
}
