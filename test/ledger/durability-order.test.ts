// The order of the durable steps, which a power loss would expose (docs/RELIABILITY.md, "Power loss"):
// a small message's bytes are committed with its row before the one WAL fsync that precedes its 250 (no
// file, no other fsync); a group's spool files have their directory entries fsynced before any of them is
// answered 250; a spool file is unlinked only after the mark that it is final is committed and the WAL
// fsynced. Real SQLite files, spool files, Redis and SMTP sink; only the fsync steps are wrapped to record
// their order.
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
const bodies = () => observer.prepare('SELECT message_id FROM message_bodies').pluck().all() as string[];
/** Spool files only for messages above this: the file path of the tests that need files. */
const FILES = { inlineLimitBytes: 0 };

/** A WalSync that records which message bodies were committed when each of its fsyncs began, once it completed. */
function recordingWal(): WalSync & { synced: Set<string>; syncs: number } {
  const rec = Object.assign(Object.create(walSync), {
    synced: new Set<string>(),
    syncs: 0,
    sync: async () => {
      const committed = bodies();
      await walSync.sync();
      rec.syncs++;
      for (const id of committed) rec.synced.add(id);
    },
  });
  return rec;
}

beforeEach(async () => {
  t = tempDir();
  sink = await startSink();
  cfg = testConfig(join(t.dir, 'data'), { upstream: { port: sink.port } });
  db = openDb(cfg.dataDir, 'ledger', { synchronous: 'NORMAL' });
  ledger = new LedgerStore(db);
  spool = new RecordingSpool(cfg.dataDir, FILES);
  walSync = new WalSync(join(cfg.dataDir, 'ledger.db-wal'));
  redis = createRedis(redisUrl, 'client');
  queue = new Queue<MailJobData>(uniqueName('mail'), { connection: redis, prefix: cfg.redis.prefix });
  observer = new Database(join(cfg.dataDir, 'ledger.db'), { readonly: true });
});
afterEach(async () => {
  await spool.close();
  observer.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  redis.disconnect();
  await walSync.close();
  db.close();
  await sink.close();
  t.cleanup();
});

const rawOf = (n: number) => `From: shop@example.jp\r\nSubject: test ${n}\r\nMessage-ID: <${n}@t>\r\n\r\nbody ${n}\r\n`;
function accept(acceptor: Acceptor, n: number): Promise<string> {
  return acceptor.accept(Readable.from([Buffer.from(rawOf(n))]), { mailFrom: 'shop@example.jp', rcptTo: ['a@example.net'] }, SESSION);
}

describe('durability order', () => {
  it('a small message: bytes and row in one commit, covered by the WAL fsync before its 250; no file, no other fsync', async () => {
    const inline = new RecordingSpool(cfg.dataDir); // the default inline limit
    const wal = recordingWal();
    const acceptor = new Acceptor(cfg, inline, ledger, queue, log, wal);
    const syncedAtAck: boolean[] = [];
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        accept(acceptor, i).then((qid) => {
          syncedAtAck.push(wal.synced.has(qid));
          return qid;
        }),
      ),
    );
    expect(syncedAtAck).toEqual(Array(20).fill(true));
    expect(readdirSync(inline.dir)).toEqual([]); // nothing to fdatasync
    expect(inline.synced.size).toBe(0); // and no directory entry to make durable
    expect(wal.syncs).toBeLessThan(20); // twenty concurrent sessions shared groups
    const stored = observer.prepare('SELECT body FROM message_bodies WHERE message_id = ?').pluck();
    ids.forEach((qid, i) => {
      const body = (stored.get(qid) as Buffer).toString();
      expect(body.startsWith('Received: ')).toBe(true);
      expect(body.endsWith(rawOf(i))).toBe(true);
    });
  });

  it('a group with one large message among small ones fsyncs the directory too, before any 250', async () => {
    const mixed = new RecordingSpool(cfg.dataDir, { inlineLimitBytes: 1024 });
    const acceptor = new Acceptor(cfg, mixed, ledger, queue, log, recordingWal());
    const big = `Subject: big\r\n\r\n${'x'.repeat(2000)}\r\n`;
    const env = { mailFrom: 'shop@example.jp', rcptTo: ['a@example.net'] };
    const [qid] = await Promise.all([
      acceptor.accept(Readable.from([Buffer.from(big)]), env, SESSION).then((id) => {
        expect(mixed.synced.has(`${id}.eml`)).toBe(true);
        return id;
      }),
      accept(acceptor, 1),
      accept(acceptor, 2),
    ]);
    expect(readdirSync(mixed.dir)).toEqual([`${qid}.eml`]);
    await mixed.close();
  });

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
    const file = () => (existsSync(spool.pathOf(qid)) ? 'present' : 'gone');
    const durable = async () => {
      spool.events.push(`fsync begins, mark committed=${mark(qid)}, file ${file()}`);
      await walSync.sync();
      spool.events.push(`fsync done, file ${file()}`);
    };
    const transport = createTransport(cfg.upstream, 'relay.test');
    const worker = new MailWorker(queue, redisUrl, { cfg, ledger, transport, log, durable });
    try {
      await worker.process({ data: { qid, kind: 'deliver' }, attemptsMade: 0 } as Job<MailJobData>);
    } finally {
      transport.close();
    }
    expect(sink.messages).toHaveLength(1);
    expect(spool.events).toEqual(['fsync begins, mark committed=1, file present', 'fsync done, file present']);
    expect(file()).toBe('gone');
  });

  it("the delivery worker drops a small message's body with its final mark, and waits for no fsync", async () => {
    const acceptor = new Acceptor(cfg, new Spool(cfg.dataDir), ledger, queue, log, walSync);
    const qid = await accept(acceptor, 1);
    const sent = (observer.prepare('SELECT body FROM message_bodies WHERE message_id = ?').pluck().get(qid) as Buffer).toString();
    let fsyncs = 0;
    const transport = createTransport(cfg.upstream, 'relay.test');
    const worker = new MailWorker(queue, redisUrl, { cfg, ledger, transport, log, durable: async () => void fsyncs++ });
    try {
      await worker.process({ data: { qid, kind: 'deliver' }, attemptsMade: 0 } as Job<MailJobData>);
    } finally {
      transport.close();
    }
    expect(sink.messages.map((m) => m.raw.toString())).toEqual([sent]); // the stored bytes, unchanged
    expect(fsyncs).toBe(0);
    expect([mark(qid), bodies()]).toEqual([1, []]);
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
