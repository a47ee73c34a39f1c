//! The credit grade (信用风险分类): a pure function of a merchant's records and today's date.
//! The rule table is in docs/credit-grade.md; every row has a test below.
//!
//! Only records in their publicity period count or show: a record whose `publicity_until` has
//! passed is gone from the grade and from the reasons (信用修复, credit repair). A commendation
//! (model merchant) is a badge, never a better grade.

use chrono::{Days, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use super::merchant::{CreditKind, InspectionResult};

/// A (low risk) … D (high risk). Ordered so that `max` is the worse grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "A" | "a" => Some(Grade::A),
            "B" | "b" => Some(Grade::B),
            "C" | "c" => Some(Grade::C),
            "D" | "d" => Some(Grade::D),
            _ => None,
        }
    }
}

/// How long a penalty weighs as "recent" (grade C) before it weighs as "past" (grade B).
pub const RECENT_DAYS: u64 = 365;

/// A credit record as the grade sees it.
#[derive(Debug, Clone)]
pub struct CreditFact {
    pub id: i64,
    pub kind: CreditKind,
    pub department: String,
    pub decided_on: NaiveDate,
    /// None: in publicity until a regulator ends it (e.g. removal from the abnormal list).
    pub publicity_until: Option<NaiveDate>,
}

impl CreditFact {
    /// In its publicity period on `today` (the last day included).
    pub fn is_current(&self, today: NaiveDate) -> bool {
        self.publicity_until.is_none_or(|until| until >= today)
    }
}

#[derive(Debug, Clone)]
pub struct InspectionFact {
    pub id: i64,
    pub result: InspectionResult,
    pub department: String,
    pub inspected_on: NaiveDate,
}

/// Where a reason comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Source {
    CreditRecord(i64),
    Inspection(i64),
}

/// One reason for the grade, in the order the rule table lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Stable word, also the locale key `reason.{code}`.
    pub code: &'static str,
    /// The grade this reason alone would give.
    pub grade: Grade,
    pub source: Option<Source>,
    pub date: Option<NaiveDate>,
    pub department: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub code: &'static str,
    pub source: Source,
    pub date: NaiveDate,
    pub department: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub grade: Grade,
    pub reasons: Vec<Reason>,
    pub badges: Vec<Badge>,
    /// The first day after `today` on which the assessment can change by the passing of time
    /// alone (a publicity period ends, a penalty stops being recent); None if never.
    pub recheck_on: Option<NaiveDate>,
}

impl Assessment {
    pub fn model_merchant(&self) -> bool {
        self.badges.iter().any(|b| b.code == "model_merchant")
    }
}

fn plus_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(NaiveDate::MAX)
}

/// Grades a merchant. `overdue_complaints`: complaints past a handling deadline and not closed.
pub fn assess(
    credit: &[CreditFact],
    inspections: &[InspectionFact],
    overdue_complaints: u32,
    today: NaiveDate,
) -> Assessment {
    let mut reasons = Vec::new();
    let mut badges = Vec::new();
    let mut changes: Vec<NaiveDate> = Vec::new();
    let recent_start = today
        .checked_sub_days(Days::new(RECENT_DAYS))
        .unwrap_or(NaiveDate::MIN);

    let mut current: Vec<&CreditFact> = credit.iter().filter(|c| c.is_current(today)).collect();
    current.sort_by_key(|c| (std::cmp::Reverse(c.decided_on), c.id));
    for c in &current {
        if let Some(until) = c.publicity_until {
            changes.push(plus_days(until, 1));
        }
        let reason = |code, grade| Reason {
            code,
            grade,
            source: Some(Source::CreditRecord(c.id)),
            date: Some(c.decided_on),
            department: Some(c.department.clone()),
        };
        match c.kind {
            CreditKind::SeriousViolation => reasons.push(reason("serious_violation", Grade::D)),
            CreditKind::AbnormalList => reasons.push(reason("abnormal_list", Grade::C)),
            CreditKind::Penalty if c.decided_on > recent_start => {
                changes.push(plus_days(c.decided_on, RECENT_DAYS));
                reasons.push(reason("recent_penalty", Grade::C));
            }
            CreditKind::Penalty => reasons.push(reason("past_penalty", Grade::B)),
            CreditKind::Commendation => badges.push(Badge {
                code: "model_merchant",
                source: Source::CreditRecord(c.id),
                date: c.decided_on,
                department: c.department.clone(),
            }),
        }
    }

    let mut recent: Vec<&InspectionFact> = inspections
        .iter()
        .filter(|i| i.inspected_on > recent_start && i.inspected_on <= today)
        .collect();
    recent.sort_by_key(|i| (std::cmp::Reverse(i.inspected_on), std::cmp::Reverse(i.id)));
    for i in &recent {
        if i.result == InspectionResult::Fail {
            changes.push(plus_days(i.inspected_on, RECENT_DAYS));
            reasons.push(Reason {
                code: "failed_inspection",
                grade: Grade::B,
                source: Some(Source::Inspection(i.id)),
                date: Some(i.inspected_on),
                department: Some(i.department.clone()),
            });
        }
    }
    if let Some(latest) = recent.first() {
        if latest.result == InspectionResult::Rectify {
            changes.push(plus_days(latest.inspected_on, RECENT_DAYS));
            reasons.push(Reason {
                code: "rectification_ordered",
                grade: Grade::B,
                source: Some(Source::Inspection(latest.id)),
                date: Some(latest.inspected_on),
                department: Some(latest.department.clone()),
            });
        }
    }
    // Inspections dated in the future (data entry ahead of time) start counting on their day.
    changes.extend(
        inspections
            .iter()
            .filter(|i| i.inspected_on > today)
            .map(|i| i.inspected_on),
    );

    if overdue_complaints > 0 {
        reasons.push(Reason {
            code: "overdue_complaints",
            grade: Grade::B,
            source: None,
            date: None,
            department: None,
        });
    }

    reasons.sort_by_key(|r| std::cmp::Reverse(r.grade));
    let grade = reasons.iter().map(|r| r.grade).max().unwrap_or(Grade::A);
    if reasons.is_empty() {
        reasons.push(Reason {
            code: "no_adverse_records",
            grade: Grade::A,
            source: None,
            date: None,
            department: None,
        });
    }
    Assessment {
        grade,
        reasons,
        badges,
        recheck_on: changes.into_iter().filter(|d| *d > today).min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn credit(id: i64, kind: CreditKind, decided: &str, until: Option<&str>) -> CreditFact {
        CreditFact {
            id,
            kind,
            department: "阿坝州市场监督管理局".into(),
            decided_on: d(decided),
            publicity_until: until.map(d),
        }
    }
    fn insp(id: i64, result: InspectionResult, on: &str) -> InspectionFact {
        InspectionFact {
            id,
            result,
            department: "马尔康市市场监督管理局".into(),
            inspected_on: d(on),
        }
    }
    fn codes(a: &Assessment) -> Vec<&'static str> {
        a.reasons.iter().map(|r| r.code).collect()
    }
    const TODAY: &str = "2026-11-22";

    // Row 1: serious-violation list in publicity → D.
    #[test]
    fn row1_serious_violation_is_d() {
        let a = assess(
            &[
                credit(
                    1,
                    CreditKind::SeriousViolation,
                    "2025-06-01",
                    Some("2028-06-01"),
                ),
                credit(2, CreditKind::Penalty, "2026-05-01", Some("2027-05-01")),
            ],
            &[],
            0,
            d(TODAY),
        );
        assert_eq!(a.grade, Grade::D);
        assert_eq!(codes(&a), ["serious_violation", "recent_penalty"]);
        assert_eq!(a.reasons[0].source, Some(Source::CreditRecord(1)));
    }

    // Row 2: abnormal-operation list (open-ended) → C.
    #[test]
    fn row2_abnormal_list_is_c() {
        let a = assess(
            &[credit(3, CreditKind::AbnormalList, "2020-01-01", None)],
            &[],
            0,
            d(TODAY),
        );
        assert_eq!((a.grade, codes(&a)), (Grade::C, vec!["abnormal_list"]));
        assert_eq!(a.recheck_on, None);
    }

    // Row 3: penalty decided within 365 days → C, turning B when it stops being recent.
    #[test]
    fn row3_recent_penalty_is_c_then_b() {
        let records = [credit(
            4,
            CreditKind::Penalty,
            "2026-01-10",
            Some("2028-01-10"),
        )];
        let a = assess(&records, &[], 0, d(TODAY));
        assert_eq!((a.grade, codes(&a)), (Grade::C, vec!["recent_penalty"]));
        assert_eq!(a.recheck_on, Some(d("2027-01-10")));
        let later = assess(&records, &[], 0, d("2027-01-10"));
        assert_eq!(
            (later.grade, codes(&later)),
            (Grade::B, vec!["past_penalty"])
        );
    }

    // Row 4: penalty older than 365 days but still in publicity → B.
    #[test]
    fn row4_past_penalty_is_b() {
        let a = assess(
            &[credit(
                5,
                CreditKind::Penalty,
                "2024-03-01",
                Some("2027-03-01"),
            )],
            &[],
            0,
            d(TODAY),
        );
        assert_eq!((a.grade, codes(&a)), (Grade::B, vec!["past_penalty"]));
        assert_eq!(a.recheck_on, Some(d("2027-03-02")));
    }

    // Row 5: a failed inspection within 365 days → B; older → no effect.
    #[test]
    fn row5_failed_inspection_is_b() {
        let a = assess(
            &[],
            &[
                insp(6, InspectionResult::Fail, "2026-02-01"),
                insp(7, InspectionResult::Pass, "2026-08-01"),
            ],
            0,
            d(TODAY),
        );
        assert_eq!((a.grade, codes(&a)), (Grade::B, vec!["failed_inspection"]));
        assert_eq!(a.reasons[0].source, Some(Source::Inspection(6)));
        let old = assess(
            &[],
            &[insp(6, InspectionResult::Fail, "2025-11-01")],
            0,
            d(TODAY),
        );
        assert_eq!(old.grade, Grade::A);
    }

    // Row 6: the latest inspection ordered rectification → B; a later pass clears it.
    #[test]
    fn row6_rectification_is_b_until_a_later_pass() {
        let rect = insp(8, InspectionResult::Rectify, "2026-09-01");
        let a = assess(&[], std::slice::from_ref(&rect), 0, d(TODAY));
        assert_eq!(
            (a.grade, codes(&a)),
            (Grade::B, vec!["rectification_ordered"])
        );
        let cleared = assess(
            &[],
            &[rect, insp(9, InspectionResult::Pass, "2026-10-01")],
            0,
            d(TODAY),
        );
        assert_eq!(cleared.grade, Grade::A);
    }

    // Row 7: overdue complaints → B.
    #[test]
    fn row7_overdue_complaints_are_b() {
        let a = assess(&[], &[], 2, d(TODAY));
        assert_eq!((a.grade, codes(&a)), (Grade::B, vec!["overdue_complaints"]));
        assert_eq!(a.reasons[0].source, None);
    }

    // Row 8: nothing adverse → A, with the reason saying so.
    #[test]
    fn row8_clean_record_is_a() {
        let a = assess(
            &[],
            &[insp(10, InspectionResult::Pass, "2026-06-01")],
            0,
            d(TODAY),
        );
        assert_eq!((a.grade, codes(&a)), (Grade::A, vec!["no_adverse_records"]));
        assert!(!a.model_merchant());
    }

    // Badge: a commendation in publicity is a badge and does not lift a grade.
    #[test]
    fn commendation_is_a_badge_not_a_grade() {
        let a = assess(
            &[
                credit(
                    11,
                    CreditKind::Commendation,
                    "2026-03-15",
                    Some("2027-03-15"),
                ),
                credit(12, CreditKind::Penalty, "2026-04-01", Some("2027-04-01")),
            ],
            &[],
            0,
            d(TODAY),
        );
        assert!(a.model_merchant());
        assert_eq!(a.grade, Grade::C);
        assert_eq!(a.badges[0].source, Source::CreditRecord(11));
    }

    // Expired records neither count nor show; the last day of publicity still counts.
    #[test]
    fn expired_records_do_not_count_or_show() {
        let records = [
            credit(
                13,
                CreditKind::SeriousViolation,
                "2023-01-01",
                Some("2026-11-22"),
            ),
            credit(
                14,
                CreditKind::Commendation,
                "2025-01-01",
                Some("2026-01-01"),
            ),
        ];
        let last_day = assess(&records, &[], 0, d("2026-11-22"));
        assert_eq!(last_day.grade, Grade::D);
        assert_eq!(last_day.recheck_on, Some(d("2026-11-23")));
        let after = assess(&records, &[], 0, d("2026-11-23"));
        assert_eq!(
            (after.grade, codes(&after)),
            (Grade::A, vec!["no_adverse_records"])
        );
        assert!(after.badges.is_empty());
    }

    // The worst reason decides; reasons are listed worst first.
    #[test]
    fn worst_reason_decides() {
        let a = assess(
            &[credit(15, CreditKind::AbnormalList, "2026-01-01", None)],
            &[insp(16, InspectionResult::Fail, "2026-10-01")],
            1,
            d(TODAY),
        );
        assert_eq!(a.grade, Grade::C);
        assert_eq!(
            codes(&a),
            ["abnormal_list", "failed_inspection", "overdue_complaints"]
        );
    }
}
