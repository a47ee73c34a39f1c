//! Bounds: no list reaches deep or grows without end, no multipart form or import file makes
//! the server hold more than it must.

use crate::helpers::{assert_field_error, spawn_app};

#[tokio::test]
async fn deep_pages_are_refused_on_every_paged_list() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513200"]).await;
    for list in ["/api/v1/merchants", "/api/v1/complaints"] {
        // Row 10,000 is the deepest one can reach: page 50 of 200, page 200 of 50.
        for ok in ["page=50&per_page=200", "page=200", "page=10000&per_page=1"] {
            let resp = app.get_as(&reg.token, &format!("{list}?{ok}")).await;
            assert_eq!(resp.status(), 200, "{list}?{ok}");
        }
        for deep in [
            "page=51&per_page=200",
            "page=201",
            "page=10001&per_page=1",
            "page=1000000&per_page=200",
        ] {
            let resp = app.get_as(&reg.token, &format!("{list}?{deep}")).await;
            let body = assert_field_error(resp, "page", "out_of_range").await;
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("filter"), "{message}");
        }
    }
}
