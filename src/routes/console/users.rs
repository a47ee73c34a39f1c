//! `/console/users`: accounts (admins all; regulators the merchant logins of their merchants):
//! list, create, disable or enable, reset a password.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    html, posted, see_other, staff, unprocessable, Chrome, Console, ConsoleError, ConsoleResult,
    FormState,
};
use crate::domain::user::Role;
use crate::error::AppError;
use crate::service;
use crate::service::paging::PageQuery;
use crate::service::users::{UserListFilter, UserView};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list))
        .route("/users", web::post().to(create))
        .route("/users/{id}", web::get().to(show))
        .route("/users/{id}/disable", web::post().to(disable))
        .route("/users/{id}/enable", web::post().to(enable))
        .route("/users/{id}/password", web::post().to(reset_password));
}

#[derive(Template)]
#[template(path = "console/users.html")]
pub struct UsersPage {
    pub c: Chrome,
    pub form: FormState,
    pub filter: FormState,
    pub items: Vec<UserView>,
    pub total: i64,
    pub roles: Vec<(String, String)>,
    pub regions: Vec<(String, String)>,
    pub is_admin: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    q: Option<String>,
    role: Option<String>,
    done: Option<String>,
}

async fn list_page(
    state: &AppState,
    c: &Console,
    params: &ListParams,
    form: FormState,
) -> ConsoleResult<String> {
    let t = c.words();
    let filter = UserListFilter {
        q: params.q.clone(),
        role: params.role.clone().filter(|r| !r.is_empty()),
    };
    let page = service::users::list(
        state,
        c.user(),
        &filter,
        &PageQuery {
            page: Some(1),
            per_page: Some(200),
        },
    )
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let is_admin = c.user().role == Role::Admin;
    let roles = if is_admin {
        vec![Role::Merchant, Role::Regulator, Role::Admin]
    } else {
        vec![Role::Merchant]
    }
    .into_iter()
    .map(|r| (r.as_str().to_owned(), t.w("console.role", r.as_str())))
    .collect();
    let mut fv = HashMap::new();
    if let Some(q) = &params.q {
        fv.insert("q".to_owned(), q.clone());
    }
    if let Some(r) = &params.role {
        fv.insert("role".to_owned(), r.clone());
    }
    let mut chrome = c.chrome(state, "users");
    chrome.flash = params
        .done
        .as_deref()
        .filter(|d| *d == "created")
        .map(|_| t.s("console.users.done.created").to_owned());
    html(&UsersPage {
        c: chrome,
        form,
        filter: FormState::with(fv),
        items: page.items,
        total: page.total,
        roles,
        regions: super::region_options(state, c).await?,
        is_admin,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListParams>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let mut values = HashMap::new();
    values.insert("role".to_owned(), "merchant".to_owned());
    let body = list_page(&state, &c, &q, FormState::with(values)).await?;
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
    let role = form.get("role").trim().to_owned();
    let merchant_id = form.opt("merchant_id");
    let parsed_mid = merchant_id.as_deref().map(|m| m.parse::<i64>());
    if let Some(Err(_)) = parsed_mid {
        let e = crate::domain::FieldError::new(
            "merchant_id",
            "invalid_type",
            "merchant_id is the merchant's number",
        );
        let mut fs = FormState::failed(&form, c.lang, &[e]);
        fs.values.remove("password");
        let body = list_page(&state, &c, &ListParams::default(), fs).await?;
        return Ok(unprocessable(body));
    }
    let input = service::users::CreateUserRequest {
        username: form.get("username").to_owned(),
        password: form.get("password").to_owned(),
        role: role.clone(),
        region_codes: if role == "regulator" {
            form.all("region_codes")
                .into_iter()
                .filter(|r| !r.trim().is_empty())
                .map(str::to_owned)
                .collect()
        } else {
            vec![]
        },
        merchant_id: if role == "merchant" {
            parsed_mid.and_then(Result::ok)
        } else {
            None
        },
    };
    match service::users::create(&state, c.user(), c.actor(&state, &req), &input).await {
        Ok(v) => Ok(see_other(&format!("/console/users/{}?done=created", v.id))),
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. })) => {
            let errors = match e {
                AppError::Validation(errors) => errors,
                AppError::Conflict { code, detail } => {
                    vec![crate::domain::FieldError::new("username", code, detail)]
                }
                _ => vec![],
            };
            let mut fs = FormState::failed(&form, c.lang, &errors);
            fs.values.remove("password");
            let body = list_page(&state, &c, &ListParams::default(), fs).await?;
            Ok(unprocessable(body))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

#[derive(Template)]
#[template(path = "console/user.html")]
pub struct UserPage {
    pub c: Chrome,
    pub u: UserView,
    pub form: FormState,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn user_page(
    state: &AppState,
    c: &Console,
    id: i64,
    form: FormState,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let u = service::users::get(state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let mut chrome = c.chrome(state, "users");
    chrome.flash = flash;
    html(&UserPage { c: chrome, u, form })
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let flash = q
        .done
        .as_deref()
        .filter(|d| matches!(*d, "created" | "disabled" | "enabled" | "password"))
        .map(|d| c.words().s(&format!("console.users.done.{d}")).to_owned());
    let body = user_page(&state, &c, path.into_inner(), FormState::default(), flash).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

async fn set_disabled(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: i64,
    payload: web::Payload,
    disabled: bool,
) -> ConsoleResult {
    let (c, _form) = posted(&state, &req, payload).await?;
    service::users::set_disabled(&state, c.user(), c.actor(&state, &req), id, disabled)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(see_other(&format!(
        "/console/users/{id}?done={}",
        if disabled { "disabled" } else { "enabled" }
    )))
}

pub async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    set_disabled(state, req, path.into_inner(), payload, true).await
}

pub async fn enable(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    set_disabled(state, req, path.into_inner(), payload, false).await
}

pub async fn reset_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    match service::users::reset_password(
        &state,
        c.user(),
        c.actor(&state, &req),
        id,
        form.get("password"),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/console/users/{id}?done=password"))),
        Err(AppError::Validation(errors)) => {
            let mut fs = FormState::failed(&form, c.lang, &errors);
            fs.values.clear();
            Ok(unprocessable(user_page(&state, &c, id, fs, None).await?))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}
