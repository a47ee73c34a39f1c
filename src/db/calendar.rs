//! The working-day calendar and the complaint deadline rules.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{calendar_days, complaint_deadline_rules};
use crate::domain::workdays::{CalendarYear, DayKind, WorkCalendar};

fn year_bounds(year: i32) -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year"),
        NaiveDate::from_ymd_opt(year, 12, 31).expect("valid year"),
    )
}

/// `(holidays, workdays)` listed for `year`, each sorted.
pub async fn year(
    conn: &mut AsyncPgConnection,
    year: i32,
) -> QueryResult<(Vec<NaiveDate>, Vec<NaiveDate>)> {
    let (first, last) = year_bounds(year);
    let rows: Vec<(NaiveDate, String)> = calendar_days::table
        .filter(calendar_days::day.between(first, last))
        .select((calendar_days::day, calendar_days::kind))
        .order(calendar_days::day)
        .load(conn)
        .await?;
    let (mut holidays, mut workdays) = (Vec::new(), Vec::new());
    for (day, kind) in rows {
        if kind == DayKind::Workday.as_str() {
            workdays.push(day);
        } else {
            holidays.push(day);
        }
    }
    Ok((holidays, workdays))
}

/// Replaces one year's entries. Names of dates that stay are kept. Call in a transaction.
pub async fn replace_year(conn: &mut AsyncPgConnection, cal: &CalendarYear) -> QueryResult<()> {
    let (first, last) = year_bounds(cal.year);
    let old: Vec<(NaiveDate, String)> = calendar_days::table
        .filter(calendar_days::day.between(first, last))
        .select((calendar_days::day, calendar_days::name))
        .load(conn)
        .await?;
    let name_of = |d: &NaiveDate| {
        old.iter()
            .find(|(day, _)| day == d)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    diesel::delete(calendar_days::table.filter(calendar_days::day.between(first, last)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = cal
        .holidays
        .iter()
        .map(|d| (*d, DayKind::Holiday))
        .chain(cal.workdays.iter().map(|d| (*d, DayKind::Workday)))
        .map(|(d, kind)| {
            (
                calendar_days::day.eq(d),
                calendar_days::kind.eq(kind.as_str()),
                calendar_days::name.eq(name_of(&d)),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(calendar_days::table)
            .values(&rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The calendar covering `from..=to` (plus a margin), ready for arithmetic.
pub async fn load_range<C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send>(
    conn: &mut C,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<WorkCalendar> {
    let rows: Vec<(NaiveDate, String)> = calendar_days::table
        .filter(calendar_days::day.between(from, to))
        .select((calendar_days::day, calendar_days::kind))
        .load(conn)
        .await?;
    let holidays = rows
        .iter()
        .filter(|(_, k)| k == DayKind::Holiday.as_str())
        .map(|(d, _)| *d);
    let workdays = rows
        .iter()
        .filter(|(_, k)| k == DayKind::Workday.as_str())
        .map(|(d, _)| *d);
    Ok(WorkCalendar::new(holidays, workdays))
}

/// Years that have any calendar entries (a deadline falling in a year without an official
/// schedule is computed Monday–Friday, and callers can warn about it).
pub async fn years_covered(conn: &mut AsyncPgConnection) -> QueryResult<Vec<i32>> {
    let days: Vec<NaiveDate> = calendar_days::table
        .select(calendar_days::day)
        .load(conn)
        .await?;
    let mut years: Vec<i32> = days.iter().map(|d| d.year()).collect();
    years.sort_unstable();
    years.dedup();
    Ok(years)
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = complaint_deadline_rules, check_for_backend(diesel::pg::Pg))]
pub struct DeadlineRule {
    /// The rule applies to complaints received on or after this date.
    pub effective_from: NaiveDate,
    pub accept_working_days: i32,
    pub conclude_working_days: i32,
    pub green_channel_working_days: i32,
    pub note: String,
}

/// The rule in force on `day`.
pub async fn deadline_rule_on<
    C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send,
>(
    conn: &mut C,
    day: NaiveDate,
) -> QueryResult<Option<DeadlineRule>> {
    complaint_deadline_rules::table
        .filter(complaint_deadline_rules::effective_from.le(day))
        .order(complaint_deadline_rules::effective_from.desc())
        .select(DeadlineRule::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn deadline_rules(conn: &mut AsyncPgConnection) -> QueryResult<Vec<DeadlineRule>> {
    complaint_deadline_rules::table
        .order(complaint_deadline_rules::effective_from)
        .select(DeadlineRule::as_select())
        .load(conn)
        .await
}

/// Inserts or replaces the rule taking effect on `rule.effective_from`, with its audit entry,
/// in one transaction.
pub async fn put_deadline_rule_audited(
    conn: &mut AsyncPgConnection,
    actor: &super::audit::Actor,
    rule: &DeadlineRule,
) -> QueryResult<DeadlineRule> {
    use diesel::upsert::excluded;
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let before: Option<DeadlineRule> = complaint_deadline_rules::table
            .find(rule.effective_from)
            .select(DeadlineRule::as_select())
            .first(conn)
            .await
            .optional()?;
        let saved = diesel::insert_into(complaint_deadline_rules::table)
            .values((
                complaint_deadline_rules::effective_from.eq(rule.effective_from),
                complaint_deadline_rules::accept_working_days.eq(rule.accept_working_days),
                complaint_deadline_rules::conclude_working_days.eq(rule.conclude_working_days),
                complaint_deadline_rules::green_channel_working_days
                    .eq(rule.green_channel_working_days),
                complaint_deadline_rules::note.eq(&rule.note),
            ))
            .on_conflict(complaint_deadline_rules::effective_from)
            .do_update()
            .set((
                complaint_deadline_rules::accept_working_days
                    .eq(excluded(complaint_deadline_rules::accept_working_days)),
                complaint_deadline_rules::conclude_working_days
                    .eq(excluded(complaint_deadline_rules::conclude_working_days)),
                complaint_deadline_rules::green_channel_working_days.eq(excluded(
                    complaint_deadline_rules::green_channel_working_days,
                )),
                complaint_deadline_rules::note.eq(excluded(complaint_deadline_rules::note)),
                complaint_deadline_rules::updated_at.eq(diesel::dsl::now),
            ))
            .returning(DeadlineRule::as_returning())
            .get_result(conn)
            .await?;
        super::audit::record(
            conn,
            actor,
            "complaint_deadline_rule.put",
            "complaint_deadline_rule",
            &rule.effective_from.to_string(),
            before.as_ref(),
            Some(&saved),
        )
        .await?;
        Ok(saved)
    })
    .await
}
