//! `/console/warnings`: consumer warnings of the caller's jurisdiction: list, publish, end early.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    html, posted, see_other, staff, unprocessable, Chrome, Console, ConsoleError, ConsoleResult,
    FormState,
};
use crate::db::complaints::WarningRow;
use crate::domain::merchant::Category;
use crate::error::AppError;
use crate::service;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/warnings", web::get().to(show))
        .route("/warnings", web::post().to(create))
        .route("/warnings/{id}/end", web::post().to(end));
}

#[derive(Template)]
#[template(path = "console/warnings.html")]
pub struct WarningsPage {
    pub c: Chrome,
    pub form: FormState,
    pub rows: Vec<WarningRow>,
    pub today: chrono::NaiveDate,
    pub regions: Vec<(String, String)>,
    pub categories: Vec<(String, String)>,
}

async fn render(
    state: &AppState,
    c: &Console,
    form: FormState,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let t = c.words();
    let rows = service::warnings::list(state, c.user())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let regions = super::region_options(state, c).await?;
    let mut chrome = c.chrome(state, "warnings");
    chrome.flash = flash;
    html(&WarningsPage {
        c: chrome,
        form,
        rows,
        today: service::today(),
        regions,
        categories: Category::ALL
            .iter()
            .map(|x| (x.as_str().to_owned(), t.w("category", x.as_str())))
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
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
        .filter(|d| matches!(*d, "created" | "ended"))
        .map(|d| {
            c.words()
                .s(&format!("console.warnings.done.{d}"))
                .to_owned()
        });
    let mut values = std::collections::HashMap::new();
    if let [only] = c.user().region_codes.as_slice() {
        values.insert("region_code".to_owned(), only.clone());
    }
    let body = render(&state, &c, FormState::with(values), flash).await?;
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
    let input = service::complaints::WarningRequest {
        region_code: form.opt("region_code"),
        category: form.opt("category"),
        title: form.get("title").to_owned(),
        body: form.get("body").to_owned(),
        valid_until: form.get("valid_until").to_owned(),
    };
    match service::complaints::create_warning(&state, c.user(), c.actor(&state, &req), &input).await
    {
        Ok(_) => Ok(see_other("/console/warnings?done=created")),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            Ok(unprocessable(render(&state, &c, fs, None).await?))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

pub async fn end(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, _form) = posted(&state, &req, payload).await?;
    service::warnings::end(&state, c.user(), c.actor(&state, &req), path.into_inner())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(see_other("/console/warnings?done=ended"))
}
