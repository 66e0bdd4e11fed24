-- The full vocabulary (rights requests, consent, restriction, erasure, checks, marketing, identifiers):
-- action   = the step or kind: received/answered, the check (identity/age/address), the marketing channel,
--            the disposal at retention expiry;
-- gdpr_right = the right a request concerns; reason = why refused/extended/restricted, or the legal ground;
-- register_version = the processing register (GDPR Art. 30) the SDK checked the event against.
-- Older rows read '' in all four.
ALTER TABLE events ADD COLUMN IF NOT EXISTS action LowCardinality(String) AFTER outcome;
ALTER TABLE events ADD COLUMN IF NOT EXISTS gdpr_right LowCardinality(String) AFTER action;
ALTER TABLE events ADD COLUMN IF NOT EXISTS reason String CODEC(ZSTD(3)) AFTER gdpr_right;
ALTER TABLE events ADD COLUMN IF NOT EXISTS register_version LowCardinality(String) AFTER reason;
