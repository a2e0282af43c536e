// The order of the durable steps, which a power loss would expose (docs/RELIABILITY.md, "Power loss"):
// a group's spool files have their directory entries fsynced before any of them is answered 250, and a
// spool file is unlinked only after the mark that it is final is committed and the WAL fsynced. Real
// SQLite files, spool files, Redis and SMTP sink; only the fsync steps are wrapped to record their order.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Queue, type Job } from 'bullmq';
import Database from 'better-sqlite3';
import { openDb, type DB } from '../../src/db/open.js';
import { LedgerStore } from '../../src/ledger/store.js';
import { WalSync } from '../../src/ledger/wal-sync.js';
import { Spool } from '../../src/intake/spool/spool.js';
import { Acceptor } from '../../src/intake/accept.js';
import { MailWorker } from '../../src/delivery/mail-worker.js';
import { cleanSpool } from '../../src/delivery/recovery.js';
import { createTransport } from '../../src/delivery/transport.js';
import type { MailJobData } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import type { Config } from '../../src/config/schema.js';
import { tempDir, testConfig, uniqueName, log } from '../helpers/env.js';
import { startSink, type Sink } from '../helpers/smtp.js';

const redisUrl = inject('redisUrl');
const SESSION = { clientAddress: '127.0.0.1', helo: 'cart.test', secure: false, authenticated: false };

/** Records which spool files existed when a directory fsync began, once it has completed. */
class RecordingSpool extends Spool {
  synced = new Set<string>();
  dirSyncs = 0;
  events: string[] = [];
  override async syncDir(): Promise<void> {
    const present = readdirSync(this.dir);
    await super.syncDir();
    this.dirSyncs++;
    for (const f of present) this.synced.add(f);
  }
  override async remove(id: string): Promise<void> {
    this.events.push(`unlink ${id}`);
    await super.remove(id);
  }
}

let t: ReturnType<typeof tempDir>;
let cfg: Config;
let db: DB;
let ledger: LedgerStore;
let spool: RecordingSpool;
let walSync: WalSync;
let queue: Queue<MailJobData>;
let redis: ReturnType<typeof createRedis>;
let sink: Sink;
let observer: Database.Database; // a second connection: sees only what is committed
const mark = (id: string) => observer.prepare('SELECT spool_removed FROM messages WHERE id = ?').pluck().get(id);

beforeEach(async () => {
  t = tempDir();
  sink = await startSink();
  cfg = testConfig(join(t.dir, 'data'), { upstream: { port: sink.port } });
  db = openDb(cfg.dataDir, 'ledger', { synchronous: 'NORMAL' });
  ledger = new LedgerStore(db);
  spool = new RecordingSpool(cfg.dataDir);
  walSync = new WalSync(join(cfg.dataDir, 'ledger.db-wal'));
  redis = createRedis(redisUrl, 'client');
  queue = new Queue<MailJobData>(uniqueName('mail'), { connection: redis });
  observer = new Database(join(cfg.dataDir, 'ledger.db'), { readonly: true });
});
afterEach(async () => {
  observer.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  redis.disconnect();
  await walSync.close();
  db.close();
  await sink.close();
  t.cleanup();
});

function accept(acceptor: Acceptor, n: number): Promise<string> {
  const raw = `From: shop@example.jp\r\nSubject: test ${n}\r\nMessage-ID: <${n}@t>\r\n\r\nbody ${n}\r\n`;
  return acceptor.accept(Readable.from([Buffer.from(raw)]), { mailFrom: 'shop@example.jp', rcptTo: ['a@example.net'] }, SESSION);
}

describe('durability order', () => {
  it("fsyncs the spool directory once per group commit, after the group's files exist, before any of them is acknowledged", async () => {
    let walSyncs = 0;
    const countingWal = Object.assign(Object.create(walSync), {
      sync: async () => {
        walSyncs++;
        await walSync.sync();
      },
    }) as WalSync;
    const acceptor = new Acceptor(cfg, spool, ledger, queue, log, countingWal);
    const syncedAtAck: boolean[] = [];
    const acked = (qid: string) => {
      syncedAtAck.push(spool.synced.has(`${qid}.eml`));
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => accept(acceptor, i).then(acked)));
    expect(syncedAtAck).toEqual(Array(20).fill(true));
    expect(spool.dirSyncs).toBe(walSyncs); // one directory fsync per group, beside the group's WAL fsync
    expect(spool.dirSyncs).toBeLessThan(20); // twenty concurrent sessions shared groups
  });

  it('the delivery worker unlinks a final spool file only after its final mark is committed and the WAL fsynced', async () => {
    const acceptor = new Acceptor(cfg, spool, ledger, queue, log, walSync);
    const qid = await accept(acceptor, 1);
    const durable = async () => {
      spool.events.push(`fsync begins, mark committed=${mark(qid)}`);
      await walSync.sync();
      spool.events.push('fsync done');
    };
    const transport = createTransport(cfg.upstream, 'relay.test');
    const worker = new MailWorker(queue, redisUrl, { cfg, ledger, spool, transport, log, durable });
    try {
      await worker.process({ data: { qid, kind: 'deliver' }, attemptsMade: 0 } as Job<MailJobData>);
    } finally {
      transport.close();
    }
    expect(sink.messages).toHaveLength(1);
    expect(spool.events).toEqual(['fsync begins, mark committed=1', 'fsync done', `unlink ${qid}`]);
    expect(existsSync(spool.pathOf(qid))).toBe(false);
  });

  it('the sweep (spool.keepDays) marks, fsyncs the marks, then unlinks', async () => {
    const acceptor = new Acceptor(cfg, spool, ledger, queue, log, walSync);
    const ids = [await accept(acceptor, 1), await accept(acceptor, 2)];
    for (const id of ids) ledger.record(id, 'deliver', [{ address: 'a@example.net', status: 'sent', response: '250 ok' }]);
    const durable = async () => {
      spool.events.push(`fsync begins, marks committed=${ids.map(mark).join(',')}`);
      await walSync.sync();
      spool.events.push('fsync done');
    };
    await cleanSpool(cfg, ledger, spool, log, durable);
    expect(spool.events).toEqual(['fsync begins, marks committed=1,1', 'fsync done', ...ids.map((id) => `unlink ${id}`)]);
  });
});
