//! Administrative division codes (GB/T 2260): six digits, `PPCCDD` — province, prefecture, county.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RegionCode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionLevel {
    Province,
    Prefecture,
    County,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionCodeError {
    #[error("a region code is six digits (GB/T 2260), got {0:?}")]
    NotSixDigits(String),
    #[error("a region code cannot start with 0")]
    LeadingZero,
}

impl RegionCode {
    pub fn parse(raw: &str) -> Result<Self, RegionCodeError> {
        let s = raw.trim();
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionCodeError::NotSixDigits(s.chars().take(20).collect()));
        }
        if s.starts_with('0') {
            return Err(RegionCodeError::LeadingZero);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> RegionLevel {
        if self.0.ends_with("0000") {
            RegionLevel::Province
        } else if self.0.ends_with("00") {
            RegionLevel::Prefecture
        } else {
            RegionLevel::County
        }
    }

    /// Whether this division contains `other` (or is it): a province covers its prefectures and
    /// counties, a prefecture its counties, a county only itself.
    pub fn covers(&self, other: &RegionCode) -> bool {
        let prefix = match self.level() {
            RegionLevel::Province => 2,
            RegionLevel::Prefecture => 4,
            RegionLevel::County => 6,
        };
        self.0[..prefix] == other.0[..prefix]
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rc(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!(rc(" 513230 ").as_str(), "513230");
        assert!(matches!(
            RegionCode::parse("51323"),
            Err(RegionCodeError::NotSixDigits(_))
        ));
        assert!(matches!(
            RegionCode::parse("51323a"),
            Err(RegionCodeError::NotSixDigits(_))
        ));
        assert_eq!(
            RegionCode::parse("013230"),
            Err(RegionCodeError::LeadingZero)
        );
    }

    #[test]
    fn levels() {
        assert_eq!(rc("510000").level(), RegionLevel::Province);
        assert_eq!(rc("513200").level(), RegionLevel::Prefecture);
        assert_eq!(rc("513230").level(), RegionLevel::County);
    }

    #[test]
    fn prefecture_covers_its_counties_only() {
        let aba = rc("513200");
        assert!(aba.covers(&rc("513200")));
        assert!(aba.covers(&rc("513230")));
        assert!(aba.covers(&rc("513201")));
        assert!(!aba.covers(&rc("513100")));
        assert!(!aba.covers(&rc("510104")));
        let rangtang = rc("513230");
        assert!(rangtang.covers(&rc("513230")));
        assert!(!rangtang.covers(&rc("513231")));
        assert!(
            !rangtang.covers(&aba),
            "a county does not cover its prefecture"
        );
        assert!(rc("510000").covers(&rc("513230")));
    }

    proptest! {
        #[test]
        fn every_code_covers_itself(code in "[1-9][0-9]{5}") {
            let c = rc(&code);
            prop_assert!(c.covers(&c));
        }

        #[test]
        fn county_covers_nothing_else(a in "[1-9][0-9]{3}[0-9][1-9]", b in "[1-9][0-9]{5}") {
            let (a, b) = (rc(&a), rc(&b));
            prop_assert_eq!(a.covers(&b), a == b);
        }
    }
}
