//! Shop-code use cases (一码): issuing, re-issuing and revoking a merchant's code, issuing codes
//! for a whole region, reading the active code, its QR images and posters, its scan counts, and
//! the codes a region's poster zip holds. Rights first (`auth::policy`), then the input.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::audit::Actor;
use crate::db::shop_codes::ShopCodeRow;
use crate::domain::region::RegionCode;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::pages::poster::Poster;
use crate::qr;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShopCodeView {
    pub code: String,
    /// `{PUBLIC_BASE_URL}/s/{code}`: what the QR code holds.
    pub url: String,
    pub issued_at: DateTime<Utc>,
}

/// The public URL of a code.
pub fn code_url(state: &AppState, code: &str) -> String {
    format!(
        "{}/s/{code}",
        state.settings.public_base_url.trim_end_matches('/')
    )
}

/// Runs QR and poster work on the blocking pool, off the reactor.
pub async fn off_reactor<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> AppResult<T> {
    Ok(tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow::anyhow!("image worker failed: {e}"))??)
}

fn view(state: &AppState, row: &ShopCodeRow) -> ShopCodeView {
    ShopCodeView {
        code: row.code.clone(),
        url: code_url(state, &row.code),
        issued_at: row.issued_at,
    }
}

/// Merchant `id`'s region, once the caller is known to manage it (404 / 403 otherwise).
async fn managing(conn: &mut AsyncPgConnection, user: &CurrentUser, id: i64) -> AppResult<()> {
    let region = crate::service::merchants::region_of_merchant(conn, id).await?;
    policy::manage_merchant(user, id, &region).check()
}

/// Issues the merchant's code, or re-issues it: the previous code then answers 410 on its page.
/// One transaction with the audit entry; the merchant's pages invalidated after commit.
pub async fn issue(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
) -> AppResult<ShopCodeView> {
    let mut conn = state.pool.get().await?;
    managing(&mut conn, user, id).await?;
    let by = Some(user.id);
    let row = conn
        .transaction::<_, AppError, _>(async |conn| {
            // Lock the merchant so that two concurrent issues serialise.
            db::merchants::get_for_update(conn, id).await?;
            let old = db::shop_codes::revoke_active(conn, id, by, "reissued").await?;
            let new = db::shop_codes::insert_new(conn, id, by).await?;
            db::audit::record(
                conn,
                &actor,
                if old.is_some() {
                    "qrcode.reissue"
                } else {
                    "qrcode.issue"
                },
                "merchant",
                &id.to_string(),
                old.as_ref(),
                Some(&new),
            )
            .await?;
            Ok(new)
        })
        .await?;
    state.pages.invalidate_merchants(&mut conn, &[id]).await;
    Ok(view(state, &row))
}

/// Revokes the merchant's code (its page then answers 410). 404 when it has none.
pub async fn revoke(state: &AppState, user: &CurrentUser, actor: Actor, id: i64) -> AppResult<()> {
    let mut conn = state.pool.get().await?;
    managing(&mut conn, user, id).await?;
    let by = Some(user.id);
    conn.transaction::<_, AppError, _>(async |conn| {
        let old = db::shop_codes::revoke_active(conn, id, by, "revoked")
            .await?
            .ok_or(AppError::NotFound)?;
        db::audit::record(
            conn,
            &actor,
            "qrcode.revoke",
            "merchant",
            &id.to_string(),
            Some(&old),
            None::<&()>,
        )
        .await?;
        Ok(())
    })
    .await?;
    state.pages.invalidate_merchants(&mut conn, &[id]).await;
    Ok(())
}

async fn visible_active(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<ShopCodeRow> {
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, id).await?;
    policy::view_merchant(user, id, &region).check()?;
    db::shop_codes::active_for(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The active code (regulators of the merchant and the merchant itself). 404 when none.
pub async fn show(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<ShopCodeView> {
    let row = visible_active(state, user, id).await?;
    Ok(view(state, &row))
}

/// The active code alone as a PNG of `size` pixels (default 512): the merchant must be one the
/// caller sees (404) before the size is checked (422).
pub async fn qrcode_png(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    size: Option<u32>,
) -> AppResult<Vec<u8>> {
    let row = visible_active(state, user, id).await?;
    let size = size.unwrap_or(qr::DEFAULT_SIZE);
    if !(qr::MIN_SIZE..=qr::MAX_SIZE).contains(&size) {
        return Err(AppError::validation(FieldError::new(
            "size",
            "out_of_range",
            format!("size is {}–{} pixels", qr::MIN_SIZE, qr::MAX_SIZE),
        )));
    }
    let url = code_url(state, &row.code);
    off_reactor(move || qr::png(&url, size)).await
}

/// The active code alone as SVG.
pub async fn qrcode_svg(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<String> {
    let row = visible_active(state, user, id).await?;
    let url = code_url(state, &row.code);
    off_reactor(move || qr::svg(&url)).await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkIssued {
    /// Codes issued now (merchants that are not closed and had no active code).
    pub issued: usize,
}

/// Issues codes for every merchant in a region (a prefecture: all its counties) that is not
/// closed and has no active code. One transaction, one audit event.
pub async fn bulk_issue(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    region_code: &str,
) -> AppResult<BulkIssued> {
    let mut conn = state.pool.get().await?;
    let (region, covered) = covered_regions(&mut conn, user, region_code).await?;
    let by = Some(user.id);
    let issued = conn
        .transaction::<_, AppError, _>(async |conn| {
            let ids = db::shop_codes::merchants_without_code(conn, &covered).await?;
            let rows = db::shop_codes::insert_many(conn, &ids, by).await?;
            if !rows.is_empty() {
                let summary = serde_json::json!({
                    "region": region.as_str(),
                    "issued": rows.iter().map(|r| (r.merchant_id, &r.code)).collect::<Vec<_>>(),
                });
                db::audit::record(
                    conn,
                    &actor,
                    "qrcode.bulk_issue",
                    "region",
                    region.as_str(),
                    None::<&()>,
                    Some(&summary),
                )
                .await?;
            }
            Ok(rows.len())
        })
        .await?;
    tracing::info!(region = %region, issued, by = user.id, "codes issued in bulk");
    Ok(BulkIssued { issued })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayCount {
    pub day: chrono::NaiveDate,
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanStats {
    pub total: i64,
    /// Days with scans, oldest first.
    pub days: Vec<DayCount>,
}

/// Scans of the merchant's codes per day over the last `days` days (default 30): the merchant
/// must be one the caller sees (404) before `days` is checked (422).
pub async fn scans(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    days: Option<i64>,
) -> AppResult<ScanStats> {
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, id).await?;
    policy::view_merchant(user, id, &region).check()?;
    let days = days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AppError::validation(FieldError::new(
            "days",
            "out_of_range",
            "days is 1–366",
        )));
    }
    let today = crate::service::today();
    let from = today - chrono::Days::new(days as u64 - 1);
    let rows = db::shop_codes::scans_of(&mut conn, id, from).await?;
    Ok(ScanStats {
        total: rows.iter().map(|(_, n)| n).sum(),
        days: rows
            .into_iter()
            .map(|(day, count)| DayCount { day, count })
            .collect(),
    })
}

/// What a poster shows: the active code, the shop's name, the code's URL.
async fn poster_facts(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(String, String, String)> {
    let row = visible_active(state, user, id).await?;
    let name = {
        let mut conn = state.pool.get().await?;
        db::merchants::find(&mut conn, id)
            .await?
            .ok_or(AppError::NotFound)?
            .name
    };
    let url = code_url(state, &row.code);
    Ok((row.code, name, url))
}

/// The print-ready poster as SVG, with its file name.
pub async fn poster_svg(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(String, String)> {
    let (code, name, url) = poster_facts(state, user, id).await?;
    let file = format!("{code}.svg");
    let text = off_reactor(move || Poster::new(&name, &code, &url)?.svg()).await?;
    Ok((file, text))
}

fn require_cjk_font() -> AppResult<()> {
    if crate::pages::poster::cjk_family().is_none() {
        return Err(AppError::Unavailable {
            detail: "no font with Chinese glyphs is installed on the server (fonts-noto-cjk)",
            retry_after_secs: 3600,
        });
    }
    Ok(())
}

/// The poster as PNG, with its file name (503 without a CJK font, rather than a poster with
/// missing characters).
pub async fn poster_png(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(String, Vec<u8>)> {
    require_cjk_font()?;
    let (code, name, url) = poster_facts(state, user, id).await?;
    let file = format!("{code}.png");
    let png = off_reactor(move || Poster::new(&name, &code, &url)?.png()).await?;
    Ok((file, png))
}

/// The region codes `code` covers, if the caller may act there (404 otherwise).
async fn covered_regions(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    code: &str,
) -> AppResult<(RegionCode, Vec<String>)> {
    policy::region_work(user).check()?;
    let region = RegionCode::parse(code).map_err(|_| AppError::NotFound)?;
    policy::act_on_region(user, &region).check()?;
    let covered: Vec<String> = db::regions::list(conn)
        .await?
        .into_iter()
        .filter(|r| {
            RegionCode::parse(&r.code)
                .map(|c| region.covers(&c))
                .unwrap_or(false)
        })
        .map(|r| r.code)
        .collect();
    if covered.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok((region, covered))
}

/// What a region's poster zip holds: the region, the format, and (code, USCC, shop name) of each
/// active code in it.
pub struct RegionPosters {
    pub region: RegionCode,
    pub png: bool,
    pub codes: Vec<(String, String, String)>,
}

/// The posters of every active code in a region (staff of that region): the region is decided
/// first (403 / 404), then the format (`svg`, default, or `png`; 422 otherwise).
pub async fn region_posters(
    state: &AppState,
    user: &CurrentUser,
    region_code: &str,
    format: Option<&str>,
) -> AppResult<RegionPosters> {
    let mut conn = state.pool.get().await?;
    let (region, covered) = covered_regions(&mut conn, user, region_code).await?;
    let png = match format.map(str::trim) {
        None | Some("") | Some("svg") => false,
        Some("png") => true,
        Some(_) => {
            return Err(AppError::validation(FieldError::new(
                "format",
                "invalid_format",
                "format must be svg or png",
            )))
        }
    };
    if png {
        require_cjk_font()?;
    }
    let codes = db::shop_codes::active_in(&mut conn, &covered).await?;
    Ok(RegionPosters { region, png, codes })
}
