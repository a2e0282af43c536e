// The WAL's fdatasync runs inline while the disk is fast, and in libuv's pool for the next 1,000 syncs once
// one was slow (src/ledger/wal-sync.ts): a slow disk blocks the event loop for one sync in a thousand at most.
import { describe, it, expect, afterEach } from 'vitest';
import { join } from 'node:path';
import { openDb } from '../../src/db/open.js';
import { WalSync } from '../../src/ledger/wal-sync.js';
import { tempDir } from '../helpers/env.js';

const t = tempDir();
afterEach(() => t.cleanup());

describe('WAL sync', () => {
  it('goes to the pool for 1,000 syncs after a slow one, then tries inline again', async () => {
    const db = openDb(t.dir, 'ledger', { synchronous: 'NORMAL' });
    const wal = new WalSync(join(t.dir, 'ledger.db-wal'), -1); // every inline sync counts as slow
    db.prepare("INSERT INTO forward_claims VALUES ('s', 'c', 'q', 1)").run();
    expect(wal.pooledSyncsLeft).toBe(0);
    await wal.sync(); // inline, "slow"
    expect(wal.pooledSyncsLeft).toBe(1000);
    for (let i = 0; i < 1000; i++) await wal.sync();
    expect(wal.pooledSyncsLeft).toBe(0);
    await wal.sync();
    expect(wal.pooledSyncsLeft).toBe(1000);
    const fast = new WalSync(join(t.dir, 'ledger.db-wal'), 60_000); // no sync is that slow
    await fast.sync();
    expect(fast.pooledSyncsLeft).toBe(0);
    await Promise.all([wal.close(), fast.close()]);
    db.close();
  });
});
