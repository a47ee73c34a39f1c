//! Demo data: accounts to try the service with. Deterministic; loaded only into an empty
//! database (no users), so it never overwrites real data.

use crate::auth::password;
use crate::db::audit::Actor;
use crate::db::users::NewUser;
use crate::db::{self, DbPool};

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

/// Loads the demo data if the database has no users. Returns the logins created (empty when
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
    Ok(logins)
}

/// The credentials table printed after loading.
pub fn credentials_table(logins: &[DemoLogin]) -> String {
    let mut s = format!(
        "Demo logins (password for all: {DEMO_PASSWORD}):\n  {:<14} {:<10} jurisdiction\n",
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
