//! The merchant registry (一中心 / 一网): merchants, licences, inspections, credit records, photos.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::auth::policy::{self, Decision};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::audit::Actor;
use crate::db::merchants::{
    CreditRecordRow, InspectionRow, LicenceRow, MerchantFields, MerchantFilter, MerchantRecord,
    MerchantRow, NewCreditRecord, NewInspection, NewLicence, PhotoMeta,
};
use crate::domain::grade::{Assessment, Grade, Source};
use crate::domain::merchant::{
    Category, CreditKind, InspectionKind, InspectionResult, LicenceKind, Status,
};
use crate::domain::merchant_input::MerchantDraft;
use crate::domain::region::RegionCode;
use crate::domain::text::{clean_text, control_char_error};
use crate::domain::time::{china_date, parse_date};
use crate::domain::user::Role;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{Json, Query};
use crate::i18n;
use crate::routes::actor;
use crate::routes::api::paging::{Page, PageQuery};
use crate::state::AppState;

fn today() -> NaiveDate {
    china_date(Utc::now())
}

fn region_of(code: &str) -> AppResult<RegionCode> {
    RegionCode::parse(code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored region code {code}: {e}")))
}

/// The strong ETag of a merchant version.
pub fn etag(m: &MerchantRow) -> String {
    format!("\"m{}-v{}\"", m.id, m.version)
}

// ---------------------------------------------------------------------------------------------
// Views

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonView {
    pub code: &'static str,
    #[schema(inline, value_type = Grade)]
    pub grade: Grade,
    /// The reason in every language: `{"zh": "…", "en": "…"}`.
    pub message: BTreeMap<String, String>,
    pub source: Option<Source>,
    pub date: Option<NaiveDate>,
    pub department: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BadgeView {
    pub code: &'static str,
    pub message: BTreeMap<String, String>,
    pub source: Source,
    pub date: NaiveDate,
}

pub fn reason_views(a: &Assessment) -> (Vec<ReasonView>, Vec<BadgeView>) {
    let reasons = a
        .reasons
        .iter()
        .map(|r| {
            let date = r.date.map(|d| d.to_string()).unwrap_or_default();
            let dept = r.department.clone().unwrap_or_default();
            ReasonView {
                code: r.code,
                grade: r.grade,
                message: i18n::all(
                    &format!("reason.{}", r.code),
                    &[("date", &date), ("department", &dept)],
                ),
                source: r.source,
                date: r.date,
                department: r.department.clone(),
            }
        })
        .collect();
    let badges = a
        .badges
        .iter()
        .map(|b| BadgeView {
            code: b.code,
            message: i18n::all(
                &format!("badge.{}", b.code),
                &[("date", &b.date.to_string()), ("department", &b.department)],
            ),
            source: b.source,
            date: b.date,
        })
        .collect();
    (reasons, badges)
}

/// A merchant as the list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantSummary {
    pub id: i64,
    pub uscc: String,
    pub name: String,
    #[schema(inline, value_type = Category)]
    pub category: String,
    pub region_code: String,
    #[schema(inline, value_type = Status)]
    pub status: String,
    #[schema(inline, value_type = Grade)]
    pub grade: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl From<MerchantRow> for MerchantSummary {
    fn from(m: MerchantRow) -> Self {
        Self {
            id: m.id,
            uscc: m.uscc,
            name: m.name,
            category: m.category,
            region_code: m.region_code,
            status: m.status,
            grade: m.grade,
            address: m.address,
            phone: m.phone,
            version: m.version,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoView {
    /// The photo's unguessable id, as in its URLs.
    pub id: String,
    #[schema(inline, value_type = crate::domain::merchant::PhotoKind)]
    pub kind: String,
    pub width: i32,
    pub height: i32,
    pub url: String,
    pub thumb_url: String,
    pub created_at: DateTime<Utc>,
}

impl From<PhotoMeta> for PhotoView {
    fn from(p: PhotoMeta) -> Self {
        Self {
            url: p.url(),
            thumb_url: p.thumb_url(),
            id: p.public_id,
            kind: p.kind,
            width: p.width,
            height: p.height,
            created_at: p.created_at,
        }
    }
}

/// The full record.
#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantView {
    pub id: i64,
    pub uscc: String,
    /// The USCC's 18th character does not check (an early pilot code): verify it.
    pub uscc_warning: bool,
    /// Why a regulator kept a USCC whose check character is wrong (staff views only: the
    /// merchant's own record is read by regulators and the merchant).
    pub uscc_check_override_reason: Option<String>,
    pub name: String,
    pub legal_representative: Option<String>,
    #[schema(inline, value_type = Category)]
    pub category: String,
    pub region_code: String,
    pub region_override_reason: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub business_scope: Option<String>,
    pub registered_on: Option<NaiveDate>,
    #[schema(inline, value_type = Status)]
    pub status: String,
    pub opening_hours: Option<String>,
    pub opening_months: Vec<i16>,
    pub description: Option<String>,
    pub pledges: Vec<String>,
    #[schema(inline, value_type = Grade)]
    pub grade: String,
    pub grade_reasons: Vec<ReasonView>,
    pub badges: Vec<BadgeView>,
    pub model_merchant: bool,
    /// The newest 100 (more: `GET …/licences?limit=`).
    pub licences: Vec<LicenceView>,
    /// The newest 20 (more: `GET …/inspections?limit=`).
    pub inspections: Vec<InspectionRow>,
    /// Records in their publicity period, the newest 100 (every one counts for the grade).
    pub credit_records: Vec<CreditRecordRow>,
    /// The shop's photos (at most 20), newest first.
    pub photos: Vec<PhotoView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Accepted oddities of the data just written (e.g. a pilot USCC).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceView {
    #[serde(flatten)]
    pub licence: LicenceRow,
    /// `valid_until` has passed.
    pub expired: bool,
}

fn licence_view(l: LicenceRow, today: NaiveDate) -> LicenceView {
    LicenceView {
        expired: l.valid_until.is_some_and(|u| u < today),
        licence: l,
    }
}

async fn full_view(
    conn: &mut AsyncPgConnection,
    m: MerchantRow,
    warnings: Vec<FieldError>,
) -> AppResult<MerchantView> {
    let today = today();
    // Each record family loaded once, for the grade and for the view.
    let mut credit_records =
        db::merchants::credit_records_of(conn, m.id, Some(today), i64::MAX).await?;
    let loaded =
        db::merchants::inspections_of(conn, m.id, db::merchants::INSPECTIONS_LOADED).await?;
    let mut inspections = db::merchants::complete_for_grade(conn, m.id, today, loaded).await?;
    let overdue = db::complaints::overdue_of(conn, m.id, today).await?;
    let assessment = db::merchants::assess_rows(&credit_records, &inspections, overdue, today);
    inspections.truncate(20);
    credit_records.truncate(db::merchants::RECORDS_SHOWN as usize);
    // A stored grade gone stale with the passing of time is the background job's to write
    // (jobs::refresh_grades): reading writes nothing.
    let (grade_reasons, badges) = reason_views(&assessment);
    let licences = db::merchants::licences_of(conn, m.id, db::merchants::RECORDS_SHOWN)
        .await?
        .into_iter()
        .map(|l| licence_view(l, today))
        .collect();
    let photos = db::merchants::photos_of(conn, m.id)
        .await?
        .into_iter()
        .map(PhotoView::from)
        .collect();
    Ok(MerchantView {
        id: m.id,
        uscc: m.uscc,
        uscc_warning: m.uscc_warning,
        uscc_check_override_reason: m.uscc_check_override_reason,
        name: m.name,
        legal_representative: m.legal_representative,
        category: m.category,
        region_code: m.region_code,
        region_override_reason: m.region_override_reason,
        address: m.address,
        phone: m.phone,
        business_scope: m.business_scope,
        registered_on: m.registered_on,
        status: m.status,
        opening_hours: m.opening_hours,
        opening_months: m.opening_months,
        description: m.description,
        pledges: m.pledges,
        grade: assessment.grade.as_str().to_owned(),
        model_merchant: assessment.model_merchant(),
        grade_reasons,
        badges,
        licences,
        inspections,
        credit_records,
        photos,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
        warnings,
    })
}

fn with_etag(mut resp: HttpResponse, tag: String) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Shared checks

/// The region must be loaded and inside the caller's jurisdiction (a field error otherwise).
pub fn check_region(
    user_role: &CurrentUser,
    region: &RegionCode,
    known: &[RegionCode],
    field: &str,
) -> Option<FieldError> {
    if !known.contains(region) {
        return Some(FieldError::new(
            field,
            "unknown_region",
            format!("region {region} is not loaded in this deployment"),
        ));
    }
    if !policy::in_jurisdiction(user_role, region) {
        return Some(FieldError::new(
            field,
            "outside_jurisdiction",
            format!("region {region} is outside your jurisdiction"),
        ));
    }
    None
}

fn duplicate_uscc(e: AppError, uscc: &str) -> AppError {
    match e {
        AppError::Conflict { .. } => AppError::Conflict {
            code: "duplicate_uscc",
            detail: format!("a merchant with USCC {uscc} already exists"),
        },
        other => other,
    }
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
    if user.role == Role::Merchant {
        return Err(AppError::Forbidden("merchants cannot create merchants"));
    }
    let draft = MerchantDraft::from(body.into_inner());
    let mut warnings = Vec::new();
    let valid = draft
        .validate(today(), &mut warnings)
        .map_err(AppError::Validation)?;
    let mut conn = state.pool.get().await?;
    let known = super::all_regions(&mut conn).await?;
    if let Some(e) = check_region(&user, &valid.region_code, &known, "region_code") {
        return Err(AppError::validation(e));
    }
    let fields = MerchantFields::from(&valid);
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    // The answer is built inside the transaction from what it holds: if building it fails,
    // nothing is committed, so a client's retry never meets its own write as a 409.
    let (created, view) = conn
        .transaction::<_, AppError, _>(async move |conn| {
            let row = db::merchants::create(conn, &fields)
                .await
                .map_err(|e| duplicate_uscc(e.into(), &fields.uscc))?;
            db::audit::record(
                conn,
                &actor,
                "merchant.create",
                "merchant",
                &row.id.to_string(),
                None::<&()>,
                Some(&row),
            )
            .await?;
            let view = full_view(conn, row.clone(), warnings).await?;
            Ok((row, view))
        })
        .await?;
    tracing::info!(merchant_id = created.id, by = user.id, "merchant created");
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
    if user.role == Role::Merchant {
        return Err(AppError::Forbidden("merchants see only their own record"));
    }
    let region = super::region_in_scope(&user, query.region.as_deref(), "region")?;
    let mut errors = Vec::new();
    let (page, per_page) = match paging.parse() {
        Ok(p) => p,
        Err(AppError::Validation(e)) => {
            errors.extend(e);
            (1, 1)
        }
        Err(e) => return Err(e),
    };
    fn word(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let category = word(&query.category)
        .map(|c| Category::parse_field(c, "category"))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let status = word(&query.status)
        .map(|c| Status::parse_field(c, "status"))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let grade = match word(&query.grade) {
        Some(g) => match Grade::parse(g) {
            Some(g) => Some(g),
            None => {
                errors.push(FieldError::new(
                    "grade",
                    "invalid_grade",
                    "grade must be one of A, B, C, D",
                ));
                None
            }
        },
        None => None,
    };
    let q = query.q.as_deref().map(clean_text).filter(|s| !s.is_empty());
    if q.as_ref().is_some_and(|q| q.chars().count() > 100) {
        errors.push(FieldError::new(
            "q",
            "too_long",
            "q has at most 100 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    let mut conn = state.pool.get().await?;
    let known = super::all_regions(&mut conn).await?;
    let visible_regions = (user.role != Role::Admin).then(|| {
        known
            .iter()
            .filter(|r| policy::in_jurisdiction(&user, r))
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    });
    let regions = region.map(|asked| {
        known
            .iter()
            .filter(|r| asked.covers(r))
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    });
    let filter = MerchantFilter {
        visible_regions,
        regions,
        q,
        category: category.map(|c| c.as_str().to_owned()),
        status: status.map(|s| s.as_str().to_owned()),
        grade: grade.map(|g| g.as_str().to_owned()),
    };
    let (rows, total) = db::merchants::list(&mut conn, &filter, page, per_page).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(MerchantSummary::from).collect(),
        total,
        page,
        per_page,
    }))
}

/// Loads a merchant the caller may see (404 otherwise).
async fn visible_merchant(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<MerchantRow> {
    let m = db::merchants::get(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::view_merchant(user, m.id, &region_of(&m.region_code)?).check()?;
    Ok(m)
}

/// Loads a merchant whose regulated data the caller may change (404 if it may not see it,
/// 403 for the merchant itself).
async fn managed_merchant(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<MerchantRow> {
    let m = db::merchants::get(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::manage_merchant(user, m.id, &region_of(&m.region_code)?).check()?;
    Ok(m)
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
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let tag = etag(&m);
    let view = full_view(&mut conn, m, vec![]).await?;
    Ok(with_etag(HttpResponse::Ok().json(view), tag))
}

/// The fields a merchant may change on its own record.
pub const MERCHANT_EDITABLE: &[&str] = &[
    "phone",
    "opening_hours",
    "opening_months",
    "status",
    "description",
    "pledges",
];

/// Applies a PATCH body onto a draft. `null` clears a field.
fn apply_patch(draft: &mut MerchantDraft, patch: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in patch {
        if key == "version" {
            continue;
        }
        match key.as_str() {
            "opening_months" => match value {
                Value::Null => draft.opening_months = None,
                v => match serde_json::from_value::<Vec<i32>>(v.clone()) {
                    Ok(m) => draft.opening_months = Some(m),
                    Err(_) => errors.push(FieldError::new(
                        "opening_months",
                        "invalid_type",
                        "opening_months must be a list of month numbers 1–12",
                    )),
                },
            },
            "pledges" => match value {
                Value::Null => draft.pledges = None,
                v => match serde_json::from_value::<Vec<String>>(v.clone()) {
                    Ok(p) => draft.pledges = Some(p),
                    Err(_) => errors.push(FieldError::new(
                        "pledges",
                        "invalid_type",
                        "pledges must be a list of strings",
                    )),
                },
            },
            _ => {
                let text = match value {
                    Value::Null => Some(None),
                    Value::String(s) => Some(Some(s.clone())),
                    _ => None,
                };
                if !MerchantDraft::default().set_text(key, None) {
                    errors.push(FieldError::new(
                        key.as_str(),
                        "unknown_field",
                        format!("{key} is not a merchant field"),
                    ));
                } else if let Some(v) = text {
                    draft.set_text(key, v);
                } else {
                    errors.push(FieldError::new(
                        key.as_str(),
                        "invalid_type",
                        format!("{key} must be a string or null"),
                    ));
                }
            }
        }
    }
    errors
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
    let mut conn = state.pool.get().await?;
    let known = super::all_regions(&mut conn).await?;
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    // The answer is built inside the transaction (see `create`).
    let (row, view) = conn.transaction::<_, AppError, _>(async move |conn| {
            let before = db::merchants::get_for_update(conn, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let region = region_of(&before.region_code)?;
            policy::view_merchant(&user, id, &region).check()?;
            if user.role == Role::Merchant {
                let forbidden: Vec<&String> = patch
                    .keys()
                    .filter(|k| *k != "version" && !MERCHANT_EDITABLE.contains(&k.as_str()))
                    .collect();
                if !forbidden.is_empty() {
                    return Err(AppError::Forbidden(
                        "merchants may change only phone, opening_hours, opening_months, \
                         status (open or seasonal_closed), description and pledges",
                    ));
                }
                if let Some(Value::String(s)) = patch.get("status") {
                    policy::merchant_sets_status(&user, &before.status, s.trim()).check()?;
                }
            } else {
                policy::manage_merchant(&user, id, &region).check()?;
            }
            if let Some(v) = expected {
                if v != before.version {
                    return Err(AppError::Conflict {
                        code: "stale_version",
                        detail: format!(
                            "the merchant changed since you read it (version {} now, you sent {v}); \
                             reload and try again",
                            before.version
                        ),
                    });
                }
            }
            let mut draft = before.to_draft();
            let errors = apply_patch(&mut draft, &patch);
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            let mut warnings = Vec::new();
            let valid = draft
                .validate(today(), &mut warnings)
                .map_err(AppError::Validation)?;
            policy::merchant_sets_status(&user, &before.status, valid.status.as_str()).check()?;
            if valid.region_code != region {
                if let Some(e) = check_region(&user, &valid.region_code, &known, "region_code") {
                    return Err(AppError::validation(e));
                }
            }
            let fields = MerchantFields::from(&valid);
            if fields == before.fields() {
                let view = full_view(conn, before.clone(), warnings).await?;
                return Ok((before, view));
            }
            let after = db::merchants::update(conn, id, &fields)
                .await
                .map_err(|e| duplicate_uscc(e.into(), &fields.uscc))?;
            db::audit::record(
                conn,
                &actor,
                "merchant.update",
                "merchant",
                &id.to_string(),
                Some(&before),
                Some(&after),
            )
            .await?;
            let view = full_view(conn, after.clone(), warnings).await?;
            Ok((after, view))
    })
    .await?;
    state.pages.invalidate_merchants(&mut conn, &[row.id]).await;
    let tag = etag(&row);
    Ok(with_etag(HttpResponse::Ok().json(view), tag))
}

// ---------------------------------------------------------------------------------------------
// Licences, inspections, credit records

fn required_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    max: usize,
) -> String {
    if let Some(e) = value.as_deref().and_then(|v| control_char_error(field, v)) {
        errors.push(e);
        return String::new();
    }
    let v = value.as_deref().map(clean_text).unwrap_or_default();
    if v.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{field} is required"),
        ));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} has at most {max} characters"),
        ));
    }
    v
}

fn optional_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    max: usize,
) -> String {
    if let Some(e) = value.as_deref().and_then(|v| control_char_error(field, v)) {
        errors.push(e);
        return String::new();
    }
    let v = value.as_deref().map(clean_text).unwrap_or_default();
    if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} has at most {max} characters"),
        ));
    }
    v
}

fn date_field(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    required: bool,
) -> Option<NaiveDate> {
    match value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            if required {
                errors.push(FieldError::new(
                    field,
                    "required",
                    format!("{field} is required"),
                ));
            }
            None
        }
        Some(raw) => parse_date(raw).or_else(|| {
            errors.push(FieldError::new(
                field,
                "invalid_date",
                format!("{field} must be a date, e.g. 2026-03-01"),
            ));
            None
        }),
    }
}

fn not_in_future(
    errors: &mut Vec<FieldError>,
    field: &str,
    d: Option<NaiveDate>,
    today: NaiveDate,
) {
    if d.is_some_and(|d| d > today) {
        errors.push(FieldError::new(
            field,
            "in_future",
            format!("{field} cannot be after today"),
        ));
    }
}

fn word<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    match value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            errors.push(FieldError::new(
                field,
                "required",
                format!("{field} is required"),
            ));
            None
        }
        Some(v) => parse(v, field).map_err(|e| errors.push(e)).ok(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceRequest {
    /// `business_licence`, `food_business`, `drug_business`, `special_trade`, `hygiene`, `other`.
    #[schema(inline, value_type = Option<LicenceKind>)]
    pub kind: Option<String>,
    pub number: Option<String>,
    pub issuer: Option<String>,
    pub valid_from: Option<String>,
    /// Omit for a licence without expiry.
    pub valid_until: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionRequest {
    /// `routine`, `random`, `special`, `sampling`.
    #[schema(inline, value_type = Option<InspectionKind>)]
    pub kind: Option<String>,
    pub inspected_on: Option<String>,
    pub department: Option<String>,
    /// `pass`, `fail`, `rectify`.
    #[schema(inline, value_type = Option<InspectionResult>)]
    pub result: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRecordRequest {
    /// `penalty`, `abnormal_list`, `serious_violation`, `commendation`.
    #[schema(inline, value_type = Option<CreditKind>)]
    pub kind: Option<String>,
    pub department: Option<String>,
    pub decision_no: Option<String>,
    pub decided_on: Option<String>,
    pub summary: Option<String>,
    /// Last day of public display. Defaults: penalty and commendation 1 year after the
    /// decision, serious violation 3 years; abnormal list open-ended (until a regulator ends it).
    pub publicity_until: Option<String>,
}

fn validate_licence(
    b: &LicenceRequest,
    merchant_id: i64,
    by: i64,
) -> Result<NewLicence, Vec<FieldError>> {
    let mut e = Vec::new();
    let kind = word(&mut e, "kind", &b.kind, LicenceKind::parse_field);
    let number = required_text(&mut e, "number", &b.number, 100);
    let issuer = required_text(&mut e, "issuer", &b.issuer, 200);
    let valid_from = date_field(&mut e, "valid_from", &b.valid_from, true);
    let valid_until = date_field(&mut e, "valid_until", &b.valid_until, false);
    if let (Some(f), Some(u)) = (valid_from, valid_until) {
        if u < f {
            e.push(FieldError::new(
                "valid_until",
                "before_start",
                "valid_until cannot be before valid_from",
            ));
        }
    }
    match (kind, valid_from) {
        (Some(kind), Some(valid_from)) if e.is_empty() => Ok(NewLicence {
            merchant_id,
            kind: kind.as_str().to_owned(),
            number,
            issuer,
            valid_from,
            valid_until,
            created_by: Some(by),
        }),
        _ => Err(e),
    }
}

fn validate_inspection(
    b: &InspectionRequest,
    merchant_id: i64,
    by: i64,
    today: NaiveDate,
) -> Result<NewInspection, Vec<FieldError>> {
    let mut e = Vec::new();
    let kind = word(&mut e, "kind", &b.kind, InspectionKind::parse_field);
    let inspected_on = date_field(&mut e, "inspected_on", &b.inspected_on, true);
    not_in_future(&mut e, "inspected_on", inspected_on, today);
    let department = required_text(&mut e, "department", &b.department, 200);
    let result = word(&mut e, "result", &b.result, InspectionResult::parse_field);
    let summary = optional_text(&mut e, "summary", &b.summary, 2000);
    match (kind, inspected_on, result) {
        (Some(kind), Some(inspected_on), Some(result)) if e.is_empty() => Ok(NewInspection {
            merchant_id,
            kind: kind.as_str().to_owned(),
            inspected_on,
            department,
            result: result.as_str().to_owned(),
            summary,
            created_by: Some(by),
        }),
        _ => Err(e),
    }
}

/// Default publicity periods by kind (see docs/credit-grade.md).
pub fn default_publicity_until(kind: CreditKind, decided_on: NaiveDate) -> Option<NaiveDate> {
    let years = match kind {
        CreditKind::Penalty | CreditKind::Commendation => 1,
        CreditKind::SeriousViolation => 3,
        CreditKind::AbnormalList => return None,
    };
    decided_on.checked_add_months(chrono::Months::new(12 * years))
}

fn validate_credit_record(
    b: &CreditRecordRequest,
    merchant_id: i64,
    by: i64,
    today: NaiveDate,
) -> Result<NewCreditRecord, Vec<FieldError>> {
    let mut e = Vec::new();
    let kind = word(&mut e, "kind", &b.kind, CreditKind::parse_field);
    let department = required_text(&mut e, "department", &b.department, 200);
    let decision_no = optional_text(&mut e, "decision_no", &b.decision_no, 100);
    let decided_on = date_field(&mut e, "decided_on", &b.decided_on, true);
    not_in_future(&mut e, "decided_on", decided_on, today);
    let summary = optional_text(&mut e, "summary", &b.summary, 2000);
    let until = date_field(&mut e, "publicity_until", &b.publicity_until, false);
    if let (Some(d), Some(u)) = (decided_on, until) {
        if u < d {
            e.push(FieldError::new(
                "publicity_until",
                "before_start",
                "publicity_until cannot be before decided_on",
            ));
        }
    }
    if matches!(kind, Some(CreditKind::Penalty)) && decision_no.is_empty() {
        e.push(FieldError::new(
            "decision_no",
            "required",
            "a penalty needs its decision number (处罚决定书文号)",
        ));
    }
    match (kind, decided_on) {
        (Some(kind), Some(decided_on)) if e.is_empty() => Ok(NewCreditRecord {
            merchant_id,
            kind: kind.as_str().to_owned(),
            department,
            decision_no,
            decided_on,
            summary,
            publicity_until: until.or_else(|| default_publicity_until(kind, decided_on)),
            created_by: Some(by),
        }),
        _ => Err(e),
    }
}

/// Inserts a record of a merchant with its audit entry and, when it affects the grade, the
/// stored grade — all in one transaction.
async fn add_record<N>(conn: &mut AsyncPgConnection, actor: Actor, new: N) -> AppResult<N::Row>
where
    N: MerchantRecord + 'static,
{
    conn.transaction::<_, AppError, _>(async move |conn| {
        let row = new.insert(conn).await?;
        db::audit::record(
            conn,
            &actor,
            &format!("{}.create", N::ENTITY),
            N::ENTITY,
            &N::row_id(&row).to_string(),
            None::<&()>,
            Some(&row),
        )
        .await?;
        if N::AFFECTS_GRADE {
            let a = db::merchants::assess(conn, new.merchant_id(), today()).await?;
            db::merchants::store_grade(conn, new.merchant_id(), &a).await?;
        }
        Ok(row)
    })
    .await
}

/// The shared path of the three record POSTs: may the caller manage this merchant, is the body
/// valid, then insert with audit (and regrade).
async fn create_record<N>(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    merchant_id: i64,
    validate: impl FnOnce(i64) -> Result<N, Vec<FieldError>>,
) -> AppResult<N::Row>
where
    N: MerchantRecord + 'static,
{
    let mut conn = state.pool.get().await?;
    let m = managed_merchant(&mut conn, user, merchant_id).await?;
    let new = validate(m.id).map_err(AppError::Validation)?;
    let actor = actor(user, req, &state.settings.trusted_proxies);
    let row = add_record(&mut conn, actor, new).await?;
    state.pages.invalidate_merchants(&mut conn, &[m.id]).await;
    Ok(row)
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
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let today = today();
    let limit = db::merchants::records_limit(query.limit);
    Ok(web::Json(
        db::merchants::licences_of(&mut conn, m.id, limit)
            .await?
            .into_iter()
            .map(|l| licence_view(l, today))
            .collect(),
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
    let row = create_record(&state, &req, &user, id, |m| {
        validate_licence(&body, m, user.id)
    })
    .await?;
    let view = licence_view(row, today());
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
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    Ok(web::Json(
        db::merchants::inspections_of(&mut conn, m.id, limit).await?,
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
    let row = create_record(&state, &req, &user, id, |m| {
        validate_inspection(&body, m, user.id, today())
    })
    .await?;
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
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let all = query.include_expired == Some(true) && user.role != Role::Merchant;
    Ok(web::Json(
        db::merchants::credit_records_of(
            &mut conn,
            m.id,
            (!all).then(today),
            db::merchants::records_limit(query.limit),
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
    let row = create_record(&state, &req, &user, id, |m| {
        validate_credit_record(&body, m, user.id, today())
    })
    .await?;
    Ok(created(
        format!("/api/v1/merchants/{id}/credit-records"),
        &row,
    ))
}

/// Whether `user` may add photos to merchant `m`: its regulators and the merchant itself.
pub fn may_add_photo(user: &CurrentUser, m: &MerchantRow) -> AppResult<()> {
    let region = region_of(&m.region_code)?;
    match policy::view_merchant(user, m.id, &region) {
        Decision::Allow => Ok(()),
        other => other.check(),
    }
}
