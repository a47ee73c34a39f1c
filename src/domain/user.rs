//! Accounts: roles, usernames and password rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users and the calendar.
    Admin,
    /// Bureau staff, limited to a jurisdiction (a set of region codes).
    Regulator,
    /// A shop owner, limited to their own merchant record.
    Merchant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Regulator => "regulator",
            Role::Merchant => "merchant",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "regulator" => Ok(Role::Regulator),
            "merchant" => Ok(Role::Merchant),
            _ => Err(FieldError::new(
                "role",
                "invalid_role",
                "role must be one of admin, regulator, merchant",
            )),
        }
    }
}

/// A login name: 3–64 characters of ASCII letters, digits, `.`, `_`, `-`, starting with a letter
/// or digit. Compared case-insensitively; stored as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        let len = s.chars().count();
        if !(3..=64).contains(&len) {
            return Err(FieldError::new(
                "username",
                "invalid_length",
                "username must be 3 to 64 characters long",
            ));
        }
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !first_ok || !rest_ok {
            return Err(FieldError::new(
                "username",
                "invalid_characters",
                "username may contain only ASCII letters, digits, '.', '_' and '-', and must start with a letter or digit",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8–128 characters (the upper bound keeps hashing cost bounded).
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let len = raw.chars().count();
        if len < Self::MIN_CHARS {
            return Err(FieldError::new(
                "password",
                "too_short",
                format!("password must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if len > Self::MAX_CHARS {
            return Err(FieldError::new(
                "password",
                "too_long",
                format!("password must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if raw.trim().is_empty() {
            return Err(FieldError::new(
                "password",
                "blank",
                "password cannot be only spaces",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse(" reg-513230 ").unwrap().as_str(),
            "reg-513230"
        );
        assert_eq!(Username::parse("ab").unwrap_err().code, "invalid_length");
        assert_eq!(
            Username::parse("-abc").unwrap_err().code,
            "invalid_characters"
        );
        assert_eq!(
            Username::parse("张三丰").unwrap_err().code,
            "invalid_characters"
        );
        assert_eq!(
            Username::parse("a b c").unwrap_err().code,
            "invalid_characters"
        );
    }

    #[test]
    fn passwords() {
        assert_eq!(NewPassword::parse("short").unwrap_err().code, "too_short");
        assert_eq!(
            NewPassword::parse(&"x".repeat(129)).unwrap_err().code,
            "too_long"
        );
        assert_eq!(NewPassword::parse("        ").unwrap_err().code, "blank");
        assert!(NewPassword::parse("密码很长很长很长很长").is_ok());
        assert_eq!(
            format!("{:?}", NewPassword::parse("secret-pw").unwrap()),
            "NewPassword(***)"
        );
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Admin, Role::Regulator, Role::Merchant] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    proptest! {
        #[test]
        fn valid_usernames_parse(s in "[a-z0-9][a-z0-9._-]{2,63}") {
            let parsed = Username::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
        }
    }
}
