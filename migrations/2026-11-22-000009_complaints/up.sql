-- Consumer complaints (一平台): the case, its timeline, and consumer warnings.
-- Deadlines are stored as China dates, computed from the working-day calendar and the deadline
-- rule in force on the day of receipt, so "overdue" is a plain comparison with today.
CREATE TABLE complaints (
    id                   BIGSERIAL PRIMARY KEY,
    -- 12 digits, read out over the phone in groups (YYMMDD + 6 random digits).
    tracking_no          TEXT NOT NULL UNIQUE CHECK (tracking_no ~ '^[0-9]{12}$'),
    merchant_id          BIGINT NOT NULL REFERENCES merchants (id),
    shop_code            TEXT NOT NULL,
    -- The merchant's region when the complaint arrived: whose jurisdiction it is.
    region_code          TEXT NOT NULL REFERENCES regions (code),
    consumer_name        TEXT NOT NULL,
    consumer_phone       TEXT NOT NULL,
    category             TEXT NOT NULL,
    description          TEXT NOT NULL,
    amount_fen           BIGINT CHECK (amount_fen >= 0),
    desired_outcome      TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL DEFAULT 'submitted' CHECK (status IN
                         ('submitted', 'merchant_proposed', 'accepted', 'rejected', 'resolved',
                          'terminated', 'withdrawn')),
    received_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    received_on          DATE NOT NULL,
    -- Green channel: the merchant may settle until this day; NULL once it has closed.
    merchant_deadline    DATE,
    accept_deadline      DATE NOT NULL,
    accepted_on          DATE,
    conclude_deadline    DATE,
    closed_at            TIMESTAMPTZ,
    -- A regulator decision or conclusion came after its deadline.
    late                 BOOLEAN NOT NULL DEFAULT false,
    -- What the merchant offered in the green channel.
    proposal             TEXT,
    proposal_amount_fen  BIGINT CHECK (proposal_amount_fen >= 0),
    amount_recovered_fen BIGINT NOT NULL DEFAULT 0 CHECK (amount_recovered_fen >= 0),
    rating               TEXT CHECK (rating IN ('satisfied', 'basically_satisfied', 'dissatisfied')),
    rating_comment       TEXT,
    rated_at             TIMESTAMPTZ,
    -- Professional-claimant pattern seen on this phone when it arrived (or later).
    flagged              BOOLEAN NOT NULL DEFAULT false,
    idempotency_key      TEXT UNIQUE,
    request_hash         TEXT NOT NULL,
    client_ip            TEXT,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status IN ('rejected', 'resolved', 'terminated', 'withdrawn')) = (closed_at IS NOT NULL)),
    CHECK (rating IS NULL OR closed_at IS NOT NULL)
);
CREATE INDEX complaints_region_status_idx ON complaints (region_code, status, received_at);
CREATE INDEX complaints_merchant_idx ON complaints (merchant_id, received_at);
CREATE INDEX complaints_phone_idx ON complaints (consumer_phone, received_at);
CREATE INDEX complaints_received_idx ON complaints (received_on);

CREATE TABLE complaint_events (
    id           BIGSERIAL PRIMARY KEY,
    complaint_id BIGINT NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- consumer, merchant, regulator, admin
    actor_role   TEXT NOT NULL,
    actor_label  TEXT NOT NULL,
    action       TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX complaint_events_complaint_idx ON complaint_events (complaint_id, id);

CREATE TABLE warnings (
    id          BIGSERIAL PRIMARY KEY,
    -- NULL: every region; a prefecture code covers its counties.
    region_code TEXT REFERENCES regions (code),
    category    TEXT,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    valid_until DATE NOT NULL,
    created_by  BIGINT REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX warnings_valid_idx ON warnings (valid_until);
