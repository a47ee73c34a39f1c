//! The merchant registry's core (the registry issue extends it).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::merchants;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = merchants, check_for_backend(diesel::pg::Pg))]
pub struct MerchantRef {
    pub id: i64,
    pub uscc: String,
    pub name: String,
    pub region_code: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = merchants)]
pub struct NewMerchant<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    pub region_code: &'a str,
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<MerchantRef>> {
    merchants::table
        .find(id)
        .select(MerchantRef::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: &NewMerchant<'_>,
) -> QueryResult<MerchantRef> {
    diesel::insert_into(merchants::table)
        .values(new)
        .returning(MerchantRef::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_by_uscc(
    conn: &mut AsyncPgConnection,
    uscc: &str,
) -> QueryResult<Option<MerchantRef>> {
    merchants::table
        .filter(merchants::uscc.eq(uscc))
        .select(MerchantRef::as_select())
        .first(conn)
        .await
        .optional()
}
