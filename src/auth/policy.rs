//! Who may do what, in one place. Decisions are pure: the caller loads the facts (the target's
//! region, its merchant) and maps the decision to a response. Something outside a caller's
//! jurisdiction is `Hidden` (answered 404), so that its existence does not leak.

use crate::auth::CurrentUser;
use crate::domain::region::RegionCode;
use crate::domain::user::Role;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The caller may know the thing exists but may not do this (403).
    Forbidden(&'static str),
    /// The caller may not know the thing exists (404).
    Hidden,
}

impl Decision {
    pub fn check(self) -> Result<(), AppError> {
        match self {
            Decision::Allow => Ok(()),
            Decision::Forbidden(why) => Err(AppError::Forbidden(why)),
            Decision::Hidden => Err(AppError::NotFound),
        }
    }
}

/// Whether `region` lies in the caller's jurisdiction (admins: everywhere; merchants: nowhere).
pub fn in_jurisdiction(user: &CurrentUser, region: &RegionCode) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Regulator => user.jurisdiction.iter().any(|j| j.covers(region)),
        Role::Merchant => false,
    }
}

/// A list or report asked for one region: a region outside the caller's jurisdiction is
/// answered as unknown (404), the same way as a merchant or complaint outside it.
pub fn view_region(user: &CurrentUser, region: &RegionCode) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("merchants see only their own record"),
        _ if in_jurisdiction(user, region) => Decision::Allow,
        _ => Decision::Hidden,
    }
}

/// Reading a merchant's record: admins, regulators of its region, and the merchant itself.
pub fn view_merchant(user: &CurrentUser, merchant_id: i64, region: &RegionCode) -> Decision {
    match user.role {
        Role::Merchant if user.merchant_id == Some(merchant_id) => Decision::Allow,
        _ if in_jurisdiction(user, region) => Decision::Allow,
        _ => Decision::Hidden,
    }
}

/// Creating a merchant: regulators (in their jurisdiction, checked on the region) and admins.
pub fn create_merchant(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("merchants cannot create merchants"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Changing a merchant's regulated data (licences, inspections, credit records…).
pub fn manage_merchant(user: &CurrentUser, merchant_id: i64, region: &RegionCode) -> Decision {
    match user.role {
        Role::Admin | Role::Regulator if in_jurisdiction(user, region) => Decision::Allow,
        Role::Merchant if user.merchant_id == Some(merchant_id) => {
            Decision::Forbidden("merchants cannot change regulated data")
        }
        _ => Decision::Hidden,
    }
}

/// A merchant's own status change: it may open and close for the season, but a listing a
/// regulator closed (or the merchant's marking it closed) is the regulator's decision.
pub fn merchant_sets_status(user: &CurrentUser, before: &str, after: &str) -> Decision {
    if user.role != Role::Merchant || before == after {
        return Decision::Allow;
    }
    if before == crate::domain::merchant::Status::Closed.as_str() {
        return Decision::Forbidden(
            "a listing a regulator closed can be reopened only by a regulator",
        );
    }
    if after == crate::domain::merchant::Status::Closed.as_str() {
        return Decision::Forbidden("only a regulator may mark a merchant closed");
    }
    Decision::Allow
}

/// Seeing a complaint: regulators of the merchant's region (in full), admins, and the merchant
/// complained about (consumer masked).
pub fn view_complaint(user: &CurrentUser, merchant_id: i64, region: &RegionCode) -> Decision {
    view_merchant(user, merchant_id, region)
}

/// Whether the caller sees consumers' names and phones in full (regulators and admins).
pub fn sees_consumer(user: &CurrentUser) -> bool {
    user.role != Role::Merchant
}

/// Whether the caller sees which account acted in a complaint's timeline (regulators and
/// admins); a merchant sees the role that acted, not the officer.
pub fn sees_acting_user(user: &CurrentUser) -> bool {
    user.role != Role::Merchant
}

/// The side a staff caller takes in the complaint workflow.
pub fn complaint_party(user: &CurrentUser) -> crate::domain::complaint::Party {
    match user.role {
        Role::Merchant => crate::domain::complaint::Party::Merchant,
        Role::Regulator | Role::Admin => crate::domain::complaint::Party::Regulator,
    }
}

/// Publishing a consumer warning: regulators for a region in their jurisdiction; a warning
/// without a region (everywhere) only admins.
pub fn publish_warning(user: &CurrentUser, region: Option<&RegionCode>) -> Decision {
    match (user.role, region) {
        (Role::Admin, _) => Decision::Allow,
        (Role::Regulator, Some(r)) if in_jurisdiction(user, r) => Decision::Allow,
        (Role::Regulator, Some(_)) => {
            Decision::Forbidden("that region is outside your jurisdiction")
        }
        (Role::Regulator, None) => Decision::Forbidden(
            "a warning for every region is for administrators; give region_code",
        ),
        (Role::Merchant, _) => Decision::Forbidden("merchants cannot publish warnings"),
    }
}

/// What a new account would be.
pub struct NewAccount<'a> {
    pub role: Role,
    pub region_codes: &'a [RegionCode],
    /// The region of the merchant a merchant login is for.
    pub merchant_region: Option<&'a RegionCode>,
}

/// The first decision on a new account, before its fields are validated: who may create an
/// account of the role asked for at all (`None`: the role is not one; validation says so).
pub fn create_user_role(actor: &CurrentUser, role: Option<Role>) -> Decision {
    match (actor.role, role) {
        (Role::Admin, _) => Decision::Allow,
        (Role::Merchant, _) => Decision::Forbidden("merchants cannot create accounts"),
        (Role::Regulator, Some(Role::Admin | Role::Regulator)) => {
            Decision::Forbidden("regulators can create only merchant logins")
        }
        (Role::Regulator, _) => Decision::Allow,
    }
}

/// Creating an account: admins create anything; a regulator creates merchant logins for
/// merchants in its jurisdiction; merchants create nothing.
pub fn create_user(actor: &CurrentUser, new: &NewAccount<'_>) -> Decision {
    match actor.role {
        Role::Admin => Decision::Allow,
        Role::Merchant => Decision::Forbidden("merchants cannot create accounts"),
        Role::Regulator => {
            if new.role != Role::Merchant {
                return Decision::Forbidden("regulators can create only merchant logins");
            }
            match new.merchant_region {
                Some(region) if in_jurisdiction(actor, region) => Decision::Allow,
                _ => Decision::Hidden,
            }
        }
    }
}

/// Reading an account: oneself; admins everyone; regulators the merchant logins of merchants in
/// their jurisdiction.
pub fn view_user(
    actor: &CurrentUser,
    target_id: i64,
    target_role: Role,
    target_merchant_region: Option<&RegionCode>,
) -> Decision {
    if actor.id == target_id || actor.role == Role::Admin {
        return Decision::Allow;
    }
    match (actor.role, target_role, target_merchant_region) {
        (Role::Regulator, Role::Merchant, Some(region)) if in_jurisdiction(actor, region) => {
            Decision::Allow
        }
        _ => Decision::Hidden,
    }
}

/// Administering the work calendar and other global settings.
pub fn administer(actor: &CurrentUser) -> Decision {
    if actor.role == Role::Admin {
        Decision::Allow
    } else {
        Decision::Forbidden("only administrators may do this")
    }
}

/// Whether every region is the caller's (admins): lists and imports need no region filter.
pub fn sees_every_region(user: &CurrentUser) -> bool {
    user.role == Role::Admin
}

/// A staff list or report narrowed to one region: a regulator's region outside its jurisdiction
/// is answered as unknown (404); a merchant's lists are its own record anyway (or refused by
/// the list's own decision), so the region decides nothing for it.
pub fn filter_by_region(user: &CurrentUser, region: &RegionCode) -> Decision {
    match user.role {
        Role::Merchant => Decision::Allow,
        _ => view_region(user, region),
    }
}

/// The merchant registry's list: staff only (a merchant reads its own record by id).
pub fn list_merchants(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("merchants see only their own record"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Whether the caller may ask for credit records whose publicity period has ended (staff).
pub fn sees_expired_records(user: &CurrentUser) -> bool {
    user.role != Role::Merchant
}

/// The fields a merchant may change on its own record.
pub const MERCHANT_EDITABLE: &[&str] = &[
    "phone",
    "opening_hours",
    "opening_months",
    "status",
    "description",
    "pledges",
];

/// Changing a merchant's record (`fields`: the names the change touches): regulators of its
/// region any field; the merchant itself only `MERCHANT_EDITABLE`; others may not know it.
pub fn update_merchant<'a>(
    user: &CurrentUser,
    merchant_id: i64,
    region: &RegionCode,
    mut fields: impl Iterator<Item = &'a str>,
) -> Decision {
    match view_merchant(user, merchant_id, region) {
        Decision::Allow => {}
        other => return other,
    }
    if user.role == Role::Merchant {
        if fields.any(|k| k != "version" && !MERCHANT_EDITABLE.contains(&k)) {
            return Decision::Forbidden(
                "merchants may change only phone, opening_hours, opening_months, status (open \
                 or seasonal_closed), description and pledges",
            );
        }
        return Decision::Allow;
    }
    manage_merchant(user, merchant_id, region)
}

/// Adding a photo to a merchant: its regulators and the merchant itself.
pub fn add_photo(user: &CurrentUser, merchant_id: i64, region: &RegionCode) -> Decision {
    view_merchant(user, merchant_id, region)
}

/// Which complaints a staff caller's queue covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintScope {
    /// A merchant's own complaints (consumer masked, no flags).
    Merchant(i64),
    /// A regulator's jurisdiction.
    Jurisdiction,
    /// An administrator's: everything.
    Everywhere,
}

/// The complaint queue the caller may list (403 for a merchant login linked to no merchant).
pub fn complaint_scope(user: &CurrentUser) -> Result<ComplaintScope, AppError> {
    match user.role {
        Role::Merchant => {
            user.merchant_id
                .map(ComplaintScope::Merchant)
                .ok_or(AppError::Forbidden(
                    "this merchant login is not linked to a merchant",
                ))
        }
        Role::Regulator => Ok(ComplaintScope::Jurisdiction),
        Role::Admin => Ok(ComplaintScope::Everywhere),
    }
}

/// Publishing consumer warnings at all (the region is decided by `publish_warning` once it is
/// parsed): merchants never.
pub fn publish_warnings(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("merchants cannot publish warnings"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Statistics: staff only.
pub fn view_statistics(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("statistics are for regulators"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Work on a whole region (its codes, its posters): staff only; the region itself is decided by
/// `act_on_region`.
pub fn region_work(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("merchants cannot act on a region"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Work on one region named in a path: inside the caller's jurisdiction, or unknown (404).
pub fn act_on_region(user: &CurrentUser, region: &RegionCode) -> Decision {
    match region_work(user) {
        Decision::Allow if in_jurisdiction(user, region) => Decision::Allow,
        Decision::Allow => Decision::Hidden,
        other => other,
    }
}

/// A new merchant login naming a merchant id that does not exist: a regulator may not learn
/// which ids exist (404); an administrator is told the field is wrong (the caller's 422).
pub fn name_unknown_merchant(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Regulator => Decision::Hidden,
        Role::Admin | Role::Merchant => Decision::Allow,
    }
}

/// Reading global settings (deadline rules): staff.
pub fn read_settings(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("only staff may read settings"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Importing merchants: regulators (rows in their jurisdiction) and administrators.
pub fn import_merchants(user: &CurrentUser) -> Decision {
    match user.role {
        Role::Merchant => Decision::Forbidden("merchants cannot import"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Administering another account (disable, enable, reset its password): admins any account but
/// their own (that is the account page); regulators the merchant logins of merchants in their
/// jurisdiction; otherwise unknown (404), or 403 for merchants.
pub fn administer_user(
    actor: &CurrentUser,
    target_id: i64,
    target_role: Role,
    target_merchant_region: Option<&RegionCode>,
) -> Decision {
    match (actor.role, target_role, target_merchant_region) {
        (Role::Merchant, ..) => Decision::Forbidden("merchants cannot administer accounts"),
        _ if actor.id == target_id => {
            Decision::Forbidden("change your own account on the account page")
        }
        (Role::Admin, ..) => Decision::Allow,
        (Role::Regulator, Role::Merchant, Some(region)) if in_jurisdiction(actor, region) => {
            Decision::Allow
        }
        _ => Decision::Hidden,
    }
}

/// Listing accounts: admins all; regulators the merchant logins of their jurisdiction.
pub fn list_users(actor: &CurrentUser) -> Decision {
    match actor.role {
        Role::Merchant => Decision::Forbidden("merchants cannot list accounts"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// Reading the audit log: staff (regulators see their jurisdiction's entries).
pub fn read_audit(actor: &CurrentUser) -> Decision {
    match actor.role {
        Role::Merchant => Decision::Forbidden("the audit log is for regulators"),
        Role::Admin | Role::Regulator => Decision::Allow,
    }
}

/// The right of reply: the merchant itself only; its regulators may know the record but may
/// not answer for the shop (403); anyone else does not know it (404).
pub fn reply_to_record(user: &CurrentUser, merchant_id: i64, region: &RegionCode) -> Decision {
    match user.role {
        Role::Merchant if user.merchant_id == Some(merchant_id) => Decision::Allow,
        Role::Admin => Decision::Forbidden("only the merchant replies to its records"),
        Role::Regulator if in_jurisdiction(user, region) => {
            Decision::Forbidden("only the merchant replies to its records")
        }
        _ => Decision::Hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }
    fn user(id: i64, role: Role, regions: &[&str], merchant: Option<i64>) -> CurrentUser {
        CurrentUser::new(
            id,
            format!("u{id}"),
            role,
            regions.iter().map(|s| s.to_string()).collect(),
            merchant,
        )
    }

    #[test]
    fn jurisdiction_prefecture_county_other() {
        let pref = user(1, Role::Regulator, &["513200"], None);
        let county = user(2, Role::Regulator, &["513230"], None);
        let two = user(3, Role::Regulator, &["513230", "513231"], None);
        let admin = user(4, Role::Admin, &[], None);
        let shop = user(5, Role::Merchant, &[], Some(77));
        let rangtang = rc("513230");
        let aba_county = rc("513231");
        let elsewhere = rc("510104");
        assert!(in_jurisdiction(&pref, &rangtang));
        assert!(in_jurisdiction(&pref, &aba_county));
        assert!(!in_jurisdiction(&pref, &elsewhere));
        assert!(in_jurisdiction(&county, &rangtang));
        assert!(!in_jurisdiction(&county, &aba_county));
        assert!(in_jurisdiction(&two, &aba_county));
        assert!(in_jurisdiction(&admin, &elsewhere));
        assert!(!in_jurisdiction(&shop, &rangtang));

        assert_eq!(view_merchant(&county, 9, &aba_county), Decision::Hidden);
        assert_eq!(view_merchant(&shop, 77, &rangtang), Decision::Allow);
        assert_eq!(view_merchant(&shop, 78, &rangtang), Decision::Hidden);
        assert_eq!(manage_merchant(&pref, 9, &rangtang), Decision::Allow);
        assert!(matches!(
            manage_merchant(&shop, 77, &rangtang),
            Decision::Forbidden(_)
        ));
        assert_eq!(manage_merchant(&shop, 78, &rangtang), Decision::Hidden);
    }

    #[test]
    fn account_creation() {
        let county = user(2, Role::Regulator, &["513230"], None);
        let admin = user(4, Role::Admin, &[], None);
        let shop = user(5, Role::Merchant, &[], Some(77));
        let here = rc("513230");
        let there = rc("513231");
        let merchant_here = NewAccount {
            role: Role::Merchant,
            region_codes: &[],
            merchant_region: Some(&here),
        };
        let merchant_there = NewAccount {
            merchant_region: Some(&there),
            ..merchant_here
        };
        let regs = [here.clone()];
        let regulator = NewAccount {
            role: Role::Regulator,
            region_codes: &regs,
            merchant_region: None,
        };
        assert_eq!(create_user(&county, &merchant_here), Decision::Allow);
        assert_eq!(create_user(&county, &merchant_there), Decision::Hidden);
        assert!(matches!(
            create_user(&county, &regulator),
            Decision::Forbidden(_)
        ));
        assert_eq!(create_user(&admin, &regulator), Decision::Allow);
        assert!(matches!(
            create_user(&shop, &merchant_here),
            Decision::Forbidden(_)
        ));

        assert_eq!(
            view_user(&county, 9, Role::Merchant, Some(&here)),
            Decision::Allow
        );
        assert_eq!(
            view_user(&county, 9, Role::Merchant, Some(&there)),
            Decision::Hidden
        );
        assert_eq!(
            view_user(&county, 9, Role::Regulator, None),
            Decision::Hidden
        );
        assert_eq!(
            view_user(&county, 2, Role::Regulator, None),
            Decision::Allow
        );
        assert!(matches!(administer(&county), Decision::Forbidden(_)));
        assert_eq!(administer(&admin), Decision::Allow);
    }
}
