// Ledger retention on a real SQLite file: final messages older than retention.mailDays go with their
// recipients, and forward-once claims as old; unfinished or younger ones stay; at most `rows` rows a
// transaction, so the SMTP thread's accepts never wait behind a long delete.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, type DB } from '../../src/db/open.js';
import { LedgerStore, type NewMessage } from '../../src/ledger/store.js';
import { deleteInBatches } from '../../src/db/batches.js';
import { tempDir } from '../helpers/env.js';

const DAY = 86_400_000;
let t: ReturnType<typeof tempDir>;
let db: DB;
let ledger: LedgerStore;

const order = (id: string, daysAgo: number, orderNumber: string): NewMessage => ({
  id,
  receivedAt: Date.now() - daysAgo * DAY,
  clientAddress: '127.0.0.1',
  clientHelo: 'cart',
  authUser: null,
  mailFrom: 'order@shop.example.jp',
  headerFrom: null,
  subject: 'ご注文',
  messageId: null,
  size: 1,
  spoolPath: `/spool/${id}`,
  shopId: 'shop',
  isOrder: true,
  orderNumber,
  items: [],
  flags: [],
  deliverTo: ['customer@example.net'],
  forwardTo: 'import@zaikorobot.example',
  claim: `order:${orderNumber}`,
});
const count = (table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
/** Delivered and forwarded, spool file gone: final. */
const finish = (ids: string[]) => {
  for (const id of ids) {
    db.prepare("UPDATE message_recipients SET status = 'sent' WHERE message_id = ?").run(id);
    ledger.markSpoolRemoved(id);
  }
};

beforeEach(() => {
  t = tempDir();
  db = openDb(t.dir, 'ledger');
  ledger = new LedgerStore(db);
});
afterEach(() => {
  db.close();
  t.cleanup();
});

describe('ledger retention', () => {
  it('removes final messages and claims older than mailDays; keeps unfinished and younger ones', async () => {
    ledger.acceptMany([order('QOLD', 100, '1'), order('QSTUCK', 100, '2'), order('QNEW', 10, '3')]);
    db.prepare('UPDATE forward_claims SET claimed_at = ? WHERE claim != ?').run(Date.now() - 100 * DAY, 'order:3');
    finish(['QOLD', 'QNEW']);
    const removed = await deleteInBatches(
      (rows) => ledger.prune(90, rows),
      () => false,
      200,
    );
    expect(removed).toBe(3); // QOLD, and the claims of orders 1 and 2
    expect(db.prepare('SELECT id FROM messages ORDER BY id').pluck().all()).toEqual(['QNEW', 'QSTUCK']);
    expect(db.prepare('SELECT claim FROM forward_claims').pluck().all()).toEqual(['order:3']);
    expect(db.prepare('SELECT DISTINCT message_id FROM message_recipients ORDER BY 1').pluck().all()).toEqual(['QNEW', 'QSTUCK']);
  });

  it('removes at most `rows` rows a transaction: messages first, then claims', async () => {
    ledger.acceptMany(Array.from({ length: 25 }, (_, i) => order(`Q${i}`, 100, `N${i}`)));
    db.prepare('UPDATE forward_claims SET claimed_at = ?').run(Date.now() - 100 * DAY);
    finish(Array.from({ length: 25 }, (_, i) => `Q${i}`));
    expect(ledger.prune(90, 10)).toBe(10);
    expect([count('messages'), count('forward_claims')]).toEqual([15, 25]);
    let batches = 0;
    expect(
      await deleteInBatches(
        (rows) => (batches++, ledger.prune(90, rows)),
        () => false,
        10,
      ),
    ).toBe(40);
    expect([count('messages'), count('forward_claims'), count('message_recipients')]).toEqual([0, 0, 0]);
    expect(batches).toBe(5); // 10 + 10 (5 messages, 5 claims) + 10 + 10 claims, then one that finds nothing
  });
});
