//! The rest of the merchant's rights over the public record: a regulator may correct a record
//! the merchant objected to; objections and repair applications carry evidence (photos or
//! PDF) that only the shop and its regulators see; the shop answers its closed complaints in
//! public.

use serde_json::{json, Value};
use yidianyima::domain::user::Role;

use crate::complaints::{act, file, shop};
use crate::console::Browser;
use crate::helpers::{assert_field_error, assert_problem, spawn_app, TestApp, TestUser};

fn png(w: u32, h: u32) -> Vec<u8> {
    use image::ImageEncoder;
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 128])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgba8)
        .unwrap();
    out
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// A penalty on the shop, and an objection to it filed by the owner; (record, objection).
async fn objected_penalty(
    app: &TestApp,
    reg: &TestUser,
    owner: &TestUser,
    id: i64,
) -> (Value, Value) {
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{id}/credit-records"),
            &json!({"kind": "penalty", "department": "红原县市场监督管理局", "decision_no": "红市监罚〔2026〕9号",
                    "decided_on": yidianyima::service::today().to_string(), "summary": "销售过期食品（误登记）"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let rec: Value = r.json().await.unwrap();
    let r = app
        .post_as(
            &owner.token,
            &format!("/api/v1/merchants/{id}/objections"),
            &json!({"record_kind": "credit_record", "record_id": rec["id"], "reason": "决定书文号与事由均有误。"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    (rec, r.json().await.unwrap())
}

#[tokio::test]
async fn a_regulator_corrects_an_objected_record_and_the_public_page_shows_the_correction() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let (rec, o) = objected_penalty(&app, &reg, &owner, s.id).await;
    let queue: Vec<Value> = app
        .get_as(&reg.token, "/api/v1/objections")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        queue[0]["record"]["decision_no"], "红市监罚〔2026〕9号",
        "the queue shows the record"
    );
    let path = format!("/api/v1/objections/{}/decision", o["id"]);
    let post = |body: Value| {
        let (app, path, token) = (&app, &path, reg.token.clone());
        async move { app.post_as(&token, path, &body).await }
    };
    let r = post(json!({"decision": "correct", "note": "更正"})).await;
    assert_field_error(r, "correction", "required").await;
    let r = post(json!({"decision": "uphold", "note": "x", "correction": {"summary": "y"}})).await;
    assert_field_error(r, "correction", "not_applicable").await;
    let r =
        post(json!({"decision": "correct", "note": "x", "correction": {"result": "pass"}})).await;
    assert_field_error(r, "correction.result", "not_applicable").await;
    let r = post(json!({"decision": "correct", "note": "x", "correction": {"summary": "销售过期食品（误登记）"}})).await;
    assert_field_error(r, "correction", "no_change").await;
    let r = post(
        json!({"decision": "correct", "note": "x", "correction": {"decided_on": "2999-01-01"}}),
    )
    .await;
    assert_field_error(r, "correction.decided_on", "in_future").await;
    let r =
        post(json!({"decision": "correct", "note": "", "correction": {"kind": "nonsense"}})).await;
    let p = assert_field_error(r, "correction.kind", "invalid_credit_kind").await;
    assert!(
        p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "note"),
        "every field error at once: {p}"
    );
    let r = post(json!({"decision": "correct", "note": "经核实，事由应为“未公示价格”，文号更正。",
                        "correction": {"summary": "未按规定明码标价", "decision_no": "红市监罚〔2026〕19号"}}))
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "corrected");

    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(
        page.contains("未按规定明码标价"),
        "the corrected record is public"
    );
    assert!(page.contains("红市监罚〔2026〕19号"));
    assert!(!page.contains("销售过期食品"), "the wrong wording is gone");
    assert!(!page.contains("核查中"));
    let audit = app
        .count(&format!(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'credit_record.correct' AND entity_id = '{}' \
             AND before->>'summary' = '销售过期食品（误登记）' AND after->>'summary' = '未按规定明码标价'",
            rec["id"]
        ))
        .await;
    assert_eq!(
        audit, 1,
        "the record's change is audited with before and after"
    );
    let r = post(json!({"decision": "uphold", "note": "again"})).await;
    assert_problem(r, 409, "objection_decided").await;
}

#[tokio::test]
async fn the_console_correction_form_is_prefilled_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let (_, o) = objected_penalty(&app, &reg, &owner, s.id).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let q = b.get("/console/objections").await;
    assert!(
        q.body.contains("value=\"红市监罚〔2026〕9号\""),
        "prefilled with the record"
    );
    assert!(q.body.contains("value=\"correct\""));
    let action = format!("/console/objections/{}/decision", o["id"]);
    let today = yidianyima::service::today().to_string();
    let fields = |summary: &'static str, department: &'static str| {
        vec![
            ("decision", "correct"),
            ("kind", "penalty"),
            ("department", department),
            ("decision_no", "红市监罚〔2026〕19号"),
            ("summary", summary),
            ("publicity_until", ""),
        ]
    };
    let token = q.csrf();
    let mut f = fields("未按规定明码标价", "");
    f.push(("decided_on", &today));
    f.push(("note", "文号更正。"));
    f.push(("csrf_token", &token));
    let p = b.post(&action, &f).await;
    assert_eq!(p.status, 422);
    assert!(
        p.body.contains("value=\"红市监罚〔2026〕19号\""),
        "what was typed is kept"
    );
    assert!(
        p.body.contains("e-department"),
        "the message is beside the field"
    );
    let mut f = fields("未按规定明码标价", "红原县市场监督管理局");
    f.push(("decided_on", &today));
    f.push(("note", "文号更正。"));
    let token = p.csrf();
    f.push(("csrf_token", &token));
    let p = b.post(&action, &f).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(page.contains("红市监罚〔2026〕19号"));
    let mut ob = Browser::signed_in(&app, &owner).await;
    let own = ob.get(&format!("/console/merchants/{}", s.id)).await;
    assert!(
        own.body.contains("经核查已更正记录"),
        "the merchant sees the decision"
    );
}

#[tokio::test]
async fn evidence_is_attached_by_the_shop_and_read_only_by_it_and_its_regulators() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let (_, o) = objected_penalty(&app, &reg, &owner, s.id).await;
    let add = format!("/api/v1/objections/{}/evidence", o["id"]);
    let r = app
        .upload_as(&reg.token, &add, "a.png", png(40, 30), &[])
        .await;
    assert_eq!(r.status(), 403, "only the shop adds evidence");
    let r = app
        .upload_as(&owner.token, &add, "notes.pdf", b"hello".to_vec(), &[])
        .await;
    assert_field_error(r, "evidence", "unsupported_type").await;
    let r = app
        .upload_as(&owner.token, &add, "收据.png", png(3000, 1000), &[])
        .await;
    assert_eq!(r.status(), 201);
    let img: Vec<Value> = r.json().await.unwrap();
    assert_eq!(img[0]["content_type"], "image/jpeg");
    assert_eq!(img[0]["file_name"], "收据.jpg");
    let r = app
        .upload_as(&owner.token, &add, "决定书.pdf", PDF.to_vec(), &[])
        .await;
    assert_eq!(r.status(), 201);
    let pdf: Vec<Value> = r.json().await.unwrap();

    // the image was re-encoded (no metadata can survive), and shrunk to a legible size
    let url = img[0]["url"].as_str().unwrap();
    let r = app.get_as(&owner.token, url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let bytes = r.bytes().await.unwrap();
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (2400, 800));
    let purl = pdf[0]["url"].as_str().unwrap();
    let r = app.get_as(&reg.token, purl).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        PDF,
        "a PDF is kept as sent"
    );
    let far = app.regulator(&["513231"]).await;
    assert_eq!(app.get_as(&far.token, purl).await.status(), 404);
    let other = app.merchant_in("513230").await;
    let other_owner = app.user(Role::Merchant, &[], Some(other.id)).await;
    assert_eq!(app.get_as(&other_owner.token, purl).await.status(), 404);
    assert_eq!(
        app.client.get(app.url(purl)).send().await.unwrap().status(),
        401
    );

    // at most five in all
    for n in 0..3 {
        let r = app
            .upload_as(&owner.token, &add, &format!("p{n}.pdf"), PDF.to_vec(), &[])
            .await;
        assert_eq!(r.status(), 201);
    }
    let r = app
        .upload_as(&owner.token, &add, "p6.pdf", PDF.to_vec(), &[])
        .await;
    assert_field_error(r, "evidence", "too_many_files").await;

    // the regulators' queue lists it; the public never sees it
    let queue: Vec<Value> = app
        .get_as(&reg.token, "/api/v1/objections")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue[0]["evidence"].as_array().unwrap().len(), 5);
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(!page.contains("/evidence/"), "evidence is never public");
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/objections/{}/decision", o["id"]),
            &json!({"decision": "uphold", "note": "证据不足以推翻原决定。"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .upload_as(&owner.token, &add, "late.pdf", PDF.to_vec(), &[])
        .await;
    assert_problem(r, 409, "decided").await;
}

#[tokio::test]
async fn the_console_files_an_objection_with_a_photo_in_one_step() {
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
    assert!(shown.body.contains("enctype=\"multipart/form-data\""));
    assert!(shown.body.contains("accept=\"image/*,application/pdf\""));
    let rid = crate::console::hidden(&shown.body, "record_id").unwrap();
    let token = shown.csrf();
    let reason = "当日冷柜在除霜，附温度记录照片。";
    let fields = [
        ("csrf_token", token.as_str()),
        ("record_kind", "inspection"),
        ("record_id", rid.as_str()),
        ("reason", reason),
    ];
    // a file that is not evidence: refused beside the field, the reason kept, nothing filed
    let p = ob
        .post_multipart(
            &format!("{page}/objections"),
            &fields,
            vec![("evidence", "x.txt", b"plain".to_vec())],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains(reason), "the reason typed is kept");
    assert!(
        p.body.contains("e-evidence-"),
        "the message is beside the file field"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM objections").await,
        0,
        "nothing half-written"
    );
    let token = p.csrf();
    let fields = [
        ("csrf_token", token.as_str()),
        ("record_kind", "inspection"),
        ("record_id", rid.as_str()),
        ("reason", reason),
    ];
    let p = ob
        .post_multipart(
            &format!("{page}/objections"),
            &fields,
            vec![
                ("evidence", "温度记录.png", png(200, 100)),
                ("evidence", "", Vec::new()),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM evidence_files").await,
        1,
        "the empty part is no file"
    );
    let mut b = Browser::signed_in(&app, &reg).await;
    let q = b.get("/console/objections").await;
    let at = q
        .body
        .find("href=\"/api/v1/evidence/")
        .expect("the regulator sees the evidence");
    let href = &q.body[at + 6..at + 6 + q.body[at + 6..].find('"').unwrap()];
    let r = b.get(href).await;
    assert_eq!(r.status, 200, "the console session reads it");
    assert_eq!(r.headers["content-type"], "image/jpeg");
}

#[tokio::test]
async fn the_shop_answers_a_closed_complaint_in_public() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let (_, id) = file(&app, &s.code, "13800138000").await;
    let path = format!("/api/v1/merchants/{}/replies/complaint/{id}", s.id);
    let words = json!({"reply": "已向顾客退还差价并致歉，菜单已重新印制。"});
    let r = app.put_as(&owner.token, &path, &words).await;
    assert_eq!(r.status(), 404, "not while the complaint is open");
    let r = act(
        &app,
        &reg,
        id,
        json!({"action": "reject", "note": "不属于本部门管辖"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = app.put_as(&owner.token, &path, &words).await;
    assert_eq!(r.status(), 200);
    // A complaint is answered, not objected to.
    let r = app
        .post_as(
            &owner.token,
            &format!("/api/v1/merchants/{}/objections", s.id),
            &json!({"record_kind": "complaint", "record_id": id, "reason": "不实投诉"}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let page = app.get_text(app.url(&format!("/s/{}", s.code))).await;
    assert!(
        page.contains("已向顾客退还差价并致歉"),
        "on the public page"
    );
    assert!(page.contains("已办结投诉"));
    assert!(
        !page.contains("13800138000") && !page.contains("王小明"),
        "nothing of the consumer"
    );

    // the complaint page in the console: the owner edits, the regulator hides with a reason
    let mut ob = Browser::signed_in(&app, &owner).await;
    let cp = format!("/console/complaints/{id}");
    let shown = ob.get(&cp).await;
    assert!(shown.body.contains("已向顾客退还差价并致歉"));
    let action = format!("/console/merchants/{}/replies/complaint/{id}", s.id);
    let p = ob.submit(&cp, &action, &[("reply", "")]).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("e-reply-text"));
    let p = ob
        .submit(&cp, &action, &[("reply", "已退还差价 20 元并致歉。")])
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        p.location.as_deref(),
        Some(&*format!("{cp}?done=reply#reply"))
    );
    let mut b = Browser::signed_in(&app, &reg).await;
    let p = b
        .submit(
            &cp,
            &format!("{action}/hide"),
            &[("reason", "含有消费者个人信息")],
        )
        .await;
    assert_eq!(p.status, 303);
    let page = app
        .get_text(app.url(&format!("/s/{}?fresh=1", s.code)))
        .await;
    assert!(!page.contains("已退还差价"), "hidden from the public");
    let own = ob.get(&cp).await;
    assert!(own.body.contains("含有消费者个人信息"), "the shop sees why");
    assert!(
        !own.body.contains("id=\"reply-text\""),
        "and can no longer change it"
    );
}
