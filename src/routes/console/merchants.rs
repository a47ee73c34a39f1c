//! `/console/merchants…`: the registry as regulators work it (list, create, the merchant's page
//! with its record forms, edit), and the merchant's own page.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    html, posted, see_other, signed_in, staff, unprocessable, Chrome, Console, ConsoleError,
    ConsoleResult, FormData, FormState,
};
use crate::db::merchants::{CreditRecordRow, InspectionRow};
use crate::domain::merchant::{
    Category, CreditKind, InspectionKind, InspectionResult, LicenceKind, Status,
};
use crate::domain::merchant_input::MerchantDraft;
use crate::domain::time::china_offset;
use crate::domain::user::Role;
use crate::error::AppError;
use crate::pages::shop::Words;
use crate::service;
use crate::service::merchants::{LicenceView, MerchantSummary, MerchantView};
use crate::service::paging::PageQuery;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/merchants", web::get().to(list))
        .route("/merchants", web::post().to(create))
        .route("/merchants/new", web::get().to(new_form))
        .route("/merchants/new", web::post().to(create))
        .route("/merchants/{id}", web::get().to(show))
        .route("/merchants/{id}/edit", web::get().to(edit_form))
        .route("/merchants/{id}/edit", web::post().to(edit))
        .route("/merchants/{id}", web::post().to(edit))
        .route("/merchants/{id}/photos", web::post().to(add_photo))
        .route("/merchants/{id}/objections", web::post().to(file_objection))
        .route(
            "/merchants/{id}/credit-repairs",
            web::post().to(apply_repair),
        )
        .route(
            "/merchants/{id}/replies/{kind}/{record}",
            web::post().to(put_reply),
        )
        .route(
            "/merchants/{id}/replies/{kind}/{record}/seen",
            web::post().to(reply_seen),
        )
        .route(
            "/merchants/{id}/replies/{kind}/{record}/hide",
            web::post().to(hide_reply),
        )
        .route(
            "/merchants/{id}/photos/{photo}/delete",
            web::post().to(delete_photo),
        )
        .route("/merchants/{id}/licences", web::post().to(add_licence))
        .route(
            "/merchants/{id}/inspections",
            web::post().to(add_inspection),
        )
        .route(
            "/merchants/{id}/credit-records",
            web::post().to(add_credit_record),
        );
}

/// `(value, label)` pairs for a select.
pub type Options = Vec<(String, String)>;

pub(super) fn words<T: Copy>(
    t: &Words,
    all: &[T],
    prefix: &str,
    word: fn(T) -> &'static str,
) -> Options {
    all.iter()
        .map(|v| (word(*v).to_owned(), t.w(prefix, word(*v))))
        .collect()
}

fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// List

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    q: Option<String>,
    region: Option<String>,
    category: Option<String>,
    status: Option<String>,
    grade: Option<String>,
    attention: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "console/merchants.html")]
pub struct ListPage {
    pub c: Chrome,
    pub form: FormState,
    pub items: Vec<MerchantSummary>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub regions: Options,
    pub categories: Options,
    pub statuses: Options,
    pub grades: Options,
    pub attention: Option<String>,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub may_create: bool,
}

impl ListPage {
    pub fn region_name(&self, code: &str) -> String {
        self.regions
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| code.to_owned())
    }
}

const PER_PAGE: i64 = 50;

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListParams>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let t = c.words();
    let page_no = super::page_number(q.page.as_deref());
    let attention_word = q.attention.clone().filter(|a| !a.is_empty());
    let filter = service::merchants::ListFilter {
        region: q.region.clone(),
        q: q.q.clone(),
        category: q.category.clone(),
        status: q.status.clone(),
        grade: q.grade.clone(),
        attention: attention_word
            .as_deref()
            .and_then(|a| service::dashboard::attention(a, service::today())),
    };
    let paging = PageQuery {
        page: Some(page_no),
        per_page: Some(PER_PAGE),
    };
    let values: HashMap<String, String> = [
        ("q", &q.q),
        ("region", &q.region),
        ("category", &q.category),
        ("status", &q.status),
        ("grade", &q.grade),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
    .collect();
    let (result, form) = match service::merchants::list(&state, c.user(), &filter, &paging).await {
        Ok(p) => (Some(p), FormState::with(values)),
        Err(AppError::Validation(errors)) => (
            None,
            FormState {
                values,
                errors: super::Errors::from_fields(c.lang, &errors),
            },
        ),
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let (items, total) = result.map(|p| (p.items, p.total)).unwrap_or_default();
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let extra: Vec<(&str, &str)> = attention_word
        .as_deref()
        .map(|a| vec![("attention", a)])
        .unwrap_or_default();
    let link = |p: i64| super::page_link("/console/merchants", &form.values, &extra, p);
    let failed = !form.errors.is_empty();
    let body = html(&ListPage {
        c: c.chrome(&state, "merchants"),
        items,
        total,
        page: page_no,
        pages,
        regions: super::region_options(&state, &c).await?,
        categories: words(&t, Category::ALL, "category", Category::as_str),
        statuses: words(&t, Status::ALL, "status", Status::as_str),
        grades: ["A", "B", "C", "D"]
            .iter()
            .map(|g| (g.to_string(), t.s(&format!("grade.{g}")).to_owned()))
            .collect(),
        attention: attention_word
            .as_deref()
            .filter(|a| matches!(*a, "licence_expiring" | "not_inspected" | "no_code"))
            .map(|a| t.s(&format!("console.merchants.attention.{a}")).to_owned()),
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no < pages).then(|| link(page_no + 1)),
        may_create: c.user().role != Role::Merchant,
        form,
    })?;
    if failed {
        Ok(unprocessable(body))
    } else {
        Ok(HttpResponse::Ok()
            .insert_header(("Content-Type", "text/html; charset=utf-8"))
            .body(body))
    }
}

// ---------------------------------------------------------------------------------------------
// Create and edit

#[derive(Template)]
#[template(path = "console/merchant_form.html")]
pub struct MerchantFormPage {
    pub c: Chrome,
    pub form: FormState,
    /// `None`: a new merchant.
    pub merchant: Option<(i64, String)>,
    /// Whether every field is editable (staff) or only the merchant's own.
    pub full: bool,
    pub regions: Options,
    pub categories: Options,
    pub statuses: Options,
    pub months: Vec<(i16, bool)>,
}

fn month_boxes(form: &FormState) -> Vec<(i16, bool)> {
    let chosen: Vec<i16> = form
        .v("opening_months")
        .split(',')
        .filter_map(|m| m.trim().parse().ok())
        .collect();
    (1..=12).map(|m| (m, chosen.contains(&m))).collect()
}

fn lines(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The ticked months (checkboxes), or a typed list ("6,7,8", "6、7、8").
fn months(form: &FormData) -> Vec<i32> {
    form.all("opening_months")
        .iter()
        .flat_map(|m| m.split([',', '，', '、', ';', ' ']))
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| m.trim_end_matches('月').parse::<i32>().unwrap_or(0))
        .collect()
}

/// What a merchant form shows again: its values, with the months as one list.
fn kept(form: &FormData) -> HashMap<String, String> {
    let mut v = form.values();
    v.insert(
        "opening_months".into(),
        form.all("opening_months").join(","),
    );
    v
}

async fn form_page(
    state: &AppState,
    c: &Console,
    form: FormState,
    merchant: Option<(i64, String)>,
    full: bool,
) -> ConsoleResult<String> {
    let t = c.words();
    let statuses = if full {
        words(&t, Status::ALL, "status", Status::as_str)
    } else {
        words(
            &t,
            &[Status::Open, Status::SeasonalClosed],
            "status",
            Status::as_str,
        )
    };
    html(&MerchantFormPage {
        c: c.chrome(state, if c.is_staff() { "merchants" } else { "home" }),
        months: month_boxes(&form),
        form,
        merchant,
        full,
        regions: if full {
            super::region_options(state, c).await?
        } else {
            vec![]
        },
        categories: words(&t, Category::ALL, "category", Category::as_str),
        statuses,
    })
}

pub async fn new_form(state: web::Data<AppState>, req: HttpRequest) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let mut values = HashMap::new();
    values.insert("status".to_owned(), "open".to_owned());
    if let [only] = c.user().region_codes.as_slice() {
        values.insert("region_code".to_owned(), only.clone());
    }
    let body = form_page(&state, &c, FormState::with(values), None, true).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    if !c.is_staff() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    let draft = MerchantDraft {
        uscc: form.opt("uscc"),
        name: form.opt("name"),
        legal_representative: form.opt("legal_representative"),
        category: form.opt("category"),
        region_code: form.opt("region_code"),
        address: form.opt("address"),
        phone: form.opt("phone"),
        business_scope: form.opt("business_scope"),
        registered_on: form.opt("registered_on"),
        status: form.opt("status"),
        opening_hours: form.opt("opening_hours"),
        opening_months: Some(months(&form)),
        description: form.opt("description"),
        pledges: Some(lines(form.get("pledges"))),
        region_override_reason: form.opt("region_override_reason"),
        uscc_check_override_reason: form.opt("uscc_check_override_reason"),
    };
    match service::merchants::create(&state, c.user(), c.actor(&state, &req), draft).await {
        Ok((row, _)) => Ok(see_other(&format!(
            "/console/merchants/{}?done=created",
            row.id
        ))),
        Err(AppError::Validation(errors)) => {
            let fs = FormState {
                values: kept(&form),
                errors: super::Errors::from_fields(c.lang, &errors),
            };
            Ok(unprocessable(form_page(&state, &c, fs, None, true).await?))
        }
        Err(AppError::Conflict { code, detail }) => {
            let e = crate::domain::FieldError::new("uscc", code, detail);
            let fs = FormState {
                values: kept(&form),
                errors: super::Errors::from_fields(c.lang, &[e]),
            };
            Ok(unprocessable(form_page(&state, &c, fs, None, true).await?))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

/// The merchant's current values, as the edit form shows them.
fn current_values(m: &MerchantView) -> HashMap<String, String> {
    let mut v = HashMap::new();
    let mut put = |k: &str, val: Option<&str>| {
        v.insert(k.to_owned(), val.unwrap_or("").to_owned());
    };
    put("uscc", Some(&m.uscc));
    put("name", Some(&m.name));
    put("legal_representative", m.legal_representative.as_deref());
    put("category", Some(&m.category));
    put("region_code", Some(&m.region_code));
    put(
        "region_override_reason",
        m.region_override_reason.as_deref(),
    );
    put(
        "uscc_check_override_reason",
        m.uscc_check_override_reason.as_deref(),
    );
    put("address", m.address.as_deref());
    put("phone", m.phone.as_deref());
    put("business_scope", m.business_scope.as_deref());
    let reg = m.registered_on.map(|d| d.to_string());
    put("registered_on", reg.as_deref());
    put("status", Some(&m.status));
    put("opening_hours", m.opening_hours.as_deref());
    put("description", m.description.as_deref());
    let months: Vec<String> = m.opening_months.iter().map(|x| x.to_string()).collect();
    put("opening_months", Some(&months.join(",")));
    put("pledges", Some(&m.pledges.join("\n")));
    put("version", Some(&m.version.to_string()));
    v
}

pub async fn edit_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> ConsoleResult {
    let c = signed_in(&state, &req).await?;
    let (_, view) = service::merchants::get(&state, c.user(), path.into_inner())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let full = c.is_staff();
    let body = form_page(
        &state,
        &c,
        FormState::with(current_values(&view)),
        Some((view.id, view.name.clone())),
        full,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

/// The fields a merchant may change about itself (the API's rule, `MERCHANT_EDITABLE`).
const OWN_FIELDS: &[&str] = &["phone", "opening_hours", "status", "description"];
const STAFF_FIELDS: &[&str] = &[
    "uscc",
    "name",
    "legal_representative",
    "category",
    "region_code",
    "region_override_reason",
    "uscc_check_override_reason",
    "address",
    "phone",
    "business_scope",
    "registered_on",
    "status",
    "opening_hours",
    "description",
];

pub async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    let full = c.is_staff();
    let mut patch = Map::new();
    for field in if full { STAFF_FIELDS } else { OWN_FIELDS } {
        if form.has(field) {
            patch.insert(
                (*field).to_owned(),
                form.opt(field).map(Value::String).unwrap_or(Value::Null),
            );
        }
    }
    if form.has("opening_months_shown") {
        patch.insert(
            "opening_months".into(),
            Value::Array(months(&form).into_iter().map(Value::from).collect()),
        );
    }
    if form.has("pledges") {
        patch.insert(
            "pledges".into(),
            Value::Array(
                lines(form.get("pledges"))
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
        );
    }
    let expected = form.get("version").trim().parse::<i32>().ok();
    match service::merchants::update(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        &patch,
        expected,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/console/merchants/{id}?done=saved"))),
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. })) => {
            let errors = match e {
                AppError::Validation(errors) => errors,
                AppError::Conflict { code, detail } => {
                    let field = if code == "duplicate_uscc" {
                        "uscc"
                    } else {
                        "version"
                    };
                    vec![crate::domain::FieldError::new(field, code, detail)]
                }
                _ => vec![],
            };
            let (_, view) = service::merchants::get(&state, c.user(), id)
                .await
                .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
            let mut values = kept(&form);
            if errors.iter().any(|e| e.code == "stale_version") {
                // show what is there now, and let them decide again
                values.insert("version".into(), view.version.to_string());
            }
            let fs = FormState {
                values,
                errors: super::Errors::from_fields(c.lang, &errors),
            };
            let body = form_page(&state, &c, fs, Some((view.id, view.name)), full).await?;
            Ok(unprocessable(body))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// The merchant's page

pub struct ReasonLine {
    pub grade: String,
    pub message: String,
    /// The first day this reason no longer counts, if time alone ends it.
    pub until: Option<String>,
    /// The record behind it, where the owner can reply, object or apply for repair.
    pub anchor: Option<&'static str>,
}

pub struct ComplaintLine {
    pub id: i64,
    pub tracking_no: String,
    pub status: String,
    pub received: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "console/merchant.html")]
pub struct MerchantPage {
    pub c: Chrome,
    pub m: MerchantView,
    pub reasons: Vec<ReasonLine>,
    pub licences: Vec<LicenceView>,
    pub inspections: Vec<InspectionRow>,
    pub credits: Vec<CreditRecordRow>,
    pub complaints: Vec<ComplaintLine>,
    pub may_manage: bool,
    pub is_staff: bool,
    pub licence_form: FormState,
    pub inspection_form: FormState,
    pub credit_form: FormState,
    pub photo_form: FormState,
    pub may_add_photo: bool,
    pub licence_kinds: Options,
    pub inspection_kinds: Options,
    pub inspection_results: Options,
    pub credit_kinds: Options,
    pub open_form: &'static str,
    pub today: String,
    pub code: Option<service::codes::ShopCodeView>,
    pub chart: super::codes::Chart,
    pub replies: Vec<service::replies::ReplyView>,
    pub is_owner: bool,
    /// The reply form that failed: (kind, record id, its state).
    pub reply_form: Option<(String, i64, FormState)>,
    /// The shop's objections, newest first.
    pub objections: Vec<service::objections::ObjectionView>,
    /// The objection form that failed: (kind, record id, its state).
    pub objection_form: Option<(String, i64, FormState)>,
    /// The shop's credit-repair applications, newest first.
    pub repairs: Vec<service::repairs::RepairView>,
    /// The repair form that failed: (record id, its state).
    pub repair_form: Option<(i64, FormState)>,
}

impl MerchantPage {
    pub fn w(&self, prefix: &str, word: &str) -> String {
        self.c.t.w(prefix, word)
    }

    /// The merchant's reply to record `id` of `kind`, if it has one.
    pub fn reply_for(&self, kind: &str, id: &i64) -> Option<&service::replies::ReplyView> {
        self.replies
            .iter()
            .find(|r| r.record_kind == kind && r.record_id == *id)
    }

    /// The reply form of a record: the failed one's state, else the reply as it stands.
    pub fn reply_state(&self, kind: &str, id: &i64) -> FormState {
        match &self.reply_form {
            Some((k, i, f)) if k == kind && i == id => f.clone(),
            _ => {
                let mut v = HashMap::new();
                if let Some(r) = self.reply_for(kind, id) {
                    v.insert("reply".to_owned(), r.reply.clone());
                }
                FormState::with(v)
            }
        }
    }

    /// The newest objection to record `id` of `kind`, if any.
    pub fn objection_for(
        &self,
        kind: &str,
        id: &i64,
    ) -> Option<&service::objections::ObjectionView> {
        self.objections
            .iter()
            .find(|o| o.record_kind == kind && o.record_id == *id)
    }

    /// The newest repair application for credit record `id`, if any.
    pub fn repair_for(&self, id: &i64) -> Option<&service::repairs::RepairView> {
        self.repairs.iter().find(|r| r.record_id == *id)
    }

    pub fn repair_state(&self, id: &i64) -> FormState {
        match &self.repair_form {
            Some((i, f)) if i == id => f.clone(),
            _ => FormState::default(),
        }
    }

    pub fn objection_state(&self, kind: &str, id: &i64) -> FormState {
        match &self.objection_form {
            Some((k, i, f)) if k == kind && i == id => f.clone(),
            _ => FormState::default(),
        }
    }

    pub fn objection_open(&self, kind: &str, id: &i64) -> bool {
        matches!(&self.objection_form, Some((k, i, _)) if k == kind && i == id)
    }

    /// Whether the owner may still write or change its reply to this record.
    pub fn reply_editable(&self, kind: &str, id: &i64) -> bool {
        self.reply_for(kind, id)
            .is_none_or(|r| !r.seen && !r.hidden)
    }

    pub fn reply_open(&self, kind: &str, id: &i64) -> bool {
        matches!(&self.reply_form, Some((k, i, _)) if k == kind && i == id)
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// Which record form failed (it is shown open with its errors).
#[derive(Default)]
struct Forms {
    licence: FormState,
    inspection: FormState,
    credit: FormState,
    photo: FormState,
    reply: Option<(String, i64, FormState)>,
    objection: Option<(String, i64, FormState)>,
    repair: Option<(i64, FormState)>,
    open: &'static str,
}

async fn merchant_page(
    state: &AppState,
    c: &Console,
    id: i64,
    forms: Forms,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let t = c.words();
    let (_, mut m) = service::merchants::get(state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let may_manage = c.is_staff();
    let credits = service::records::list_credit_records(state, c.user(), id, may_manage, Some(200))
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let complaints = service::complaints::list(
        state,
        c.user(),
        &service::complaints::QueueFilter {
            merchant_id: Some(id),
            ..Default::default()
        },
        &PageQuery {
            page: Some(1),
            per_page: Some(20),
        },
    )
    .await
    .map(|p| p.items)
    .unwrap_or_default()
    .into_iter()
    .map(|v| ComplaintLine {
        id: v.id,
        tracking_no: v.tracking_no,
        status: t.w("console.complaint.status", &v.status),
        received: local_time(v.received_at),
        overdue: v.overdue,
    })
    .collect();
    let code = match service::codes::show(state, c.user(), id).await {
        Ok(v) => Some(v),
        Err(AppError::NotFound) => None,
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let scans = service::codes::scans(state, c.user(), id, Some(30))
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let chart = super::codes::chart(&scans, service::today(), 30);
    let replies = service::replies::list(state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let objections = service::objections::of_merchant(state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let repairs = service::repairs::of_merchant(state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let reasons = m
        .grade_reasons
        .iter()
        .map(|r| {
            use crate::domain::grade::Source;
            let (until, anchor) = match r.source {
                Some(Source::CreditRecord(rid)) => (
                    credits
                        .iter()
                        .find(|x| x.id == rid)
                        .and_then(|x| x.publicity_until)
                        .and_then(|d| d.succ_opt())
                        .map(|d| d.to_string()),
                    Some("credit"),
                ),
                Some(Source::Inspection(_)) => (
                    r.date
                        .map(|d| d + chrono::Days::new(crate::domain::grade::RECENT_DAYS + 1))
                        .map(|d| d.to_string()),
                    Some("inspection"),
                ),
                None => (None, None),
            };
            ReasonLine {
                grade: r.grade.as_str().to_owned(),
                message: r
                    .message
                    .get(c.lang)
                    .or_else(|| r.message.get("zh"))
                    .cloned()
                    .unwrap_or_default(),
                until,
                anchor,
            }
        })
        .collect();
    let mut chrome = c.chrome(state, if c.is_staff() { "merchants" } else { "home" });
    chrome.flash = flash;
    html(&MerchantPage {
        c: chrome,
        reasons,
        licences: std::mem::take(&mut m.licences),
        inspections: std::mem::take(&mut m.inspections),
        credits,
        complaints,
        may_manage,
        is_staff: c.is_staff(),
        licence_form: forms.licence,
        inspection_form: forms.inspection,
        credit_form: forms.credit,
        photo_form: forms.photo,
        may_add_photo: crate::auth::policy::manage_merchant(
            c.user(),
            id,
            &crate::service::merchants::region_of(&m.region_code)?,
        ) == crate::auth::policy::Decision::Allow
            || c.user().merchant_id == Some(id),
        licence_kinds: words(&t, LicenceKind::ALL, "licence.kind", LicenceKind::as_str),
        inspection_kinds: words(
            &t,
            InspectionKind::ALL,
            "inspection.kind",
            InspectionKind::as_str,
        ),
        inspection_results: words(
            &t,
            InspectionResult::ALL,
            "inspection.result",
            InspectionResult::as_str,
        ),
        credit_kinds: words(&t, CreditKind::ALL, "credit.kind", CreditKind::as_str),
        open_form: forms.open,
        today: service::today().to_string(),
        code,
        chart,
        replies,
        is_owner: c.user().merchant_id == Some(id),
        reply_form: forms.reply,
        objections,
        objection_form: forms.objection,
        repairs,
        repair_form: forms.repair,
        m,
    })
}

fn flash(c: &Console, done: Option<&str>) -> Option<String> {
    done.filter(|d| {
        matches!(
            *d,
            "created"
                | "saved"
                | "licence"
                | "inspection"
                | "credit"
                | "issued"
                | "revoked"
                | "photo"
                | "photo_deleted"
                | "reply"
                | "reply_seen"
                | "reply_hidden"
                | "objection"
                | "repair"
        )
    })
    .map(|d| {
        c.words()
            .s(&format!("console.merchant.done.{d}"))
            .to_owned()
    })
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = signed_in(&state, &req).await?;
    let body = merchant_page(
        &state,
        &c,
        path.into_inner(),
        Forms::default(),
        flash(&c, q.done.as_deref()),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

/// A merchant's own shop page, as its `/console/` shows it.
pub async fn own_shop(state: &AppState, c: &Console, id: i64) -> ConsoleResult {
    let body = merchant_page(state, c, id, Forms::default(), None).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

/// A record form's result: 303 back to the page, or the page again (422) with that form open.
async fn record_result<T>(
    state: &AppState,
    c: &Console,
    id: i64,
    form: &FormData,
    which: &'static str,
    result: Result<T, AppError>,
) -> ConsoleResult {
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/console/merchants/{id}?done={which}#{which}"
        ))),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(form, c.lang, &errors);
            let mut forms = Forms {
                open: which,
                ..Forms::default()
            };
            match which {
                "licence" => forms.licence = fs,
                "inspection" => forms.inspection = fs,
                _ => forms.credit = fs,
            }
            Ok(unprocessable(
                merchant_page(state, c, id, forms, None).await?,
            ))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

pub async fn add_licence(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    let input = service::records::LicenceRequest {
        kind: form.opt("kind"),
        number: form.opt("number"),
        issuer: form.opt("issuer"),
        valid_from: form.opt("valid_from"),
        valid_until: form.opt("valid_until"),
    };
    let r =
        service::records::create_licence(&state, c.user(), c.actor(&state, &req), id, &input).await;
    record_result(&state, &c, id, &form, "licence", r).await
}

pub async fn add_inspection(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    let input = service::records::InspectionRequest {
        kind: form.opt("kind"),
        inspected_on: form.opt("inspected_on"),
        department: form.opt("department"),
        result: form.opt("result"),
        summary: form.opt("summary"),
    };
    let r =
        service::records::create_inspection(&state, c.user(), c.actor(&state, &req), id, &input)
            .await;
    record_result(&state, &c, id, &form, "inspection", r).await
}

pub async fn add_credit_record(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    let input = service::records::CreditRecordRequest {
        kind: form.opt("kind"),
        department: form.opt("department"),
        decision_no: form.opt("decision_no"),
        decided_on: form.opt("decided_on"),
        summary: form.opt("summary"),
        publicity_until: form.opt("publicity_until"),
    };
    let r =
        service::records::create_credit_record(&state, c.user(), c.actor(&state, &req), id, &input)
            .await;
    record_result(&state, &c, id, &form, "credit", r).await
}

/// A photo from the phone's camera or a file: read, CSRF-checked, then stored re-encoded.
pub async fn add_photo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: actix_multipart::Multipart,
) -> ConsoleResult {
    let c = signed_in(&state, &req).await?;
    let id = path.into_inner();
    let upload = crate::routes::api::photos::read_multipart(
        &req,
        payload,
        crate::routes::api::photos::MAX_UPLOAD,
    )
    .await;
    let upload = match upload {
        Ok(u) => u,
        Err(e @ (AppError::PayloadTooLarge { .. } | AppError::Validation(_))) => {
            return photo_failed(&state, &c, id, e).await;
        }
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let form = FormData::from_pairs(upload.fields.clone());
    super::check_csrf(&state, &req, &c, &form)?;
    super::once(&state, &req, &c, &form).await?;
    let input = service::photos::PhotoInput {
        kind: form.opt("kind"),
        file: upload
            .file
            .map(|(_, bytes)| bytes)
            .filter(|b| !b.is_empty()),
    };
    match service::photos::upload(&state, c.user(), c.actor(&state, &req), id, async move {
        Ok(input)
    })
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/console/merchants/{id}?done=photo#photos"
        ))),
        Err(
            e @ (AppError::Validation(_)
            | AppError::Conflict { .. }
            | AppError::UnsupportedMediaType { .. }),
        ) => photo_failed(&state, &c, id, e).await,
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

async fn photo_failed(state: &AppState, c: &Console, id: i64, e: AppError) -> ConsoleResult {
    let errors = match e {
        AppError::Validation(errors) => errors,
        AppError::Conflict { code, detail } => {
            vec![crate::domain::FieldError::new("file", code, detail)]
        }
        AppError::PayloadTooLarge { detail } => {
            vec![crate::domain::FieldError::new("file", "too_large", detail)]
        }
        AppError::UnsupportedMediaType { detail } => {
            vec![crate::domain::FieldError::new(
                "file",
                "invalid_image",
                detail,
            )]
        }
        other => return Err(ConsoleError::from(other).in_lang(c.lang)),
    };
    let forms = Forms {
        photo: FormState {
            values: HashMap::new(),
            errors: super::Errors::from_fields(c.lang, &errors),
        },
        open: "photo",
        ..Forms::default()
    };
    Ok(unprocessable(
        merchant_page(state, c, id, forms, None).await?,
    ))
}

pub async fn delete_photo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(i64, String)>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, _form) = posted(&state, &req, payload).await?;
    let (id, photo) = path.into_inner();
    service::photos::delete(&state, c.user(), c.actor(&state, &req), id, &photo)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(see_other(&format!(
        "/console/merchants/{id}?done=photo_deleted#photos"
    )))
}

/// The merchant's reply to one of its records (textarea `reply`).
pub async fn put_reply(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(i64, String, i64)>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let (id, kind, record) = path.into_inner();
    let r = service::replies::put(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        &kind,
        record,
        form.get("reply"),
    )
    .await;
    reply_result(&state, &c, id, &kind, record, &form, "reply", r).await
}

pub async fn reply_seen(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(i64, String, i64)>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let (id, kind, record) = path.into_inner();
    let r = service::replies::regulate(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        &kind,
        record,
        None,
    )
    .await;
    reply_result(&state, &c, id, &kind, record, &form, "reply_seen", r).await
}

/// Hides a reply from the public (textarea `reason`).
pub async fn hide_reply(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(i64, String, i64)>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let (id, kind, record) = path.into_inner();
    let r = service::replies::regulate(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        &kind,
        record,
        Some(form.get("reason")),
    )
    .await;
    reply_result(&state, &c, id, &kind, record, &form, "reply_hidden", r).await
}

#[allow(clippy::too_many_arguments)]
async fn reply_result(
    state: &AppState,
    c: &Console,
    id: i64,
    kind: &str,
    record: i64,
    form: &FormData,
    done: &str,
    result: Result<service::replies::ReplyView, AppError>,
) -> ConsoleResult {
    if kind == "complaint" {
        return super::complaints::reply_result(state, c, record, form, done, result).await;
    }
    let anchor = if kind == "inspection" {
        "inspection"
    } else {
        "credit"
    };
    let errors = match result {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/console/merchants/{id}?done={done}#{anchor}"
            )))
        }
        Err(AppError::Validation(errors)) => errors,
        Err(AppError::Conflict { code, detail }) => {
            vec![crate::domain::FieldError::new("reply", code, detail)]
        }
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let forms = Forms {
        reply: Some((
            kind.to_owned(),
            record,
            FormState::failed(form, c.lang, &errors),
        )),
        ..Forms::default()
    };
    Ok(unprocessable(
        merchant_page(state, c, id, forms, None).await?,
    ))
}

/// The owner objects to one of its records (textarea `reason`, files `evidence`).
pub async fn file_objection(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form, files) = super::posted_with_files(&state, &req, payload).await?;
    let id = path.into_inner();
    let kind = form.get("record_kind").trim().to_owned();
    let record = form.get("record_id").trim().parse::<i64>().unwrap_or(0);
    let r = match files {
        Ok(files) => {
            service::objections::file(
                &state,
                c.user(),
                c.actor(&state, &req),
                id,
                service::objections::ObjectionInput {
                    record_kind: &kind,
                    record_id: record,
                    reason: form.get("reason"),
                    evidence: files,
                },
            )
            .await
        }
        Err(e) => Err(AppError::validation(e)),
    };
    let anchor = if kind == "inspection" {
        "inspection"
    } else {
        "credit"
    };
    let errors = match r {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/console/merchants/{id}?done=objection#{anchor}"
            )))
        }
        Err(AppError::Validation(errors)) => errors,
        Err(AppError::Conflict { code, detail }) => {
            vec![crate::domain::FieldError::new("reason", code, detail)]
        }
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let forms = Forms {
        objection: Some((kind, record, FormState::failed(&form, c.lang, &errors))),
        ..Forms::default()
    };
    Ok(unprocessable(
        merchant_page(&state, &c, id, forms, None).await?,
    ))
}

/// The owner applies for credit repair of a credit record (textarea `reason`, files
/// `evidence`).
pub async fn apply_repair(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form, files) = super::posted_with_files(&state, &req, payload).await?;
    let id = path.into_inner();
    let record = form.get("record_id").trim().parse::<i64>().unwrap_or(0);
    let r = match files {
        Ok(files) => {
            service::repairs::apply(
                &state,
                c.user(),
                c.actor(&state, &req),
                id,
                record,
                form.get("reason"),
                files,
            )
            .await
        }
        Err(e) => Err(AppError::validation(e)),
    };
    let errors = match r {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/console/merchants/{id}?done=repair#credit"
            )))
        }
        Err(AppError::Validation(errors)) => errors
            .into_iter()
            .map(|e| crate::domain::FieldError {
                field: if e.field == "evidence" {
                    e.field
                } else {
                    "reason".into()
                },
                ..e
            })
            .collect(),
        Err(AppError::Conflict { code, detail }) => {
            vec![crate::domain::FieldError::new("reason", code, detail)]
        }
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let forms = Forms {
        repair: Some((record, FormState::failed(&form, c.lang, &errors))),
        ..Forms::default()
    };
    Ok(unprocessable(
        merchant_page(&state, &c, id, forms, None).await?,
    ))
}
