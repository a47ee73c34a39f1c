-- Photos are served by an unguessable id instead of the sequential one (which let anyone walk
-- every merchant's photos). Existing photos get a random 32-hex id.
ALTER TABLE photos ADD COLUMN public_id TEXT;
UPDATE photos SET public_id = md5(random()::text || id::text || clock_timestamp()::text);
ALTER TABLE photos ALTER COLUMN public_id SET NOT NULL;
ALTER TABLE photos ADD CONSTRAINT photos_public_id_key UNIQUE (public_id);
ALTER TABLE photos ADD CONSTRAINT photos_public_id_form CHECK (public_id ~ '^[0-9a-f]{32}$');
