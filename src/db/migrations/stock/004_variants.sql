-- Variants (在庫管理コード): a variant is a products row whose code is its 在庫管理コード and whose
-- parent_code names its product; the product's own row says has_variants. zaiko Robot's code for a
-- variant is the variant's code, so one lookup by (shop_id, code) finds either, and the apply stays set-based.
ALTER TABLE products ADD COLUMN parent_code TEXT;                      -- NULL for a product
ALTER TABLE products ADD COLUMN has_variants INTEGER NOT NULL DEFAULT 0; -- 1: stock is kept per variant
CREATE INDEX products_variants ON products(shop_id, parent_code) WHERE parent_code IS NOT NULL;
