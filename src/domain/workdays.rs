//! Working-day arithmetic over an official calendar of public holidays and make-up working days
//! (调休). Complaint deadlines ("within 7 working days of receipt") are counted with it.
//!
//! Rule: a date listed as a make-up working day is a working day; otherwise a listed holiday is
//! not; otherwise Monday–Friday are working days and Saturday–Sunday are not.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};

use super::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Holiday,
    Workday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    pub fn new(
        holidays: impl IntoIterator<Item = NaiveDate>,
        workdays: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        Self {
            holidays: holidays.into_iter().collect(),
            workdays: workdays.into_iter().collect(),
        }
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        if self.holidays.contains(&day) {
            return false;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The date of the `n`-th working day after `start` (counting starts the day after `start`,
    /// as "within N working days of receipt" does). `n == 0` gives `start` itself.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = day
                .succ_opt()
                .expect("date overflow far beyond any calendar");
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Number of working days in `(from, to]`; 0 when `to <= from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut day = from;
        while day < to {
            day = day.succ_opt().expect("date overflow");
            if self.is_working_day(day) {
                n += 1;
            }
        }
        n
    }
}

/// One year's official schedule, validated: what `PUT /api/v1/calendar/{year}` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYear {
    pub year: i32,
    pub holidays: BTreeSet<NaiveDate>,
    pub workdays: BTreeSet<NaiveDate>,
}

impl CalendarYear {
    pub const MIN_YEAR: i32 = 2000;
    pub const MAX_YEAR: i32 = 2100;

    pub fn check_year(year: i32) -> Result<(), FieldError> {
        if (Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            Ok(())
        } else {
            Err(FieldError::new(
                "year",
                "out_of_range",
                format!(
                    "year must be between {} and {}",
                    Self::MIN_YEAR,
                    Self::MAX_YEAR
                ),
            ))
        }
    }

    /// Every date must fall in `year`; a date cannot be both a holiday and a make-up working
    /// day; a make-up working day must be a Saturday or Sunday (a weekday is already one).
    /// Repeated dates are harmless and merged.
    pub fn parse(
        year: i32,
        holidays: &[NaiveDate],
        workdays: &[NaiveDate],
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(e) = Self::check_year(year) {
            errors.push(e);
        }
        for (i, d) in holidays.iter().enumerate() {
            if d.year() != year {
                errors.push(FieldError::new(
                    format!("holidays[{i}]"),
                    "wrong_year",
                    format!("{d} is not in {year}"),
                ));
            }
        }
        let holiday_set: BTreeSet<NaiveDate> = holidays.iter().copied().collect();
        for (i, d) in workdays.iter().enumerate() {
            let field = format!("workdays[{i}]");
            if d.year() != year {
                errors.push(FieldError::new(
                    field,
                    "wrong_year",
                    format!("{d} is not in {year}"),
                ));
            } else if holiday_set.contains(d) {
                errors.push(FieldError::new(
                    field,
                    "both_holiday_and_workday",
                    format!("{d} is listed as both a holiday and a make-up working day"),
                ));
            } else if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                errors.push(FieldError::new(
                    field,
                    "not_a_weekend_day",
                    format!(
                        "{d} is a {:?}; a make-up working day (调休上班) must be a Saturday or Sunday",
                        d.weekday()
                    ),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self {
                year,
                holidays: holiday_set,
                workdays: workdays.iter().copied().collect(),
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// The official 2026 schedule around National Day (国务院办公厅, 2025-11-04):
    /// 中秋 9-25..27, 国庆 10-01..07, make-up working days 9-20 (Sun) and 10-10 (Sat).
    fn autumn_2026() -> WorkCalendar {
        let mut holidays = vec![d("2026-09-25"), d("2026-09-26"), d("2026-09-27")];
        holidays.extend((1..=7).map(|day| NaiveDate::from_ymd_opt(2026, 10, day).unwrap()));
        WorkCalendar::new(holidays, [d("2026-09-20"), d("2026-10-10")])
    }

    #[test]
    fn weekends_and_makeup_days() {
        let cal = autumn_2026();
        assert!(cal.is_working_day(d("2026-09-20")), "Sunday make-up day");
        assert!(cal.is_working_day(d("2026-10-10")), "Saturday make-up day");
        assert!(!cal.is_working_day(d("2026-10-01")));
        assert!(
            !cal.is_working_day(d("2026-10-05")),
            "Monday inside the holiday"
        );
        assert!(!cal.is_working_day(d("2026-10-11")), "ordinary Sunday");
        assert!(cal.is_working_day(d("2026-10-09")));
    }

    #[test]
    fn deadline_across_national_day() {
        let cal = autumn_2026();
        // Received Wed 30 Sep: the next working day is Thu 8 Oct; 7 working days are
        // 8, 9, 10 (Sat, make-up), 12, 13, 14, 15 Oct.
        assert_eq!(cal.add_working_days(d("2026-09-30"), 1), d("2026-10-08"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 3), d("2026-10-10"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 7), d("2026-10-15"));
        // Received on a holiday counts the same way.
        assert_eq!(cal.add_working_days(d("2026-10-03"), 7), d("2026-10-15"));
        // Received Fri 18 Sep: Sun 20 Sep is a working day.
        assert_eq!(cal.add_working_days(d("2026-09-18"), 1), d("2026-09-20"));
        // Mid-Autumn sits before National Day: 24 Sep + 2 working days = 28, 29 Sep.
        assert_eq!(cal.add_working_days(d("2026-09-24"), 2), d("2026-09-29"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 0), d("2026-09-30"));
    }

    #[test]
    fn plain_calendar_is_monday_to_friday() {
        let cal = WorkCalendar::default();
        // Fri 2026-11-20 + 1 working day = Mon 23rd
        assert_eq!(cal.add_working_days(d("2026-11-20"), 1), d("2026-11-23"));
        assert_eq!(cal.add_working_days(d("2026-11-20"), 45), d("2027-01-22"));
    }

    #[test]
    fn calendar_year_validation() {
        let ok = CalendarYear::parse(
            2026,
            &[d("2026-10-01"), d("2026-10-01")],
            &[d("2026-10-10")],
        )
        .unwrap();
        assert_eq!(ok.holidays.len(), 1);
        let errs = CalendarYear::parse(
            2026,
            &[d("2025-10-01"), d("2026-10-03")],
            &[d("2026-10-03"), d("2026-10-09"), d("2027-01-02")],
        )
        .unwrap_err();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            vec![
                ("holidays[0]", "wrong_year"),
                ("workdays[0]", "both_holiday_and_workday"),
                ("workdays[1]", "not_a_weekend_day"),
                ("workdays[2]", "wrong_year"),
            ]
        );
        assert_eq!(
            CalendarYear::parse(1999, &[], &[]).unwrap_err()[0].code,
            "out_of_range"
        );
    }

    fn arb_calendar() -> impl Strategy<Value = (WorkCalendar, NaiveDate)> {
        let base = d("2026-01-01");
        (
            prop::collection::vec(0u32..730, 0..120),
            prop::collection::vec(0u32..730, 0..20),
            0u32..700,
        )
            .prop_map(move |(h, w, s)| {
                let at = |o: &u32| base + chrono::Days::new(u64::from(*o));
                (
                    WorkCalendar::new(h.iter().map(at), w.iter().map(at)),
                    at(&s),
                )
            })
    }

    proptest! {
        #[test]
        fn nth_working_day_is_a_working_day_and_exactly_n_away(
            (cal, start) in arb_calendar(), n in 1u32..60
        ) {
            let end = cal.add_working_days(start, n);
            prop_assert!(end > start);
            prop_assert!(cal.is_working_day(end));
            prop_assert_eq!(cal.working_days_between(start, end), n);
            // nothing earlier would do
            prop_assert_eq!(cal.working_days_between(start, end.pred_opt().unwrap()), n - 1);
        }

        #[test]
        fn adding_is_additive((cal, start) in arb_calendar(), a in 0u32..30, b in 0u32..30) {
            prop_assert_eq!(
                cal.add_working_days(cal.add_working_days(start, a), b),
                cal.add_working_days(start, a + b)
            );
        }

        #[test]
        fn more_days_never_earlier((cal, start) in arb_calendar(), n in 0u32..50) {
            prop_assert!(cal.add_working_days(start, n + 1) > cal.add_working_days(start, n));
        }
    }
}
