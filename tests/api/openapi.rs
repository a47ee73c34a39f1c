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
