//! Complaints for staff (regulators' queue, merchants' own complaints) and the consumer's JSON
//! side (submit, track, confirm, rate, withdraw), plus consumer warnings.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::complaints::{ComplaintFilter, ComplaintRow, EventRow, NewWarning, WarningRow};
use crate::domain::complaint::{mask_name, mask_phone, Action, Draft, Party, Rating, State};
use crate::domain::merchant::Category as MerchantCategory;
use crate::domain::region::RegionCode;
use crate::domain::text::{clean_multiline, clean_text};
use crate::domain::time::parse_date;
use crate::domain::user::Role;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{Json, Query};
use crate::routes::actor;
use crate::routes::api::paging::{Page, PageQuery};
use crate::routes::complaint_flow::{self as flow, today};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Views

/// One entry of a complaint's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `consumer`, `merchant`, `regulator`.
    pub actor_role: String,
    /// Regulators and admins only: the account that acted (merchants and consumers see the
    /// role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub action: String,
    #[schema(inline, value_type = Option<State>)]
    pub from_status: Option<String>,
    #[schema(inline, value_type = State)]
    pub to_status: String,
    pub note: String,
}

fn timeline(events: Vec<EventRow>, staff: bool) -> Vec<TimelineEntry> {
    events
        .into_iter()
        .map(|e| TimelineEntry {
            at: e.at,
            actor: (staff && e.actor_role != "consumer").then_some(e.actor_label),
            actor_role: e.actor_role,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            // A rating's word is in `rating`; a consumer's notes are their own.
            note: e.note,
        })
        .collect()
}

/// A complaint of the same phone within the flag window: the evidence behind a flag.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagEvidence {
    pub id: i64,
    pub tracking_no: String,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub received_at: DateTime<Utc>,
    #[schema(inline, value_type = crate::domain::complaint::Category)]
    pub category: String,
    #[schema(inline, value_type = State)]
    pub status: String,
}

/// A complaint as staff see it. For a merchant the consumer's name and phone are masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintView {
    pub id: i64,
    pub tracking_no: String,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub shop_code: String,
    pub region_code: String,
    pub consumer_name: String,
    pub consumer_phone: String,
    #[schema(inline, value_type = crate::domain::complaint::Category)]
    pub category: String,
    pub description: String,
    pub amount_fen: Option<i64>,
    pub desired_outcome: String,
    #[schema(inline, value_type = State)]
    pub status: String,
    pub received_at: DateTime<Utc>,
    /// Green channel: the merchant may propose a settlement until this day.
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub accepted_on: Option<NaiveDate>,
    pub conclude_deadline: Option<NaiveDate>,
    /// Open and past the deadline of its current step.
    pub overdue: bool,
    /// A regulator step was taken after its deadline.
    pub late: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub proposal: Option<String>,
    pub proposal_amount_fen: Option<i64>,
    pub amount_recovered_fen: i64,
    #[schema(inline, value_type = Option<Rating>)]
    pub rating: Option<String>,
    pub rating_comment: Option<String>,
    /// Professional-claimant pattern on this phone (regulators and admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_evidence: Option<Vec<FlagEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
}

fn view(row: ComplaintRow, merchant_name: String, user: &CurrentUser) -> ComplaintView {
    let full = policy::sees_consumer(user);
    let overdue = row.deadlines().overdue(row.state(), today());
    ComplaintView {
        id: row.id,
        tracking_no: row.tracking_no,
        merchant_id: row.merchant_id,
        merchant_name,
        shop_code: row.shop_code,
        region_code: row.region_code,
        consumer_name: if full {
            row.consumer_name
        } else {
            mask_name(&row.consumer_name)
        },
        consumer_phone: if full {
            row.consumer_phone
        } else {
            mask_phone(&row.consumer_phone)
        },
        category: row.category,
        description: row.description,
        amount_fen: row.amount_fen,
        desired_outcome: row.desired_outcome,
        status: row.status,
        received_at: row.received_at,
        merchant_deadline: row.merchant_deadline,
        accept_deadline: row.accept_deadline,
        accepted_on: row.accepted_on,
        conclude_deadline: row.conclude_deadline,
        overdue,
        late: row.late,
        closed_at: row.closed_at,
        proposal: row.proposal,
        proposal_amount_fen: row.proposal_amount_fen,
        amount_recovered_fen: row.amount_recovered_fen,
        rating: row.rating,
        rating_comment: row.rating_comment,
        flagged: full.then_some(row.flagged),
        flag_evidence: None,
        timeline: None,
    }
}

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
    let status = match query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => State::parse_field(s, "status")
            .map_err(|e| errors.push(e))
            .ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut conn = state.pool.get().await?;
    let known = super::all_regions(&mut conn).await?;
    let mut filter = ComplaintFilter {
        merchant_id: query.merchant_id,
        status: status.map(|s| s.as_str().to_owned()),
        overdue: query.overdue,
        ..Default::default()
    };
    match user.role {
        Role::Merchant => {
            // Only its own; a merchant never sees the flag.
            let own = user.merchant_id.ok_or(AppError::Forbidden(
                "this merchant login is not linked to a merchant",
            ))?;
            if filter.merchant_id.is_some_and(|m| m != own) {
                return Ok(web::Json(Page {
                    items: vec![],
                    total: 0,
                    page,
                    per_page,
                }));
            }
            filter.merchant_id = Some(own);
        }
        Role::Regulator => {
            filter.visible_regions = Some(
                known
                    .iter()
                    .filter(|r| policy::in_jurisdiction(&user, r))
                    .map(|r| r.to_string())
                    .collect(),
            );
            filter.flagged = query.flagged;
        }
        Role::Admin => filter.flagged = query.flagged,
    }
    if let Some(asked) = region {
        filter.regions = Some(
            known
                .iter()
                .filter(|r| asked.covers(r))
                .map(|r| r.to_string())
                .collect(),
        );
    }
    let (rows, total) = db::complaints::list(&mut conn, &filter, today(), page, per_page).await?;
    Ok(web::Json(Page {
        items: rows
            .into_iter()
            .map(|r| view(r.complaint, r.merchant_name, &user))
            .collect(),
        total,
        page,
        per_page,
    }))
}

/// Loads a complaint the caller may see (404 otherwise).
async fn visible(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(ComplaintRow, String)> {
    let (row, name) = db::complaints::get_named(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = RegionCode::parse(&row.region_code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored region code: {e}")))?;
    policy::view_complaint(user, row.merchant_id, &region).check()?;
    Ok((row, name))
}

async fn full_view(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    user: &CurrentUser,
    row: ComplaintRow,
    merchant_name: String,
) -> AppResult<ComplaintView> {
    let events = db::complaints::events(conn, row.id).await?;
    let evidence = if policy::sees_consumer(user) && row.flagged {
        let days = i64::from(state.settings.complaints.flag_window_days);
        let since = row.received_at - chrono::Duration::days(days);
        Some(
            db::complaints::by_phone_since(conn, &row.consumer_phone, since)
                .await?
                .into_iter()
                .filter(|(c, _)| c.received_at <= row.received_at + chrono::Duration::days(days))
                .map(|(c, name)| FlagEvidence {
                    id: c.id,
                    tracking_no: c.tracking_no,
                    merchant_id: c.merchant_id,
                    merchant_name: name,
                    received_at: c.received_at,
                    category: c.category,
                    status: c.status,
                })
                .collect(),
        )
    } else {
        None
    };
    let mut v = view(row, merchant_name, user);
    v.timeline = Some(timeline(events, policy::sees_acting_user(user)));
    v.flag_evidence = evidence;
    Ok(v)
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
    let mut conn = state.pool.get().await?;
    let (row, name) = visible(&mut conn, &user, path.into_inner()).await?;
    Ok(web::Json(
        full_view(&state, &mut conn, &user, row, name).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `propose` (merchant), `accept`, `reject` (needs `note`), `resolve`, `terminate` (needs
    /// `note`) (regulator).
    #[schema(inline, value_type = Action)]
    pub action: String,
    #[serde(default)]
    pub note: String,
    /// `propose`: the amount offered; `resolve`: the amount recovered for the consumer.
    pub amount_recovered_fen: Option<i64>,
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
    let action = Action::parse_field(&body.action, "action").map_err(AppError::validation)?;
    let mut conn = state.pool.get().await?;
    let (row, name) = visible(&mut conn, &user, path.into_inner()).await?;
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let after = flow::act(
        &state,
        row.id,
        policy::complaint_party(&user),
        &actor,
        action,
        flow::Request {
            note: body.note.clone(),
            amount_fen: body.amount_recovered_fen,
        },
    )
    .await?;
    // The action is committed: the answer must not fail now (a retry would meet it as 409).
    // If the timeline cannot be read, the complaint as it stands answers without it.
    let plain = view(after.clone(), name.clone(), &user);
    match full_view(&state, &mut conn, &user, after, name).await {
        Ok(v) => Ok(web::Json(v)),
        Err(e) => {
            tracing::warn!(error = %e, "complaint action committed; answered without its timeline");
            Ok(web::Json(plain))
        }
    }
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
    let row = flow::submit(&state, &req, &b.shop_code, &draft, &format!("api:{key}")).await?;
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

/// A complaint as its consumer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicComplaintView {
    pub tracking_no: String,
    pub merchant_name: String,
    pub shop_code: String,
    #[schema(inline, value_type = crate::domain::complaint::Category)]
    pub category: String,
    #[schema(inline, value_type = State)]
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub conclude_deadline: Option<NaiveDate>,
    pub overdue: bool,
    pub proposal: Option<String>,
    pub proposal_amount_fen: Option<i64>,
    pub amount_recovered_fen: i64,
    #[schema(inline, value_type = Option<Rating>)]
    pub rating: Option<String>,
    /// The consumer may accept or decline the merchant's offer now.
    pub can_confirm: bool,
    /// The consumer may rate the handling now (closed, not yet rated).
    pub can_rate: bool,
    pub can_withdraw: bool,
    pub timeline: Vec<TimelineEntry>,
}

pub async fn public_view(state: &AppState, row: ComplaintRow) -> AppResult<PublicComplaintView> {
    let mut conn = state.pool.get().await?;
    let (events, merchant_name) = db::complaints::timeline_and_merchant(&mut conn, &row).await?;
    let (can_confirm, can_rate, can_withdraw) = flow::consumer_options(&row);
    Ok(PublicComplaintView {
        overdue: row.deadlines().overdue(row.state(), today()),
        tracking_no: row.tracking_no,
        merchant_name,
        shop_code: row.shop_code,
        category: row.category,
        status: row.status,
        received_at: row.received_at,
        merchant_deadline: row.merchant_deadline,
        accept_deadline: row.accept_deadline,
        conclude_deadline: row.conclude_deadline,
        proposal: row.proposal,
        proposal_amount_fen: row.proposal_amount_fen,
        amount_recovered_fen: row.amount_recovered_fen,
        rating: row.rating,
        can_confirm,
        can_rate,
        can_withdraw,
        timeline: timeline(events, false),
    })
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
    let row = flow::find_for_consumer(&state, &req, &path, &query.phone).await?;
    Ok(no_store(&public_view(&state, row).await?))
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
    consumer_act(&state, &req, &path, &body.phone, action, String::new()).await
}

/// A consumer's step (confirm, decline, withdraw): found by tracking number and phone, taken,
/// answered with the consumer's view.
async fn consumer_act(
    state: &AppState,
    req: &HttpRequest,
    tracking_no: &str,
    phone: &str,
    action: Action,
    note: String,
) -> AppResult<HttpResponse> {
    let row = flow::find_for_consumer(state, req, tracking_no, phone).await?;
    let actor = flow::consumer_actor(state, req);
    let request = flow::Request {
        note,
        amount_fen: None,
    };
    let after = flow::act(state, row.id, Party::Consumer, &actor, action, request).await?;
    Ok(no_store(&public_view(state, after).await?))
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
    let rating = Rating::parse_field(&body.rating, "rating").map_err(AppError::validation)?;
    let row = flow::find_for_consumer(&state, &req, &path, &body.phone).await?;
    let after = rate_complaint(&state, &req, row, rating, body.comment.as_deref()).await?;
    Ok(no_store(&public_view(&state, after).await?))
}

/// Records a rating (shared with the tracking page).
pub async fn rate_complaint(
    state: &AppState,
    req: &HttpRequest,
    row: ComplaintRow,
    rating: Rating,
    comment: Option<&str>,
) -> AppResult<ComplaintRow> {
    let comment = comment.map(clean_multiline).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        return Err(AppError::validation(FieldError::new(
            "comment",
            "too_long",
            "comment must be at most 500 characters",
        )));
    }
    let closed = row.state().is_closed();
    let mut conn = state.pool.get().await?;
    let actor = flow::consumer_actor(state, req);
    match db::complaints::rate(
        &mut conn,
        row.id,
        rating.as_str(),
        comment.as_deref(),
        &actor,
    )
    .await?
    {
        Some(after) => Ok(after),
        None => Err(AppError::Conflict {
            code: if closed {
                "already_rated"
            } else {
                "illegal_transition"
            },
            detail: if closed {
                "this complaint has already been rated".into()
            } else {
                "a complaint can be rated only once it is closed".into()
            },
        }),
    }
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
    consumer_act(
        &state,
        &req,
        &path,
        &body.phone,
        Action::Withdraw,
        body.note.clone(),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Warnings

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningRequest {
    /// Where it applies (a prefecture covers its counties); omitted: everywhere (admins).
    pub region_code: Option<String>,
    /// Which kind of merchant it concerns; omitted: all.
    #[schema(inline, value_type = Option<MerchantCategory>)]
    pub category: Option<String>,
    #[schema(max_length = 100)]
    pub title: String,
    #[schema(max_length = 1000)]
    pub body: String,
    /// Shown until the end of this day (China time).
    pub valid_until: String,
}

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
    let mut e = Vec::new();
    let mut conn = state.pool.get().await?;
    let region = match body
        .region_code
        .as_deref()
        .map(crate::domain::text::clean_ident)
        .filter(|s| !s.is_empty())
    {
        Some(r) => match RegionCode::parse(&r) {
            Ok(r) if super::all_regions(&mut conn).await?.contains(&r) => Some(r),
            Ok(r) => {
                e.push(FieldError::new(
                    "region_code",
                    "unknown_region",
                    format!("region {r} is not loaded in this deployment"),
                ));
                None
            }
            Err(err) => {
                e.push(FieldError::new(
                    "region_code",
                    "invalid_region",
                    err.to_string(),
                ));
                None
            }
        },
        None => None,
    };
    let category = match body
        .category
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(c) => MerchantCategory::parse_field(c, "category")
            .map_err(|x| e.push(x))
            .ok(),
        None => None,
    };
    for (field, value) in [("title", &body.title), ("body", &body.body)] {
        if let Some(err) = crate::domain::text::control_char_error(field, value) {
            e.push(err);
        }
    }
    let title = clean_text(&body.title);
    if title.is_empty() || title.chars().count() > 100 {
        e.push(FieldError::new(
            "title",
            if title.is_empty() {
                "required"
            } else {
                "too_long"
            },
            "title must be 1 to 100 characters",
        ));
    }
    let text = clean_multiline(&body.body);
    if text.is_empty() || text.chars().count() > 1000 {
        e.push(FieldError::new(
            "body",
            if text.is_empty() {
                "required"
            } else {
                "too_long"
            },
            "body must be 1 to 1000 characters",
        ));
    }
    let valid_until = match parse_date(&body.valid_until) {
        Some(d) if d < today() => {
            e.push(FieldError::new(
                "valid_until",
                "in_the_past",
                "valid_until cannot be before today",
            ));
            None
        }
        Some(d) => Some(d),
        None => {
            e.push(FieldError::new(
                "valid_until",
                "invalid_date",
                "valid_until must be a date, YYYY-MM-DD",
            ));
            None
        }
    };
    if body.region_code.is_some() && region.is_none() && e.is_empty() {
        e.push(FieldError::new(
            "region_code",
            "invalid_region",
            "region_code is not valid",
        ));
    }
    let Some(valid_until) = valid_until.filter(|_| e.is_empty()) else {
        return Err(AppError::Validation(e));
    };
    policy::publish_warning(&user, region.as_ref()).check()?;
    let row = db::complaints::insert_warning(
        &mut conn,
        &NewWarning {
            region_code: region.map(|r| r.to_string()),
            category: category.map(|c| c.as_str().to_owned()),
            title,
            body: text,
            valid_until,
            created_by: Some(user.id),
        },
        &actor(&user, &req, &state.settings.trusted_proxies),
    )
    .await?;
    // A warning shows on many pages: drop them all.
    state.pages.invalidate_all().await;
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
    let region =
        super::region_param(query.region.as_deref(), "region").map_err(AppError::validation)?;
    let category = query
        .category
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(c) = category {
        MerchantCategory::parse_field(c, "category").map_err(AppError::validation)?;
    }
    let mut conn = state.pool.get().await?;
    let rows: Vec<WarningRow> =
        db::complaints::active_warnings(&mut conn, today(), region.as_ref(), category).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(rows))
}
