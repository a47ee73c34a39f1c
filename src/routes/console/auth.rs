//! Logging in and out of the console, and the language switch.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    cookie, language, next_path, page, read_form, see_other, stylesheet_path, unprocessable,
    ConsoleError, ConsoleResult, LANG_COOKIE,
};
use crate::auth::session::COOKIE;
use crate::error::AppError;
use crate::pages::shop::Words;
use crate::routes::{client_ip, rate_limit_key};
use crate::service;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/login.html")]
pub struct LoginPage {
    pub t: Words,
    pub css: &'static str,
    pub username: String,
    pub remember: bool,
    pub next: String,
    /// A message key (wrong credentials, limited, signed out).
    pub message: Option<&'static str>,
    pub bad: bool,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

/// The login form (or, for someone already signed in, straight on to `next`).
pub async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> ConsoleResult {
    let next = next_path(query.next.as_deref());
    if let Some(c) = req.cookie(COOKIE) {
        if service::sessions::resolve(&state, c.value())
            .await
            .map_err(ConsoleError::from)?
            .is_some()
        {
            return Ok(see_other(&next));
        }
    }
    page(&LoginPage {
        t: Words {
            lang: language(&req),
        },
        css: stylesheet_path(),
        username: String::new(),
        remember: false,
        next,
        message: match query.done.as_deref() {
            Some("logout") => Some("console.login.signed_out"),
            _ => None,
        },
        bad: false,
    })
}

/// Logs in: a session cookie and 303 to `next`; wrong credentials show the form again (422)
/// with the username kept; the API's failure limit applies (429).
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let lang = language(&req);
    if !crate::routes::complaint_pages::same_origin(&state, &req) {
        return Err(ConsoleError::Refused(lang));
    }
    let form = read_form(payload).await.map_err(|e| e.in_lang(lang))?;
    let next = next_path(Some(form.get("next")));
    let remember = form.checked("remember");
    let username = form.get("username").trim().to_owned();
    let ip = client_ip(&req, &state.settings.trusted_proxies);
    let ip_key = ip.map(rate_limit_key).unwrap_or_default();
    let failed = |message: &'static str, status: u16| -> ConsoleResult {
        let html = super::html(&LoginPage {
            t: Words { lang },
            css: stylesheet_path(),
            username: username.chars().take(64).collect(),
            remember,
            next: next.clone(),
            message: Some(message),
            bad: true,
        })?;
        let mut r = unprocessable(html);
        if status == 429 {
            *r.status_mut() = actix_web::http::StatusCode::TOO_MANY_REQUESTS;
        }
        Ok(r)
    };
    if username.is_empty() || form.get("password").is_empty() {
        return failed("console.login.missing", 422);
    }
    let (user, role) = match service::auth::authenticate(
        &state,
        &username,
        form.get("password").to_owned(),
        &ip_key,
    )
    .await
    {
        Ok(found) => found,
        Err(AppError::Unauthorized(_)) => return failed("console.login.wrong", 422),
        Err(AppError::RateLimited { retry_after_secs }) => {
            let mut r = failed("console.login.limited", 429)?;
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(r);
        }
        Err(e) => return Err(ConsoleError::from(e).in_lang(lang)),
    };
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let started = service::sessions::start(
        &state,
        &user,
        role,
        remember,
        &ip.map(|i| i.to_string()).unwrap_or_default(),
        ua,
    )
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(lang))?;
    let mut c = cookie(&state, COOKIE, started.token);
    if started.lifetime.persistent {
        c.set_max_age(CookieDuration::seconds(
            i64::try_from(started.lifetime.absolute.as_secs()).unwrap_or(i64::MAX),
        ));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .cookie(c)
        .finish())
}

/// Ends the session at once (server-side) and clears the cookie.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, _form) = super::posted(&state, &req, payload).await?;
    service::sessions::end(&state, &c.session.token)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let mut gone = cookie(&state, COOKIE, String::new());
    gone.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/login?done=logout"))
        .cookie(gone)
        .finish())
}

#[derive(Deserialize)]
pub struct LangQuery {
    to: Option<String>,
    next: Option<String>,
}

/// The language switch: remembers the choice in a cookie and goes back to the page.
pub async fn switch_language(
    state: web::Data<AppState>,
    query: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = crate::i18n::languages()
        .find(|l| Some(*l) == query.to.as_deref())
        .unwrap_or("zh");
    let next = query
        .next
        .as_deref()
        .and_then(super::local_path)
        .filter(|p| p.starts_with("/console"))
        .unwrap_or_else(|| "/console/".to_owned());
    let mut c = cookie(&state, LANG_COOKIE, lang.to_owned());
    c.set_max_age(CookieDuration::days(365));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .cookie(c)
        .finish()
}
