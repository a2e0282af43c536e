-- Messages up to the spool's inline limit (src/intake/spool/spool.ts) keep their bytes here, written in
-- the accept transaction: bytes and ledger row are one commit, made durable by one WAL fsync before the
-- 250. Larger messages stay files in dataDir/spool (messages.spool_path; '' for a message kept here).
-- The row goes in the transaction that marks the message's spool removed (and with the message).
CREATE TABLE message_bodies (
  message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
  body       BLOB NOT NULL
);
