//! Unified social credit code (统一社会信用代码, GB 32100-2015).
//!
//! 18 characters: 1 registration authority, 2 entity type, 3–8 region code (GB/T 2260),
//! 9–17 organisation code (GB 11714, its own check character at 17), 18 check character.
//! Early pilot codes pass the organisation-code check but not the 18th character; they are
//! accepted with `check_char_warning` set, so that a regulator can look at them, not rejected.

use std::fmt;

use super::text::fold_width;
use super::FieldError;

/// The USCC alphabet: digits and upper-case letters without I, O, Z, S, V.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc {
    code: String,
    check_char_warning: bool,
}

/// Which rule a code broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsccError {
    Length(usize),
    Charset { position: usize, found: char },
    RegionNotDigits,
    OrgCodeCheck { expected: char, found: char },
}

impl UsccError {
    pub fn code(self) -> &'static str {
        match self {
            UsccError::Length(_) => "uscc_length",
            UsccError::Charset { .. } => "uscc_charset",
            UsccError::RegionNotDigits => "uscc_region",
            UsccError::OrgCodeCheck { .. } => "uscc_org_code_check",
        }
    }

    pub fn field_error(self, field: &str) -> FieldError {
        FieldError::new(field, self.code(), self.to_string())
    }
}

impl fmt::Display for UsccError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsccError::Length(n) => write!(
                f,
                "a unified social credit code has 18 characters, this one has {n}"
            ),
            UsccError::Charset { position, found } => write!(
                f,
                "character {position} is {found:?}; allowed are digits and the letters \
                 A–Y without I, O, S, V, Z"
            ),
            UsccError::RegionNotDigits => {
                f.write_str("characters 3–8 must be the six digits of a region code (GB/T 2260)")
            }
            UsccError::OrgCodeCheck { expected, found } => write!(
                f,
                "the organisation code (characters 9–17) fails its GB 11714 check: \
                 character 17 should be {expected:?}, not {found:?}"
            ),
        }
    }
}

fn alphabet_index(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|i| i as u32)
}

/// GB 11714 value of an organisation-code character: digits 0–9, letters A=10 … Z=35.
fn org_value(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => (c - b'0') as u32,
        _ => (c - b'A') as u32 + 10,
    }
}

/// The GB 11714 check character for the first eight characters of an organisation code.
pub fn org_check_char(body: &[u8]) -> char {
    let sum: u32 = body
        .iter()
        .zip(ORG_WEIGHTS)
        .map(|(&c, w)| org_value(c) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10).unwrap_or('0'),
    }
}

/// The GB 32100 check character (18th) for the first 17 characters.
pub fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&c, w)| alphabet_index(c).unwrap_or(0) * w)
        .sum();
    let c = (31 - sum % 31) % 31;
    ALPHABET[c as usize] as char
}

impl Uscc {
    /// Parses a code as typed: surrounding and internal spaces, full-width characters and lower
    /// case are accepted; the stored form is 18 upper-case characters.
    pub fn parse(raw: &str) -> Result<Self, UsccError> {
        let code: String = fold_width(raw)
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect();
        let n = code.chars().count();
        if n != 18 {
            return Err(UsccError::Length(n));
        }
        if let Some((i, c)) = code
            .chars()
            .enumerate()
            .find(|&(_, c)| !c.is_ascii() || alphabet_index(c as u8).is_none())
        {
            return Err(UsccError::Charset {
                position: i + 1,
                found: c,
            });
        }
        let b = code.as_bytes();
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(UsccError::RegionNotDigits);
        }
        let expected = org_check_char(&b[8..16]);
        if b[16] as char != expected {
            return Err(UsccError::OrgCodeCheck {
                expected,
                found: b[16] as char,
            });
        }
        let check_char_warning = check_char(&b[..17]) != b[17] as char;
        Ok(Self {
            code,
            check_char_warning,
        })
    }

    /// Builds a valid code from its 17 leading characters (the demo generator and tests).
    /// Fails if they are not in the alphabet or the organisation code does not check.
    pub fn complete(first17: &str) -> Result<Self, UsccError> {
        let b = first17.as_bytes();
        if b.len() != 17 {
            return Err(UsccError::Length(b.len() + 1));
        }
        Self::parse(&format!("{first17}{}", check_char(b)))
    }

    /// Builds a valid code from its parts: authority and type (2 characters), region code
    /// (6 digits) and the organisation code's 8-character body; both check characters are
    /// computed. For generators and tests.
    pub fn build(head: &str, region: &str, org_body: &str) -> Result<Self, UsccError> {
        let org_check = org_check_char(org_body.as_bytes());
        Self::complete(&format!("{head}{region}{org_body}{org_check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Positions 3–8: the region code of the registering authority.
    pub fn region_part(&self) -> &str {
        &self.code[2..8]
    }

    /// The 18th character does not check (an early pilot code): accepted, flagged.
    pub fn check_char_warning(&self) -> bool {
        self.check_char_warning
    }

    pub fn into_string(self) -> String {
        self.code
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// The refusal of a code whose 18th character does not check, unless a regulator gives
/// `uscc_check_override_reason`.
pub fn check_digit_error(field: &str, uscc: &Uscc) -> FieldError {
    let b = uscc.as_str().as_bytes();
    FieldError::new(
        field,
        "uscc_check_digit",
        format!(
            "the 18th (check) character should be {:?}, not {:?}: check the code against the \
             business licence; a pilot-era code that really carries this character is kept only \
             with uscc_check_override_reason",
            check_char(&b[..17]),
            b[17] as char
        ),
    )
}

/// The warning attached to a code whose 18th character does not check.
pub fn check_char_warning(field: &str, uscc: &Uscc) -> FieldError {
    let b = uscc.as_str().as_bytes();
    FieldError::new(
        field,
        "uscc_check_char",
        format!(
            "the 18th character should be {:?}, not {:?}; accepted as an early pilot code, \
             please verify it against the business licence",
            check_char(&b[..17]),
            b[17] as char
        ),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A strategy for valid codes: any authority/type, digits for the region, any organisation
    /// code body.
    pub fn valid_uscc() -> impl Strategy<Value = String> {
        let alpha = proptest::sample::select(ALPHABET.to_vec());
        let digit = proptest::sample::select(b"0123456789".to_vec());
        (
            proptest::collection::vec(alpha.clone(), 2),
            proptest::collection::vec(digit, 6),
            proptest::collection::vec(alpha, 8),
        )
            .prop_map(|(head, region, org)| {
                let mut s: Vec<u8> = head;
                s.extend(region);
                s.extend(&org);
                s.push(org_check_char(&org) as u8);
                let s = String::from_utf8(s).unwrap();
                Uscc::complete(&s).unwrap().into_string()
            })
    }

    #[test]
    fn known_real_codes() {
        // Published codes (company registry notices).
        for code in [
            "91350100M000100Y43",
            "91110000802100433B",
            "91440300708461136T",
        ] {
            let u = Uscc::parse(code).unwrap();
            assert!(!u.check_char_warning(), "{code}");
        }
    }

    #[test]
    fn normalises_input() {
        let u = Uscc::parse(" 91350100m000100y43 ").unwrap();
        assert_eq!(u.as_str(), "91350100M000100Y43");
        let u = Uscc::parse("９１３５ ０１００ Ｍ０００１００Ｙ４３").unwrap();
        assert_eq!(u.as_str(), "91350100M000100Y43");
        assert_eq!(u.region_part(), "350100");
    }

    #[test]
    fn each_rule_named() {
        assert_eq!(Uscc::parse("9135010").unwrap_err(), UsccError::Length(7));
        assert_eq!(
            Uscc::parse("91350100M000100I43").unwrap_err().code(),
            "uscc_charset"
        );
        assert_eq!(
            Uscc::parse("9135O100M000100Y43").unwrap_err(),
            UsccError::Charset {
                position: 5,
                found: 'O'
            }
        );
        assert_eq!(
            Uscc::parse("91A50100M000100Y43").unwrap_err(),
            UsccError::RegionNotDigits
        );
        assert_eq!(
            Uscc::parse("91350100M000100X43").unwrap_err(),
            UsccError::OrgCodeCheck {
                expected: '6',
                found: '4'
            }
        );
        // Org code fine, 18th wrong: accepted with a warning.
        let pilot = Uscc::parse("91350100M000100Y44").unwrap();
        assert!(pilot.check_char_warning());
        assert_eq!(check_char_warning("uscc", &pilot).code, "uscc_check_char");
    }

    proptest! {
        #[test]
        fn generated_codes_are_valid(code in valid_uscc()) {
            let u = Uscc::parse(&code).unwrap();
            prop_assert!(!u.check_char_warning());
            let lower = Uscc::parse(&code.to_lowercase()).unwrap();
            prop_assert_eq!(lower.as_str(), code.as_str());
        }

        /// Every single-character substitution is detected: rejected, or (when only the 18th
        /// character's check fails) flagged.
        #[test]
        fn every_single_corruption_is_detected(
            code in valid_uscc(),
            pos in 0usize..18,
            replacement in proptest::char::range('0', 'Z'),
        ) {
            let mut chars: Vec<char> = code.chars().collect();
            prop_assume!(chars[pos] != replacement);
            chars[pos] = replacement;
            let corrupted: String = chars.into_iter().collect();
            match Uscc::parse(&corrupted) {
                Err(_) => {}
                Ok(u) => prop_assert!(u.check_char_warning(), "{} undetected", corrupted),
            }
        }
    }
}
