-- Shop codes (一码): what a QR sticker points at. A merchant has at most one active code; a
-- re-issued or revoked code stays here so that its URL can answer 410 "withdrawn".
CREATE TABLE shop_codes (
    code          TEXT PRIMARY KEY CHECK (code ~ '^[0-9A-HJKMNP-TV-Z]{12}$'),
    merchant_id   BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    issued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    issued_by     BIGINT REFERENCES users (id),
    revoked_at    TIMESTAMPTZ,
    revoked_by    BIGINT REFERENCES users (id),
    -- 'reissued' or 'revoked'
    revoke_reason TEXT CHECK (revoke_reason IN ('reissued', 'revoked')),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
CREATE UNIQUE INDEX shop_codes_one_active_idx ON shop_codes (merchant_id) WHERE revoked_at IS NULL;
CREATE INDEX shop_codes_merchant_idx ON shop_codes (merchant_id, issued_at DESC);
