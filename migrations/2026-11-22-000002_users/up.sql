-- The merchant registry proper arrives with the registry issue; this is its core, so that merchant
-- logins and jurisdiction checks have something real to point at.
CREATE TABLE merchants (
    id          BIGSERIAL PRIMARY KEY,
    uscc        TEXT NOT NULL UNIQUE CHECK (uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    region_code TEXT NOT NULL REFERENCES regions (code),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX merchants_region_code_idx ON merchants (region_code);

CREATE TABLE users (
    id                  BIGSERIAL PRIMARY KEY,
    username            TEXT NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$'),
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('admin', 'regulator', 'merchant')),
    merchant_id         BIGINT REFERENCES merchants (id),
    disabled            BOOLEAN NOT NULL DEFAULT false,
    password_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- a merchant login belongs to exactly one merchant; staff logins to none
    CHECK ((role = 'merchant') = (merchant_id IS NOT NULL))
);
-- usernames are unique regardless of case: "Admin" and "admin" are one person
CREATE UNIQUE INDEX users_username_lower_idx ON users (lower(username));
CREATE INDEX users_merchant_id_idx ON users (merchant_id);

-- A regulator's jurisdiction: a set of region codes (a prefecture code covers its counties).
CREATE TABLE user_regions (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    region_code TEXT NOT NULL REFERENCES regions (code),
    PRIMARY KEY (user_id, region_code)
);
