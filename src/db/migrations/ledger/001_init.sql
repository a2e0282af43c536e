-- ledger.db: every accepted message, its recipients' outcomes, and the forward-once claims.
CREATE TABLE messages (
  id             TEXT    PRIMARY KEY,          -- queue id, as in "250 2.0.0 Ok: queued as <id>"
  received_at    INTEGER NOT NULL,             -- ms since epoch
  client_address TEXT,
  client_helo    TEXT,
  auth_user      TEXT,
  mail_from      TEXT    NOT NULL,             -- '' for the null sender <>
  header_from    TEXT,
  subject        TEXT,
  message_id     TEXT,
  size           INTEGER NOT NULL,             -- bytes in the spool file
  spool_path     TEXT    NOT NULL,
  spool_removed  INTEGER NOT NULL DEFAULT 0,
  shop_id        TEXT,
  is_order       INTEGER NOT NULL DEFAULT 0,
  order_number   TEXT,
  items          TEXT,                         -- JSON [{code, quantity}]
  flags          TEXT,                         -- JSON ["no_items", "no_order_number", ...]
  forward        TEXT    NOT NULL,             -- none | queued | sent | suppressed | failed
  forward_reason TEXT
);
CREATE INDEX messages_received ON messages(received_at);
CREATE INDEX messages_order ON messages(shop_id, order_number);

CREATE TABLE message_recipients (
  message_id      TEXT    NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  kind            TEXT    NOT NULL,            -- deliver | forward
  address         TEXT    NOT NULL,
  status          TEXT    NOT NULL,            -- queued | deferred | sent | failed
  attempts        INTEGER NOT NULL DEFAULT 0,
  response        TEXT,                        -- last upstream answer
  updated_at      INTEGER NOT NULL,
  next_attempt_at INTEGER,
  PRIMARY KEY (message_id, kind, address)
);
CREATE INDEX recipients_pending ON message_recipients(message_id) WHERE status IN ('queued', 'deferred');

CREATE TABLE forward_claims (
  shop_id    TEXT    NOT NULL,
  claim      TEXT    NOT NULL,                 -- "order:<number>" or "message-id:<id>"
  message_id TEXT    NOT NULL,
  claimed_at INTEGER NOT NULL,
  PRIMARY KEY (shop_id, claim)
);
