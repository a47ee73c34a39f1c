//! `/console/objections`: merchants' objections to records in the jurisdiction, deadline
//! first, each with its decision form (uphold, or remove from publicity, with a note).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    html, posted, see_other, staff, unprocessable, Chrome, Console, ConsoleError, ConsoleResult,
    FormState,
};
use crate::error::AppError;
use crate::service;
use crate::service::objections::QueuedObjection;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/objections", web::get().to(show))
        .route("/objections/{id}/decision", web::post().to(decide))
        .route(
            "/credit-repairs/{id}/decision",
            web::post().to(decide_repair),
        );
}

#[derive(Template)]
#[template(path = "console/objections.html")]
pub struct ObjectionsPage {
    pub c: Chrome,
    pub rows: Vec<QueuedObjection>,
    pub repairs: Vec<service::repairs::QueuedRepair>,
    /// The repair decision form that failed: (application id, its state).
    pub repair_failed: Option<(i64, FormState)>,
    /// The decision form that failed: (objection id, its state).
    pub failed: Option<(i64, FormState)>,
    pub today: chrono::NaiveDate,
}

impl ObjectionsPage {
    pub fn repair_form_of(&self, id: &i64) -> FormState {
        match &self.repair_failed {
            Some((i, f)) if i == id => f.clone(),
            _ => FormState::default(),
        }
    }

    pub fn form_of(&self, id: &i64) -> FormState {
        match &self.failed {
            Some((i, f)) if i == id => f.clone(),
            _ => FormState::default(),
        }
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn render(
    state: &AppState,
    c: &Console,
    failed: Option<(i64, FormState)>,
    repair_failed: Option<(i64, FormState)>,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let rows = service::objections::queue(state, c.user())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let repairs = service::repairs::queue(state, c.user())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let mut chrome = c.chrome(state, "objections");
    chrome.flash = flash;
    html(&ObjectionsPage {
        c: chrome,
        rows,
        repairs,
        repair_failed,
        failed,
        today: service::today(),
    })
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let flash = q
        .done
        .as_deref()
        .filter(|d| matches!(*d, "uphold" | "remove" | "approve" | "refuse"))
        .map(|d| {
            c.words()
                .s(&format!("console.objections.done.{d}"))
                .to_owned()
        });
    let body = render(&state, &c, None, None, flash).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    let decision = form.get("decision").trim().to_owned();
    match service::objections::decide(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        &decision,
        form.get("note"),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/console/objections?done={}",
            if decision == "remove" {
                "remove"
            } else {
                "uphold"
            }
        ))),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            Ok(unprocessable(
                render(&state, &c, Some((id, fs)), None, None).await?,
            ))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

pub async fn decide_repair(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    let decision = form.get("decision").trim().to_owned();
    match service::repairs::decide(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        &decision,
        form.get("note"),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/console/objections?done={}",
            if decision == "approve" {
                "approve"
            } else {
                "refuse"
            }
        ))),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            Ok(unprocessable(
                render(&state, &c, None, Some((id, fs)), None).await?,
            ))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}
