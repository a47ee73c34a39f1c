//! Merchant use cases, one function each, called by every front end (the JSON API today, the
//! console next): the caller and a typed input in; authorization first (`auth::policy`), then
//! parsing into domain types, then one transaction with its audit entry, then cache
//! invalidation after commit; a typed result built from what the transaction holds, so a
//! committed write is never answered with an error.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::audit::Actor;
use crate::db::merchants::{
    CreditRecordRow, InspectionRow, LicenceRow, MerchantFields, MerchantFilter, MerchantRow,
    PhotoMeta,
};
use crate::domain::grade::{Assessment, Grade, Source};
use crate::domain::merchant::{Category, Status};
use crate::domain::merchant_input::MerchantDraft;
use crate::domain::region::RegionCode;
use crate::domain::text::clean_text;
use crate::domain::time::china_date;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::i18n;
use crate::service::paging::{Page, PageQuery};
use crate::state::AppState;

pub(crate) fn today() -> NaiveDate {
    china_date(Utc::now())
}

pub(crate) fn region_of(code: &str) -> AppResult<RegionCode> {
    RegionCode::parse(code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored region code {code}: {e}")))
}

/// The region of merchant `id`, which must exist (404 otherwise): what most decisions about a
/// merchant need first.
pub async fn region_of_merchant(
    conn: &mut diesel_async::AsyncPgConnection,
    id: i64,
) -> AppResult<RegionCode> {
    let m = db::merchants::find(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    region_of(&m.region_code)
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
            uscc: m.fields.uscc,
            name: m.fields.name,
            category: m.fields.category,
            region_code: m.fields.region_code,
            status: m.fields.status,
            grade: m.grade,
            address: m.fields.address,
            phone: m.fields.phone,
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

pub(crate) fn licence_view(l: LicenceRow, today: NaiveDate) -> LicenceView {
    LicenceView {
        expired: l.valid_until.is_some_and(|u| u < today),
        licence: l,
    }
}

pub(crate) async fn full_view(
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
        uscc: m.fields.uscc,
        uscc_warning: m.fields.uscc_warning,
        uscc_check_override_reason: m.fields.uscc_check_override_reason,
        name: m.fields.name,
        legal_representative: m.fields.legal_representative,
        category: m.fields.category,
        region_code: m.fields.region_code,
        region_override_reason: m.fields.region_override_reason,
        address: m.fields.address,
        phone: m.fields.phone,
        business_scope: m.fields.business_scope,
        registered_on: m.fields.registered_on,
        status: m.fields.status,
        opening_hours: m.fields.opening_hours,
        opening_months: m.fields.opening_months,
        description: m.fields.description,
        pledges: m.fields.pledges,
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

pub(crate) fn duplicate_uscc(e: AppError, uscc: &str) -> AppError {
    match e {
        AppError::Conflict { .. } => AppError::Conflict {
            code: "duplicate_uscc",
            detail: format!("a merchant with USCC {uscc} already exists"),
        },
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Use cases

pub use crate::auth::policy::MERCHANT_EDITABLE;

/// Applies a PATCH body onto a draft. `null` clears a field.
pub(crate) fn apply_patch(
    draft: &mut MerchantDraft,
    patch: &Map<String, Value>,
) -> Vec<FieldError> {
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

/// Creates a merchant in the caller's jurisdiction (regulators and admins). 409
/// `duplicate_uscc` if the USCC exists. Returns the row and its full view, built inside the
/// transaction: if building it fails, nothing is committed.
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    draft: MerchantDraft,
) -> AppResult<(MerchantRow, MerchantView)> {
    policy::create_merchant(user).check()?;
    let mut warnings = Vec::new();
    let valid = draft
        .validate(today(), &mut warnings)
        .map_err(AppError::Validation)?;
    let mut conn = state.pool.get().await?;
    let known = super::all_regions(&mut conn).await?;
    if let Some(e) = check_region(user, &valid.region_code, &known, "region_code") {
        return Err(AppError::validation(e));
    }
    let fields = MerchantFields::from(&valid);
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
    Ok((created, view))
}

/// Applies a PATCH (`null` clears a field) to merchant `id`: regulators any field in their
/// jurisdiction, the merchant itself only `MERCHANT_EDITABLE` (and not reopening a listing a
/// regulator closed). `expected`: the version the client read (409 `stale_version` if it
/// moved). An identical PATCH writes nothing. Invalidates the merchant's pages after commit.
pub async fn update(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
    patch: &Map<String, Value>,
    expected: Option<i32>,
) -> AppResult<(MerchantRow, MerchantView)> {
    let mut conn = state.pool.get().await?;
    let (row, view) = conn.transaction::<_, AppError, _>(async move |conn| {
            let before = db::merchants::get_for_update(conn, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let region = region_of(&before.fields.region_code)?;
            policy::update_merchant(user, id, &region, patch.keys().map(String::as_str))
                .check()?;
            if let Some(Value::String(s)) = patch.get("status") {
                policy::merchant_sets_status(user, &before.fields.status, s.trim()).check()?;
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
            let mut draft = before.fields.to_draft();
            let errors = apply_patch(&mut draft, patch);
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            let mut warnings = Vec::new();
            let valid = draft
                .validate(today(), &mut warnings)
                .map_err(AppError::Validation)?;
            policy::merchant_sets_status(user, &before.fields.status, valid.status.as_str()).check()?;
            if valid.region_code != region {
                // Only a move to another region needs the list of loaded ones.
                let known = super::all_regions(conn).await?;
                if let Some(e) = check_region(user, &valid.region_code, &known, "region_code") {
                    return Err(AppError::validation(e));
                }
            }
            let fields = MerchantFields::from(&valid);
            if fields == before.fields {
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
    Ok((row, view))
}

/// The registry list's filters, as given (parsed here).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub region: Option<String>,
    pub q: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub grade: Option<String>,
    /// A work list of the console (licences expiring, not inspected, open without a code).
    pub attention: Option<crate::db::merchants::Attention>,
}

/// Merchants in the caller's jurisdiction (admins: all), newest first; merchants 403.
pub async fn list(
    state: &AppState,
    user: &CurrentUser,
    filter: &ListFilter,
    paging: &PageQuery,
) -> AppResult<Page<MerchantSummary>> {
    policy::list_merchants(user).check()?;
    let region = super::region_in_scope(user, filter.region.as_deref(), "region")?;
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
    let category = word(&filter.category)
        .map(|c| Category::parse_field(c, "category"))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let status = word(&filter.status)
        .map(|c| Status::parse_field(c, "status"))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let grade = match word(&filter.grade) {
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
    let q = filter
        .q
        .as_deref()
        .map(clean_text)
        .filter(|s| !s.is_empty());
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
    let visible_regions = (!policy::sees_every_region(user)).then(|| {
        known
            .iter()
            .filter(|r| policy::in_jurisdiction(user, r))
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
        attention: filter.attention,
    };
    let (rows, total) = db::merchants::list(&mut conn, &filter, page, per_page).await?;
    Ok(Page {
        items: rows.into_iter().map(MerchantSummary::from).collect(),
        total,
        page,
        per_page,
    })
}

/// One merchant the caller may see (404 otherwise), with its grade and the reasons for it.
pub async fn get(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(MerchantRow, MerchantView)> {
    let mut conn = state.pool.get().await?;
    let m = crate::service::records::visible_merchant(&mut conn, user, id).await?;
    let view = full_view(&mut conn, m.clone(), vec![]).await?;
    Ok((m, view))
}
