//! Shop codes: issue, re-issue, revoke, images that decode to the code's URL.

use serde_json::{json, Value};

use crate::helpers::{assert_field_error, assert_problem, spawn_app};
use yidianyima::domain::user::Role;

fn decode(png: &[u8]) -> String {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn issue_reissue_revoke_and_decode() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(shop.id)).await;
    let path = format!("/api/v1/merchants/{}/qrcode", shop.id);

    assert_problem(app.get_as(&owner.token, &path).await, 404, "not_found").await;
    let resp = app.post_as(&reg.token, &path, &json!({})).await;
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    let code = first["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 12);
    assert!(code
        .bytes()
        .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)));
    assert_eq!(first["url"], format!("{}/s/{code}", app.public_base_url()));

    // The merchant sees its code and gets images that decode to the URL.
    let shown: Value = app.get_as(&owner.token, &path).await.json().await.unwrap();
    assert_eq!(shown["code"], code);
    let png = app
        .get_as(&owner.token, &format!("{path}.png?size=400"))
        .await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    assert_eq!(decode(&bytes), first["url"].as_str().unwrap());
    let svg = app.get_as(&owner.token, &format!("{path}.svg")).await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    let resp = app
        .get_as(&owner.token, &format!("{path}.png?size=5000"))
        .await;
    assert_field_error(resp, "size", "out_of_range").await;

    // Re-issue: a new code; the old one is withdrawn.
    let second: Value = app
        .post_as(&reg.token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(second["code"], code);
    let mut conn = app.conn().await;
    let old = yidianyima::db::shop_codes::find(&mut conn, &code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.revoke_reason.as_deref(), Some("reissued"));
    let shown: Value = app.get_as(&owner.token, &path).await.json().await.unwrap();
    assert_eq!(shown["code"], second["code"]);

    // Revoke, then nothing active.
    let resp = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&reg.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&reg.token)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;
    assert_problem(
        app.get_as(&owner.token, &format!("{path}.png")).await,
        404,
        "not_found",
    )
    .await;

    let log = yidianyima::db::audit::for_entity(&mut conn, "merchant", &shop.id.to_string())
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["qrcode.issue", "qrcode.reissue", "qrcode.revoke"]);
}

#[tokio::test]
async fn only_the_merchants_regulators_issue_codes() {
    let app = spawn_app().await;
    let other = app.regulator(&["513231"]).await;
    let shop = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(shop.id)).await;
    let path = format!("/api/v1/merchants/{}/qrcode", shop.id);
    assert_problem(
        app.post_as(&owner.token, &path, &json!({})).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_as(&other.token, &path, &json!({})).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(app.get_as(&other.token, &path).await, 404, "not_found").await;
}

#[tokio::test]
async fn a_whole_county_at_once() {
    let app = spawn_app().await;
    let pref = app.regulator(&["513200"]).await;
    let county = app.regulator(&["513230"]).await;
    let a = app.merchant_in("513230").await;
    let _b = app.merchant_in("513230").await;
    let _c = app.merchant_in("513231").await;
    // One already has a code; it keeps it.
    let first: Value = app
        .post_as(
            &county.token,
            &format!("/api/v1/merchants/{}/qrcode", a.id),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let resp = app
        .post_as(&county.token, "/api/v1/regions/513230/qrcodes", &json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["issued"], 1);
    let still: Value = app
        .get_as(&county.token, &format!("/api/v1/merchants/{}/qrcode", a.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["code"], first["code"]);
    // Again: nothing left to issue. The prefecture covers the other county too.
    let body: Value = app
        .post_as(&county.token, "/api/v1/regions/513230/qrcodes", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["issued"], 0);
    let body: Value = app
        .post_as(&pref.token, "/api/v1/regions/513200/qrcodes", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["issued"], 1);
    // The county's posters as one zip, a file per active code named by USCC.
    let resp = app
        .get_as(&county.token, "/api/v1/regions/513230/qrcodes.zip")
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let bytes = resp.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(zip.len(), 2);
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    let mut want = vec![format!("{}.svg", a.uscc), format!("{}.svg", _b.uscc)];
    want.sort();
    assert_eq!(names, want);
    let mut svg = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name(&format!("{}.svg", a.uscc)).unwrap(),
        &mut svg,
    )
    .unwrap();
    let code = first["code"].as_str().unwrap();
    assert!(svg.contains(&format!("{} {} {}", &code[..4], &code[4..8], &code[8..])));
    // The same as PNG posters: each reads back to its shop's URL.
    let resp = app
        .get_as(
            &county.token,
            "/api/v1/regions/513230/qrcodes.zip?format=png",
        )
        .await;
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(zip.len(), 2);
    let mut png = Vec::new();
    std::io::Read::read_to_end(
        &mut zip.by_name(&format!("{}.png", a.uscc)).unwrap(),
        &mut png,
    )
    .unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!((img.width(), img.height()), (1240, 1748), "A6 at 300 dpi");
    assert_eq!(decode(&png), format!("{}/s/{code}", app.public_base_url()));
    let resp = app
        .get_as(
            &county.token,
            "/api/v1/regions/513230/qrcodes.zip?format=pdf",
        )
        .await;
    assert_field_error(resp, "format", "invalid_format").await;
    let resp = app
        .get_as(&county.token, "/api/v1/regions/513231/qrcodes.zip")
        .await;
    assert_problem(resp, 404, "not_found").await;

    // Outside the jurisdiction, the region does not exist for the caller.
    let resp = app
        .post_as(&county.token, "/api/v1/regions/513231/qrcodes", &json!({}))
        .await;
    assert_problem(resp, 404, "not_found").await;
}
