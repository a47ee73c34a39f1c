//! Dates as people in the prefecture see them. Times are UTC in the database; "today" for a
//! publicity period or a deadline is the date in China (UTC+8 all year, no daylight saving).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The calendar date in China at `now`.
pub fn china_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&china_offset()).date_naive()
}

/// Parses a date as written in Chinese documents and spreadsheets: `2026-03-01`, `2026/3/1`,
/// `2026.3.1`, `2026年3月1日`, `20260301`.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s = super::text::clean_ident(raw);
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(&s, "%Y%m%d").ok();
    }
    let unified: String = s
        .trim_end_matches('日')
        .chars()
        .map(|c| match c {
            '/' | '.' | '年' | '月' => '-',
            c => c,
        })
        .collect();
    let mut parts = unified.split('-').map(str::trim);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_date_crosses_midnight_before_utc() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            china_date(t),
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
        );
    }

    #[test]
    fn date_formats() {
        let want = NaiveDate::from_ymd_opt(2026, 3, 1);
        for s in [
            "2026-03-01",
            "2026/3/1",
            "2026.3.1",
            "2026年3月1日",
            "20260301",
            "２０２６-03-01",
        ] {
            assert_eq!(parse_date(s), want, "{s}");
        }
        for s in ["2026-02-30", "26-3-1", "", "2026-03", "abc"] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }
}
