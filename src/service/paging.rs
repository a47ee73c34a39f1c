//! `?page=1&per_page=50` (max 200) → `{items, total, page, per_page}`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::FieldError;
use crate::error::AppError;

pub const MAX_PER_PAGE: i64 = 200;

/// The deepest row a page may reach (`page × per_page`). A deep `OFFSET` makes PostgreSQL read
/// and discard every row before it, and walking every page of a list is how a scraper copies
/// it; nobody reads a list 10,000 rows down, they filter it.
pub const MAX_DEPTH: i64 = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based page number (default 1); `page × per_page` at most 10,000 (filter the list to
    /// reach further).
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<i64>,
    /// Items a page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<(i64, i64), AppError> {
        let mut errors = Vec::new();
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(50);
        if !(1..=1_000_000).contains(&page) {
            errors.push(FieldError::new("page", "out_of_range", "page starts at 1"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(FieldError::new(
                "per_page",
                "out_of_range",
                format!("per_page is 1–{MAX_PER_PAGE}"),
            ));
        }
        if errors.is_empty() && page * per_page > MAX_DEPTH {
            errors.push(FieldError::new(
                "page",
                "out_of_range",
                format!(
                    "pages reach {MAX_DEPTH} rows deep at most (page × per_page); \
                     use filters to narrow the list"
                ),
            ));
        }
        if errors.is_empty() {
            Ok((page, per_page))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}
