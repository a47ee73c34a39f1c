ALTER TABLE photos DROP COLUMN public_id;
