//! The data-exchange import: encodings, XLSX, headers, normalisation, duplicates, jurisdiction,
//! dry runs and all-or-nothing.

use serde_json::Value;

use crate::helpers::{assert_field_error, assert_problem, spawn_app, uscc_for, TestApp, TestUser};

const HEADER_ZH: &str =
    "统一社会信用代码,名称,法定代表人,类别,行政区划代码,地址,电话,经营范围,成立日期,校验码例外说明";

fn row(uscc: &str, name: &str, region: &str) -> String {
    format!(
        "{uscc},{name},卓玛,餐饮,{region},马尔康市达萨街 8 号,0837-2822222,餐饮服务,2019-05-20,"
    )
}

async fn import(
    app: &TestApp,
    user: &TestUser,
    query: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.upload_as(
        &user.token,
        &format!("/api/v1/imports{query}"),
        name,
        bytes,
        &[],
    )
    .await
}

async fn ok_report(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn merchant_count(app: &TestApp, user: &TestUser) -> i64 {
    let page: Value = app
        .get_as(&user.token, "/api/v1/merchants?per_page=1")
        .await
        .json()
        .await
        .unwrap();
    page["total"].as_i64().unwrap()
}

#[tokio::test]
async fn utf8_bom_blank_lines_full_width_then_update_and_unchanged() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513200"]).await;
    let a = uscc_for("513201", 1);
    let b = uscc_for("513201", 2);
    // Full-width digits in the USCC, an ideographic space in the name, blank lines.
    let a_wide: String = a
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap()
            } else {
                c
            }
        })
        .collect();
    let csv = format!(
        "\u{FEFF}{HEADER_ZH}\n\n{}\n,,,,,,,,\n{}\n\n{}\n",
        row(&a_wide, "达萨　藏餐", "513201"),
        row(&b.to_lowercase(), "嘉绒客栈", "513201").replace("餐饮,", "住宿,"),
        row("92513201BAD", "坏行", "513201"),
    );
    // The bad row is on line 7 as a spreadsheet shows the file (blank lines keep their numbers).
    let resp = import(&app, &reg, "", "merchants.csv", csv.clone().into_bytes()).await;
    let body = assert_problem(resp, 422, "import_rejected").await;
    assert_eq!(body["report"]["rejected"][0]["row"], 7, "{body}");
    let csv = csv.replace(&row("92513201BAD", "坏行", "513201"), "");
    let report = ok_report(import(&app, &reg, "", "merchants.csv", csv.into_bytes()).await).await;
    assert_eq!(report["format"], "csv/utf-8-bom");
    assert_eq!(
        (report["rows"].as_i64(), report["created"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(report["committed"], true);
    let page: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants?q={a}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["name"], "达萨 藏餐");
    let page: Value = app
        .get_as(&reg.token, "/api/v1/merchants?category=hotel")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["uscc"], b);

    // Same file again: unchanged; a changed address: updated; a blank cell keeps the value.
    let csv =
        format!("名称,统一社会信用代码,地址\n达萨 藏餐,{a},马尔康市达萨街 10 号\n嘉绒客栈,{b},\n");
    let report = ok_report(import(&app, &reg, "", "again.csv", csv.into_bytes()).await).await;
    assert_eq!(
        (report["updated"].as_i64(), report["unchanged"].as_i64()),
        (Some(1), Some(1))
    );
    let page: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants?q={b}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["address"], "马尔康市达萨街 8 号");

    // Two commits, two audit events.
    let mut conn = app.conn().await;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use yidianyima::db::schema::audit_log;
    let n: i64 = audit_log::table
        .filter(audit_log::action.eq("merchant.import"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn gbk_and_english_headers() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let text = format!(
        "uscc,name,category,region_code,phone,registered_on\n{},马尔康药房,药店,513201,+86 139 0000 1111,2018年3月1日\n",
        uscc_for("513201", 3)
    );
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let report = ok_report(import(&app, &reg, "", "gbk.csv", gbk.into_owned()).await).await;
    assert_eq!(report["format"], "csv/gbk");
    assert_eq!(report["created"], 1);
    let page: Value = app
        .get_as(&reg.token, "/api/v1/merchants?category=pharmacy")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["name"], "马尔康药房");
    assert_eq!(page["items"][0]["phone"], "13900001111");
}

#[tokio::test]
async fn xlsx_with_numbers_and_dates() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in [
        "统一社会信用代码",
        "名称",
        "类别",
        "电话",
        "成立日期",
        "营业月份",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, uscc_for("513201", 4)).unwrap();
    sheet.write_string(1, 1, "松岗天街景区").unwrap();
    sheet.write_string(1, 2, "景区").unwrap();
    sheet.write_number(1, 3, 13812345678.0).unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2017, 8, 1).unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    sheet.write_datetime_with_format(1, 4, &date, &fmt).unwrap();
    sheet.write_string(1, 5, "5-10").unwrap();
    // Row 3 blank, row 4 bad: its number in the report must be 4.
    sheet.write_string(3, 0, "91513201XXXXXXXXX").unwrap();
    sheet.write_string(3, 1, "坏数据").unwrap();
    let bytes = book.save_to_buffer().unwrap();

    let resp = import(&app, &reg, "?partial=true", "merchants.xlsx", bytes).await;
    let report = ok_report(resp).await;
    assert_eq!(report["format"], "xlsx");
    assert_eq!(report["created"], 1);
    assert_eq!(report["rejected"][0]["row"], 4);
    assert_eq!(report["rejected"][0]["errors"][0]["field"], "uscc");
    let page: Value = app
        .get_as(&reg.token, "/api/v1/merchants?category=scenic_spot")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["phone"], "13812345678");
    let id = page["items"][0]["id"].as_i64().unwrap();
    let m: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["registered_on"], "2017-08-01");
    assert_eq!(m["opening_months"], serde_json::json!([5, 6, 7, 8, 9, 10]));
}

#[tokio::test]
async fn every_bad_row_is_reported_and_nothing_is_half_written() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let good = uscc_for("513201", 10);
    let dup = uscc_for("513201", 11);
    let mut org_broken: Vec<char> = uscc_for("513201", 12).chars().collect();
    org_broken[10] = if org_broken[10] == '1' { '2' } else { '1' };
    let org_broken: String = org_broken.into_iter().collect();
    let wrong_check = |n| {
        let mut code = uscc_for("513201", n);
        let last = code.pop().unwrap();
        code.push(if last == '0' { '1' } else { '0' });
        code
    };
    let (mistyped, pilot) = (wrong_check(13), wrong_check(16));
    let csv = [
        HEADER_ZH.to_owned(),
        row(&good, "好商户", "513201"),                     // 2
        row(&dup, "重复一", "513201"),                      // 3
        row(&dup, "重复二", "513201"),                      // 4
        row(&org_broken, "校验错", "513201"),               // 5
        row(&uscc_for("513201", 14), "区划不符", "513221"), // 6: region mismatch
        row(&uscc_for("513221", 15), "外县", "513221"),     // 7: outside jurisdiction
        row(&mistyped, "校验位错", "513201"),               // 8: check character wrong
        format!(
            "{}试点期核发，执照原件如此",
            row(&pilot, "试点代码", "513201")
        ), // 9: kept, with a reason
    ]
    .join("\n");

    // All-or-nothing: 422, every rejected row named, nothing written.
    let resp = import(&app, &reg, "", "bad.csv", csv.clone().into_bytes()).await;
    let body = assert_problem(resp, 422, "import_rejected").await;
    let rejected: Vec<(i64, String)> = body["report"]["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().unwrap(),
                r["errors"][0]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (3, "duplicate_in_file".into()),
            (4, "duplicate_in_file".into()),
            (5, "uscc_org_code_check".into()),
            (6, "region_mismatch".into()),
            (7, "outside_jurisdiction".into()),
            (8, "uscc_check_digit".into()),
        ]
    );
    assert!(body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["field"] == "rows[5].uscc"));
    assert_eq!(body["report"]["warnings"][0]["row"], 9);
    assert_eq!(body["report"]["committed"], false);
    assert_eq!(merchant_count(&app, &reg).await, 0);

    // Dry run: the same report, 200, nothing written.
    let report = ok_report(
        import(
            &app,
            &reg,
            "?dry_run=true&partial=true",
            "bad.csv",
            csv.clone().into_bytes(),
        )
        .await,
    )
    .await;
    assert_eq!(report["created"], 2);
    assert_eq!(report["committed"], false);
    assert_eq!(merchant_count(&app, &reg).await, 0);

    // Partial: the two good rows land.
    let report =
        ok_report(import(&app, &reg, "?partial=true", "bad.csv", csv.into_bytes()).await).await;
    assert_eq!(
        (
            report["created"].as_i64(),
            report["rejected"].as_array().unwrap().len()
        ),
        (Some(2), 6)
    );
    assert_eq!(merchant_count(&app, &reg).await, 2);
    let page: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants?q={pilot}"))
        .await
        .json()
        .await
        .unwrap();
    let id = page["items"][0]["id"].as_i64().unwrap();
    let m: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["uscc_warning"], true);
    assert_eq!(m["uscc_check_override_reason"], "试点期核发，执照原件如此");
}

#[tokio::test]
async fn an_existing_merchant_outside_jurisdiction_is_not_updated() {
    let app = spawn_app().await;
    let county = app.regulator(&["513201"]).await;
    let theirs = app.merchant_in("513221").await;
    let csv = format!("{HEADER_ZH}\n{}\n", row(&theirs.uscc, "改名", "513201"));
    let resp = import(&app, &county, "", "x.csv", csv.into_bytes()).await;
    let body = assert_problem(resp, 422, "import_rejected").await;
    assert_eq!(
        body["report"]["rejected"][0]["errors"][0]["code"],
        "outside_jurisdiction"
    );
}

#[tokio::test]
async fn file_level_problems() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513201"]).await;
    let resp = import(
        &app,
        &reg,
        "",
        "x.csv",
        "名称,地址\n甲,乙\n".as_bytes().to_vec(),
    )
    .await;
    assert_field_error(resp, "uscc", "missing_column").await;
    let resp = import(
        &app,
        &reg,
        "",
        "old.xls",
        vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1],
    )
    .await;
    assert_problem(resp, 415, "unsupported_media_type").await;
    let resp = import(&app, &reg, "", "x.csv", vec![0x81, 0x20, 0xFF, 0xFE, 0x00]).await;
    assert_field_error(resp, "file", "unreadable_file").await;
    let owner = app
        .user(
            yidianyima::domain::user::Role::Merchant,
            &[],
            Some(app.merchant_in("513201").await.id),
        )
        .await;
    let resp = import(&app, &owner, "", "x.csv", b"uscc,name\n".to_vec()).await;
    assert_problem(resp, 403, "forbidden").await;
}

#[tokio::test]
async fn a_thousand_rows_import_and_are_searchable_at_once() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513200"]).await;
    let mut csv = String::from("uscc,name,region_code\n");
    for n in 0..1000u64 {
        csv.push_str(&format!(
            "{},松潘商户{n},513224\n",
            uscc_for("513224", 1000 + n)
        ));
    }
    let report = ok_report(import(&app, &reg, "", "big.csv", csv.into_bytes()).await).await;
    assert_eq!(report["created"], 1000);
    let page: Value = app
        .get_as(&reg.token, "/api/v1/merchants?q=%E5%95%86%E6%88%B7999")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 1, "商户999");
    // The post-import maintenance works in this schema (its failure is only logged there).
    let mut conn = app.conn().await;
    yidianyima::db::merchants::after_bulk_write(&mut conn)
        .await
        .unwrap();
}
