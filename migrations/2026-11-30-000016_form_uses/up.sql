-- One-time form ids: a form rendered with a `form_id` acts once per session; a double tap or a
-- retry after a dropped connection posts the same id again and is answered with the page as it
-- now is, instead of acting twice.
CREATE TABLE console_form_uses (
    session_hash BYTEA NOT NULL REFERENCES console_sessions (id_hash) ON DELETE CASCADE,
    form_id TEXT NOT NULL,
    used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_hash, form_id)
);
