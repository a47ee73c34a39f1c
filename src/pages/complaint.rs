//! The consumer's complaint pages: the form on a shop's page, the tracking page, and the page
//! that says when to try again. Work without JavaScript; words from the locale files.

use askama::Template;

use crate::db::complaints::{ComplaintRow, EventRow};
use crate::domain::complaint::{Action, Category, TrackingNo};
use crate::domain::time::china_offset;
use crate::pages::shop::Words;

/// What the consumer typed, kept across a validation error.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct ComplaintForm {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub desired_outcome: String,
}

#[derive(Template)]
#[template(path = "complaint_form.html")]
pub struct ComplaintFormPage {
    pub t: Words,
    pub code: String,
    pub shop_name: String,
    pub form: ComplaintForm,
    /// Fields with an error, in form order (each is shown with its message).
    pub errors: Vec<String>,
}

impl ComplaintFormPage {
    pub fn categories(&self) -> Vec<(&'static str, String)> {
        Category::ALL
            .iter()
            .map(|c| (c.as_str(), self.t.w("complaint.category", c.as_str())))
            .collect()
    }
    pub fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e == field)
    }
    pub fn error_keys(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|f| format!("complaint.error.{f}"))
            .collect()
    }
}

/// `12850` → `128.50`.
pub fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// One line of the timeline, in the page's language and China time.
pub struct TimelineLine {
    pub at: String,
    pub action: String,
    pub note: String,
}

/// A complaint as its consumer sees it on the tracking page.
pub struct Tracked {
    pub tracking_no: String,
    pub merchant_name: String,
    pub status: String,
    pub merchant_deadline: Option<String>,
    pub accept_deadline: Option<String>,
    pub conclude_deadline: Option<String>,
    pub proposal: Option<String>,
    pub proposal_amount: Option<String>,
    pub recovered: Option<String>,
    pub rating: Option<String>,
    pub can_confirm: bool,
    pub can_rate: bool,
    pub can_withdraw: bool,
    /// The consumer declined the merchant's offer and the complaint now waits for the
    /// regulator (its latest step, in the state `submitted`).
    pub declined: bool,
    pub timeline: Vec<TimelineLine>,
}

impl Tracked {
    pub fn new(
        t: &Words,
        row: &ComplaintRow,
        merchant_name: String,
        events: &[EventRow],
        options: (bool, bool, bool),
    ) -> Self {
        let state = row.state();
        let open = !state.is_closed();
        Self {
            tracking_no: TrackingNo::parse(&row.tracking_no)
                .map(|n| n.display())
                .unwrap_or_else(|| row.tracking_no.clone()),
            merchant_name,
            status: t.w("complaint.status", &row.status),
            merchant_deadline: row
                .merchant_deadline
                .filter(|_| open)
                .map(|d| d.to_string()),
            accept_deadline: (state == crate::domain::complaint::State::Submitted)
                .then(|| row.accept_deadline.to_string()),
            conclude_deadline: row
                .conclude_deadline
                .filter(|_| open)
                .map(|d| d.to_string()),
            proposal: row.proposal.clone(),
            proposal_amount: row.proposal_amount_fen.map(yuan),
            recovered: (row.amount_recovered_fen > 0).then(|| yuan(row.amount_recovered_fen)),
            rating: row.rating.as_ref().map(|r| t.w("rating", r)),
            can_confirm: options.0,
            can_rate: options.1,
            can_withdraw: options.2,
            declined: state == crate::domain::complaint::State::Submitted
                && events
                    .last()
                    .is_some_and(|e| e.action == Action::ConsumerDecline.as_str()),
            timeline: events
                .iter()
                .map(|e| TimelineLine {
                    at: e
                        .at
                        .with_timezone(&china_offset())
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    action: t.w("complaint.action", &e.action),
                    note: if e.action == "rate" {
                        String::new()
                    } else {
                        e.note.clone()
                    },
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "track.html")]
pub struct TrackPage {
    pub t: Words,
    /// As typed (or from the redirect after submitting).
    pub no: String,
    pub phone: String,
    /// The redirect after a new complaint.
    pub just_submitted: bool,
    pub not_found: bool,
    pub done: bool,
    pub found: Option<Tracked>,
}

impl TrackPage {
    pub fn ratings(&self) -> Vec<(&'static str, String)> {
        crate::domain::complaint::Rating::ALL
            .iter()
            .map(|r| (r.as_str(), self.t.w("rating", r.as_str())))
            .collect()
    }
    /// The number grouped for reading aloud.
    pub fn no_display(&self) -> String {
        TrackingNo::parse(&self.no)
            .map(|n| n.display())
            .unwrap_or_else(|| self.no.clone())
    }
}

#[derive(Template)]
#[template(path = "limited.html")]
pub struct LimitedPage {
    pub t: Words,
    pub minutes: String,
}
