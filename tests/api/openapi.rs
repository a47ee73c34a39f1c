//! The spec at /openapi.json says what the server does: ids Swagger UI can tell apart, every
//! allowed value, every status an operation can answer.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::spawn_app;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Every operation of the spec: (method, path, operation).
pub fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_operation_has_its_own_operation_id() {
    let app = spawn_app().await;
    let spec: Value = app.get_json("/openapi.json").await;
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let ops = operations(&spec);
    assert!(ops.len() > 50, "{} operations", ops.len());
    for (method, path, op) in ops {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(!id.is_empty(), "{method} {path}");
        if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
            panic!("operationId {id} is both {other} and {method} {path}");
        }
    }
    for (id, op) in [
        ("list_merchants", "get /api/v1/merchants"),
        ("get_merchant", "get /api/v1/merchants/{id}"),
        ("create_user", "post /api/v1/users"),
        ("list_regions", "get /api/v1/regions"),
        ("list_complaints", "get /api/v1/complaints"),
    ] {
        assert_eq!(seen.get(id).map(String::as_str), Some(op), "{id}");
    }
}

/// Follows a `$ref` (`#/components/schemas/X`) if there is one.
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {r}")),
        None => v,
    }
}

/// The enum of a property or parameter schema (through `oneOf` with null, `anyOf`, a `$ref`).
fn enum_of(spec: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(spec, schema);
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .filter_map(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[key].as_array() {
            let found: Vec<String> = parts.iter().flat_map(|p| enum_of(spec, p)).collect();
            if !found.is_empty() {
                return found;
            }
        }
    }
    Vec::new()
}

fn property<'a>(spec: &'a Value, schema: &str, field: &str) -> &'a Value {
    let s = &spec["components"]["schemas"][schema];
    assert!(s.is_object(), "no schema {schema}");
    &s["properties"][field]
}

fn parameter<'a>(spec: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    spec["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn every_allowed_value_and_range_is_in_the_schema() {
    let app = spawn_app().await;
    let spec: Value = app.get_json("/openapi.json").await;
    let categories = words(&[
        "pharmacy",
        "restaurant",
        "scenic_spot",
        "hotel",
        "retail",
        "other",
    ]);
    let statuses = words(&["open", "seasonal_closed", "closed"]);
    let grades = words(&["A", "B", "C", "D"]);
    let complaint_states = words(&[
        "submitted",
        "merchant_proposed",
        "accepted",
        "rejected",
        "resolved",
        "terminated",
        "withdrawn",
    ]);
    for (schema, field, want) in [
        ("CreateMerchantRequest", "category", &categories),
        ("CreateMerchantRequest", "status", &statuses),
        ("MerchantPatch", "category", &categories),
        ("MerchantPatch", "status", &statuses),
        ("MerchantView", "category", &categories),
        ("MerchantView", "grade", &grades),
        ("MerchantSummary", "status", &statuses),
        ("WarningRequest", "category", &categories),
        ("ComplaintView", "status", &complaint_states),
    ] {
        assert_eq!(
            &enum_of(&spec, property(&spec, schema, field)),
            want,
            "{schema}.{field}"
        );
    }
    for (schema, field, want) in [
        (
            "LicenceRequest",
            "kind",
            vec![
                "business_licence",
                "food_business",
                "drug_business",
                "special_trade",
                "hygiene",
                "other",
            ],
        ),
        (
            "InspectionRequest",
            "kind",
            vec!["routine", "random", "special", "sampling"],
        ),
        (
            "InspectionRequest",
            "result",
            vec!["pass", "fail", "rectify"],
        ),
        ("InspectionRow", "result", vec!["pass", "fail", "rectify"]),
        (
            "CreditRecordRequest",
            "kind",
            vec![
                "penalty",
                "abnormal_list",
                "serious_violation",
                "commendation",
            ],
        ),
        (
            "ActionRequest",
            "action",
            vec![
                "propose",
                "consumer_accept",
                "consumer_decline",
                "accept",
                "reject",
                "resolve",
                "terminate",
                "withdraw",
            ],
        ),
        (
            "RatingRequest",
            "rating",
            vec!["satisfied", "basically_satisfied", "dissatisfied"],
        ),
        (
            "SubmitRequest",
            "category",
            vec![
                "quality",
                "price",
                "service",
                "false_advertising",
                "safety",
                "contract",
                "other",
            ],
        ),
        (
            "CreateUserRequest",
            "role",
            vec!["admin", "regulator", "merchant"],
        ),
        ("PhotoView", "kind", vec!["storefront", "interior"]),
    ] {
        assert_eq!(
            enum_of(&spec, property(&spec, schema, field)),
            words(&want),
            "{schema}.{field}"
        );
    }
    for (method, path, name, want) in [
        ("get", "/api/v1/merchants", "category", &categories),
        ("get", "/api/v1/merchants", "status", &statuses),
        ("get", "/api/v1/merchants", "grade", &grades),
        ("get", "/api/v1/complaints", "status", &complaint_states),
        ("get", "/api/v1/public/warnings", "category", &categories),
    ] {
        let p = parameter(&spec, method, path, name);
        assert_eq!(
            &enum_of(&spec, &p["schema"]),
            want,
            "{method} {path} {name}"
        );
    }
    let format = parameter(&spec, "get", "/api/v1/regions/{code}/qrcodes.zip", "format");
    assert_eq!(enum_of(&spec, &format["schema"]), words(&["svg", "png"]));
    // lang on the scan page: a query parameter knowing zh and en
    let lang = parameter(&spec, "get", "/s/{code}", "lang");
    assert_eq!(lang["in"], "query", "{lang}");
    assert_eq!(enum_of(&spec, &lang["schema"]), words(&["zh", "en"]));

    // ranges
    for (method, path, name, min, max) in [
        ("get", "/api/v1/merchants", "per_page", 1, Some(200)),
        ("get", "/api/v1/merchants", "page", 1, None),
        ("get", "/api/v1/complaints", "per_page", 1, Some(200)),
        (
            "get",
            "/api/v1/merchants/{id}/qrcode.png",
            "size",
            128,
            Some(2048),
        ),
        ("get", "/api/v1/calendar/{year}", "year", 2000, Some(2100)),
        ("put", "/api/v1/calendar/{year}", "year", 2000, Some(2100)),
        ("get", "/api/v1/merchants/{id}/scans", "days", 1, Some(366)),
        (
            "get",
            "/api/v1/calendar/add-working-days",
            "days",
            0,
            Some(400),
        ),
    ] {
        let schema = &parameter(&spec, method, path, name)["schema"];
        assert_eq!(schema["minimum"], min, "{method} {path} {name}: {schema}");
        if let Some(max) = max {
            assert_eq!(schema["maximum"], max, "{method} {path} {name}: {schema}");
        }
    }

    // multipart bodies name their parts; PATCH names its fields
    for path in ["/api/v1/merchants/{id}/photos", "/api/v1/imports"] {
        let body = &spec["paths"][path]["post"]["requestBody"];
        assert_eq!(body["required"], true, "{path}");
        let schema = resolve(&spec, &body["content"]["multipart/form-data"]["schema"]);
        assert_eq!(
            schema["properties"]["file"]["format"], "binary",
            "{path}: {schema}"
        );
        assert_eq!(schema["required"], serde_json::json!(["file"]), "{path}");
    }
    let photo = resolve(
        &spec,
        &spec["paths"]["/api/v1/merchants/{id}/photos"]["post"]["requestBody"]["content"]
            ["multipart/form-data"]["schema"],
    );
    assert_eq!(
        enum_of(&spec, &photo["properties"]["kind"]),
        words(&["storefront", "interior"])
    );
    let patch = resolve(
        &spec,
        &spec["paths"]["/api/v1/merchants/{id}"]["patch"]["requestBody"]["content"]
            ["application/json"]["schema"],
    );
    for field in [
        "phone",
        "opening_hours",
        "opening_months",
        "status",
        "pledges",
        "version",
    ] {
        assert!(
            patch["properties"][field].is_object(),
            "PATCH field {field}: {patch}"
        );
    }
    assert_eq!(patch["additionalProperties"], false);
}

/// Each operation documents the statuses it can answer, errors as problem+json; the pages
/// are text/html.
#[tokio::test]
async fn every_operation_documents_its_statuses() {
    let app = spawn_app().await;
    let spec: Value = app.get_json("/openapi.json").await;
    let problem = |op: &Value, status: &str| -> bool {
        let r = &op["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"];
        // an import stopped by rejected rows: the problem with its report
        r == "#/components/schemas/Problem" || r == "#/components/schemas/ImportRejected"
    };
    for (method, path, op) in operations(&spec) {
        let id = op["operationId"].as_str().unwrap().to_owned();
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            assert!(problem(&op, "401"), "{id}: 401");
        }
        if let Some(content) = op["requestBody"]["content"].as_object() {
            for status in ["400", "413", "415", "422"] {
                assert!(problem(&op, status), "{id} ({method} {path}): {status}");
            }
            assert!(!content.is_empty());
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "query") {
            assert!(problem(&op, "422"), "{id}: 422 for a query parameter");
        }
        if params.iter().any(|p| p["in"] == "path") {
            assert!(op["responses"]["404"].is_object(), "{id}: 404");
        }
        if !["healthz", "landing_page", "track_page"].contains(&id.as_str()) {
            assert!(op["responses"]["503"].is_object(), "{id}: 503");
        }
        for (status, r) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let content = r["content"].as_object();
                assert!(
                    content.is_some_and(|c| !c.is_empty()),
                    "{id}: {status} has a body schema"
                );
            }
        }
    }
    let op = |m: &str, p: &str| spec["paths"][p][m].clone();
    assert!(problem(&op("post", "/api/v1/auth/login"), "429"));
    assert!(problem(&op("post", "/api/v1/merchants"), "409"));
    assert!(problem(&op("post", "/api/v1/merchants"), "403"));
    assert!(problem(
        &op("post", "/api/v1/public/complaints/{tracking_no}/confirm"),
        "429"
    ));
    assert!(problem(
        &op("get", "/api/v1/merchants/{id}/poster.png"),
        "503"
    ));
    for (m, p) in [
        ("get", "/"),
        ("get", "/s/{code}"),
        ("get", "/s/{code}/complaint"),
        ("get", "/track"),
        ("post", "/track"),
    ] {
        assert!(
            op(m, p)["responses"]["200"]["content"]["text/html"].is_object(),
            "{m} {p} is a page"
        );
    }
}
