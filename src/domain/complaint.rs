//! The complaint workflow (投诉处理) as pure rules: states, actions, who may take them, the
//! deadlines in working days, and the consumer's submission.
//!
//! ```text
//! submitted ──propose (merchant, green channel open)──▶ merchant_proposed
//! merchant_proposed ──consumer_accept──▶ resolved
//! merchant_proposed ──consumer_decline──▶ submitted   (green channel closes)
//! submitted ──accept (regulator)──▶ accepted ──resolve / terminate (regulator)──▶ closed
//! submitted ──reject (regulator, with a note)──▶ rejected
//! any open state ──withdraw (consumer)──▶ withdrawn
//! ```
//!
//! Deadlines (the rule in force on the day of receipt, counted on the working-day calendar):
//! the merchant may settle within `green` working days of receipt (green channel); the
//! regulator's `accept` working days are counted from when the green channel closes (its
//! deadline passing, or the consumer declining the merchant's offer), so green-channel time is
//! not counted against the regulator; mediation concludes within `conclude` working days of
//! acceptance.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::merchant::word_enum;
use super::phone::{Phone, PhoneKind};
use super::text::{clean_multiline, clean_text, control_char_error, fold_width};
use super::workdays::WorkCalendar;
use super::FieldError;

word_enum!(
    /// Where a complaint stands.
    State, "status", "invalid_status" {
        Submitted = "submitted",
        MerchantProposed = "merchant_proposed",
        Accepted = "accepted",
        Rejected = "rejected",
        Resolved = "resolved",
        Terminated = "terminated",
        Withdrawn = "withdrawn",
    }
);

word_enum!(
    /// What someone does to a complaint.
    Action, "action", "invalid_action" {
        /// The merchant offers a settlement (green channel).
        Propose = "propose",
        /// The consumer accepts the merchant's offer.
        ConsumerAccept = "consumer_accept",
        /// The consumer declines it; the regulator takes over.
        ConsumerDecline = "consumer_decline",
        /// The regulator accepts the case for mediation.
        Accept = "accept",
        /// The regulator declines to accept it (a note with the reason is required).
        Reject = "reject",
        /// The regulator concludes mediation with a settlement.
        Resolve = "resolve",
        /// The regulator ends mediation without one.
        Terminate = "terminate",
        /// The consumer withdraws the complaint.
        Withdraw = "withdraw",
    }
);

word_enum!(
    /// What the complaint is about.
    Category, "category", "invalid_category" {
        Quality = "quality",
        Price = "price",
        Service = "service",
        FalseAdvertising = "false_advertising",
        Safety = "safety",
        Contract = "contract",
        Other = "other",
    }
);

word_enum!(
    /// The consumer's verdict on how the complaint was handled.
    Rating, "rating", "invalid_rating" {
        Satisfied = "satisfied",
        BasicallySatisfied = "basically_satisfied",
        Dissatisfied = "dissatisfied",
    }
);

/// Who acts on a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Consumer,
    Merchant,
    Regulator,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Consumer => "consumer",
            Party::Merchant => "merchant",
            Party::Regulator => "regulator",
        }
    }
}

impl State {
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            State::Rejected | State::Resolved | State::Terminated | State::Withdrawn
        )
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.iter().copied().find(|x| x.as_str() == s)
    }
}

impl Action {
    /// The one party that may take this action.
    pub fn party(self) -> Party {
        match self {
            Action::Propose => Party::Merchant,
            Action::ConsumerAccept | Action::ConsumerDecline | Action::Withdraw => Party::Consumer,
            Action::Accept | Action::Reject | Action::Resolve | Action::Terminate => {
                Party::Regulator
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("only the {} may {}", .action.party().as_str(), .action.as_str())]
    NotYours { action: Action },
    #[error("a complaint that is {} cannot be {}ed", .from.as_str(), .action.as_str())]
    Illegal { from: State, action: Action },
    #[error("the green channel has closed: the merchant can no longer propose a settlement")]
    GreenChannelClosed,
    #[error("{} needs a note giving the reason", .0.as_str())]
    NoteRequired(Action),
}

/// What the transition depends on besides the state.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub party: Party,
    /// The merchant may still propose (window open and not yet used up).
    pub green_channel_open: bool,
    pub has_note: bool,
}

/// The state after `action`, or why it is not allowed.
pub fn next(from: State, action: Action, ctx: Context) -> Result<State, TransitionError> {
    use Action as A;
    use State as S;
    if action.party() != ctx.party {
        return Err(TransitionError::NotYours { action });
    }
    let to = match (from, action) {
        (S::Submitted, A::Propose) => S::MerchantProposed,
        (S::MerchantProposed, A::ConsumerAccept) => S::Resolved,
        (S::MerchantProposed, A::ConsumerDecline) => S::Submitted,
        (S::Submitted, A::Accept) => S::Accepted,
        (S::Submitted, A::Reject) => S::Rejected,
        (S::Accepted, A::Resolve) => S::Resolved,
        (S::Accepted, A::Terminate) => S::Terminated,
        (S::Submitted | S::MerchantProposed | S::Accepted, A::Withdraw) => S::Withdrawn,
        _ => return Err(TransitionError::Illegal { from, action }),
    };
    if action == A::Propose && !ctx.green_channel_open {
        return Err(TransitionError::GreenChannelClosed);
    }
    if matches!(action, A::Reject | A::Terminate) && !ctx.has_note {
        return Err(TransitionError::NoteRequired(action));
    }
    Ok(to)
}

/// The deadline rule: working days for each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub accept: u32,
    pub conclude: u32,
    /// 0 turns the green channel off.
    pub green: u32,
}

/// The dates a complaint is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadlines {
    /// Last day the merchant may propose; `None` once the green channel has closed.
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub accepted_on: Option<NaiveDate>,
    pub conclude_deadline: Option<NaiveDate>,
}

impl Deadlines {
    /// At receipt: the green channel opens; the regulator's clock starts when it closes.
    pub fn on_receipt(cal: &WorkCalendar, rule: Rule, received_on: NaiveDate) -> Self {
        if rule.green == 0 {
            return Self {
                merchant_deadline: None,
                accept_deadline: cal.add_working_days(received_on, rule.accept),
                accepted_on: None,
                conclude_deadline: None,
            };
        }
        let green_end = cal.add_working_days(received_on, rule.green);
        Self {
            merchant_deadline: Some(green_end),
            accept_deadline: cal.add_working_days(green_end, rule.accept),
            accepted_on: None,
            conclude_deadline: None,
        }
    }

    pub fn green_channel_open(&self, today: NaiveDate) -> bool {
        self.merchant_deadline.is_some_and(|d| today <= d)
    }

    /// The deadline the regulator is held to in `state`, if any.
    pub fn current(&self, state: State) -> Option<NaiveDate> {
        match state {
            State::Submitted => Some(self.accept_deadline),
            State::Accepted => self.conclude_deadline,
            // Waiting for the consumer's answer to the merchant's offer.
            State::MerchantProposed => None,
            _ => None,
        }
    }

    /// Past the deadline of the current step and still open.
    pub fn overdue(&self, state: State, today: NaiveDate) -> bool {
        self.current(state).is_some_and(|d| today > d)
    }

    /// The deadlines after `action` is taken on `today` in `from`, and whether the action
    /// came after the deadline it answers.
    pub fn after(
        &self,
        cal: &WorkCalendar,
        rule: Rule,
        from: State,
        action: Action,
        today: NaiveDate,
    ) -> (Deadlines, bool) {
        let mut d = *self;
        let late = match action {
            Action::Accept | Action::Reject | Action::Resolve | Action::Terminate => {
                self.overdue(from, today)
            }
            _ => false,
        };
        match action {
            // The green channel has closed: the regulator's clock starts now.
            Action::ConsumerDecline => {
                d.merchant_deadline = None;
                d.accept_deadline = cal.add_working_days(today, rule.accept);
            }
            Action::Accept => {
                d.merchant_deadline = None;
                d.accepted_on = Some(today);
                d.conclude_deadline = Some(cal.add_working_days(today, rule.conclude));
            }
            Action::Reject => d.merchant_deadline = None,
            _ => {}
        }
        (d, late)
    }
}

/// A tracking number: 12 digits, `YYMMDD` of receipt and 6 random digits, read out as
/// `261122-483102`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingNo(String);

impl TrackingNo {
    pub fn generate(received_on: NaiveDate) -> Self {
        let n: u32 = rand::rng().random_range(0..1_000_000);
        Self(format!("{}{n:06}", received_on.format("%y%m%d")))
    }

    /// Forgives spaces, dashes and full-width digits.
    pub fn parse(raw: &str) -> Option<Self> {
        let digits: String = fold_width(raw)
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '—'))
            .collect();
        (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Grouped for reading aloud.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..6], &self.0[6..])
    }
}

/// `138****1234` for a mobile; a landline keeps its area code and last 4 digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep_head = if phone.starts_with('1') {
        3
    } else {
        phone.find('-').map(|i| i + 1).unwrap_or(0)
    };
    let tail = 4;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_head || i >= chars.len() - tail || *c == '-' {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// The first character and a star for each of the rest: `张**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first)
            .chain(chars.map(|_| '*'))
            .collect::<String>(),
        None => String::new(),
    }
}

/// What the consumer sends, as typed.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub name: String,
    pub phone: String,
    pub category: String,
    pub description: String,
    /// Yuan as typed in the form (`12.5`), or fen from the API.
    pub amount_fen: Option<i64>,
    pub desired_outcome: String,
}

/// A complaint that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submission {
    pub name: String,
    /// Canonical form (`13812345678`, `0837-2822222`).
    pub phone: String,
    pub category: Category,
    pub description: String,
    pub amount_fen: Option<i64>,
    pub desired_outcome: String,
}

pub const DESCRIPTION_MIN: usize = 10;
pub const DESCRIPTION_MAX: usize = 2000;
/// 100 million yuan: beyond any consumer dispute this platform handles.
pub const AMOUNT_MAX_FEN: i64 = 10_000_000_000;

impl Draft {
    pub fn validate(&self) -> Result<Submission, Vec<FieldError>> {
        let mut e = Vec::new();
        for (field, value) in [
            ("name", &self.name),
            ("phone", &self.phone),
            ("category", &self.category),
            ("description", &self.description),
            ("desired_outcome", &self.desired_outcome),
        ] {
            if let Some(err) = control_char_error(field, value) {
                e.push(err);
            }
        }
        if !e.is_empty() {
            return Err(e);
        }
        let name = clean_text(&self.name);
        if name.is_empty() {
            e.push(FieldError::new("name", "required", "name is required"));
        } else if name.chars().count() > 50 {
            e.push(FieldError::new(
                "name",
                "too_long",
                "name must be at most 50 characters",
            ));
        }
        let phone = if self.phone.trim().is_empty() {
            e.push(FieldError::new("phone", "required", "phone is required"));
            None
        } else {
            match Phone::parse_field(&self.phone, "phone") {
                Ok(p) if p.kind() != PhoneKind::Service => Some(p.into_string()),
                Ok(_) => {
                    e.push(FieldError::new(
                        "phone",
                        "invalid_phone",
                        "phone must be a mainland mobile or landline where you can be reached, \
                         not a 400/800 service number",
                    ));
                    None
                }
                Err(err) => {
                    e.push(err);
                    None
                }
            }
        };
        let category = if self.category.trim().is_empty() {
            e.push(FieldError::new(
                "category",
                "required",
                "category is required",
            ));
            None
        } else {
            Category::parse_field(&self.category, "category")
                .map_err(|x| e.push(x))
                .ok()
        };
        let description = clean_multiline(&self.description);
        let n = description.chars().count();
        if n < DESCRIPTION_MIN {
            e.push(FieldError::new(
                "description",
                if n == 0 { "required" } else { "too_short" },
                format!("description must be {DESCRIPTION_MIN} to {DESCRIPTION_MAX} characters"),
            ));
        } else if n > DESCRIPTION_MAX {
            e.push(FieldError::new(
                "description",
                "too_long",
                format!("description must be {DESCRIPTION_MIN} to {DESCRIPTION_MAX} characters"),
            ));
        }
        if let Some(a) = self.amount_fen {
            if !(0..=AMOUNT_MAX_FEN).contains(&a) {
                e.push(FieldError::new(
                    "amount_fen",
                    "out_of_range",
                    "amount_fen must be between 0 and 10000000000 (fen)",
                ));
            }
        }
        let desired_outcome = clean_multiline(&self.desired_outcome);
        if desired_outcome.chars().count() > 500 {
            e.push(FieldError::new(
                "desired_outcome",
                "too_long",
                "desired_outcome must be at most 500 characters",
            ));
        }
        match (phone, category) {
            (Some(phone), Some(category)) if e.is_empty() => Ok(Submission {
                name,
                phone,
                category,
                description,
                amount_fen: self.amount_fen,
                desired_outcome,
            }),
            _ => Err(e),
        }
    }
}

/// Parses yuan as people type it (`12`, `12.5`, `12.50`, `１２元`) into fen.
pub fn parse_yuan(raw: &str) -> Result<Option<i64>, FieldError> {
    let s = fold_width(raw);
    let s = s.trim().trim_end_matches('元').trim().replace(',', "");
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        FieldError::new(
            "amount",
            "invalid_amount",
            "amount must be in yuan with at most two decimals, e.g. 128.50",
        )
    };
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty()
        || whole.len() > 9
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let yuan: i64 = whole.parse().map_err(|_| bad())?;
    let fen: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    Ok(Some(yuan * 100 + fen))
}

/// Professional-claimant rule: at least `complaints` complaints against at least `merchants`
/// different merchants within `days` days, from one phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagRule {
    pub complaints: u32,
    pub merchants: u32,
    pub days: u32,
}

impl FlagRule {
    pub fn flags(&self, complaints: u32, merchants: u32) -> bool {
        complaints >= self.complaints && merchants >= self.merchants
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn ctx(party: Party) -> Context {
        Context {
            party,
            green_channel_open: true,
            has_note: true,
        }
    }

    /// Every state × action × party: exactly the transitions in the module docs succeed.
    #[test]
    fn transition_table_is_exhaustive() {
        use Action as A;
        use State as S;
        let legal = [
            (S::Submitted, A::Propose, S::MerchantProposed),
            (S::MerchantProposed, A::ConsumerAccept, S::Resolved),
            (S::MerchantProposed, A::ConsumerDecline, S::Submitted),
            (S::Submitted, A::Accept, S::Accepted),
            (S::Submitted, A::Reject, S::Rejected),
            (S::Accepted, A::Resolve, S::Resolved),
            (S::Accepted, A::Terminate, S::Terminated),
            (S::Submitted, A::Withdraw, S::Withdrawn),
            (S::MerchantProposed, A::Withdraw, S::Withdrawn),
            (S::Accepted, A::Withdraw, S::Withdrawn),
        ];
        let parties = [Party::Consumer, Party::Merchant, Party::Regulator];
        let mut allowed = 0;
        for &from in State::ALL {
            for &action in Action::ALL {
                for party in parties {
                    let got = next(from, action, ctx(party));
                    let want = legal
                        .iter()
                        .find(|(f, a, _)| *f == from && *a == action)
                        .map(|(_, _, to)| *to);
                    match (got, want) {
                        (Ok(to), Some(w)) => {
                            assert_eq!(to, w);
                            assert_eq!(party, action.party());
                            allowed += 1;
                        }
                        (Err(TransitionError::NotYours { .. }), _) => {
                            assert_ne!(party, action.party())
                        }
                        (Err(TransitionError::Illegal { .. }), None) => {
                            assert_eq!(party, action.party())
                        }
                        other => panic!("{from:?} {action:?} {party:?}: {other:?}"),
                    }
                }
            }
        }
        assert_eq!(allowed, legal.len());
        for s in State::ALL {
            let open = [S::Submitted, S::MerchantProposed, S::Accepted].contains(s);
            assert_eq!(s.is_closed(), !open);
        }
    }

    #[test]
    fn propose_needs_open_green_channel_and_reject_needs_a_note() {
        let mut c = ctx(Party::Merchant);
        c.green_channel_open = false;
        assert_eq!(
            next(State::Submitted, Action::Propose, c),
            Err(TransitionError::GreenChannelClosed)
        );
        let mut c = ctx(Party::Regulator);
        c.has_note = false;
        assert_eq!(
            next(State::Submitted, Action::Reject, c),
            Err(TransitionError::NoteRequired(Action::Reject))
        );
        assert_eq!(
            next(State::Accepted, Action::Terminate, c),
            Err(TransitionError::NoteRequired(Action::Terminate))
        );
        assert_eq!(
            next(State::Submitted, Action::Accept, c),
            Ok(State::Accepted)
        );
    }

    /// The official 2026 schedule as seeded: Mid-Autumn 25–27 September, National Day 1–7
    /// October; make-up working days Sunday 20 September and Saturday 10 October.
    fn calendar() -> WorkCalendar {
        let holidays = ["2026-09-25", "2026-09-26", "2026-09-27"]
            .into_iter()
            .map(d)
            .chain((1..=7).map(|n| d(&format!("2026-10-{n:02}"))));
        WorkCalendar::new(holidays, [d("2026-09-20"), d("2026-10-10")])
    }

    const RULE: Rule = Rule {
        accept: 7,
        conclude: 45,
        green: 10,
    };

    #[test]
    fn deadlines_across_a_holiday_with_make_up_days() {
        let cal = calendar();
        // Received Tuesday 22 September. Working days after it: 23, 24, (holiday 25–27) 28,
        // 29, 30, (holiday 1–7 Oct) 8, 9, Saturday 10 (make-up), (Sunday 11) 12, 13 …
        let received = d("2026-09-22");
        assert_eq!(cal.add_working_days(received, 3), d("2026-09-28"));
        assert_eq!(cal.add_working_days(received, 6), d("2026-10-08"));
        assert_eq!(cal.add_working_days(received, 8), d("2026-10-10"));
        let dl = Deadlines::on_receipt(&cal, RULE, received);
        assert_eq!(dl.merchant_deadline, Some(d("2026-10-13")));
        assert_eq!(dl.accept_deadline, d("2026-10-22"));
        // Without a green channel the regulator has 7 working days from receipt.
        let plain = Deadlines::on_receipt(&cal, Rule { green: 0, ..RULE }, received);
        assert_eq!(plain.merchant_deadline, None);
        assert_eq!(plain.accept_deadline, d("2026-10-09"));
    }

    #[test]
    fn decline_restarts_the_regulator_clock_and_accept_sets_conclusion() {
        let cal = calendar();
        let dl = Deadlines::on_receipt(&cal, RULE, d("2026-11-02"));
        assert!(dl.green_channel_open(d("2026-11-16")));
        assert!(!dl.green_channel_open(d("2026-11-17")));
        let (dl2, late) = dl.after(
            &cal,
            RULE,
            State::MerchantProposed,
            Action::ConsumerDecline,
            d("2026-11-04"),
        );
        assert!(!late);
        assert_eq!(dl2.merchant_deadline, None);
        assert_eq!(dl2.accept_deadline, d("2026-11-13"));
        assert!(!dl2.overdue(State::Submitted, d("2026-11-13")));
        assert!(dl2.overdue(State::Submitted, d("2026-11-16")));
        let (dl3, late) = dl2.after(
            &cal,
            RULE,
            State::Submitted,
            Action::Accept,
            d("2026-11-16"),
        );
        assert!(late, "accepted after the deadline");
        assert_eq!(dl3.accepted_on, Some(d("2026-11-16")));
        assert_eq!(dl3.conclude_deadline, Some(d("2027-01-18")));
        assert!(!dl3.overdue(State::Accepted, d("2027-01-18")));
        assert!(dl3.overdue(State::Accepted, d("2027-01-19")));
        assert!(!dl3.overdue(State::Resolved, d("2027-06-01")));
        assert!(!dl3.overdue(State::MerchantProposed, d("2027-06-01")));
    }

    #[test]
    fn tracking_numbers_read_aloud() {
        let t = TrackingNo::generate(d("2026-11-22"));
        assert!(t.as_str().starts_with("261122"));
        assert_eq!(t.as_str().len(), 12);
        let back = TrackingNo::parse(&format!(" {} ", t.display())).unwrap();
        assert_eq!(back, t);
        assert_eq!(
            TrackingNo::parse("２６１１２２ ４８３１０２")
                .unwrap()
                .as_str(),
            "261122483102"
        );
        assert!(TrackingNo::parse("26112248310").is_none());
        assert!(TrackingNo::parse("26112248310a").is_none());
    }

    #[test]
    fn masks() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("0837-2822222"), "0837-***2222");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("Li"), "L*");
    }

    #[test]
    fn validation_names_each_field() {
        let bad = Draft {
            name: " ".into(),
            phone: "400-123-4567".into(),
            category: "noise".into(),
            description: "太短".into(),
            amount_fen: Some(-1),
            desired_outcome: "x".repeat(501),
        };
        let fields: Vec<_> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("name".into(), "required"),
                ("phone".into(), "invalid_phone"),
                ("category".into(), "invalid_category"),
                ("description".into(), "too_short"),
                ("amount_fen".into(), "out_of_range"),
                ("desired_outcome".into(), "too_long"),
            ]
        );
        let ok = Draft {
            name: "  王 小明 ".into(),
            phone: "+86 138-1234-5678".into(),
            category: "price".into(),
            description: "菜单价格与结账\r\n\r\n\r\n价格不一致，多收了钱。".into(),
            amount_fen: Some(12_800),
            desired_outcome: String::new(),
        }
        .validate()
        .unwrap();
        assert_eq!(ok.name, "王 小明");
        assert_eq!(ok.phone, "13812345678");
        assert_eq!(ok.description, "菜单价格与结账\n\n价格不一致，多收了钱。");
    }

    #[test]
    fn yuan_parsing() {
        assert_eq!(parse_yuan("128.5").unwrap(), Some(12_850));
        assert_eq!(parse_yuan("１２元").unwrap(), Some(1_200));
        assert_eq!(parse_yuan(" ").unwrap(), None);
        assert_eq!(parse_yuan("0.05").unwrap(), Some(5));
        assert!(parse_yuan("1.234").is_err());
        assert!(parse_yuan("-3").is_err());
        assert!(parse_yuan("abc").is_err());
    }

    #[test]
    fn flag_rule() {
        let r = FlagRule {
            complaints: 5,
            merchants: 3,
            days: 30,
        };
        assert!(r.flags(5, 3));
        assert!(!r.flags(4, 4));
        assert!(!r.flags(9, 2));
    }
}
