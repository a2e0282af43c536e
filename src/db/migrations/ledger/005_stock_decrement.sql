-- An order mail whose items lower stock.db (shops[].decrementOnOrder): 'pending' from the accept
-- transaction until Redis confirmed the stock queue's job, then 'queued'. NULL: nothing to lower.
-- The recovery sweep adds the pending ones, so a decrement lost to a Redis outage is only late.
ALTER TABLE messages ADD COLUMN stock_job TEXT;
CREATE INDEX messages_stock_pending ON messages(received_at, id) WHERE stock_job = 'pending';
