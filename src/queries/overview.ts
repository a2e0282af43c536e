// Figures for the console's overview: order mails and uploads since a moment, skips by reason, and
// per-hour counts for the chart. Each query runs on an index (received_at, or the uploads' id range).
import type { DB } from '../db/open.js';

export interface MailFigures {
  received: number;
  forwarded: number;
  suppressed: number;
  failed: number;
}
export interface UploadFigures {
  uploads: number;
  applied: number;
  skipped: number;
}

export function mailFigures(ledgerDb: DB, since: number): MailFigures {
  return ledgerDb
    .prepare(
      `SELECT COUNT(*) AS received, COALESCE(SUM(forward = 'sent'), 0) AS forwarded,
      COALESCE(SUM(forward = 'suppressed'), 0) AS suppressed, COALESCE(SUM(forward = 'failed'), 0) AS failed
    FROM messages WHERE received_at >= ? AND is_order = 1`,
    )
    .get(since) as MailFigures;
}

export function uploadFigures(stockDb: DB, since: number): UploadFigures {
  return stockDb
    .prepare(
      `SELECT COUNT(*) AS uploads, COALESCE(SUM(applied_count), 0) AS applied, COALESCE(SUM(skipped_count), 0) AS skipped
    FROM uploads WHERE received_at >= ?`,
    )
    .get(since) as UploadFigures;
}

/** Skipped items of the uploads received since `since`, by reason (ids grow with time: one range of the items' key). */
export function skipsByReason(stockDb: DB, since: number): { reason: string; count: number }[] {
  const first = stockDb.prepare('SELECT MIN(id) FROM uploads WHERE received_at >= ?').pluck().get(since) as number | null;
  if (first === null) return [];
  return stockDb
    .prepare(
      `SELECT reason, COUNT(*) AS count FROM upload_items WHERE upload_id >= ? AND outcome = 'skipped'
    GROUP BY reason ORDER BY count DESC`,
    )
    .all(first) as { reason: string; count: number }[];
}

/** Per-hour counts from `since` for `hours` hours: mails received and upload items received. */
export function perHour(ledgerDb: DB, stockDb: DB, since: number, hours: number): { hour: number; mails: number; items: number }[] {
  const start = Math.floor(since / 3_600_000);
  const out = Array.from({ length: hours }, (_, i) => ({ hour: (start + i) * 3_600_000, mails: 0, items: 0 }));
  const mails = ledgerDb
    .prepare('SELECT received_at / 3600000 AS h, COUNT(*) AS n FROM messages WHERE received_at >= ? GROUP BY h')
    .all(start * 3_600_000) as { h: number; n: number }[];
  const items = stockDb
    .prepare('SELECT received_at / 3600000 AS h, SUM(item_count) AS n FROM uploads WHERE received_at >= ? GROUP BY h')
    .all(start * 3_600_000) as { h: number; n: number }[];
  for (const r of mails) if (out[r.h - start]) out[r.h - start].mails = r.n;
  for (const r of items) if (out[r.h - start]) out[r.h - start].items = r.n;
  return out;
}
