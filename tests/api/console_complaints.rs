//! The console's complaint pages: the queue overdue first with working days left, the
//! complaint's page and its action forms, masking for merchants, and the work page's counts.

use yidianyima::domain::user::Role;

use crate::complaints::{file, make_overdue, shop};
use crate::console::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_regulator_accepts_and_resolves_a_complaint_with_the_amount_in_yuan() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let (no, id) = file(&app, &s.code, "13900001111").await;
    let (late_no, late_id) = file(&app, &s.code, "13900002222").await;
    make_overdue(&app, late_id).await;

    let mut b = Browser::signed_in(&app, &reg).await;
    let home = b.get("/console/").await;
    assert!(home.body.contains("/console/complaints?overdue=true"));
    let q = b.get("/console/complaints").await;
    assert_eq!(q.status, 200);
    let (first, second) = (q.body.find(&late_no).unwrap(), q.body.find(&no).unwrap());
    assert!(first < second, "overdue first");
    assert!(q.body.contains("已超期"), "overdue shown in working days");
    assert!(q.body.contains("剩余"), "working days left shown");
    let overdue_only = b.get("/console/complaints?overdue=true").await;
    assert!(overdue_only.body.contains(&late_no) && !overdue_only.body.contains(&no));

    let page = format!("/console/complaints/{id}");
    let p = b.get(&page).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("13900001111"), "staff see the consumer");
    assert!(p.body.contains("value=\"accept\"") && p.body.contains("value=\"reject\""));

    // reject without a note: 422, the note's error beside it, nothing changed
    let r = b
        .submit(&page, &page, &[("action", "reject"), ("note", "")])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"e-note\""));
    let r = b
        .submit(
            &page,
            &page,
            &[("action", "accept"), ("note", "已联系商户，进入调解。")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some(&*format!("{page}?done=accept")));
    let p = b.get(&format!("{page}?done=accept")).await;
    assert!(p.body.contains("已受理"));
    assert!(
        p.body.contains("已联系商户，进入调解。"),
        "the note in the timeline"
    );

    // a wrong amount keeps the input; a right one is stored in fen
    let r = b
        .submit(
            &page,
            &page,
            &[
                ("action", "resolve"),
                ("amount_recovered_yuan", "20.555"),
                ("note", "退款"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("value=\"20.555\""));
    let r = b
        .submit(
            &page,
            &page,
            &[
                ("action", "resolve"),
                ("amount_recovered_yuan", "20.5"),
                ("note", "商户退还多收款项。"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count(&format!(
            "SELECT amount_recovered_fen AS n FROM complaints WHERE id = {id}"
        ))
        .await,
        2050
    );
    // the same form again (a reload of the old page): the state moved on, nothing repeats
    let again = b
        .post(
            &page,
            &[
                ("csrf_token", &p.csrf()),
                ("action", "resolve"),
                ("note", "x"),
            ],
        )
        .await;
    assert_eq!(again.status, 409);
}

#[tokio::test]
async fn merchants_see_their_complaints_masked_and_others_get_404() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let (_, id) = file(&app, &s.code, "13900001111").await;
    let owner = app.user(Role::Merchant, &[], Some(s.id)).await;
    let mut ob = Browser::signed_in(&app, &owner).await;
    let q = ob.get("/console/complaints").await;
    assert_eq!(q.status, 200);
    let p = ob.get(&format!("/console/complaints/{id}")).await;
    assert_eq!(p.status, 200);
    assert!(!p.body.contains("13900001111"), "the phone is masked");
    assert!(
        p.body.contains("value=\"propose\""),
        "the green channel is open"
    );
    assert!(!p.body.contains("value=\"accept\""));
    // a regulator's action from the merchant is refused
    let token = p.csrf();
    let r = ob
        .post(
            &format!("/console/complaints/{id}"),
            &[("csrf_token", &token), ("action", "accept")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = ob
        .post(
            &format!("/console/complaints/{id}"),
            &[
                ("csrf_token", &token),
                ("action", "propose"),
                ("amount_recovered_yuan", "20"),
                ("note", "愿意退还多收的 20 元并致歉。"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let other_county = app.regulator(&["513231"]).await;
    let mut b = Browser::signed_in(&app, &other_county).await;
    assert_eq!(
        b.get(&format!("/console/complaints/{id}")).await.status,
        404
    );
    let token = b.get("/console/").await.csrf();
    let r = b
        .post(
            &format!("/console/complaints/{id}"),
            &[("csrf_token", &token), ("action", "accept")],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM complaints WHERE id = {id} AND status = 'merchant_proposed'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn the_work_page_counts_what_is_due_in_the_jurisdiction() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let (_, late) = file(&app, &s.code, "13900001111").await;
    make_overdue(&app, late).await;
    file(&app, &s.code, "13900002222").await;
    // elsewhere: not counted
    let other = app.regulator(&["513231"]).await;
    let s2 = shop(&app, &other, "513231").await;
    let (_, late2) = file(&app, &s2.code, "13900003333").await;
    make_overdue(&app, late2).await;
    // an open merchant without a code
    app.merchant_in("513230").await;

    let mut b = Browser::signed_in(&app, &reg).await;
    let home = b.get("/console/").await;
    let count_of = |href: &str| -> i64 {
        let at = home.body.find(&format!("href=\"{href}\"")).unwrap();
        let rest = &home.body[at..];
        let n = rest.find("class=\"n\">").unwrap() + 10;
        rest[n..n + rest[n..].find('<').unwrap()].parse().unwrap()
    };
    assert_eq!(count_of("/console/complaints?overdue=true"), 1);
    assert_eq!(count_of("/console/complaints?status=submitted"), 2);
    assert_eq!(count_of("/console/merchants?attention=no_code"), 1);
    let list = b.get("/console/merchants?attention=no_code").await;
    assert!(list.body.contains("共 1 户"), "the list behind the count");
}

#[tokio::test]
async fn a_saved_note_stands_in_for_a_blank_one_within_the_jurisdiction() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let s = shop(&app, &reg, "513230").await;
    let (_, id) = file(&app, &s.code, "13900001111").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let p = b
        .submit(
            "/console/complaints/templates",
            "/console/complaints/templates",
            &[
                ("region_code", "513230"),
                ("title", "受理通知"),
                ("body", "经审查，符合受理条件，现予受理。"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let tid = app
        .count("SELECT max(id) AS n FROM note_templates")
        .await
        .to_string();
    let page = format!("/console/complaints/{id}");
    let shown = b.get(&page).await;
    assert!(
        shown.body.contains("受理通知"),
        "offered on the complaint page"
    );
    let p = b
        .submit(
            &page,
            &page,
            &[("action", "accept"), ("note", ""), ("note_template", &tid)],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM complaint_events WHERE note = '经审查，符合受理条件，现予受理。'"
        )
        .await,
        1
    );
    // another county neither sees nor deletes it
    let other = app.regulator(&["513231"]).await;
    let mut ob = Browser::signed_in(&app, &other).await;
    let list = ob.get("/console/complaints/templates").await;
    assert!(!list.body.contains("受理通知"));
    let token = list.csrf();
    let r = ob
        .post(
            &format!("/console/complaints/templates/{tid}/delete"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM note_templates").await,
        1
    );
}
