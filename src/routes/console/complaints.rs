//! `/console/complaints…`: the queue (overdue first) and a complaint's page with the action
//! forms the caller may use. Regulators accept, reject, resolve or terminate; a merchant
//! proposes a settlement while the green channel is open. Deadlines are shown as dates and as
//! working days left.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    html, posted, see_other, signed_in, unprocessable, Chrome, Console, ConsoleError,
    ConsoleResult, FormData, FormState,
};
use crate::domain::complaint::{parse_yuan, State};
use crate::domain::time::china_offset;
use crate::domain::user::Role;
use crate::domain::FieldError;
use crate::error::AppError;
use crate::pages::complaint::yuan;
use crate::service;
use crate::service::complaints::{ComplaintView, QueueFilter};
use crate::service::paging::PageQuery;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/complaints", web::get().to(queue))
        .route("/complaints/templates", web::get().to(templates))
        .route("/complaints/templates", web::post().to(create_template))
        .route(
            "/complaints/templates/{id}/delete",
            web::post().to(delete_template),
        )
        .route("/complaints/{id}", web::get().to(show))
        .route("/complaints/{id}", web::post().to(act))
        .route("/complaints/{id}/actions", web::post().to(act));
}

fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The deadline of the complaint's current step, if it has one.
fn current_deadline(v: &ComplaintView) -> Option<chrono::NaiveDate> {
    match v.status.as_str() {
        "submitted" => Some(v.accept_deadline),
        "accepted" => v.conclude_deadline,
        _ => None,
    }
}

pub struct Row {
    pub id: i64,
    pub tracking_no: String,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub status: String,
    pub received: String,
    pub deadline: String,
    pub left: String,
    pub overdue: bool,
    pub flagged: bool,
}

#[derive(Template)]
#[template(path = "console/complaints.html")]
pub struct QueuePage {
    pub c: Chrome,
    pub form: FormState,
    pub rows: Vec<Row>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub statuses: Vec<(String, String)>,
    pub staff: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueParams {
    status: Option<String>,
    region: Option<String>,
    overdue: Option<String>,
    flagged: Option<String>,
    due: Option<String>,
    page: Option<String>,
}

fn flag(v: &Option<String>) -> Option<bool> {
    match v.as_deref().map(str::trim) {
        Some("true" | "1" | "on" | "yes") => Some(true),
        Some("false" | "0" | "no") => Some(false),
        _ => None,
    }
}

/// "N working days left" / "overdue by N working days" / "due today".
fn left_text(c: &Console, n: i64) -> String {
    let t = c.words();
    match n {
        0 => t.s("console.complaint.due_today").to_owned(),
        n if n > 0 => t.f("console.complaint.days_left", "n", &n.to_string()),
        n => t.f("console.complaint.days_over", "n", &(-n).to_string()),
    }
}

const PER_PAGE: i64 = 50;

pub async fn queue(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<QueueParams>,
) -> ConsoleResult {
    let c = signed_in(&state, &req).await?;
    let t = c.words();
    let page_no = super::page_number(q.page.as_deref());
    let filter = QueueFilter {
        status: q.status.clone(),
        region: q.region.clone(),
        merchant_id: None,
        overdue: flag(&q.overdue),
        flagged: flag(&q.flagged),
        due_soon: q.due.as_deref() == Some("soon"),
    };
    let values: HashMap<String, String> = [
        ("status", q.status.clone()),
        ("region", q.region.clone()),
        ("overdue", q.overdue.clone()),
        ("flagged", q.flagged.clone()),
        ("due", q.due.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect();
    let paging = PageQuery {
        page: Some(page_no),
        per_page: Some(PER_PAGE),
    };
    let (items, total, form) =
        match service::complaints::list(&state, c.user(), &filter, &paging).await {
            Ok(p) => (p.items, p.total, FormState::with(values)),
            Err(AppError::Validation(errors)) => (
                vec![],
                0,
                FormState {
                    values,
                    errors: super::Errors::from_fields(c.lang, &errors),
                },
            ),
            Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
        };
    let today = service::today();
    let deadlines: Vec<chrono::NaiveDate> = items.iter().filter_map(current_deadline).collect();
    let left = service::dashboard::working_days_left(&state, today, &deadlines)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let mut left = left.into_iter();
    let rows = items
        .into_iter()
        .map(|v| {
            let (deadline, left) = match current_deadline(&v) {
                Some(d) => (
                    d.to_string(),
                    left.next().map(|n| left_text(&c, n)).unwrap_or_default(),
                ),
                None => (String::new(), String::new()),
            };
            Row {
                id: v.id,
                tracking_no: v.tracking_no,
                merchant_id: v.merchant_id,
                merchant_name: v.merchant_name,
                status: t.w("console.complaint.status", &v.status),
                received: local_time(v.received_at),
                deadline,
                left,
                overdue: v.overdue,
                flagged: v.flagged == Some(true),
            }
        })
        .collect();
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |p: i64| super::page_link("/console/complaints", &form.values, &[], p);
    let failed = !form.errors.is_empty();
    let body = html(&QueuePage {
        c: c.chrome(&state, "complaints"),
        rows,
        total,
        page: page_no,
        pages,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no < pages).then(|| link(page_no + 1)),
        statuses: State::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_owned(),
                    t.w("console.complaint.status", s.as_str()),
                )
            })
            .collect(),
        staff: c.is_staff(),
        form,
    })?;
    Ok(if failed {
        unprocessable(body)
    } else {
        HttpResponse::Ok()
            .insert_header(("Content-Type", "text/html; charset=utf-8"))
            .body(body)
    })
}

pub struct Step {
    pub at: String,
    pub who: String,
    pub action: String,
    pub status: String,
    pub note: String,
}

/// An action form the caller may use on this complaint.
pub struct ActionForm {
    pub action: &'static str,
    pub label: String,
    pub note_required: bool,
    pub amount: bool,
    pub form: FormState,
    pub open: bool,
}

#[derive(Template)]
#[template(path = "console/complaint.html")]
pub struct ComplaintPage {
    pub c: Chrome,
    pub v: ComplaintView,
    pub status: String,
    pub category: String,
    pub received: String,
    pub amount: Option<String>,
    pub proposal_amount: Option<String>,
    pub recovered: String,
    pub deadline_left: Option<String>,
    pub steps: Vec<Step>,
    pub forms: Vec<ActionForm>,
    pub staff: bool,
    pub templates: Vec<(String, String)>,
    /// The complaint is closed: the shop may answer it in public.
    pub closed: bool,
    /// The shop's public reply to it, if any.
    pub reply: Option<service::replies::ReplyView>,
    /// The caller is the shop (it may write the reply while no regulator has seen it).
    pub is_owner: bool,
    /// The reply may still change (no regulator has seen or hidden it).
    pub reply_editable: bool,
    /// The reply form (as posted when it failed).
    pub reply_form: FormState,
    /// The hide form (as posted when it failed).
    pub hide_form: FormState,
}

/// The actions open to the caller on a complaint in this state.
fn actions_for(c: &Console, v: &ComplaintView) -> Vec<(&'static str, bool, bool)> {
    let today = service::today();
    match (c.user().role, v.status.as_str()) {
        (Role::Merchant, "submitted") if v.merchant_deadline.is_some_and(|d| d >= today) => {
            vec![("propose", false, true)]
        }
        (Role::Merchant, _) => vec![],
        (_, "submitted") => vec![("accept", false, false), ("reject", true, false)],
        (_, "accepted") => vec![("resolve", false, true), ("terminate", true, false)],
        _ => vec![],
    }
}

async fn complaint_page(
    state: &AppState,
    c: &Console,
    id: i64,
    failed: Option<(&str, FormState)>,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let t = c.words();
    let mut v = service::complaints::get(state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let today = service::today();
    let deadline_left = match current_deadline(&v) {
        Some(d) => service::dashboard::working_days_left(state, today, &[d])
            .await
            .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?
            .first()
            .map(|n| left_text(c, *n)),
        None => None,
    };
    let steps = v
        .timeline
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|e| Step {
            at: local_time(e.at),
            who: e
                .actor
                .clone()
                .map(|a| format!("{} ({})", a, t.w("console.party", &e.actor_role)))
                .unwrap_or_else(|| t.w("console.party", &e.actor_role)),
            action: t.w("console.complaint.action", &e.action),
            status: t.w("console.complaint.status", &e.to_status),
            note: e.note,
        })
        .collect();
    let forms = actions_for(c, &v)
        .into_iter()
        .map(|(action, note_required, amount)| {
            let (form, open) = match &failed {
                Some((a, f)) if *a == action => (f.clone(), true),
                _ => (FormState::default(), false),
            };
            ActionForm {
                action,
                label: t.w("console.complaint.do", action),
                note_required,
                amount,
                form,
                open,
            }
        })
        .collect();
    let templates = if c.is_staff() {
        service::note_templates::list(state, c.user())
            .await
            .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?
            .into_iter()
            .map(|t| (t.id.to_string(), t.title))
            .collect()
    } else {
        vec![]
    };
    let closed = v.closed_at.is_some();
    let reply = if closed {
        service::replies::list(state, c.user(), v.merchant_id)
            .await
            .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?
            .into_iter()
            .find(|r| r.record_kind == "complaint" && r.record_id == v.id)
    } else {
        None
    };
    let failed_as = |name: &str| match &failed {
        Some((a, f)) if *a == name => f.clone(),
        _ => FormState::default(),
    };
    let reply_form = match (&failed, &reply) {
        (Some(("reply", f)), _) => f.clone(),
        (_, Some(r)) => FormState {
            values: [("reply".to_owned(), r.reply.clone())].into(),
            ..FormState::default()
        },
        _ => FormState::default(),
    };
    let hide_form = failed_as("reply_hidden");
    let mut chrome = c.chrome(state, "complaints");
    chrome.flash = flash;
    html(&ComplaintPage {
        closed,
        is_owner: c.user().merchant_id == Some(v.merchant_id),
        reply_editable: reply.as_ref().is_none_or(|r| !r.seen && !r.hidden),
        reply,
        reply_form,
        hide_form,
        templates,
        c: chrome,
        status: t.w("console.complaint.status", &v.status),
        category: t.w("complaint.category", &v.category),
        received: local_time(v.received_at),
        amount: v.amount_fen.map(yuan),
        proposal_amount: v.proposal_amount_fen.map(yuan),
        recovered: yuan(v.amount_recovered_fen),
        deadline_left,
        steps,
        forms,
        staff: c.is_staff(),
        v,
    })
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = signed_in(&state, &req).await?;
    let flash = q
        .done
        .as_deref()
        .filter(|d| {
            matches!(
                *d,
                "accept" | "reject" | "resolve" | "terminate" | "propose"
            )
        })
        .map(|d| {
            c.words()
                .s(&format!("console.complaint.done.{d}"))
                .to_owned()
        })
        .or_else(|| {
            let key = match q.done.as_deref()? {
                "reply" => "console.complaint.reply.done",
                "reply_seen" => "console.complaint.reply.seen_done",
                "reply_hidden" => "console.complaint.reply.hide_done",
                _ => return None,
            };
            Some(c.words().s(key).to_owned())
        });
    let body = complaint_page(&state, &c, path.into_inner(), None, flash).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

/// The amount field: `amount_recovered_yuan` (typed by a person) or `amount_recovered_fen`.
fn amount(form: &FormData) -> Result<Option<i64>, FieldError> {
    if form.has("amount_recovered_yuan") {
        return parse_yuan(form.get("amount_recovered_yuan")).map_err(|e| FieldError {
            field: "amount_recovered_yuan".into(),
            ..e
        });
    }
    match form.opt("amount_recovered_fen") {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            FieldError::new(
                "amount_recovered_fen",
                "invalid_amount",
                "amount_recovered_fen is a whole number of fen",
            )
        }),
    }
}

pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    let action = form.get("action").trim().to_owned();
    // a saved wording stands in for a blank note
    let mut note = form.get("note").to_owned();
    if note.trim().is_empty() {
        if let Some(id) = form
            .opt("note_template")
            .and_then(|v| v.parse::<i64>().ok())
        {
            note = service::note_templates::get(&state, c.user(), id)
                .await
                .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?
                .body;
        }
    }
    let result = match amount(&form) {
        Ok(amount) => {
            let input = service::complaints::ActionRequest {
                action: action.clone(),
                note,
                amount_recovered_fen: amount,
            };
            service::complaints::act(&state, c.user(), c.actor(&state, &req), id, &input)
                .await
                .map(drop)
        }
        Err(e) => {
            // the complaint must be the caller's to see before a field error is shown
            service::complaints::get(&state, c.user(), id)
                .await
                .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
            Err(AppError::validation(e))
        }
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/console/complaints/{id}?done={}",
            form_urlencoded::byte_serialize(action.as_bytes()).collect::<String>()
        ))),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            let action_key: &str = &action;
            let body = complaint_page(&state, &c, id, Some((action_key, fs)), None).await?;
            Ok(unprocessable(body))
        }
        Err(AppError::Conflict { detail, .. }) => {
            // an illegal step (someone else acted first): the page as it is now, and why
            let fs = FormState {
                values: form.values(),
                errors: super::Errors::one("action", detail),
            };
            let body = complaint_page(&state, &c, id, Some((&action, fs)), None).await?;
            Ok(HttpResponse::Conflict()
                .insert_header(("Content-Type", "text/html; charset=utf-8"))
                .body(body))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

/// The end of a reply action on complaint `id` (the shop's reply, a regulator's "seen" or
/// "hide"): back to the complaint, or its page again with the message beside the field.
pub async fn reply_result(
    state: &AppState,
    c: &Console,
    id: i64,
    form: &FormData,
    done: &str,
    result: Result<service::replies::ReplyView, AppError>,
) -> ConsoleResult {
    let errors = match result {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/console/complaints/{id}?done={done}#reply"
            )))
        }
        Err(AppError::Validation(errors)) => errors,
        Err(AppError::Conflict { code, detail }) => {
            vec![FieldError::new("reply", code, detail)]
        }
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let which = if done == "reply" {
        "reply"
    } else {
        "reply_hidden"
    };
    let fs = FormState::failed(form, c.lang, &errors);
    Ok(unprocessable(
        complaint_page(state, c, id, Some((which, fs)), None).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Note templates

#[derive(Template)]
#[template(path = "console/note_templates.html")]
pub struct TemplatesPage {
    pub c: Chrome,
    pub form: FormState,
    pub rows: Vec<crate::db::complaints::NoteTemplateRow>,
    pub regions: Vec<(String, String)>,
}

async fn templates_page(
    state: &AppState,
    c: &Console,
    form: FormState,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let rows = service::note_templates::list(state, c.user())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let regions = super::region_options(state, c).await?;
    let mut chrome = c.chrome(state, "complaints");
    chrome.flash = flash;
    html(&TemplatesPage {
        c: chrome,
        form,
        rows,
        regions,
    })
}

pub async fn templates(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = super::staff(&state, &req).await?;
    let flash = q
        .done
        .as_deref()
        .filter(|d| matches!(*d, "created" | "deleted"))
        .map(|d| {
            c.words()
                .s(&format!("console.templates.done.{d}"))
                .to_owned()
        });
    let mut values = HashMap::new();
    if let [only] = c.user().region_codes.as_slice() {
        values.insert("region_code".to_owned(), only.clone());
    }
    let body = templates_page(&state, &c, FormState::with(values), flash).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

pub async fn create_template(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    if !c.is_staff() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    match service::note_templates::create(
        &state,
        c.user(),
        c.actor(&state, &req),
        form.get("region_code"),
        form.get("title"),
        form.get("body"),
    )
    .await
    {
        Ok(_) => Ok(see_other("/console/complaints/templates?done=created")),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            Ok(unprocessable(templates_page(&state, &c, fs, None).await?))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

pub async fn delete_template(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, _form) = posted(&state, &req, payload).await?;
    service::note_templates::delete(&state, c.user(), c.actor(&state, &req), path.into_inner())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(see_other("/console/complaints/templates?done=deleted"))
}
