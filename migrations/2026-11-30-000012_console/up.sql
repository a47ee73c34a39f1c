-- The console's server-side sessions. The cookie carries an opaque random id; only its SHA-256
-- is stored, so a copy of this table lets nobody in. A session ends at `expires_at` (absolute),
-- after `idle_secs` without a request, at logout, or when its user's password, role or
-- disabled flag changes (checked on every request against `users`).
CREATE TABLE console_sessions (
    id_hash BYTEA PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    idle_secs INTEGER NOT NULL CHECK (idle_secs > 0),
    remember BOOLEAN NOT NULL DEFAULT FALSE,
    client_ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- A previewed import file, kept for its session so that "confirm" does not upload it again.
-- Deleted on confirm, and swept after 30 minutes.
CREATE TABLE console_uploads (
    id TEXT PRIMARY KEY,
    session_hash BYTEA NOT NULL REFERENCES console_sessions (id_hash) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    body BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX console_uploads_session ON console_uploads (session_hash);

-- Saved wordings a regulator may pick for a complaint note, per jurisdiction (a region code;
-- a prefecture's templates are offered in its counties).
CREATE TABLE note_templates (
    id BIGSERIAL PRIMARY KEY,
    region_code TEXT NOT NULL REFERENCES regions (code),
    title TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 60),
    body TEXT NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX note_templates_region ON note_templates (region_code);
