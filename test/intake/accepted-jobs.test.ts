// What follows the 250 (src/intake/accepted-jobs.ts): the relay answers once the message is durable and
// hands its jobs to the delivery thread; while that thread is down they are added on the SMTP thread; a
// forward whose order another relay holds in Redis gets no job. Real SQLite ledger, real Redis.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Queue } from 'bullmq';
import { openDb, type DB } from '../../src/db/open.js';
import { LedgerStore } from '../../src/ledger/store.js';
import { WalSync } from '../../src/ledger/wal-sync.js';
import { Spool } from '../../src/intake/spool/spool.js';
import { Acceptor } from '../../src/intake/accept.js';
import { AcceptedJobs, type AcceptedMessage } from '../../src/intake/accepted-jobs.js';
import { mailJobId, type MailJobData, type OrderJobData } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import type { Config } from '../../src/config/schema.js';
import { SHOP, tempDir, testConfig, uniqueName, log } from '../helpers/env.js';
import { orderMail } from '../helpers/order-mail.js';
import { sleep } from '../helpers/net.js';

const redisUrl = inject('redisUrl');
const SESSION = { clientAddress: '127.0.0.1', helo: 'cart.test', secure: false, authenticated: false };

let t: ReturnType<typeof tempDir>;
let cfg: Config;
let db: DB;
let ledger: LedgerStore;
let spool: Spool;
let walSync: WalSync;
let redis: ReturnType<typeof createRedis>;
let queue: Queue<MailJobData>;
let stockQueue: Queue<OrderJobData>;

beforeEach(() => {
  t = tempDir();
  cfg = testConfig(join(t.dir, 'data'));
  db = openDb(cfg.dataDir, 'ledger', { synchronous: 'NORMAL' });
  ledger = new LedgerStore(db);
  spool = new Spool(cfg.dataDir);
  walSync = new WalSync(join(cfg.dataDir, 'ledger.db-wal'));
  redis = createRedis(redisUrl, 'client');
  queue = new Queue<MailJobData>(uniqueName('mail'), { connection: redis, prefix: cfg.redis.prefix });
  stockQueue = new Queue<OrderJobData>(uniqueName('stock'), { connection: redis, prefix: cfg.redis.prefix });
});
afterEach(async () => {
  await spool.close();
  for (const q of [queue, stockQueue]) {
    await q.obliterate({ force: true }).catch(() => {});
    await q.close();
  }
  redis.disconnect();
  await walSync.close();
  db.close();
  t.cleanup();
});

const acceptOrder = (acceptor: Acceptor, order: string) =>
  acceptor.accept(Readable.from([Buffer.from(orderMail(order))]), { mailFrom: SHOP.senders[0], rcptTo: ['customer@example.net'] }, SESSION);
const jobIds = async (q: Queue) => (await q.getJobs(['waiting', 'delayed', 'active', 'completed'])).map((j) => j.id).sort();
async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('after the 250', () => {
  it('hands an order mail’s work to the delivery thread: nothing is added to Redis on the SMTP thread', async () => {
    const handed: AcceptedMessage[] = [];
    const acceptor = new Acceptor(cfg, spool, ledger, queue, log, walSync, undefined, stockQueue, (m) => {
      handed.push(m);
      return true;
    });
    const qid = await acceptOrder(acceptor, '20261202-0001');
    expect(ledger.message(qid)?.forward).toBe('queued'); // durable before the answer
    expect(handed).toEqual([
      {
        qid,
        deliver: true,
        forward: true,
        order: expect.objectContaining({ qid, shop: SHOP.id, key: '20261202-0001', items: [{ code: 'TNG-AI-01', quantity: 1 }] }),
      },
    ]);
    await sleep(200); // a stray add on this thread would have reached Redis by now
    expect(await jobIds(queue)).toEqual([]);
    expect(await jobIds(stockQueue)).toEqual([]);
    // One AcceptedJobs per thread: an acceptor whose hand-off takes every message (the delivery
    // thread's, for DSNs) never makes its own ForwardOnce and batchers.
    expect(Reflect.get(acceptor, 'jobs')).toBeUndefined();
  });

  it('adds the jobs itself while the delivery thread is down (the hand-off refused)', async () => {
    const acceptor = new Acceptor(cfg, spool, ledger, queue, log, walSync, undefined, stockQueue, () => false);
    const qid = await acceptOrder(acceptor, '20261202-0002');
    const mailJobs = [mailJobId(qid, 'deliver'), mailJobId(qid, 'forward')].sort();
    await until(async () => (await jobIds(queue)).join() === mailJobs.join(), 5000, 'the deliver and forward jobs');
    await until(async () => (await jobIds(stockQueue)).length === 1, 5000, 'the stock decrement job');
    expect(Reflect.get(acceptor, 'jobs')).toBeInstanceOf(AcceptedJobs);
  });

  it('adds no forward job when another relay holds the order in Redis, and says the forward is suppressed', async () => {
    const acceptor = new Acceptor(cfg, spool, ledger, queue, log, walSync, undefined, undefined, () => true);
    const qid = await acceptOrder(acceptor, '20261202-0003');
    await redis.set(`${cfg.redis.prefix}:forward-claim:${SHOP.id}:order:20261202-0003`, 'relay-b/QOTHER');
    let suppressed = 0;
    const jobs = new AcceptedJobs(
      ledger,
      queue,
      cfg.instance,
      () => cfg,
      log,
      undefined,
      () => suppressed++,
    );
    jobs.add({ qid, deliver: true, forward: true });
    await jobs.settled();
    expect(await jobIds(queue)).toEqual([mailJobId(qid, 'deliver')]);
    expect(suppressed).toBe(1);
    const row = ledger.message(qid)!;
    expect(row.forward).toBe('suppressed');
    expect(row.forward_reason).toMatch(/order:20261202-0003 already forwarded with QOTHER on relay relay-b/);
  });
});
