// Soak: mixed mail and uploads at a steady rate; RSS and open file descriptors must not grow and the
// queues must drain. RELIABILITY_SOAK_S sets the length (20 s in `npm test`, 60 s in CI, 1800 by hand).
import { describe, it, expect, inject } from 'vitest';
import { readdirSync } from 'node:fs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startRelay } from '../../src/roles/relay.js';
import { startReceiver } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { openDb } from '../../src/db/open.js';
import { importCatalog } from '../../src/stock/catalog.js';
import { tempDir, testConfig, uniqueName, log, SHOP, stopAll } from '../helpers/env.js';
import { startSink, sendMail } from '../helpers/smtp.js';
import { post, form, auth, items } from '../helpers/http.js';
import { until, sleep } from '../helpers/net.js';

const SOAK_S = Number(process.env.RELIABILITY_SOAK_S ?? 20);
const RATE_PER_S = 20; // messages per second; one upload every second
const redisUrl = inject('redisUrl');
const fds = () => readdirSync('/proc/self/fd').length;
const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

describe('soak', () => {
  it(
    `${SOAK_S} s of mixed mail (${RATE_PER_S}/s) and uploads (1/s): no growth, queues drain`,
    async () => {
      const t = tempDir();
      const sink = await startSink();
      const cfg = testConfig(t.dir, { upstream: { port: sink.port } });
      const db = openDb(cfg.dataDir, 'stock');
      importCatalog(
        db,
        SHOP.id,
        Array.from({ length: 100 }, (_, i) => ({ code: `S${i}`, name: '', stock: 0, unlimited: 0, usesCodes: 0 })),
      );
      const mailQueue = uniqueName('mail'),
        stockQueue = uniqueName('stock');
      const relay = await startRelay(cfg, redisUrl, log, { queueName: mailQueue });
      const receiver = await startReceiver(cfg, redisUrl, log, { queueName: stockQueue });
      const worker = await startWorker(cfg, redisUrl, log, { queueName: stockQueue });
      const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
      try {
        let sent = 0;
        const samples: { rss: number; fds: number }[] = [];
        const end = Date.now() + SOAK_S * 1000;
        for (let second = 0; Date.now() < end; second++) {
          const tick = Date.now();
          await Promise.all([
            ...Array.from({ length: RATE_PER_S }, () =>
              sendMail({
                port: relay.port!,
                from: SHOP.senders[0],
                to: ['c@example.net'],
                raw: `Subject: ご注文ありがとうございます\r\nMessage-ID: <soak-${sent++}@test>\r\n\r\n注文番号: S-${sent}\r\n商品コード: S1\r\n数量: 1\r\n`,
              }),
            ),
            post(
              receiver.port!,
              '/api/zaikorobot.php',
              form([
                ...auth,
                ...items(Array.from({ length: 20 }, (_, i) => [`S${(second + i) % 100}`, String(second)] as [string, string])),
              ]),
            ),
          ]);
          samples.push({ rss: rssMb(), fds: fds() });
          await sleep(Math.max(0, 1000 - (Date.now() - tick)));
        }
        await until(() => sink.messages.length === 2 * sent, 60_000, 'every delivery and forward');
        for (const name of [mailQueue, stockQueue]) {
          const q = new Queue(name, { connection, prefix: cfg.redis.prefix });
          await until(
            async () => {
              const c = await q.getJobCounts('waiting', 'active', 'delayed');
              return c.waiting + c.active + c.delayed === 0;
            },
            20_000,
            `${name} to drain`,
          );
          await q.close();
        }
        const warm = samples[Math.min(4, samples.length - 1)];
        const last = samples[samples.length - 1];
        console.log(
          `soak: seconds=${SOAK_S} messages=${sent} uploads=${samples.length} rss_mb_start=${warm.rss.toFixed(0)} ` +
            `rss_mb_end=${last.rss.toFixed(0)} fds_start=${warm.fds} fds_end=${last.fds}`,
        );
        expect(last.fds - warm.fds).toBeLessThanOrEqual(10);
        expect(last.rss - warm.rss).toBeLessThan(Math.max(60, warm.rss * 0.5));
      } finally {
        connection.disconnect();
        await stopAll(worker, receiver, relay, sink, db);
        t.cleanup();
      }
    },
    (Number(process.env.RELIABILITY_SOAK_S ?? 20) + 120) * 1000,
  );
});
