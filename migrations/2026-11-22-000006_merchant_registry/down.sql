DROP TABLE photos;
DROP TABLE credit_records;
DROP TABLE inspections;
DROP TABLE licences;
DROP INDEX merchants_name_trgm_idx, merchants_uscc_trgm_idx, merchants_category_idx,
    merchants_status_idx, merchants_grade_idx, merchants_grade_recheck_idx;
ALTER TABLE merchants
    DROP COLUMN legal_representative, DROP COLUMN category, DROP COLUMN address,
    DROP COLUMN phone, DROP COLUMN business_scope, DROP COLUMN registered_on,
    DROP COLUMN status, DROP COLUMN opening_hours, DROP COLUMN opening_months,
    DROP COLUMN description, DROP COLUMN pledges, DROP COLUMN region_override_reason,
    DROP COLUMN uscc_warning, DROP COLUMN grade, DROP COLUMN grade_recheck_on,
    DROP COLUMN version;
-- pg_trgm stays: other schemas of the same database may use it.
