use serde_json::{json, Value};
use yidianyima::db;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn admin_creates_a_regulator_who_can_log_in_and_it_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resp = app
        .post_as(
            &admin.token,
            "/api/v1/users",
            &json!({"username": "Zhang.San", "password": "long-enough-pw", "role": "regulator",
                    "region_codes": ["513230", "513231"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["username"], "Zhang.San");
    assert_eq!(body["region_codes"], json!(["513230", "513231"]));
    assert_eq!(location, format!("/api/v1/users/{}", body["id"]));
    assert!(body.get("password_hash").is_none());

    assert_eq!(app.login("zhang.san", "long-enough-pw").await.status(), 200);

    let mut conn = app.conn().await;
    let entries = db::audit::for_entity(&mut conn, "user", &body["id"].to_string())
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e.action.as_str(), e.actor_id),
        ("user.create", Some(admin.id))
    );
    assert_eq!(e.actor_label, admin.username);
    assert_eq!(e.client_ip.as_deref(), Some("127.0.0.1"));
    assert!(e.before.is_none());
    let after = e.after.as_ref().unwrap();
    assert_eq!(after["username"], "Zhang.San");
    assert_eq!(after["region_codes"], json!(["513230", "513231"]));
    assert!(
        !after.to_string().contains("argon2"),
        "no hash in the audit log"
    );

    // same name, other case → 409
    let resp = app
        .post_as(
            &admin.token,
            "/api/v1/users",
            &json!({"username": "zhang.san", "password": "long-enough-pw", "role": "admin"}),
        )
        .await;
    assert_problem(resp, 409, "duplicate_username").await;
}

#[tokio::test]
async fn validation_names_every_bad_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resp = app
        .post_as(
            &admin.token,
            "/api/v1/users",
            &json!({"username": "x", "password": "short", "role": "root",
                    "region_codes": ["5132"]}),
        )
        .await;
    let body = assert_problem(resp, 422, "validation_failed").await;
    let fields: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("username", "invalid_length"),
            ("password", "too_short"),
            ("role", "invalid_role"),
            ("region_codes[0]", "invalid_region_code"),
        ]
    );

    let resp = app
        .post_as(
            &admin.token,
            "/api/v1/users",
            &json!({"username": "reg-x", "password": "long-enough-pw", "role": "regulator"}),
        )
        .await;
    let body = assert_problem(resp, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "region_codes");
    assert_eq!(body["errors"][0]["code"], "required");

    let resp = app
        .post_as(
            &admin.token,
            "/api/v1/users",
            &json!({"username": "reg-y", "password": "long-enough-pw", "role": "regulator",
                    "region_codes": ["110101"]}),
        )
        .await;
    let body = assert_problem(resp, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "unknown_region");

    let resp = app
        .post_as(
            &admin.token,
            "/api/v1/users",
            &json!({"username": "shop-z", "password": "long-enough-pw", "role": "merchant",
                    "merchant_id": 999999}),
        )
        .await;
    let body = assert_problem(resp, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "unknown_merchant");

    // nothing was written by any of these
    let mut conn = app.conn().await;
    assert_eq!(db::users::count(&mut conn).await.unwrap(), 1);
}

#[tokio::test]
async fn jurisdiction_prefecture_county_and_other_county() {
    let app = spawn_app().await;
    let prefecture = app.regulator(&["513200"]).await;
    let rangtang = app.regulator(&["513230"]).await;
    let aba_county = app.regulator(&["513231"]).await;
    let shop = app.merchant_in("513230").await;

    let new_login = |name: &str| {
        json!({"username": name, "password": "long-enough-pw", "role": "merchant",
               "merchant_id": shop.id})
    };
    // the prefecture covers its counties
    let resp = app
        .post_as(&prefecture.token, "/api/v1/users", &new_login("shop-a"))
        .await;
    assert_eq!(resp.status(), 201);
    let shop_a: Value = resp.json().await.unwrap();
    // the county regulator covers its own county
    let resp = app
        .post_as(&rangtang.token, "/api/v1/users", &new_login("shop-b"))
        .await;
    assert_eq!(resp.status(), 201);
    // another county's regulator: the merchant "does not exist"
    let resp = app
        .post_as(&aba_county.token, "/api/v1/users", &new_login("shop-c"))
        .await;
    assert_problem(resp, 404, "not_found").await;
    // …exactly as for a merchant that really does not exist
    let resp = app
        .post_as(
            &aba_county.token,
            "/api/v1/users",
            &json!({"username": "shop-d", "password": "long-enough-pw", "role": "merchant",
                    "merchant_id": 987654}),
        )
        .await;
    assert_problem(resp, 404, "not_found").await;
    // regulators create merchant logins only
    let resp = app
        .post_as(
            &prefecture.token,
            "/api/v1/users",
            &json!({"username": "reg-new", "password": "long-enough-pw", "role": "regulator",
                    "region_codes": ["513230"]}),
        )
        .await;
    assert_problem(resp, 403, "forbidden").await;

    // reading the merchant login follows the same rule
    let path = format!("/api/v1/users/{}", shop_a["id"]);
    assert_eq!(app.get_as(&prefecture.token, &path).await.status(), 200);
    assert_eq!(app.get_as(&rangtang.token, &path).await.status(), 200);
    assert_problem(app.get_as(&aba_county.token, &path).await, 404, "not_found").await;
    // regulators do not see each other
    let path = format!("/api/v1/users/{}", aba_county.id);
    assert_problem(app.get_as(&rangtang.token, &path).await, 404, "not_found").await;
    assert_eq!(
        app.get_as(&aba_county.token, &path).await.status(),
        200,
        "oneself"
    );

    // a merchant login sees itself and creates nothing
    let login = app
        .login("shop-a", "long-enough-pw")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let me: Value = app
        .get_as(token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["merchant_id"], shop.id);
    assert_eq!(me["role"], "merchant");
    let resp = app
        .post_as(token, "/api/v1/users", &new_login("shop-e"))
        .await;
    assert_problem(resp, 403, "forbidden").await;
}

#[tokio::test]
async fn accounts_are_listed_disabled_and_reset_within_rights() {
    use serde_json::{json, Value};
    use yidianyima::domain::user::Role;
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    let reg = app.regulator(&["513230"]).await;
    let mine = app.merchant_in("513230").await;
    let theirs = app.merchant_in("513231").await;
    let owner = app.user(Role::Merchant, &[], Some(mine.id)).await;
    let other_owner = app.user(Role::Merchant, &[], Some(theirs.id)).await;

    let list: Value = app
        .get_as(&reg.token, "/api/v1/users")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![owner.username.as_str()],
        "only its merchants' logins"
    );
    let all: Value = app
        .get_as(&admin.token, "/api/v1/users")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"], 4);
    assert_eq!(
        app.get_as(&owner.token, "/api/v1/users").await.status(),
        403
    );

    let path = |id: i64, what: &str| format!("/api/v1/users/{id}/{what}");
    assert_eq!(
        app.post_as(&reg.token, &path(other_owner.id, "disable"), &json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post_as(&reg.token, &path(admin.id, "disable"), &json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post_as(&admin.token, &path(admin.id, "disable"), &json!({}))
            .await
            .status(),
        403,
        "not oneself"
    );
    let r = app
        .post_as(&reg.token, &path(owner.id, "disable"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get_as(&owner.token, "/api/v1/auth/me").await.status(),
        401
    );
    assert_eq!(
        app.login(&owner.username, &owner.password).await.status(),
        401
    );
    let r = app
        .post_as(&reg.token, &path(owner.id, "enable"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.login(&owner.username, &owner.password).await.status(),
        200
    );

    let r = app
        .post_as(
            &reg.token,
            &path(owner.id, "password"),
            &json!({"password": "short"}),
        )
        .await;
    crate::helpers::assert_field_error(r, "password", "too_short").await;
    let r = app
        .post_as(
            &reg.token,
            &path(owner.id, "password"),
            &json!({"password": "a new long password"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.login(&owner.username, "a new long password")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM audit_log WHERE action IN ('user.disable', 'user.enable', 'user.set_password')"
        )
        .await,
        3
    );
}
