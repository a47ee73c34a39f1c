//! The data-exchange import (一中心): a file from another department's system becomes merchant
//! records, row by row, with a report of every row that was not taken. The API
//! (`POST /api/v1/imports`) and the CLI (`yidianyima import`) both call `run`.
//!
//! Rules: headers in Chinese or English (assets/import-aliases.json); `uscc` and `name` columns
//! required; rows upserted by USCC; on an update, a blank cell keeps the stored value (the file
//! never wipes what a merchant or regulator entered); USCCs repeated within the file are
//! rejected on every row that has them; rows outside the importer's jurisdiction are rejected;
//! all or nothing unless `partial`; one transaction and one audit event.

pub mod table;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::audit::Actor;
use crate::db::merchants::{MerchantFields, MerchantRow};
use crate::domain::merchant_input::{header_field, MerchantDraft};
use crate::domain::region::RegionCode;
use crate::domain::text::{clean_ident, clean_text};
use crate::domain::uscc::Uscc;
use crate::domain::FieldError;

pub use table::{Table, TableError};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// Commit the valid rows even if some are rejected.
    pub partial: bool,
}

/// Which regions the importer may write to.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    Regions(Vec<RegionCode>),
}

impl Scope {
    fn allows(&self, r: &RegionCode) -> bool {
        match self {
            Scope::All => true,
            Scope::Regions(rs) => rs.iter().any(|j| j.covers(r)),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowReport {
    /// The row number as Excel shows it.
    pub row: usize,
    pub uscc: Option<String>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// How the file was read, e.g. `xlsx`, `csv/gbk`.
    pub format: &'static str,
    /// Non-blank data rows.
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<RowReport>,
    /// Accepted rows with something to look at (e.g. a pilot USCC).
    pub warnings: Vec<RowReport>,
    /// Columns no field is known by; their contents were not imported.
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
    pub partial: bool,
    /// Whether anything was written.
    pub committed: bool,
    /// The merchants updated (their public pages must be refreshed).
    #[serde(skip)]
    pub updated_ids: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("the file lacks required columns")]
    Columns(Vec<FieldError>),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    /// The blocking thread that read the file failed (a bug).
    #[error("the import worker failed: {0}")]
    Worker(String),
}

/// Column index → field name.
fn map_headers(headers: &[String]) -> Result<(Vec<Option<String>>, Vec<String>), ImportError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut errors = Vec::new();
    let mut ignored = Vec::new();
    let mut fields = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let f = header_field(h);
        match &f {
            Some(name) => {
                if let Some(prev) = seen.insert(name.clone(), i) {
                    errors.push(FieldError::new(
                        format!("columns[{i}]"),
                        "duplicate_column",
                        format!("columns {} and {} both mean {name}", prev + 1, i + 1),
                    ));
                }
            }
            None if !clean_text(h).is_empty() => ignored.push(clean_text(h)),
            None => {}
        }
        fields.push(f);
    }
    for required in ["uscc", "name"] {
        if !seen.contains_key(required) {
            errors.push(FieldError::new(
                required,
                "missing_column",
                format!(
                    "the file needs a {required} column ({})",
                    if required == "uscc" {
                        "统一社会信用代码"
                    } else {
                        "名称"
                    }
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok((fields, ignored))
    } else {
        Err(ImportError::Columns(errors))
    }
}

/// Months written as `5,6,7`, `5、6、7`, `5-10` or `5月-10月`.
fn parse_months(raw: &str) -> Result<Vec<i32>, FieldError> {
    let bad = || {
        FieldError::new(
            "opening_months",
            "invalid_month",
            "opening_months is a list like 5,6,7 or a range like 5-10",
        )
    };
    let s = clean_ident(raw).replace('月', "");
    let mut out = Vec::new();
    for part in s.split([',', '、', ';', ' ']).filter(|p| !p.is_empty()) {
        match part.split_once(['-', '~', '至']) {
            Some((a, b)) => {
                let (a, b): (i32, i32) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a <= b {
                    out.extend(a..=b);
                } else {
                    // 11-3: across the new year
                    out.extend((a..=12).chain(1..=b));
                }
            }
            None => out.push(part.trim().parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

/// The cells of one row as a draft: only non-blank cells are set.
fn row_draft(fields: &[Option<String>], cells: &[String]) -> (MerchantDraft, Vec<FieldError>) {
    let mut d = MerchantDraft::default();
    let mut errors = Vec::new();
    for (field, cell) in fields.iter().zip(cells) {
        let Some(field) = field else { continue };
        let value = clean_text(cell);
        if value.is_empty() {
            continue;
        }
        if field == "opening_months" {
            match parse_months(&value) {
                Ok(m) => d.opening_months = Some(m),
                Err(e) => errors.push(e),
            }
        } else {
            d.set_text(field, Some(value));
        }
    }
    (d, errors)
}

/// Sets on `base` every field `over` has.
fn overlay(base: &mut MerchantDraft, over: &MerchantDraft) {
    macro_rules! take {
        ($($f:ident),*) => { $( if over.$f.is_some() { base.$f = over.$f.clone(); } )* };
    }
    take!(
        uscc,
        name,
        legal_representative,
        category,
        region_code,
        address,
        phone,
        business_scope,
        registered_on,
        status,
        opening_hours,
        opening_months,
        description,
        pledges,
        region_override_reason,
        uscc_check_override_reason
    );
}

#[derive(Serialize)]
struct AuditSummary<'a> {
    format: &'a str,
    file_name: Option<&'a str>,
    rows: usize,
    created: Vec<&'a str>,
    updated: Vec<&'a MerchantRow>,
    unchanged: usize,
    rejected: usize,
    partial: bool,
}

/// A data row read from the file.
struct Row {
    number: usize,
    uscc: Option<Uscc>,
    draft: MerchantDraft,
    errors: Vec<FieldError>,
}

/// What reading the file yields, before the database is asked anything.
struct Parsed {
    format: &'static str,
    ignored_columns: Vec<String>,
    rows: Vec<Row>,
}

/// Files read at once: reading is CPU work on a blocking thread holding the file's rows, so a
/// burst of imports queues here instead of taking every core and the memory of all of them.
static PARSE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Reads the file and turns its rows into drafts (pure CPU work: run it off the async workers).
fn parse(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let table = table::read(bytes)?;
    let (fields, ignored_columns) = map_headers(&table.headers)?;

    // Pass 1: cells → drafts; the USCC as the key.
    let mut rows: Vec<Row> = table
        .rows
        .iter()
        .map(|(number, cells)| {
            let (draft, mut errors) = row_draft(&fields, cells);
            let uscc = match draft.uscc.as_deref() {
                None => {
                    errors.push(FieldError::new("uscc", "required", "uscc is required"));
                    None
                }
                Some(raw) => Uscc::parse(raw)
                    .map_err(|e| errors.push(e.field_error("uscc")))
                    .ok(),
            };
            Row {
                number: *number,
                uscc,
                draft,
                errors,
            }
        })
        .collect();

    // USCCs that appear more than once in the file: every such row is rejected.
    let mut by_uscc: HashMap<String, Vec<usize>> = HashMap::new();
    for r in &rows {
        if let Some(u) = &r.uscc {
            by_uscc.entry(u.to_string()).or_default().push(r.number);
        }
    }
    for r in &mut rows {
        if let Some(u) = &r.uscc {
            let numbers = &by_uscc[u.as_str()];
            if numbers.len() > 1 {
                let others: Vec<String> = numbers
                    .iter()
                    .filter(|n| **n != r.number)
                    .map(|n| n.to_string())
                    .collect();
                r.errors.push(FieldError::new(
                    "uscc",
                    "duplicate_in_file",
                    format!("the same USCC is also on row {}", others.join(", ")),
                ));
            }
        }
    }
    Ok(Parsed {
        format: table.format,
        ignored_columns,
        rows,
    })
}

/// Imports `bytes`. Errors are file-level; row-level problems are in the report. The file is
/// read on a blocking thread (at most two at once), within the limits of [`table`].
pub async fn run(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    scope: &Scope,
    bytes: &[u8],
    file_name: Option<&str>,
    options: Options,
    today: NaiveDate,
) -> Result<Report, ImportError> {
    let Parsed {
        format,
        ignored_columns,
        mut rows,
    } = {
        let _slot = PARSE_SLOTS
            .acquire()
            .await
            .map_err(|e| ImportError::Worker(e.to_string()))?;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || parse(&bytes))
            .await
            .map_err(|e| ImportError::Worker(e.to_string()))??
    };

    let known: HashSet<String> = db::regions::list(conn)
        .await?
        .into_iter()
        .map(|r| r.code)
        .collect();
    let opts = options;
    let actor = actor.clone();
    let scope = scope.clone();
    let row_count = rows.len();

    let outcome = conn
        .transaction::<_, ImportError, _>(async move |conn| {
            // One long transaction by design (10^5 rows): the service's statement timeout is
            // for requests, not for this.
            diesel_async::RunQueryDsl::execute(
                diesel::sql_query("SET LOCAL statement_timeout = 0"),
                conn,
            )
            .await?;
            let keys: Vec<String> = rows
                .iter()
                .filter_map(|r| r.uscc.as_ref().map(|u| u.to_string()))
                .collect();
            let existing: HashMap<String, MerchantRow> = db::merchants::by_usccs(conn, &keys)
                .await?
                .into_iter()
                .map(|m| (m.fields.uscc.clone(), m))
                .collect();

            let mut report = Report {
                format,
                rows: row_count,
                created: 0,
                updated: 0,
                unchanged: 0,
                rejected: Vec::new(),
                warnings: Vec::new(),
                ignored_columns,
                dry_run: opts.dry_run,
                partial: opts.partial,
                committed: false,
                updated_ids: Vec::new(),
            };
            let mut writes: Vec<MerchantFields> = Vec::new();
            let mut created: Vec<String> = Vec::new();
            let mut updated: Vec<&MerchantRow> = Vec::new();
            for r in rows.iter_mut() {
                let current = r.uscc.as_ref().and_then(|u| existing.get(u.as_str()));
                if let Some(cur) = current {
                    let region = RegionCode::parse(&cur.fields.region_code).ok();
                    if !region.is_some_and(|reg| scope.allows(&reg)) {
                        r.errors.push(FieldError::new(
                            "uscc",
                            "outside_jurisdiction",
                            "this merchant is registered outside your jurisdiction",
                        ));
                    }
                }
                let mut warnings = Vec::new();
                let valid = if r.errors.is_empty() {
                    let mut draft = current.map(|m| m.fields.to_draft()).unwrap_or_default();
                    overlay(&mut draft, &r.draft);
                    match draft.validate(today, &mut warnings) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            r.errors.extend(e);
                            None
                        }
                    }
                } else {
                    None
                };
                if let Some(v) = &valid {
                    if !known.contains(v.region_code.as_str()) {
                        r.errors.push(FieldError::new(
                            "region_code",
                            "unknown_region",
                            format!("region {} is not loaded in this deployment", v.region_code),
                        ));
                    } else if !scope.allows(&v.region_code) {
                        r.errors.push(FieldError::new(
                            "region_code",
                            "outside_jurisdiction",
                            format!("region {} is outside your jurisdiction", v.region_code),
                        ));
                    }
                }
                let uscc = r.uscc.as_ref().map(|u| u.to_string());
                if !r.errors.is_empty() {
                    report.rejected.push(RowReport {
                        row: r.number,
                        uscc,
                        errors: std::mem::take(&mut r.errors),
                    });
                    continue;
                }
                let Some(valid) = valid else { continue };
                if !warnings.is_empty() {
                    report.warnings.push(RowReport {
                        row: r.number,
                        uscc: uscc.clone(),
                        errors: warnings,
                    });
                }
                let fields = MerchantFields::from(&valid);
                match current {
                    None => {
                        report.created += 1;
                        created.push(fields.uscc.clone());
                        writes.push(fields);
                    }
                    Some(cur) if cur.fields == fields => report.unchanged += 1,
                    Some(cur) => {
                        report.updated += 1;
                        updated.push(cur);
                        writes.push(fields);
                    }
                }
            }

            let commit = !opts.dry_run && (report.rejected.is_empty() || opts.partial);
            if commit && !writes.is_empty() {
                db::merchants::upsert_many(conn, &writes).await?;
                let summary = AuditSummary {
                    format,
                    file_name,
                    rows: report.rows,
                    created: created.iter().map(String::as_str).collect(),
                    updated,
                    unchanged: report.unchanged,
                    rejected: report.rejected.len(),
                    partial: opts.partial,
                };
                let id = uuid::Uuid::new_v4().to_string();
                db::audit::record(
                    conn,
                    &actor,
                    "merchant.import",
                    "import",
                    &id,
                    None::<&()>,
                    Some(&summary),
                )
                .await?;
                report.committed = true;
                report.updated_ids = summary.updated.iter().map(|m| m.id).collect();
            }
            Ok(report)
        })
        .await?;
    if outcome.committed && outcome.created + outcome.updated >= 1000 {
        // Best effort: the import has committed; a failure here only slows searches until
        // autovacuum catches up.
        if let Err(e) = db::merchants::after_bulk_write(conn).await {
            tracing::warn!(error = %e, "post-import index maintenance failed");
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_in_many_spellings() {
        assert_eq!(parse_months("5,6,7").unwrap(), [5, 6, 7]);
        assert_eq!(parse_months("5月-10月").unwrap(), [5, 6, 7, 8, 9, 10]);
        assert_eq!(parse_months("5、6").unwrap(), [5, 6]);
        assert_eq!(parse_months("11-2").unwrap(), [11, 12, 1, 2]);
        assert!(parse_months("summer").is_err());
    }

    #[test]
    fn headers_map_and_required_columns() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (f, ignored) = map_headers(&h(&["统一社会信用代码", "名称", "备注", ""])).unwrap();
        assert_eq!(f[0].as_deref(), Some("uscc"));
        assert_eq!(ignored, ["备注"]);
        match map_headers(&h(&["名称", "name"])) {
            Err(ImportError::Columns(e)) => {
                let codes: Vec<_> = e.iter().map(|e| e.code).collect();
                assert_eq!(codes, ["duplicate_column", "missing_column"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
