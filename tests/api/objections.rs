//! Objections: the merchant says a record is wrong; the public page marks it; a regulator
//! upholds it or removes it from publicity, and the grade follows.

use serde_json::{json, Value};
use yidianyima::domain::user::Role;

use crate::complaints::shop;
use crate::console::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn an_objection_marks_the_record_and_removal_takes_it_out_of_publicity() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/credit-records", s.id),
            &json!({"kind": "penalty", "department": "红原县市场监督管理局", "decision_no": "红市监罚〔2026〕7号",
                    "decided_on": yidianyima::service::today().to_string(), "summary": "误将他店处罚登记于本店"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let rec: Value = r.json().await.unwrap();
    let grade_of = || async {
        let m: Value = app
            .get_as(&reg.token, &format!("/api/v1/merchants/{}", s.id))
            .await
            .json()
            .await
            .unwrap();
        m["grade"].as_str().unwrap().to_owned()
    };
    let penalised = grade_of().await;
    assert_ne!(penalised, "A");

    let body = json!({"record_kind": "credit_record", "record_id": rec["id"], "reason": "处罚决定书所列为隔壁商铺，非本店。"});
    let path = format!("/api/v1/merchants/{}/objections", s.id);
    assert_eq!(app.post_as(&reg.token, &path, &body).await.status(), 403);
    let other = app.merchant_in("513230").await;
    let other_owner = app.user(Role::Merchant, &[], Some(other.id)).await;
    assert_eq!(
        app.post_as(
            &other_owner.token,
            &format!("/api/v1/merchants/{}/objections", other.id),
            &body
        )
        .await
        .status(),
        404,
        "not its record"
    );
    let r = app.post_as(&owner.token, &path, &body).await;
    assert_eq!(r.status(), 201);
    let o: Value = r.json().await.unwrap();
    let r = app.post_as(&owner.token, &path, &body).await;
    crate::helpers::assert_problem(r, 409, "objection_open").await;
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(page.contains("商户已提出异议，核查中"));

    let queue: Vec<Value> = app
        .get_as(&reg.token, "/api/v1/objections")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue.len(), 1);
    let far = app.regulator(&["513231"]).await;
    let decision = format!("/api/v1/objections/{}/decision", o["id"]);
    assert_eq!(
        app.post_as(
            &far.token,
            &decision,
            &json!({"decision": "remove", "note": "x"})
        )
        .await
        .status(),
        404
    );
    let r = app
        .post_as(
            &reg.token,
            &decision,
            &json!({"decision": "maybe", "note": "x"}),
        )
        .await;
    crate::helpers::assert_field_error(r, "decision", "invalid_decision").await;
    let r = app
        .post_as(
            &reg.token,
            &decision,
            &json!({"decision": "remove", "note": "经核实登记错误，已撤下。"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(grade_of().await, "A", "the grade follows");
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(!page.contains("误将他店处罚登记于本店"), "out of publicity");
    assert!(!page.contains("核查中"));
    let r = app
        .post_as(
            &reg.token,
            &decision,
            &json!({"decision": "uphold", "note": "again"}),
        )
        .await;
    crate::helpers::assert_problem(r, 409, "objection_decided").await;
    let mine: Vec<Value> = app.get_as(&owner.token, &path).await.json().await.unwrap();
    assert_eq!(mine[0]["status"], "removed");
    assert_eq!(mine[0]["decision_note"], "经核实登记错误，已撤下。");
}

#[tokio::test]
async fn objections_in_the_console_reason_textarea_and_the_regulators_queue() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/inspections", s.id),
            &json!({"kind": "routine", "inspected_on": yidianyima::service::today().to_string(),
                    "department": "红原县市场监督管理局", "result": "fail", "summary": "冷柜温度超标"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut ob = Browser::signed_in(&app, &owner).await;
    let page = format!("/console/merchants/{}", s.id);
    let shown = ob.get(&page).await;
    assert!(shown.body.contains("name=\"reason\""));
    let stops = (yidianyima::service::today() + chrono::Days::new(366)).to_string();
    assert!(
        shown.body.contains(&format!("{stops} 起不再计入")),
        "the failed inspection's reason says when it stops counting"
    );
    assert!(shown.body.contains("回应、提出异议或申请修复"));
    let rid = crate::console::hidden(&shown.body, "record_id").unwrap();
    let p = ob
        .submit(
            &page,
            &format!("{page}/objections"),
            &[
                ("record_kind", "inspection"),
                ("record_id", &rid),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    let p = ob
        .submit(
            &page,
            &format!("{page}/objections"),
            &[
                ("record_kind", "inspection"),
                ("record_id", &rid),
                ("reason", "当日冷柜在除霜，温度计读数不代表正常运行。"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    let mut b = Browser::signed_in(&app, &reg).await;
    let q = b.get("/console/objections").await;
    assert!(q.body.contains("当日冷柜在除霜"));
    let at = q.body.find("/console/objections/").unwrap();
    let action = q.body[at..at + q.body[at..].find('"').unwrap()].to_owned();
    let p = b
        .post(
            &action,
            &[
                ("csrf_token", &q.csrf()),
                ("decision", "uphold"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    let p = b
        .post(
            &action,
            &[
                ("csrf_token", &q.csrf()),
                ("decision", "uphold"),
                ("note", "复核温度记录，维持原结论。"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let own = ob.get(&page).await;
    assert!(
        own.body.contains("复核温度记录，维持原结论。"),
        "the merchant sees the answer"
    );
}

#[tokio::test]
async fn the_review_deadline_is_a_setting() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let path = "/api/v1/settings/review-deadlines/objection";
    assert_eq!(
        app.put_as(&reg.token, path, &json!({"working_days": 1}))
            .await
            .status(),
        403
    );
    let r = app
        .put_as(&admin.token, path, &json!({"working_days": 0}))
        .await;
    crate::helpers::assert_field_error(r, "working_days", "out_of_range").await;
    assert_eq!(
        app.put_as(&admin.token, path, &json!({"working_days": 1}))
            .await
            .status(),
        200
    );
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/inspections", s.id),
            &json!({"kind": "routine", "inspected_on": yidianyima::service::today().to_string(),
                    "department": "红原县市场监督管理局", "result": "fail"}),
        )
        .await;
    let insp: Value = r.json().await.unwrap();
    let o: Value = app
        .post_as(
            &owner.token,
            &format!("/api/v1/merchants/{}/objections", s.id),
            &json!({"record_kind": "inspection", "record_id": insp["id"], "reason": "有误"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let deadline =
        chrono::NaiveDate::parse_from_str(o["deadline"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let today = yidianyima::service::today();
    assert!(
        deadline > today && deadline <= today + chrono::Days::new(4),
        "one working day: {deadline}"
    );
}
