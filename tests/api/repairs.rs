//! Credit repair: rules as data, the merchant applies after the minimum time, a regulator
//! approves (the record leaves publicity, the grade follows) or refuses.

use serde_json::{json, Value};
use yidianyima::domain::user::Role;

use crate::complaints::shop;
use crate::console::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn repair_after_the_minimum_time_takes_the_record_out_of_publicity() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let decided = (yidianyima::service::today() - chrono::Days::new(30)).to_string();
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/credit-records", s.id),
            &json!({"kind": "penalty", "department": "红原县市场监督管理局", "decision_no": "红市监罚〔2026〕3号",
                    "decided_on": decided, "summary": "未明码标价，罚款 500 元"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let rec: Value = r.json().await.unwrap();
    let path = format!("/api/v1/merchants/{}/credit-repairs", s.id);
    let body = json!({"record_id": rec["id"], "reason": "已缴纳罚款，全部商品已明码标价。"});

    // the default rule: 90 days for a penalty; 30 days in, too early
    let r = app.post_as(&owner.token, &path, &body).await;
    crate::helpers::assert_field_error(r, "record_id", "too_early").await;
    // an administrator changes the rule (data, audited); a regulator may not
    assert_eq!(
        app.put_as(
            &reg.token,
            "/api/v1/settings/credit-repair/penalty",
            &json!({"min_days_in_publicity": 30})
        )
        .await
        .status(),
        403
    );
    let r = app
        .put_as(
            &admin.token,
            "/api/v1/settings/credit-repair/penalty",
            &json!({"min_days_in_publicity": 30}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.post_as(&reg.token, &path, &body).await.status(), 403);
    let r = app.post_as(&owner.token, &path, &body).await;
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.unwrap();
    crate::helpers::assert_problem(
        app.post_as(&owner.token, &path, &body).await,
        409,
        "repair_open",
    )
    .await;

    let queue: Vec<Value> = app
        .get_as(&reg.token, "/api/v1/credit-repairs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue.len(), 1);
    let decision = format!("/api/v1/credit-repairs/{}/decision", a["id"]);
    let far = app.regulator(&["513231"]).await;
    assert_eq!(
        app.post_as(
            &far.token,
            &decision,
            &json!({"decision": "approve", "note": "x"})
        )
        .await
        .status(),
        404
    );
    let r = app
        .post_as(
            &reg.token,
            &decision,
            &json!({"decision": "approve", "note": "整改到位，同意修复。"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let m: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{}", s.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["grade"], "A");
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(!page.contains("未明码标价"));
}

#[tokio::test]
async fn a_merchant_applies_from_the_console_and_too_early_is_said_beside_the_field() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/credit-records", s.id),
            &json!({"kind": "penalty", "department": "红原县市场监督管理局", "decision_no": "红市监罚〔2026〕9号",
                    "decided_on": yidianyima::service::today().to_string(), "summary": "价格违法"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut ob = Browser::signed_in(&app, &owner).await;
    let page = format!("/console/merchants/{}", s.id);
    let shown = ob.get(&page).await;
    assert!(shown
        .body
        .contains(&format!("action=\"{page}/credit-repairs\"")));
    let at = shown
        .body
        .find(&format!("action=\"{page}/credit-repairs\""))
        .unwrap();
    let rid = crate::console::hidden(&shown.body[at..], "record_id").unwrap();
    let p = ob
        .submit(
            &page,
            &format!("{page}/credit-repairs"),
            &[("record_id", &rid), ("reason", "已整改")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("公示时间未满"));
    assert!(p.body.contains("已整改"), "input kept");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM credit_repairs").await,
        0
    );
}
