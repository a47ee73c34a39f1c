//! The console's registry pages: list, create, the merchant's page and its record forms, edit.
//! Each route: anonymous → login; outside jurisdiction → 404; no or wrong CSRF token or a
//! foreign origin → 403 with nothing written; a field error → 422 with the input kept; success
//! → 303.

use yidianyima::domain::user::Role;

use crate::console::Browser;
use crate::helpers::{spawn_app, uscc_for};

/// `uscc` with its check character changed (so the check fails).
pub fn wrong_check_char(uscc: &str) -> String {
    let mut chars: Vec<char> = uscc.chars().collect();
    let last = chars[17];
    chars[17] = if last == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn a_regulator_creates_a_merchant_fixing_a_wrong_uscc_beside_the_field() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let good = uscc_for("513230", 4242);
    let bad = wrong_check_char(&good);
    let form = b.get("/console/merchants/new").await;
    assert_eq!(form.status, 200);
    for field in [
        "uscc",
        "name",
        "category",
        "region_code",
        "phone",
        "opening_hours",
    ] {
        assert!(form.body.contains(&format!("name=\"{field}\"")), "{field}");
    }
    let name = "马尔康安康大药房（民族街店）";
    let fields = |uscc: &str| {
        vec![
            ("uscc", uscc.to_owned()),
            ("name", name.to_owned()),
            ("category", "pharmacy".to_owned()),
            ("region_code", "513230".to_owned()),
            ("status", "open".to_owned()),
            ("phone", "0837-2822123".to_owned()),
            ("opening_months", "6".to_owned()),
            ("opening_months", "7".to_owned()),
            ("pledges", "明码标价\n假一赔十".to_owned()),
        ]
    };
    let f = fields(&bad);
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = b
        .submit("/console/merchants/new", "/console/merchants/new", &refs)
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(
        p.body.contains("校验位不正确"),
        "the message beside the field"
    );
    assert!(p.body.contains("id=\"e-uscc\""));
    assert!(
        p.body.contains(&format!("value=\"{bad}\"")),
        "the input kept"
    );
    assert!(p.body.contains(name), "every field kept");
    assert!(p.body.contains("明码标价"));
    assert_eq!(app.count("SELECT count(*) AS n FROM merchants").await, 0);

    let f = fields(&good);
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = b
        .submit("/console/merchants/new", "/console/merchants/new", &refs)
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let loc = p.location.unwrap();
    assert!(loc.starts_with("/console/merchants/"), "{loc}");
    let page = b.get(&loc).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(name), "stored as typed");
    assert!(page.body.contains("商户已创建"));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'merchant.create'")
            .await,
        1
    );

    // it shows in the list and the search
    let list = b.get("/console/merchants?q=%E5%AE%89%E5%BA%B7").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains(name));
}

#[tokio::test]
async fn forms_without_a_valid_token_or_from_another_site_write_nothing() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let token = b.get("/console/merchants/new").await.csrf();
    let inspection = [
        ("kind", "routine"),
        ("inspected_on", "2026-11-02"),
        ("department", "马尔康市市场监督管理局"),
        ("result", "fail"),
    ];
    let path = format!("/console/merchants/{}/inspections", m.id);
    // no token
    assert_eq!(b.post(&path, &inspection).await.status, 403);
    // a forged one
    let mut with = vec![("csrf_token", "x".repeat(43))];
    with.extend(inspection.iter().map(|(k, v)| (*k, v.to_string())));
    let refs: Vec<(&str, &str)> = with.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post(&path, &refs).await.status, 403);
    // the right token from a foreign origin
    let mut evil = Browser {
        app: &app,
        cookie: b.cookie.clone(),
        origin: Some("https://evil.example".into()),
    };
    let mut with = vec![("csrf_token", token.clone())];
    with.extend(inspection.iter().map(|(k, v)| (*k, v.to_string())));
    let refs: Vec<(&str, &str)> = with.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(evil.post(&path, &refs).await.status, 403);
    assert_eq!(app.count("SELECT count(*) AS n FROM inspections").await, 0);
    // the same, properly
    let p = b.post(&path, &refs).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM inspections").await, 1);
}

#[tokio::test]
async fn a_failed_inspection_changes_the_grade_on_the_merchants_page() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let page = format!("/console/merchants/{}", m.id);
    let before = b.get(&page).await;
    assert!(
        before.body.contains("class=\"grade A\""),
        "a new merchant is A"
    );

    // a field error keeps the form open with the input
    let p = b
        .submit(
            &page,
            &format!("{page}/inspections"),
            &[
                ("kind", "routine"),
                ("inspected_on", "2026-13-40"),
                ("department", "马尔康市市场监督管理局"),
                ("result", "fail"),
                ("summary", "冷藏柜温度超标，责令改正。"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("冷藏柜温度超标，责令改正。"));
    assert!(p.body.contains("id=\"e-inspected_on\""));

    let p = b
        .submit(
            &page,
            &format!("{page}/inspections"),
            &[
                ("kind", "routine"),
                ("inspected_on", &yidianyima::service::today().to_string()),
                ("department", "马尔康市市场监督管理局"),
                ("result", "fail"),
                ("summary", "冷藏柜温度超标，责令改正。"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let after = b.get(p.location.as_deref().unwrap()).await;
    assert!(
        !after.body.contains("class=\"grade A\""),
        "the grade dropped"
    );
    assert!(after.body.contains("冷藏柜温度超标，责令改正。"));
}

#[tokio::test]
async fn other_jurisdictions_and_merchants_get_404() {
    let app = spawn_app().await;
    let m = app.merchant_in("513230").await;
    let other_county = app.regulator(&["513231"]).await;
    let mut b = Browser::signed_in(&app, &other_county).await;
    for path in [
        format!("/console/merchants/{}", m.id),
        format!("/console/merchants/{}/edit", m.id),
        "/console/merchants/999999".to_owned(),
    ] {
        assert_eq!(b.get(&path).await.status, 404, "{path}");
    }
    let token = b.get("/console/").await.csrf();
    let p = b
        .post(
            &format!("/console/merchants/{}/licences", m.id),
            &[
                ("csrf_token", &token),
                ("kind", "food_business"),
                ("number", "JY1"),
                ("issuer", "x"),
                ("valid_from", "2026-01-01"),
            ],
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(app.count("SELECT count(*) AS n FROM licences").await, 0);
    // the list does not show it
    let list = b.get("/console/merchants").await;
    assert!(!list.body.contains(&m.name));

    // a merchant sees its own page, not the list, not another shop
    let other = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    let mut ob = Browser::signed_in(&app, &owner).await;
    let home = ob.get("/console/").await;
    assert_eq!(home.status, 200, "a merchant's work page is its shop");
    assert!(home.body.contains(&m.name));
    assert_eq!(
        ob.get(&format!("/console/merchants/{}", m.id)).await.status,
        200
    );
    assert_eq!(
        ob.get(&format!("/console/merchants/{}", other.id))
            .await
            .status,
        404
    );
    assert_eq!(ob.get("/console/merchants").await.status, 404);
    assert_eq!(ob.get("/console/merchants/new").await.status, 404);
}

#[tokio::test]
async fn editing_keeps_untouched_text_and_a_merchant_edits_only_its_own_fields() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let edit = format!("/console/merchants/{}/edit", m.id);
    let form = b.get(&edit).await;
    assert_eq!(form.status, 200);
    let version = crate::console::hidden(&form.body, "version").unwrap();
    let p = b
        .submit(
            &edit,
            &edit,
            &[
                ("version", &version),
                ("uscc", &m.uscc),
                ("name", "阿坝州红原县“草原人家”餐馆（二店）"),
                ("category", "restaurant"),
                ("region_code", "513230"),
                ("status", "open"),
                ("phone", "not a phone"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("id=\"e-phone\""));
    assert!(p.body.contains("value=\"not a phone\""));
    let p = b
        .submit(
            &edit,
            &edit,
            &[
                ("version", &version),
                ("uscc", &m.uscc),
                ("name", "阿坝州红原县“草原人家”餐馆（二店）"),
                ("category", "restaurant"),
                ("region_code", "513230"),
                ("status", "open"),
                ("phone", "13800001111"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = b.get(&format!("/console/merchants/{}", m.id)).await;
    assert!(page.body.contains("阿坝州红原县“草原人家”餐馆（二店）"));

    // the owner: its form has only its fields; a name smuggled in is refused
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    let mut ob = Browser::signed_in(&app, &owner).await;
    let own = ob.get(&edit).await;
    assert_eq!(own.status, 200);
    assert!(!own.body.contains("name=\"uscc\""));
    assert!(own.body.contains("name=\"opening_hours\""));
    let p = ob
        .submit(
            &edit,
            &edit,
            &[
                ("opening_hours", "09:00-21:00"),
                ("status", "seasonal_closed"),
                ("name", "改名"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = ob.get(&format!("/console/merchants/{}", m.id)).await;
    assert!(page.body.contains("09:00-21:00"));
    assert!(
        page.body.contains("阿坝州红原县“草原人家”餐馆（二店）"),
        "the name unchanged"
    );
}

#[tokio::test]
async fn codes_are_issued_confirmed_before_reissue_and_posters_download_by_cookie() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let page = format!("/console/merchants/{}", m.id);
    let p = b.submit(&page, &format!("{page}/qrcode"), &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let shown = b.get(&format!("{page}?done=issued")).await;
    assert!(shown.body.contains("二维码已发放"));
    assert_eq!(app.count("SELECT count(*) AS n FROM shop_codes").await, 1);
    let href = format!("/api/v1/merchants/{}/poster.png", m.id);
    assert!(shown.body.contains(&href));
    let png = app
        .client
        .get(app.url(&href))
        .header(
            reqwest::header::COOKIE,
            format!("yidianyima_session={}", b.cookie.as_deref().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    assert_eq!(&png.bytes().await.unwrap()[1..4], b"PNG");

    // re-issue asks first; the confirmation page posts the re-issue
    let confirm = b
        .get(&format!("{page}/qrcode/confirm?action=reissue"))
        .await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("立即失效"));
    let p = b
        .submit(
            &format!("{page}/qrcode/confirm?action=reissue"),
            &format!("{page}/qrcode/reissue"),
            &[],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM shop_codes WHERE revoked_at IS NULL")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM shop_codes").await, 2);
    let p = b
        .submit(
            &format!("{page}/qrcode/confirm?action=revoke"),
            &format!("{page}/qrcode/revoke"),
            &[],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM shop_codes WHERE revoked_at IS NULL")
            .await,
        0
    );

    // the county: every merchant without a code gets one
    app.merchant_in("513230").await;
    let p = b
        .submit(
            "/console/codes",
            "/console/codes/issue",
            &[("region_code", "513230")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location.unwrap().contains("issued=2"));
    // another county is not this regulator's
    let p = b
        .submit(
            "/console/codes",
            "/console/codes/issue",
            &[("region_code", "513231")],
        )
        .await;
    assert_eq!(p.status, 404);
}

#[tokio::test]
async fn the_owner_adds_and_removes_a_storefront_photo_from_the_phone() {
    let app = spawn_app().await;
    let m = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    let mut b = Browser::signed_in(&app, &owner).await;
    let page = format!("/console/merchants/{}", m.id);
    let shown = b.get(&page).await;
    assert!(shown.body.contains("accept=\"image/*\""));
    let token = shown.csrf();
    let send = |token: Option<String>, bytes: Vec<u8>| {
        let mut form = reqwest::multipart::Form::new()
            .text("kind", "storefront")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("IMG_0001.jpg"),
            );
        if let Some(t) = token {
            form = form.text("csrf_token", t);
        }
        app.client
            .post(app.url(&format!("/console/merchants/{}/photos", m.id)))
            .header(
                reqwest::header::COOKIE,
                format!("yidianyima_session={}", b.cookie.as_deref().unwrap()),
            )
            .header(reqwest::header::ORIGIN, &app.address)
            .multipart(form)
            .send()
    };
    let r = send(None, crate::records::jpeg_with_exif()).await.unwrap();
    assert_eq!(r.status(), 403);
    let r = send(Some(token.clone()), b"not an image".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"e-file\""));
    assert_eq!(app.count("SELECT count(*) AS n FROM photos").await, 0);
    let r = send(Some(token.clone()), crate::records::jpeg_with_exif())
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("SELECT count(*) AS n FROM photos").await, 1);
    let shown = b.get(&page).await;
    let prefix = format!("action=\"/console/merchants/{}/photos/", m.id);
    let at = shown.body.find(&prefix).unwrap() + "action=\"".len();
    let action = shown.body[at..at + shown.body[at..].find('"').unwrap()].to_owned();
    let p = b.post(&action, &[("csrf_token", &token)]).await;
    assert_eq!(p.status, 303, "{action}: {}", p.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM photos").await, 0);
    // another shop's owner cannot add one here
    let other = app.merchant_in("513230").await;
    let other_owner = app.user(Role::Merchant, &[], Some(other.id)).await;
    let ob = Browser::signed_in(&app, &other_owner).await;
    let r = app
        .client
        .post(app.url(&format!("/console/merchants/{}/photos", m.id)))
        .header(
            reqwest::header::COOKIE,
            format!("yidianyima_session={}", ob.cookie.as_deref().unwrap()),
        )
        .header(reqwest::header::ORIGIN, &app.address)
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf_token", "whatever")
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(crate::records::jpeg_with_exif()),
                ),
        )
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());
    assert_eq!(app.count("SELECT count(*) AS n FROM photos").await, 0);
}

#[tokio::test]
async fn a_double_tap_records_one_inspection() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let m = app.merchant_in("513230").await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let page = format!("/console/merchants/{}", m.id);
    let shown = b.get(&page).await;
    let at = shown
        .body
        .find(&format!("action=\"{page}/inspections\""))
        .unwrap();
    let form_id = crate::console::hidden(&shown.body[at..], "form_id").unwrap();
    let today = yidianyima::service::today().to_string();
    let fields = [
        ("csrf_token", shown.csrf()),
        ("form_id", form_id),
        ("kind", "routine".into()),
        ("inspected_on", today),
        ("department", "红原县市场监督管理局".into()),
        ("result", "pass".into()),
    ];
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = b.post(&format!("{page}/inspections"), &refs).await;
    assert_eq!(first.status, 303);
    let again = b.post(&format!("{page}/inspections"), &refs).await;
    assert_eq!(again.status, 303, "the retry goes back to the page");
    assert_eq!(app.count("SELECT count(*) AS n FROM inspections").await, 1);
    // a fresh render acts again
    let shown = b.get(&page).await;
    let at = shown
        .body
        .find(&format!("action=\"{page}/inspections\""))
        .unwrap();
    let fresh = crate::console::hidden(&shown.body[at..], "form_id").unwrap();
    let mut refs = refs.clone();
    refs[1] = ("form_id", &fresh);
    assert_eq!(
        b.post(&format!("{page}/inspections"), &refs).await.status,
        303
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM inspections").await, 2);
}
