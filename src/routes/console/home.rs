//! `/console/`: the day's work for staff; the shop itself for a merchant.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;

use super::{page, see_other, signed_in, Chrome, ConsoleError, ConsoleResult};
use crate::service;
use crate::state::AppState;

pub struct Tile {
    pub label: String,
    pub count: i64,
    pub href: &'static str,
    pub urgent: bool,
}

#[derive(Template)]
#[template(path = "console/home.html")]
pub struct HomePage {
    pub c: Chrome,
    pub tiles: Vec<Tile>,
    pub due_by: Option<String>,
}

/// `/console` → `/console/`.
pub async fn bare() -> HttpResponse {
    see_other("/console/")
}

pub async fn home(state: web::Data<AppState>, req: HttpRequest) -> ConsoleResult {
    let c = signed_in(&state, &req).await?;
    if !c.is_staff() {
        // a merchant's day starts at its own shop: the page itself, here
        return match c.user().merchant_id {
            Some(id) => super::merchants::own_shop(&state, &c, id).await,
            None => Err(ConsoleError::NotFound(c.lang)),
        };
    }
    let counts = service::dashboard::staff_work(&state, c.user())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let t = c.words();
    let tile = |key: &str, count: i64, href: &'static str, urgent: bool| Tile {
        label: t.s(&format!("console.home.{key}")).to_owned(),
        count,
        href,
        urgent,
    };
    let tiles = vec![
        tile(
            "overdue",
            counts.overdue,
            "/console/complaints?overdue=true",
            true,
        ),
        tile(
            "due_soon",
            counts.due_soon,
            "/console/complaints?due=soon",
            true,
        ),
        tile(
            "awaiting_decision",
            counts.awaiting_decision,
            "/console/complaints?status=submitted",
            false,
        ),
        tile(
            "licences_expiring",
            counts.licences_expiring,
            "/console/merchants?attention=licence_expiring",
            false,
        ),
        tile(
            "not_inspected",
            counts.not_inspected,
            "/console/merchants?attention=not_inspected",
            false,
        ),
        tile(
            "no_code",
            counts.open_without_code,
            "/console/merchants?attention=no_code",
            false,
        ),
    ];
    page(&HomePage {
        c: c.chrome(&state, "home"),
        tiles,
        due_by: counts
            .due_by
            .map(|d: NaiveDate| t.f("console.home.due_by", "date", &d.to_string())),
    })
}
