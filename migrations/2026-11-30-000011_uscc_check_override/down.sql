ALTER TABLE merchants DROP COLUMN uscc_check_override_reason;
