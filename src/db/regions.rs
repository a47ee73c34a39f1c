//! Administrative divisions.

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema::regions;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = regions, check_for_backend(diesel::pg::Pg))]
pub struct Region {
    /// GB/T 2260 code, e.g. `513230`.
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Region>> {
    regions::table
        .select(Region::as_select())
        .order(regions::code)
        .load(conn)
        .await
}

/// Which of `codes` exist.
pub async fn existing(conn: &mut AsyncPgConnection, codes: &[String]) -> QueryResult<Vec<String>> {
    regions::table
        .filter(regions::code.eq_any(codes))
        .select(regions::code)
        .load(conn)
        .await
}

/// Inserts or renames regions (parents must come first or already exist). Call in a transaction.
pub async fn upsert(conn: &mut AsyncPgConnection, rows: &[Region]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in rows.chunks(1000) {
        n += diesel::insert_into(regions::table)
            .values(chunk)
            .on_conflict(regions::code)
            .do_update()
            .set((
                regions::name.eq(excluded(regions::name)),
                regions::parent_code.eq(excluded(regions::parent_code)),
            ))
            .execute(conn)
            .await?;
    }
    Ok(n)
}

/// Loads regions (a parent before its children, or already present) with one audit entry, in
/// one transaction: a file with a bad row changes nothing.
pub async fn load_audited(
    conn: &mut AsyncPgConnection,
    actor: &super::audit::Actor,
    rows: &[Region],
) -> QueryResult<usize> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let n = upsert(conn, rows).await?;
        super::audit::record::<(), _, _>(
            conn,
            actor,
            "region.load",
            "region",
            &format!("{} rows", rows.len()),
            None,
            Some(&rows.iter().map(|r| &r.code).collect::<Vec<_>>()),
        )
        .await?;
        Ok(n)
    })
    .await
}
