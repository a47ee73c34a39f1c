//! Complaint use cases, called by the JSON API and the HTML pages alike: submission
//! (idempotent, rate-limited, acknowledged only once committed), the consumer's lookups and
//! steps, the staff queue and its transitions (locked, checked against the state machine,
//! timed against the deadlines, regraded and invalidated), ratings and consumer warnings. Each
//! answer is built inside the transaction that writes, so a committed step is never answered
//! with an error.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::policy::{self, ComplaintScope};
use crate::auth::CurrentUser;
use crate::cache::limits::Limit;
use crate::db;
use crate::db::audit::Actor;
use crate::db::complaints::{
    Change, ComplaintFilter, ComplaintRow, EventRow, NewComplaint, NewEvent, NewWarning, Submitted,
    WarningRow,
};
use crate::domain::complaint::{
    self, mask_name, mask_phone, Action, Context, Deadlines, Draft, FlagRule, Party, Rating, Rule,
    State, TrackingNo, TransitionError, AMOUNT_MAX_FEN,
};
use crate::domain::merchant::Category as MerchantCategory;
use crate::domain::phone::Phone;
use crate::domain::region::RegionCode;
use crate::domain::shop_code::ShopCode;
use crate::domain::text::{clean_multiline, clean_text, control_char_error};
use crate::domain::time::{china_date, parse_date};
use crate::domain::workdays::WorkCalendar;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::service::paging::{Page, PageQuery};
use crate::state::AppState;

pub use crate::service::today;

/// A consumer as the public complaint use cases know one: no account, only where the request
/// came from.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// What its rate limits count against (an IPv4 address, an IPv6 /64, or `unknown`).
    pub rate_key: String,
    /// Its address as it is, for the audit log and the complaint's record.
    pub ip: String,
}

impl Consumer {
    /// The audit actor for a consumer (no account).
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: None,
            label: "consumer".to_owned(),
            client_ip: Some(self.ip.clone()),
        }
    }
}

/// The rule in force on `received_on` (the legal defaults if none is stored) and a calendar
/// reaching far enough past it for every deadline.
pub async fn rule_and_calendar(
    conn: &mut AsyncPgConnection,
    received_on: NaiveDate,
) -> AppResult<(Rule, WorkCalendar)> {
    let rule = rule_of(db::calendar::deadline_rule_on(conn, received_on).await?);
    let from = received_on - chrono::Days::new(7);
    let cal = db::calendar::load_range(conn, from, calendar_until(received_on)).await?;
    Ok((rule, cal))
}

/// The stored rule, or the legal defaults (7 / 45 / 10 working days) if none is stored.
fn rule_of(r: Option<db::calendar::DeadlineRule>) -> Rule {
    r.map(|r| Rule {
        accept: r.accept_working_days.max(0) as u32,
        conclude: r.conclude_working_days.max(0) as u32,
        green: r.green_channel_working_days.max(0) as u32,
    })
    .unwrap_or(Rule {
        accept: 7,
        conclude: 45,
        green: 10,
    })
}

/// How far the calendar must reach for a complaint received on `received_on`: deadlines are
/// at most (green + accept) and (conclude) working days from a day between receipt and today,
/// and two years covers every rule the settings allow (365 working days at most each).
fn calendar_until(received_on: NaiveDate) -> NaiveDate {
    today().max(received_on) + chrono::Days::new(2 * 365 + 60)
}

fn limit_phone(state: &AppState) -> Limit {
    Limit {
        name: "complaint-phone",
        max: state.settings.complaints.per_phone_per_day,
        window: Duration::from_secs(24 * 3600),
    }
}

fn limit_ip(state: &AppState) -> Limit {
    Limit {
        name: "complaint-ip",
        max: state.settings.complaints.per_ip_per_hour,
        window: Duration::from_secs(3600),
    }
}

/// Failed tracking lookups per client IP (guessing tracking numbers or phones).
pub fn limit_tracking(state: &AppState) -> Limit {
    Limit {
        name: "tracking",
        max: state.settings.complaints.tracking_failures_per_ip,
        window: Duration::from_secs(15 * 60),
    }
}

pub fn flag_rule(state: &AppState) -> FlagRule {
    let c = &state.settings.complaints;
    FlagRule {
        complaints: c.flag_min_complaints,
        merchants: c.flag_min_merchants,
        days: c.flag_window_days,
    }
}

/// Submits a complaint against the shop with `shop_code`. The same `idempotency_key` with the
/// same content answers with the complaint it created; with other content, 409.
pub async fn submit(
    state: &AppState,
    consumer: &Consumer,
    shop_code: &str,
    draft: &Draft,
    idempotency_key: &str,
) -> AppResult<ComplaintRow> {
    let mut errors = Vec::new();
    let code = ShopCode::parse(shop_code);
    if code.is_none() {
        errors.push(FieldError::new(
            "shop_code",
            "unknown_shop_code",
            "shop_code is not a code this platform issued",
        ));
    }
    let submission = match draft.validate() {
        Ok(s) => Some(s),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let (Some(code), Some(submission)) = (code, submission) else {
        return Err(AppError::Validation(errors));
    };
    let now = Utc::now();
    let received_on = china_date(now);
    let mut conn = state.pool.get().await?;
    // Everything read before writing, in one round trip.
    let pre = db::complaints::prefetch(
        &mut conn,
        code.as_str(),
        idempotency_key,
        &submission.phone,
        &submission.description,
        now,
        received_on,
        calendar_until(received_on),
    )
    .await?;
    let Some((code_row, merchant)) = pre.shop else {
        return Err(AppError::validation(FieldError::new(
            "shop_code",
            "unknown_shop_code",
            "shop_code is not a code this platform issued",
        )));
    };
    let hash = {
        let content = serde_json::json!({ "shop_code": code_row.code, "complaint": submission });
        let digest = Sha256::digest(content.to_string().as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    // A retry is answered before any limit is counted: it creates nothing.
    if let Some(existing) = pre.existing {
        return replay(existing, &hash);
    }
    // The same complaint again within a day (back, then submit once more; a new key for the
    // same words): the first one answers, nothing new is filed or counted.
    if let Some(first) = pre.duplicate {
        return Ok(first);
    }
    if let Some(secs) = state
        .limiter
        .charge(&[
            (limit_phone(state), submission.phone.as_str()),
            (limit_ip(state), consumer.rate_key.as_str()),
        ])
        .await
    {
        return Err(AppError::RateLimited {
            retry_after_secs: secs,
        });
    }
    let deadlines = Deadlines::on_receipt(&pre.calendar, rule_of(pre.rule), received_on);
    let actor = consumer.actor();
    let mut attempt = 0;
    let row = loop {
        attempt += 1;
        let new = NewComplaint {
            tracking_no: TrackingNo::generate(received_on).as_str().to_owned(),
            merchant_id: merchant.id,
            shop_code: code_row.code.clone(),
            region_code: merchant.fields.region_code.clone(),
            consumer_name: submission.name.clone(),
            consumer_phone: submission.phone.clone(),
            category: submission.category.as_str().to_owned(),
            description: submission.description.clone(),
            amount_fen: submission.amount_fen,
            desired_outcome: submission.desired_outcome.clone(),
            received_at: now,
            received_on,
            merchant_deadline: deadlines.merchant_deadline,
            accept_deadline: deadlines.accept_deadline,
            idempotency_key: idempotency_key.to_owned(),
            request_hash: hash.clone(),
            client_ip: Some(consumer.ip.clone()),
        };
        match db::complaints::submit(&mut conn, &new, &actor, flag_rule(state)).await {
            Ok(Submitted::Created(row)) => break *row,
            Ok(Submitted::Replayed(row)) => return Ok(*row),
            Ok(Submitted::KeyReused) => return Err(key_reused()),
            // Two complaints drew the same tracking number on one day: draw again.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            )) if attempt < 5
                && info
                    .constraint_name()
                    .is_some_and(|c| c.contains("tracking_no")) =>
            {
                continue
            }
            Err(e) => return Err(e.into()),
        }
    };
    // The page's complaint figures changed: an active code's page is the one that shows them
    // (a withdrawn code's page does not), so no lookup of the merchant's codes is needed.
    if code_row.revoked_at.is_none() {
        // The connection goes back first: the invalidation is Redis's work, and at peak a
        // connection held across it is one the staff reads wait for.
        drop(conn);
        state.pages.invalidate_codes(&[code_row.code]).await;
    } else {
        state
            .pages
            .invalidate_merchants(&mut conn, &[merchant.id])
            .await;
    }
    Ok(row)
}

fn key_reused() -> AppError {
    AppError::Conflict {
        code: "idempotency_key_reused",
        detail: "this Idempotency-Key was already used for a different complaint; use a new key \
                 for a new complaint"
            .into(),
    }
}

fn replay(existing: ComplaintRow, hash: &str) -> AppResult<ComplaintRow> {
    if existing.request_hash == hash {
        Ok(existing)
    } else {
        Err(key_reused())
    }
}

/// The complaint with this tracking number if `phone` is the one it was filed with. Failed
/// lookups count against the client's IP; past the limit, 429.
pub async fn find_for_consumer(
    state: &AppState,
    consumer: &Consumer,
    tracking_no: &str,
    phone: &str,
) -> AppResult<ComplaintRow> {
    let ip = &consumer.rate_key;
    let limit = limit_tracking(state);
    if let Some(secs) = state.limiter.blocked(&limit, ip).await {
        return Err(AppError::RateLimited {
            retry_after_secs: secs,
        });
    }
    let found = match (TrackingNo::parse(tracking_no), Phone::parse(phone)) {
        (Some(no), Ok(phone)) => {
            let mut conn = state.pool.get().await?;
            db::complaints::by_tracking_no(&mut conn, no.as_str())
                .await?
                .filter(|c| c.consumer_phone == phone.as_str())
        }
        _ => None,
    };
    match found {
        Some(c) => Ok(c),
        None => {
            state.limiter.hit(&limit, ip).await;
            Err(AppError::NotFound)
        }
    }
}

fn transition_error(e: TransitionError) -> AppError {
    match e {
        TransitionError::NotYours { .. } => AppError::Forbidden(match e {
            TransitionError::NotYours {
                action: Action::Propose,
            } => "only the merchant may propose a settlement",
            TransitionError::NotYours {
                action: Action::ConsumerAccept | Action::ConsumerDecline | Action::Withdraw,
            } => "only the consumer may do this",
            _ => "only the regulator may do this",
        }),
        TransitionError::NoteRequired(_) => {
            AppError::validation(FieldError::new("note", "required", e.to_string()))
        }
        TransitionError::GreenChannelClosed => AppError::Conflict {
            code: "illegal_transition",
            detail: e.to_string(),
        },
        TransitionError::Illegal { .. } => AppError::Conflict {
            code: "illegal_transition",
            detail: e.to_string(),
        },
    }
}

/// What a transition carries besides the action.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub note: String,
    pub amount_fen: Option<i64>,
}

/// The note and amount of a step, checked (422 naming the field): the note cleaned.
fn check_step(request: &Request) -> AppResult<String> {
    if let Some(e) = control_char_error("note", &request.note) {
        return Err(AppError::validation(e));
    }
    let note = clean_multiline(&request.note);
    if note.chars().count() > 2000 {
        return Err(AppError::validation(FieldError::new(
            "note",
            "too_long",
            "note must be at most 2000 characters",
        )));
    }
    if let Some(a) = request.amount_fen {
        if !(0..=AMOUNT_MAX_FEN).contains(&a) {
            return Err(AppError::validation(FieldError::new(
                "amount_recovered_fen",
                "out_of_range",
                "amount_recovered_fen must be between 0 and 10000000000 (fen)",
            )));
        }
    }
    Ok(note)
}

/// Takes `action` on complaint `id` as `party` inside the caller's transaction: locks the row,
/// checks the state machine, moves the deadlines, records the timeline and the audit entry and
/// regrades the merchant. `note` is already checked (`check_step`).
#[allow(clippy::too_many_arguments)]
async fn transition(
    conn: &mut AsyncPgConnection,
    id: i64,
    party: Party,
    actor: &Actor,
    action: Action,
    note: &str,
    amount_fen: Option<i64>,
    today: NaiveDate,
) -> AppResult<ComplaintRow> {
    let before = db::complaints::lock(conn, id).await?;
    let from = before.state();
    let deadlines = before.deadlines();
    let to = complaint::next(
        from,
        action,
        Context {
            party,
            green_channel_open: deadlines.green_channel_open(today),
            has_note: !note.is_empty(),
        },
    )
    .map_err(transition_error)?;
    let (rule, cal) = rule_and_calendar(conn, before.received_on).await?;
    let (d, late) = deadlines.after(&cal, rule, from, action, today);
    let (proposal, proposal_amount_fen) = match action {
        Action::Propose => (Some(note.to_owned()), amount_fen),
        _ => (before.proposal.clone(), before.proposal_amount_fen),
    };
    let amount_recovered_fen = match action {
        Action::ConsumerAccept => before.proposal_amount_fen.unwrap_or(0),
        Action::Resolve => amount_fen.unwrap_or(0),
        _ => before.amount_recovered_fen,
    };
    let change = Change {
        status: to.as_str().to_owned(),
        merchant_deadline: d.merchant_deadline,
        accept_deadline: d.accept_deadline,
        accepted_on: d.accepted_on,
        conclude_deadline: d.conclude_deadline,
        closed_at: if to.is_closed() {
            Some(Utc::now())
        } else {
            None
        },
        late: before.late || late,
        proposal,
        proposal_amount_fen,
        amount_recovered_fen,
        updated_at: Utc::now(),
    };
    let after = db::complaints::apply(
        conn,
        &before,
        &change,
        NewEvent {
            complaint_id: id,
            actor_role: party.as_str(),
            actor_label: &actor.label,
            action: action.as_str(),
            from_status: Some(from.as_str()),
            to_status: to.as_str(),
            note,
        },
        actor,
    )
    .await?;
    // Whether a complaint is open and overdue weighs on the grade.
    let a = db::merchants::assess(conn, after.merchant_id, today).await?;
    db::merchants::store_grade(conn, after.merchant_id, &a).await?;
    Ok(after)
}

/// What a consumer's view of a complaint shows: the row, its timeline and the merchant's name.
#[derive(Debug, Clone)]
pub struct ConsumerComplaint {
    pub row: ComplaintRow,
    pub events: Vec<EventRow>,
    pub merchant_name: String,
}

async fn consumer_complaint_in(
    conn: &mut AsyncPgConnection,
    row: ComplaintRow,
) -> AppResult<ConsumerComplaint> {
    let (events, merchant_name) = db::complaints::timeline_and_merchant(conn, &row).await?;
    Ok(ConsumerComplaint {
        row,
        events,
        merchant_name,
    })
}

/// A complaint the consumer has found (`find_for_consumer`), with its timeline.
pub async fn consumer_complaint(
    state: &AppState,
    row: ComplaintRow,
) -> AppResult<ConsumerComplaint> {
    let mut conn = state.pool.get().await?;
    consumer_complaint_in(&mut conn, row).await
}

/// The consumer's view of the complaint with this tracking number, if `phone` is the one it was
/// filed with (failed lookups are rate limited).
pub async fn track(
    state: &AppState,
    consumer: &Consumer,
    tracking_no: &str,
    phone: &str,
) -> AppResult<PublicComplaintView> {
    let row = find_for_consumer(state, consumer, tracking_no, phone).await?;
    Ok(public_view(consumer_complaint(state, row).await?))
}

/// The consumer's step (accept or decline an offer, withdraw) on a complaint it has found: the
/// transition and the answer in one transaction, then the merchant's pages invalidated.
pub async fn act_for_consumer(
    state: &AppState,
    consumer: &Consumer,
    row: &ComplaintRow,
    action: Action,
    note: String,
) -> AppResult<ConsumerComplaint> {
    let note = check_step(&Request {
        note,
        amount_fen: None,
    })?;
    let actor = consumer.actor();
    let today = today();
    let id = row.id;
    let mut conn = state.pool.get().await?;
    let done = conn
        .transaction::<_, AppError, _>(async |conn| {
            let after = transition(
                conn,
                id,
                Party::Consumer,
                &actor,
                action,
                &note,
                None,
                today,
            )
            .await?;
            consumer_complaint_in(conn, after).await
        })
        .await?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[done.row.merchant_id])
        .await;
    Ok(done)
}

/// A consumer's step by tracking number and phone (the JSON API): found (404, rate limited),
/// taken, answered with the consumer's view.
pub async fn consumer_step(
    state: &AppState,
    consumer: &Consumer,
    tracking_no: &str,
    phone: &str,
    action: Action,
    note: String,
) -> AppResult<PublicComplaintView> {
    let row = find_for_consumer(state, consumer, tracking_no, phone).await?;
    let done = act_for_consumer(state, consumer, &row, action, note).await?;
    Ok(public_view(done))
}

/// Records the consumer's rating of a complaint it has found: once, and only when it is closed
/// (409 otherwise). The answer is read in the same transaction.
pub async fn rate_found(
    state: &AppState,
    consumer: &Consumer,
    row: &ComplaintRow,
    rating: Rating,
    comment: Option<&str>,
) -> AppResult<ConsumerComplaint> {
    let comment = comment.map(clean_multiline).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        return Err(AppError::validation(FieldError::new(
            "comment",
            "too_long",
            "comment must be at most 500 characters",
        )));
    }
    let closed = row.state().is_closed();
    let actor = consumer.actor();
    let id = row.id;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        match db::complaints::rate(conn, id, rating.as_str(), comment.as_deref(), &actor).await? {
            Some(after) => consumer_complaint_in(conn, after).await,
            None => Err(AppError::Conflict {
                code: if closed {
                    "already_rated"
                } else {
                    "illegal_transition"
                },
                detail: if closed {
                    "this complaint has already been rated".into()
                } else {
                    "a complaint can be rated only once it is closed".into()
                },
            }),
        }
    })
    .await
}

/// Rates a complaint by tracking number and phone (the JSON API): the lookup decides first
/// (404, rate limited), then the rating is parsed (422).
pub async fn rate(
    state: &AppState,
    consumer: &Consumer,
    tracking_no: &str,
    phone: &str,
    rating: &str,
    comment: Option<&str>,
) -> AppResult<PublicComplaintView> {
    let row = find_for_consumer(state, consumer, tracking_no, phone).await?;
    let rating = Rating::parse_field(rating, "rating").map_err(AppError::validation)?;
    Ok(public_view(
        rate_found(state, consumer, &row, rating, comment).await?,
    ))
}

/// What a consumer may do now.
pub fn consumer_options(row: &ComplaintRow) -> (bool, bool, bool) {
    let s = row.state();
    let can_confirm = s == State::MerchantProposed;
    let can_rate = s.is_closed() && row.rating.is_none();
    let can_withdraw = !s.is_closed();
    (can_confirm, can_rate, can_withdraw)
}

// ---------------------------------------------------------------------------------------------
// Views

/// One entry of a complaint's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `consumer`, `merchant`, `regulator`.
    pub actor_role: String,
    /// Regulators and admins only: the account that acted (merchants and consumers see the
    /// role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub action: String,
    #[schema(inline, value_type = Option<State>)]
    pub from_status: Option<String>,
    #[schema(inline, value_type = State)]
    pub to_status: String,
    pub note: String,
}

fn timeline(events: Vec<EventRow>, staff: bool) -> Vec<TimelineEntry> {
    events
        .into_iter()
        .map(|e| TimelineEntry {
            at: e.at,
            actor: (staff && e.actor_role != "consumer").then_some(e.actor_label),
            actor_role: e.actor_role,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            // A rating's word is in `rating`; a consumer's notes are their own.
            note: e.note,
        })
        .collect()
}

/// A complaint of the same phone within the flag window: the evidence behind a flag.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagEvidence {
    pub id: i64,
    pub tracking_no: String,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub received_at: DateTime<Utc>,
    #[schema(inline, value_type = crate::domain::complaint::Category)]
    pub category: String,
    #[schema(inline, value_type = State)]
    pub status: String,
}

/// A complaint as staff see it. For a merchant the consumer's name and phone are masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintView {
    pub id: i64,
    pub tracking_no: String,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub shop_code: String,
    pub region_code: String,
    pub consumer_name: String,
    pub consumer_phone: String,
    #[schema(inline, value_type = crate::domain::complaint::Category)]
    pub category: String,
    pub description: String,
    pub amount_fen: Option<i64>,
    pub desired_outcome: String,
    #[schema(inline, value_type = State)]
    pub status: String,
    pub received_at: DateTime<Utc>,
    /// Green channel: the merchant may propose a settlement until this day.
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub accepted_on: Option<NaiveDate>,
    pub conclude_deadline: Option<NaiveDate>,
    /// Open and past the deadline of its current step.
    pub overdue: bool,
    /// A regulator step was taken after its deadline.
    pub late: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub proposal: Option<String>,
    pub proposal_amount_fen: Option<i64>,
    pub amount_recovered_fen: i64,
    #[schema(inline, value_type = Option<Rating>)]
    pub rating: Option<String>,
    pub rating_comment: Option<String>,
    /// Professional-claimant pattern on this phone (regulators and admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_evidence: Option<Vec<FlagEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
}

fn view(row: ComplaintRow, merchant_name: String, user: &CurrentUser) -> ComplaintView {
    let full = policy::sees_consumer(user);
    let overdue = row.deadlines().overdue(row.state(), today());
    ComplaintView {
        id: row.id,
        tracking_no: row.tracking_no,
        merchant_id: row.merchant_id,
        merchant_name,
        shop_code: row.shop_code,
        region_code: row.region_code,
        consumer_name: if full {
            row.consumer_name
        } else {
            mask_name(&row.consumer_name)
        },
        consumer_phone: if full {
            row.consumer_phone
        } else {
            mask_phone(&row.consumer_phone)
        },
        category: row.category,
        description: row.description,
        amount_fen: row.amount_fen,
        desired_outcome: row.desired_outcome,
        status: row.status,
        received_at: row.received_at,
        merchant_deadline: row.merchant_deadline,
        accept_deadline: row.accept_deadline,
        accepted_on: row.accepted_on,
        conclude_deadline: row.conclude_deadline,
        overdue,
        late: row.late,
        closed_at: row.closed_at,
        proposal: row.proposal,
        proposal_amount_fen: row.proposal_amount_fen,
        amount_recovered_fen: row.amount_recovered_fen,
        rating: row.rating,
        rating_comment: row.rating_comment,
        flagged: full.then_some(row.flagged),
        flag_evidence: None,
        timeline: None,
    }
}

/// A complaint as its consumer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicComplaintView {
    pub tracking_no: String,
    pub merchant_name: String,
    pub shop_code: String,
    #[schema(inline, value_type = crate::domain::complaint::Category)]
    pub category: String,
    #[schema(inline, value_type = State)]
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub conclude_deadline: Option<NaiveDate>,
    pub overdue: bool,
    pub proposal: Option<String>,
    pub proposal_amount_fen: Option<i64>,
    pub amount_recovered_fen: i64,
    #[schema(inline, value_type = Option<Rating>)]
    pub rating: Option<String>,
    /// The consumer may accept or decline the merchant's offer now.
    pub can_confirm: bool,
    /// The consumer may rate the handling now (closed, not yet rated).
    pub can_rate: bool,
    pub can_withdraw: bool,
    pub timeline: Vec<TimelineEntry>,
}

/// The consumer's view of a complaint it has found.
pub fn public_view(c: ConsumerComplaint) -> PublicComplaintView {
    let ConsumerComplaint {
        row,
        events,
        merchant_name,
    } = c;
    let (can_confirm, can_rate, can_withdraw) = consumer_options(&row);
    PublicComplaintView {
        overdue: row.deadlines().overdue(row.state(), today()),
        tracking_no: row.tracking_no,
        merchant_name,
        shop_code: row.shop_code,
        category: row.category,
        status: row.status,
        received_at: row.received_at,
        merchant_deadline: row.merchant_deadline,
        accept_deadline: row.accept_deadline,
        conclude_deadline: row.conclude_deadline,
        proposal: row.proposal,
        proposal_amount_fen: row.proposal_amount_fen,
        amount_recovered_fen: row.amount_recovered_fen,
        rating: row.rating,
        can_confirm,
        can_rate,
        can_withdraw,
        timeline: timeline(events, false),
    }
}

// ---------------------------------------------------------------------------------------------
// Staff

/// Loads a complaint the caller may see (404 otherwise).
async fn visible(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(ComplaintRow, String)> {
    let (row, name) = db::complaints::get_named(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = crate::service::merchants::region_of(&row.region_code)?;
    policy::view_complaint(user, row.merchant_id, &region).check()?;
    Ok((row, name))
}

async fn full_view(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    row: ComplaintRow,
    merchant_name: String,
) -> AppResult<ComplaintView> {
    let events = db::complaints::events(conn, row.id).await?;
    let evidence = if policy::sees_consumer(user) && row.flagged {
        let days = i64::from(state.settings.complaints.flag_window_days);
        let since = row.received_at - chrono::Duration::days(days);
        Some(
            db::complaints::by_phone_since(conn, &row.consumer_phone, since)
                .await?
                .into_iter()
                .filter(|(c, _)| c.received_at <= row.received_at + chrono::Duration::days(days))
                .map(|(c, name)| FlagEvidence {
                    id: c.id,
                    tracking_no: c.tracking_no,
                    merchant_id: c.merchant_id,
                    merchant_name: name,
                    received_at: c.received_at,
                    category: c.category,
                    status: c.status,
                })
                .collect(),
        )
    } else {
        None
    };
    let mut v = view(row, merchant_name, user);
    v.timeline = Some(timeline(events, policy::sees_acting_user(user)));
    v.flag_evidence = evidence;
    Ok(v)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `propose` (merchant), `accept`, `reject` (needs `note`), `resolve`, `terminate` (needs
    /// `note`) (regulator).
    #[schema(inline, value_type = Action)]
    pub action: String,
    #[serde(default)]
    pub note: String,
    /// `propose`: the amount offered; `resolve`: the amount recovered for the consumer.
    pub amount_recovered_fen: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningRequest {
    /// Where it applies (a prefecture covers its counties); omitted: everywhere (admins).
    pub region_code: Option<String>,
    /// Which kind of merchant it concerns; omitted: all.
    #[schema(inline, value_type = Option<MerchantCategory>)]
    pub category: Option<String>,
    #[schema(max_length = 100)]
    pub title: String,
    #[schema(max_length = 1000)]
    pub body: String,
    /// Shown until the end of this day (China time).
    pub valid_until: String,
}

/// The staff queue's filters, as given (parsed here).
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<String>,
    pub region: Option<String>,
    pub merchant_id: Option<i64>,
    pub overdue: Option<bool>,
    pub flagged: Option<bool>,
    /// Only complaints due within `dashboard::DUE_SOON_WORKING_DAYS` working days.
    pub due_soon: bool,
}

/// The queue: regulators see their jurisdiction (overdue first), admins everything, merchants
/// their own complaints with the consumer masked (and never the flag).
pub async fn list(
    state: &AppState,
    user: &CurrentUser,
    query: &QueueFilter,
    paging: &PageQuery,
) -> AppResult<Page<ComplaintView>> {
    let scope = policy::complaint_scope(user)?;
    let region = super::region_in_scope(user, query.region.as_deref(), "region")?;
    let mut errors = Vec::new();
    let (page, per_page) = match paging.parse() {
        Ok(p) => p,
        Err(AppError::Validation(e)) => {
            errors.extend(e);
            (1, 1)
        }
        Err(e) => return Err(e),
    };
    let status = match query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => State::parse_field(s, "status")
            .map_err(|e| errors.push(e))
            .ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut filter = ComplaintFilter {
        merchant_id: query.merchant_id,
        status: status.map(|s| s.as_str().to_owned()),
        overdue: query.overdue,
        ..Default::default()
    };
    if let ComplaintScope::Merchant(own) = scope {
        if filter.merchant_id.is_some_and(|m| m != own) {
            return Ok(Page {
                items: vec![],
                total: 0,
                page,
                per_page,
            });
        }
    }
    let mut conn = state.pool.get().await?;
    if query.due_soon {
        filter.due_by = Some(super::dashboard::due_by(&mut conn, today()).await?);
    }
    let known = super::all_regions(&mut conn).await?;
    match scope {
        ComplaintScope::Merchant(own) => filter.merchant_id = Some(own),
        ComplaintScope::Jurisdiction => {
            filter.visible_regions = Some(
                known
                    .iter()
                    .filter(|r| policy::in_jurisdiction(user, r))
                    .map(|r| r.to_string())
                    .collect(),
            );
            filter.flagged = query.flagged;
        }
        ComplaintScope::Everywhere => filter.flagged = query.flagged,
    }
    if let Some(asked) = region {
        filter.regions = Some(
            known
                .iter()
                .filter(|r| asked.covers(r))
                .map(|r| r.to_string())
                .collect(),
        );
    }
    let (rows, total) = db::complaints::list(&mut conn, &filter, today(), page, per_page).await?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|r| view(r.complaint, r.merchant_name, user))
            .collect(),
        total,
        page,
        per_page,
    })
}

/// One complaint with its timeline, deadlines and (for regulators) the flag's evidence.
pub async fn get(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<ComplaintView> {
    let mut conn = state.pool.get().await?;
    let (row, name) = visible(&mut conn, user, id).await?;
    full_view(state, &mut conn, user, row, name).await
}

/// A staff step in the workflow: the complaint must be one the caller may see (404), then the
/// action and its note are parsed (422); the transition and the full answer are one
/// transaction, the merchant's pages invalidated after it.
pub async fn act(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
    input: &ActionRequest,
) -> AppResult<ComplaintView> {
    let mut conn = state.pool.get().await?;
    let (row, name) = visible(&mut conn, user, id).await?;
    let action = Action::parse_field(&input.action, "action").map_err(AppError::validation)?;
    let note = check_step(&Request {
        note: input.note.clone(),
        amount_fen: input.amount_recovered_fen,
    })?;
    let party = policy::complaint_party(user);
    let today = today();
    let answer = conn
        .transaction::<_, AppError, _>(async |conn| {
            let after = transition(
                conn,
                row.id,
                party,
                &actor,
                action,
                &note,
                input.amount_recovered_fen,
                today,
            )
            .await?;
            full_view(state, conn, user, after, name).await
        })
        .await?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[answer.merchant_id])
        .await;
    Ok(answer)
}

/// Publishes a consumer warning: merchants never (403 before anything is read or parsed);
/// the region is decided once parsed (`policy::publish_warning`). All scan pages are
/// invalidated after commit.
pub async fn create_warning(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    input: &WarningRequest,
) -> AppResult<WarningRow> {
    policy::publish_warnings(user).check()?;
    let mut e = Vec::new();
    let mut conn = state.pool.get().await?;
    let region = match input
        .region_code
        .as_deref()
        .map(crate::domain::text::clean_ident)
        .filter(|s| !s.is_empty())
    {
        Some(r) => match RegionCode::parse(&r) {
            Ok(r) if super::all_regions(&mut conn).await?.contains(&r) => Some(r),
            Ok(r) => {
                e.push(FieldError::new(
                    "region_code",
                    "unknown_region",
                    format!("region {r} is not loaded in this deployment"),
                ));
                None
            }
            Err(err) => {
                e.push(FieldError::new(
                    "region_code",
                    "invalid_region",
                    err.to_string(),
                ));
                None
            }
        },
        None => None,
    };
    let category = match input
        .category
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(c) => MerchantCategory::parse_field(c, "category")
            .map_err(|x| e.push(x))
            .ok(),
        None => None,
    };
    for (field, value) in [("title", &input.title), ("body", &input.body)] {
        if let Some(err) = control_char_error(field, value) {
            e.push(err);
        }
    }
    let title = clean_text(&input.title);
    if title.is_empty() || title.chars().count() > 100 {
        e.push(FieldError::new(
            "title",
            if title.is_empty() {
                "required"
            } else {
                "too_long"
            },
            "title must be 1 to 100 characters",
        ));
    }
    let text = clean_multiline(&input.body);
    if text.is_empty() || text.chars().count() > 1000 {
        e.push(FieldError::new(
            "body",
            if text.is_empty() {
                "required"
            } else {
                "too_long"
            },
            "body must be 1 to 1000 characters",
        ));
    }
    let valid_until = match parse_date(&input.valid_until) {
        Some(d) if d < today() => {
            e.push(FieldError::new(
                "valid_until",
                "in_the_past",
                "valid_until cannot be before today",
            ));
            None
        }
        Some(d) => Some(d),
        None => {
            e.push(FieldError::new(
                "valid_until",
                "invalid_date",
                "valid_until must be a date, YYYY-MM-DD",
            ));
            None
        }
    };
    if input.region_code.is_some() && region.is_none() && e.is_empty() {
        e.push(FieldError::new(
            "region_code",
            "invalid_region",
            "region_code is not valid",
        ));
    }
    let Some(valid_until) = valid_until.filter(|_| e.is_empty()) else {
        return Err(AppError::Validation(e));
    };
    policy::publish_warning(user, region.as_ref()).check()?;
    let row = db::complaints::insert_warning(
        &mut conn,
        &NewWarning {
            region_code: region.map(|r| r.to_string()),
            category: category.map(|c| c.as_str().to_owned()),
            title,
            body: text,
            valid_until,
            created_by: Some(user.id),
        },
        &actor,
    )
    .await?;
    // A warning shows on many pages: drop them all.
    state.pages.invalidate_all_after(&mut conn).await;
    Ok(row)
}

/// Consumer warnings in force for a region (and the prefecture above it, and everywhere) and a
/// category, the newest 50.
pub async fn list_warnings(
    state: &AppState,
    region: Option<&str>,
    category: Option<&str>,
) -> AppResult<Vec<WarningRow>> {
    let region = super::region_param(region, "region").map_err(AppError::validation)?;
    let category = category.map(str::trim).filter(|s| !s.is_empty());
    if let Some(c) = category {
        MerchantCategory::parse_field(c, "category").map_err(AppError::validation)?;
    }
    let mut conn = state.pool.get().await?;
    Ok(db::complaints::active_warnings(&mut conn, today(), region.as_ref(), category).await?)
}
