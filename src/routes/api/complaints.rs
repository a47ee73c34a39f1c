//! Complaints for staff (regulators' queue, merchants' own complaints) and the consumer's JSON
//! side (submit, track, confirm, rate, withdraw), plus consumer warnings: parse → call
//! `service::complaints` → respond.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::domain::complaint::{Action, Draft, Rating, State};
use crate::domain::merchant::Category as MerchantCategory;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{Json, Query};
use crate::routes::api::paging::{Page, PageQuery};
use crate::routes::{actor, consumer};
use crate::service::complaints as svc;
use crate::state::AppState;

pub use crate::db::complaints::WarningRow;
pub use crate::service::complaints::{
    ActionRequest, ComplaintView, FlagEvidence, PublicComplaintView, TimelineEntry, WarningRequest,
};

// ---------------------------------------------------------------------------------------------
// Staff

#[derive(Debug, Deserialize, IntoParams)]
pub struct ComplaintQuery {
    /// `submitted`, `merchant_proposed`, `accepted`, `rejected`, `resolved`, `terminated`,
    /// `withdrawn`.
    #[param(inline, value_type = Option<State>)]
    pub status: Option<String>,
    /// A region code (a prefecture covers its counties).
    pub region: Option<String>,
    pub merchant_id: Option<i64>,
    pub overdue: Option<bool>,
    /// Regulators: only complaints from phones flagged as professional claimants.
    pub flagged: Option<bool>,
}

/// The queue: regulators see their jurisdiction (overdue first), merchants their own
/// complaints with the consumer masked.
#[utoipa::path(operation_id = "list_complaints", tag = "complaints", security(("bearer" = [])), params(ComplaintQuery, PageQuery), responses(
    (status = 200, body = Page<ComplaintView>),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/complaints")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query<ComplaintQuery>,
    paging: Query<PageQuery>,
) -> AppResult<web::Json<Page<ComplaintView>>> {
    let q = query.into_inner();
    let filter = svc::QueueFilter {
        status: q.status,
        region: q.region,
        merchant_id: q.merchant_id,
        overdue: q.overdue,
        flagged: q.flagged,
        due_soon: false,
    };
    Ok(web::Json(svc::list(&state, &user, &filter, &paging).await?))
}

/// One complaint with its timeline, deadlines and (for regulators) the flag's evidence.
#[utoipa::path(operation_id = "get_complaint", tag = "complaints", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = ComplaintView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/complaints/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<ComplaintView>> {
    Ok(web::Json(svc::get(&state, &user, path.into_inner()).await?))
}

/// Take a step in the workflow. 409 `illegal_transition` when the complaint's state does not
/// allow it; 403 when the action is the other side's.
#[utoipa::path(operation_id = "act_on_complaint", tag = "complaints", security(("bearer" = [])), params(("id" = i64, Path)), request_body = ActionRequest, responses(
    (status = 200, body = ComplaintView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/complaints/{id}/actions")]
pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<ActionRequest>,
) -> AppResult<web::Json<ComplaintView>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::act(&state, &user, actor, path.into_inner(), &body).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Consumers (JSON)

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The code on the shop's sticker.
    pub shop_code: String,
    pub name: String,
    /// A mainland mobile or landline.
    pub phone: String,
    /// `quality`, `price`, `service`, `false_advertising`, `safety`, `contract`, `other`.
    #[schema(inline, value_type = crate::domain::complaint::Category)]
    pub category: String,
    /// 10–2,000 characters.
    #[schema(min_length = 10, max_length = 2000)]
    pub description: String,
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub amount_fen: Option<i64>,
    #[serde(default)]
    pub desired_outcome: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubmitResponse {
    /// 12 digits; read aloud in two groups of six.
    pub tracking_no: String,
    #[schema(inline, value_type = State)]
    pub status: String,
    /// Until this day the merchant may settle first (green channel).
    pub merchant_deadline: Option<NaiveDate>,
    /// The regulator decides to accept or reject by this day.
    pub accept_deadline: NaiveDate,
}

/// File a complaint. Send a fresh `Idempotency-Key` (e.g. a UUID) with each new complaint and
/// the same key with every retry of it: a retry gets the first answer and creates nothing.
#[utoipa::path(operation_id = "submit_complaint", tag = "public", request_body = SubmitRequest,
    params(("Idempotency-Key" = String, Header, description = "one key per complaint, reused on retries",
        min_length = 1, max_length = 200, pattern = "^[!-~]([ -~]{0,198}[!-~])?$")),
    responses(
    (status = 201, body = SubmitResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/public/complaints")]
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SubmitRequest>,
) -> AppResult<HttpResponse> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            AppError::bad_request(
                "idempotency_key_required",
                "send an Idempotency-Key header (a fresh random value per complaint, the same \
                 value on retries)",
            )
        })?;
    if key.len() > 200 {
        return Err(AppError::bad_request(
            "idempotency_key_too_long",
            "Idempotency-Key has at most 200 characters",
        ));
    }
    let b = body.into_inner();
    let draft = Draft {
        name: b.name,
        phone: b.phone,
        category: b.category,
        description: b.description,
        amount_fen: b.amount_fen,
        desired_outcome: b.desired_outcome.unwrap_or_default(),
    };
    let consumer = consumer(&state, &req);
    let row = svc::submit(
        &state,
        &consumer,
        &b.shop_code,
        &draft,
        &format!("api:{key}"),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::LOCATION,
            format!("/api/v1/public/complaints/{}", row.tracking_no),
        ))
        .json(SubmitResponse {
            tracking_no: row.tracking_no,
            status: row.status,
            merchant_deadline: row.merchant_deadline,
            accept_deadline: row.accept_deadline,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PhoneQuery {
    /// The phone number given with the complaint.
    pub phone: String,
}

fn no_store<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(value)
}

/// Status and timeline. 404 unless the phone is the one the complaint was filed with; failed
/// lookups are rate limited per client.
#[utoipa::path(operation_id = "track_complaint", tag = "public", params(("tracking_no" = String, Path), PhoneQuery), responses(
    (status = 200, body = PublicComplaintView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[get("/public/complaints/{tracking_no}")]
pub async fn track(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query<PhoneQuery>,
) -> AppResult<HttpResponse> {
    let consumer = consumer(&state, &req);
    Ok(no_store(
        &svc::track(&state, &consumer, &path, &query.phone).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub phone: String,
    /// true: accept the merchant's offer (resolved); false: decline (the regulator handles it).
    pub accept: bool,
}

/// The consumer accepts or declines the merchant's settlement offer.
#[utoipa::path(operation_id = "confirm_complaint", tag = "public", params(("tracking_no" = String, Path)), request_body = ConfirmRequest, responses(
    (status = 200, body = PublicComplaintView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/public/complaints/{tracking_no}/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<ConfirmRequest>,
) -> AppResult<HttpResponse> {
    let action = if body.accept {
        Action::ConsumerAccept
    } else {
        Action::ConsumerDecline
    };
    let consumer = consumer(&state, &req);
    let view =
        svc::consumer_step(&state, &consumer, &path, &body.phone, action, String::new()).await?;
    Ok(no_store(&view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    pub phone: String,
    /// `satisfied`, `basically_satisfied`, `dissatisfied`.
    #[schema(inline, value_type = Rating)]
    pub rating: String,
    #[schema(max_length = 500)]
    pub comment: Option<String>,
}

/// Rate how the complaint was handled: once, and only when it is closed (409 otherwise).
#[utoipa::path(operation_id = "rate_complaint", tag = "public", params(("tracking_no" = String, Path)), request_body = RatingRequest, responses(
    (status = 200, body = PublicComplaintView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/public/complaints/{tracking_no}/rating")]
pub async fn rate(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<RatingRequest>,
) -> AppResult<HttpResponse> {
    let consumer = consumer(&state, &req);
    let view = svc::rate(
        &state,
        &consumer,
        &path,
        &body.phone,
        &body.rating,
        body.comment.as_deref(),
    )
    .await?;
    Ok(no_store(&view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    pub phone: String,
    #[serde(default)]
    pub note: String,
}

/// The consumer withdraws an open complaint.
#[utoipa::path(operation_id = "withdraw_complaint", tag = "public", params(("tracking_no" = String, Path)), request_body = WithdrawRequest, responses(
    (status = 200, body = PublicComplaintView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/public/complaints/{tracking_no}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<WithdrawRequest>,
) -> AppResult<HttpResponse> {
    let consumer = consumer(&state, &req);
    let view = svc::consumer_step(
        &state,
        &consumer,
        &path,
        &body.phone,
        Action::Withdraw,
        body.note.clone(),
    )
    .await?;
    Ok(no_store(&view))
}

// ---------------------------------------------------------------------------------------------
// Warnings

/// Publish a consumer warning; it shows on the scan pages of matching merchants until
/// `valid_until`.
#[utoipa::path(operation_id = "create_warning", tag = "complaints", security(("bearer" = [])), request_body = WarningRequest, responses(
    (status = 201, body = WarningRow),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/warnings")]
pub async fn create_warning(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    body: Json<WarningRequest>,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let row = svc::create_warning(&state, &user, actor, &body).await?;
    Ok(HttpResponse::Created().json(row))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WarningQuery {
    /// Warnings that apply to this region (including those of the prefecture above it and
    /// those for everywhere).
    pub region: Option<String>,
    #[param(inline, value_type = Option<MerchantCategory>)]
    pub category: Option<String>,
}

/// Consumer warnings in force, the newest 50.
#[utoipa::path(operation_id = "list_warnings", tag = "public", params(WarningQuery), responses(
    (status = 200, body = Vec<WarningRow>),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/public/warnings")]
pub async fn list_warnings(
    state: web::Data<AppState>,
    query: Query<WarningQuery>,
) -> AppResult<HttpResponse> {
    let rows =
        svc::list_warnings(&state, query.region.as_deref(), query.category.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(rows))
}
