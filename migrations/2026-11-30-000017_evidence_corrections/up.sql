-- A regulator may also correct a record the merchant objected to (the record is rewritten,
-- audited with before and after); the objection then ends as `corrected`.
ALTER TABLE objections DROP CONSTRAINT objections_status_check;
ALTER TABLE objections ADD CONSTRAINT objections_status_check
    CHECK (status IN ('open', 'upheld', 'corrected', 'removed'));

-- The right of reply also covers the shop's closed complaints.
ALTER TABLE record_replies DROP CONSTRAINT record_replies_record_kind_check;
ALTER TABLE record_replies ADD CONSTRAINT record_replies_record_kind_check
    CHECK (record_kind IN ('inspection', 'credit_record', 'complaint'));

-- Evidence a merchant attaches to an objection or a credit-repair application: images
-- (re-encoded as JPEG without metadata) or PDF, size-limited. Seen only by the merchant and
-- its regulators, never public.
CREATE TABLE evidence_files (
    id BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    objection_id BIGINT REFERENCES objections (id) ON DELETE CASCADE,
    repair_id BIGINT REFERENCES credit_repairs (id) ON DELETE CASCADE,
    file_name TEXT NOT NULL CHECK (char_length(file_name) BETWEEN 1 AND 200),
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'application/pdf')),
    size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
    body BYTEA NOT NULL,
    uploaded_by BIGINT REFERENCES users (id),
    uploaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((objection_id IS NULL) <> (repair_id IS NULL))
);
CREATE INDEX evidence_files_objection ON evidence_files (objection_id) WHERE objection_id IS NOT NULL;
CREATE INDEX evidence_files_repair ON evidence_files (repair_id) WHERE repair_id IS NOT NULL;
