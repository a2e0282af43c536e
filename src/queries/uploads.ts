// Upload and stock queries shared by the `uploads …` / `stock …` commands and the web console.
import type { DB } from '../db/open.js';
import { UploadStore, type UploadRow, type SkipFilter, type SkipRow, type SkipCursor } from '../stock/store.js';
import { productView } from '../stock/catalog.js';
import { answerToken } from '../errors/skip-reasons.js';
import { iso } from './time.js';

const uploadJson = (u: UploadRow) => ({
  id: u.id,
  shop: u.shop_id,
  receivedAt: iso(u.received_at),
  items: u.item_count,
  applied: u.applied_count ?? 0,
  skipped: u.skipped_count ?? 0,
  status: u.status,
  source: u.source,
  origin: u.origin,
  charset: u.charset,
});
export type UploadJson = ReturnType<typeof uploadJson>;

/** `uploads list`: newest first. */
export function listUploads(store: UploadStore, opts: { shop?: string; limit: number; offset?: number }): UploadJson[] {
  return store.list(opts).map(uploadJson);
}

/** `uploads show`: one upload and a page of its items (all of them without a limit); undefined when unknown. */
export function uploadView(store: UploadStore, id: number, page: { limit?: number; offset?: number } = {}) {
  const u = store.get(id);
  if (!u) return undefined;
  const items = store
    .items(u.id, page)
    .map((i) => ({ seq: i.seq, product_code: i.code, rawStock: i.raw_stock, stock: i.stock, outcome: i.outcome, reason: i.reason }));
  return { upload: uploadJson(u), items };
}

/** `stock show`: a product, its last changes and skips; undefined when the shop has no such product. */
export function stockView(db: DB, shop: string, code: string, page = { limit: 20, offset: 0 }) {
  return productView(db, shop, code, page);
}

/** `stock skipped`: items not applied, newest first. */
export function listSkips(store: UploadStore, opts: SkipFilter) {
  return store.skips(opts).map(skipJson);
}

const skipJson = (r: SkipRow) => ({
  uploadId: r.upload_id,
  shop: r.shop_id,
  product_code: r.code,
  reason: r.reason,
  rawStock: r.raw_stock,
  receivedAt: iso(r.received_at),
  source: r.source,
  orderNumber: r.order_number,
  orderMail: r.order_mail,
  quantity: r.quantity,
});

/** Cursor text: `<upload id>.<seq>` of the last upload skip shown, `~`, `<accepted ms>.<seq>.<order key>` of the last order skip. */
function parseCursor(after: string | undefined): SkipCursor {
  const m = /^(?:(\d{1,15})\.(\d{1,15}))?~(?:(\d{1,15})\.(\d{1,15})\.(.{1,300}))?$/s.exec(after ?? '');
  if (!m) return {};
  return {
    upload: m[1] !== undefined ? { uploadId: Number(m[1]), seq: Number(m[2]) } : undefined,
    order: m[3] !== undefined ? { acceptedAt: Number(m[3]), seq: Number(m[4]), orderNumber: m[5] } : undefined,
  };
}

const lastOf = (rows: SkipRow[], source: SkipRow['source']) => rows.filter((r) => r.source === source).pop();

/**
 * One page of skips (uploads' and order mails') for the console, keyset-paged: `after` is the cursor the
 * page before gave as `next`, where each source ended; `next` is set when another page follows.
 */
export function skipsPage(store: UploadStore, opts: Omit<SkipFilter, 'before' | 'offset'>, after?: string) {
  const before = parseCursor(after);
  const rows = store.skips({ ...opts, limit: opts.limit + 1, before });
  const shown = rows.slice(0, opts.limit);
  let next: string | undefined;
  if (rows.length > opts.limit) {
    const lastUpload = lastOf(shown, 'upload');
    const lastOrder = lastOf(shown, 'order');
    const u = lastUpload ? { uploadId: lastUpload.upload_id!, seq: lastUpload.seq } : before.upload;
    const o = lastOrder ? { acceptedAt: lastOrder.received_at, seq: lastOrder.seq, orderNumber: lastOrder.order_number! } : before.order;
    next = `${u ? `${u.uploadId}.${u.seq}` : ''}~${o ? `${o.acceptedAt}.${o.seq}.${o.orderNumber}` : ''}`;
  }
  return { skips: shown.map(skipJson), next };
}

/**
 * The answer an applied upload gave zaiko Robot: OK, or NG and one line per skipped item whose reason is
 * in `reportAsNg` (as the receiver writes it); the first `maxLines` item lines and whether more followed.
 */
export function uploadAnswer(
  store: UploadStore,
  id: number,
  reportAsNg: readonly string[],
  maxLines: number,
): { lines: string[]; more: boolean } {
  const reported = store.reportedSkips(id, reportAsNg, maxLines + 1);
  if (reported.length === 0) return { lines: ['OK'], more: false };
  const lines = reported.slice(0, maxLines).map((s) => `${answerToken(s.reason)}(product_code=${s.code})`);
  // Whether more lines follow, not how many: counting them scans every item of a 200,000-item upload (~35 ms).
  return { lines: ['NG', ...lines], more: reported.length > maxLines };
}
