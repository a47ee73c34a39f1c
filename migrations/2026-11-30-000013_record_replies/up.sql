-- The merchant's right of reply: one reply per inspection or credit record, shown on the public
-- page under the record as the merchant's words. Editable until a regulator has seen it; a
-- regulator may hide an abusive reply, or one carrying personal data, with a reason.
CREATE TABLE record_replies (
    id BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    record_kind TEXT NOT NULL CHECK (record_kind IN ('inspection', 'credit_record')),
    record_id BIGINT NOT NULL,
    body TEXT NOT NULL CHECK (char_length(body) BETWEEN 1 AND 500),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    seen_at TIMESTAMPTZ,
    seen_by BIGINT REFERENCES users (id),
    hidden_at TIMESTAMPTZ,
    hidden_by BIGINT REFERENCES users (id),
    hidden_reason TEXT,
    UNIQUE (record_kind, record_id),
    CHECK ((hidden_at IS NULL) = (hidden_reason IS NULL))
);
CREATE INDEX record_replies_merchant ON record_replies (merchant_id);
