//! The public shop lookup behind the scan page (`/s/{code}`) and its JSON twin: a code leads to
//! its merchant's public model, to a withdrawn notice, or to nothing.

use chrono::NaiveDate;

use diesel_async::AsyncPgConnection;

use crate::cache::pages::ReadFloor;
use crate::db;
use crate::db::replicas::Target;
use crate::domain::shop_code::ShopCode;
use crate::error::AppResult;
use crate::pages::shop::{self, Lookup};
use crate::state::AppState;

/// What `code` leads to on `today` (no caller: everything on the page is public), read where
/// `floor` allows (a replica that has the shop's last write, else the primary). A read that
/// fails on a replica is done again on the primary.
pub async fn lookup(
    state: &AppState,
    code: &str,
    today: NaiveDate,
    floor: ReadFloor,
) -> AppResult<Lookup> {
    let (mut conn, target) = state.reads.conn(floor).await?;
    match lookup_on(&mut conn, code, today).await {
        Err(e) if target != Target::Primary => {
            tracing::warn!(error = %e, "scan-page read failed on a replica: reading the primary");
            state.reads.failed(target);
            drop(conn);
            let (mut conn, _) = state.reads.conn(None).await?;
            lookup_on(&mut conn, code, today).await
        }
        other => other,
    }
}

async fn lookup_on(
    conn: &mut AsyncPgConnection,
    code: &str,
    today: NaiveDate,
) -> AppResult<Lookup> {
    // The code's row and the facts of its merchant, sent together: one round trip. The facts
    // are read even for a withdrawn or unknown code (they come back empty for the latter):
    // cheaper than a second round trip for every page that is shown.
    let shared: &AsyncPgConnection = conn;
    let (mut c1, mut c2) = (shared, shared);
    let (found, mut facts) = futures_util::try_join!(
        db::shop_codes::find_with_merchant(&mut c1, code),
        db::merchants::scan_page_facts(&mut c2, code, today)
    )?;
    let Some((code_row, m)) = found else {
        return Ok(Lookup::Unknown);
    };
    if code_row.revoked_at.is_some() {
        return Ok(Lookup::Withdrawn);
    }
    facts.inspections =
        db::merchants::complete_for_grade(conn, m.id, today, facts.inspections).await?;
    Ok(Lookup::Found(Box::new(shop::build(
        code_row.code,
        m,
        facts,
        today,
    ))))
}

/// The code as issued and its shop's name, for the complaint form; `None` for a code this
/// platform never issued (a withdrawn code still names its shop).
pub async fn name_for_code(state: &AppState, code: &str) -> AppResult<Option<(String, String)>> {
    let Some(code) = ShopCode::parse(code) else {
        return Ok(None);
    };
    let mut conn = state.public_pool.get().await?;
    Ok(db::shop_codes::find_with_merchant(&mut conn, code.as_str())
        .await?
        .map(|(c, m)| (c.code, m.fields.name)))
}
