use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use yidianyima::db::migrations;

use crate::helpers::fresh_schema;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .n
}

#[tokio::test]
async fn all_migrations_up_down_up() {
    let (guard, url) = fresh_schema().await;
    let schema = guard.name.clone();
    let applied = migrations::run_pending(&url).await.unwrap();
    assert!(applied.len() >= 5, "{applied:?}");
    assert!(
        migrations::run_pending(&url).await.unwrap().is_empty(),
        "idempotent"
    );

    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let tables = format!(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '{schema}' \
         AND table_name <> '__diesel_schema_migrations'"
    );
    let n_tables = count(&mut conn, &tables).await;
    assert!(n_tables >= 7, "{n_tables} tables");
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM regions").await,
        14
    );

    let reverted = migrations::revert_all(&url).await.unwrap();
    assert_eq!(reverted.len(), applied.len());
    assert_eq!(
        count(&mut conn, &tables).await,
        0,
        "every down.sql removes its tables"
    );

    let again = migrations::run_pending(&url).await.unwrap();
    assert_eq!(again, applied);
    assert_eq!(count(&mut conn, &tables).await, n_tables);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM regions").await,
        14
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM calendar_days WHERE day BETWEEN '2026-10-01' AND '2026-10-07'"
        )
        .await,
        7
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM complaint_deadline_rules WHERE accept_working_days = 7 \
             AND conclude_working_days = 45 AND green_channel_working_days = 10"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_missing_database_is_created_on_first_migrate() {
    let server = crate::helpers::server_url();
    let name = format!("ydym_fresh_{}", std::process::id());
    let url = format!("{server}/{name}");
    let applied = migrations::run_pending(&url).await.unwrap();
    assert!(!applied.is_empty());
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM regions").await,
        14
    );
    drop(conn);
    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres"))
        .await
        .unwrap();
    diesel::sql_query(format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
}
