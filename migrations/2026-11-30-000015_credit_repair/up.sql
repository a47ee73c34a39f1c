-- Credit repair (信用修复): after a minimum time in publicity a merchant may apply to have a
-- penalty or an abnormal-list entry (or a serious-violation listing) taken out of publicity.
-- The minimum times are data, editable by an administrator.
CREATE TABLE credit_repair_rules (
    kind TEXT PRIMARY KEY CHECK (kind IN ('penalty', 'abnormal_list', 'serious_violation')),
    min_days_in_publicity INTEGER NOT NULL CHECK (min_days_in_publicity BETWEEN 0 AND 3650),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO credit_repair_rules (kind, min_days_in_publicity) VALUES
    ('penalty', 90),
    ('abnormal_list', 0),
    ('serious_violation', 365);

CREATE TABLE credit_repairs (
    id BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    record_id BIGINT NOT NULL REFERENCES credit_records (id) ON DELETE CASCADE,
    statement TEXT NOT NULL CHECK (char_length(statement) BETWEEN 1 AND 2000),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'refused')),
    filed_by BIGINT REFERENCES users (id),
    filed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deadline DATE NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMPTZ,
    decision_note TEXT,
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX credit_repairs_one_open ON credit_repairs (record_id) WHERE status = 'open';
CREATE INDEX credit_repairs_merchant ON credit_repairs (merchant_id);

-- How many working days regulators have to decide an objection or a repair application (a
-- setting; both 15 by default).
CREATE TABLE review_deadlines (
    kind TEXT PRIMARY KEY CHECK (kind IN ('objection', 'credit_repair')),
    working_days INTEGER NOT NULL CHECK (working_days BETWEEN 1 AND 365),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO review_deadlines (kind, working_days) VALUES ('objection', 15), ('credit_repair', 15);
