//! A merchant's registry fields as they arrive (API body, PATCH merged onto the stored record,
//! or an imported row), and the one validation they all go through.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::NaiveDate;
use serde::Deserialize;

use super::merchant::{parse_opening_months, Category, Status};
use super::phone::Phone;
use super::region::RegionCode;
use super::text::{clean_ident, clean_text, clean_text_opt, control_char_error};
use super::time::parse_date;
use super::uscc::{check_char_warning, check_digit_error, Uscc};
use super::FieldError;

/// Every field as given, unparsed. `None` and blank mean "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MerchantDraft {
    pub uscc: Option<String>,
    pub name: Option<String>,
    pub legal_representative: Option<String>,
    pub category: Option<String>,
    pub region_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub business_scope: Option<String>,
    pub registered_on: Option<String>,
    pub status: Option<String>,
    pub opening_hours: Option<String>,
    pub opening_months: Option<Vec<i32>>,
    pub description: Option<String>,
    pub pledges: Option<Vec<String>>,
    pub region_override_reason: Option<String>,
    pub uscc_check_override_reason: Option<String>,
}

/// A merchant whose every field obeys its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMerchant {
    pub uscc: Uscc,
    pub name: String,
    pub legal_representative: Option<String>,
    pub category: Category,
    pub region_code: RegionCode,
    pub address: Option<String>,
    pub phone: Option<Phone>,
    pub business_scope: Option<String>,
    pub registered_on: Option<NaiveDate>,
    pub status: Status,
    pub opening_hours: Option<String>,
    pub opening_months: Vec<i16>,
    pub description: Option<String>,
    pub pledges: Vec<String>,
    pub region_override_reason: Option<String>,
    pub uscc_check_override_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Aliases {
    headers: HashMap<String, Vec<String>>,
    categories: HashMap<String, Vec<String>>,
    statuses: HashMap<String, Vec<String>>,
}

static ALIASES: LazyLock<Aliases> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../assets/import-aliases.json"))
        .expect("assets/import-aliases.json is valid")
});

fn key(s: &str) -> String {
    clean_ident(s).to_lowercase()
}

fn lookup(table: &HashMap<String, Vec<String>>, raw: &str) -> Option<String> {
    let k = key(raw);
    table
        .iter()
        .find(|(word, aliases)| **word == k || aliases.iter().any(|a| key(a) == k))
        .map(|(word, _)| word.clone())
}

/// The field a column header names (Chinese or English), if any.
pub fn header_field(header: &str) -> Option<String> {
    lookup(&ALIASES.headers, header)
}

fn parse_category(raw: &str) -> Result<Category, FieldError> {
    let word = lookup(&ALIASES.categories, raw).unwrap_or_else(|| key(raw));
    Category::parse_field(&word, "category")
}

fn parse_status(raw: &str) -> Result<Status, FieldError> {
    let word = lookup(&ALIASES.statuses, raw).unwrap_or_else(|| key(raw));
    Status::parse_field(&word, "status")
}

fn bounded(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    max: usize,
) -> Option<String> {
    let raw = value.as_deref()?;
    if let Some(e) = control_char_error(field, raw) {
        errors.push(e);
        return None;
    }
    let v = clean_text_opt(raw)?;
    if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} has at most {max} characters"),
        ));
        return None;
    }
    Some(v)
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !clean_text(s).is_empty())
}

impl MerchantDraft {
    /// Sets a text field by its name; false if `field` is not a text field of the draft
    /// (`opening_months` and `pledges` are lists).
    pub fn set_text(&mut self, field: &str, value: Option<String>) -> bool {
        let slot = match field {
            "uscc" => &mut self.uscc,
            "name" => &mut self.name,
            "legal_representative" => &mut self.legal_representative,
            "category" => &mut self.category,
            "region_code" => &mut self.region_code,
            "address" => &mut self.address,
            "phone" => &mut self.phone,
            "business_scope" => &mut self.business_scope,
            "registered_on" => &mut self.registered_on,
            "status" => &mut self.status,
            "opening_hours" => &mut self.opening_hours,
            "description" => &mut self.description,
            "region_override_reason" => &mut self.region_override_reason,
            "uscc_check_override_reason" => &mut self.uscc_check_override_reason,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// Validates every field, collecting every failure. `warnings` receives accepted oddities
    /// (an early pilot USCC). Jurisdiction and the region's existence are the caller's checks.
    pub fn validate(
        &self,
        today: NaiveDate,
        warnings: &mut Vec<FieldError>,
    ) -> Result<ValidMerchant, Vec<FieldError>> {
        let mut errors = Vec::new();
        let uscc_check_override_reason = bounded(
            &mut errors,
            "uscc_check_override_reason",
            &self.uscc_check_override_reason,
            500,
        );
        let uscc = match present(&self.uscc) {
            None => {
                errors.push(FieldError::new("uscc", "required", "uscc is required"));
                None
            }
            Some(raw) => match Uscc::parse(raw) {
                Ok(u) if u.check_char_warning() && uscc_check_override_reason.is_none() => {
                    errors.push(check_digit_error("uscc", &u));
                    None
                }
                Ok(u) => {
                    if u.check_char_warning() {
                        warnings.push(check_char_warning("uscc", &u));
                    }
                    Some(u)
                }
                Err(e) => {
                    errors.push(e.field_error("uscc"));
                    None
                }
            },
        };
        let name = match bounded(&mut errors, "name", &self.name, 200) {
            Some(n) => Some(n),
            None => {
                if !errors.iter().any(|e| e.field == "name") {
                    errors.push(FieldError::new("name", "required", "name is required"));
                }
                None
            }
        };
        let legal_representative = bounded(
            &mut errors,
            "legal_representative",
            &self.legal_representative,
            100,
        );
        let category = match present(&self.category) {
            None => Some(Category::Other),
            Some(raw) => parse_category(raw).map_err(|e| errors.push(e)).ok(),
        };
        let region_code = match present(&self.region_code) {
            None => {
                // Default to the USCC's own region when none is given.
                match &uscc {
                    Some(u) => RegionCode::parse(u.region_part())
                        .map_err(|e| {
                            errors.push(FieldError::new(
                                "region_code",
                                "invalid_region",
                                e.to_string(),
                            ))
                        })
                        .ok(),
                    None => {
                        errors.push(FieldError::new(
                            "region_code",
                            "required",
                            "region_code is required",
                        ));
                        None
                    }
                }
            }
            Some(raw) => RegionCode::parse(&clean_ident(raw))
                .map_err(|e| {
                    errors.push(FieldError::new(
                        "region_code",
                        "invalid_region",
                        e.to_string(),
                    ))
                })
                .ok(),
        };
        let region_override_reason = bounded(
            &mut errors,
            "region_override_reason",
            &self.region_override_reason,
            500,
        );
        if let (Some(u), Some(r)) = (&uscc, &region_code) {
            let consistent = RegionCode::parse(u.region_part())
                .map(|registered| registered.covers(r))
                .unwrap_or(false);
            if !consistent && region_override_reason.is_none() {
                errors.push(FieldError::new(
                    "region_code",
                    "region_mismatch",
                    format!(
                        "region_code {r} does not match the USCC's registration region {} \
                         (characters 3–8); give region_override_reason to keep it",
                        u.region_part()
                    ),
                ));
            }
        }
        let address = bounded(&mut errors, "address", &self.address, 300);
        let phone = match present(&self.phone) {
            None => None,
            Some(raw) => Phone::parse(raw).map_err(|e| errors.push(e)).ok(),
        };
        let business_scope = bounded(&mut errors, "business_scope", &self.business_scope, 2000);
        let registered_on = match present(&self.registered_on) {
            None => None,
            Some(raw) => match parse_date(raw) {
                Some(d) if d > today => {
                    errors.push(FieldError::new(
                        "registered_on",
                        "in_future",
                        "registered_on cannot be after today",
                    ));
                    None
                }
                Some(d) => Some(d),
                None => {
                    errors.push(FieldError::new(
                        "registered_on",
                        "invalid_date",
                        "registered_on must be a date, e.g. 2019-05-20",
                    ));
                    None
                }
            },
        };
        let status = match present(&self.status) {
            None => Some(Status::Open),
            Some(raw) => parse_status(raw).map_err(|e| errors.push(e)).ok(),
        };
        let opening_hours = bounded(&mut errors, "opening_hours", &self.opening_hours, 100);
        let opening_months = parse_opening_months(
            self.opening_months.as_deref().unwrap_or_default(),
            "opening_months",
        )
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
        let description = bounded(&mut errors, "description", &self.description, 1000);
        let mut pledges = Vec::new();
        let given = self.pledges.as_deref().unwrap_or_default();
        if given.len() > 10 {
            errors.push(FieldError::new("pledges", "too_many", "at most 10 pledges"));
        }
        for (i, p) in given.iter().enumerate().take(10) {
            if let Some(e) = control_char_error(&format!("pledges[{i}]"), p) {
                errors.push(e);
                continue;
            }
            let p = clean_text(p);
            if p.is_empty() || p.chars().count() > 200 {
                errors.push(FieldError::new(
                    format!("pledges[{i}]"),
                    "invalid_pledge",
                    "a pledge has 1–200 characters",
                ));
            } else {
                pledges.push(p);
            }
        }
        match (uscc, name, category, region_code, status) {
            (Some(uscc), Some(name), Some(category), Some(region_code), Some(status))
                if errors.is_empty() =>
            {
                let checks_wrong = uscc.check_char_warning();
                Ok(ValidMerchant {
                    uscc,
                    name,
                    legal_representative,
                    category,
                    region_code,
                    address,
                    phone,
                    business_scope,
                    registered_on,
                    status,
                    opening_hours,
                    opening_months,
                    description,
                    pledges,
                    region_override_reason,
                    // Kept only while it explains something: a valid code needs no reason.
                    uscc_check_override_reason: uscc_check_override_reason.filter(|_| checks_wrong),
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn draft() -> MerchantDraft {
        MerchantDraft {
            uscc: Some(
                Uscc::build("92", "513230", "MA620000")
                    .unwrap()
                    .into_string(),
            ),
            name: Some("  壤塘县 藏家饭店 ".into()),
            category: Some("餐饮".into()),
            region_code: Some("513230".into()),
            phone: Some("0837-2822222".into()),
            registered_on: Some("2019年5月20日".into()),
            status: Some("季节性歇业".into()),
            opening_months: Some(vec![10, 5, 6]),
            ..Default::default()
        }
    }

    fn codes(errs: &[FieldError]) -> Vec<(&str, &str)> {
        errs.iter().map(|e| (e.field.as_str(), e.code)).collect()
    }

    #[test]
    fn valid_draft_normalises() {
        let mut w = vec![];
        let m = draft().validate(today(), &mut w).unwrap();
        assert!(w.is_empty());
        assert_eq!(m.name, "壤塘县 藏家饭店");
        assert_eq!(m.category, Category::Restaurant);
        assert_eq!(m.status, Status::SeasonalClosed);
        assert_eq!(m.opening_months, vec![5, 6, 10]);
        assert_eq!(m.registered_on, NaiveDate::from_ymd_opt(2019, 5, 20));
    }

    #[test]
    fn every_failure_is_reported_with_its_field() {
        let d = MerchantDraft {
            uscc: Some("91350100M000100X43".into()),
            name: Some("   ".into()),
            category: Some("bar".into()),
            phone: Some("12".into()),
            registered_on: Some("2030-01-01".into()),
            ..draft()
        };
        let errs = d.validate(today(), &mut vec![]).unwrap_err();
        assert_eq!(
            codes(&errs),
            [
                ("uscc", "uscc_org_code_check"),
                ("name", "required"),
                ("category", "invalid_category"),
                ("phone", "invalid_phone"),
                ("registered_on", "in_future"),
            ]
        );
    }

    #[test]
    fn region_must_match_uscc_unless_overridden() {
        let d = MerchantDraft {
            region_code: Some("513231".into()),
            ..draft()
        };
        let errs = d.validate(today(), &mut vec![]).unwrap_err();
        assert_eq!(codes(&errs), [("region_code", "region_mismatch")]);
        let d = MerchantDraft {
            region_override_reason: Some("registered at the county seat, trades in Aba".into()),
            ..d
        };
        assert!(d.validate(today(), &mut vec![]).is_ok());
        // A prefecture-registered code covers its counties.
        let d = MerchantDraft {
            uscc: Some(
                Uscc::build("91", "513200", "MA620000")
                    .unwrap()
                    .into_string(),
            ),
            ..draft()
        };
        assert!(d.validate(today(), &mut vec![]).is_ok());
    }

    #[test]
    fn wrong_check_character_is_refused_unless_overridden() {
        let mut code = Uscc::build("92", "513230", "MA620000")
            .unwrap()
            .into_string();
        let last = code.pop().unwrap();
        code.push(if last == '0' { '1' } else { '0' });
        let d = MerchantDraft {
            uscc: Some(code),
            ..draft()
        };
        let errs = d.validate(today(), &mut vec![]).unwrap_err();
        assert_eq!(codes(&errs), [("uscc", "uscc_check_digit")]);
        let d = MerchantDraft {
            uscc_check_override_reason: Some("2015 年试点期核发，营业执照原件如此".into()),
            ..d
        };
        let mut w = vec![];
        let m = d.validate(today(), &mut w).unwrap();
        assert_eq!(w[0].code, "uscc_check_char");
        assert!(m.uscc_check_override_reason.is_some());
    }

    #[test]
    fn headers_in_both_languages() {
        assert_eq!(header_field("统一社会信用代码").as_deref(), Some("uscc"));
        assert_eq!(header_field(" USCC ").as_deref(), Some("uscc"));
        assert_eq!(header_field("名称").as_deref(), Some("name"));
        assert_eq!(header_field("成立日期").as_deref(), Some("registered_on"));
        assert_eq!(header_field("备注"), None);
    }
}
