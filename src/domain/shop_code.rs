//! Shop codes: the short random name a QR sticker points at (`/s/{code}`).
//!
//! 12 characters of Crockford's base32 alphabet (digits and letters without I, L, O, U, so
//! nothing is misread aloud or on a scuffed sticker) carry 60 random bits: guessing one of a
//! million live codes takes ~10^12 tries on average, and codes are unrelated to each other,
//! so they cannot be enumerated. Parsing forgives case and the usual confusions (O→0, I/L→1)
//! and the dashes people put in when reading a code out.

use std::fmt;

/// Crockford base32.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShopCode(String);

impl ShopCode {
    /// A code from 60 random bits (the low 60 bits of `random`).
    pub fn from_random(random: u64) -> Self {
        let mut s = String::with_capacity(LEN);
        for i in (0..LEN).rev() {
            s.push(ALPHABET[((random >> (5 * i)) & 31) as usize] as char);
        }
        Self(s)
    }

    /// A fresh code from the operating system's random generator.
    pub fn generate() -> Self {
        Self::from_random(rand::random::<u64>())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let mut s = String::with_capacity(LEN);
        for c in raw.trim().chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            s.push(c);
        }
        (s.len() == LEN).then_some(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShopCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forgiving_parse() {
        let c = ShopCode::from_random(0x0123_4567_89AB_CDEF);
        assert_eq!(c.as_str().len(), LEN);
        let spoken = format!(
            "{}-{}-{}",
            &c.as_str()[..4],
            &c.as_str()[4..8],
            &c.as_str()[8..]
        )
        .to_lowercase();
        assert_eq!(ShopCode::parse(&spoken), Some(c));
        assert_eq!(
            ShopCode::parse("oooo-iiii-llll").unwrap().as_str(),
            "000011111111"
        );
        assert_eq!(ShopCode::parse("ABC"), None);
        assert_eq!(
            ShopCode::parse("0123456789AU"),
            None,
            "U is not in the alphabet"
        );
        assert_eq!(ShopCode::parse("0123456789A/"), None);
    }

    #[test]
    fn codes_differ() {
        let a = ShopCode::generate();
        let b = ShopCode::generate();
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn every_60_bit_value_round_trips(bits in 0u64..(1 << 60)) {
            let c = ShopCode::from_random(bits);
            prop_assert!(c.as_str().len() <= 12);
            prop_assert_eq!(ShopCode::parse(c.as_str()), Some(c.clone()));
            // distinct inputs, distinct codes: the mapping is the identity on 60 bits
            let back = c.as_str().bytes().fold(0u64, |acc, b| {
                acc * 32 + ALPHABET.iter().position(|&a| a == b).unwrap() as u64
            });
            prop_assert_eq!(back, bits);
        }
    }
}
