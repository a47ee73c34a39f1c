//! The consumer's complaint pages, plain HTML forms that work without JavaScript: the form on
//! a shop (`/s/{code}/complaint`), and tracking (`/track`) with the consumer's answers to a
//! settlement offer, the rating and withdrawal.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use crate::domain::complaint::{parse_yuan, Action, Draft, Rating};
use crate::error::{AppError, AppResult};
use crate::pages::complaint::{ComplaintForm, ComplaintFormPage, LimitedPage, TrackPage, Tracked};
use crate::pages::shop::{MissingPage, Words};
use crate::routes::consumer;
use crate::routes::public::{language, LangQuery};
use crate::service::complaints as svc;
use crate::state::AppState;

fn html<T: Template>(status: StatusCode, page: &T) -> AppResult<HttpResponse> {
    let body = page
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template rendering failed: {e}")))?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        // Personal data and one-time tokens: never stored by a cache.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body))
}

fn limited(lang: &'static str, secs: u64) -> AppResult<HttpResponse> {
    let mut resp = html(
        StatusCode::TOO_MANY_REQUESTS,
        &LimitedPage {
            t: Words { lang },
            minutes: secs.div_ceil(60).max(1).to_string(),
        },
    )?;
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    Ok(resp)
}

fn not_found(lang: &'static str) -> AppResult<HttpResponse> {
    html(
        StatusCode::NOT_FOUND,
        &MissingPage {
            t: Words { lang },
            key: "page.not_found",
        },
    )
}

/// A page answering a cross-site form post.
fn forbidden(lang: &'static str) -> AppResult<HttpResponse> {
    html(
        StatusCode::FORBIDDEN,
        &MissingPage {
            t: Words { lang },
            key: "page.cross_site",
        },
    )
}

fn host_of(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://").map(|(_, r)| r)?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Whether a form post comes from this site: its `Origin` (or, without one, its `Referer`)
/// names this host (as the request's `Host` says, or as `PUBLIC_BASE_URL` says behind a
/// proxy). A post with neither header (an old browser, a script) passes: the signed form
/// token is what a script cannot forge; `Origin` is what stops another site's page from
/// posting a token its visitor's browser fetched.
pub fn same_origin(state: &AppState, req: &HttpRequest) -> bool {
    let headers = req.headers();
    let claimed = match headers.get(header::ORIGIN) {
        Some(o) => o.to_str().ok().map(str::to_owned),
        None => match headers.get(header::REFERER) {
            Some(r) => r.to_str().ok().map(str::to_owned),
            None => return true,
        },
    };
    let Some(claimed) = claimed else { return false };
    let Some(host) = host_of(&claimed) else {
        return false; // "null" and other opaque origins
    };
    let own = req.connection_info().host().to_owned();
    host.eq_ignore_ascii_case(&own)
        || host_of(&state.settings.public_base_url).is_some_and(|h| h.eq_ignore_ascii_case(host))
}

/// The shop's name for the form, or None for a code never issued.
async fn shop_name(state: &AppState, code: &str) -> AppResult<Option<(String, String)>> {
    crate::service::shops::name_for_code(state, code).await
}

/// The complaint form. Each rendering carries a fresh one-time token: submitting the same form
/// twice (a double tap, a resend after a timeout) files one complaint.
#[utoipa::path(operation_id = "complaint_form_page", tag = "public", params(("code" = String, Path), LangQuery), responses(
    (status = 200, content_type = "text/html"),
    (status = 404, content_type = "text/html"),
))]
#[get("/s/{code}/complaint")]
pub async fn complaint_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
) -> AppResult<HttpResponse> {
    let lang = language(&req, query.lang.as_deref());
    let Some((code, name)) = shop_name(&state, &path).await? else {
        return not_found(lang);
    };
    let token = state.form_tokens.issue(&code, Utc::now());
    html(
        StatusCode::OK,
        &ComplaintFormPage {
            t: Words { lang },
            code,
            shop_name: name,
            form: ComplaintForm {
                token,
                ..Default::default()
            },
            errors: vec![],
        },
    )
}

/// Files the complaint; 303 to the tracking page on success, the form again with what was
/// typed and every problem marked (422) otherwise, 429 with when to retry.
#[utoipa::path(operation_id = "submit_complaint_form", tag = "public", params(("code" = String, Path), LangQuery), responses(
    (status = 303, description = "filed: to /track"),
    (status = 404, content_type = "text/html"),
    (status = 422, content_type = "text/html"),
    (status = 429, content_type = "text/html"),
))]
#[post("/s/{code}/complaint")]
pub async fn complaint_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
    form: web::Form<ComplaintForm>,
) -> AppResult<HttpResponse> {
    let lang = language(&req, query.lang.as_deref());
    if !same_origin(&state, &req) {
        return forbidden(lang);
    }
    let form = form.into_inner();
    let Some((code, name)) = shop_name(&state, &path).await? else {
        return not_found(lang);
    };
    let token = form.token.trim();
    let token_ok = state.form_tokens.verify(token, &code, Utc::now()).is_ok();
    let amount = parse_yuan(&form.amount);
    let draft = Draft {
        name: form.name.clone(),
        phone: form.phone.clone(),
        category: form.category.clone(),
        description: form.description.clone(),
        amount_fen: amount.clone().ok().flatten(),
        desired_outcome: form.desired_outcome.clone(),
    };
    let mut errors: Vec<String> = Vec::new();
    if let Err(e) = &amount {
        errors.push(e.field.clone());
    }
    if !token_ok {
        errors.push("token".into());
    }
    let result = if errors.is_empty() {
        svc::submit(
            &state,
            &consumer(&state, &req),
            &code,
            &draft,
            &format!("form:{token}"),
        )
        .await
    } else {
        Err(AppError::Validation(
            draft.validate().err().unwrap_or_default(),
        ))
    };
    let fail = |mut errors: Vec<String>, more: Vec<String>, form: ComplaintForm| {
        errors.extend(more);
        let mut form = form;
        if !token_ok {
            form.token = state.form_tokens.issue(&code, Utc::now());
        }
        html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ComplaintFormPage {
                t: Words { lang },
                code: code.clone(),
                shop_name: name.clone(),
                form,
                errors,
            },
        )
    };
    match result {
        Ok(row) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/track?no={}&submitted=1&lang={lang}", row.tracking_no),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()),
        Err(AppError::Validation(fields)) => {
            // Form order, each field once.
            let order = [
                "name",
                "phone",
                "category",
                "description",
                "amount",
                "amount_fen",
                "desired_outcome",
                "token",
            ];
            let mut all: Vec<String> = errors;
            all.extend(fields.into_iter().map(|f| f.field));
            let ordered: Vec<String> = order
                .iter()
                .filter(|o| all.iter().any(|a| a == *o))
                .map(|o| o.to_string())
                .collect();
            fail(Vec::new(), ordered, form)
        }
        Err(AppError::Conflict { .. }) => {
            // The token came back with different content: a fresh form keeps what was typed.
            let mut form = form;
            form.token = state.form_tokens.issue(&code, Utc::now());
            fail(Vec::new(), vec!["token".into()], form)
        }
        Err(AppError::RateLimited { retry_after_secs }) => limited(lang, retry_after_secs),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct TrackQuery {
    pub lang: Option<String>,
    pub no: Option<String>,
    pub submitted: Option<String>,
}

/// The tracking form (tracking number + phone). After a new complaint it shows the number to
/// note down.
#[utoipa::path(operation_id = "track_page", tag = "public", params(LangQuery, ("no" = Option<String>, Query)), responses(
    (status = 200, content_type = "text/html"),
))]
#[get("/track")]
pub async fn track_form(
    req: HttpRequest,
    query: web::Query<TrackQuery>,
) -> AppResult<HttpResponse> {
    let lang = language(&req, query.lang.as_deref());
    let no: String = query
        .no
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(12)
        .collect();
    html(
        StatusCode::OK,
        &TrackPage {
            t: Words { lang },
            just_submitted: query.submitted.is_some() && no.len() == 12,
            no,
            phone: String::new(),
            not_found: false,
            done: false,
            found: None,
        },
    )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TrackForm {
    #[serde(default)]
    pub no: String,
    #[serde(default)]
    pub phone: String,
    /// `confirm_accept`, `confirm_decline`, `rate`, `withdraw`; empty: look up only.
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub rating: String,
    #[serde(default)]
    pub comment: String,
    /// Withdrawing needs the box ticked: one stray tap must not end a complaint.
    #[serde(default)]
    pub confirm: String,
}

/// Looks a complaint up (tracking number + phone; the phone travels in the body, never in a
/// URL) and, with `op`, answers the merchant's offer, rates, or withdraws.
#[utoipa::path(operation_id = "track_lookup_page", tag = "public", params(LangQuery), responses(
    (status = 200, content_type = "text/html"),
    (status = 404, content_type = "text/html"),
    (status = 429, content_type = "text/html"),
))]
#[post("/track")]
pub async fn track_lookup(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LangQuery>,
    form: web::Form<TrackForm>,
) -> AppResult<HttpResponse> {
    let lang = language(&req, query.lang.as_deref());
    if !same_origin(&state, &req) {
        return forbidden(lang);
    }
    let t = Words { lang };
    let page = |found: Option<Tracked>, not_found: bool, done: bool| TrackPage {
        t: Words { lang },
        no: form
            .no
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(12)
            .collect(),
        phone: if found.is_some() {
            form.phone.trim().to_owned()
        } else {
            String::new()
        },
        just_submitted: false,
        not_found,
        done,
        found,
    };
    let consumer = consumer(&state, &req);
    let row = match svc::find_for_consumer(&state, &consumer, &form.no, &form.phone).await {
        Ok(r) => r,
        Err(AppError::NotFound) => return html(StatusCode::NOT_FOUND, &page(None, true, false)),
        Err(AppError::RateLimited { retry_after_secs }) => return limited(lang, retry_after_secs),
        Err(e) => return Err(e),
    };
    let action = match form.op.as_str() {
        "confirm_accept" => Some(Action::ConsumerAccept),
        "confirm_decline" => Some(Action::ConsumerDecline),
        "withdraw" if form.confirm == "1" => Some(Action::Withdraw),
        _ => None,
    };
    let mut done = None;
    if let Some(action) = action {
        match svc::act_for_consumer(&state, &consumer, &row, action, String::new()).await {
            Ok(after) => done = Some(after),
            // Pressed twice, or the state moved on: show where it stands now.
            Err(AppError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    } else if form.op == "rate" {
        if let Ok(rating) = Rating::parse_field(&form.rating, "rating") {
            match svc::rate_found(&state, &consumer, &row, rating, Some(&form.comment)).await {
                Ok(after) => done = Some(after),
                Err(AppError::Conflict { .. } | AppError::Validation(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let acted = done.is_some();
    let found = match done {
        Some(after) => after,
        None => svc::consumer_complaint(&state, row).await?,
    };
    let tracked = Tracked::new(
        &t,
        &found.row,
        found.merchant_name,
        &found.events,
        svc::consumer_options(&found.row),
    );
    html(StatusCode::OK, &page(Some(tracked), false, acted))
}
