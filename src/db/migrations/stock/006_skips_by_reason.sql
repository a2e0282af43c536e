-- The console's /stock?reason= and `stock skipped --reason`: a rare reason among 1,000,000s of items is
-- found and paged newest first straight from this index (before: a scan of every skipped item).
CREATE INDEX upload_items_skipped_reason ON upload_items(reason, upload_id, seq) WHERE outcome = 'skipped';
