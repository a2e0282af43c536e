-- stock.db: the shop's products, the uploads zaiko Robot sent, what each item did, and every change.
CREATE TABLE products (
  shop_id          TEXT    NOT NULL,
  code             TEXT    NOT NULL,            -- compared byte for byte (BINARY collation)
  name             TEXT    NOT NULL DEFAULT '',
  stock            INTEGER,                     -- NULL when unlimited
  unlimited        INTEGER NOT NULL DEFAULT 0,  -- 無制限: never synced
  uses_stock_codes INTEGER NOT NULL DEFAULT 0,  -- 在庫管理コード: not supported by zaiko Robot
  last_upload_id   INTEGER NOT NULL DEFAULT 0,  -- newest upload that set the stock (stale check)
  updated_at       INTEGER NOT NULL,            -- ms since epoch
  PRIMARY KEY (shop_id, code)
) WITHOUT ROWID;

CREATE TABLE uploads (
  id            INTEGER PRIMARY KEY AUTOINCREMENT, -- order of receipt: a higher id is newer
  shop_id       TEXT    NOT NULL,
  source        TEXT    NOT NULL,                  -- http | file
  origin        TEXT,                              -- client address or file name
  charset       TEXT    NOT NULL,
  received_at   INTEGER NOT NULL,
  item_count    INTEGER NOT NULL,
  status        TEXT    NOT NULL DEFAULT 'stored', -- stored | applied
  applied_at    INTEGER,
  applied_count INTEGER,
  skipped_count INTEGER
);
CREATE INDEX uploads_pending ON uploads(id) WHERE status = 'stored';
CREATE INDEX uploads_received ON uploads(received_at);

CREATE TABLE upload_items (
  upload_id INTEGER NOT NULL,
  seq       INTEGER NOT NULL,  -- position in the request
  code      TEXT    NOT NULL,
  raw_stock TEXT    NOT NULL,  -- the value as sent (decoded)
  stock     INTEGER,           -- the parsed value; NULL when invalid
  superseded INTEGER NOT NULL DEFAULT 0, -- 1 when the same code comes again later in this upload
  outcome   TEXT,              -- NULL until applied; applied | skipped
  reason    TEXT,              -- skip reason
  PRIMARY KEY (upload_id, seq)
) WITHOUT ROWID;
CREATE INDEX upload_items_skipped ON upload_items(code, upload_id) WHERE outcome = 'skipped';

CREATE TABLE stock_changes (
  id         INTEGER PRIMARY KEY,
  shop_id    TEXT    NOT NULL,
  code       TEXT    NOT NULL,
  old_stock  INTEGER,
  new_stock  INTEGER NOT NULL,
  upload_id  INTEGER NOT NULL,
  changed_at INTEGER NOT NULL
);
CREATE INDEX stock_changes_product ON stock_changes(shop_id, code, id);
