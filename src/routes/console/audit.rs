//! `/console/audit`: the audit log of the caller's jurisdiction, filtered by entity, actor and
//! date, each entry with the fields that changed (before → after).

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{html, staff, unprocessable, Chrome, ConsoleError, ConsoleResult, FormState};
use crate::domain::time::china_offset;
use crate::error::AppError;
use crate::service;
use crate::service::audit::{AuditQuery, AuditView};
use crate::service::paging::PageQuery;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(show));
}

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    entity: Option<String>,
    entity_id: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

pub struct Line {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub link: Option<String>,
    pub changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct AuditPage {
    pub c: Chrome,
    pub form: FormState,
    pub lines: Vec<Line>,
    pub total: i64,
    pub page: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub entities: Vec<(String, String)>,
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => "—".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

fn line(v: AuditView) -> Line {
    let link = match v.entity.as_str() {
        "merchant" => Some(format!("/console/merchants/{}", v.entity_id)),
        "complaint" => Some(format!("/console/complaints/{}", v.entity_id)),
        "user" => Some(format!("/console/users/{}", v.entity_id)),
        _ => None,
    };
    Line {
        at: v
            .at
            .with_timezone(&china_offset())
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        actor: v.actor,
        action: v.action,
        entity: format!("{} #{}", v.entity, v.entity_id),
        link,
        changes: v
            .changes
            .iter()
            .map(|c| (c.field.clone(), short(&c.before), short(&c.after)))
            .collect(),
    }
}

const PER_PAGE: i64 = 50;

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Params>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let t = c.words();
    let page_no = super::page_number(q.page.as_deref());
    let input = AuditQuery {
        entity: q.entity.clone(),
        entity_id: q.entity_id.clone(),
        actor: q.actor.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
    };
    let values: HashMap<String, String> = [
        ("entity", &q.entity),
        ("entity_id", &q.entity_id),
        ("actor", &q.actor),
        ("from", &q.from),
        ("to", &q.to),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
    .collect();
    let paging = PageQuery {
        page: Some(page_no),
        per_page: Some(PER_PAGE),
    };
    let (items, total, form) = match service::audit::list(&state, c.user(), &input, &paging).await {
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
    let link = |p: i64| super::page_link("/console/audit", &form.values, &[], p);
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let failed = !form.errors.is_empty();
    let body = html(&AuditPage {
        c: c.chrome(&state, "audit"),
        lines: items.into_iter().map(line).collect(),
        total,
        page: page_no,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no < pages).then(|| link(page_no + 1)),
        entities: [
            "merchant",
            "complaint",
            "photo",
            "warning",
            "user",
            "region",
            "import",
            "calendar",
            "complaint_deadline_rule",
        ]
        .iter()
        .map(|e| (e.to_string(), t.w("console.audit.entity", e)))
        .collect(),
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
