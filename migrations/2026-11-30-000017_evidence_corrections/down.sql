DROP TABLE evidence_files;
DELETE FROM record_replies WHERE record_kind = 'complaint';
ALTER TABLE record_replies DROP CONSTRAINT record_replies_record_kind_check;
ALTER TABLE record_replies ADD CONSTRAINT record_replies_record_kind_check
    CHECK (record_kind IN ('inspection', 'credit_record'));
UPDATE objections SET status = 'upheld' WHERE status = 'corrected';
ALTER TABLE objections DROP CONSTRAINT objections_status_check;
ALTER TABLE objections ADD CONSTRAINT objections_status_check
    CHECK (status IN ('open', 'upheld', 'removed'));
