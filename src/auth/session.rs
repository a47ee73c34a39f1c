//! Console sessions: an opaque random cookie value (only its SHA-256 is stored), lifetimes per
//! role, and the CSRF token bound to the session (an HMAC of the cookie value, so it needs no
//! storage and cannot be computed without the cookie and the server's key).

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::user::Role;

/// The cookie's name. `__Host-` would forbid plain-http development; the attributes say enough.
pub const COOKIE: &str = "yidianyima_session";

/// How long a session lives: `idle` without a request, `absolute` at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub idle: Duration,
    pub absolute: Duration,
    /// Whether the cookie outlives the browser (a persistent cookie).
    pub persistent: bool,
}

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// Staff: idle 2 h, absolute 12 h, whatever is ticked. A merchant who ticks "remember this
/// device": 30 days (shop owners on flaky shop Wi-Fi should not log in every day); otherwise as
/// staff.
pub fn lifetime(role: Role, remember: bool) -> Lifetime {
    match (role, remember) {
        (Role::Merchant, true) => Lifetime {
            idle: Duration::from_secs(30 * DAY),
            absolute: Duration::from_secs(30 * DAY),
            persistent: true,
        },
        _ => Lifetime {
            idle: Duration::from_secs(2 * HOUR),
            absolute: Duration::from_secs(12 * HOUR),
            persistent: false,
        },
    }
}

/// A new cookie value: 32 random bytes, base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a cookie value.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether a cookie value is shaped like one we issue (so junk never reaches the database).
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Clone)]
pub struct CsrfKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl CsrfKey {
    /// A key derived from the service's secret, separated from its other uses by a label.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"yidianyima console csrf v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// The session's CSRF token.
    pub fn token(&self, session_token: &str) -> String {
        let mut mac = self.mac();
        mac.update(session_token.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `presented` is the session's token (compared in constant time).
    pub fn verify(&self, session_token: &str, presented: &str) -> bool {
        let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(session_token.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_well_formed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}'", &a[..42])));
        assert_eq!(hash(&a).len(), 32);
    }

    #[test]
    fn csrf_token_is_bound_to_the_session_and_the_key() {
        let k = CsrfKey::new(b"secret one");
        let s1 = new_token();
        let s2 = new_token();
        let t1 = k.token(&s1);
        assert!(k.verify(&s1, &t1));
        assert!(!k.verify(&s2, &t1), "another session's token");
        assert!(!k.verify(&s1, ""), "no token");
        assert!(!k.verify(&s1, &t1[1..]), "a mangled token");
        assert!(!CsrfKey::new(b"secret two").verify(&s1, &t1), "another key");
    }

    #[test]
    fn staff_sessions_stay_short_whatever_is_ticked() {
        for role in [Role::Admin, Role::Regulator] {
            assert_eq!(lifetime(role, true), lifetime(role, false));
            assert_eq!(
                lifetime(role, true).absolute,
                Duration::from_secs(12 * 3600)
            );
            assert_eq!(lifetime(role, true).idle, Duration::from_secs(2 * 3600));
        }
        assert_eq!(
            lifetime(Role::Merchant, true).absolute,
            Duration::from_secs(30 * 24 * 3600)
        );
        assert!(lifetime(Role::Merchant, true).persistent);
        assert!(!lifetime(Role::Merchant, false).persistent);
    }
}
