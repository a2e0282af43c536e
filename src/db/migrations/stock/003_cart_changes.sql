-- Changes become a feed for the cart: ids never reused (AUTOINCREMENT: retention may delete the newest
-- rows' predecessors, even all rows, and a cart's cursor must never see an id twice), and every change
-- says where it came from (an upload, an order mail's items, `stock import`).
CREATE TABLE stock_changes_v3 (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  shop_id      TEXT    NOT NULL,
  code         TEXT    NOT NULL,            -- what zaiko Robot and the cart use (a variant's 在庫管理コード)
  product_code TEXT    NOT NULL,            -- the product it belongs to; equals code for a product
  old_stock    INTEGER,
  new_stock    INTEGER NOT NULL,
  source       TEXT    NOT NULL,            -- upload | order | import
  upload_id    INTEGER,                     -- source upload
  order_number TEXT,                        -- source order
  changed_at   INTEGER NOT NULL             -- ms since epoch
);
INSERT INTO stock_changes_v3 (id, shop_id, code, product_code, old_stock, new_stock, source, upload_id, changed_at)
  SELECT id, shop_id, code, code, old_stock, new_stock, 'upload', upload_id, changed_at FROM stock_changes ORDER BY id;
DROP TABLE stock_changes;
ALTER TABLE stock_changes_v3 RENAME TO stock_changes;
CREATE INDEX stock_changes_product ON stock_changes(shop_id, code, id);
CREATE INDEX stock_changes_feed ON stock_changes(shop_id, id);
CREATE INDEX stock_changes_age ON stock_changes(changed_at);

-- Retention's mark per shop: the highest change id it removed. A feed cursor below it missed changes (410).
CREATE TABLE stock_changes_pruned (
  shop_id     TEXT    PRIMARY KEY,
  through_id  INTEGER NOT NULL
) WITHOUT ROWID;

-- When the product's stock was last set to an absolute value: the receipt time (ms) of that upload.
-- An order mail accepted before it is already counted in that value, so its decrement is `stale`.
ALTER TABLE products ADD COLUMN stock_set_at INTEGER NOT NULL DEFAULT 0;

-- Order mails that lowered stock: once per (shop, order number), whichever job or sweep runs it.
CREATE TABLE orders (
  shop_id      TEXT    NOT NULL,
  order_number TEXT    NOT NULL,
  qid          TEXT    NOT NULL,            -- the mail's queue id in ledger.db
  accepted_at  INTEGER NOT NULL,            -- the mail's receipt (ms): ordering against uploads
  applied_at   INTEGER NOT NULL,
  applied_count INTEGER NOT NULL,
  skipped_count INTEGER NOT NULL,
  PRIMARY KEY (shop_id, order_number)
) WITHOUT ROWID;
CREATE INDEX orders_applied ON orders(applied_at);

CREATE TABLE order_items (
  shop_id      TEXT    NOT NULL,
  order_number TEXT    NOT NULL,
  seq          INTEGER NOT NULL,            -- position in the mail
  code         TEXT    NOT NULL,
  quantity     INTEGER NOT NULL,
  outcome      TEXT    NOT NULL,            -- applied | skipped
  reason       TEXT,                        -- skip reason
  PRIMARY KEY (shop_id, order_number, seq)
) WITHOUT ROWID;
CREATE INDEX order_items_skipped ON order_items(shop_id, code) WHERE outcome = 'skipped';
