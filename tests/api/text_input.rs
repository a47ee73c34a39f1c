//! Free text is kept as typed (full-width punctuation is Chinese, not noise) on every write
//! path, and control characters are refused with 422 naming the field, never a 500.

use serde_json::{json, Value};

use crate::complaints::{complaint, file, shop, submit_with};
use crate::helpers::{assert_field_error, spawn_app, uscc_for};
use yidianyima::domain::user::Role;

/// Texts of CJK prose with full-width punctuation and forms, generated from a fixed seed so
/// that a failure names its input: every one must come back byte for byte.
fn samples() -> Vec<String> {
    const PIECES: &[&str] = &[
        "马尔康",
        "安康",
        "大药房",
        "（民族街店）",
        "药品零售；",
        "医疗器械销售，",
        "保健食品。",
        "“放心消费”",
        "《承诺书》",
        "【提示】",
        "——",
        "…",
        "、",
        "：",
        "？",
        "！",
        "ＡＢＣ",
        "１２３",
        "％",
        "／",
        "牦牛肉",
        "酥油茶",
        "Café",
        "No.5",
        "～",
    ];
    let mut seed: u64 = 0x5eed_2026;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let mut out = vec!["马尔康安康大药房（民族街店）".to_owned()];
    for _ in 0..3 {
        let n = 3 + next() % 6;
        let s: String = (0..n).map(|_| PIECES[next() % PIECES.len()]).collect();
        out.push(s);
    }
    out
}

fn merchant_body(uscc: &str, text: &str) -> Value {
    json!({
        "uscc": uscc, "name": text, "category": "pharmacy", "region_code": "513201",
        "address": text, "legal_representative": "卓玛", "phone": "0837-2822222",
        "business_scope": text, "opening_hours": "09:00－21:00", "description": text,
        "pledges": [text],
    })
}

fn assert_kept(m: &Value, text: &str) {
    for f in ["name", "address", "business_scope", "description"] {
        assert_eq!(m[f], text, "{f} rewritten");
    }
    assert_eq!(m["pledges"][0], text, "pledge rewritten");
}

#[tokio::test]
async fn cjk_punctuation_survives_every_write_path() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    for (i, text) in samples().iter().enumerate() {
        let uscc = uscc_for("513201", 100 + i as u64);
        let resp = app
            .post_as(&reg.token, "/api/v1/merchants", &merchant_body(&uscc, text))
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        let m: Value = resp.json().await.unwrap();
        assert_kept(&m, text);
        let id = m["id"].as_i64().unwrap();
        let base = format!("/api/v1/merchants/{id}");

        // Changing only the phone, as the regulator and as the merchant, touches nothing else.
        let resp = app
            .patch_as(&reg.token, &base, &json!({"phone": "0837-2822223"}))
            .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        assert_kept(&resp.json().await.unwrap(), text);
        let owner = app.user(Role::Merchant, &[], Some(id)).await;
        let resp = app
            .patch_as(&owner.token, &base, &json!({"phone": "0837-2822224"}))
            .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let m: Value = resp.json().await.unwrap();
        assert_kept(&m, text);
        assert_eq!(m["opening_hours"], "09:00－21:00");

        // Records.
        let resp = app
            .post_as(
                &reg.token,
                &format!("{base}/inspections"),
                &json!({
            "kind": "routine", "inspected_on": "2026-03-01", "department": text,
            "result": "pass", "summary": text}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        let r: Value = resp.json().await.unwrap();
        assert_eq!(
            (&r["department"], &r["summary"]),
            (&json!(text), &json!(text))
        );
        let resp = app
            .post_as(
                &reg.token,
                &format!("{base}/credit-records"),
                &json!({
            "kind": "commendation", "department": text, "decided_on": "2026-03-01",
            "summary": text}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        let r: Value = resp.json().await.unwrap();
        assert_eq!(r["summary"], *text);
        let resp = app
            .post_as(
                &reg.token,
                &format!("{base}/licences"),
                &json!({
            "kind": "drug_business", "number": "川CB0000001", "issuer": text,
            "valid_from": "2024-01-01", "valid_until": "2029-01-01"}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        let r: Value = resp.json().await.unwrap();
        assert_eq!(r["issuer"], *text);
    }

    // Import: a CSV row with the same texts; an update of one field keeps the others.
    let text = &samples()[0];
    let uscc = uscc_for("513201", 900);
    let csv = format!(
        "统一社会信用代码,名称,类别,经营范围,地址\n{uscc},{text},药店,\"{text}\",\"{text}\"\n"
    );
    let resp = app
        .upload_as(
            &reg.token,
            "/api/v1/imports?dry_run=false",
            "m.csv",
            csv.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let list: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants?q={uscc}"))
        .await
        .json()
        .await
        .unwrap();
    let m = &list["items"][0];
    assert_eq!((&m["name"], &m["uscc"]), (&json!(text), &json!(uscc)));
    let full: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{}", m["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&full["business_scope"], &full["address"]),
        (&json!(text), &json!(text))
    );

    // A complaint, a regulator's note and a warning.
    let s = shop(&app, &reg, "513201").await;
    let mut body = complaint(&s.code, "13800138000");
    body["description"] = json!(format!("{text}\n第二行：价格不符，要求退款。"));
    let resp = submit_with(&app, "text-key-1", &body).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let no = resp.json::<Value>().await.unwrap()["tracking_no"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, id) = file(&app, &s.code, "13900139000").await;
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/complaints/{id}/actions"),
            &json!({"action": "reject", "note": text}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let c: Value = app
        .get_as(&reg.token, &format!("/api/v1/complaints/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let notes: Vec<&str> = c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["note"].as_str())
        .collect();
    assert!(notes.contains(&text.as_str()), "{notes:?}");
    let list: Value = app
        .get_as(
            &reg.token,
            &format!("/api/v1/complaints?merchant_id={}", s.id),
        )
        .await
        .json()
        .await
        .unwrap();
    let mine = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tracking_no"] == no.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    let c: Value = app
        .get_as(&reg.token, &format!("/api/v1/complaints/{}", mine["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        c["description"],
        format!("{text}\n第二行：价格不符，要求退款。"),
        "{c}"
    );
    let resp = app
        .post_as(
            &reg.token,
            "/api/v1/warnings",
            &json!({
        "region_code": "513201", "title": text, "body": format!("{text}\n请注意。"),
        "valid_until": "2099-01-01"}),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let w: Value = resp.json().await.unwrap();
    assert_eq!(
        (&w["title"], &w["body"]),
        (&json!(text), &json!(format!("{text}\n请注意。")))
    );
}

async fn nul_is_422(resp: reqwest::Response, field: &str) {
    assert_field_error(resp, field, "control_character").await;
}

#[tokio::test]
async fn a_nul_anywhere_is_a_422_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let admin = app.admin().await;
    let nul = "阿坝\u{0}饭店";

    nul_is_422(app.login(nul, "secret-password").await, "username").await;
    nul_is_422(app.get_as(&reg.token, "/api/v1/merchants?q=%00").await, "q").await;
    let uscc = uscc_for("513201", 7);
    let mut body = merchant_body(&uscc, "阿坝饭店");
    body["name"] = json!(nul);
    nul_is_422(
        app.post_as(&reg.token, "/api/v1/merchants", &body).await,
        "name",
    )
    .await;
    body["name"] = json!("阿坝饭店");
    body["pledges"] = json!(["诚信", nul]);
    nul_is_422(
        app.post_as(&reg.token, "/api/v1/merchants", &body).await,
        "pledges[1]",
    )
    .await;
    let list: Value = app
        .get_as(&reg.token, "/api/v1/merchants")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0, "nothing was written");

    let m = app.merchant_in("513201").await;
    let base = format!("/api/v1/merchants/{}", m.id);
    nul_is_422(
        app.patch_as(&reg.token, &base, &json!({"address": nul}))
            .await,
        "address",
    )
    .await;
    nul_is_422(
        app.post_as(
            &reg.token,
            &format!("{base}/inspections"),
            &json!({
        "kind": "routine", "inspected_on": "2026-03-01", "department": "局",
        "result": "pass", "summary": nul}),
        )
        .await,
        "summary",
    )
    .await;
    nul_is_422(
        app.post_as(
            &reg.token,
            &format!("{base}/credit-records"),
            &json!({
        "kind": "commendation", "department": nul, "decided_on": "2026-03-01"}),
        )
        .await,
        "department",
    )
    .await;
    nul_is_422(
        app.post_as(
            &reg.token,
            &format!("{base}/licences"),
            &json!({
        "kind": "food_business", "number": nul, "issuer": "局",
        "valid_from": "2024-01-01", "valid_until": "2029-01-01"}),
        )
        .await,
        "number",
    )
    .await;
    nul_is_422(
        app.post_as(
            &reg.token,
            "/api/v1/warnings",
            &json!({
        "title": "提示", "body": nul, "valid_until": "2099-01-01"}),
        )
        .await,
        "body",
    )
    .await;
    nul_is_422(app.put_as(&admin.token, "/api/v1/settings/complaint-deadlines/2027-01-01",
        &json!({"accept_working_days": 7, "conclude_working_days": 45, "green_channel_working_days": 10, "note": nul})).await,
        "note").await;

    let s = shop(&app, &reg, "513201").await;
    let mut c = complaint(&s.code, "13800138000");
    c["description"] = json!(format!("{nul}，多收了二十元钱"));
    nul_is_422(submit_with(&app, "nul-key", &c).await, "description").await;
    let (_, id) = file(&app, &s.code, "13900139000").await;
    nul_is_422(
        app.post_as(
            &reg.token,
            &format!("/api/v1/complaints/{id}/actions"),
            &json!({"action": "reject", "note": nul}),
        )
        .await,
        "note",
    )
    .await;

    // The HTML form keeps what was typed and says what is wrong beside the field.
    let (status, page) = app
        .post_form(
            &format!("/s/{}/complaint", s.code),
            &[
                ("name", "王小明"),
                ("phone", "13800138000"),
                ("category", "price"),
                ("description", &format!("{nul}，多收了二十元钱")),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("多收了二十元钱"), "input kept");
    // Multi-line text keeps its newlines and tabs.
    let mut c = complaint(&s.code, "13700137000");
    c["description"] = json!("第一行：多收了钱\n\t第二行：店员拒绝解释");
    let resp = submit_with(&app, "tab-key", &c).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}
