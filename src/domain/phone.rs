//! Mainland China phone numbers: mobiles (11 digits, 1[3-9]…), landlines with an area code
//! (0xx or 0xxx, then 7–8 digits, optional extension), and 400/800 service numbers.
//! Accepts the ways people write them (+86, spaces, dashes, brackets, full-width digits) and
//! stores one canonical form: `13812345678`, `0837-2822222`, `0837-2822222-801`, `400-123-4567`.

use std::fmt;

use super::text::fold_width;
use super::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneKind {
    Mobile,
    Landline,
    Service,
}

const RULE: &str = "a mainland mobile (11 digits starting 13–19) or a landline with its area \
                    code, e.g. 0837-2822222";

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_field(raw, "phone")
    }

    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new(field, "invalid_phone", format!("phone must be {RULE}"));
        let folded = fold_width(raw);
        let s = folded.trim();
        // Split off an extension written as "转801", "ext 801", "x801" or "#801".
        let (main, ext) = split_extension(s);
        let mut digits = String::with_capacity(16);
        for c in main.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' | '（' | '）' | '.' => {}
                '+' if digits.is_empty() => {}
                _ => return Err(bad()),
            }
        }
        // Country code.
        let digits = if digits.len() > 11 && digits.starts_with("0086") {
            &digits[4..]
        } else if digits.len() > 11 && digits.starts_with("86") {
            &digits[2..]
        } else {
            &digits[..]
        };
        let ext = match ext {
            Some(e) if !e.is_empty() && e.len() <= 6 && e.bytes().all(|b| b.is_ascii_digit()) => {
                Some(e)
            }
            Some(_) => return Err(bad()),
            None => None,
        };
        let b = digits.as_bytes();
        if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            if ext.is_some() {
                return Err(bad());
            }
            return Ok(Self(digits.to_owned()));
        }
        if b.len() == 10 && (digits.starts_with("400") || digits.starts_with("800")) {
            return Ok(Self(format!(
                "{}-{}-{}",
                &digits[..3],
                &digits[3..6],
                &digits[6..]
            )));
        }
        if b.first() == Some(&b'0') && b.len() >= 10 {
            // 010 and 02x are three-digit area codes; the rest are four.
            let area_len = if digits.starts_with("010") || digits.starts_with("02") {
                3
            } else {
                4
            };
            let local = &digits[area_len..];
            if (7..=8).contains(&local.len()) && !local.starts_with('0') && !local.starts_with('1')
            {
                let mut out = format!("{}-{}", &digits[..area_len], local);
                if let Some(e) = ext {
                    out.push('-');
                    out.push_str(e);
                }
                return Ok(Self(out));
            }
        }
        Err(bad())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> PhoneKind {
        if !self.0.contains('-') {
            PhoneKind::Mobile
        } else if self.0.starts_with('0') {
            PhoneKind::Landline
        } else {
            PhoneKind::Service
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn split_extension(s: &str) -> (&str, Option<&str>) {
    for marker in ["转", "ext.", "ext", "x", "#"] {
        if let Some(i) = s.to_ascii_lowercase().find(marker) {
            // `to_ascii_lowercase` keeps byte offsets.
            return (&s[..i], Some(s[i + marker.len()..].trim()));
        }
    }
    (s, None)
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> String {
        Phone::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e:?}"))
            .into_string()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(p("138 1234 5678"), "13812345678");
        assert_eq!(p("+86 138-1234-5678"), "13812345678");
        assert_eq!(p("008613812345678"), "13812345678");
        assert_eq!(p("１３８１２３４５６７８"), "13812345678");
        assert_eq!(p("0837-2822222"), "0837-2822222");
        assert_eq!(p("(0837)2822222"), "0837-2822222");
        assert_eq!(p("（0837）2822222"), "0837-2822222");
        assert_eq!(p("08372822222"), "0837-2822222");
        assert_eq!(p("010 62345678"), "010-62345678");
        assert_eq!(p("028-86612345转801"), "028-86612345-801");
        assert_eq!(p("4001234567"), "400-123-4567");
        assert_eq!(
            Phone::parse("0837-2822222").unwrap().kind(),
            PhoneKind::Landline
        );
        assert_eq!(
            Phone::parse("13812345678").unwrap().kind(),
            PhoneKind::Mobile
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "12345678901",
            "1381234567",
            "138123456789",
            "0837-282",
            "0837-02822222",
            "abc",
            "13812345678转1",
            "110",
        ] {
            let e = Phone::parse(bad).unwrap_err();
            assert_eq!(e.code, "invalid_phone", "{bad}");
        }
    }

    proptest! {
        #[test]
        fn mobiles_round_trip(second in 3u8..=9, rest in "[0-9]{9}", sep in "[ -]?") {
            let raw = format!("1{second}{}{sep}{}", &rest[..2], &rest[2..]);
            let canonical = format!("1{second}{rest}");
            prop_assert_eq!(p(&raw), canonical.clone());
            prop_assert_eq!(p(&canonical), canonical);
        }

        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            let _ = Phone::parse(&s);
        }
    }
}
