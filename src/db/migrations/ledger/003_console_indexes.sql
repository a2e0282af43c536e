-- The console's mail list pages through 100,000s of messages: newest first with the id as tiebreak straight
-- from an index (no sort of the whole table per page), the order-number search across shops, and failed
-- recipients found without a scan (queued/deferred ones already have recipients_pending).
DROP INDEX messages_received;
CREATE INDEX messages_received ON messages(received_at, id);
CREATE INDEX messages_order_number ON messages(order_number) WHERE order_number IS NOT NULL;
CREATE INDEX recipients_failed ON message_recipients(message_id) WHERE status = 'failed';
