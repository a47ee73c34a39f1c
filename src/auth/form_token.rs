//! The public complaint form's token: issued by the server with the form, signed (HMAC-SHA256
//! under a key derived from the service's secret) over the shop code and the time of issue, and
//! valid for a few hours. Another site cannot make one up, so it cannot make its visitors'
//! browsers file complaints that count against their IPs; and the token doubles as the form's
//! idempotency key, so submitting the same form twice files one complaint.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a rendered form can still be submitted.
pub const VALID_SECS: i64 = 12 * 3600;
/// Clock skew tolerated between instances.
const SKEW_SECS: i64 = 300;

#[derive(Clone)]
pub struct FormTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for FormTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormTokens(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

impl FormTokens {
    /// Keys derived from `secret` (the JWT secret), separated from every other use by a label.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"yidianyima complaint form token v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn sign(&self, shop_code: &str, issued: i64, nonce: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{shop_code}|{issued}|{nonce}").as_bytes());
        let bytes = mac.finalize().into_bytes();
        bytes[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A fresh token for the form of `shop_code`: `{issued}.{nonce}.{signature}` (≤ 64 chars).
    pub fn issue(&self, shop_code: &str, now: DateTime<Utc>) -> String {
        let issued = now.timestamp();
        let nonce: String = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
        let sig = self.sign(shop_code, issued, &nonce);
        format!("{issued}.{nonce}.{sig}")
    }

    /// Whether `token` was issued by this service for `shop_code` and is still valid.
    pub fn verify(
        &self,
        token: &str,
        shop_code: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        let mut parts = token.split('.');
        let (Some(issued), Some(nonce), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let issued: i64 = issued.parse().map_err(|_| TokenError::Malformed)?;
        if nonce.len() != 16 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::Malformed);
        }
        let expected = self.sign(shop_code, issued, nonce);
        // Constant-time comparison of the hex signatures.
        let same = expected.len() == sig.len()
            && expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(TokenError::BadSignature);
        }
        let age = now.timestamp() - issued;
        if !(-SKEW_SECS..=VALID_SECS).contains(&age) {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn issued_tokens_verify_for_their_shop_only_and_expire() {
        let t = FormTokens::new(b"a secret of at least thirty-two bytes!!");
        let now = Utc::now();
        let token = t.issue("ABCDEFGH2345", now);
        assert!(token.len() <= 64, "{token}");
        assert_eq!(t.verify(&token, "ABCDEFGH2345", now), Ok(()));
        assert_eq!(
            t.verify(&token, "ABCDEFGH2345", now + Duration::hours(11)),
            Ok(())
        );
        assert_eq!(
            t.verify(&token, "ABCDEFGH2345", now + Duration::hours(13)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            t.verify(&token, "ZZZZZZZZ2345", now),
            Err(TokenError::BadSignature)
        );
        let other = FormTokens::new(b"another secret of thirty-two bytes!!!!");
        assert_eq!(
            other.verify(&token, "ABCDEFGH2345", now),
            Err(TokenError::BadSignature)
        );
        // Any 16–64 character string used to pass.
        assert_eq!(
            t.verify("0123456789abcdef0123", "ABCDEFGH2345", now),
            Err(TokenError::Malformed)
        );
    }
}
