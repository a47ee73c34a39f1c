//! The console's account pages.

use yidianyima::domain::user::Role;

use crate::console::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_regulator_creates_a_shop_login_then_disables_it_ending_its_session() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let mid = m.id.to_string();
    let p = b
        .submit(
            "/console/users",
            "/console/users",
            &[
                ("username", "Bad Name!"),
                ("password", "shop-owner-secret"),
                ("role", "merchant"),
                ("merchant_id", &mid),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("value=\"Bad Name!\""), "input kept");
    assert!(
        !p.body.contains("shop-owner-secret"),
        "passwords never come back"
    );
    let p = b
        .submit(
            "/console/users",
            "/console/users",
            &[
                ("username", "zhaxi-shop"),
                ("password", "shop-owner-secret"),
                ("role", "merchant"),
                ("merchant_id", &mid),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let user_page = p.location.unwrap();
    let owner = crate::helpers::TestUser {
        id: 0,
        username: "zhaxi-shop".into(),
        password: "shop-owner-secret".into(),
        token: String::new(),
    };
    let mut ob = Browser::signed_in(&app, &owner).await;
    assert_eq!(ob.get("/console/").await.status, 200);
    let base = user_page.split('?').next().unwrap().to_owned();
    let p = b.submit(&user_page, &format!("{base}/disable"), &[]).await;
    assert_eq!(p.status, 303);
    assert!(ob
        .get("/console/account")
        .await
        .location
        .unwrap()
        .starts_with("/console/login"));

    // a regulator may not create a regulator
    let p = b
        .submit(
            "/console/users",
            "/console/users",
            &[
                ("username", "another-reg"),
                ("password", "long enough secret"),
                ("role", "regulator"),
                ("region_codes", "513230"),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    // nor see another county's shop login
    let far = app.merchant_in("513231").await;
    let far_owner = app.user(Role::Merchant, &[], Some(far.id)).await;
    assert_eq!(
        b.get(&format!("/console/users/{}", far_owner.id))
            .await
            .status,
        404
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM users WHERE username = 'another-reg'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_audit_page_shows_before_and_after_and_settings_are_for_admins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let r = app
        .patch_as(
            &reg.token,
            &format!("/api/v1/merchants/{}", m.id),
            &serde_json::json!({"opening_hours": "08:00-20:00"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let mut b = Browser::signed_in(&app, &reg).await;
    let p = b.get("/console/audit?entity=merchant").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("merchant.update"));
    assert!(
        p.body
            .contains("<strong>opening_hours</strong>: — → 08:00-20:00"),
        "{}",
        p.body
    );
    assert_eq!(b.get("/console/audit?from=nope").await.status, 422);
    // settings: admins only
    assert_eq!(b.get("/console/settings").await.status, 404);
    let mut ab = Browser::signed_in(&app, &admin).await;
    let s = ab.get("/console/settings?year=2027").await;
    assert_eq!(s.status, 200);
    let p = ab
        .submit(
            "/console/settings?year=2027",
            "/console/settings/calendar",
            &[
                ("year", "2027"),
                ("holidays", "2027-01-01\n2027-13-01"),
                ("workdays", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("2027-13-01"), "input kept");
    let p = ab
        .submit(
            "/console/settings?year=2027",
            "/console/settings/calendar",
            &[
                ("year", "2027"),
                ("holidays", "2027-01-01\n2027-10-01"),
                ("workdays", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM calendar_days WHERE day >= '2027-01-01'")
            .await,
        2
    );
    let p = ab
        .submit(
            "/console/settings",
            "/console/settings/rules",
            &[
                ("effective_from", "2027-01-01"),
                ("accept_working_days", "5"),
                ("conclude_working_days", "30"),
                ("green_channel_working_days", "0"),
                ("note", "《市场监督管理投诉举报处理暂行办法》修订"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let s = ab.get("/console/settings?done=rule").await;
    assert!(s.body.contains("《市场监督管理投诉举报处理暂行办法》修订"));
}
