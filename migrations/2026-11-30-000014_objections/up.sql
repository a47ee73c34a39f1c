-- Objections (异议): a merchant says a record about it is wrong and why. While open, the public
-- page marks the record; a regulator upholds it or removes it from publicity, with a reason the
-- merchant sees, within a deadline in working days.
CREATE TABLE objections (
    id BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    record_kind TEXT NOT NULL CHECK (record_kind IN ('inspection', 'credit_record')),
    record_id BIGINT NOT NULL,
    reason TEXT NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'removed')),
    filed_by BIGINT REFERENCES users (id),
    filed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deadline DATE NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMPTZ,
    decision_note TEXT,
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX objections_one_open ON objections (record_kind, record_id) WHERE status = 'open';
CREATE INDEX objections_merchant ON objections (merchant_id);
CREATE INDEX objections_open_deadline ON objections (deadline) WHERE status = 'open';

-- A record removed from publicity after an objection stays on file but is no longer shown or
-- counted for the grade.
ALTER TABLE inspections ADD COLUMN withdrawn_at TIMESTAMPTZ;
ALTER TABLE credit_records ADD COLUMN withdrawn_at TIMESTAMPTZ;
