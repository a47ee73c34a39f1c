ALTER TABLE credit_records DROP COLUMN withdrawn_at;
ALTER TABLE inspections DROP COLUMN withdrawn_at;
DROP TABLE objections;
