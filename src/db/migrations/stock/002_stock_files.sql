-- Stock files (drop folder, `stock apply-file`): the upload each file was stored as. While a file is
-- open (not yet moved to done/ or failed/, or its result not yet reported), reading it again finds this
-- upload instead of storing a newer one that would overwrite uploads received in between.
CREATE TABLE stock_files (
  id          INTEGER PRIMARY KEY,
  shop_id     TEXT    NOT NULL,
  via         TEXT    NOT NULL,  -- drop | cli
  name        TEXT    NOT NULL,  -- file name (no folder)
  sha256      TEXT    NOT NULL,  -- of the file's bytes
  upload_id   INTEGER NOT NULL REFERENCES uploads(id),
  taken_at    INTEGER NOT NULL,
  finished_at INTEGER            -- NULL while the file is open
);
CREATE UNIQUE INDEX stock_files_open ON stock_files(shop_id, via, name, sha256) WHERE finished_at IS NULL;
