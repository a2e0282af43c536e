// Spool files and the ledger on a real SQLite file: a final message's file is marked removed in the
// same transaction as its last outcome; at start, files without a row or marked removed are deleted.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { openDb } from '../../src/db/open.js';
import { LedgerStore, type NewMessage } from '../../src/ledger/store.js';
import { Spool } from '../../src/intake/spool/spool.js';
import { tempDir } from '../helpers/env.js';

const t = tempDir();
afterAll(() => t.cleanup());

const message = (id: string, spool: Spool): NewMessage => ({
  id,
  receivedAt: Date.now(),
  clientAddress: '127.0.0.1',
  clientHelo: 'cart',
  authUser: null,
  mailFrom: 'shop@example.jp',
  headerFrom: null,
  subject: 's',
  messageId: null,
  size: 1,
  spoolPath: spool.pathOf(id),
  shopId: null,
  isOrder: false,
  orderNumber: null,
  items: [],
  flags: [],
  deliverTo: ['a@example.net', 'b@example.net'],
  forwardTo: null,
  claim: null,
});

describe('spool cleanup', () => {
  it('marks a final message removed with its last outcome; start-up deletes marked and unknown files only', () => {
    const db = openDb(t.dir, 'ledger');
    const ledger = new LedgerStore(db);
    const spool = new Spool(t.dir);
    for (const id of ['QDONE', 'QOPEN', 'QORPHAN']) writeFileSync(spool.pathOf(id), 'x');
    ledger.acceptMany([message('QDONE', spool), message('QOPEN', spool)]);

    const partial = ledger.record('QDONE', 'deliver', [{ address: 'a@example.net', status: 'sent', response: '250' }], {
      removeSpool: true,
    });
    expect(partial).toEqual({ final: false, sent: 1, failed: 0 });
    expect(ledger.spoolKept('QDONE')).toBe(true);
    const last = ledger.record('QDONE', 'deliver', [{ address: 'b@example.net', status: 'failed', response: '550 no' }], {
      removeSpool: true,
    });
    expect(last).toEqual({ final: true, sent: 1, failed: 1 });
    expect(ledger.spoolKept('QDONE')).toBe(false);

    // A crash between that commit and the unlink leaves QDONE's file; QORPHAN never got a row.
    expect(spool.removeOrphans((id) => ledger.spoolKept(id))).toBe(2);
    expect(['QDONE', 'QOPEN', 'QORPHAN'].map((id) => existsSync(spool.pathOf(id)))).toEqual([false, true, false]);
    db.close();
  });
});
