//! The complaint workflow shared by the JSON API and the HTML pages: submission (idempotent,
//! rate-limited, acknowledged only once committed) and transitions (locked, checked against the
//! state machine, timed against the deadlines, regraded and invalidated).

use std::time::Duration;

use actix_web::HttpRequest;
use chrono::{NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use sha2::{Digest, Sha256};

use crate::cache::limits::Limit;
use crate::db;
use crate::db::audit::Actor;
use crate::db::complaints::{Change, ComplaintRow, NewComplaint, NewEvent, Submitted};
use crate::domain::complaint::{
    self, Action, Context, Deadlines, Draft, FlagRule, Party, Rule, State, TrackingNo,
    TransitionError, AMOUNT_MAX_FEN,
};
use crate::domain::phone::Phone;
use crate::domain::shop_code::ShopCode;
use crate::domain::time::china_date;
use crate::domain::workdays::WorkCalendar;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

use super::client_ip;

pub fn today() -> NaiveDate {
    china_date(Utc::now())
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

pub fn ip_key(state: &AppState, req: &HttpRequest) -> String {
    client_ip(req, &state.settings.trusted_proxies)
        .map(super::rate_limit_key)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The client's address as it is, for the audit log and the complaint's record.
pub fn full_ip(state: &AppState, req: &HttpRequest) -> String {
    client_ip(req, &state.settings.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The audit actor for a consumer (no account).
pub fn consumer_actor(state: &AppState, req: &HttpRequest) -> Actor {
    Actor {
        user_id: None,
        label: "consumer".to_owned(),
        client_ip: Some(full_ip(state, req)),
    }
}

/// Submits a complaint against the shop with `shop_code`. The same `idempotency_key` with the
/// same content answers with the complaint it created; with other content, 409.
pub async fn submit(
    state: &AppState,
    req: &HttpRequest,
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
    let ip = ip_key(state, req);
    if let Some(secs) = state
        .limiter
        .charge(&[
            (limit_phone(state), submission.phone.as_str()),
            (limit_ip(state), ip.as_str()),
        ])
        .await
    {
        return Err(AppError::RateLimited {
            retry_after_secs: secs,
        });
    }
    let deadlines = Deadlines::on_receipt(&pre.calendar, rule_of(pre.rule), received_on);
    let actor = consumer_actor(state, req);
    let mut attempt = 0;
    let row = loop {
        attempt += 1;
        let new = NewComplaint {
            tracking_no: TrackingNo::generate(received_on).as_str().to_owned(),
            merchant_id: merchant.id,
            shop_code: code_row.code.clone(),
            region_code: merchant.region_code.clone(),
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
            client_ip: Some(full_ip(state, req)),
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
    req: &HttpRequest,
    tracking_no: &str,
    phone: &str,
) -> AppResult<ComplaintRow> {
    let ip = ip_key(state, req);
    let limit = limit_tracking(state);
    if let Some(secs) = state.limiter.blocked(&limit, &ip).await {
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
            state.limiter.hit(&limit, &ip).await;
            Err(AppError::NotFound)
        }
    }
}

/// What a transition carries besides the action.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub note: String,
    pub amount_fen: Option<i64>,
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

/// Takes `action` on complaint `id` as `party`: locks the row, checks the state machine, moves
/// the deadlines, records the timeline and the audit entry, regrades the merchant — in one
/// transaction — then invalidates the merchant's pages.
pub async fn act(
    state: &AppState,
    id: i64,
    party: Party,
    actor: &Actor,
    action: Action,
    request: Request,
) -> AppResult<ComplaintRow> {
    if let Some(e) = crate::domain::text::control_char_error("note", &request.note) {
        return Err(AppError::validation(e));
    }
    let note = crate::domain::text::clean_multiline(&request.note);
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
    let mut conn = state.pool.get().await?;
    let today = today();
    let actor = actor.clone();
    let row = conn
        .transaction::<_, AppError, _>(async |conn| {
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
                Action::Propose => (Some(note.clone()), request.amount_fen),
                _ => (before.proposal.clone(), before.proposal_amount_fen),
            };
            let amount_recovered_fen = match action {
                Action::ConsumerAccept => before.proposal_amount_fen.unwrap_or(0),
                Action::Resolve => request.amount_fen.unwrap_or(0),
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
                    note: &note,
                },
                &actor,
            )
            .await?;
            // Whether a complaint is open and overdue weighs on the grade.
            let a = db::merchants::assess(conn, after.merchant_id, today).await?;
            db::merchants::store_grade(conn, after.merchant_id, &a).await?;
            Ok(after)
        })
        .await?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[row.merchant_id])
        .await;
    Ok(row)
}

/// What a consumer may do now.
pub fn consumer_options(row: &ComplaintRow) -> (bool, bool, bool) {
    let s = row.state();
    let can_confirm = s == State::MerchantProposed;
    let can_rate = s.is_closed() && row.rating.is_none();
    let can_withdraw = !s.is_closed();
    (can_confirm, can_rate, can_withdraw)
}
