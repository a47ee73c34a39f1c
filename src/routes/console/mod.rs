//! The console: server-rendered pages for regulators, admins and merchants at `/console/`
//! (its paths and form field names are part of the service's contract). Handlers here are adapters like the API's: they read the
//! session and the form, call the same `service` functions as the API, and answer with a page
//! or a 303 (post/redirect/get). Every action works without JavaScript.
//!
//! Sessions are server-side (`service::sessions`); every state-changing form carries
//! `csrf_token` (bound to the session) and is refused with 403, writing nothing, without it or
//! with a foreign `Origin`.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::auth::session::COOKIE;
use crate::auth::CurrentUser;
use crate::db::audit::Actor;
use crate::domain::user::Role;
use crate::domain::FieldError;
use crate::error::AppError;
use crate::i18n;
use crate::pages::shop::Words;
use crate::service::sessions::Resolved;
use crate::state::AppState;

pub mod account;
pub mod audit;
pub mod auth;
pub mod codes;
pub mod complaints;
pub mod home;
pub mod imports;
pub mod merchants;
pub mod objections;
pub mod settings;
pub mod stats;
pub mod users;
pub mod warnings;

/// The language cookie (the switch in the page header sets it).
pub const LANG_COOKIE: &str = "lang";

// ---------------------------------------------------------------------------------------------
// Errors: what a console request ends in when it does not end in a page of its own.

#[derive(Debug)]
pub enum ConsoleError {
    /// No session (or an ended one): to the login page, coming back to `next` afterwards.
    Login {
        next: String,
    },
    /// A refused form (CSRF or foreign origin): 403, nothing written.
    Refused(&'static str),
    /// A one-time form posted again (a double tap, a retry): back to the page, acting once.
    Replayed(String),
    /// Not the caller's to see (or not there): 404, as the API.
    NotFound(&'static str),
    Forbidden(&'static str),
    App(AppError, &'static str),
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => ConsoleError::NotFound("zh"),
            AppError::Forbidden(_) => ConsoleError::Forbidden("zh"),
            AppError::Unauthorized(_) => ConsoleError::Login {
                next: "/console/".into(),
            },
            e => ConsoleError::App(e, "zh"),
        }
    }
}

impl From<diesel::result::Error> for ConsoleError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::from(e).into()
    }
}

impl ConsoleError {
    /// The same error, shown in the caller's language.
    pub fn in_lang(self, lang: &'static str) -> Self {
        match self {
            ConsoleError::NotFound(_) => ConsoleError::NotFound(lang),
            ConsoleError::Forbidden(_) => ConsoleError::Forbidden(lang),
            ConsoleError::Refused(_) => ConsoleError::Refused(lang),
            ConsoleError::App(e, _) => ConsoleError::App(e, lang),
            other => other,
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    t: Words,
    status: u16,
    title_key: &'static str,
    body_key: &'static str,
    css: &'static str,
}

fn error_page(lang: &'static str, status: StatusCode, which: &'static str) -> HttpResponse {
    let page = ErrorPage {
        t: Words { lang },
        status: status.as_u16(),
        title_key: match which {
            "not_found" => "console.error.not_found.title",
            "forbidden" => "console.error.forbidden.title",
            "refused" => "console.error.refused.title",
            "limited" => "console.error.limited.title",
            _ => "console.error.internal.title",
        },
        body_key: match which {
            "not_found" => "console.error.not_found.body",
            "forbidden" => "console.error.forbidden.body",
            "refused" => "console.error.refused.body",
            "limited" => "console.error.limited.body",
            _ => "console.error.internal.body",
        },
        css: stylesheet_path(),
    };
    let body = page
        .render()
        .unwrap_or_else(|_| "<!doctype html><title>error</title>".to_owned());
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body)
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::Login { .. } | ConsoleError::Replayed(_) => StatusCode::SEE_OTHER,
            ConsoleError::Refused(_) | ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::App(e, _) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::Login { next } => see_other(&format!(
                "/console/login?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            )),
            ConsoleError::Replayed(page) => see_other(page),
            ConsoleError::Refused(lang) => error_page(lang, StatusCode::FORBIDDEN, "refused"),
            ConsoleError::Forbidden(lang) => error_page(lang, StatusCode::FORBIDDEN, "forbidden"),
            ConsoleError::NotFound(lang) => error_page(lang, StatusCode::NOT_FOUND, "not_found"),
            ConsoleError::App(AppError::RateLimited { retry_after_secs }, lang) => {
                let mut r = error_page(lang, StatusCode::TOO_MANY_REQUESTS, "limited");
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            ConsoleError::App(e, lang) => {
                if e.status_code().is_server_error() {
                    tracing::error!(error = ?e, "console request failed");
                }
                error_page(lang, e.status_code(), "internal")
            }
        }
    }
}

pub type ConsoleResult<T = HttpResponse> = Result<T, ConsoleError>;

/// The answer to a successful POST: go and look at the result.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

// ---------------------------------------------------------------------------------------------
// The caller

/// The language of a console page: the switch's cookie, else the browser's preference.
pub fn language(req: &HttpRequest) -> &'static str {
    let cookie = req.cookie(LANG_COOKIE).map(|c| c.value().to_owned());
    crate::routes::public::language(req, cookie.as_deref())
}

/// A signed-in console caller.
pub struct Console {
    pub session: Resolved,
    pub lang: &'static str,
    pub path: String,
}

impl Console {
    pub fn user(&self) -> &CurrentUser {
        &self.session.user
    }

    pub fn csrf(&self, state: &AppState) -> String {
        state.csrf.token(&self.session.token)
    }

    pub fn actor(&self, state: &AppState, req: &HttpRequest) -> Actor {
        crate::routes::actor(self.user(), req, &state.settings.trusted_proxies)
    }

    pub fn is_staff(&self) -> bool {
        self.user().role != Role::Merchant
    }

    pub fn words(&self) -> Words {
        Words { lang: self.lang }
    }

    /// The page frame for this caller.
    pub fn chrome(&self, state: &AppState, section: &'static str) -> Chrome {
        Chrome {
            t: self.words(),
            username: self.user().username.clone(),
            role: self.user().role,
            csrf: self.csrf(state),
            section,
            path: self.path.clone(),
            css: stylesheet_path(),
            bureau: if self.lang == "zh" {
                state.settings.bureau_name.clone().unwrap_or_default()
            } else {
                state.settings.bureau_name_en.clone().unwrap_or_default()
            },
            flash: None,
        }
    }
}

/// The regions of the caller's jurisdiction, as `(code, "code name")` options of a select.
pub async fn region_options(state: &AppState, c: &Console) -> ConsoleResult<Vec<(String, String)>> {
    let mut conn = state.pool.get().await.map_err(AppError::from)?;
    let regions = crate::db::regions::list(&mut conn).await?;
    Ok(regions
        .into_iter()
        .filter(|r| {
            crate::domain::region::RegionCode::parse(&r.code)
                .map(|code| crate::auth::policy::in_jurisdiction(c.user(), &code))
                .unwrap_or(false)
        })
        .map(|r| (r.code.clone(), format!("{} {}", r.code, r.name)))
        .collect())
}

/// A list's page number from `?page=` (1 when absent or not a number).
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .max(1)
}

/// A list's link to page `page`, keeping its filters (blank ones left out) and `extra` pairs.
pub fn page_link(
    base: &str,
    filters: &HashMap<String, String>,
    extra: &[(&str, &str)],
    page: i64,
) -> String {
    let mut keys: Vec<&String> = filters.keys().collect();
    keys.sort();
    let mut s = form_urlencoded::Serializer::new(String::new());
    for k in keys {
        if !filters[k].is_empty() {
            s.append_pair(k, &filters[k]);
        }
    }
    for (k, v) in extra {
        s.append_pair(k, v);
    }
    s.append_pair("page", &page.to_string());
    format!("{base}?{}", s.finish())
}

/// The signed-in caller, or a redirect to the login page that comes back here.
pub async fn signed_in(state: &AppState, req: &HttpRequest) -> ConsoleResult<Console> {
    let lang = language(req);
    let path = match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        None => "/console/".to_owned(),
    };
    let next = if req.method() == actix_web::http::Method::GET {
        path.clone()
    } else {
        req.headers()
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(local_path)
            .unwrap_or_else(|| "/console/".to_owned())
    };
    let Some(cookie) = req.cookie(COOKIE) else {
        return Err(ConsoleError::Login { next });
    };
    match crate::service::sessions::resolve(state, cookie.value())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(lang))?
    {
        Some(session) => Ok(Console {
            session,
            lang,
            path,
        }),
        None => Err(ConsoleError::Login { next }),
    }
}

/// Staff only (admins and regulators); a merchant gets 404, as for anything not theirs.
pub async fn staff(state: &AppState, req: &HttpRequest) -> ConsoleResult<Console> {
    let c = signed_in(state, req).await?;
    if c.is_staff() {
        Ok(c)
    } else {
        Err(ConsoleError::NotFound(c.lang))
    }
}

/// The path part of a same-site URL or path (`next=` and `Referer`), or `None` for anything
/// that would lead off this site (`//evil`, `https://evil/`, `/\evil`).
pub fn local_path(raw: &str) -> Option<String> {
    let path = if let Some(rest) = raw
        .strip_prefix("http://")
        .or_else(|| raw.strip_prefix("https://"))
    {
        // a full URL (a Referer): keep only its path; the host was checked by same_origin
        let slash = rest.find('/')?;
        &rest[slash..]
    } else {
        raw
    };
    let safe = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control() || c == '\\');
    safe.then(|| path.to_owned())
}

/// `next=` after login: a path on this site under `/console/`, else the work page.
pub fn next_path(raw: Option<&str>) -> String {
    raw.and_then(local_path)
        .filter(|p| p.starts_with("/console/") && !p.starts_with("/console/login"))
        .unwrap_or_else(|| "/console/".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Forms

/// A submitted form: every `name=value` pair in order (repeated names kept).
#[derive(Debug, Default, Clone)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

/// Largest urlencoded console form.
const FORM_LIMIT: usize = 256 * 1024;

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The value of `name`, trimmed, or `None` when blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_owned())
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1" | "yes")
    }

    /// What a form shows again after an error.
    pub fn values(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        for (k, v) in &self.pairs {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m
    }
}

/// Reads a urlencoded body (bounded).
pub async fn read_form(mut payload: web::Payload) -> ConsoleResult<FormData> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest {
            code: "invalid_body",
            detail: e.to_string(),
        })?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(AppError::PayloadTooLarge {
                detail: "the form is too large".into(),
            }
            .into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FormData::parse(&body))
}

/// The CSRF check for a state-changing console form: the session's token and a same-site
/// `Origin`/`Referer`. Refused → 403 before anything is read or written.
pub fn check_csrf(
    state: &AppState,
    req: &HttpRequest,
    c: &Console,
    form: &FormData,
) -> ConsoleResult<()> {
    if !crate::routes::complaint_pages::same_origin(state, req) {
        tracing::warn!(user_id = c.user().id, path = %req.path(), "console post from a foreign origin");
        return Err(ConsoleError::Refused(c.lang));
    }
    if !state.csrf.verify(&c.session.token, form.get("csrf_token")) {
        tracing::warn!(user_id = c.user().id, path = %req.path(), "console post without a valid csrf_token");
        return Err(ConsoleError::Refused(c.lang));
    }
    Ok(())
}

/// A form rendered with a one-time `form_id` acts once: the same id posted again in this
/// session (a double tap, a retry after a dropped connection) is sent back to the page it came
/// from, which shows the result of the first post.
pub async fn once(
    state: &AppState,
    req: &HttpRequest,
    c: &Console,
    form: &FormData,
) -> ConsoleResult<()> {
    let id = form.get("form_id");
    if id.is_empty() || id.len() > 64 {
        return Ok(());
    }
    let mut conn = state.pool.get().await.map_err(AppError::from)?;
    let first = crate::db::sessions::use_form_id(
        &mut conn,
        &crate::auth::session::hash(&c.session.token),
        id,
    )
    .await?;
    if first {
        return Ok(());
    }
    let back = req
        .headers()
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(local_path)
        .filter(|p| p.starts_with("/console/"))
        .unwrap_or_else(|| "/console/".to_owned());
    Err(ConsoleError::Replayed(back))
}

/// The signed-in caller of a form post, its form read and its CSRF token checked.
pub async fn posted(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> ConsoleResult<(Console, FormData)> {
    let c = signed_in(state, req).await?;
    let form = read_form(payload).await.map_err(|e| e.in_lang(c.lang))?;
    check_csrf(state, req, &c, &form)?;
    once(state, req, &c, &form).await?;
    Ok((c, form))
}

/// A form post that may carry evidence files (`multipart/form-data`, files in the part
/// `evidence`; an url-encoded post is the same form without files), its CSRF token checked and
/// its one-time id spent. Files that cannot be read (too many, too large) come back as the
/// field error beside `evidence`, with the text typed before them kept.
pub async fn posted_with_files(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> ConsoleResult<(
    Console,
    FormData,
    Result<Vec<crate::service::evidence::EvidenceUpload>, FieldError>,
)> {
    use crate::service::evidence as ev;
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let (c, form) = posted(state, req, payload).await?;
        return Ok((c, form, Ok(Vec::new())));
    }
    let c = signed_in(state, req).await?;
    let mut read = crate::routes::api::photos::Files {
        files: Vec::new(),
        fields: Vec::new(),
    };
    let result = crate::routes::api::photos::read_multipart_into(
        req,
        actix_multipart::Multipart::new(req.headers(), payload),
        "evidence",
        (ev::MAX_FILES, ev::MAX_FILE_BYTES, ev::MAX_REQUEST_BYTES),
        &mut read,
    )
    .await;
    let form = FormData::from_pairs(read.fields);
    check_csrf(state, req, &c, &form)?;
    let files = match result {
        Ok(()) => Ok(read
            .files
            .into_iter()
            .map(|(file_name, bytes)| ev::EvidenceUpload { file_name, bytes })
            .collect()),
        Err(AppError::Validation(mut e)) if !e.is_empty() => Err(e.remove(0)),
        Err(AppError::PayloadTooLarge { detail }) => {
            Err(FieldError::new("evidence", "too_large", detail))
        }
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    if files.is_ok() {
        once(state, req, &c, &form).await?;
    }
    Ok((c, form, files))
}

/// Field errors for a form: the message for each field, in the page's language.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    pub list: Vec<(String, String)>,
    /// The same errors for the summary at the top of the form: "field label: message".
    pub summary: Vec<(String, String)>,
}

impl Errors {
    pub fn from_fields(lang: &str, errors: &[FieldError]) -> Self {
        let list: Vec<(String, String)> = errors
            .iter()
            .map(|e| (form_field(&e.field), error_message(lang, e)))
            .collect();
        let summary = list
            .iter()
            .map(|(f, m)| (f.clone(), labeled(lang, f, m)))
            .collect();
        Self { list, summary }
    }

    pub fn one(field: &str, message: String) -> Self {
        Self {
            summary: vec![(field.to_owned(), message.clone())],
            list: vec![(field.to_owned(), message)],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The message beside `field`, if it has one.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }
}

/// "label: message" for a form's error summary (the field's own name when it has no label).
fn labeled(lang: &str, field: &str, message: &str) -> String {
    let label = i18n::lookup(lang, &format!("console.field.{field}"))
        .or_else(|| i18n::lookup(lang, &format!("console.label.{field}")))
        .map(str::to_owned)
        .unwrap_or_else(|| field.to_owned());
    let sep = if lang == "zh" { "：" } else { ": " };
    format!("{label}{sep}{message}")
}

/// `pledges[2]` → `pledges`; `a.b` → `a`: the form control that shows the error.
fn form_field(field: &str) -> String {
    field.split(['[', '.']).next().unwrap_or(field).to_owned()
}

/// A rule's message in the page's language: the Chinese wording of the rule's code where the
/// catalogue has one, else the rule's own (English) statement, which names the rule exactly.
pub fn error_message(lang: &str, e: &FieldError) -> String {
    if lang == "en" {
        return e.message.clone();
    }
    let key = format!("form.error.{}", e.code);
    match i18n::lookup(lang, &key) {
        Some(text) => text.to_owned(),
        None => e.message.clone(),
    }
}

/// The form's values and errors after a failed post, or empty for a fresh form.
#[derive(Debug, Default, Clone)]
pub struct FormState {
    pub values: HashMap<String, String>,
    pub errors: Errors,
}

impl FormState {
    pub fn failed(form: &FormData, lang: &str, errors: &[FieldError]) -> Self {
        Self {
            values: form.values(),
            errors: Errors::from_fields(lang, errors),
        }
    }

    pub fn with(values: HashMap<String, String>) -> Self {
        Self {
            values,
            errors: Errors::default(),
        }
    }

    /// The value typed into `name` (or prefilled).
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn err(&self, name: &str) -> &str {
        self.errors.get(name).unwrap_or("")
    }

    pub fn bad(&self, name: &str) -> bool {
        self.errors.has(name)
    }
}

/// A page with a failed form: 422, the page itself carrying the input and the errors.
pub fn unprocessable(html: String) -> HttpResponse {
    HttpResponse::UnprocessableEntity()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(html)
}

/// Renders a page (200).
pub fn page<T: Template>(p: &T) -> ConsoleResult {
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(html(p)?))
}

pub fn html<T: Template>(p: &T) -> ConsoleResult<String> {
    p.render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("console template: {e}")).into())
}

// ---------------------------------------------------------------------------------------------
// The frame every page shares

#[derive(Debug, Clone)]
pub struct Chrome {
    pub t: Words,
    pub username: String,
    pub role: Role,
    pub csrf: String,
    /// The navigation entry to mark as current.
    pub section: &'static str,
    pub path: String,
    pub css: &'static str,
    pub bureau: String,
    /// A one-line confirmation after a redirect (`?done=…`).
    pub flash: Option<String>,
}

pub struct NavItem {
    pub key: &'static str,
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

impl Chrome {
    pub fn nav(&self) -> Vec<NavItem> {
        let items: &[(&str, &str)] = match self.role {
            Role::Merchant => &[
                ("home", "/console/"),
                ("complaints", "/console/complaints"),
                ("account", "/console/account"),
            ],
            Role::Regulator => &[
                ("home", "/console/"),
                ("merchants", "/console/merchants"),
                ("complaints", "/console/complaints"),
                ("objections", "/console/objections"),
                ("imports", "/console/imports"),
                ("codes", "/console/codes"),
                ("warnings", "/console/warnings"),
                ("stats", "/console/stats"),
                ("audit", "/console/audit"),
                ("users", "/console/users"),
                ("account", "/console/account"),
            ],
            Role::Admin => &[
                ("home", "/console/"),
                ("merchants", "/console/merchants"),
                ("complaints", "/console/complaints"),
                ("objections", "/console/objections"),
                ("imports", "/console/imports"),
                ("codes", "/console/codes"),
                ("warnings", "/console/warnings"),
                ("stats", "/console/stats"),
                ("audit", "/console/audit"),
                ("users", "/console/users"),
                ("settings", "/console/settings"),
                ("account", "/console/account"),
            ],
        };
        items
            .iter()
            .map(|(key, href)| NavItem {
                key,
                href,
                label: self.t.s(&format!("console.nav.{key}")).to_owned(),
                current: *key == self.section,
            })
            .collect()
    }

    /// A fresh one-time id for a form (see `once`).
    pub fn form_id(&self) -> String {
        crate::auth::session::new_token()[..22].to_owned()
    }

    /// The language switch: the other language, coming back to this page.
    pub fn switch_href(&self) -> String {
        format!(
            "/console/lang?to={}&next={}",
            self.t.other(),
            form_urlencoded::byte_serialize(self.path.as_bytes()).collect::<String>()
        )
    }

    pub fn role_label(&self) -> String {
        self.t.w("console.role", self.role.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// The stylesheet: one file, named by its content hash, cached for a year.

const STYLESHEET: &str = include_str!("../../../assets/console.css");

static STYLESHEET_PATH: LazyLock<String> = LazyLock::new(|| {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(STYLESHEET.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("/console/static/console.{hex}.css")
});

pub fn stylesheet_path() -> &'static str {
    STYLESHEET_PATH.as_str()
}

/// The stylesheet gzipped once (a phone on shop Wi-Fi fetches it once a release).
static STYLESHEET_GZ: LazyLock<Vec<u8>> =
    LazyLock::new(|| crate::cache::pages::gzip_fast(STYLESHEET.as_bytes()).to_vec());

async fn stylesheet(req: HttpRequest) -> HttpResponse {
    if req.path() != stylesheet_path() {
        return HttpResponse::NotFound().finish();
    }
    let gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut r = HttpResponse::Ok();
    r.insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::VARY, "Accept-Encoding"));
    if gzip {
        r.insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(STYLESHEET_GZ.as_slice())
    } else {
        r.body(STYLESHEET)
    }
}

/// Console responses are never stored (they carry personal data and CSRF tokens), except the
/// content-addressed stylesheet.
async fn no_store(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    error_page(language(&req), StatusCode::NOT_FOUND, "not_found")
}

/// A cookie for this site, `Secure` when the public base URL is https.
pub fn cookie<'c>(state: &AppState, name: &'c str, value: String) -> Cookie<'c> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(state.settings.public_base_url.starts_with("https://"));
    c
}

/// The console's routes under `/console`.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/console")
        .wrap(actix_web::middleware::from_fn(no_store))
        .wrap(actix_web::middleware::from_fn(
            crate::pages::security::html_pages,
        ))
        .wrap(actix_web::middleware::from_fn(
            crate::telemetry::log_requests,
        ))
        .route("/static/{file}", web::get().to(stylesheet))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/lang", web::get().to(auth::switch_language))
        .route("/", web::get().to(home::home))
        .route("", web::get().to(home::bare))
        .configure(codes::routes)
        .configure(merchants::routes)
        .configure(objections::routes)
        .configure(complaints::routes)
        .configure(imports::routes)
        .configure(settings::routes)
        .configure(stats::routes)
        .configure(users::routes)
        .configure(warnings::routes)
        .configure(account::routes)
        .configure(audit::routes)
        .default_service(web::to(not_found))
}
