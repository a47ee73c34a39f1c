//! Access tokens: HS256 only (the algorithm is pinned; `none` and every other algorithm are
//! rejected), with `sub`, `role`, `iat`, `exp`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::user::Role;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id, as a string (RFC 7519).
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        validation.validate_exp = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn issue(&self, user_id: i64, role: Role, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl.as_secs() as i64,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("token encoding failed: {e}"))
    }

    /// The claims of a valid token; `Err` names why not (for logs, never for clients).
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&[7u8; 32], Duration::from_secs(3600))
    }

    #[test]
    fn round_trip_and_rejections() {
        let k = keys();
        let t = k.issue(42, Role::Regulator, Utc::now()).unwrap();
        let c = k.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.role), ("42", Role::Regulator));
        assert_eq!(c.exp - c.iat, 3600);

        let other = JwtKeys::new(&[8u8; 32], Duration::from_secs(3600));
        assert!(other.verify(&t).is_err(), "wrong key");

        let old = k
            .issue(42, Role::Admin, Utc::now() - chrono::Duration::hours(2))
            .unwrap();
        assert!(k.verify(&old).is_err(), "expired");

        // HS384 with the same secret: right key, wrong algorithm
        let hs384 = encode(
            &Header::new(Algorithm::HS384),
            &c,
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert!(k.verify(&hs384).is_err(), "algorithm pinned");

        // alg: none
        use base64_like::b64;
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(serde_json::to_string(&c).unwrap().as_bytes())
        );
        assert!(k.verify(&none).is_err(), "alg none");
    }

    /// Minimal URL-safe base64 without padding, to forge tokens in tests.
    pub(crate) mod base64_like {
        pub fn b64(data: &[u8]) -> String {
            const A: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in data.chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for i in 0..=chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        }
    }
}
