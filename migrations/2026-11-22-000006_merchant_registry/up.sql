-- The merchant registry: everything regulators know about a merchant (一中心), graded (一网).

-- Trigram indexes make `q` (name or USCC substring) an index scan. The extension lives in
-- `public` so that every schema of the database (tests use one schema each) shares one copy;
-- pg_trgm is a trusted extension, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

ALTER TABLE merchants
    ADD COLUMN legal_representative   TEXT CHECK (length(legal_representative) <= 100),
    ADD COLUMN category               TEXT NOT NULL DEFAULT 'other'
        CHECK (category IN ('pharmacy', 'restaurant', 'scenic_spot', 'hotel', 'retail', 'other')),
    ADD COLUMN address                TEXT CHECK (length(address) <= 300),
    ADD COLUMN phone                  TEXT CHECK (length(phone) <= 30),
    ADD COLUMN business_scope         TEXT CHECK (length(business_scope) <= 2000),
    ADD COLUMN registered_on          DATE,
    ADD COLUMN status                 TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'seasonal_closed', 'closed')),
    ADD COLUMN opening_hours          TEXT CHECK (length(opening_hours) <= 100),
    ADD COLUMN opening_months         SMALLINT[] NOT NULL DEFAULT '{}'
        CHECK (opening_months <@ ARRAY[1,2,3,4,5,6,7,8,9,10,11,12]::SMALLINT[]),
    ADD COLUMN description            TEXT CHECK (length(description) <= 1000),
    ADD COLUMN pledges                TEXT[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(pledges) <= 10),
    -- why region_code differs from USCC positions 3–8, when a regulator said so
    ADD COLUMN region_override_reason TEXT,
    -- the USCC's 18th character does not check (an early pilot code)
    ADD COLUMN uscc_warning           BOOLEAN NOT NULL DEFAULT false,
    -- the grade as of the last write or recheck, for filtering; the API recomputes on read
    ADD COLUMN grade                  TEXT NOT NULL DEFAULT 'A' CHECK (grade IN ('A', 'B', 'C', 'D')),
    -- the day the stored grade may change by the passing of time alone
    ADD COLUMN grade_recheck_on       DATE,
    ADD COLUMN version                INTEGER NOT NULL DEFAULT 1;

CREATE INDEX merchants_name_trgm_idx ON merchants USING gin (name public.gin_trgm_ops);
CREATE INDEX merchants_uscc_trgm_idx ON merchants USING gin (uscc public.gin_trgm_ops);
CREATE INDEX merchants_category_idx ON merchants (category);
CREATE INDEX merchants_status_idx ON merchants (status);
CREATE INDEX merchants_grade_idx ON merchants (grade);
CREATE INDEX merchants_grade_recheck_idx ON merchants (grade_recheck_on)
    WHERE grade_recheck_on IS NOT NULL;

CREATE TABLE licences (
    id          BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('business_licence', 'food_business', 'drug_business',
                                              'special_trade', 'hygiene', 'other')),
    number      TEXT NOT NULL CHECK (length(number) BETWEEN 1 AND 100),
    issuer      TEXT NOT NULL CHECK (length(issuer) BETWEEN 1 AND 200),
    valid_from  DATE NOT NULL,
    valid_until DATE,          -- NULL: no expiry (长期)
    created_by  BIGINT REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX licences_merchant_idx ON licences (merchant_id);

CREATE TABLE inspections (
    id           BIGSERIAL PRIMARY KEY,
    merchant_id  BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('routine', 'random', 'special', 'sampling')),
    inspected_on DATE NOT NULL,
    department   TEXT NOT NULL CHECK (length(department) BETWEEN 1 AND 200),
    result       TEXT NOT NULL CHECK (result IN ('pass', 'fail', 'rectify')),
    summary      TEXT NOT NULL DEFAULT '' CHECK (length(summary) <= 2000),
    created_by   BIGINT REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX inspections_merchant_idx ON inspections (merchant_id, inspected_on DESC);

CREATE TABLE credit_records (
    id              BIGSERIAL PRIMARY KEY,
    merchant_id     BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('penalty', 'abnormal_list', 'serious_violation',
                                                  'commendation')),
    department      TEXT NOT NULL CHECK (length(department) BETWEEN 1 AND 200),
    decision_no     TEXT NOT NULL DEFAULT '' CHECK (length(decision_no) <= 100),
    decided_on      DATE NOT NULL,
    summary         TEXT NOT NULL DEFAULT '' CHECK (length(summary) <= 2000),
    -- last day of public display; NULL: until a regulator ends it
    publicity_until DATE,
    created_by      BIGINT REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (publicity_until IS NULL OR publicity_until >= decided_on)
);
CREATE INDEX credit_records_merchant_idx ON credit_records (merchant_id, decided_on DESC);

-- Photos live in PostgreSQL: every app instance serves the same bytes, a photo is written in the
-- same transaction as its audit entry, and backups need nothing beyond the database. Re-encoded
-- display images are ≤ ~300 KB and thumbnails ≤ 30 KB, so the table stays small.
CREATE TABLE photos (
    id           BIGSERIAL PRIMARY KEY,
    merchant_id  BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('storefront', 'interior')),
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    display      BYTEA NOT NULL,
    thumb_width  INTEGER NOT NULL,
    thumb_height INTEGER NOT NULL,
    thumb        BYTEA NOT NULL CHECK (length(thumb) <= 30720),
    created_by   BIGINT REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX photos_merchant_idx ON photos (merchant_id, kind, created_at DESC);
