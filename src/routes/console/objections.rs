//! `/console/objections`: merchants' objections to records in the jurisdiction, deadline
//! first, each with its decision form (uphold, or remove from publicity, with a note).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    html, posted, see_other, staff, unprocessable, Chrome, Console, ConsoleError, ConsoleResult,
    FormState,
};
use crate::domain::merchant::{CreditKind, InspectionKind, InspectionResult};
use crate::error::AppError;
use crate::service;
pub use crate::service::objections::ObjectedRecord;
use crate::service::objections::{QueuedObjection, RecordCorrection};
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
    pub inspection_kinds: super::merchants::Options,
    pub inspection_results: super::merchants::Options,
    pub credit_kinds: super::merchants::Options,
}

/// The fields of a record's correction form.
pub const INSPECTION_FIELDS: &[&str] = &["kind", "inspected_on", "department", "result", "summary"];
pub const CREDIT_FIELDS: &[&str] = &[
    "kind",
    "department",
    "decision_no",
    "decided_on",
    "summary",
    "publicity_until",
];

impl ObjectionsPage {
    pub fn repair_form_of(&self, id: &i64) -> FormState {
        match &self.repair_failed {
            Some((i, f)) if i == id => f.clone(),
            _ => FormState::default(),
        }
    }

    /// The decision form of objection `q`: as posted when it failed, else with the record's
    /// current values in the correction fields.
    pub fn form_of(&self, q: &QueuedObjection) -> FormState {
        match &self.failed {
            Some((i, f)) if *i == q.objection.id => f.clone(),
            _ => {
                let mut f = FormState::default();
                let v = &mut f.values;
                match &q.record {
                    Some(ObjectedRecord::Inspection(r)) => {
                        v.insert("kind".into(), r.kind.clone());
                        v.insert("inspected_on".into(), r.inspected_on.to_string());
                        v.insert("department".into(), r.department.clone());
                        v.insert("result".into(), r.result.clone());
                        v.insert("summary".into(), r.summary.clone());
                    }
                    Some(ObjectedRecord::CreditRecord(r)) => {
                        v.insert("kind".into(), r.kind.clone());
                        v.insert("department".into(), r.department.clone());
                        v.insert("decision_no".into(), r.decision_no.clone());
                        v.insert("decided_on".into(), r.decided_on.to_string());
                        v.insert("summary".into(), r.summary.clone());
                        v.insert(
                            "publicity_until".into(),
                            r.publicity_until.map(|d| d.to_string()).unwrap_or_default(),
                        );
                    }
                    None => {}
                }
                f
            }
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
    let t = c.words();
    let inspection_kinds = super::merchants::words(
        &t,
        InspectionKind::ALL,
        "inspection.kind",
        InspectionKind::as_str,
    );
    let inspection_results = super::merchants::words(
        &t,
        InspectionResult::ALL,
        "inspection.result",
        InspectionResult::as_str,
    );
    let credit_kinds =
        super::merchants::words(&t, CreditKind::ALL, "credit.kind", CreditKind::as_str);
    html(&ObjectionsPage {
        c: chrome,
        rows,
        repairs,
        repair_failed,
        failed,
        today: service::today(),
        inspection_kinds,
        inspection_results,
        credit_kinds,
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
        .filter(|d| matches!(*d, "uphold" | "correct" | "remove" | "approve" | "refuse"))
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
    // The correction form sends every field of its record, prefilled: each is taken as typed
    // (an emptied summary is cleared; an emptied required field is an error).
    let values = form.values();
    let field = |name: &str| values.get(name).cloned();
    let correction = (decision == "correct").then(|| RecordCorrection {
        kind: field("kind"),
        department: field("department"),
        summary: field("summary"),
        inspected_on: field("inspected_on"),
        result: field("result"),
        decision_no: field("decision_no"),
        decided_on: field("decided_on"),
        publicity_until: field("publicity_until"),
    });
    match service::objections::decide(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        &decision,
        form.get("note"),
        correction.as_ref(),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/console/objections?done={}",
            match decision.as_str() {
                "remove" => "remove",
                "correct" => "correct",
                _ => "uphold",
            }
        ))),
        Err(AppError::Validation(errors)) => {
            // `correction.summary` is the field `summary` of this form.
            let errors: Vec<_> = errors
                .into_iter()
                .map(|mut e| {
                    if let Some(f) = e.field.strip_prefix("correction.") {
                        e.field = f.to_owned();
                    }
                    e
                })
                .collect();
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
