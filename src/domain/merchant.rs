//! The vocabulary of the merchant registry: categories, statuses, licence, inspection and
//! credit-record kinds. Each is a closed set with a stable snake_case word used in JSON, the
//! database and the locale files (`category.pharmacy` …).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldError;

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident, $field:literal, $code:literal { $($(#[$vm:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// Parses the English word, reporting `field` and the allowed words on failure.
            pub fn parse_field(s: &str, field: &str) -> Result<Self, FieldError> {
                match s.trim() {
                    $($word => Ok($name::$variant),)+
                    _ => Err(FieldError::new(
                        field,
                        $code,
                        format!("{} must be one of {}", field, [$($word),+].join(", ")),
                    )),
                }
            }
        }

        impl FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                Self::parse_field(s, $field)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use word_enum;

word_enum!(
    /// What kind of business (the programme's four sectors, plus retail and other).
    Category, "category", "invalid_category" {
        Pharmacy = "pharmacy",
        Restaurant = "restaurant",
        ScenicSpot = "scenic_spot",
        Hotel = "hotel",
        Retail = "retail",
        Other = "other",
    }
);

word_enum!(
    /// Whether the shop trades: many close for the off-season in a tourist prefecture.
    Status, "status", "invalid_status" {
        Open = "open",
        SeasonalClosed = "seasonal_closed",
        Closed = "closed",
    }
);

word_enum!(
    LicenceKind, "kind", "invalid_licence_kind" {
        /// 营业执照
        BusinessLicence = "business_licence",
        /// 食品经营许可证
        FoodBusiness = "food_business",
        /// 药品经营许可证
        DrugBusiness = "drug_business",
        /// 特种行业许可证 (hotels)
        SpecialTrade = "special_trade",
        /// 卫生许可证
        Hygiene = "hygiene",
        Other = "other",
    }
);

word_enum!(
    InspectionKind, "kind", "invalid_inspection_kind" {
        /// 日常监督检查
        Routine = "routine",
        /// 双随机抽查
        Random = "random",
        /// 专项检查
        Special = "special",
        /// 产品抽检
        Sampling = "sampling",
    }
);

word_enum!(
    InspectionResult, "result", "invalid_inspection_result" {
        Pass = "pass",
        Fail = "fail",
        /// 责令整改
        Rectify = "rectify",
    }
);

word_enum!(
    CreditKind, "kind", "invalid_credit_kind" {
        /// 行政处罚
        Penalty = "penalty",
        /// 经营异常名录
        AbnormalList = "abnormal_list",
        /// 严重违法失信名单
        SeriousViolation = "serious_violation",
        /// 放心舒心示范户 and other commendations
        Commendation = "commendation",
    }
);

word_enum!(
    PhotoKind, "kind", "invalid_photo_kind" {
        Storefront = "storefront",
        Interior = "interior",
    }
);

impl Status {
    /// The statuses a merchant may set itself; closing for good is a regulator's decision.
    pub fn merchant_settable(self) -> bool {
        matches!(self, Status::Open | Status::SeasonalClosed)
    }
}

/// Opening months (1–12) of a seasonal business, sorted and without duplicates.
pub fn parse_opening_months(months: &[i32], field: &str) -> Result<Vec<i16>, FieldError> {
    let mut out: Vec<i16> = Vec::with_capacity(months.len());
    for &m in months {
        if !(1..=12).contains(&m) {
            return Err(FieldError::new(
                field,
                "invalid_month",
                format!("months are 1–12, got {m}"),
            ));
        }
        out.push(m as i16);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), *c);
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.as_str().into())
            );
        }
        for k in CreditKind::ALL {
            assert_eq!(k.as_str().parse::<CreditKind>().unwrap(), *k);
        }
        let e = "bar".parse::<Category>().unwrap_err();
        assert_eq!(e.code, "invalid_category");
        assert!(e.message.contains("scenic_spot"));
        assert!(!Status::Closed.merchant_settable());
    }

    #[test]
    fn months() {
        assert_eq!(
            parse_opening_months(&[10, 5, 5, 6], "m").unwrap(),
            vec![5, 6, 10]
        );
        assert_eq!(
            parse_opening_months(&[0], "opening_months")
                .unwrap_err()
                .code,
            "invalid_month"
        );
    }
}
