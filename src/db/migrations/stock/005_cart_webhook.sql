-- The webhook's cursor per shop: what the cart has taken (a 2xx), the batch in flight (retried as the
-- same batch until a 2xx) and what the last attempt got, for `stock webhook status`, metrics, the console.
CREATE TABLE webhook_cursors (
  shop_id           TEXT    PRIMARY KEY,
  delivered_through INTEGER NOT NULL,           -- every change up to this id is delivered (or not one this cart takes)
  batch_last        INTEGER,                    -- the batch in flight: its last change id and size; NULL: none
  batch_count       INTEGER,
  attempts          INTEGER NOT NULL DEFAULT 0, -- failed attempts of the batch in flight (its backoff)
  last_status       INTEGER,                    -- HTTP status of the last attempt; NULL: no answer or none yet
  last_error        TEXT,
  last_attempt_at   INTEGER,                    -- ms since epoch
  next_attempt_at   INTEGER,                    -- NULL: as soon as there is a change to send
  last_success_at   INTEGER,
  delivered_batches INTEGER NOT NULL DEFAULT 0, -- batches by outcome: zaiko_bridge_webhook_batches_total
  rejected_batches  INTEGER NOT NULL DEFAULT 0, -- an answer other than 2xx
  failed_batches    INTEGER NOT NULL DEFAULT 0  -- no answer
) WITHOUT ROWID;
