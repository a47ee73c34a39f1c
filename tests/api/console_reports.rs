//! The console's indicators and warnings pages.

use reqwest::header;

use crate::console::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn stats_show_the_jurisdiction_with_charts_and_export_links() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    app.merchant_in("513230").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let p = b.get("/console/stats").await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("<svg class=\"chart\""),
        "charts drawn on the server"
    );
    assert!(p.body.contains("办结率"));
    let at = p.body.find("/api/v1/stats.xlsx?").unwrap();
    let href = p.body[at..at + p.body[at..].find('"').unwrap()].replace("&amp;", "&");
    let xlsx = app
        .client
        .get(app.url(&href))
        .header(
            header::COOKIE,
            format!("yidianyima_session={}", b.cookie.as_deref().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    assert_eq!(&xlsx.bytes().await.unwrap()[..2], b"PK");
    // a bad date: the form again, with the error beside it
    let p = b.get("/console/stats?from=2026-02-30").await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("value=\"2026-02-30\""));
    // another county: 404
    assert_eq!(b.get("/console/stats?region=513231").await.status, 404);
}

#[tokio::test]
async fn warnings_are_published_and_ended_from_the_console() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let until = (yidianyima::service::today() + chrono::Days::new(10)).to_string();
    let p = b
        .submit(
            "/console/warnings",
            "/console/warnings",
            &[
                ("region_code", "513230"),
                ("title", ""),
                ("body", "虫草收购请认准正规渠道，谨防掺假。"),
                ("valid_until", &until),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(
        p.body.contains("虫草收购请认准正规渠道，谨防掺假。"),
        "input kept"
    );
    let p = b
        .submit(
            "/console/warnings",
            "/console/warnings",
            &[
                ("region_code", "513230"),
                ("title", "虫草收购提示"),
                ("body", "虫草收购请认准正规渠道，谨防掺假。"),
                ("valid_until", &until),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let list = b.get("/console/warnings?done=created").await;
    assert!(list.body.contains("虫草收购提示"));
    let at = list.body.find("/console/warnings/").unwrap();
    let action = &list.body[at..at + list.body[at..].find('"').unwrap()];
    let p = b.post(action, &[("csrf_token", &list.csrf())]).await;
    assert_eq!(p.status, 303);
    assert_eq!(
        // Today in China (the service's day), not the database session's UTC date: from
        // 16:00 UTC they differ, and the ended warning's last day is China's yesterday.
        app.count(
            "SELECT count(*) AS n FROM warnings \
             WHERE valid_until < (now() AT TIME ZONE 'Asia/Shanghai')::date"
        )
        .await,
        1
    );
}
