-- Schema version 2: dead letters get a stable id (so `otel-events dlq retry|purge ID` can address one) and an
-- attempt counter (a retried letter that fails again is kept, counted, not duplicated).
CREATE SEQUENCE dead_letter_ids START 1;
ALTER TABLE dead_letters ADD COLUMN id BIGINT;
ALTER TABLE dead_letters ADD COLUMN attempts INTEGER;
UPDATE dead_letters SET id = nextval('dead_letter_ids'), attempts = 1;
ALTER TABLE dead_letters ALTER COLUMN id SET DEFAULT nextval('dead_letter_ids');
ALTER TABLE dead_letters ALTER COLUMN attempts SET DEFAULT 1;
