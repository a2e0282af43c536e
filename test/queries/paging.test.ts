// The shared query functions page through real SQLite files: an offset continues where the last page ended.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open.js';
import { LedgerStore, type NewMessage } from '../../src/ledger/store.js';
import { UploadStore } from '../../src/stock/store.js';
import { listMessages, messagesPage } from '../../src/queries/mail.js';
import { listUploads, uploadView, listSkips, skipsPage } from '../../src/queries/uploads.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'zb-queries-'));
  dirs.push(d);
  return d;
};

const message = (i: number): NewMessage => ({
  id: `Q${String(i).padStart(4, '0')}`,
  receivedAt: 1_000_000 + i,
  clientAddress: '127.0.0.1',
  clientHelo: 'cart',
  authUser: null,
  mailFrom: 'shop@example.jp',
  headerFrom: null,
  subject: 'ご注文',
  messageId: null,
  size: 10,
  spoolPath: `/nonexistent/${i}`,
  shopId: 'demo',
  isOrder: true,
  orderNumber: `A-${i}`,
  items: [],
  flags: [],
  deliverTo: ['buyer@example.jp'],
  forwardTo: null,
  claim: null,
});

describe('shared queries', () => {
  it('pages the mail list newest first', () => {
    const db = openDb(tempDir(), 'ledger');
    const ledger = new LedgerStore(db);
    ledger.acceptMany(Array.from({ length: 25 }, (_, i) => message(i)));
    const first = listMessages(ledger, { limit: 10 });
    const second = listMessages(ledger, { limit: 10, offset: 10 });
    const last = listMessages(ledger, { limit: 10, offset: 20 });
    expect(first.map((m) => m.id)[0]).toBe('Q0024');
    expect(second.map((m) => m.id)).toEqual(Array.from({ length: 10 }, (_, i) => `Q${String(14 - i).padStart(4, '0')}`));
    expect(last).toHaveLength(5);
    expect(listMessages(ledger, { limit: 10, order: 'A-3' }).map((m) => m.id)).toEqual(['Q0003']);
    // Each status filter (its own SQL and index) agrees with the status shown.
    ledger.record('Q0005', 'deliver', [{ address: 'buyer@example.jp', status: 'failed', response: '550 no' }]);
    ledger.record('Q0006', 'deliver', [{ address: 'buyer@example.jp', status: 'deferred', response: '451 later' }]);
    ledger.record('Q0007', 'deliver', [{ address: 'buyer@example.jp', status: 'sent', response: '250 ok' }]);
    const ids = (status: string) => listMessages(ledger, { limit: 100, status }).map((m) => m.id);
    expect(ids('failed')).toEqual(['Q0005']);
    expect(ids('deferred')).toEqual(['Q0006']);
    expect(ids('sent')).toEqual(['Q0007']);
    expect(ids('queued')).toHaveLength(22);
    expect(listMessages(ledger, { limit: 100, status: 'queued', since: 1_000_020 }).map((m) => m.id)).toEqual([
      'Q0024',
      'Q0023',
      'Q0022',
      'Q0021',
      'Q0020',
    ]);
    expect(listMessages(ledger, { limit: 100, forward: 'none' })).toHaveLength(25);
    expect(listMessages(ledger, { limit: 100, forward: 'sent' })).toHaveLength(0);
    db.close();
  });

  it("pages uploads, an upload's items and the skips", () => {
    const db = openDb(tempDir(), 'stock');
    const store = new UploadStore(db);
    const items = Array.from({ length: 7 }, (_, i) => ({ code: `C${i}`, rawStock: String(i) }));
    const ids = [1, 2, 3].map(() => store.insert('demo', { source: 'http', charset: 'utf-8' }, items));
    db.prepare("UPDATE upload_items SET outcome = 'skipped', reason = 'unknown_code'").run();
    expect(listUploads(store, { limit: 2, offset: 1 }).map((u) => u.id)).toEqual([ids[1], ids[0]]);
    const page = uploadView(store, ids[0], { limit: 3, offset: 6 })!;
    expect(page.items.map((i) => i.product_code)).toEqual(['C6']);
    expect(uploadView(store, ids[0], { limit: 3, offset: 3 })!.items.map((i) => i.seq)).toEqual([3, 4, 5]);
    expect(uploadView(store, ids[0])!.items).toHaveLength(7);
    expect(listSkips(store, { limit: 2, offset: 7 }).map((s) => [s.uploadId, s.product_code])).toEqual([
      [ids[1], 'C6'],
      [ids[1], 'C5'],
    ]);
    db.close();
  });

  it('keyset pages of the mail list: every message once, newest first, ties in received time by id, filters kept', () => {
    const db = openDb(tempDir(), 'ledger');
    const ledger = new LedgerStore(db);
    // 5 messages per millisecond: a page boundary falls inside a run of equal received times.
    ledger.acceptMany(Array.from({ length: 53 }, (_, i) => ({ ...message(i), receivedAt: 1_000_000 + Math.floor(i / 5) })));
    const walk = (filter: { order?: string; since?: number }) => {
      const seen: string[] = [];
      let after: string | undefined;
      for (let n = 0; n < 20; n++) {
        const p = messagesPage(ledger, { ...filter, limit: 7 }, after);
        seen.push(...p.messages.map((m) => m.id));
        if (!p.next) break;
        after = p.next;
      }
      return seen;
    };
    const all = listMessages(ledger, { limit: 100 }).map((m) => m.id);
    expect(all).toHaveLength(53);
    expect(walk({})).toEqual(all);
    expect(walk({ since: 1_000_005 })).toEqual(all.slice(0, 28));
    expect(walk({ order: 'A-11' })).toEqual(['Q0011']);
    expect(messagesPage(ledger, { limit: 53 }).next).toBeUndefined(); // exactly one full page: no next
    expect(messagesPage(ledger, { limit: 7 }, 'not-a-cursor').messages.map((m) => m.id)).toEqual(all.slice(0, 7));
    db.close();
  });

  it('keyset pages of the skips by reason, from their own index', () => {
    const db = openDb(tempDir(), 'stock');
    const store = new UploadStore(db);
    const items = Array.from({ length: 30 }, (_, i) => ({ code: `C${i}`, rawStock: String(i) }));
    for (let u = 0; u < 4; u++) store.insert('demo', { source: 'http', charset: 'utf-8' }, items);
    db.prepare("UPDATE upload_items SET outcome = 'skipped', reason = CASE WHEN seq % 7 = 0 THEN 'stale' ELSE 'unknown_code' END").run();
    const walk = (reason?: string) => {
      const seen: string[] = [];
      let after: string | undefined;
      for (let n = 0; n < 50; n++) {
        const p = skipsPage(store, { reason, limit: 4 }, after);
        seen.push(...p.skips.map((s) => `${s.uploadId}/${s.product_code}/${s.reason}`));
        if (!p.next) break;
        after = p.next;
      }
      return seen;
    };
    const stale = listSkips(store, { reason: 'stale', limit: 1000 }).map((s) => `${s.uploadId}/${s.product_code}/${s.reason}`);
    expect(stale).toHaveLength(4 * 5); // seq 0, 7, 14, 21, 28 of each upload
    expect(stale[0]).toBe('4/C28/stale');
    expect(walk('stale')).toEqual(stale);
    expect(walk()).toEqual(listSkips(store, { limit: 1000 }).map((s) => `${s.uploadId}/${s.product_code}/${s.reason}`));
    // A rare reason is searched on its index, not found by scanning every skipped item.
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT i.upload_id FROM upload_items i JOIN uploads u ON u.id = i.upload_id
        WHERE i.outcome = 'skipped' AND i.reason = 'stale' ORDER BY i.upload_id DESC, i.seq DESC LIMIT 51`,
      )
      .all()
      .map((r: any) => r.detail as string);
    expect(plan.some((d) => /USING (COVERING )?INDEX upload_items_skipped_reason/.test(d))).toBe(true);
    expect(plan.some((d) => d.includes('TEMP B-TREE'))).toBe(false); // in index order: no sort
    db.close();
  });
});
