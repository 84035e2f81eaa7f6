-- Retention (docs/retention.md). anonymised_at marks a case whose personal data the retention
-- run removed; the partial index holds the ended cases not yet anonymised, by their last
-- change, so a daily run reads only the cases whose period has passed.
ALTER TABLE cases ADD COLUMN anonymised_at TEXT;
CREATE INDEX cases_retention ON cases (updated_at)
    WHERE anonymised_at IS NULL AND state IN ('replied', 'closed', 'transferred', 'withdrawn', 'rejected');
