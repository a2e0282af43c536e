// queue stats as an operator reads it: the oldest waiting job's age, a paused queue, completed jobs the
// ledger knows of after BullMQ removed them, and a clear answer when the private Redis is not running.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { tempDir, SHOP, uniqueName } from '../helpers/env.js';
import { run } from '../helpers/cli.js';
import { openDb } from '../../src/db/open.js';

const url = `${inject('redisUrl')}/6`; // a database of its own: "stock" here is nobody else's stock queue
const instance = uniqueName('qs');
let t: ReturnType<typeof tempDir>;
let config: string;
let connection: Redis;
let mail: Queue;
let stock: Queue;

const stats = () => {
  const r = run(['queue', 'stats', '--json', '--config', config]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).queues as Record<string, any>[];
};

beforeAll(async () => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  writeFileSync(config, stringify({ dataDir: './data', instance, redis: { url }, shops: [SHOP] }));
  connection = new Redis(url, { maxRetriesPerRequest: null });
  mail = new Queue(`mail-${instance}`, { connection });
  stock = new Queue('stock', { connection });
  await stock.obliterate({ force: true });
});

afterAll(async () => {
  await mail.obliterate({ force: true });
  await stock.obliterate({ force: true });
  await mail.close();
  await stock.close();
  connection.disconnect();
  t.cleanup();
});

describe('queue stats', () => {
  it('reports the age of the oldest waiting job, not the newest', async () => {
    const hour = 3_600_000;
    await mail.add('deliver', { qid: 'QOLD' }, { jobId: 'QOLD-deliver', timestamp: Date.now() - 2 * hour });
    await mail.add('deliver', { qid: 'QMID' }, { jobId: 'QMID-deliver', timestamp: Date.now() - hour });
    await mail.add('deliver', { qid: 'QNEW' }, { jobId: 'QNEW-deliver' });
    const [m] = stats();
    expect(m.waiting).toBe(3);
    expect(m.oldestWaitingMs).toBeGreaterThanOrEqual(2 * hour);
    expect(m.oldestWaitingMs).toBeLessThan(3 * hour);
    const row = run(['queue', 'stats', '--config', config]).stdout.split('\n')[1];
    expect(row).toMatch(new RegExp(`^mail-${instance}\\s+3\\s+0\\s+0\\s+0\\s+0\\s+0\\s+2h$`));
  });

  it('says a queue is paused', async () => {
    await mail.pause();
    try {
      const [m, s] = stats();
      expect([m.isPaused, s.isPaused]).toEqual([true, false]);
      const table = run(['queue', 'stats', '--config', config]).stdout;
      expect(table).toContain(`mail-${instance} (PAUSED: queue resume)`);
    } finally {
      await mail.resume();
    }
    expect(stats()[0].isPaused).toBe(false);
  });

  it('counts completed jobs the ledger and stock.db know of, though BullMQ removed them', () => {
    const ledger = openDb(join(t.dir, 'data'), 'ledger');
    const now = Date.now();
    const message = ledger.prepare(`INSERT INTO messages (id, received_at, mail_from, size, spool_path, forward)
      VALUES (?, ?, 'a@b.example', 1, '/x', 'none')`);
    const recipient = ledger.prepare(
      'INSERT INTO message_recipients (message_id, kind, address, status, updated_at) VALUES (?, ?, ?, ?, ?)',
    );
    const rows: [string, string, string, string][] = [
      ['QA', 'deliver', 'x@example.net', 'sent'],
      ['QA', 'forward', 'f@example.net', 'sent'],
      ['QB', 'deliver', 'x@example.net', 'sent'],
      ['QB', 'deliver', 'y@example.net', 'failed'],
      ['QC', 'deliver', 'x@example.net', 'sent'],
      ['QC', 'deliver', 'z@example.net', 'deferred'],
    ];
    for (const id of ['QA', 'QB', 'QC']) message.run(id, now);
    for (const r of rows) recipient.run(...r, now);
    ledger.close();
    const stockDb = openDb(join(t.dir, 'data'), 'stock');
    const upload = stockDb.prepare(`INSERT INTO uploads (shop_id, source, charset, received_at, item_count, status)
      VALUES (?, 'http', 'utf-8', ?, 0, ?)`);
    upload.run(SHOP.id, now, 'applied');
    upload.run(SHOP.id, now, 'applied');
    upload.run(SHOP.id, now, 'stored');
    stockDb.close();
    const [m, s] = stats();
    expect([m.completed, s.completed]).toEqual([3, 2]); // QA deliver + QA forward + QB deliver; QC is still deferred
  });

  it('without redis.url, says the private Redis runs only under start (exit 69)', () => {
    const own = join(t.dir, 'private.yaml');
    writeFileSync(own, stringify({ dataDir: './private-data', shops: [SHOP] }));
    for (const args of [
      ['queue', 'stats'],
      ['mail', 'flush'],
    ]) {
      const r = run([...args, '--config', own]);
      expect(r.code).toBe(69);
      const socket = join(t.dir, 'private-data', 'redis.sock');
      expect(r.stderr).toBe(
        `zaiko-bridge: the private Redis (${socket}) runs only while \`zaiko-bridge start\` runs ` +
          'for this dataDir: start it (npm start), or set redis.url to a Redis that runs on its own\n',
      );
    }
  });
});
