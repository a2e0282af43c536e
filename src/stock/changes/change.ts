// A stock change as the cart sees it (design.md "Third round"): the same object in the feed, the
// webhook and `stock changes --json`.
export type ChangeSource = 'upload' | 'order' | 'import';

export interface Change {
  id: number;
  code: string;
  productCode: string;
  stock: number;
  previous: number | null;
  source: ChangeSource;
  uploadId: number | null;
  orderNumber: string | null;
  at: string;
}

/** A stock_changes row as read by CHANGE_COLUMNS. */
export interface ChangeRow {
  id: number;
  code: string;
  product_code: string;
  new_stock: number;
  old_stock: number | null;
  source: ChangeSource;
  upload_id: number | null;
  order_number: string | null;
  changed_at: number;
}

export const CHANGE_COLUMNS = 'id, code, product_code, new_stock, old_stock, source, upload_id, order_number, changed_at';

export function toChange(r: ChangeRow): Change {
  return {
    id: r.id,
    code: r.code,
    productCode: r.product_code,
    stock: r.new_stock,
    previous: r.old_stock,
    source: r.source,
    uploadId: r.upload_id,
    orderNumber: r.order_number,
    at: new Date(r.changed_at).toISOString(),
  };
}
