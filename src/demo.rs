//! Demo data: accounts to try the service with. Deterministic; loaded only into an empty
//! database (no users), so it never overwrites real data.

use crate::auth::password;
use crate::db::audit::Actor;
use crate::db::users::NewUser;
use crate::db::{self, DbPool};
use crate::demo_merchants;

/// The password of every demo account. Demo data is for trying the product, never production.
pub const DEMO_PASSWORD: &str = "demo-2026-yidianyima";

/// One demo login, as printed for the person trying the service.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub username: String,
    pub role: &'static str,
    pub region_codes: Vec<String>,
}

/// The demo accounts: an administrator, the prefecture regulator, one regulator per county.
pub fn accounts(counties: &[String], prefecture: &str) -> Vec<DemoLogin> {
    let mut out = vec![
        DemoLogin {
            username: "admin".to_owned(),
            role: "admin",
            region_codes: vec![],
        },
        DemoLogin {
            username: format!("reg-{prefecture}"),
            role: "regulator",
            region_codes: vec![prefecture.to_owned()],
        },
    ];
    out.extend(counties.iter().map(|c| DemoLogin {
        username: format!("reg-{c}"),
        role: "regulator",
        region_codes: vec![c.clone()],
    }));
    out
}

/// Loads the demo data (accounts, 1,056 merchants with their records, merchant logins) if
/// the database has no users. Returns the logins created (empty when
/// the database already had data).
pub async fn load_if_empty(pool: &DbPool) -> anyhow::Result<Vec<DemoLogin>> {
    let mut conn = pool.get().await?;
    if db::users::count(&mut conn).await? > 0 {
        return Ok(Vec::new());
    }
    let regions = db::regions::list(&mut conn).await?;
    let prefecture = "513200";
    let counties: Vec<String> = regions
        .iter()
        .filter(|r| r.parent_code.as_deref() == Some(prefecture))
        .map(|r| r.code.clone())
        .collect();
    let logins = accounts(&counties, prefecture);
    let actor = Actor {
        user_id: None,
        label: "demo".to_owned(),
        client_ip: None,
    };
    for login in &logins {
        // one hash each: no two accounts share a salt
        let hash = tokio::task::spawn_blocking(|| password::hash(DEMO_PASSWORD)).await??;
        let new = NewUser {
            username: &login.username,
            password_hash: &hash,
            role: login.role,
            merchant_id: None,
        };
        db::users::create_audited(&mut conn, &actor, &new, &login.region_codes).await?;
    }
    let today = crate::domain::time::china_date(chrono::Utc::now());
    let merchants = demo_merchants::generate(today);
    let ids = insert_merchants(&mut conn, &actor, &merchants).await?;

    // A few merchant logins: the first merchant of each category in Malkang, and the one on
    // the serious-violation list (to see a D from the merchant's side).
    let mut logins = logins;
    let mut picked: Vec<usize> = Vec::new();
    for category in ["restaurant", "hotel", "pharmacy", "retail", "scenic_spot"] {
        if let Some(i) = merchants
            .iter()
            .position(|m| m.fields.category == category && m.fields.region_code == "513201")
        {
            picked.push(i);
        }
    }
    if let Some(i) = merchants
        .iter()
        .position(|m| m.credit.iter().any(|c| c.kind == "serious_violation"))
    {
        picked.push(i);
    }
    issue_codes(&mut conn, &actor, &regions).await?;
    for (n, i) in picked.into_iter().enumerate() {
        let username = format!("shop-{:03}", n + 1);
        let hash = tokio::task::spawn_blocking(|| password::hash(DEMO_PASSWORD)).await??;
        let new = NewUser {
            username: &username,
            password_hash: &hash,
            role: "merchant",
            merchant_id: Some(ids[i]),
        };
        db::users::create_audited(&mut conn, &actor, &new, &[]).await?;
        logins.push(DemoLogin {
            username,
            role: "merchant",
            region_codes: vec![format!(
                "{} ({})",
                merchants[i].fields.name, merchants[i].fields.uscc
            )],
        });
    }
    Ok(logins)
}

/// Issues a code to every demo merchant that is not closed, as a regulator does for a county
/// (`POST /api/v1/regions/{code}/qrcodes`), so that the scan pages can be opened at once.
async fn issue_codes(
    conn: &mut diesel_async::AsyncPgConnection,
    actor: &Actor,
    regions: &[crate::db::regions::Region],
) -> anyhow::Result<usize> {
    use diesel_async::AsyncConnection;
    let all: Vec<String> = regions.iter().map(|r| r.code.clone()).collect();
    let issued = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let ids = db::shop_codes::merchants_without_code(conn, &all).await?;
            let rows = db::shop_codes::insert_many(conn, &ids, None).await?;
            db::audit::record(
                conn,
                actor,
                "qrcode.bulk_issue",
                "region",
                "*",
                None::<&()>,
                Some(&serde_json::json!({ "issued": rows.len() })),
            )
            .await?;
            Ok(rows.len())
        })
        .await?;
    Ok(issued)
}

/// Three demo shops worth opening first, with their active codes: a grade-A restaurant, the
/// hotel on the serious-violation list (grade D), a shop closed for the season. Empty for a
/// database without the demo data.
pub async fn showcase(pool: &DbPool) -> anyhow::Result<Vec<(&'static str, String)>> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use crate::db::schema::{merchants as m, shop_codes as c};

    let mut conn = pool.get().await?;
    let mut out = Vec::new();
    let active = || {
        m::table
            .inner_join(c::table)
            .filter(c::revoked_at.is_null())
            .order(m::id)
            .select(c::code)
    };
    let restaurant = active()
        .filter(m::category.eq("restaurant"))
        .filter(m::grade.eq("A"))
        .filter(m::status.eq("open"))
        .first::<String>(&mut conn)
        .await
        .optional()?;
    let hotel = active()
        .filter(m::category.eq("hotel"))
        .filter(m::grade.eq("D"))
        .first::<String>(&mut conn)
        .await
        .optional()?;
    let seasonal = active()
        .filter(m::status.eq("seasonal_closed"))
        .first::<String>(&mut conn)
        .await
        .optional()?;
    for (label, code) in [
        ("grade A restaurant", restaurant),
        ("grade D hotel (serious violation)", hotel),
        ("closed for the season", seasonal),
    ] {
        if let Some(code) = code {
            out.push((label, code));
        }
    }
    Ok(out)
}

/// The scan pages of `showcase` as lines to print, under `base` (`PUBLIC_BASE_URL`).
pub fn showcase_text(base: &str, shops: &[(&'static str, String)]) -> String {
    if shops.is_empty() {
        return String::new();
    }
    let mut s = String::from("Scan pages to open (every demo shop has a code):\n");
    for (label, code) in shops {
        s.push_str(&format!("  {label:<34} {base}/s/{code}\n"));
    }
    s
}

/// Inserts the demo merchants and their records in one transaction; returns their ids in
/// order.
async fn insert_merchants(
    conn: &mut diesel_async::AsyncPgConnection,
    actor: &Actor,
    merchants: &[demo_merchants::DemoMerchant],
) -> anyhow::Result<Vec<i64>> {
    use diesel_async::{AsyncConnection, RunQueryDsl};

    use crate::db::schema::{credit_records, inspections, licences, merchants as m};

    let ids = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let fields: Vec<_> = merchants.iter().map(|d| d.fields.clone()).collect();
            let mut by_uscc = std::collections::HashMap::new();
            for chunk in fields.chunks(2000) {
                let rows: Vec<(i64, String)> = diesel::insert_into(m::table)
                    .values(chunk)
                    .returning((m::id, m::uscc))
                    .get_results(conn)
                    .await?;
                by_uscc.extend(rows.into_iter().map(|(id, u)| (u, id)));
            }
            let ids: Vec<i64> = fields.iter().map(|f| by_uscc[&f.uscc]).collect();
            let mut lic = Vec::new();
            let mut insp = Vec::new();
            let mut cred = Vec::new();
            for (d, id) in merchants.iter().zip(&ids) {
                lic.extend(d.licences.iter().cloned().map(|mut l| {
                    l.merchant_id = *id;
                    l
                }));
                insp.extend(d.inspections.iter().cloned().map(|mut x| {
                    x.merchant_id = *id;
                    x
                }));
                cred.extend(d.credit.iter().cloned().map(|mut c| {
                    c.merchant_id = *id;
                    c
                }));
            }
            for chunk in lic.chunks(5000) {
                diesel::insert_into(licences::table)
                    .values(chunk)
                    .execute(conn)
                    .await?;
            }
            for chunk in insp.chunks(5000) {
                diesel::insert_into(inspections::table)
                    .values(chunk)
                    .execute(conn)
                    .await?;
            }
            for chunk in cred.chunks(5000) {
                diesel::insert_into(credit_records::table)
                    .values(chunk)
                    .execute(conn)
                    .await?;
            }
            for (d, id) in merchants.iter().zip(&ids) {
                if d.grade.grade != crate::domain::grade::Grade::A || d.grade.recheck_on.is_some() {
                    db::merchants::store_grade(conn, *id, &d.grade).await?;
                }
            }
            db::audit::record(
                conn,
                actor,
                "demo.load",
                "merchant",
                "*",
                None::<&()>,
                Some(&serde_json::json!({
                    "merchants": ids.len(), "licences": lic.len(),
                    "inspections": insp.len(), "credit_records": cred.len(),
                })),
            )
            .await?;
            Ok(ids)
        })
        .await?;
    Ok(ids)
}

/// The credentials table printed after loading.
pub fn credentials_table(logins: &[DemoLogin]) -> String {
    let mut s = format!(
        "Demo logins (password for all: {DEMO_PASSWORD}):\n  {:<14} {:<10} jurisdiction / merchant\n",
        "username", "role"
    );
    for l in logins {
        s.push_str(&format!(
            "  {:<14} {:<10} {}\n",
            l.username,
            l.role,
            l.region_codes.join(",")
        ));
    }
    s
}
