//! Administrative divisions (GB/T 2260).

use actix_web::{get, web};

use crate::db::regions::Region;
use crate::error::AppResult;
use crate::state::AppState;

/// Every region known to this deployment.
#[utoipa::path(operation_id = "list_regions", tag = "regions", responses((status = 200, body = Vec<Region>)))]
#[get("/regions")]
pub async fn list(state: web::Data<AppState>) -> AppResult<web::Json<Vec<Region>>> {
    Ok(web::Json(crate::service::regions(&state).await?))
}
