//! The scan page's content (`/s/{code}` and `/api/v1/public/shops/{code}`): one model, rendered
//! as HTML or JSON. Only what is public: no records past their publicity period, nothing about
//! consumers.

use askama::Template;
use chrono::Datelike;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::merchants::{CreditRecordRow, MerchantFields, MerchantRow};
use crate::domain::time::china_offset;
use crate::i18n;
use crate::service::merchants::{reason_views, BadgeView, ReasonView};

/// Months without an inspection after which the page says the listing may be stale.
pub const STALE_MONTHS: u32 = 24;

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLicence {
    pub kind: String,
    pub number: String,
    pub issuer: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub expired: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicInspection {
    pub kind: String,
    pub inspected_on: NaiveDate,
    pub department: String,
    pub result: String,
    pub summary: String,
    /// The merchant's reply, in its own words.
    pub reply: Option<PublicReply>,
    /// The merchant has objected to this record and a regulator is checking it.
    pub under_objection: bool,
}

/// A merchant's reply to one of its closed complaints (the complaint's kind and closing day;
/// nothing of the consumer).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicComplaintReply {
    /// The complaint's category.
    pub category: String,
    /// The day the complaint was closed (China time).
    pub closed_on: Option<NaiveDate>,
    pub reply: String,
    /// The day of the reply's last change (China time).
    pub date: NaiveDate,
}

/// A merchant's reply to a record, as the public sees it (marked as the merchant's words).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicReply {
    pub reply: String,
    /// The day of the reply's last change (China time).
    pub date: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicCreditRecord {
    pub kind: String,
    pub department: String,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    pub summary: String,
    pub publicity_until: Option<NaiveDate>,
    /// The merchant's reply, in its own words.
    pub reply: Option<PublicReply>,
    /// The merchant has objected to this record and a regulator is checking it.
    pub under_objection: bool,
}

impl From<CreditRecordRow> for PublicCreditRecord {
    fn from(r: CreditRecordRow) -> Self {
        Self {
            kind: r.kind,
            department: r.department,
            decision_no: r.decision_no,
            decided_on: r.decided_on,
            summary: r.summary,
            publicity_until: r.publicity_until,
            reply: None,
            under_objection: false,
        }
    }
}

/// Complaints against the shop in the last 12 months (shown from a sample of 5).
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintStats {
    pub received: i64,
    pub resolved: i64,
    /// Resolved / received, in percent with one decimal.
    pub resolution_rate: f64,
}

/// Below this many complaints in 12 months the figures are not shown (too few to mean much).
pub const STATS_MIN_SAMPLE: i64 = 5;

/// A consumer warning for the shop's region or category.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicWarning {
    pub title: String,
    pub body: String,
    pub valid_until: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Thumbnail {
    pub url: String,
    pub width: i32,
    pub height: i32,
    /// The display copy (up to 1600 px), for high-density screens.
    pub display_url: String,
    pub display_width: i32,
}

/// Everything the scan page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicShop {
    pub code: String,
    pub name: String,
    pub category: String,
    /// `open`, `seasonal_closed`, `closed`.
    pub status: String,
    pub opening_months: Vec<i16>,
    pub opening_hours: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub grade: String,
    pub grade_reasons: Vec<ReasonView>,
    pub model_merchant: bool,
    pub badges: Vec<BadgeView>,
    pub uscc: String,
    pub legal_representative: Option<String>,
    pub address: Option<String>,
    pub business_scope: Option<String>,
    pub registered_on: Option<NaiveDate>,
    /// The newest 100.
    pub licences: Vec<PublicLicence>,
    /// The latest five.
    pub inspections: Vec<PublicInspection>,
    /// In publicity, the newest 100.
    pub credit_records: Vec<PublicCreditRecord>,
    pub pledges: Vec<String>,
    pub storefront: Option<Thumbnail>,
    /// `null` below a sample of 5 complaints in 12 months.
    pub complaint_stats: Option<ComplaintStats>,
    /// The newest 50 for the shop's region and category.
    pub warnings: Vec<PublicWarning>,
    /// The merchant's replies to its closed complaints, newest first (at most 10).
    pub complaint_replies: Vec<PublicComplaintReply>,
    pub last_updated: DateTime<Utc>,
    /// No inspection for 24 months.
    pub stale: bool,
    /// Closed for the season: the month it expects to open again (the next of its opening
    /// months).
    pub reopens_in: Option<i16>,
    /// When the content changes by time alone (a licence expires, a publicity period ends,
    /// the grade's recheck day, the listing turns stale): the cache's horizon.
    #[serde(skip)]
    pub changes_at: Option<NaiveDate>,
}

/// The month a shop closed for the season expects to open again: the first of its opening
/// months after the current one (wrapping into next year); `None` if it is not closed for the
/// season or has no opening months.
pub fn reopening_month(status: &str, opening_months: &[i16], today: NaiveDate) -> Option<i16> {
    if status != "seasonal_closed" {
        return None;
    }
    let now = i16::try_from(today.month()).unwrap_or(1);
    opening_months
        .iter()
        .copied()
        .filter(|m| (1..=12).contains(m) && *m > now)
        .min()
        .or_else(|| {
            opening_months
                .iter()
                .copied()
                .filter(|m| (1..=12).contains(m))
                .min()
        })
}

/// What a code leads to.
pub enum Lookup {
    Found(Box<PublicShop>),
    Withdrawn,
    Unknown,
}

/// The scan page's model of merchant `m` from what `db::merchants::scan_page_facts` read (its
/// inspections completed for the grade by `db::merchants::complete_for_grade`): no I/O here.
pub fn build(
    code: String,
    m: MerchantRow,
    facts: db::merchants::ScanPageFacts,
    today: NaiveDate,
) -> PublicShop {
    let db::merchants::ScanPageFacts {
        credit,
        mut inspections,
        licences,
        storefront,
        overdue,
        stats,
        warnings,
        replies,
        objected,
    } = facts;
    let objected_to = |kind: &str, id: i64| objected.iter().any(|(k, i)| k == kind && *i == id);
    let reply_of = |kind: &str, id: i64| {
        replies
            .iter()
            .find(|(r, _, _)| r.record_kind == kind && r.record_id == id)
            .map(|(r, _, _)| PublicReply {
                reply: r.body.clone(),
                date: crate::domain::time::china_date(r.updated_at),
            })
    };
    let assessment = db::merchants::assess_rows(&credit, &inspections, overdue, today);
    let (received, resolved, oldest) = stats;
    inspections.truncate(5);
    let (grade_reasons, badges) = reason_views(&assessment);
    let stale_since = today
        .checked_sub_months(chrono::Months::new(STALE_MONTHS))
        .unwrap_or(today);
    let stale = inspections
        .first()
        .is_none_or(|i| i.inspected_on < stale_since);
    let next_day = |d: NaiveDate| d.succ_opt().unwrap_or(d);
    let reopens_in = reopening_month(&m.fields.status, &m.fields.opening_months, today);
    // the expected reopening month is counted from the current month: it may change on the 1st
    let next_month = reopens_in.and_then(|_| {
        today
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
    });
    let changes_at = licences
        .iter()
        .filter_map(|l| l.valid_until.map(next_day))
        .chain(
            credit
                .iter()
                .filter_map(|c| c.publicity_until.map(next_day)),
        )
        .chain(assessment.recheck_on)
        .chain(warnings.iter().map(|w| next_day(w.valid_until)))
        .chain(oldest.and_then(|d| d.checked_add_months(chrono::Months::new(12))))
        .chain(inspections.first().and_then(|i| {
            i.inspected_on
                .checked_add_months(chrono::Months::new(STALE_MONTHS))
                .map(next_day)
        }))
        .chain(next_month)
        .filter(|d| *d > today)
        .min();
    let last_updated = [
        Some(m.updated_at),
        licences.iter().map(|l| l.created_at).max(),
        inspections.iter().map(|i| i.created_at).max(),
        credit.iter().map(|c| c.created_at).max(),
        storefront.as_ref().map(|p| p.created_at),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(m.updated_at);
    let MerchantFields {
        name,
        category,
        status,
        opening_months,
        opening_hours,
        phone,
        description,
        uscc,
        legal_representative,
        address,
        business_scope,
        registered_on,
        pledges,
        ..
    } = m.fields;
    PublicShop {
        code,
        name,
        category,
        status,
        opening_months,
        opening_hours,
        phone,
        description,
        grade: assessment.grade.as_str().to_owned(),
        model_merchant: assessment.model_merchant(),
        grade_reasons,
        badges,
        uscc,
        legal_representative,
        address,
        business_scope,
        registered_on,
        licences: licences
            .into_iter()
            .map(|l| PublicLicence {
                expired: l.valid_until.is_some_and(|u| u < today),
                kind: l.kind,
                number: l.number,
                issuer: l.issuer,
                valid_from: l.valid_from,
                valid_until: l.valid_until,
            })
            .collect(),
        inspections: inspections
            .into_iter()
            .map(|i| PublicInspection {
                reply: reply_of("inspection", i.id),
                under_objection: objected_to("inspection", i.id),
                kind: i.kind,
                inspected_on: i.inspected_on,
                department: i.department,
                result: i.result,
                summary: i.summary,
            })
            .collect(),
        // Every record in publicity counts for the grade; the newest 100 are shown.
        credit_records: credit
            .into_iter()
            .take(db::merchants::RECORDS_SHOWN as usize)
            .map(|r| {
                let reply = reply_of("credit_record", r.id);
                let under_objection = objected_to("credit_record", r.id);
                PublicCreditRecord {
                    reply,
                    under_objection,
                    ..PublicCreditRecord::from(r)
                }
            })
            .collect(),
        pledges,
        storefront: storefront.map(|p| Thumbnail {
            url: p.thumb_url(),
            width: p.thumb_width,
            height: p.thumb_height,
            display_url: p.url(),
            display_width: p.width,
        }),
        complaint_stats: (received >= STATS_MIN_SAMPLE).then(|| ComplaintStats {
            received,
            resolved,
            resolution_rate: (resolved as f64 * 1000.0 / received as f64).round() / 10.0,
        }),
        warnings: warnings
            .into_iter()
            .map(|w| PublicWarning {
                title: w.title,
                body: w.body,
                valid_until: w.valid_until,
            })
            .collect(),
        complaint_replies: replies
            .iter()
            .rev()
            .filter(|(r, _, _)| r.record_kind == "complaint")
            .take(10)
            .map(|(r, category, closed_at)| PublicComplaintReply {
                category: category.clone().unwrap_or_default(),
                closed_on: closed_at.map(crate::domain::time::china_date),
                reply: r.body.clone(),
                date: crate::domain::time::china_date(r.updated_at),
            })
            .collect(),
        last_updated,
        stale,
        reopens_in,
        changes_at,
    }
}

/// Words of one language, for templates: `{{ t.s("page.grade") }}`.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    pub lang: &'static str,
}

impl Words {
    pub fn s<'a>(&self, key: &'a str) -> &'a str {
        i18n::text(self.lang, key)
    }
    /// `prefix.word`, e.g. `w("category", "hotel")`.
    pub fn w(&self, prefix: &str, word: &str) -> String {
        i18n::text(self.lang, &format!("{prefix}.{word}")).to_owned()
    }
    pub fn f(&self, key: &str, name: &str, value: &str) -> String {
        i18n::format(self.lang, key, &[(name, value)])
    }
    /// `key` with several `{name}` placeholders filled in.
    pub fn f2(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::format(self.lang, key, args)
    }
    /// The html `lang` attribute.
    pub fn html_lang(&self) -> &'static str {
        if self.lang == "zh" {
            "zh-CN"
        } else {
            self.lang
        }
    }
    /// The other language's query for the switch link.
    pub fn other(&self) -> &'static str {
        if self.lang == "zh" {
            "en"
        } else {
            "zh"
        }
    }
}

#[derive(Template)]
#[template(path = "shop.html")]
pub struct ShopPage<'a> {
    pub t: Words,
    pub shop: &'a PublicShop,
    /// Each reason's message in the page's language.
    pub reasons: Vec<String>,
    pub badges: Vec<String>,
    pub months: String,
    pub updated: String,
    /// The issuing bureau, named at the top.
    pub bureau: String,
    pub storefront_alt: String,
}

impl<'a> ShopPage<'a> {
    pub fn new(shop: &'a PublicShop, lang: &'static str, bureau: String) -> Self {
        let pick = |m: &std::collections::BTreeMap<String, String>| {
            m.get(lang)
                .or_else(|| m.get("zh"))
                .cloned()
                .unwrap_or_default()
        };
        let months = shop
            .opening_months
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            t: Words { lang },
            reasons: shop
                .grade_reasons
                .iter()
                .map(|r| pick(&r.message))
                .collect(),
            badges: shop.badges.iter().map(|b| pick(&b.message)).collect(),
            months,
            bureau,
            storefront_alt: i18n::format(lang, "page.storefront_alt", &[("name", &shop.name)]),
            updated: shop
                .last_updated
                .with_timezone(&china_offset())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            shop,
        }
    }
}

#[derive(Template)]
#[template(path = "shop_missing.html")]
pub struct MissingPage {
    pub t: Words,
    /// `page.not_found` or `page.gone`.
    pub key: &'static str,
}

impl MissingPage {
    pub fn title_key(&self) -> &'static str {
        match self.key {
            "page.gone" => "page.gone.title",
            "page.unavailable" => "page.unavailable.title",
            "page.cross_site" => "page.cross_site.title",
            _ => "page.not_found.title",
        }
    }
    pub fn body_key(&self) -> &'static str {
        match self.key {
            "page.gone" => "page.gone.body",
            "page.unavailable" => "page.unavailable.body",
            "page.cross_site" => "page.cross_site.body",
            _ => "page.not_found.body",
        }
    }
}

#[cfg(test)]
mod reopening_tests {
    use super::reopening_month;
    use chrono::NaiveDate;

    #[test]
    fn the_next_opening_month_wrapping_into_next_year() {
        let nov = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let months = [5, 6, 7, 8, 9, 10];
        assert_eq!(reopening_month("seasonal_closed", &months, nov), Some(5));
        let apr = NaiveDate::from_ymd_opt(2026, 4, 2).unwrap();
        assert_eq!(reopening_month("seasonal_closed", &months, apr), Some(5));
        let jul = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(reopening_month("seasonal_closed", &months, jul), Some(8));
        assert_eq!(reopening_month("open", &months, nov), None);
        assert_eq!(reopening_month("seasonal_closed", &[], nov), None);
    }
}
