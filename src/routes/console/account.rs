//! `/console/account`: change one's own password; the devices signed in, and signing out
//! everywhere else.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    cookie, html, posted, signed_in, unprocessable, Chrome, ConsoleError, ConsoleResult, FormState,
};
use crate::auth::session::COOKIE;
use crate::domain::time::china_offset;
use crate::error::AppError;
use crate::service;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(show))
        .route("/account/password", web::post().to(change_password))
        .route("/account/sessions/end-others", web::post().to(end_others));
}

pub struct Device {
    pub current: bool,
    pub user_agent: String,
    pub client_ip: String,
    pub created: String,
    pub last_seen: String,
}

#[derive(Template)]
#[template(path = "console/account.html")]
pub struct AccountPage {
    pub c: Chrome,
    pub form: FormState,
    pub devices: Vec<Device>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

async fn render(
    state: &AppState,
    c: &super::Console,
    form: FormState,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let rows = service::sessions::list(state, c.user().id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let devices = rows
        .into_iter()
        .map(|r| Device {
            current: r.id_hash == c.session.row.id_hash,
            user_agent: r.user_agent,
            client_ip: r.client_ip,
            created: local(r.created_at),
            last_seen: local(r.last_seen_at),
        })
        .collect();
    let mut chrome = c.chrome(state, "account");
    chrome.flash = flash;
    html(&AccountPage {
        c: chrome,
        form,
        devices,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = signed_in(&state, &req).await?;
    let flash = q
        .done
        .as_deref()
        .filter(|d| matches!(*d, "password" | "others"))
        .map(|d| c.words().s(&format!("console.account.done.{d}")).to_owned());
    let body = render(&state, &c, FormState::default(), flash).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body))
}

pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let input = service::account::PasswordChange {
        current_password: form.get("current_password").to_owned(),
        new_password: form.get("new_password").to_owned(),
    };
    let mut errors = Vec::new();
    if form.get("new_password") != form.get("new_password_again") {
        errors.push(crate::domain::FieldError::new(
            "new_password_again",
            "mismatch",
            "the two new passwords differ",
        ));
    }
    let result = if errors.is_empty() {
        service::account::change_password(&state, c.user(), c.actor(&state, &req), input).await
    } else {
        Err(AppError::Validation(errors))
    };
    match result {
        Ok(user) => {
            // every session ended with the old password; this device gets a new one
            let ua = req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let started = service::sessions::start(
                &state,
                &user,
                c.user().role,
                c.session.row.remember,
                &c.session.row.client_ip,
                ua,
            )
            .await
            .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
            let mut ck = cookie(&state, COOKIE, started.token);
            if started.lifetime.persistent {
                ck.set_max_age(CookieDuration::seconds(
                    i64::try_from(started.lifetime.absolute.as_secs()).unwrap_or(i64::MAX),
                ));
            }
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/console/account?done=password"))
                .cookie(ck)
                .finish())
        }
        Err(AppError::Validation(errors)) => {
            let mut fs = FormState::failed(&form, c.lang, &errors);
            // passwords are never sent back
            fs.values.clear();
            Ok(unprocessable(render(&state, &c, fs, None).await?))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

pub async fn end_others(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, _form) = posted(&state, &req, payload).await?;
    service::sessions::end_others(&state, c.user().id, &c.session.token)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(super::see_other("/console/account?done=others"))
}
