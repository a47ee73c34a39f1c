//! The merchant registry (一中心 / 一网): merchants, licences, inspections, credit records, photos.

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::db::merchants::{CreditRecordRow, InspectionRow};
use crate::domain::grade::Grade;
use crate::domain::merchant::{Category, Status};
use crate::domain::merchant_input::MerchantDraft;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{Json, Query};
use crate::routes::actor;
use crate::routes::api::paging::{Page, PageQuery};
use crate::state::AppState;

use crate::service::merchants as svc;
pub use crate::service::merchants::*;
use crate::service::records;
pub use crate::service::records::{
    default_publicity_until, CreditRecordRequest, InspectionRequest, LicenceRequest,
};

fn with_etag(mut resp: HttpResponse, tag: String) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Merchants

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMerchantRequest {
    pub uscc: String,
    pub name: String,
    pub legal_representative: Option<String>,
    /// `pharmacy`, `restaurant`, `scenic_spot`, `hotel`, `retail`, `other` (Chinese names accepted).
    #[schema(inline, value_type = Option<Category>)]
    pub category: Option<String>,
    /// Defaults to the USCC's positions 3–8.
    pub region_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub business_scope: Option<String>,
    pub registered_on: Option<String>,
    /// `open` (default), `seasonal_closed`, `closed`.
    #[schema(inline, value_type = Option<Status>)]
    pub status: Option<String>,
    pub opening_hours: Option<String>,
    pub opening_months: Option<Vec<i32>>,
    pub description: Option<String>,
    pub pledges: Option<Vec<String>>,
    /// Required when `region_code` does not match the USCC's positions 3–8.
    pub region_override_reason: Option<String>,
    /// Required to keep a USCC whose check character is wrong (a pilot-era code); audited and
    /// shown on staff views.
    pub uscc_check_override_reason: Option<String>,
}

impl From<CreateMerchantRequest> for MerchantDraft {
    fn from(r: CreateMerchantRequest) -> Self {
        MerchantDraft {
            uscc: Some(r.uscc),
            name: Some(r.name),
            legal_representative: r.legal_representative,
            category: r.category,
            region_code: r.region_code,
            address: r.address,
            phone: r.phone,
            business_scope: r.business_scope,
            registered_on: r.registered_on,
            status: r.status,
            opening_hours: r.opening_hours,
            opening_months: r.opening_months,
            description: r.description,
            pledges: r.pledges,
            region_override_reason: r.region_override_reason,
            uscc_check_override_reason: r.uscc_check_override_reason,
        }
    }
}

/// Create a merchant in the caller's jurisdiction. 409 `duplicate_uscc` if the USCC exists.
#[utoipa::path(operation_id = "create_merchant", tag = "merchants", security(("bearer" = [])), request_body = CreateMerchantRequest, responses(
    (status = 201, body = MerchantView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    body: Json<CreateMerchantRequest>,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let (created, view) =
        svc::create(&state, &user, actor, MerchantDraft::from(body.into_inner())).await?;
    let tag = etag(&created);
    let id = created.id;
    Ok(with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/merchants/{id}")))
            .json(view),
        tag,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// A region code; a prefecture includes its counties.
    pub region: Option<String>,
    /// Substring of the name (any case) or of the USCC.
    pub q: Option<String>,
    #[param(inline, value_type = Option<Category>)]
    pub category: Option<String>,
    #[param(inline, value_type = Option<Status>)]
    pub status: Option<String>,
    /// `A`, `B`, `C` or `D`.
    #[param(inline, value_type = Option<Grade>)]
    pub grade: Option<String>,
}

/// Merchants in the caller's jurisdiction (admins: all), newest first.
#[utoipa::path(operation_id = "list_merchants", tag = "merchants", security(("bearer" = [])), params(ListQuery, PageQuery), responses(
    (status = 200, body = Page<MerchantSummary>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query<ListQuery>,
    paging: Query<PageQuery>,
) -> AppResult<web::Json<Page<MerchantSummary>>> {
    let q = query.into_inner();
    let filter = svc::ListFilter {
        region: q.region,
        q: q.q,
        category: q.category,
        status: q.status,
        grade: q.grade,
        attention: None,
    };
    Ok(web::Json(svc::list(&state, &user, &filter, &paging).await?))
}

/// The full record with its grade and the reasons for it.
#[utoipa::path(operation_id = "get_merchant", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = MerchantView, headers(("ETag" = String))),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (m, view) = svc::get(&state, &user, path.into_inner()).await?;
    Ok(with_etag(HttpResponse::Ok().json(view), etag(&m)))
}

/// The body of a PATCH (schema only; the handler reads a map so that `null` can clear a field).
/// Any subset; regulators any field, the merchant itself only phone, opening_hours,
/// opening_months, status (open / seasonal_closed), description and pledges.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct MerchantPatch {
    uscc: Option<String>,
    name: Option<String>,
    legal_representative: Option<String>,
    #[schema(inline, value_type = Option<Category>)]
    category: Option<String>,
    region_code: Option<String>,
    region_override_reason: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    business_scope: Option<String>,
    registered_on: Option<String>,
    #[schema(inline, value_type = Option<Status>)]
    status: Option<String>,
    opening_hours: Option<String>,
    /// Months 1–12.
    opening_months: Option<Vec<i32>>,
    description: Option<String>,
    pledges: Option<Vec<String>>,
    /// The version last read: a stale one is 409 `stale_version` (or send `If-Match`).
    version: Option<i32>,
}

/// The version the client last saw: `If-Match` (ETag) or a `version` field.
fn expected_version(req: &HttpRequest, patch: &Map<String, Value>) -> AppResult<Option<i32>> {
    if let Some(v) = req.headers().get(header::IF_MATCH) {
        let raw = v.to_str().unwrap_or_default().trim();
        if raw == "*" {
            return Ok(None);
        }
        let version = raw
            .trim_start_matches("W/")
            .trim_matches('"')
            .rsplit_once("-v")
            .and_then(|(_, v)| v.parse::<i32>().ok())
            // Names no version of this merchant, so the precondition cannot hold.
            .ok_or_else(|| AppError::Conflict {
                code: "invalid_if_match",
                detail: "If-Match must be an ETag from GET /merchants/{id}".into(),
            })?;
        return Ok(Some(version));
    }
    match patch.get("version") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64().and_then(|v| i32::try_from(v).ok())),
        Some(_) => Err(AppError::validation(FieldError::new(
            "version",
            "invalid_type",
            "version must be an integer",
        ))),
    }
}

/// Change a merchant. Regulators: any field; the merchant itself: phone, opening hours and
/// months, status (open / seasonal_closed), description, pledges. `If-Match` or `version`
/// makes the write conditional (409 `stale_version`).
#[utoipa::path(operation_id = "update_merchant", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path),
    ("If-Match" = Option<String>, Header, description = "ETag from GET, or `*`; another value matches no version (409)")),
    request_body(content = MerchantPatch, description = "any subset of the merchant fields (`null` clears one), plus optional `version`"),
    responses(
    (status = 200, body = MerchantView, headers(("ETag" = String))),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/merchants/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<Map<String, Value>>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let patch = body.into_inner();
    let expected = expected_version(&req, &patch)?;
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let (row, view) = svc::update(&state, &user, actor, id, &patch, expected).await?;
    let tag = etag(&row);
    Ok(with_etag(HttpResponse::Ok().json(view), tag))
}

fn created<T: Serialize>(location: String, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordsQuery {
    /// How many, newest first (default 100, max 500).
    pub limit: Option<i64>,
}

/// A merchant's licences, newest first (expired ones marked).
#[utoipa::path(operation_id = "list_licences", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path), RecordsQuery), responses(
    (status = 200, body = [LicenceView]),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/licences")]
pub async fn list_licences(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: web::Query<RecordsQuery>,
) -> AppResult<web::Json<Vec<LicenceView>>> {
    Ok(web::Json(
        records::list_licences(&state, &user, path.into_inner(), query.limit).await?,
    ))
}

/// Record a licence (regulators of the merchant's region).
#[utoipa::path(operation_id = "create_licence", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = LicenceRequest, responses(
    (status = 201, body = LicenceView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/licences")]
pub async fn create_licence(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<LicenceRequest>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let view = records::create_licence(&state, &user, actor, id, &body).await?;
    Ok(created(format!("/api/v1/merchants/{id}/licences"), &view))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InspectionQuery {
    /// How many, newest first (default 50, max 500).
    pub limit: Option<i64>,
}

/// A merchant's inspections, newest first.
#[utoipa::path(operation_id = "list_inspections", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path), InspectionQuery), responses(
    (status = 200, body = [InspectionRow]),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/inspections")]
pub async fn list_inspections(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: Query<InspectionQuery>,
) -> AppResult<web::Json<Vec<InspectionRow>>> {
    Ok(web::Json(
        records::list_inspections(&state, &user, path.into_inner(), query.limit).await?,
    ))
}

/// Record an inspection; the merchant's grade is recomputed in the same transaction.
#[utoipa::path(operation_id = "create_inspection", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = InspectionRequest, responses(
    (status = 201, body = InspectionRow),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/inspections")]
pub async fn create_inspection(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<InspectionRequest>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let row = records::create_inspection(&state, &user, actor, id, &body).await?;
    Ok(created(format!("/api/v1/merchants/{id}/inspections"), &row))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CreditQuery {
    /// Regulators: include records whose publicity period has ended.
    pub include_expired: Option<bool>,
    /// How many, newest first (default 100, max 500).
    pub limit: Option<i64>,
}

/// A merchant's credit records in publicity, newest first (regulators may ask for expired ones
/// too).
#[utoipa::path(operation_id = "list_credit_records", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path), CreditQuery), responses(
    (status = 200, body = [CreditRecordRow]),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/credit-records")]
pub async fn list_credit_records(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: Query<CreditQuery>,
) -> AppResult<web::Json<Vec<CreditRecordRow>>> {
    Ok(web::Json(
        records::list_credit_records(
            &state,
            &user,
            path.into_inner(),
            query.include_expired == Some(true),
            query.limit,
        )
        .await?,
    ))
}

/// Record a penalty, list entry or commendation; the grade is recomputed in the same
/// transaction.
#[utoipa::path(operation_id = "create_credit_record", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = CreditRecordRequest, responses(
    (status = 201, body = CreditRecordRow),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/credit-records")]
pub async fn create_credit_record(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<CreditRecordRequest>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let row = records::create_credit_record(&state, &user, actor, id, &body).await?;
    Ok(created(
        format!("/api/v1/merchants/{id}/credit-records"),
        &row,
    ))
}
