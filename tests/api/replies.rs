//! The merchant's right of reply: who may write it, until when, and the public page.

use serde_json::{json, Value};
use yidianyima::domain::user::Role;

use crate::complaints::shop;
use crate::console::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_merchant_replies_on_the_public_page_until_a_regulator_has_seen_it() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/inspections", s.id),
            &json!({"kind": "routine", "inspected_on": yidianyima::service::today().to_string(),
                    "department": "红原县市场监督管理局", "result": "fail", "summary": "后厨卫生不合格"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let insp: Value = r.json().await.unwrap();
    let path = format!(
        "/api/v1/merchants/{}/replies/inspection/{}",
        s.id, insp["id"]
    );
    let words = "已于当日整改完毕，欢迎复查。（店主：扎西）";

    // the regulator may not answer for the shop; another shop does not know the record
    let r = app
        .put_as(&reg.token, &path, &json!({"reply": words}))
        .await;
    assert_eq!(r.status(), 403);
    let other = app.merchant_in("513230").await;
    let other_owner = app.user(Role::Merchant, &[], Some(other.id)).await;
    assert_eq!(
        app.put_as(&other_owner.token, &path, &json!({"reply": words}))
            .await
            .status(),
        404
    );
    let r = app
        .put_as(&owner.token, &path, &json!({"reply": "字".repeat(501)}))
        .await;
    crate::helpers::assert_field_error(r, "reply", "too_long").await;

    let r = app
        .put_as(&owner.token, &path, &json!({"reply": words}))
        .await;
    assert_eq!(r.status(), 200);
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(
        page.contains(words),
        "the public page shows the reply as typed"
    );
    assert!(page.contains("商户回应"));

    // seen: final
    let r = app
        .post_as(&reg.token, &format!("{path}/seen"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .put_as(&owner.token, &path, &json!({"reply": "改了"}))
        .await;
    crate::helpers::assert_problem(r, 409, "reply_locked").await;

    // hidden with a reason: gone from the public page, the merchant sees why
    let r = app
        .post_as(
            &reg.token,
            &format!("{path}/hide"),
            &json!({"reason": "含有检查人员的个人电话"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(!page.contains(words));
    let mine: Vec<Value> = app
        .get_as(&owner.token, &format!("/api/v1/merchants/{}/replies", s.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["hidden_reason"], "含有检查人员的个人电话");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'reply.%'")
            .await,
        3
    );
}

#[tokio::test]
async fn the_owner_replies_from_the_console_with_a_textarea_named_reply() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/credit-records", s.id),
            &json!({"kind": "penalty", "department": "红原县市场监督管理局", "decision_no": "红市监罚〔2026〕12号",
                    "decided_on": yidianyima::service::today().to_string(), "summary": "价格欺诈，罚款 2000 元"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let mut b = Browser::signed_in(&app, &owner).await;
    let page = format!("/console/merchants/{}", s.id);
    let shown = b.get(&page).await;
    assert!(shown.body.contains("name=\"reply\""));
    let at = shown.body.find("/replies/credit_record/").unwrap();
    let start = shown.body[..at].rfind('"').unwrap() + 1;
    let action = shown.body[start..at + shown.body[at..].find('"').unwrap()].to_owned();
    let p = b
        .post(&action, &[("csrf_token", &shown.csrf()), ("reply", "")])
        .await;
    assert_eq!(p.status, 422);
    let p = b
        .post(
            &action,
            &[
                ("csrf_token", &shown.csrf()),
                ("reply", "已缴纳罚款并退还多收款项。"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let public = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(public.contains("已缴纳罚款并退还多收款项。"));
}

#[tokio::test]
async fn a_shop_closed_for_the_season_says_when_it_reopens() {
    use chrono::Datelike;
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let now = yidianyima::service::today().month() as i64;
    let next = now % 12 + 1;
    let r = app
        .patch_as(
            &owner.token,
            &format!("/api/v1/merchants/{}", s.id),
            &json!({"status": "seasonal_closed", "opening_months": [next]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(
        page.contains(&format!("预计 {next} 月恢复营业")),
        "the public page says when"
    );
    let json: Value = app
        .get_json(&format!("/api/v1/public/shops/{}", s.code))
        .await;
    assert_eq!(json["reopens_in"], next);
}
