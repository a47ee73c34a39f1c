//! The console's import: upload → preview → confirm without uploading again → result.

use reqwest::header;

use crate::console::{hidden, Browser};
use crate::helpers::{spawn_app, uscc_for, TestApp};

async fn upload(
    app: &TestApp,
    b: &Browser<'_>,
    token: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    if let Some(t) = token {
        form = form.text("csrf_token", t.to_owned());
    }
    let resp = app
        .client
        .post(app.url("/console/imports"))
        .header(
            header::COOKIE,
            format!("yidianyima_session={}", b.cookie.as_deref().unwrap()),
        )
        .header(header::ORIGIN, &app.address)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

fn csv(rows: &[(String, &str)]) -> Vec<u8> {
    let mut s = String::from("统一社会信用代码,名称,类别,行政区划代码,电话\n");
    for (uscc, name) in rows {
        s.push_str(&format!("{uscc},{name},餐饮,513230,13800001111\n"));
    }
    s.into_bytes()
}

#[tokio::test]
async fn a_csv_goes_through_preview_and_confirm_once() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let page = b.get("/console/imports").await;
    assert_eq!(page.status, 200);
    let token = page.csrf();
    let file = csv(&[
        (uscc_for("513230", 1), "红原县牦牛肉馆（总店）"),
        (uscc_for("513230", 2), "红原县酥油茶坊"),
        ("91510000BADBADBAD0".to_owned(), "错误的代码"),
    ]);

    // without the token: refused, nothing kept
    let (status, _) = upload(&app, &b, None, "shops.csv", file.clone()).await;
    assert_eq!(status, 403);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM console_uploads").await,
        0
    );

    let (status, body) = upload(&app, &b, Some(&token), "shops.csv", file.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("预检结果"), "{body}");
    assert!(
        body.contains("<td class=\"num\">4</td>"),
        "the bad row (Excel row 4) is listed"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM merchants").await,
        0,
        "a dry run"
    );
    let at = body.find("/console/imports/").unwrap();
    let action = &body[at..at + body[at..].find('"').unwrap()];
    assert!(action.ends_with("/confirm"));

    // all-or-nothing first: 422, nothing written, the file still kept
    let csrf = hidden(&body, "csrf_token").unwrap();
    let p = b.post(action, &[("csrf_token", &csrf)]).await;
    assert_eq!(p.status, 422);
    assert_eq!(app.count("SELECT count(*) AS n FROM merchants").await, 0);

    // another session cannot confirm it
    let mut other = Browser::signed_in(&app, &reg).await;
    let other_csrf = other.get("/console/imports").await.csrf();
    let p = other
        .post(action, &[("csrf_token", &other_csrf), ("partial", "on")])
        .await;
    assert_eq!(p.status, 422);
    assert_eq!(app.count("SELECT count(*) AS n FROM merchants").await, 0);

    let p = b
        .post(action, &[("csrf_token", &csrf), ("partial", "on")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let loc = p.location.unwrap();
    assert!(loc.contains("created=2"), "{loc}");
    let result = b.get(&loc).await;
    assert!(result.body.contains("导入完成"));
    assert_eq!(app.count("SELECT count(*) AS n FROM merchants").await, 2);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM merchants WHERE name = '红原县牦牛肉馆（总店）'")
            .await,
        1,
        "stored as typed"
    );
    // confirming again (a reload) writes nothing more
    let p = b
        .post(action, &[("csrf_token", &csrf), ("partial", "on")])
        .await;
    assert_eq!(p.status, 422);
    assert_eq!(app.count("SELECT count(*) AS n FROM merchants").await, 2);
}

#[tokio::test]
async fn templates_download_with_the_session_and_import_back() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let csv = b.get("/console/imports/template.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("统一社会信用代码,名称,类别,行政区划代码"));
    let xlsx = app
        .client
        .get(app.url("/console/imports/template.xlsx"))
        .header(
            header::COOKIE,
            format!("yidianyima_session={}", b.cookie.as_deref().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK");
    // the CSV template, filled in, imports
    let filled = format!(
        "{}{},草原人家餐馆,餐饮,513230,法人,地址,13800001111,餐饮服务,2020-01-02,营业,09:00-21:00,6;7;8,简介\r\n",
        csv.body,
        uscc_for("513230", 7)
    );
    let token = b.get("/console/imports").await.csrf();
    let (status, body) = upload(&app, &b, Some(&token), "t.csv", filled.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("需要修改的行"), "{body}");

    // a merchant has no import
    let anon = Browser::new(&app);
    let mut anon = anon;
    assert_eq!(anon.get("/console/imports/template.csv").await.status, 303);
}
